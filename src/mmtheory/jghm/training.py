r"""Training and evaluating the JGHM transformers of Oko et al. (2025) (the protocol of the official repository, `willcai7/Multimodal-GHM`).

Every network is trained **online**: each step draws a fresh batch from the JGHM with a seeded
:class:`torch.Generator` on the device, so the training loss is itself an unbiased estimate of the risk, and
the reported in-distribution risk (``final``) is the mean of the last 100 training losses, as in the paper.
The optimiser is AdamW (:math:`\beta = (0.9, 0.999)`, :math:`\epsilon = 10^{-8}`, decoupled weight decay),
with the step decayed along a cosine from ``lr_max`` to ``lr_min`` over the run (no warm-up) and the gradient
norm clipped. The four objectives are those of :mod:`mmtheory.jghm`:

* :func:`train_clip`: two :class:`~mmtheory.jghm.TreeEncoder` trained on the :math:`K`-way symmetric
  CLIP loss of the scores :math:`\langle f(x_{\rm im}), g(x_{\rm tx})\rangle`, optionally with BP guidance;
* :func:`train_denoiser`: a :class:`~mmtheory.jghm.DenoisingTransformer` on the summed squared error,
  conditioned on a frozen CLIP text embedding or (joint training) on the raw text leaves;
* :func:`train_next_token`: a :class:`~mmtheory.jghm.NextTokenTransformer` on the per-token
  cross-entropy, conditioned on a frozen CLIP image embedding or on the raw image leaves.

A run with ``config.checkpoint`` saves its whole state every ``checkpoint_every`` steps and, started again,
resumes from it: on the CPU the resumed run ends with exactly the parameters and loss history of an
uninterrupted one. The held-out risks of trained networks are in :mod:`mmtheory.jghm.evaluation`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from ..checks import Device, Real, check_integer, constrain
from ..runtime import get_device
from ..train import Optimisation, train
from . import bp
from .model import JGHM
from .risks import ClipBatch, clip_batch, clip_loss
from .transformers import (
    DenoisingTransformer,
    NextTokenTransformer,
    TreeEncoder,
    guidance_penalty,
    guidance_targets,
    guided_blocks,
)

FINAL_WINDOW = 100  # the in-distribution risk is the mean of the last 100 training losses


NEGATIVES = ("sampled", "in_batch")  # CLIP negatives: K - 1 fresh draws per anchor, or the batch's other pairs


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The training protocol: ``steps`` AdamW steps on fresh batches of ``batch`` draws, the step decayed
    along a cosine from ``lr_max`` to ``lr_min``, gradients clipped to norm ``clip_norm``; ``K`` is the
    CLIP batch of one positive and ``K - 1`` negatives per anchor, ``guidance`` the weight of the BP-guidance
    penalty (CLIP only; 0 turns it off). Losses are copied off the device every ``record_every`` steps; with a
    ``checkpoint`` path the state is saved every ``checkpoint_every`` steps and a run resumes from it.
    ``seed`` seeds both the initialisation and the data stream. ``negatives="in_batch"`` trains CLIP with
    the batch's other pairs as negatives instead (``K`` is then ``batch`` in training; evaluation keeps ``K``)."""

    steps: int = 1000
    batch: int = 128
    lr_max: float = 1e-3
    lr_min: float = 1e-6
    weight_decay: float = 1e-3
    clip_norm: float = 1.0
    K: int = 4
    negatives: str = "sampled"
    guidance: float = 0.0
    record_every: int = 100
    checkpoint: str | os.PathLike | None = None
    checkpoint_every: int = 1000
    seed: int = 0

    def __post_init__(self):
        for name, low in (("steps", 1), ("batch", 1), ("K", 2), ("record_every", 1), ("checkpoint_every", 1),
                          ("seed", 0)):
            check_integer(getattr(self, name), name, low)
        for name in ("lr_max", "lr_min", "weight_decay", "clip_norm", "guidance"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                    or not np.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if not self.lr_max > 0:
            raise ValueError(f"lr_max must be > 0, got {self.lr_max!r}")
        if not 0 <= self.lr_min <= self.lr_max:
            raise ValueError(f"lr_min must be in [0, lr_max = {self.lr_max}], got {self.lr_min!r}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if not self.clip_norm > 0:
            raise ValueError(f"clip_norm must be > 0, got {self.clip_norm!r}")
        if not self.guidance >= 0:
            raise ValueError(f"guidance must be >= 0, got {self.guidance!r}")
        if self.negatives not in NEGATIVES:
            raise ValueError(f"negatives must be one of {NEGATIVES}, got {self.negatives!r}")
        if self.negatives == "in_batch" and self.batch < 2:
            raise ValueError(f"batch must be >= 2 for in-batch negatives, got {self.batch}")
        if self.checkpoint is not None and not isinstance(self.checkpoint, (str, os.PathLike)):
            raise ValueError(f"checkpoint must be a path or None, got {self.checkpoint!r}")


# --- the loop: mmtheory.train, with a seeded data stream and checkpoint identity ---------------------


def _fingerprint(model: JGHM, *extra) -> str:
    """A digest of the JGHM's matrices and prior and of ``extra`` (numbers, frozen modules), for checkpoints."""
    digest = hashlib.sha256()
    for array in (*model.image, *model.text, model.prior):
        digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
    for item in extra:
        if isinstance(item, torch.nn.Module):
            for tensor in item.state_dict().values():
                digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        else:
            digest.update(repr(item).encode())
    return digest.hexdigest()


def _train(modules: list[torch.nn.Module], loss_fn, config: TrainConfig, device: torch.device,
           desc: str, key: str = "") -> tuple[np.ndarray, float]:
    """Train ``modules`` in place with :func:`mmtheory.train.train` (left in eval mode); returns the per-step
    training losses (all ``config.steps`` of them, resumed ones included) and the seconds this call took.

    ``loss_fn(generator) -> (loss, penalty)`` draws a fresh batch from ``generator`` and returns the
    scalar loss and a penalty (``None`` for none); the step minimises ``loss + config.guidance * penalty``
    and records ``loss``. On a GPU the steps run under bfloat16 autocast (evaluation stays float32). A checkpoint
    is resumed only by a run with the same ``desc``, ``key`` (a digest of
    whatever else the loss depends on: see :func:`_fingerprint`), protocol and parameter shapes.
    """
    generator = torch.Generator(device=device).manual_seed(config.seed)

    def step_loss(step):
        loss, penalty = loss_fn(generator)
        return loss if penalty is None else (loss + config.guidance * penalty, loss)

    settings = Optimisation(config.steps, config.lr_max, config.lr_min, weight_decay=config.weight_decay,
                            clip_norm=config.clip_norm)
    protocol = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
                if f.name not in ("checkpoint", "checkpoint_every", "record_every")}
    for module in modules:
        module.train()
    began = time.perf_counter()
    history = train(modules, step_loss, settings, desc=desc, record_every=config.record_every, generator=generator,
                    checkpoint=config.checkpoint, checkpoint_every=config.checkpoint_every,
                    identity={"key": key, "config": protocol}, autocast=True)
    for module in modules:
        module.eval()
    return history, time.perf_counter() - began


def _final(history: np.ndarray) -> float:
    return float(history[-min(FINAL_WINDOW, len(history)):].mean())


def _built(build, seed: int, device: torch.device):
    """A module built under a seeded CPU generator (the same initialisation wherever it is called from)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build().to(device)


def _check_model(model) -> JGHM:
    if not isinstance(model, JGHM):
        raise ValueError(f"model must be a JGHM, got {type(model).__name__}")
    return model


def _check_config(config) -> TrainConfig:
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    return config


def _check_encoder(encoder, model: JGHM, modality: str, name: str) -> TreeEncoder:
    if not isinstance(encoder, TreeEncoder):
        raise ValueError(f"{name} must be a TreeEncoder, got {type(encoder).__name__}")
    if encoder.n_symbols != model.n_symbols or encoder.n_leaves != model.n_leaves(modality):
        raise ValueError(f"{name} encodes {encoder.n_leaves} leaves over {encoder.n_symbols} symbols, but the "
                         f"model's {modality} tree has {model.n_leaves(modality)} over {model.n_symbols}")
    return encoder


def _device_of(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


def _no_guidance(config: TrainConfig, task: str):
    if config.guidance > 0:
        raise ValueError(f"guidance must be 0 for {task}: BP guidance is implemented for the CLIP encoders only, "
                         f"got {config.guidance}")


# --- CLIP ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class ClipRun:
    """Two CLIP encoders trained together, their per-step training losses, and ``final``, the mean of the
    last 100 (an online estimate of the CLIP risk)."""

    image_encoder: TreeEncoder
    text_encoder: TreeEncoder
    history: np.ndarray
    final: float
    seconds: float
    config: TrainConfig


def _embed(encoder: TreeEncoder, T, leaves: torch.Tensor, guided: bool):
    """Embeddings of ``leaves (n, k)``, and their guidance penalty (``None`` unless ``guided``)."""
    if not guided:
        return encoder(leaves), None
    embedding, hidden = encoder(leaves, return_hidden=True)
    return embedding, guidance_penalty(hidden, guidance_targets(T, leaves, encoder.n_layers))


def _encode(encoder: TreeEncoder, T, anchors: torch.Tensor, negatives: torch.Tensor, guided: bool):
    """Embeddings of ``anchors (n, k)`` and ``negatives (n, K-1, k)`` in one pass, and the guidance penalty
    over all of them (``None`` unless ``guided``)."""
    n = anchors.shape[0]
    embedding, penalty = _embed(encoder, T, torch.cat([anchors, negatives.flatten(0, 1)]), guided)
    return embedding[:n], embedding[n:].reshape(n, negatives.shape[1], -1), penalty


def _clip_losses(image_encoder: TreeEncoder, text_encoder: TreeEncoder, model: JGHM, batch: ClipBatch,
                 guided: bool = False):
    """Per-pair CLIP losses ``(n,)`` of the inner-product score, and the summed guidance penalty of both encoders."""
    image, negative_image, image_penalty = _encode(image_encoder, model.image, batch.image, batch.negative_image,
                                                   guided)
    text, negative_text, text_penalty = _encode(text_encoder, model.text, batch.text, batch.negative_text, guided)
    losses = clip_loss((image * text).sum(-1), torch.einsum("ne,nke->nk", image, negative_text),
                       torch.einsum("nke,ne->nk", negative_image, text), reduce=False)
    return losses, (image_penalty + text_penalty if guided else None)


def _in_batch_losses(image_encoder: TreeEncoder, text_encoder: TreeEncoder, model: JGHM, pairs, guided: bool):
    """Per-pair symmetric CLIP losses ``(n,)`` with the other ``n - 1`` pairs of the batch as negatives (the
    :math:`K`-way loss at :math:`K = n`: the negatives are independent of each anchor, shared across anchors)."""
    image, image_penalty = _embed(image_encoder, model.image, pairs.image, guided)
    text, text_penalty = _embed(text_encoder, model.text, pairs.text, guided)
    scores, n = image @ text.T, image.shape[0]
    others = ~torch.eye(n, dtype=torch.bool, device=scores.device)
    losses = clip_loss(scores.diagonal(), scores[others].view(n, n - 1), scores.T[others].view(n, n - 1),
                       reduce=False)
    return losses, (image_penalty + text_penalty if guided else None)


@constrain(device=Device())
def train_clip(model: JGHM, config: TrainConfig, device=None, **encoder_kwargs) -> ClipRun:
    """Train an image and a text :class:`TreeEncoder` (``encoder_kwargs``: ``d``, ``n_layers``, ``n_heads``,
    ``embed_dim``) on the :math:`K`-way CLIP loss of fresh draws from ``model``, plus ``config.guidance`` times
    the BP-guidance penalty of both encoders when it is positive."""
    model, config = _check_model(model), _check_config(config)
    dev = get_device(device)
    encoders = [_built(lambda m=modality: TreeEncoder(model.n_symbols, model.n_leaves(m), **encoder_kwargs),
                       config.seed + i, dev) for i, modality in enumerate(("image", "text"))]
    guided = config.guidance > 0
    if guided:
        for encoder, modality in zip(encoders, ("image", "text")):
            needed = guided_blocks(model.tree(modality), encoder.n_layers) * model.n_symbols
            if encoder.d < needed:
                raise ValueError(f"d must be >= (guided blocks) x S = {needed} for guidance on the {modality} tree, "
                                 f"got d={encoder.d}")

    def loss_fn(generator):
        if config.negatives == "in_batch":
            losses, penalty = _in_batch_losses(*encoders, model, model.sample(config.batch, generator), guided)
        else:
            losses, penalty = _clip_losses(*encoders, model, clip_batch(model, config.batch, config.K, generator),
                                           guided)
        return losses.mean(), penalty

    history, seconds = _train(encoders, loss_fn, config, dev, "CLIP" + (" (guided)" if guided else ""),
                              _fingerprint(model))
    return ClipRun(image_encoder=encoders[0], text_encoder=encoders[1], history=history, final=_final(history),
                   seconds=seconds, config=config)


# --- conditional denoising ----------------------------------------------------------------------------


@dataclasses.dataclass
class DenoiserRun:
    """A trained denoiser, the frozen text encoder it is conditioned on (``None``: joint training on the text
    leaves), the noise level, and the training losses (``final``: the mean of the last 100)."""

    denoiser: DenoisingTransformer
    text_encoder: TreeEncoder | None
    sigma: float
    history: np.ndarray
    final: float
    seconds: float
    config: TrainConfig


def _condition(encoder: TreeEncoder | None, leaves: torch.Tensor) -> torch.Tensor:
    """The conditioning input: the frozen encoder's embedding of ``leaves``, or the leaves themselves."""
    if encoder is None:
        return leaves
    with torch.no_grad():
        return encoder(leaves)


def _noisy(image: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """:math:`z = x + \\sigma g` (the draws of :func:`mmtheory.jghm.bayes_risk`, in float64)."""
    x = image.to(bp.DTYPE)
    return x + sigma * torch.randn(x.shape, generator=generator, device=x.device, dtype=bp.DTYPE)


def _denoising_errors(denoiser: DenoisingTransformer, text_encoder, image, text, z) -> torch.Tensor:
    """Squared errors summed over the image leaves, ``(n,)``."""
    prediction = denoiser(z.float(), _condition(text_encoder, text))
    return ((prediction - image.to(prediction.dtype)) ** 2).sum(-1)


def _conditioning(encoder, model: JGHM, modality: str, name: str, device, kw: dict):
    """The frozen encoder (moved to ``device``, in eval mode) and the network's keyword arguments: conditioned
    on its embedding, or on the raw leaves of ``modality`` when it is ``None``."""
    for key in ("condition", "embed_dim"):
        if key in kw:
            raise ValueError(f"{key} is set by the encoder argument ({name}), not as a keyword")
    if encoder is None:
        return None, {"condition": "tokens", **kw}
    encoder = _check_encoder(encoder, model, modality, name).to(device).eval()
    return encoder, {"condition": "embedding", "embed_dim": encoder.embed_dim, **kw}


@constrain(sigma=Real(0, closed="neither"), device=Device())
def train_denoiser(model: JGHM, config: TrainConfig, text_encoder: TreeEncoder | None = None, sigma: float = 1.0,
                   device=None, **kw) -> DenoiserRun:
    """Train a :class:`DenoisingTransformer` (``kw``: ``d``, ``n_layers``, ``n_heads``) to predict the image
    leaves from :math:`z = x_{\\rm im} + \\sigma g` and the text: through the frozen ``text_encoder``'s
    embedding (CDM on CLIP; the encoder is moved to the device and put in eval mode, never trained), or from
    the raw text leaves when it is ``None`` (joint training). The loss is the squared error summed over leaves."""
    model, config = _check_model(model), _check_config(config)
    _no_guidance(config, "train_denoiser")
    dev = get_device(device)
    text_encoder, kw = _conditioning(text_encoder, model, "text", "text_encoder", dev, kw)
    denoiser = _built(lambda: DenoisingTransformer(model.n_symbols, model.n_leaves("image"),
                                                   n_text=model.n_leaves("text"), **kw), config.seed, dev)

    def loss_fn(generator):
        s = model.sample(config.batch, generator)
        z = _noisy(s.image, sigma, generator)
        return _denoising_errors(denoiser, text_encoder, s.image, s.text, z).mean(), None

    desc = "CDM" + (" (joint)" if text_encoder is None else "")
    history, seconds = _train([denoiser], loss_fn, config, dev, desc, _fingerprint(model, float(sigma), text_encoder))
    return DenoiserRun(denoiser=denoiser, text_encoder=text_encoder, sigma=float(sigma), history=history,
                       final=_final(history), seconds=seconds, config=config)


# --- next-token prediction ----------------------------------------------------------------------------


@dataclasses.dataclass
class NextTokenRun:
    """A trained next-token model, the frozen image encoder it is conditioned on (``None``: joint training on
    the image leaves), and the training losses (``final``: the mean of the last 100)."""

    transformer: NextTokenTransformer
    image_encoder: TreeEncoder | None
    history: np.ndarray
    final: float
    seconds: float
    config: TrainConfig


def _next_token_losses(transformer: NextTokenTransformer, image_encoder, image, text) -> torch.Tensor:
    """Cross-entropy of text leaves 1.. given the earlier ones and the image, averaged over positions, ``(n,)``."""
    logits = transformer(text, _condition(image_encoder, image))  # (n, n_text - 1, S)
    return F.cross_entropy(logits.transpose(1, 2), text[:, 1:], reduction="none").mean(-1)


@constrain(device=Device())
def train_next_token(model: JGHM, config: TrainConfig, image_encoder: TreeEncoder | None = None, device=None,
                     **kw) -> NextTokenRun:
    """Train a :class:`NextTokenTransformer` (``kw``: ``d``, ``n_layers``, ``n_heads``) on the per-token
    cross-entropy of the text leaves, conditioned on the frozen ``image_encoder``'s embedding (VLM on CLIP) or
    on the raw image leaves when it is ``None`` (joint training)."""
    model, config = _check_model(model), _check_config(config)
    _no_guidance(config, "train_next_token")
    dev = get_device(device)
    image_encoder, kw = _conditioning(image_encoder, model, "image", "image_encoder", dev, kw)
    transformer = _built(lambda: NextTokenTransformer(model.n_symbols, model.n_leaves("text"),
                                                      model.n_leaves("image"), **kw), config.seed, dev)

    def loss_fn(generator):
        s = model.sample(config.batch, generator)
        return _next_token_losses(transformer, image_encoder, s.image, s.text).mean(), None

    desc = "VLM" + (" (joint)" if image_encoder is None else "")
    history, seconds = _train([transformer], loss_fn, config, dev, desc, _fingerprint(model, image_encoder))
    return NextTokenRun(transformer=transformer, image_encoder=image_encoder, history=history,
                        final=_final(history), seconds=seconds, config=config)


# --- evaluation on held-out draws ---------------------------------------------------------------------


