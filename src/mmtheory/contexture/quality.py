r"""Context quality: when is a moderate association best? Two finite experiments (Zhai et al., 2025, §5).

**Masking on the hypercube** (:func:`mask_rate_sweep`). :math:`X` is uniform on :math:`\{\pm1\}^n` and
:math:`A` hides each coordinate independently with probability :math:`p`. The singular functions are the
parities :math:`\chi_S` with :math:`s_S^2 = (1-p)^{|S|}`, so for every :math:`p \in (0, 1)` the top
:math:`d = \sum_{k \le L}\binom nk` functions span the parities of degree :math:`\le L`: at such a
*multiplicity boundary* the exact contexture does not depend on :math:`p` at all, and neither does the error
of a probe trained on it. The mask rate matters only through **estimation**. Pretraining sees
:math:`n_{\rm pre}` pairs :math:`(x_j, a_j) \sim P^+`; the plug-in context is the empirical joint table

.. math:: \hat P(x, a) = \frac1{n_{\rm pre}}\#\{j : (x_j, a_j) = (x, a)\}, \qquad
          \hat Q = \hat D_X^{-1/2} \hat P \hat D_A^{-1/2},

on the observed rows and columns, and the estimated encoder is :math:`\hat\mu_i = \hat D_X^{-1/2}\hat U_{:,i}`,
:math:`i = 1..d`, from the SVD of :math:`\hat Q` after deflating :math:`\hat\mu_0 \equiv 1`. Their span is
what minimising the spectral contrastive loss over *all* (tabular) encoders on the pretraining sample gives:
the unrestricted empirical-risk minimiser. For an observed input the Nyström form
:math:`\hat\mu_i = \hat T\hat\nu_i / \hat s_i` coincides with it; an input never seen in pretraining has no
estimate and gets the feature vector 0 (the mean of each centred feature), so the probe predicts its
intercept there. The grids keep :math:`n_{\rm pre} \ge 30 \cdot 2^n`, where that happens with probability
below :math:`2^n e^{-30}`.

Two failure modes follow. For small :math:`p` almost every observed :math:`a` is an unmasked copy of its
:math:`x`: :math:`\hat P` is nearly a permutation, every :math:`\hat s_i \approx 1`, and the near-ties
:math:`s_S^2 = (1-p)^{|S|}` let the estimated top-:math:`d` mix in parities of any degree. For :math:`p`
near 1 the signal :math:`s_S^2` of the low levels sinks below the sampling noise of :math:`\hat P`. The
probe is ridge regression (with an unpenalised intercept) on :math:`n_{\rm lab}` noisy labels of a
fixed low-degree target :math:`f^*`; its error is measured exactly over all :math:`2^n` inputs, relative
to :math:`\mathrm{Var} f^*`. What comes out (book scale, :math:`n = 7`, :math:`d = 28`): the estimated
encoder's error is U-shaped in :math:`p` with its minimum near :math:`p \approx 0.2`-:math:`0.4`; the dip
flattens as :math:`n_{\rm pre}` grows, towards the flat error of the exact encoder. :math:`\tau`, computed
from the exact spectrum, falls monotonically in :math:`p`: it flags the strong-association end but ranks the
weakest context best.

**KNN contexts on two moons** (:func:`knn_quality`). The exact top-:math:`d` singular functions of the
:math:`K`-nearest-neighbour context, a ridge probe on a few labelled points, and the best error over
:math:`d`, :math:`\mathrm{err}_{d^*}`, against :math:`K`. Next to it the task-agnostic metric

.. math:: \tau = \min_{1\le d\le d_0}\ \frac1{1 - s_{d+1}^2} + \beta\,\frac{\sum_{i\le d}s_i^2}{\sum_{i\le d_0}s_i^2}

(:func:`~mmtheory.contexture.tau_metric`) and the spectral decay rate. The downstream error is U-shaped in
:math:`K`, while :math:`\tau` falls with :math:`K` and sits near the abstain value :math:`\beta + 1 = 2`:
on this toy it fails.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .checks import check_integer, check_positive, check_probability
from .contexture import (
    cca_r2, context_svd, decay_rate, empirical_context, hypercube_context, hypercube_points, hypercube_spectrum,
    knn_context, probe_error, tau_metric, two_moons,
)
from .numerics import mean_se
from .registry import experiment
from .runtime import progress, resolve_scale

# --------------------------------------------------------------------------- shared pieces


def _ridge_moments(Phi, labelled, y, ridge) -> tuple[np.ndarray, ...]:
    """Checked inputs and the centred normal equations of the ridge probe on the labelled rows."""
    Phi = np.asarray(Phi, dtype=float)
    Phi = Phi.reshape(Phi.shape[0], -1)
    ridge = check_positive(ridge, "ridge", allow_zero=True)
    labelled, y = np.asarray(labelled), np.asarray(y, dtype=float)
    if labelled.ndim != 1 or labelled.size < 2 or y.ndim not in (1, 2) or y.shape[0] != labelled.size:
        raise ValueError("labelled must be 1-D of length >= 2 and y have as many rows (one column per target), "
                         f"got {labelled.shape} and {y.shape}")
    Z = Phi[labelled]
    z_mean, y_mean = Z.mean(axis=0), y.mean(axis=0)
    Zc = Z - z_mean
    return Phi - z_mean, y_mean, Zc.T @ Zc / y.size, Zc.T @ (y - y_mean) / y.size, ridge


def _ridge_solve(gram: np.ndarray, rhs: np.ndarray, ridge: float) -> np.ndarray:
    if ridge > 0:
        return np.linalg.solve(gram + ridge * np.eye(gram.shape[0]), rhs)
    return np.linalg.lstsq(gram, rhs, rcond=None)[0]


def ridge_predict(Phi, labelled, y, ridge: float = 1e-2) -> np.ndarray:
    r"""Predictions on every row of a ridge probe fitted on the rows ``labelled`` with labels ``y``.

    The probe minimises :math:`\frac1m\sum_j (w^\top\Phi(x_j) + b - y_j)^2 + \lambda\|w\|^2` (the intercept
    :math:`b` is not penalised; ``ridge = 0`` gives the minimum-norm least-squares fit); ``Phi`` holds one
    feature per column, ``y`` one target per column if it is 2-D (each fitted on its own).
    """
    centred, y_mean, gram, rhs, ridge = _ridge_moments(Phi, labelled, y, ridge)
    return centred @ _ridge_solve(gram, rhs, ridge) + y_mean


def nested_ridge_predict(Phi, labelled, y, ridge: float = 1e-2) -> np.ndarray:
    """:func:`ridge_predict` on the first ``d`` columns of ``Phi``, for every ``d``: an ``N x D`` array."""
    centred, y_mean, gram, rhs, ridge = _ridge_moments(Phi, labelled, y, ridge)
    D = rhs.size
    W = np.zeros((D, D))
    for d in range(1, D + 1):
        W[:d, d - 1] = _ridge_solve(gram[:d, :d], rhs[:d], ridge)
    return centred @ W + y_mean


def ridge_probe_error(Phi, f, labelled, y, ridge: float = 1e-2) -> float:
    """Mean squared error over all rows of :func:`ridge_predict` against the clean target ``f``."""
    return float(np.mean((ridge_predict(Phi, labelled, y, ridge) - np.asarray(f, dtype=float)) ** 2))


# --------------------------------------------------------------------------- masking: sampling and estimation


def sample_masked_pairs(n: int, p: float, n_pre: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    r"""Draw ``n_pre`` pairs from the masking context :func:`~mmtheory.contexture.hypercube_context` ``(n, p)``.

    Returns the row index of each :math:`x` (in :func:`~mmtheory.contexture.hypercube_points` order) and the
    column index of each :math:`a` (base-3 digits ``0, 1, 2`` for ``-1``, mask, ``+1``, first coordinate most
    significant), so that ``hypercube_context(n, p)[x, a]`` is the probability of each pair.
    """
    n = check_integer(n, "n", 1, 12)
    p = check_probability(p, "p (the mask rate)", closed_high=False)
    n_pre = check_integer(n_pre, "n_pre", 1, note="the number of pretraining pairs")
    x = rng.integers(0, 2**n, n_pre)
    bits = (x[:, None] >> np.arange(n - 1, -1, -1)) & 1  # bit 0 is the coordinate +1
    digits = np.where(rng.random((n_pre, n)) < p, 1, np.where(bits == 0, 2, 0))
    return x, digits @ (3 ** np.arange(n - 1, -1, -1))


def estimated_contexture(n: int, x, a, d: int) -> tuple[np.ndarray, np.ndarray]:
    r"""The top-``d`` singular functions of the empirical context of the pairs ``(x, a)`` (see the module notes).

    Returns ``(s2, mu)``: the estimated :math:`\hat s_i^2`, ``i = 0..2^n - 1`` (``s2[0] = 1``, zeros past the
    number of observed inputs), and the ``2^n x d`` encoder :math:`\hat\mu_1..\hat\mu_d` (orthonormal under the
    empirical law of :math:`X`; rows of unseen inputs are 0).
    """
    n = check_integer(n, "n", 1, 12)
    N = 2**n
    d = check_integer(d, "d", 1, N - 1, note="the number of non-constant functions of x")
    C = empirical_context(x, a, N)[0]
    seen = C.sum(axis=1) > 0
    C = C[seen]
    root = np.sqrt(C.sum(axis=1))
    K = (C / C.sum(axis=0)) @ C.T / np.outer(root, root)  # \hat Q \hat Q^T
    v0 = root / np.linalg.norm(root)  # the constant function, with eigenvalue 1
    values, vectors = np.linalg.eigh(K - np.outer(v0, v0))
    values, vectors = np.clip(values[::-1], 0.0, 1.0), vectors[:, ::-1]
    s2 = np.zeros(N)
    s2[0], s2[1 : seen.sum()] = 1.0, values[: seen.sum() - 1]
    mu = np.zeros((N, d))
    k = min(d, vectors.shape[1])
    mu[seen, :k] = vectors[:, :k] / v0[:, None]  # v0 = sqrt of the empirical law of the seen inputs
    return s2, mu


def hypercube_target(n: int, levels: int) -> np.ndarray:
    r"""The target :math:`(x_1+x_2+x_1x_2+x_3x_4)/2` (``levels = 2``) or :math:`(x_1+x_2)/\sqrt2` (``levels = 1``).

    A sum of orthonormal parities of degree at most ``levels``, so it lies in the span of the exact top-:math:`d`
    and has mean 0 and variance 1 under the uniform law.
    """
    levels = check_integer(levels, "levels", 1, 2, note="the target uses parities of degree 1 and 2")
    n = check_integer(n, "n", 2 * levels, 12, note=f"levels = {levels} needs n >= {2 * levels}")
    X = hypercube_points(n)
    terms = [X[:, 0], X[:, 1]] + ([X[:, 0] * X[:, 1], X[:, 2] * X[:, 3]] if levels == 2 else [])
    return np.sum(terms, axis=0) / math.sqrt(len(terms))


# --------------------------------------------------------------------------- masking: the sweep


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


_MASK_SCALES = {
    "quick": dict(n=6, ps=(0.05, 0.3, 0.6, 0.95), n_pres=(10_000,), n_lab=48, seeds=2),
    "book": dict(n=7, ps=(0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95),
                 n_pres=(5_000, 20_000, 100_000), n_lab=64, seeds=8),
    "full": dict(n=8, ps=(0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75,
                          0.8, 0.85, 0.9, 0.95), n_pres=(10_000, 30_000, 100_000, 1_000_000), n_lab=96, seeds=24),
}


def plot_mask_rate(result: MaskRateResult):
    """Error against p per pretraining size (estimated encoders) and with the exact encoder; alignment; tau."""
    from .viz import PALETTE, new_figure, sequential_colors

    fig, (ax0, ax1, ax2) = new_figure(ncols=3, width=10.5)
    colors = sequential_colors(result.n_pres.size)
    for m, (n_pre, color) in enumerate(zip(result.n_pres, colors)):
        mean, se = mean_se(result.error_estimated[m])
        ax0.errorbar(result.ps, mean, yerr=se, fmt="o-", ms=3, color=color, label=f"estimated, $n_{{pre}}$={n_pre}")
        ax1.plot(result.ps, result.cca_r2[m].mean(axis=-1), "o-", ms=3, color=color, label=f"$n_{{pre}}$={n_pre}")
    ax0.plot(result.ps, result.error_exact.mean(axis=-1), "k--", lw=1.2, label="exact top-d")
    ax0.set(yscale="log", xlabel="mask rate $p$", ylabel=r"test error / Var $f^*$",
            title=f"n = {result.n}, d = {result.d}, {result.n_lab} labels")
    ax0.legend(fontsize="x-small")
    ax1.set(xlabel="mask rate $p$", ylabel=r"CCA $R^2$ (estimated vs exact span)", ylim=(0, 1.02),
            title="how well pretraining finds the contexture")
    ax1.legend(fontsize="x-small")
    ax2.plot(result.ps, result.tau, "o-", ms=3, color=PALETTE[1])
    ax2.axhline(2.0, color="0.5", ls=":", lw=1)
    ax2.set(xlabel="mask rate $p$", ylabel=r"$\tau$ (exact spectrum)", title=rf"$\tau$, $d_0$ = {result.d0}")
    return fig


@experiment("mask_rate_sweep", plot=plot_mask_rate)
def mask_rate_sweep(scale: str | None = None, seed: int = 0, device=None) -> MaskRateResult:
    """Hypercube masking: downstream error against the mask rate, with estimated and with exact encoders."""
    return run_mask_rate(**_MASK_SCALES[resolve_scale(scale)], seed=seed)


def draw_mask_rate_state(fig, result: MaskRateResult, p: float) -> None:
    """Widget state for one stored mask rate ``p``: the spectra (exact, estimated) and the error curves."""
    from .viz import PALETTE

    hits = np.flatnonzero(np.isclose(result.ps, p, rtol=0, atol=1e-9))
    if hits.size == 0:
        raise ValueError(f"p must be one of the stored mask rates {result.ps.tolist()}, got {p!r}")
    i, m = int(hits[0]), int(np.flatnonzero(result.n_pres == result.main_n_pre)[0])
    ax0, ax1 = fig.subplots(1, 2)
    index = np.arange(result.spectrum_exact.shape[1])
    ax0.step(index, result.spectrum_exact[i], where="post", color="k", lw=1.2, label="exact $s_i^2=(1-p)^{|S|}$")
    ax0.plot(index, result.spectrum_estimated[m, i], ".", ms=4, color=PALETTE[0],
             label=rf"estimated $\hat s_i^2$, $n_{{pre}}$={result.main_n_pre}")
    ax0.axvline(result.d + 0.5, color=PALETTE[1], ls=":", lw=1, label=f"d = {result.d}")
    ax0.set(yscale="log", ylim=(1e-3, 1.5), xlabel="index $i$", ylabel="$s_i^2$",
            title=f"spectrum at p = {result.ps[i]:g}")
    ax0.legend(fontsize="x-small", loc="upper right")
    mean, se = mean_se(result.error_estimated[m])
    ax1.errorbar(result.ps, mean, yerr=se, fmt="o-", ms=3, color=PALETTE[0], label="estimated top-d")
    ax1.plot(result.ps, result.error_exact.mean(axis=-1), "k--", lw=1.2, label="exact top-d")
    ax1.plot([result.ps[i]], [mean[i]], "o", ms=9, mfc="none", mec=PALETTE[1], mew=2)
    ax1.axvline(result.ps[i], color=PALETTE[1], lw=1)
    ax1.set(yscale="log", xlabel="mask rate $p$", ylabel=r"test error / Var $f^*$",
            title=f"error {mean[i]:.3f} (exact {result.error_exact[i].mean():.3f})")
    ax1.legend(fontsize="x-small")


# --------------------------------------------------------------------------- KNN contexts on two moons


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


def knn_spectrum(points, K: int) -> tuple[np.ndarray, np.ndarray]:
    """Singular values and left singular functions (``mu[:, 0] = 1``) of :func:`~mmtheory.contexture.knn_context`.

    Points that are nobody's neighbour have probability 0 as a context value and are dropped from :math:`A`.
    """
    P = knn_context(points, K)
    svd = context_svd(P[:, P.sum(axis=0) > 0])
    return svd.s, svd.mu


TIE = 1e-10  # singular values closer than this are treated as tied


def knn_errors(s, mu, target, n_lab: int, d_max: int, draws: int, ridge: float, seed: int) -> tuple[np.ndarray, ...]:
    """Test MSE and sign error of a ridge probe on ``mu[:, 1:d+1]``, ``d = 1..d_max``, for ``draws`` label draws.

    Each draw labels ``n_lab`` distinct points (clean labels) and tests on all the others. Where
    :math:`s_d = s_{d+1}` (a tie, e.g. inside the block :math:`s = 1` of a disconnected graph) the top-:math:`d`
    is not unique, the result would depend on rounding, and the errors are NaN.
    """
    N = mu.shape[0]
    n_lab = check_integer(n_lab, "n_lab", 2, N - 1, note="labelled points; the rest are the test set")
    d_max = check_integer(d_max, "d_max", 1, N - 2, note="non-constant functions of the points, less one")
    mse, sign = np.empty((d_max, draws)), np.empty((d_max, draws))
    for r in range(draws):
        labelled = np.random.default_rng([seed, r]).choice(N, n_lab, replace=False)
        test = np.setdiff1d(np.arange(N), labelled)
        prediction = nested_ridge_predict(mu[:, 1 : d_max + 1], labelled, target[labelled], ridge)[test]
        mse[:, r] = np.mean((prediction - target[test, None]) ** 2, axis=0)
        sign[:, r] = np.mean(np.sign(prediction) != np.sign(target[test, None]), axis=0)
    tied = np.asarray(s)[1 : d_max + 1] - np.asarray(s)[2 : d_max + 2] <= TIE
    mse[tied], sign[tied] = np.nan, np.nan
    return mse, sign


def _best_over_d(errors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row (one K): the d (from 1) minimising the draw-mean error, that error and its standard error.

    Rows with no admissible d give d = 0 and NaN.
    """
    mean, se = mean_se(errors)
    ok = np.isfinite(mean).any(axis=1)
    best = np.where(ok, np.argmin(np.where(np.isfinite(mean), mean, np.inf), axis=1), 0)
    rows = np.arange(errors.shape[0])
    return np.where(ok, best + 1, 0), np.where(ok, mean[rows, best], np.nan), np.where(ok, se[rows, best], np.nan)


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


