"""The registered experiments of Part IV: one function per experiment, with its settings per scale and its result."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import torch

from ..registry import experiment
from ..runtime import ScaleSettings, get_device
from .closed_forms import (
    LatentFactorModel,
    alpha_star,
    bayes_risk,
    ca_excess,
    lsa_optimum,
    optimal_alpha,
    optimal_alpha_beta,
    rho_star,
)
from .figures import plot_depth_sweep, plot_finite_context, plot_softmax_baseline
from .modules import CrossAttentionStack, SoftmaxTransformer, train_in_context
from .prompts import ols_excess, sample_prompts


@dataclasses.dataclass
class DepthSweepResult:
    """Minimisers of the population loss of the T-layer stack, tied and two-parameter, against depth."""

    model: LatentFactorModel
    depths: np.ndarray
    alpha_T: np.ndarray
    excess_T: np.ndarray
    two_param_depths: np.ndarray
    beta_over_alpha: np.ndarray  # -beta_T / alpha_T
    alpha_star: float
    rho_star: float
    lsa_excess: float
    bayes_risk: float


@dataclasses.dataclass(frozen=True)
class DepthSweepSettings(ScaleSettings):
    """The depths T of :func:`icl_depth_sweep` (the two-parameter fit uses those in 2..32)."""

    depths: tuple[int, ...]


DepthSweepSettings.SCALES = {
    "quick": DepthSweepSettings(depths=(1, 2, 4, 8, 16, 32)),
    "book": DepthSweepSettings(depths=(1, 2, 4, 8, 16, 32, 64, 128, 256)),
    "full": DepthSweepSettings(depths=tuple(2**i for i in range(11))),
}


@experiment(plot=plot_depth_sweep)
def icl_depth_sweep(scale: str | None = None, seed: int = 0, device=None) -> DepthSweepResult:
    """Population optimum of the cross-attention stack against depth (closed form at L = infinity)."""
    model = LatentFactorModel()
    depths = np.array(DepthSweepSettings.for_scale(scale).depths)
    two = depths[(depths >= 2) & (depths <= 32)]  # at T = 1 the prediction does not depend on beta
    alphas = np.array([optimal_alpha(int(T), model) for T in depths])
    pairs = [optimal_alpha_beta(int(T), model) for T in two]
    return DepthSweepResult(
        model=model,
        depths=depths,
        alpha_T=alphas,
        excess_T=np.array([ca_excess(a, int(T), model) for a, T in zip(alphas, depths)]),
        two_param_depths=two,
        beta_over_alpha=np.array([-b / a for a, b in pairs]),
        alpha_star=alpha_star(model.m_low, model.m_high),
        rho_star=rho_star(model.m_low, model.m_high),
        lsa_excess=lsa_optimum(model)[1],
        bayes_risk=bayes_risk(model),
    )


@dataclasses.dataclass
class FiniteContextResult:
    """The stack at finite context length: excess at the minimax step over a (L, T) grid, and trained steps."""

    model: LatentFactorModel
    Ls: np.ndarray
    depths: np.ndarray
    excess_at_alpha_star: np.ndarray  # (n_L, n_T), Monte Carlo
    excess_se: np.ndarray  # (n_L, n_T)
    ols_reference: np.ndarray  # (n_L,)
    population_excess: np.ndarray  # (n_T,) at alpha*, L = infinity
    train_L: int
    trained_depths: np.ndarray
    trained_alpha: np.ndarray
    trained_excess: np.ndarray


@dataclasses.dataclass(frozen=True)
class FiniteContextSettings(ScaleSettings):
    """For :func:`icl_finite_context`: the context lengths ``Ls``, the prompts ``n`` per length (a third of them
    past L = 1000), and the training ``steps`` of the stacks of depths ``train``."""

    Ls: tuple[int, ...]
    n: int
    steps: int
    train: tuple[int, ...]


FiniteContextSettings.SCALES = {
    "quick": FiniteContextSettings(Ls=(50, 200), n=200, steps=40, train=(1, 4)),
    "book": FiniteContextSettings(Ls=(50, 200, 1000, 4000), n=400, steps=400, train=(1, 4, 8, 16)),
    "full": FiniteContextSettings(Ls=(50, 200, 1000, 4000, 10000), n=2000, steps=3000, train=(1, 2, 4, 8, 16, 32)),
}
FiniteContextSettings.GPU = FiniteContextSettings(Ls=(50, 200, 1000, 4000, 10000), n=2000, steps=1500,
                                                  train=(1, 2, 4, 8, 16, 32))  # the GPU suite's size


@experiment(plot=plot_finite_context)
def icl_finite_context(scale: str | None = None, seed: int = 0, device=None) -> FiniteContextResult:
    """The cross-attention stack at finite context: excess against depth and L, and the drift of the trained step."""
    model = LatentFactorModel()
    sizes = FiniteContextSettings.for_scale(scale)
    depths = np.array([1, 2, 4, 8, 16, 32])
    a_star = alpha_star(model.m_low, model.m_high)
    excess, se = np.empty((len(sizes.Ls), len(depths))), np.empty((len(sizes.Ls), len(depths)))
    for i, L in enumerate(sizes.Ls):
        n = sizes.n if L <= 1000 else max(sizes.n // 3, 50)
        p = sample_prompts(model, n, L, seed=seed + i, device=device)
        target = (p.w * p.xq).sum(-1)
        with torch.no_grad():
            for j, T in enumerate(depths):
                gaps = (CrossAttentionStack(model.d, int(T), alpha0=a_star).to(p.X.device)(p) - target) ** 2
                excess[i, j], se[i, j] = float(gaps.mean()), float(gaps.std() / math.sqrt(n))
    trained = [train_in_context(CrossAttentionStack(model.d, int(T), "tied", alpha0=0.05), model, L=200,
                                steps=sizes.steps, batch=128, lr=2e-2, eval_prompts=1000, seed=seed, device=device)
               for T in sizes.train]
    return FiniteContextResult(
        model=model, Ls=np.array(sizes.Ls), depths=depths, excess_at_alpha_star=excess, excess_se=se,
        ols_reference=np.array([ols_excess(model, L) for L in sizes.Ls]),
        population_excess=np.array([ca_excess(a_star, int(T), model) for T in depths]),
        train_L=200, trained_depths=np.array(sizes.train),
        trained_alpha=np.array([float(r.parameters["alpha"]) for r in trained]),
        trained_excess=np.array([r.excess[-1] for r in trained]),
    )


@dataclasses.dataclass
class BaselineResult:
    """A standard softmax transformer and the two-parameter cross-attention stack trained on the same prompts."""

    model: LatentFactorModel
    Ls: np.ndarray
    steps: int
    batch: int
    width: int
    depth: int
    stack_depth: int
    curve_steps: np.ndarray
    softmax_curve: np.ndarray  # (n_L, records): excess over the oracle along training
    stack_curve: np.ndarray  # (n_L, records)
    ols_reference: np.ndarray  # (n_L,)
    softmax_seconds: np.ndarray  # (n_L,)
    stack_seconds: np.ndarray  # (n_L,)
    device: str
    softmax_se: np.ndarray | None = None  # (n_L,): standard errors of the last point of the curves
    stack_se: np.ndarray | None = None  # (n_L,)


@dataclasses.dataclass(frozen=True)
class SoftmaxBaselineSettings(ScaleSettings):
    """For :func:`icl_softmax_baseline`: context lengths, training budget, and the softmax transformer's size."""

    Ls: tuple[int, ...]
    steps: int
    width: int
    depth: int
    batch: int
    eval_prompts: int


