"""The registered experiments of Part III: one function per experiment, with its settings per scale and its result."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..checks import check_integer, check_positive
from ..registry import experiment
from ..runtime import ScaleSettings, get_device, progress
from .contexts import hypercube_context, hypercube_spectrum, two_moons
from .figures import plot_knn_quality, plot_mask_rate, plot_width_sweep
from .operator import cca_r2, context_svd, decay_rate, optimal_worst_case_error, probe_error, tau_metric
from .quality import (
    TIE,
    _best_over_d,
    estimated_contexture,
    hypercube_target,
    knn_errors,
    knn_spectrum,
    ridge_probe_error,
    sample_masked_pairs,
)
from .scaling import GRID, gaussian_contrastive_minimum, theorem16_midpoint, train_encoders


@dataclasses.dataclass
class WidthSweepResult:
    """Alignment, loss gap and downstream error of trained encoders over a grid of widths, depths and seeds (at a
    fixed budget). The downstream error is the worst-case probe error over the compatible tasks at level
    ``epsilon`` (:func:`~mmtheory.contexture.gaussian_worst_case_error`), before and after training; Theorem 16
    bounds it below by ``optimal_error``."""

    widths: np.ndarray
    depths: np.ndarray
    seeds: np.ndarray
    rho: float
    d: int
    steps: int
    batch: int
    lr: float
    minimum: float  # gaussian_contrastive_minimum(rho, d)
    cca_r2: np.ndarray  # (depths, widths, seeds)
    loss_gap: np.ndarray  # (depths, widths, seeds): final population loss - minimum
    epsilon: float  # theorem16_midpoint(rho)
    optimal_error: float  # Theorem 16's value at epsilon: optimal_worst_case_error(rho^k, d, epsilon)
    worst_case: np.ndarray  # (depths, widths, seeds): worst-case probe error on F_epsilon after training
    initial_worst_case: np.ndarray  # (depths, widths, seeds): and before
    seconds: np.ndarray  # (depths, widths, seeds): training time of each run
    grid: np.ndarray  # (G,)
    aligned_features: np.ndarray  # (depths, widths, G, d): the first seed's features after the best linear map
    device: str


@dataclasses.dataclass(frozen=True)
class WidthSweepSettings(ScaleSettings):
    """The grid of :func:`contexture_width_sweep` (widths, depths, seeds) and each run's budget."""

    widths: tuple[int, ...]
    depths: tuple[int, ...]
    seeds: int
    steps: int
    batch: int
    lr: float
    test_points: int


SWEEP_SIZES = WidthSweepSettings.SCALES = {  # the short budgets take a larger step; full is the reference replication (Adam, lr 1e-3)
    "quick": WidthSweepSettings(widths=(8, 32), depths=(1,), seeds=1, steps=150, batch=256, lr=3e-3,
                                test_points=5000),
    "book": WidthSweepSettings(widths=(4, 16, 64, 256), depths=(2,), seeds=3, steps=1200, batch=512, lr=3e-3,
                               test_points=20_000),
    "full": WidthSweepSettings(widths=(16, 64, 256, 512, 1024, 2048), depths=(1, 2, 3, 4, 6), seeds=15, steps=3000,
                               batch=1024, lr=1e-3, test_points=20_000),
}
WidthSweepSettings.GPU = WidthSweepSettings(widths=(16, 64, 256, 1024), depths=(1, 2), seeds=15, steps=3000,
                                            batch=1024, lr=1e-3, test_points=20_000)  # the GPU suite's size


