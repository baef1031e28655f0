"""Figures and kernel-free widget states of Part III: drawing only; the numbers come from the math and experiment modules."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..checks import Integer, Probability, check_integer, constrain
from ..numerics import mean_se
from .contexts import (
    concatenate,
    convex_mix,
    convolve,
    gaussian_context,
    hermite_functions,
    knn_context,
    nested_cluster_context,
    ring_context,
    ring_spectrum,
    two_moons,
)
from .operator import context_svd, expectation_operator, optimal_worst_case_error, theorem16_range, worst_case_error

if TYPE_CHECKING:
    from .experiments import KnnQualityResult, MaskRateResult, WidthSweepResult


# Five association levels per family, weakest first: (parameter name, values, a context builder).
ASSOCIATION_LEVELS = {
    "Gaussian noise": ("rho", (0.3, 0.5, 0.7, 0.85, 0.95), lambda v: gaussian_context(v)[0]),
    "ring walk": ("sigma", (6.0, 3.0, 1.5, 0.8, 0.4), lambda v: ring_context(40, v)),
    "KNN on two moons": ("K", (150, 60, 25, 10, 4), lambda v: knn_context(two_moons(300, seed=1)[0], v)),
}


def draw_association_state(fig, family: str, level: int, n_show: int = 16) -> None:
    """Chapter figure: one context at one association level, its spectrum and its top three singular functions."""
    from ..viz import PALETTE

    if family not in ASSOCIATION_LEVELS:
        raise ValueError(f"family must be one of {sorted(ASSOCIATION_LEVELS)}, got {family!r}")
    name, values, build = ASSOCIATION_LEVELS[family]
    level = check_integer(level, "level", 1, len(values))
    value = values[level - 1]
    S = context_svd(build(value))
    grid = fig.add_gridspec(1, 4, width_ratios=[1.4, 1, 1, 1])
    ax = fig.add_subplot(grid[0])
    i = np.arange(n_show)
    ax.bar(i, S.s[:n_show], color=PALETTE[0])
    closed = {"Gaussian noise": lambda: value ** i.astype(float), "ring walk": lambda: ring_spectrum(40, value)[:n_show]}
    if family in closed:
        ax.plot(i, closed[family](), "k_", ms=9, mew=2, label="closed form")
        ax.legend(fontsize="small", loc="upper right")
    ax.set(ylim=(0, 1.05), xlabel="$i$", title=f"$s_i$ ({name} = {value:g})")
    ax.xaxis.get_major_locator().set_params(integer=True)
    points = {"Gaussian noise": np.linspace(-10.0, 10.0, S.px.size), "ring walk": np.arange(40)}
    for k in range(1, 4):
        axk = fig.add_subplot(grid[k])
        if family in points:
            u = points[family]
            keep = np.abs(u) <= 3.2 if family == "Gaussian noise" else slice(None)
            axk.plot(u[keep], S.mu[keep, k], color=PALETTE[k])
            axk.set(ylim=(-4, 4), xlabel="$x$")
        else:
            xy = two_moons(300, seed=1)[0]
            lim = np.abs(S.mu[:, k]).max()
            axk.scatter(xy[:, 0], xy[:, 1], c=S.mu[:, k], cmap="RdBu_r", vmin=-lim, vmax=lim, s=6)
            axk.set(xticks=[], yticks=[])
        axk.set_title(rf"$\mu_{k}$  ($s_{k}$ = {S.s[k]:.3f})", fontsize="medium")


ROTATION = np.linspace(0.0, 90.0, 19)  # degrees: the optimality widget's rotation of the last direction


@constrain(d=Integer(1, 3), where=Probability())
def draw_optimality_state(fig, d: int, where: float) -> tuple[float, np.ndarray]:
    r"""Chapter figure for Theorem 16 on :func:`nested_cluster_context`: what an encoder pays for giving up a
    direction of the top-:math:`d` span.

    The encoder spans :math:`\mu_1, \dots, \mu_{d-1}` and :math:`\cos\theta\,\mu_d + \sin\theta\,\mu_{d+1}`, for
    :math:`\theta` on :data:`ROTATION`; ``where`` in [0, 1] places :math:`\epsilon` inside the theorem's range. Left:
    the spectrum, the top ``d`` in blue and the pair :math:`(s_d, s_{d+1})` outlined. Right: the exact worst-case
    probe error on :math:`\mathcal F_\epsilon` against :math:`\theta` (the other two levels of ``where`` faint),
    and the formula, attained at :math:`\theta = 0`. Returns ``(formula, errors)`` at this :math:`\epsilon`.
    """
    from ..viz import PALETTE

    S = context_svd(nested_cluster_context())
    low, high = theorem16_range(S.s)
    ax0, ax1 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.4]})
    i = np.arange(1, 7)
    ax0.bar(i, S.s[i], color=[PALETTE[0] if k <= d else "#bbbbbb" for k in i],
            edgecolor=["k" if k in (d, d + 1) else "none" for k in i])
    ax0.set(xlabel="$i$", ylabel="$s_i$", ylim=(0, 1.05), title=rf"top $d$ = {d} in blue; $\mu_{d}$ rotates to $\mu_{d + 1}$")
    def curve(level):
        epsilon = low + level * (high - low)
        return epsilon, np.array([_rotated_worst_case(S, d, np.radians(t), epsilon) for t in ROTATION])

    for level in (0.1, 0.5, 0.9):
        if abs(level - where) > 1e-12:
            epsilon, errors = curve(level)
            ax1.plot(ROTATION, errors, "-", color=PALETTE[1], lw=1, alpha=0.35, label=rf"$\epsilon$ = {epsilon:.3f}")
    epsilon, errors = curve(float(where))
    ax1.plot(ROTATION, errors, "-", color=PALETTE[1], lw=2.5, label=rf"$\epsilon$ = {epsilon:.3f} (this state)")
    current = optimal_worst_case_error(S.s, d, epsilon), errors
    ax1.axhline(current[0], color="k", lw=1, ls="--", label=f"top-$d$ encoder = formula ({current[0]:.3f})")
    ax1.set(xlabel=r"rotation $\theta$ of the last direction (degrees)", ylabel=r"worst-case probe error on $F_\epsilon$",
            ylim=(0, 1.05), title=rf"$s_{d} - s_{d + 1}$ = {S.s[d] - S.s[d + 1]:.3f}: the price of giving up $\mu_{d}$")
    ax1.legend(fontsize="small", loc="upper left")
    return current


def _rotated_worst_case(S, d: int, theta: float, epsilon: float) -> float:
    encoder = np.column_stack([S.mu[:, 1:d], np.cos(theta) * S.mu[:, d] + np.sin(theta) * S.mu[:, d + 1]])
    return worst_case_error(encoder, S, epsilon)[0]


@constrain(weight=Probability(), N=Integer(3))
def draw_mixing_state(fig, weight: float, N: int = 24, strong: float = 0.7, weak: float = 2.0) -> None:
    """Chapter figure: a strong and a weak ring walk, their convex mixture with ``weight`` on the strong one,
    their convolution and their concatenation; the spectra, sorted."""
    from ..viz import PALETTE

    P1, P2 = ring_context(N, strong), ring_context(N, weak)
    spectra = {
        rf"strong walk ($\sigma$ = {strong:g})": context_svd(P1).s,
        rf"weak walk ($\sigma$ = {weak:g})": context_svd(P2).s,
        f"convex mixture, weight {weight:.2f} on strong": context_svd(convex_mix([P1, P2], [weight, 1 - weight])).s,
        "convolution (strong, then weak)": context_svd(convolve(P1, expectation_operator(P2))).s,
        "concatenation (both at once)": context_svd(concatenate(P1, P2)).s[:N],
    }
    ax = fig.subplots()
    styles = [("o-", PALETTE[0], 1.2), ("s-", PALETTE[2], 1.2), ("D-", PALETTE[1], 2.5),
              (":", PALETTE[3], 1.5), ("--", PALETTE[4], 1.5)]
    for (label, s), (marker, color, lw) in zip(spectra.items(), styles):
        ax.plot(np.arange(1, 13), s[1:13], marker, color=color, lw=lw, ms=4, label=label)
    ax.set(xlabel="$i$", ylabel="$s_i$", ylim=(0, 1.02), title="mixing two contexts: what happens to the spectrum")
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))


def plot_width_sweep(result: WidthSweepResult):
    """Alignment, loss gap and worst-case downstream error against width: one line per depth, the mean over seeds
    and their range (band); the downstream panel adds the untrained networks (open marks) and Theorem 16's value."""
    from ..viz import new_figure, sequential_colors

    fig, (ax0, ax1, ax2) = new_figure(ncols=3, width=10.5)
    for i, (depth, color) in enumerate(zip(result.depths, sequential_colors(len(result.depths)))):
        for ax, values in ((ax0, result.cca_r2[i]), (ax1, result.loss_gap[i]), (ax2, result.worst_case[i])):
            values = np.maximum(values, 1e-6) if ax is ax1 else values  # log axis: the gap is >= 0 up to 1e-8
            ax.plot(result.widths, values.mean(1), "o-", color=color, label=f"depth {depth}")
            ax.fill_between(result.widths, values.min(1), values.max(1), color=color, alpha=0.2, lw=0)
        ax2.plot(result.widths, result.initial_worst_case[i].mean(1), "o:", mfc="none", color=color,
                 label=f"untrained, depth {depth}")
    ax2.axhline(result.optimal_error, color="k", ls="--", lw=1, label="Theorem 16 (top-$d$)")
    ax0.set(xscale="log", xlabel="width", ylabel=r"CCA $R^2$ with $h_1..h_d$", ylim=(None, 1.01),
            title=f"alignment after {result.steps} steps")
    ax1.set(xscale="log", yscale="log", xlabel="width", ylabel=r"$L_C - L_C^*$ (population)",
            title=rf"loss gap to $L_C^* = {result.minimum:.4f}$")
    ax2.set(xscale="log", xlabel="width", ylabel=r"worst-case probe error on $F_\epsilon$",
            title=rf"downstream error, $\epsilon = {result.epsilon:.3f}$")
    for ax in (ax0, ax1, ax2):
        ax.legend(fontsize="x-small")
    return fig


