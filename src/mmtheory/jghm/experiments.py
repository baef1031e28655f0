"""The trained-transformer figures of Oko et al. (2025) as registered experiments.

* ``jghm_probe``: do an encoder's hidden states carry the BP messages, level by level? Linear probes
  from the hidden state after every block to the upward message of every ancestor depth, for an
  untrained, a CLIP-trained and a BP-guided encoder.
* ``jghm_clip``: CLIP risk and zero-shot risk of trained encoders (standard depth, BP-guided, one
  block) against the Bayes risk, at one or more flip probabilities.
* ``jghm_downstream``: denoising and next-token prediction from the frozen 10-dimensional CLIP
  embedding against joint training on the raw other modality, and every model evaluated out of
  distribution beside Bayes and mis-specified BP.

``book`` scale uses a depth-2 tree (9 leaves a modality) and small transformers so that a chapter runs
on a laptop CPU in minutes; ``full`` is the paper's protocol (depth 4, 81 leaves, 40,000 CLIP and
30,000 downstream steps), meant for a GPU, checkpointed under ``$MMTHEORY_CHECKPOINTS``
(default ``checkpoints/``) so an interrupted run resumes.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

import numpy as np
import torch

from ..checks import OneOf, constrain
from ..numerics import fit_inverse_m, ridge_predict
from ..registry import experiment
from ..runtime import ScaleSettings, get_device, progress
from . import bp
from .evaluation import EVAL_SEED, evaluate_clip, evaluate_denoiser, evaluate_next_token, evaluate_zero_shot
from .figures import plot_bayes_curves, plot_clip, plot_downstream, plot_probes, plot_prompt_curve
from .model import JGHM
from .risks import TASKS, Risk, bayes_risk, draw_prompts, zero_shot_logits
from .training import TrainConfig, train_clip, train_denoiser, train_next_token
from .transformers import TreeEncoder, guidance_targets

CHECKPOINT_ENV = "MMTHEORY_CHECKPOINTS"


@dataclasses.dataclass(frozen=True)
class Protocol(ScaleSettings):
    """One scale of the pre-training experiments: the tree, the networks, the steps and the evaluation."""

    depth: int
    d: int
    clip_layers: int  # "standard": one block per tree level and one more
    down_layers: int
    down_d: int
    clip: TrainConfig
    down: TrainConfig
    n_eval: int
    M: int
    Ms: tuple  # prompts per class for the zero-shot risk-versus-M curve of the standard encoder
    ps: tuple
    train_p: float  # the downstream models and their CLIP encoders are trained at this p
    ood_ps: tuple
    guidance: float
    probe_p: float = 0.3
    guided_lr_scale: float = 1.0  # the paper trains the guided encoders with a larger step
    checkpoints: bool = False


PROTOCOLS = Protocol.SCALES = {  # the instances behind Protocol.for_scale
    "quick": Protocol(depth=2, d=32, clip_layers=3, down_layers=2, down_d=32,
                      clip=TrainConfig(steps=30, batch=16, lr_max=3e-3, lr_min=3e-5, record_every=10),
                      down=TrainConfig(steps=20, batch=16, lr_max=3e-3, lr_min=3e-5, record_every=10),
                      n_eval=200, M=10, Ms=(5, 20), ps=(0.1,), train_p=0.1, ood_ps=(0.02, 0.3), guidance=1e-2),
    "book": Protocol(depth=2, d=32, clip_layers=3, down_layers=3, down_d=32,
                     clip=TrainConfig(steps=400, batch=64, lr_max=3e-3, lr_min=3e-5, record_every=50),
                     down=TrainConfig(steps=300, batch=64, lr_max=3e-3, lr_min=3e-5, record_every=50),
                     n_eval=2000, M=50, Ms=(5, 10, 25, 50, 100, 250), ps=(0.1,), train_p=0.1, ood_ps=(0.02, 0.05, 0.1, 0.2, 0.3), guidance=1e-2),
    "full": Protocol(depth=4, d=128, clip_layers=5, down_layers=9, down_d=128,
                     clip=TrainConfig(steps=40_000, batch=128, lr_max=3e-4, lr_min=3e-7, record_every=100,
                                      checkpoint_every=2000),
                     down=TrainConfig(steps=30_000, batch=128, lr_max=1e-3, lr_min=1e-6, record_every=100,
                                      checkpoint_every=2000),
                     n_eval=10_000, M=250, Ms=(5, 10, 25, 50, 100, 250), ps=(0.02, 0.1, 0.2, 0.3, 0.4), train_p=0.2,
                     ood_ps=(0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4), guidance=1e-3, probe_p=0.2,
                     guided_lr_scale=1e-3 / 3e-4, checkpoints=True),
}
# The GPU suite's size (mmtheory.suite): the paper's tree and networks at p = 0.2, with short in-batch CLIP runs,
# shared by jghm_clip, jghm_probe and jghm_downstream (one process trains each encoder once).
Protocol.GPU = Protocol(depth=4, d=128, clip_layers=5, down_layers=9, down_d=128,
                        clip=TrainConfig(steps=3000, batch=256, lr_max=1e-3, lr_min=1e-5, record_every=50,
                                         negatives="in_batch"),
                        down=TrainConfig(steps=1000, batch=128, lr_max=1e-3, lr_min=1e-5, record_every=50),
                        n_eval=4000, M=250, Ms=(5, 10, 25, 50, 100, 250), ps=(0.2,), train_p=0.2,
                        ood_ps=(0.02, 0.1, 0.2, 0.3, 0.4), guidance=1e-3, probe_p=0.2)
ARCHITECTURES = ("standard", "guided", "shallow")


def _checkpoint(protocol: Protocol, name: str, seed: int):
    if not protocol.checkpoints:
        return None
    return Path(os.environ.get(CHECKPOINT_ENV, "checkpoints")) / f"{name}-seed{seed}.pt"


def _setting(protocol: Protocol, device, p_field: str):
    """The protocol, the device, and the paper's tree at the protocol's flip probability ``p_field``."""
    dev = get_device(device)
    p = getattr(protocol, p_field)
    return protocol, dev, p, JGHM.paper(p=p, depth=protocol.depth)


@functools.lru_cache(maxsize=8)
def clip_run(protocol: Protocol, arch: str, p: float, seed: int, device: torch.device):
    """Train one pair of encoders of architecture ``arch`` at flip probability ``p``; kept for the
    process, so the experiments of one session (one chapter's kernel) train each pair once."""
    model = JGHM.paper(p=p, depth=protocol.depth)
    guided = arch == "guided"
    scale = protocol.guided_lr_scale if guided else 1.0
    config = dataclasses.replace(protocol.clip, seed=seed, guidance=protocol.guidance if guided else 0.0,
                                 lr_max=protocol.clip.lr_max * scale, lr_min=protocol.clip.lr_min * scale,
                                 checkpoint=_checkpoint(protocol, f"clip-{arch}-p{p}", seed))
    layers = 1 if arch == "shallow" else protocol.clip_layers
    return train_clip(model, config, device=device, d=protocol.d, n_layers=layers, n_heads=4)


# --- probes ---------------------------------------------------------------------------------------


def _r2(X: np.ndarray, Y: np.ndarray, ridge: float = 1e-3) -> float:
    """Held-out R^2 of a ridge probe of Y on X (fit on the first half, scored on the second)."""
    half = X.shape[0] // 2
    predicted = ridge_predict(X, np.arange(half), Y[:half], ridge)[half:]
    return float(1 - ((Y[half:] - predicted) ** 2).sum() / ((Y[half:] - Y[half:].mean(0)) ** 2).sum())


def probe_messages(encoder, T, leaves: torch.Tensor) -> np.ndarray:
    """``R2[b, i]``: how well a linear map of the hidden state after block ``b + 1`` at each leaf position
    predicts the upward BP message of that leaf's ancestor at depth ``L - 1 - i`` (held-out R^2)."""
    L = len(T)
    targets = guidance_targets(T, leaves, L)  # target i: the depth L - 1 - i ancestor's message
    with torch.no_grad():
        _, hidden = encoder(leaves, return_hidden=True)
    out = np.zeros((len(hidden), L))
    for b, h in enumerate(hidden):
        X = h.reshape(-1, h.shape[-1]).double().cpu().numpy()
        for i, target in enumerate(targets):
            out[b, i] = _r2(X, target.reshape(-1, target.shape[-1]).cpu().numpy())
    return out


@dataclasses.dataclass
class ProbeResult:
    """Held-out R^2 of linear probes, ``r2[arch]`` of shape ``(blocks, L)``, the same probes from the
    one-hot leaf at each position alone (``leaf_only``, what a position knows without attention), and
    the trained models' CLIP risk."""

    p: float
    depth: int
    r2: dict
    leaf_only: np.ndarray
    clip_risk: dict
    bayes: tuple


@experiment(plot=plot_probes)
def jghm_probe(scale: str | None = None, seed: int = 0, device=None) -> ProbeResult:
    """Linear probes for the BP messages in untrained, CLIP-trained and BP-guided encoders."""
    protocol, dev, p, model = _setting(Protocol.for_scale(scale), device, "probe_p")
    leaves = model.sample(max(protocol.n_eval // 4, 100), seed=EVAL_SEED + 1, device=dev).image
    one_hot = torch.nn.functional.one_hot(leaves, model.n_symbols).double()
    leaf_only = probe_messages(lambda x, return_hidden: (None, [one_hot]), model.image, leaves)[0]
    untrained = TreeEncoder(model.n_symbols, model.n_leaves("image"), d=protocol.d,
                            n_layers=protocol.clip_layers, n_heads=4).to(dev).eval()
    r2, risks = {"untrained": probe_messages(untrained, model.image, leaves)}, {}
    for arch in ("standard", "guided"):
        run = clip_run(protocol, arch, p, seed, dev)
        r2[arch] = probe_messages(run.image_encoder.eval(), model.image, leaves)
        risk = evaluate_clip(run, model, n=protocol.n_eval)
        risks[arch] = (risk.mean, risk.se)
    bayes = bayes_risk(model, "clip", n=protocol.n_eval, seed=EVAL_SEED, device=dev)
    return ProbeResult(p=p, depth=protocol.depth, r2=r2, leaf_only=leaf_only, clip_risk=risks,
                       bayes=(bayes.mean, bayes.se))


# --- CLIP and zero-shot ---------------------------------------------------------------------------


@dataclasses.dataclass
class ClipResult:
    """CLIP and zero-shot risks (mean, se) of each architecture at each ``p``, with the Bayes risks,
    the training curves and the wall-clock seconds of every run; and the standard encoder's zero-shot
    risk against the number of prompts ``Ms`` at the middle ``p`` (``zsc_by_M``, fitted by ``a + b/M``)."""

    ps: np.ndarray
    depth: int
    steps: int
    M: int
    clip: dict  # arch -> (len(ps), 2)
    zsc: dict
    bayes_clip: np.ndarray
    bayes_zsc: np.ndarray
    history: dict  # arch -> (len(ps), steps)
    seconds: dict
    Ms: np.ndarray
    zsc_by_M: np.ndarray  # (len(Ms), 2)
    fit: tuple


@experiment(plot=plot_clip)
def jghm_clip(scale: str | None = None, seed: int = 0, device=None) -> ClipResult:
    """CLIP and zero-shot risks of CLIP-trained transformers (standard, guided, shallow) against Bayes."""
    protocol, dev = Protocol.for_scale(scale), get_device(device)
    clip, zsc, history, seconds = ({a: [] for a in ARCHITECTURES} for _ in range(4))
    bayes_clip, bayes_zsc = [], []
    for p in protocol.ps:
        model = JGHM.paper(p=p, depth=protocol.depth)
        for arch in ARCHITECTURES:
            run = clip_run(protocol, arch, p, seed, dev)
            risk = evaluate_clip(run, model, n=protocol.n_eval)
            zero = evaluate_zero_shot(run.image_encoder, run.text_encoder, model, n=protocol.n_eval, M=protocol.M)
            clip[arch].append((risk.mean, risk.se))
            zsc[arch].append((zero.mean, zero.se))
            history[arch].append(run.history)
            seconds[arch].append(run.seconds)
        for task, out in (("clip", bayes_clip), ("zsc", bayes_zsc)):
            risk = bayes_risk(model, task, n=protocol.n_eval, seed=EVAL_SEED, device=dev)
            out.append((risk.mean, risk.se))
    p = protocol.ps[len(protocol.ps) // 2]
    run, model = clip_run(protocol, "standard", p, seed, dev), JGHM.paper(p=p, depth=protocol.depth)
    by_M = [evaluate_zero_shot(run.image_encoder, run.text_encoder, model, n=protocol.n_eval, M=M)
            for M in protocol.Ms]
    by_M = np.array([(r.mean, r.se) for r in by_M])
    arrays = lambda d: {k: np.array(v) for k, v in d.items()}  # noqa: E731
    return ClipResult(ps=np.array(protocol.ps), depth=protocol.depth, steps=protocol.clip.steps, M=protocol.M,
                      clip=arrays(clip), zsc=arrays(zsc), bayes_clip=np.array(bayes_clip),
                      bayes_zsc=np.array(bayes_zsc), history=arrays(history), seconds=arrays(seconds),
                      Ms=np.array(protocol.Ms), zsc_by_M=by_M, fit=fit_inverse_m(protocol.Ms, by_M[:, 0]))


# --- downstream -----------------------------------------------------------------------------------


@dataclasses.dataclass
class DownstreamResult:
    """Denoising (``cdm``) and next-token (``vlm``) risks, ``risk[task][variant]`` of shape
    ``(len(ood_ps), 2)`` on data at each ``ood_ps`` for models trained at ``p``; variants are
    ``frozen`` (the CLIP embedding), ``joint`` (raw tokens), ``bayes`` and ``misspecified`` BP."""

    p: float
    ood_ps: np.ndarray
    depth: int
    risk: dict
    seconds: dict
    one_side: dict = dataclasses.field(default_factory=dict)  # the same, moving one tree only (paper's Fig. 9):
    # the image tree for denoising (text at p), the text tree for next-token (image at p)


@experiment(plot=plot_downstream)
def jghm_downstream(scale: str | None = None, seed: int = 0, device=None) -> DownstreamResult:
    """Denoising and next-token prediction from a frozen CLIP embedding vs joint training, in and out of distribution."""
    protocol, dev, p, model = _setting(Protocol.for_scale(scale), device, "train_p")
    encoders = clip_run(protocol, "standard", p, seed, dev)
    net = dict(d=protocol.down_d, n_layers=protocol.down_layers, n_heads=4)
    runs, seconds = {}, {}
    for variant, frozen in (("frozen", True), ("joint", False)):
        ck = lambda task: _checkpoint(protocol, f"{task}-{variant}-p{p}", seed)  # noqa: E731
        runs["cdm", variant] = train_denoiser(model, dataclasses.replace(protocol.down, seed=seed, checkpoint=ck("cdm")),
                                              text_encoder=encoders.text_encoder if frozen else None, device=dev, **net)
        runs["vlm", variant] = train_next_token(model, dataclasses.replace(protocol.down, seed=seed,
                                                                           checkpoint=ck("vlm")),
                                                image_encoder=encoders.image_encoder if frozen else None,
                                                device=dev, **net)
        seconds["cdm", variant], seconds["vlm", variant] = runs["cdm", variant].seconds, runs["vlm", variant].seconds
    evaluate = {"cdm": evaluate_denoiser, "vlm": evaluate_next_token}
    moved = {  # the test law at q: both trees at q, or only the tree the task reads out
        "both": lambda task, q: JGHM.paper(p=q, depth=protocol.depth),
        "one": lambda task, q: (JGHM.paper(p=p, p_image=q, depth=protocol.depth) if task == "cdm"
                                else JGHM.paper(p=q, p_image=p, depth=protocol.depth)),
    }
    found = {}
    for which, law in moved.items():
        risk = {task: {v: [] for v in ("frozen", "joint", "bayes", "misspecified")} for task in evaluate}
        for q in protocol.ood_ps:
            for task in evaluate:
                data, n = law(task, q), protocol.n_eval
                for variant in ("frozen", "joint"):
                    r = evaluate[task](runs[task, variant], data, n=n)
                    risk[task][variant].append((r.mean, r.se))
                for variant, bp_model in (("bayes", None), ("misspecified", model)):
                    r = bayes_risk(data, task, n=n, seed=EVAL_SEED, bp_model=bp_model, device=dev)
                    risk[task][variant].append((r.mean, r.se))
        found[which] = {task: {v: np.array(values) for v, values in by.items()} for task, by in risk.items()}
    risk = found["both"]
    return DownstreamResult(p=p, ood_ps=np.array(protocol.ood_ps), depth=protocol.depth, risk=risk,
                            seconds={f"{t}-{v}": s for (t, v), s in seconds.items()}, one_side=found["one"])


@dataclasses.dataclass
class BayesCurves:
    """Risks of BP on data at each ``p``: with the true matrices (``bayes``) and with those of
    ``train_p`` (``misspecified``); ``[task][i]`` is ``(mean, se)`` at ``ps[i]``."""

    ps: np.ndarray
    train_p: float
    samples: dict
    bayes: dict
    misspecified: dict
    fixed: str | None = None  # "text" or "image": that tree stays at train_p while the other's p is swept


@dataclasses.dataclass(frozen=True)
class BayesCurvesSettings(ScaleSettings):
    """The flip probabilities of :func:`jghm_bayes_curves`, and the samples per task (``n_vlm`` for next-token)."""

    ps: tuple[float, ...]
    n: int
    n_vlm: int


BAYES_SCALES = BayesCurvesSettings.SCALES = {  # the instances behind BayesCurvesSettings.for_scale
    "quick": BayesCurvesSettings(ps=(0.02, 0.2, 0.4), n=200, n_vlm=20),
    "book": BayesCurvesSettings(ps=(0.02, 0.1, 0.2, 0.3, 0.4), n=1500, n_vlm=100),
    "full": BayesCurvesSettings(ps=tuple(np.round(np.arange(1, 21) * 0.02, 2)), n=10_000, n_vlm=2000),
}


@constrain(fixed=OneOf(None, "text", "image"))
def bayes_curves(ps, n: int = 2000, n_vlm: int = 200, train_p: float = 0.2, seed: int = 0, device=None,
                 fixed: str | None = None, tasks=TASKS) -> BayesCurves:
    """Bayes and misspecified-BP risks of ``tasks`` on the paper's trees at every ``p``.

    With ``fixed="text"`` only the image tree's flip probability is swept (the text tree stays at
    ``train_p``), with ``fixed="image"`` only the text tree's: the one-modality sweeps of the paper's Fig. 9."""
    unknown = set(tasks) - set(TASKS)
    if unknown:
        raise ValueError(f"tasks must be among {TASKS}, got {sorted(unknown)}")
    trained = JGHM.paper(p=train_p)
    samples = {task: (n_vlm if task == "vlm" else n) for task in tasks}
    bayes = {task: [] for task in tasks}
    wrong = {task: [] for task in tasks}
    for i, p in enumerate(progress(ps, desc="Bayes risks")):
        p = float(p)
        truth = {None: JGHM.paper(p=p), "text": JGHM.paper(p=train_p, p_image=p),
                 "image": JGHM.paper(p=p, p_image=train_p)}[fixed]
        for task in tasks:
            for out, bp_model in ((bayes, None), (wrong, trained)):
                risk = bayes_risk(truth, task, n=samples[task], seed=seed + i, bp_model=bp_model, device=device)
                out[task].append((risk.mean, risk.se))
    as_arrays = lambda d: {task: np.array(values) for task, values in d.items()}  # noqa: E731
    return BayesCurves(ps=np.asarray(ps, dtype=float), train_p=train_p, samples=samples,
                       bayes=as_arrays(bayes), misspecified=as_arrays(wrong), fixed=fixed)


@experiment(plot=plot_bayes_curves)
def jghm_bayes_curves(scale: str | None = None, seed: int = 0, device=None) -> BayesCurves:
    """Bayes risk against p for CLIP, zero-shot, denoising and next-token, and BP with p = 0.2 matrices."""
    settings = BayesCurvesSettings.for_scale(scale)
    return bayes_curves(settings.ps, n=settings.n, n_vlm=settings.n_vlm, seed=seed, device=device)


@dataclasses.dataclass
class PromptCurve:
    """Zero-shot cross-entropy with the exact PMI score and ``M`` prompts per class, the Bayes risk
    (the exact label posterior) on the same images, and the fit ``a + b / M``."""

    p: float
    Ms: np.ndarray
    risk: np.ndarray  # (len(Ms), 2): mean, se
    bayes: tuple
    fit: tuple


@dataclasses.dataclass(frozen=True)
class PromptCurveSettings(ScaleSettings):
    """The numbers of prompts per class ``Ms`` of :func:`jghm_prompts`, and the evaluated images ``n``."""

    Ms: tuple[int, ...]
    n: int


PROMPT_SCALES = PromptCurveSettings.SCALES = {  # the instances behind PromptCurveSettings.for_scale
    "quick": PromptCurveSettings(Ms=(5, 25, 100), n=300),
    "book": PromptCurveSettings(Ms=(5, 10, 25, 50, 100, 250), n=3000),
    "full": PromptCurveSettings(Ms=(5, 10, 25, 50, 100, 250, 500, 1000), n=7500),
}


def prompt_curve(Ms, n: int = 3000, p: float = 0.2, seed: int = 0, device=None) -> PromptCurve:
    """Zero-shot risk against the number of prompts, with the exact score (no training involved).

    Prompts for class ``c`` are fresh texts whose first leaf is ``c`` (never the evaluated images' own
    captions), nested across ``M``; the logits include the label prior.
    """
    Ms = np.asarray(sorted(Ms))
    model, dev = JGHM.paper(p=p), get_device(device)
    gen = torch.Generator(device=dev).manual_seed(seed)
    with torch.no_grad():
        s = model.sample(n, gen)
        prompts = draw_prompts(model, int(Ms[-1]), gen)
        image_post = bp.root_posterior(model, "image", s.image) / torch.as_tensor(model.prior, device=dev)
        text_post = bp.root_posterior(model, "text", prompts.flatten(0, 1)).reshape(*prompts.shape[:2], -1)
        log_prior = np.log(bp.label_prior(model))
        label = s.text[:, :1]
        risks = []
        for M in Ms:
            logits = zero_shot_logits(lambda x, y: torch.log(x @ y.T), image_post, text_post[:, :M], log_prior)
            risk = Risk.of(-torch.log_softmax(logits, 1).gather(1, label)[:, 0])
            risks.append((risk.mean, risk.se))
        bayes = Risk.of(-torch.log(bp.label_posterior(model, s.image).gather(1, label))[:, 0])
    risks = np.array(risks)
    return PromptCurve(p=p, Ms=Ms, risk=risks, bayes=(bayes.mean, bayes.se), fit=fit_inverse_m(Ms, risks[:, 0]))


@experiment(plot=plot_prompt_curve)
def jghm_prompts(scale: str | None = None, seed: int = 0, device=None) -> PromptCurve:
    """Zero-shot risk against the number of prompts M with the exact CLIP score, and its a + b/M fit."""
    settings = PromptCurveSettings.for_scale(scale)
    return prompt_curve(settings.Ms, n=settings.n, seed=seed, device=device)


# --- chapter settings: the scale-dependent numbers a chapter's own cells use ------------------------------


@dataclasses.dataclass(frozen=True)
class JGHMModelChapter(ScaleSettings):
    """Read by ``book/jghm/model.md``: ``n_samples`` pairs drawn to time the sampler, ``n_bp`` pairs per p for BP."""

    n_samples: int
    n_bp: int


JGHMModelChapter.SCALES = {
    "quick": JGHMModelChapter(n_samples=10_000, n_bp=300),
    "book": JGHMModelChapter(n_samples=100_000, n_bp=1500),
    "full": JGHMModelChapter(n_samples=1_000_000, n_bp=20_000),
}