_KNN_SCALES = {
    "quick": dict(n_points=200, Ks=(3, 10, 50, 150), d_max=16, n_lab=20, draws=3, d0=32),
    "book": dict(n_points=800, Ks=(2, 3, 5, 10, 20, 50, 100, 200, 400), d_max=64, n_lab=40, draws=20, d0=128),
    "full": dict(n_points=2000, Ks=(2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 300, 500, 1000), d_max=128,
                 n_lab=100, draws=100, d0=512),
}


def plot_knn_quality(result: KnnQualityResult):
    """err_{d*} against K (U-shaped), tau against K (falling, near 2), and the spectral decay rate."""
    import matplotlib.ticker

    from .viz import PALETTE, new_figure

    fig, (ax0, ax1, ax2) = new_figure(ncols=3, width=10.5)
    ax0.errorbar(result.Ks, result.best_error, yerr=result.best_error_se, fmt="o-", ms=3, color=PALETTE[0],
                 label=r"err$_{d^*}$, $d^* \leq$ " + str(result.d_max))
    for j, K in enumerate(result.Ks[result.pieces > 1]):
        ax0.axvline(K, color="0.6", ls=":", lw=1, label="KNN graph in pieces ($s_1 = 1$)" if j == 0 else None)
    ax0.legend(fontsize="x-small")
    ax0.set(xscale="log", yscale="log", xlabel="$K$ (larger = weaker association)", ylabel=r"err$_{d^*}$ (MSE)",
            title=f"two moons, n = {result.n_points}, {result.n_lab} labels")
    finite = np.isfinite(result.tau)
    ax1.plot(result.Ks[finite], result.tau[finite], "o-", ms=3, color=PALETTE[1])
    ax1.axhline(2.0, color="0.5", ls=":", lw=1, label=r"abstain zone $\beta + 1 = 2$")
    ax1.set(xscale="log", yscale="log", xlabel="$K$", ylabel=r"$\tau$", title=rf"$\tau$, $d_0$ = {result.d0}")
    ax1.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax1.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax1.set_yticks([t for t in (1, 2, 5, 10, 20, 50, 100) if t <= max(2.0, np.nanmax(result.tau[finite], initial=2))])
    ax1.legend(fontsize="x-small")
    ax2.plot(result.Ks, result.decay, "o-", ms=3, color=PALETTE[2])
    ax2.set(xscale="log", yscale="log", xlabel="$K$", ylabel=r"decay rate $\lambda$",
            title=r"fit $s_i^2 \approx e^{-\lambda i}$")
    return fig


@experiment("knn_quality", plot=plot_knn_quality)
def knn_quality(scale: str | None = None, seed: int = 0, device=None) -> KnnQualityResult:
    """Two moons, KNN contexts: U-shaped downstream error in K, and the tau metric against it."""
    return run_knn_quality(**_KNN_SCALES[resolve_scale(scale)], seed=seed)