def draw_alignment_state(fig, result: WidthSweepResult, width: int, depth: int | None = None) -> None:
    """Widget state: the learned features of one width (best linear map onto :math:`h_1..h_d`) against the truth,
    and the alignment curve with this width marked. ``depth`` defaults to the deepest in the result."""
    from ..viz import PALETTE

    if width not in result.widths:
        raise ValueError(f"width must be one of {result.widths.tolist()}, got {width!r}")
    depth = int(result.depths[-1]) if depth is None else depth
    if depth not in result.depths:
        raise ValueError(f"depth must be one of {result.depths.tolist()}, got {depth!r}")
    i, j = int(np.flatnonzero(result.depths == depth)[0]), int(np.flatnonzero(result.widths == width)[0])
    truth = hermite_functions(result.grid, result.d)[:, 1:]
    ax0, ax1 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1]})
    for k in range(result.d):
        color = PALETTE[k % len(PALETTE)]
        ax0.plot(result.grid, truth[:, k], color=color, ls="--", lw=1.2)
        ax0.plot(result.grid, result.aligned_features[i, j, :, k], color=color, label=f"$h_{k + 1}$")
    ax0.set(xlabel="$a$", ylabel="feature", ylim=(truth.min() - 0.5, truth.max() + 2.5),
            title=f"width {width}, depth {depth}: learned (solid) vs Hermite (dashed)")
    ax0.legend(fontsize="small", loc="upper center", ncols=result.d)
    r2 = result.cca_r2[i].mean(1)
    ax1.plot(result.widths, r2, "o-", color="0.5")
    ax1.plot([width], [r2[j]], "o", ms=10, color=PALETTE[1])
    ax1.set(xscale="log", xlabel="width", ylabel=r"CCA $R^2$", ylim=(min(r2.min() - 0.05, 0.8), 1.01),
            title=rf"$R^2 = {r2[j]:.3f}$")


def plot_mask_rate(result: MaskRateResult):
    """Error against p per pretraining size (estimated encoders) and with the exact encoder; alignment; tau."""
    from ..viz import PALETTE, new_figure, sequential_colors

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


def draw_mask_rate_state(fig, result: MaskRateResult, p: float) -> None:
    """Widget state for one stored mask rate ``p``: the spectra (exact, estimated) and the error curves."""
    from ..viz import PALETTE

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


def plot_knn_quality(result: KnnQualityResult):
    """err_{d*} against K (U-shaped), tau against K (falling, near 2), and the spectral decay rate."""
    import matplotlib.ticker

    from ..viz import PALETTE, new_figure

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
