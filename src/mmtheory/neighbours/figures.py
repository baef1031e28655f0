"""Figures and kernel-free widget states of Part V: drawing only; the numbers come from the math and experiment modules."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..checks import Integer, Probability, constrain
from ..numerics import mean_se
from .metastable import cluster_alignment, indicators, metastable_kernel, spectral_gap, top_eigenvectors
from .single_index import PREDICTORS, SingleIndexSweep

if TYPE_CHECKING:
    from .experiments import OptimizerComparison, SNRSweep


def _sweep_title(result: SNRSweep) -> str:
    c = result.config
    return (f"d = {c.d}, n = {c.n}, m = {c.m}, partner SNR {c.snr_partner:g}, "
            f"{len(result.single.seeds)} seeds, {c.steps} steps")


def plot_snr_sweep(result: SNRSweep):
    """Final test accuracy and coefficients against the SNR of modality 1, both paradigms (mean ± s.e.)."""
    from .. import viz

    fig, axes = viz.new_figure(3, width=10.5, height=3.3)
    for k, run in enumerate((result.single, result.multi)):
        for ax, values in zip(axes, (run.accuracy, run.signal, run.noise)):
            mean, se = mean_se(values[..., -1])
            ax.errorbar(run.snrs, mean, yerr=se, marker="o", ms=3, capsize=2, color=viz.PALETTE[k],
                        label=f"{run.paradigm}-modal")
    for ax, label in zip(axes, ("test accuracy", "signal coefficient", "noise coefficient")):
        ax.set_xlabel("SNR of modality 1")
        ax.set_title(label)
    axes[0].axhline(0.5, color="0.6", lw=1, ls=":")
    axes[0].legend()
    fig.suptitle(_sweep_title(result), fontsize=9)
    return fig


def draw_training_state(fig, result: SNRSweep, snr: float) -> None:
    """Widget state: accuracy and coefficients over training at one SNR, both paradigms (mean and range)."""
    from .. import viz

    axes = fig.subplots(1, 3)
    index = int(np.argmin(np.abs(result.single.snrs - snr)))
    for k, run in enumerate((result.single, result.multi)):
        for ax, values in zip(axes, (run.accuracy, run.signal, run.noise)):
            curves = values[index]
            ax.fill_between(run.steps, curves.min(0), curves.max(0), color=viz.PALETTE[k], alpha=0.18, lw=0)
            ax.plot(run.steps, curves.mean(0), color=viz.PALETTE[k], label=f"{run.paradigm}-modal")
    axes[0].set_ylim(0.4, 1.02)
    axes[0].axhline(0.5, color="0.6", lw=1, ls=":")
    top = max(result.single.noise[index].max(), result.multi.noise[index].max(), result.multi.signal[index].max())
    for ax, label in zip(axes, ("test accuracy", "signal coefficient", "noise coefficient")):
        ax.set_xlabel("gradient step")
        ax.set_xscale("symlog", linthresh=1)
        ax.set_title(f"{label}, SNR = {result.single.snrs[index]:g}")
        if ax is not axes[0]:
            ax.set_ylim(0, 1.05 * top)
    axes[0].legend(loc="lower right")


def plot_optimizer_comparison(result: OptimizerComparison):
    """Final test accuracy against the SNR for each paradigm and optimiser."""
    from .. import viz

    fig, ax = viz.new_figure(1, width=5.0, height=3.3)
    for i, paradigm in enumerate(result.paradigms):
        for j, optimizer in enumerate(result.optimizers):
            ax.plot(result.snrs, result.accuracy[i, j].mean(-1), marker="o", ms=3, color=viz.PALETTE[i],
                    ls="-" if optimizer == "gd" else "--", label=f"{paradigm}-modal, {optimizer}")
    ax.axhline(0.5, color="0.6", lw=1, ls=":")
    ax.set(xlabel="SNR of modality 1", ylabel="test accuracy", title="gradient vs sign-gradient descent")
    ax.legend(fontsize=8)
    return fig


def plot_sweep(result: SingleIndexSweep):
    """Left: error against N, pretrained (solid) and a prompt-only baseline (dashed: ambient when d varies,
    subspace when r varies) per row. Right: the error at N = 64 (or the largest N below it) against the
    varied parameter."""
    import matplotlib.ticker

    from ..viz import PALETTE, new_figure, sequential_colors

    fig, (ax0, ax1) = new_figure(ncols=2, width=9.5)
    values = result.ds if result.varied == "d" else result.rs
    mean = {key: result.mean_se(key) for key in PREDICTORS}
    for i, (value, color) in enumerate(zip(values, sequential_colors(len(values)))):
        ax0.errorbar(result.Ns, mean["pretrained"][0][i], yerr=mean["pretrained"][1][i], fmt="o-", ms=3,
                     color=color, label=f"pretrained, {result.varied} = {value}")
        other = "ambient" if result.varied == "d" else "subspace"
        ax0.plot(result.Ns, mean[other][0][i], "--", color=color, lw=1.2)
    ax0.axhline(1.0, color="0.5", ls=":", lw=1)
    baseline = "ambient prompt-only" if result.varied == "d" else "subspace prompt-only"
    ax0.set(xscale="log", yscale="log", xlabel="prompt length $N$", ylabel=r"test error / Var $f$",
            title=f"solid: pretrained; dashed: {baseline}")
    ax0.set_xticks(result.Ns, [str(N) for N in result.Ns])
    ax0.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax0.legend(fontsize="x-small")
    k = int(np.flatnonzero(result.Ns == result.Ns[result.Ns <= 64].max())[0]) if np.any(result.Ns <= 64) else 0
    shown = PREDICTORS if result.varied == "d" else ("pretrained", "subspace")
    for key, color, marker in zip(PREDICTORS, PALETTE, "osD"):
        if key in shown:
            ax1.errorbar(values, mean[key][0][:, k], yerr=mean[key][1][:, k], fmt=marker + "-", ms=4,
                         color=color, label=key)
    if result.varied == "d":
        ax1.set_xscale("log", base=2)
    ax1.set(yscale="log", xlabel=f"${result.varied}$", ylabel=r"test error / Var $f$", title=f"N = {result.Ns[k]}")
    ax1.set_xticks(values, [str(v) for v in values])
    ax1.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax1.legend(fontsize="x-small")
    return fig


def draw_prompt_state(fig, result: SingleIndexSweep, d: int, N: int) -> None:
    """Widget state for one stored ``(d, N)``: the error curves with a marker at ``N``, and predicted against
    true :math:`f(x_q)` on the stored test queries."""
    from ..viz import PALETTE

    i = result.row(d)
    hits = np.flatnonzero(result.Ns == N)
    if hits.size == 0:
        raise ValueError(f"N must be one of the stored prompt lengths {result.Ns.tolist()}, got {N!r}")
    k = int(hits[0])
    ax0, ax1 = fig.subplots(1, 2)
    for key, color, marker in zip(PREDICTORS, PALETTE, "osD"):
        mean, se = result.mean_se(key)
        ax0.errorbar(result.Ns, mean[i], yerr=se[i], fmt=marker + "-", ms=3, color=color, label=key)
        ax0.plot([N], [mean[i, k]], marker, ms=10, mfc="none", mec=color, mew=2)
    ax0.axvline(N, color="0.5", lw=1)
    ax0.axhline(1.0, color="0.5", ls=":", lw=1)
    ax0.set(xscale="log", yscale="log", ylim=(0.01, 30), xlabel="prompt length $N$", ylabel=r"test error / Var $f$",
            title=f"d = {d}, r = {result.rs[i]}")
    ax0.set_xticks(result.Ns, [str(v) for v in result.Ns])
    ax0.legend(fontsize="x-small", loc="lower left")
    f = result.stored_f[i, k]
    ax1.plot(f, result.stored_ambient[i, k], "s", ms=3, alpha=0.5, color=PALETTE[1], label="ambient prompt-only")
    ax1.plot(f, result.stored_pretrained[i, k], "o", ms=3, alpha=0.7, color=PALETTE[0], label="pretrained")
    ax1.plot([-1, 5], [-1, 5], color="0.4", lw=1)
    ax1.set(xlim=(-1, 5), ylim=(-3, 7), xlabel=r"true $f(x_q)$", ylabel="prediction",
            title=f"{f.size} test queries at N = {N}")
    ax1.legend(fontsize="x-small", loc="upper left")


def _embedding(V: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Coordinates of the states in the top eigenspace after the constant, rotated onto the cluster means.

    The rotation (orthogonal Procrustes onto an orthonormal basis of the centred indicators) only
    chooses a basis inside the eigenspace, so it changes no principal angle; it keeps the picture
    from spinning from one parameter value to the next when eigenvalues are nearly equal.
    """
    E = indicators(labels)
    E = E - E.mean(axis=0)
    ref = np.linalg.svd(E, full_matrices=False)[0][:, : V.shape[1]]
    U, _, Wt = np.linalg.svd(V.T @ ref)
    return V @ (U @ Wt)


