"""The CPU reference tier of the CLIP experiment: a tree between the book's and the paper's, trained on a CPU.

``jghm_clip`` trains on a depth-2 tree (9 leaves a modality) at ``book`` scale and on the paper's depth-4
tree (81 leaves) at ``full`` scale, which needs a GPU. ``jghm_clip_reference`` fills the gap on a CPU:
at ``full`` scale, the standard encoder (one block per tree level and one more) on a depth-3 tree
(27 leaves), under an hour on two CPU cores, checkpointed under ``$MMTHEORY_CHECKPOINTS`` so that an
interrupted run resumes. Its result is stored with the book and shown in the CLIP chapter:

    python -m mmtheory run jghm_clip_reference --scale full --out book/jghm/stored

It trains with **in-batch negatives**: every pair of a batch of ``B`` is an anchor, and the other
``B - 1`` pairs are its negatives. That is the symmetric :math:`K`-way CLIP loss at :math:`K = B`,
whose population minimiser is the same pointwise mutual information (up to a constant) as at the
paper's :math:`K = 4`, and it costs one encoding per pair where :math:`K = 4` costs four, so a step
of the same cost sees four times the pairs and many more negatives. Evaluation stays at :math:`K = 4`,
on the paper's draws.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..registry import experiment
from ..runtime import ScaleSettings, get_device
from .evaluation import EVAL_SEED, evaluate_clip, evaluate_zero_shot
from .experiments import _checkpoint
from .figures import plot_clip_reference
from .model import JGHM
from .risks import bayes_risk
from .training import TrainConfig, train_clip


@dataclasses.dataclass(frozen=True)
class ReferenceProtocol(ScaleSettings):
    """One scale of ``jghm_clip_reference``: the tree, the encoder, the training and the evaluation."""

    depth: int
    d: int
    clip: TrainConfig
    p: float = 0.1  # the book-scale CLIP run's flip probability, so the two tiers compare at one p
    n_eval: int = 4000
    M: int = 50
    checkpoints: bool = False


def _in_batch(steps: int, batch: int, lr_max: float, record_every: int) -> TrainConfig:
    return TrainConfig(steps=steps, batch=batch, lr_max=lr_max, lr_min=lr_max / 100, record_every=record_every,
                       checkpoint_every=500, negatives="in_batch")


REFERENCE_PROTOCOLS = ReferenceProtocol.SCALES = {
    "quick": ReferenceProtocol(depth=2, d=32, clip=_in_batch(20, 32, 3e-3, 10), n_eval=200, M=10),
    "book": ReferenceProtocol(depth=3, d=32, clip=_in_batch(300, 128, 3e-3, 50), n_eval=2000),
    # 5,000 steps and the evaluation took 28 minutes on two CPU threads (the stored run, 2026-12-01)
    "full": ReferenceProtocol(depth=3, d=64, clip=_in_batch(5000, 256, 1e-3, 50), checkpoints=True),
}


@dataclasses.dataclass
class ReferenceResult:
    """CLIP and zero-shot risks ``(mean, se)`` of the trained standard encoder and of Bayes, the training
    losses and the seconds of training."""

    depth: int
    p: float
    d: int
    steps: int
    batch: int
    M: int
    clip: tuple
    zsc: tuple
    bayes_clip: tuple
    bayes_zsc: tuple
    history: np.ndarray
    seconds: float


@experiment(plot=plot_clip_reference)
def jghm_clip_reference(scale: str | None = None, seed: int = 0, device=None) -> ReferenceResult:
    """CPU reference tier: the standard encoder on a depth-3 tree (27 leaves), in-batch negatives, against Bayes."""
    protocol, dev = ReferenceProtocol.for_scale(scale), get_device(device)
    model = JGHM.paper(p=protocol.p, depth=protocol.depth)
    config = dataclasses.replace(protocol.clip, seed=seed, checkpoint=_checkpoint(protocol, "clip-reference", seed))
    run = train_clip(model, config, device=dev, d=protocol.d, n_layers=protocol.depth + 1, n_heads=4)
    risks = [evaluate_clip(run, model, n=protocol.n_eval),
             evaluate_zero_shot(run.image_encoder, run.text_encoder, model, n=protocol.n_eval, M=protocol.M)]
    risks += [bayes_risk(model, task, n=protocol.n_eval, seed=EVAL_SEED, device=dev) for task in ("clip", "zsc")]
    clip, zsc, bayes_clip, bayes_zsc = ((r.mean, r.se) for r in risks)
    return ReferenceResult(depth=protocol.depth, p=protocol.p, d=protocol.d, steps=config.steps, batch=config.batch,
                           M=protocol.M, clip=clip, zsc=zsc, bayes_clip=bayes_clip, bayes_zsc=bayes_zsc,
                           history=run.history, seconds=run.seconds)