SOFTMAX_SIZES = SoftmaxBaselineSettings.SCALES = {  # the instances behind SoftmaxBaselineSettings.for_scale
    "quick": SoftmaxBaselineSettings(Ls=(30,), steps=30, width=16, depth=1, batch=32, eval_prompts=200),
    "book": SoftmaxBaselineSettings(Ls=(50,), steps=300, width=32, depth=2, batch=64, eval_prompts=1000),
    "full": SoftmaxBaselineSettings(Ls=(50, 200, 1000), steps=20_000, width=128, depth=6, batch=256,
                                    eval_prompts=4000),
}
SoftmaxBaselineSettings.GPU = SoftmaxBaselineSettings(Ls=(50, 200), steps=2000, width=128, depth=4, batch=256,
                                                      eval_prompts=4000)  # the GPU suite's size


@experiment(plot=plot_softmax_baseline)
def icl_softmax_baseline(scale: str | None = None, seed: int = 0, device=None) -> BaselineResult:
    """A standard softmax transformer against the cross-attention stack, trained on the same fresh prompts."""
    size = SoftmaxBaselineSettings.for_scale(scale)
    model, dev = LatentFactorModel(), get_device(device)
    common = dict(steps=size.steps, batch=size.batch, eval_prompts=size.eval_prompts,
                  record_every=max(size.steps // 20, 1), seed=seed, device=dev)
    runs = {"softmax": [], "stack": []}
    builders = (("softmax", lambda: SoftmaxTransformer(model.d, size.width, size.depth), 1e-3),
                ("stack", lambda: CrossAttentionStack(model.d, 8, mode="two"), 2e-2))
    for L in size.Ls:
        for name, build, lr in builders:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)  # the same initialisation wherever the experiment is called from
                module = build()
            start = time.perf_counter()
            result = train_in_context(module, model, L=L, lr=lr, **common)
            runs[name].append((result, time.perf_counter() - start))
    return BaselineResult(
        model=model, Ls=np.array(size.Ls), steps=size.steps, batch=size.batch, width=size.width,
        depth=size.depth, stack_depth=8, curve_steps=runs["softmax"][0][0].steps,
        softmax_curve=np.array([r.excess for r, _ in runs["softmax"]]),
        stack_curve=np.array([r.excess for r, _ in runs["stack"]]),
        ols_reference=np.array([ols_excess(model, L) for L in size.Ls]),
        softmax_seconds=np.array([t for _, t in runs["softmax"]]), stack_seconds=np.array([t for _, t in runs["stack"]]),
        device=str(dev),
        softmax_se=np.array([r.excess_se for r, _ in runs["softmax"]]),
        stack_se=np.array([r.excess_se for r, _ in runs["stack"]]),
    )


# --- chapter settings: the scale-dependent numbers a chapter's own cells use ------------------------------


@dataclasses.dataclass(frozen=True)
class OneLayerChapter(ScaleSettings):
    """Read by ``book/icl/one_layer.md``: ``steps``, the training steps of one layer (halved at L = 1000)."""

    steps: int


OneLayerChapter.SCALES = {
    "quick": OneLayerChapter(steps=100),
    "book": OneLayerChapter(steps=600),
    "full": OneLayerChapter(steps=3000),
}


@dataclasses.dataclass(frozen=True)
class DeepCrossAttentionChapter(ScaleSettings):
    """Read by ``book/icl/deep_cross_attention.md``: ``steps``, the training steps of the two-parameter stack."""

    steps: int


DeepCrossAttentionChapter.SCALES = {
    "quick": DeepCrossAttentionChapter(steps=30),
    "book": DeepCrossAttentionChapter(steps=300),
    "full": DeepCrossAttentionChapter(steps=2000),
}


@dataclasses.dataclass(frozen=True)
class ModalitiesChapter(ScaleSettings):
    """Read by ``book/icl/modalities.md``: training ``steps`` of the modality stacks, at ``L`` and ``batch``."""

    steps: int
    L: int
    batch: int


ModalitiesChapter.SCALES = {
    "quick": ModalitiesChapter(steps=20, L=100, batch=32),
    "book": ModalitiesChapter(steps=300, L=200, batch=64),
    "full": ModalitiesChapter(steps=2000, L=400, batch=256),
}