@experiment(plot=plot_width_sweep)
def contexture_width_sweep(scale: str | None = None, seed: int = 0, device=None) -> WidthSweepResult:
    """Spectral contrastive encoders on a Gaussian context: alignment with the top-d Hermite functions against width."""
    size = WidthSweepSettings.for_scale(scale)
    rho, d, dev = 0.8, 4, get_device(device)
    seeds = seed + np.arange(size.seeds)
    fits = [[train_encoders(w, depth, seeds, rho, d, size.steps, size.batch, size.lr, dev,
                            test_points=size.test_points) for w in size.widths]  # the seeds: one batched model
            for depth in size.depths]

    def field(name: str) -> np.ndarray:
        return np.array([[[getattr(fit, name) for fit in row] for row in block] for block in fits])

    minimum, epsilon = gaussian_contrastive_minimum(rho, d), theorem16_midpoint(rho)
    return WidthSweepResult(
        widths=np.array(size.widths), depths=np.array(size.depths), seeds=seeds, rho=rho, d=d,
        steps=size.steps, batch=size.batch, lr=size.lr, minimum=minimum, cca_r2=field("cca_r2"),
        loss_gap=field("final_loss") - minimum, epsilon=epsilon,
        optimal_error=optimal_worst_case_error(rho ** np.arange(d + 2.0), d, epsilon), worst_case=field("worst_case"),
        initial_worst_case=field("initial_worst_case"), seconds=field("seconds"),
        grid=GRID.copy(), aligned_features=field("aligned_features")[:, :, 0], device=str(dev),
    )


@dataclasses.dataclass
class MaskRateResult:
    """Downstream error against the mask rate, with the estimated and with the exact top-d encoder.

    Per-seed arrays have the seed as last axis; ``n_pres`` indexes the first axis of the estimated ones.
    Errors are relative to Var f* (= 1); ``population_error`` is the probe error with infinitely many clean
    labels (the approximation error of the encoder's span); ``cca_r2`` compares the estimated span with the exact.
    """

    n: int
    levels: int
    d: int
    n_lab: int
    noise: float
    ridge: float
    ps: np.ndarray  # (P,)
    n_pres: np.ndarray  # (M,)
    main_n_pre: int
    error_estimated: np.ndarray  # (M, P, S)
    population_error: np.ndarray  # (M, P, S)
    cca_r2: np.ndarray  # (M, P, S)
    error_exact: np.ndarray  # (P, S)
    spectrum_exact: np.ndarray  # (P, 2^n), s_i^2
    spectrum_estimated: np.ndarray  # (M, P, 2^n), seed-mean of the sorted \hat s_i^2
    d0: int
    tau: np.ndarray  # (P,)
    tau_argmin: np.ndarray  # (P,)
    decay: np.ndarray  # (P,)


def _check_grid(values, name: str, low: float, high: float, note: str) -> np.ndarray:
    grid = np.asarray(values, dtype=float)
    if grid.ndim != 1 or grid.size < 1 or not np.all((grid > low) & (grid < high)) or np.any(np.diff(grid) <= 0):
        raise ValueError(f"{name} must be an increasing 1-D grid inside ({low:g}, {high:g}) ({note}), got {values!r}")
    return grid