@constrain(K=Integer(2, label="the number of clusters"), s=Integer(1, label="the states per cluster"),
           eps=Probability(closed_high=False, label="the inter-cluster probability"), seed=Integer(0),
           n_show=Integer(1))
def draw_metastable_state(fig, K: int, s: int, eps: float, seed: int = 0, n_show: int = 12) -> None:
    """Chapter figure: the kernel, its spectrum with the top ``K`` marked, and the states in the top eigenspace."""
    from ..viz import PALETTE

    P, labels = metastable_kernel(K, s, eps, seed)
    values, V = top_eigenvectors(P, min(n_show, P.shape[0]))
    align = cluster_alignment(V[:, :K], labels)
    ax0, ax1, ax2 = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1.2, 1.1]})
    ax0.imshow(np.log10(P + 1e-4), cmap="magma_r", vmin=-4, vmax=0)
    ax0.set(xticks=[], yticks=[], title=rf"$\log_{{10}} P$ ($K$ = {K}, $s$ = {s})")
    ax0.grid(False)
    i = np.arange(1, values.size + 1)
    ax1.bar(i, values, color=[PALETTE[0] if j <= K else "#bbbbbb" for j in i])
    ax1.axhline(1.0, color="k", lw=0.8)
    ax1.set(ylim=(min(0.0, values.min()) - 0.02, 1.05), xlabel="$i$", ylabel=r"$\lambda_i$",
            title=rf"spectrum: gap after $\lambda_{K}$ = {spectral_gap(values, K):.3f}")
    ax1.xaxis.get_major_locator().set_params(integer=True)
    Y = _embedding(V[:, 1:K], labels)
    if Y.shape[1] == 1:
        Y = np.column_stack([Y[:, 0], np.zeros(Y.shape[0])])
    for c in range(K):
        pts = Y[labels == c]
        ax2.scatter(pts[:, 0], pts[:, 1], s=18, color=PALETTE[c % len(PALETTE)], label=f"cluster {c + 1}")
    lim = 1.15 * np.abs(Y).max()
    ax2.set(xlim=(-lim, lim), ylim=(-lim, lim), xticks=[], yticks=[], aspect="equal",
            title=f"states in the top eigenspace\nalignment {align:.4f}")
    ax2.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(rf"$\varepsilon$ = {eps:g}", fontsize="medium")


