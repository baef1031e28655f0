r"""The four JGHM tasks of Oko et al. (2025), their losses, and their Bayes risks by exact BP.

Each task is a loss on fresh draws from a :class:`~mmtheory.jghm.JGHM`:

* **CLIP** (:math:`K`-way, both directions summed): an anchor is scored against its partner and
  :math:`K-1` independent draws of the other modality,
  :math:`-\log\big(e^{S(x,y)}/(e^{S(x,y)}+\sum_{k<K} e^{S(x,y'_k)})\big)`, plus the same with the roles swapped;
* **ZSC**: cross-entropy of a predicted law of the label, the first text leaf, given the image;
* **CDM**: squared error, summed over the image leaves, of a prediction of :math:`x_{\rm im}` from
  :math:`z = x_{\rm im} + \sigma g` and the text;
* **VLM**: cross-entropy of text leaf :math:`j+1` given leaves :math:`\le j` and the image, averaged over
  :math:`j`.

The Bayes risk of each task is the loss of its exact posterior, computed by BP with the true
matrices; running BP with other matrices (``bp_model``) gives the *misspecified* risk of the
out-of-distribution figures. As in the official evaluation scripts, zero-shot mis-specifies only the
image side: the label's law given the root is the data's. Every risk comes back with its Monte-Carlo standard error.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from ..checks import Device, Integer, OneOf, Real, check_integer, constrain
from ..runtime import get_device
from . import bp
from .model import JGHM

TASKS = ("clip", "zsc", "cdm", "vlm")


@dataclasses.dataclass
class ClipBatch:
    """``n`` pairs sharing a root, and for each ``K - 1`` independent texts and images (negatives):
    ``image``, ``text`` ``(n, leaves)``; ``negative_text``, ``negative_image`` ``(n, K - 1, leaves)``."""

    image: torch.Tensor
    text: torch.Tensor
    negative_text: torch.Tensor
    negative_image: torch.Tensor


def clip_batch(model: JGHM, n: int, K: int, generator: torch.Generator) -> ClipBatch:
    """Fresh CLIP data: ``n`` pairs and ``(K - 1) n`` independent draws of each modality."""
    check_integer(K, "K", 2)
    pairs = model.sample(n, generator)
    others = model.sample((K - 1) * n, generator)  # roots independent of the pairs'
    return ClipBatch(image=pairs.image, text=pairs.text,
                     negative_text=others.text.reshape(n, K - 1, -1),
                     negative_image=others.image.reshape(n, K - 1, -1))


def clip_loss(positive: torch.Tensor, against_texts: torch.Tensor, against_images: torch.Tensor,
              reduce: bool = True) -> torch.Tensor:
    """The symmetric :math:`K`-way CLIP loss from scores: ``positive`` :math:`S(x_i, y_i)` ``(n,)``,
    ``against_texts`` :math:`S(x_i, y'_{ik})` and ``against_images`` :math:`S(x'_{ik}, y_i)` ``(n, K-1)``.
    Invariant to adding a constant to every score, not to adding a function of one input."""
    if positive.ndim != 1 or against_texts.shape != against_images.shape or against_texts.shape[0] != positive.shape[0]:
        raise ValueError("positive must be (n,) and the two negative score arrays (n, K - 1), got "
                         f"{tuple(positive.shape)}, {tuple(against_texts.shape)}, {tuple(against_images.shape)}")
    losses = sum(torch.logsumexp(torch.cat([positive[:, None], negatives], 1), 1) - positive
                 for negatives in (against_texts, against_images))
    return losses.mean() if reduce else losses


@dataclasses.dataclass
class Risk:
    """A Monte-Carlo risk: ``mean`` and standard error ``se`` over ``n`` independent terms."""

    mean: float
    se: float
    n: int

    @classmethod
    def of(cls, values: torch.Tensor) -> Risk:
        values = values.detach().double().cpu()
        n = values.numel()
        se = float(values.std(unbiased=True)) / math.sqrt(n) if n > 1 else float("nan")
        return cls(mean=float(values.mean()), se=se, n=n)

    def __str__(self) -> str:
        return f"{self.mean:.4f} ± {self.se:.4f}"


def _bayes_clip(data: JGHM, bp_model: JGHM, n: int, K: int, gen: torch.Generator) -> torch.Tensor:
    batch = clip_batch(data, n, K, gen)
    prior = torch.as_tensor(bp_model.prior, dtype=bp.DTYPE, device=batch.image.device)
    pi_im = bp.root_posterior(bp_model, "image", batch.image) / prior
    pi_tx = bp.root_posterior(bp_model, "text", batch.text)
    neg_tx = bp.root_posterior(bp_model, "text", batch.negative_text.flatten(0, 1)).reshape(n, K - 1, -1)
    neg_im = bp.root_posterior(bp_model, "image", batch.negative_image.flatten(0, 1)).reshape(n, K - 1, -1) / prior
    positive = torch.log((pi_im * pi_tx).sum(-1))
    return clip_loss(positive, torch.log(torch.einsum("na,nka->nk", pi_im, neg_tx)),
                     torch.log(torch.einsum("nka,na->nk", neg_im, pi_tx)), reduce=False)


def _bayes_zsc(data: JGHM, bp_model: JGHM, n: int, gen: torch.Generator) -> torch.Tensor:
    s = data.sample(n, gen)
    posterior = bp.label_posterior(bp_model, s.image, label_model=data)  # the label's law given the root is the data's
    return -torch.log(posterior.gather(1, s.text[:, :1]))[:, 0]


def _bayes_cdm(data: JGHM, bp_model: JGHM, n: int, gen: torch.Generator, sigma: float) -> torch.Tensor:
    s = data.sample(n, gen)
    x = s.image.to(bp.DTYPE)
    z = x + sigma * torch.randn(x.shape, generator=gen, device=x.device, dtype=bp.DTYPE)
    return ((bp.denoising_mean(bp_model, z, s.text, sigma) - x) ** 2).sum(-1)


def _bayes_vlm(data: JGHM, bp_model: JGHM, n: int, gen: torch.Generator) -> torch.Tensor:
    s = data.sample(n, gen)
    posterior = bp.next_token_posteriors(bp_model, s.text, s.image)
    return -torch.log(posterior.gather(2, s.text[:, 1:, None]))[..., 0].mean(-1)


@constrain(task=OneOf(*TASKS), n=Integer(2), seed=Integer(0), K=Integer(2), sigma=Real(0, closed="neither"),
           device=Device())
def bayes_risk(model: JGHM, task: str, n: int = 2000, seed: int = 0, bp_model: JGHM | None = None,
               K: int = 4, sigma: float = 1.0, device=None) -> Risk:
    """The risk of the BP posterior of ``task`` on ``n`` fresh draws from ``model``: the Bayes risk when
    ``bp_model`` is ``None`` (BP with the true matrices), the misspecified risk otherwise."""
    bp_model = model if bp_model is None else bp_model
    if bp_model.n_symbols != model.n_symbols:
        raise ValueError("bp_model must have as many symbols as model")
    dev = get_device(device)
    gen = torch.Generator(device=dev).manual_seed(seed)
    with torch.no_grad():
        if task == "clip":
            values = _bayes_clip(model, bp_model, n, K, gen)
        elif task == "zsc":
            values = _bayes_zsc(model, bp_model, n, gen)
        elif task == "cdm":
            values = _bayes_cdm(model, bp_model, n, gen, sigma)
        else:
            values = _bayes_vlm(model, bp_model, n, gen)
    return Risk.of(values)


def zero_shot_logits(score_fn, image: torch.Tensor, prompts: torch.Tensor, log_prior) -> torch.Tensor:
    """Zero-shot logits :math:`\\log p(c) + \\log \\frac1M \\sum_m e^{S(x, y^{(c,m)})}` ``(n, C)`` for a
    score function ``score_fn(image (n, k), text (r, k)) -> (n, r)`` and prompts ``(C, M, k)``.

    Implements {eq}`eq-zsc-prompts`
    """
    C, M = prompts.shape[:2]
    scores = score_fn(image, prompts.flatten(0, 1)).reshape(image.shape[0], C, M)
    return torch.as_tensor(log_prior, dtype=scores.dtype, device=scores.device) + torch.logsumexp(scores, -1) \
        - math.log(M)


@constrain(M=Integer(1), leaf=Integer(0), max_draws=Integer(1))
def draw_prompts(model: JGHM, M: int, generator: torch.Generator, leaf: int = 0, max_draws: int = 10**7) -> torch.Tensor:
    """``M`` texts of every class ``c`` (texts whose label leaf is ``c``), ``(S, M, leaves)``, drawn from
    fresh samples (never the evaluated images' own captions)."""
    S, drawn = model.n_symbols, 0
    per_class = [[] for _ in range(S)]
    while min(sum(len(t) for t in texts) for texts in per_class) < M:
        if drawn > max_draws:
            raise RuntimeError(f"fewer than {M} prompts of some class after {max_draws} draws")
        texts = model.sample(max(4 * S * M, 1000), generator).text
        drawn += texts.shape[0]
        for c in range(S):
            per_class[c].append(texts[texts[:, leaf] == c])
    return torch.stack([torch.cat(texts)[:M] for texts in per_class])