def run_mask_rate(n: int = 6, ps=(0.05, 0.3, 0.6, 0.95), n_pres=(10_000,), levels: int = 2, n_lab: int = 48,
                  noise: float = 0.3, ridge: float = 1e-2, seeds: int = 2, seed: int = 0) -> MaskRateResult:
    """Error against the mask rate ``ps`` for each pretraining size in ``n_pres``, over ``seeds`` seeds.

    Each seed draws one labelled set (``n_lab`` distinct inputs, label noise ``noise``), shared by every
    ``p`` and by both encoders, and fresh pretraining pairs for each ``(n_pre, p)``.
    """
    levels = check_integer(levels, "levels", 1, 2, note="d is the number of parities of degree <= levels")
    f = hypercube_target(n, levels)
    N, d = 2**n, sum(math.comb(n, k) for k in range(1, levels + 1))
    ps = _check_grid(ps, "ps", 0.0, 1.0, "at p = 0 every s_i = 1 and the top-d is not unique")
    n_pres = np.array([check_integer(m, "n_pres entries", 1, note="pretraining pairs") for m in n_pres])
    n_lab = check_integer(n_lab, "n_lab", 2, N, note="distinct labelled inputs out of 2^n")
    noise, seeds = check_positive(noise, "noise", allow_zero=True), check_integer(seeds, "seeds", 1)
    M, P = n_pres.size, ps.size
    est, pop, cca = (np.empty((M, P, seeds)) for _ in range(3))
    exact_err, spec_est = np.empty((P, seeds)), np.zeros((M, P, N))
    exact_mu = [context_svd(hypercube_context(n, float(p))).mu[:, 1 : d + 1] for p in ps]
    px = np.full(N, 1.0 / N)
    for s in progress(range(seeds), desc="mask-rate seeds"):
        rng = np.random.default_rng([seed, s])
        labelled = rng.choice(N, n_lab, replace=False)
        y = f[labelled] + noise * rng.standard_normal(n_lab)
        for i, p in enumerate(ps):
            exact_err[i, s] = ridge_probe_error(exact_mu[i], f, labelled, y, ridge)
            for m, n_pre in enumerate(n_pres):
                x, a = sample_masked_pairs(n, float(p), int(n_pre), np.random.default_rng([seed, s, m, i]))
                s2, mu = estimated_contexture(n, x, a, d)
                est[m, i, s] = ridge_probe_error(mu, f, labelled, y, ridge)
                pop[m, i, s], cca[m, i, s] = probe_error(mu, f, px), cca_r2(mu, exact_mu[i])
                spec_est[m, i] += s2 / seeds
    d0 = N - 2
    spectra = [hypercube_spectrum(n, float(p)) for p in ps]
    taus = [tau_metric(s, d0) for s in spectra]
    return MaskRateResult(
        n=n, levels=levels, d=d, n_lab=n_lab, noise=noise, ridge=float(ridge), ps=ps, n_pres=n_pres,
        main_n_pre=int(n_pres[(M - 1) // 2]), error_estimated=est, population_error=pop, cca_r2=cca,
        error_exact=exact_err, spectrum_exact=np.array(spectra) ** 2, spectrum_estimated=spec_est, d0=d0,
        tau=np.array([t for t, _ in taus]), tau_argmin=np.array([int(np.argmin(c)) + 1 for _, c in taus]),
        decay=np.array([decay_rate(s, d0) for s in spectra]),
    )


@dataclasses.dataclass(frozen=True)
class MaskRateSettings(ScaleSettings):
    """The arguments of :func:`run_mask_rate` that :func:`mask_rate_sweep` sets per scale (the rest keep defaults)."""

    n: int
    ps: tuple[float, ...]
    n_pres: tuple[int, ...]
    n_lab: int
    seeds: int


MaskRateSettings.SCALES = {
    "quick": MaskRateSettings(n=6, ps=(0.05, 0.3, 0.6, 0.95), n_pres=(10_000,), n_lab=48, seeds=2),
    "book": MaskRateSettings(n=7, ps=(0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95),
                             n_pres=(5_000, 20_000, 100_000), n_lab=64, seeds=8),
    "full": MaskRateSettings(n=8, ps=(0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65,
                                      0.7, 0.75, 0.8, 0.85, 0.9, 0.95),
                             n_pres=(10_000, 30_000, 100_000, 1_000_000), n_lab=96, seeds=24),
}


@experiment(plot=plot_mask_rate)
def mask_rate_sweep(scale: str | None = None, seed: int = 0, device=None) -> MaskRateResult:
    """Hypercube masking: downstream error against the mask rate, with estimated and with exact encoders."""
    return run_mask_rate(**dataclasses.asdict(MaskRateSettings.for_scale(scale)), seed=seed)


@dataclasses.dataclass
class KnnQualityResult:
    """Two moons, KNN contexts: probe error of the exact top-d encoders against K, with tau and the decay rate.

    ``errors`` holds the test MSE (labels ±1) per K, per d = 1..d_max and per label draw (NaN where the top-d
    is not unique); ``best_d`` and ``best_error`` are the argmin and min over d of the draw-averaged error
    (err_{d*}; 0 and NaN where no d is admissible, as for a graph in more than d_max + 1 pieces).
    """

    n_points: int
    noise: float
    n_lab: int
    ridge: float
    Ks: np.ndarray  # (k,)
    d_max: int
    d0: int
    errors: np.ndarray  # (k, d_max, draws)
    class_errors: np.ndarray  # (k, d_max, draws), the sign of the prediction against the moon
    best_d: np.ndarray  # (k,)
    best_error: np.ndarray  # (k,)
    best_error_se: np.ndarray  # (k,)
    pieces: np.ndarray  # (k,), the multiplicity of s = 1: the connected pieces of the KNN graph
    s: np.ndarray  # (k, d0 + 2), s_0..s_{d0+1}
    tau: np.ndarray  # (k,), inf where every tau_d is
    tau_argmin: np.ndarray  # (k,)
    decay: np.ndarray  # (k,)


def run_knn_quality(n_points: int = 200, Ks=(3, 10, 50, 150), d_max: int = 16, n_lab: int = 20, draws: int = 3,
                    d0: int = 32, ridge: float = 1e-3, noise: float = 0.1, seed: int = 0) -> KnnQualityResult:
    """The KNN sweep on ``two_moons(n_points, noise, seed)`` with the moon id (±1) as the target."""
    points, moon = two_moons(n_points, check_positive(noise, "noise", allow_zero=True), seed)
    target = 2.0 * moon - 1.0
    Ks = np.array([check_integer(K, "Ks entries", 1, n_points - 1, note="neighbours among the other points")
                   for K in Ks])
    n_lab = check_integer(n_lab, "n_lab", 2, n_points - 1, note="labelled points; the rest are the test set")
    d_max = check_integer(d_max, "d_max", 1, n_points - 2, note="non-constant functions of the points, less one")
    d0 = check_integer(d0, "d0", 1, n_points - 2, note="tau needs s_0..s_{d0+1}")
    draws, ridge = check_integer(draws, "draws", 1), check_positive(ridge, "ridge", allow_zero=True)
    mse, sign, spectra = [], [], []
    for K in progress(Ks, desc="KNN contexts"):
        s, mu = knn_spectrum(points, int(K))
        errors = knn_errors(s, mu, target, n_lab, d_max, draws, ridge, seed)
        mse.append(errors[0])
        sign.append(errors[1])
        spectra.append(s[: d0 + 2])
    best_d, best_error, best_se = _best_over_d(np.array(mse))
    taus = [tau_metric(s, d0) for s in spectra]
    return KnnQualityResult(
        n_points=n_points, noise=float(noise), n_lab=n_lab, ridge=ridge, Ks=Ks, d_max=d_max, d0=d0,
        errors=np.array(mse), class_errors=np.array(sign), best_d=best_d, best_error=best_error, best_error_se=best_se,
        pieces=np.array([int(np.sum(s >= 1 - TIE)) for s in spectra]), s=np.array(spectra),
        tau=np.array([t for t, _ in taus]), tau_argmin=np.array([int(np.argmin(c)) + 1 for _, c in taus]),
        decay=np.array([decay_rate(s, d0) for s in spectra]),
    )


@dataclasses.dataclass(frozen=True)
class KnnQualitySettings(ScaleSettings):
    """The arguments of :func:`run_knn_quality` that :func:`knn_quality` sets per scale (the rest keep defaults)."""

    n_points: int
    Ks: tuple[int, ...]
    d_max: int
    n_lab: int
    draws: int
    d0: int


KnnQualitySettings.SCALES = {
    "quick": KnnQualitySettings(n_points=200, Ks=(3, 10, 50, 150), d_max=16, n_lab=20, draws=3, d0=32),
    "book": KnnQualitySettings(n_points=800, Ks=(2, 3, 5, 10, 20, 50, 100, 200, 400), d_max=64, n_lab=40, draws=20,
                               d0=128),
    "full": KnnQualitySettings(n_points=2000, Ks=(2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 300, 500, 1000),
                               d_max=128, n_lab=100, draws=100, d0=512),
}


@experiment(plot=plot_knn_quality)
def knn_quality(scale: str | None = None, seed: int = 0, device=None) -> KnnQualityResult:
    """Two moons, KNN contexts: U-shaped downstream error in K, and the tau metric against it."""
    return run_knn_quality(**dataclasses.asdict(KnnQualitySettings.for_scale(scale)), seed=seed)


# --- chapter settings: the scale-dependent numbers a chapter's own cells use ------------------------------


@dataclasses.dataclass(frozen=True)
class ContextureLearningChapter(ScaleSettings):
    """Read by ``book/contexture/learning.md``: ``steps`` of each ``fit_table``, ``net_steps`` of the encoder."""

    steps: int
    net_steps: int


ContextureLearningChapter.SCALES = {
    "quick": ContextureLearningChapter(steps=200, net_steps=60),
    "book": ContextureLearningChapter(steps=2000, net_steps=800),
    "full": ContextureLearningChapter(steps=4000, net_steps=3000),
}