def plot_singular_thread():
    """The diagram of Part V's closing chapter: five neighbours whose central object is the top singular
    subspace of an operator, around Part III's contexture (drawing only, no computation)."""
    from .. import viz

    fig, ax = viz.new_figure(1, width=9.6, height=4.9)
    ax.set(xlim=(-1.75, 1.75), ylim=(-0.95, 1.05), aspect="equal")
    ax.axis("off")
    hub = ("Part III: contexture", r"top-$d$ singular functions of $T$",
           r"$(Tg)(x) = E[g(A) \mid X = x]$")
    spokes = [  # (angle in degrees, colour index, title, object, operator or context)
        (90, 0, "#4 deep IV features (this page)", r"singular functions of $E[\,\cdot \mid Z]$",
         "context: the instrument Z"),
        (18, 1, "#7 pretrained ICL (Part V, ch. 2)", r"Stage-1 top-$r$ eigenspace of",
         r"$E[y(xx^\top - I)]$ (Q = 2 links)"),
        (-54, 2, "#3 metastable CoT (this page)", r"slow eigenvectors of $P$",
         "context: the next state"),
        (-126, 3, "#8 outliers (this page)", r"top singular subspace of $W_{\ell+1}$",
         "outliers live outside it"),
        (162, 4, "#5 two modalities (Part V, ch. 1)", "signal direction singled out",
         "by the cross-modal correlation"),
    ]
    box = {"boxstyle": "round,pad=0.45", "fc": "white", "lw": 1.6}
    for angle, c, title, line1, line2 in spokes:
        x, y = 1.2 * np.cos(np.radians(angle)), 0.92 * np.sin(np.radians(angle))
        ax.plot([0, x], [0, y], color=viz.PALETTE[c], lw=2.2, zorder=0)
        ax.text(x, y, f"{title}\n{line1}\n{line2}", ha="center", va="center", fontsize=8.6,
                bbox={**box, "ec": viz.PALETTE[c]})
    ax.text(0, 0, "\n".join(hub), ha="center", va="center", fontsize=9.6, fontweight="bold",
            bbox={**box, "ec": "black", "lw": 2.2, "fc": "#f4f4f4"})
    ax.set_title("one object, five neighbours: the top singular subspace of an operator")
    return fig
