"""The Bayes baselines of Oko et al. (2025), by exact BP: the four tasks' risks against the flip
probability, BP with the wrong matrices out of distribution, and zero-shot risk against the number
of prompts. Registered as the experiments ``jghm_bayes_curves`` and ``jghm_prompts``."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from . import belief_propagation as bp
from .downstream import fit_inverse_m
from .jghm import JGHM
from .jghm_risks import TASKS, Risk, bayes_risk, draw_prompts, zero_shot_logits
from .registry import experiment
from .runtime import get_device, progress, resolve_scale

TASK_LABELS = {"clip": "CLIP (K = 4)", "zsc": "zero-shot", "cdm": "denoising (sum over leaves)",
               "vlm": "next token (per token)"}


@dataclasses.dataclass
class BayesCurves:
    """Risks of BP on data at each ``p``: with the true matrices (``bayes``) and with those of
    ``train_p`` (``misspecified``); ``[task][i]`` is ``(mean, se)`` at ``ps[i]``."""

    ps: np.ndarray
    train_p: float
    samples: dict
    bayes: dict
    misspecified: dict


BAYES_SCALES = {
    "quick": dict(ps=(0.02, 0.2, 0.4), n=200, n_vlm=20),
    "book": dict(ps=(0.02, 0.1, 0.2, 0.3, 0.4), n=1500, n_vlm=100),
    "full": dict(ps=tuple(np.round(np.arange(1, 21) * 0.02, 2)), n=10_000, n_vlm=2000),
}


def bayes_curves(ps, n: int = 2000, n_vlm: int = 200, train_p: float = 0.2, seed: int = 0,
                 device=None) -> BayesCurves:
    """Bayes and misspecified-BP risks of the four tasks on the paper's trees at every ``p``."""
    trained = JGHM.paper(p=train_p)
    samples = {task: (n_vlm if task == "vlm" else n) for task in TASKS}
    bayes = {task: [] for task in TASKS}
    wrong = {task: [] for task in TASKS}
    for i, p in enumerate(progress(ps, desc="Bayes risks")):
        truth = JGHM.paper(p=float(p))
        for task in TASKS:
            for out, bp_model in ((bayes, None), (wrong, trained)):
                risk = bayes_risk(truth, task, n=samples[task], seed=seed + i, bp_model=bp_model, device=device)
                out[task].append((risk.mean, risk.se))
    as_arrays = lambda d: {task: np.array(values) for task, values in d.items()}  # noqa: E731
    return BayesCurves(ps=np.asarray(ps, dtype=float), train_p=train_p, samples=samples,
                       bayes=as_arrays(bayes), misspecified=as_arrays(wrong))


def plot_bayes_curves(result: BayesCurves):
    from .viz import new_figure

    fig, axes = new_figure(ncols=4, width=12.0, height=3.0)
    for ax, task in zip(axes, TASKS):
        for values, label, style in ((result.bayes[task], "Bayes (true matrices)", "-o"),
                                     (result.misspecified[task], f"BP with p = {result.train_p} matrices", "--s")):
            ax.errorbar(result.ps, values[:, 0], yerr=2 * values[:, 1], fmt=style, ms=3, capsize=2, label=label)
        ax.axvline(result.train_p, color="0.6", lw=0.8)
        ax.set(title=TASK_LABELS[task], xlabel="flip probability p")
    axes[0].set_ylabel("risk")
    axes[0].legend(fontsize=7)
    return fig


@experiment("jghm_bayes_curves", plot=plot_bayes_curves)
def run_bayes_curves(scale: str | None = None, seed: int = 0, device=None) -> BayesCurves:
    """Bayes risk against p for CLIP, zero-shot, denoising and next-token, and BP with p = 0.2 matrices."""
    return bayes_curves(**BAYES_SCALES[resolve_scale(scale)], seed=seed, device=device)


@dataclasses.dataclass
class PromptCurve:
    """Zero-shot cross-entropy with the exact PMI score and ``M`` prompts per class, the Bayes risk
    (the exact label posterior) on the same images, and the fit ``a + b / M``."""

    p: float
    Ms: np.ndarray
    risk: np.ndarray  # (len(Ms), 2): mean, se
    bayes: tuple
    fit: tuple


PROMPT_SCALES = {
    "quick": dict(Ms=(5, 25, 100), n=300),
    "book": dict(Ms=(5, 10, 25, 50, 100, 250), n=3000),
    "full": dict(Ms=(5, 10, 25, 50, 100, 250, 500, 1000), n=7500),
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


def plot_prompt_curve(result: PromptCurve):
    from .viz import new_figure

    fig, ax = new_figure(width=5.0, height=3.2)
    ax.errorbar(result.Ms, result.risk[:, 0], yerr=2 * result.risk[:, 1], fmt="o", ms=4, capsize=2,
                label="exact score, M prompts")
    grid = np.geomspace(result.Ms[0], result.Ms[-1], 100)
    a, b = result.fit
    ax.plot(grid, a + b / grid, "-", lw=1, label=f"fit {a:.3f} + {b:.2f}/M")
    ax.axhline(result.bayes[0], color="k", ls="--", lw=1, label="Bayes")
    ax.set(xscale="log", xlabel="prompts per class M", ylabel="zero-shot cross-entropy", title=f"p = {result.p}")
    ax.legend(fontsize=8)
    return fig


@experiment("jghm_prompts", plot=plot_prompt_curve)
def run_prompt_curve(scale: str | None = None, seed: int = 0, device=None) -> PromptCurve:
    """Zero-shot risk against the number of prompts M with the exact CLIP score, and its a + b/M fit."""
    return prompt_curve(**PROMPT_SCALES[resolve_scale(scale)], seed=seed, device=device)


def draw_denoising_state(fig, sigma: float, p: float = 0.2, seed: int = 0) -> None:
    """One image tree seen through Gaussian noise of level ``sigma``: the clean leaves, the noisy values,
    and the BP posterior means from the noise alone and with the paired text (the CDM target)."""
    model = JGHM.paper(p=p)
    gen = torch.Generator().manual_seed(seed)
    s = model.sample(1, gen)
    x = s.image.double()
    z = x + sigma * torch.randn(x.shape, generator=gen, dtype=torch.float64)
    alone = bp.denoising_mean(model, z, None, sigma)[0]
    with_text = bp.denoising_mean(model, z, s.text, sigma)[0]
    ax = fig.add_subplot(1, 1, 1)
    leaves = np.arange(x.shape[1])
    ax.plot(leaves, z[0], "x", color="0.6", ms=4, label="noisy z")
    ax.plot(leaves, x[0], "o", color="k", ms=4, mfc="none", label="clean leaves")
    for mean, label in ((alone, "E[x | z]"), (with_text, "E[x | z, text]")):
        error = float(((mean - x[0]) ** 2).sum())
        ax.step(leaves, mean, where="mid", lw=1.2, label=f"{label}: squared error {error:.1f}")
    ax.set(xlabel="image leaf (breadth-first)", ylabel="value", ylim=(-4, 13),
           title=f"σ = {sigma}, p = {p}: squared error of z itself {float(((z - x) ** 2).sum()):.1f}")
    ax.legend(fontsize=7, ncol=2, loc="upper right")
