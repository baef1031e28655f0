"""Figures and kernel-free widget states of Part I (and the Prologue): drawing only; the numbers come from the math and experiment modules."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..checks import Integer, OneOf, Positive, Real, constrain
from .contrastive import clip_risk_exact, excess_risk_large_batch
from .downstream import denoising_excess
from .encoders import block_encoder, encode, sufficiency_information
from .joint import gaussian_joint, mutual_information, pmi, ratio_singular_values

if TYPE_CHECKING:
    from .experiments import PMIRecoveryResult, SuffVsExcessResult, ZeroShotResult


@constrain(rho=Real(-1, 1, closed="neither"), n=Integer(2), fine_n=Integer(2), clip=Positive())
def draw_gaussian_joint_state(fig, rho: float, n: int = 8, fine_n: int = 48, clip: float = 3.0) -> None:
    """The Prologue's first figure for one correlation: the joint law, its PMI, and the ratio's spectrum.

    The spectrum panel compares the singular values on the ``n``-grid and on a finer ``fine_n``-grid
    with Mehler's :math:`\\rho^i`, the spectrum of the continuous Gaussian pair.
    """
    from ..viz import DIVERGING, PALETTE

    P = gaussian_joint(n, rho)
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 1.3]})
    axes[0].imshow(P, cmap="viridis", origin="lower")
    axes[0].set(title="joint law $P(x,y)$", xlabel="$y$", ylabel="$x$")
    image = axes[1].imshow(np.clip(pmi(P), -clip, clip), cmap=DIVERGING, vmin=-clip, vmax=clip, origin="lower")
    axes[1].set(title=r"$\mathrm{pmi}(x,y)$", xlabel="$y$")
    fig.colorbar(image, ax=axes[1], shrink=0.8, extend="both")
    for ax in axes[:2]:
        ax.grid(False)
        ax.set_xticks([])
        ax.set_yticks([])
    i = np.arange(n)
    axes[2].semilogy(i, np.maximum(ratio_singular_values(P), 1e-12), "o-", color=PALETTE[0], label=f"grid n = {n}")
    fine = ratio_singular_values(gaussian_joint(fine_n, rho, span=3.0))[:n]
    axes[2].semilogy(i, np.maximum(fine, 1e-12), "s-", color=PALETTE[2], label=f"grid n = {fine_n}")
    axes[2].semilogy(i, np.maximum(float(rho) ** i, 1e-12), "k--", lw=1, label=r"$\rho^i$ (continuous)")
    axes[2].set(ylim=(1e-4, 1.5), xlabel="$i$", title="singular values $s_i$ of the ratio")
    axes[2].legend(fontsize="small", loc="lower left")


def plot_pmi_recovery(result: PMIRecoveryResult):
    """Distance to PMI + const along training, and the InfoNCE bound against the true mutual information."""
    from ..viz import new_figure, sequential_colors

    fig, (ax0, ax1) = new_figure(ncols=2)
    for rho, dist, color in zip(result.rhos, result.distance, sequential_colors(len(result.rhos))):
        ax0.semilogy(result.steps, np.maximum(dist, 1e-4), color=color, label=f"ρ = {rho:g}")
    ax0.set(xlabel="training step", ylabel="distance to PMI + const", title="the score converges to PMI")
    ax0.legend(fontsize="small", ncols=2)
    ax1.plot(result.rhos, result.mutual_information, "o-", label="$I(X;Y)$ (exact)")
    ax1.plot(result.rhos, result.mi_lower_bound, "s--", label=r"$\log B - \hat L/2$ (InfoNCE bound)")
    ax1.set(xlabel="correlation ρ", ylabel="nats", title="the loss bounds the information")
    ax1.legend()
    return fig


def draw_pmi_recovery_state(fig, result: PMIRecoveryResult, rho: float, clip: float = 3.0) -> None:
    """One state of the opening chapter's widget: the joint law, its PMI, the learned score, the training path.

    PMI and score share one colour scale clipped to ``[-clip, clip]`` (a colour bar marks the clipping).
    """
    from ..viz import DIVERGING, PALETTE

    matches = np.flatnonzero(np.isclose(result.rhos, rho))
    if matches.size == 0:
        raise ValueError(f"rho must be one of the correlations in the result {result.rhos.tolist()}, got {rho!r}")
    r = int(matches[0])
    axes = fig.subplots(1, 4, gridspec_kw={"width_ratios": [1, 1, 1, 1.25]})
    axes[0].imshow(result.joints[r], cmap="viridis", origin="lower")
    axes[0].set(title="joint law $P(x,y)$", xlabel="$y$", ylabel="$x$")
    for ax, table, title in ((axes[1], result.pmis[r], r"$\mathrm{pmi}(x,y)$"),
                             (axes[2], result.scores[r], "learned score $s(x,y)+c$")):
        image = ax.imshow(np.clip(table, -clip, clip), cmap=DIVERGING, vmin=-clip, vmax=clip, origin="lower")
        ax.set(title=title, xlabel="$y$")
    fig.colorbar(image, ax=axes[1:3], shrink=0.8, extend="both")
    for ax in axes[:3]:
        ax.grid(False)
        ax.set_xticks([])
        ax.set_yticks([])
    for other in result.distance:
        axes[3].semilogy(result.steps, np.maximum(other, 1e-4), color="0.85", lw=1)
    axes[3].semilogy(result.steps, np.maximum(result.distance[r], 1e-4), color=PALETTE[0], label="distance to pmi + c")
    axes[3].semilogy(result.steps, np.maximum(result.excess_risk[r], 1e-6), color=PALETTE[1], label="excess risk ($B=\\infty$)")
    axes[3].set(xlabel="training step", title=f"training, ρ = {rho:g}")
    axes[3].legend(fontsize="small", loc="upper right")


@constrain(K=Integer(2))
def draw_risk_profile_state(fig, P, K: int, lambdas=np.linspace(0.0, 2.0, 41)) -> None:
    """Part I widget: the exact risk of the scaled PMI :math:`\\lambda\\,\\mathrm{pmi}` for one K, and its excess
    over the PMI against the :math:`K = \\infty` excess :math:`\\Delta`, which bounds it from above."""
    from ..viz import PALETTE

    M = pmi(P)
    ax0, ax1 = fig.subplots(1, 2)
    risks = np.array([clip_risk_exact(lam * M, P, K) for lam in lambdas])
    ax0.plot(lambdas, risks, color=PALETTE[0])
    ax0.axhline(2 * np.log(K), color="0.5", ls=":", lw=1, label="constant score: $2\\log K$")
    ax0.axvline(1.0, color=PALETTE[1], ls="--", lw=1, label="$\\lambda = 1$: the PMI")
    ax0.set(xlabel="$\\lambda$", ylabel="$R_K(\\lambda\\,\\mathrm{pmi})$", title=f"exact risk, K = {K}")
    ax0.legend(fontsize="small", loc="upper right")
    ax1.plot(lambdas, [excess_risk_large_batch(lam * M, P) for lam in lambdas], "k--", lw=1,
             label="$K = \\infty$: $\\Delta(\\lambda\\,\\mathrm{pmi})$")
    ax1.plot(lambdas, risks - clip_risk_exact(M, P, K), color=PALETTE[0], label=f"K = {K}")
    ax1.set(xlabel="$\\lambda$", ylabel="excess over the PMI (nats)", title="few candidates hide part of the excess")
    ax1.legend(fontsize="small", loc="upper center")


def plot_suff_vs_excess(result: SuffVsExcessResult):
    """Excess risk against sufficiency: on the diagonal at K = infinity, below it by about (K-1)/K."""
    from ..viz import new_figure, sequential_colors

    fig, (ax0, ax1) = new_figure(ncols=2)
    top = 1.1 * result.suff.max()
    ax0.plot([0, top], [0, top], "k--", lw=1, label="excess = Suff")
    ax0.plot(result.suff, result.excess_inf, "ko", label=r"$K=\infty$ (exact)")
    for j, (K, color) in enumerate(zip(result.Ks, sequential_colors(len(result.Ks)))):
        ax0.errorbar(result.suff, result.excess_K[:, j], yerr=2 * result.excess_K_se[:, j], fmt="s", color=color,
                     ms=4, label=f"K = {K}")
    ax0.set(xlabel=r"$\mathrm{Suff}(E_k)$ (nats)", ylabel="excess risk per direction", title="excess vs sufficiency")
    ax0.legend(fontsize="small")
    keep = result.suff > 1e-9
    ratio = result.suff[keep, None] / result.excess_K[keep]
    for row, k in zip(ratio, result.k[keep]):
        ax1.semilogx(result.Ks, row, "o-", label=f"k = {k}")
    K_grid = np.geomspace(result.Ks.min(), result.Ks.max(), 50)
    ax1.semilogx(K_grid, K_grid / (K_grid - 1), "k--", lw=1, label="K/(K-1)")
    ax1.set(xlabel="K", ylabel=r"Suff / excess$_K$", title="finite K: how much the bound loosens")
    ax1.legend(fontsize="small")
    return fig


@constrain(n_cells=Integer(1), axis=OneOf(0, 1))
def draw_coarsening_state(fig, P, n_cells: int, axis: int = 0) -> None:
    """Part I widget: the law of (code, text) for a block coarsening of the image, and Suff against the cells."""
    from ..viz import PALETTE

    n = P.shape[axis]
    ax0, ax1 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
    coded = encode(P, block_encoder(n, n_cells), axis=axis)
    ax0.imshow(coded / coded.sum(axis=1, keepdims=True), cmap="viridis", origin="lower", aspect="auto",
               extent=(-0.5, P.shape[1] - 0.5, -0.5, n_cells - 0.5))
    ax0.grid(False)
    ax0.set(xlabel="$y$", ylabel="code $E(x)$", title=f"$P(y \\mid E(x))$, {n_cells} cells")
    rows = P if axis == 0 else P.T  # one row per value of the coded modality
    enc = block_encoder(n, n_cells)
    p_x = rows.sum(axis=1)
    given_x = rows / p_x[:, None]
    given_code = encode(rows, enc)[enc] / encode(rows, enc).sum(axis=1)[enc][:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(given_x > 0, given_x * np.log(given_x / given_code), 0.0).sum(axis=1)
    share = p_x * kl  # each value's share of Suff(E) = sum_x p(x) KL(P(.|x) || P(.|E(x)))
    ax1.bar(np.arange(n), share, color=PALETTE[0], width=0.8)
    for edge in np.flatnonzero(np.diff(enc)) + 0.5:
        ax1.axvline(edge, color=PALETTE[1], lw=1, ls=":")
    ax1.set(xlabel="value $x$ (dotted: cell boundaries)", ylabel="$p(x)\\,$KL (nats)",
            title=f"where Suff = {share.sum():.4f} nats is lost")


def plot_zero_shot(result: ZeroShotResult):
    """Zero-shot risk against the number of prompts, with the fitted expansion limit + b/M + c/M^2."""
    from ..viz import new_figure, sequential_colors

    fig, ax = new_figure()
    M_grid = np.geomspace(result.Ms.min(), result.Ms.max(), 100)
    for i, color in enumerate(sequential_colors(len(result.k))):
        label = "PMI (sufficient)" if result.suff[i] < 1e-12 else f"k = {result.k[i]} leaves"
        ax.errorbar(result.Ms, result.risk[i], yerr=2 * result.risk_se[i], fmt="o", color=color, ms=4, label=label)
        fit = result.risk_infinite_M[i] + result.fit_b[i] / M_grid + result.fit_c[i] / M_grid**2
        ax.plot(M_grid, fit, color=color, lw=1)
    ax.axhline(result.bayes_risk, color="k", ls="--", lw=1, label="Bayes risk $H(C|X)$")
    ax.set(xscale="log", xlabel="prompts per class $M$", ylabel="cross-entropy (nats)", title="zero-shot risk")
    ax.legend(fontsize="small")
    return fig


def draw_zero_shot_state(fig, result: ZeroShotResult, k: int, M: int) -> None:
    """One state of the zero-shot widget: risk against M for encoder ``k``, and one draw of posteriors."""
    from ..viz import PALETTE

    i = int(np.flatnonzero(result.k == k)[0])
    j = int(np.flatnonzero(result.Ms == M)[0])
    ax0, ax1 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
    for row in result.risk:
        ax0.plot(result.Ms, row, color="0.85", lw=1)
    ax0.errorbar(result.Ms, result.risk[i], yerr=2 * result.risk_se[i], fmt="o-", color=PALETTE[0], ms=4,
                 label=f"encoder keeps {k} of {len(result.k) - 1} leaves")
    ax0.plot([M], [result.risk[i, j]], "o", ms=11, mfc="none", color=PALETTE[1])
    ax0.axhline(result.bayes_risk, color="k", ls="--", lw=1, label="Bayes risk")
    ax0.axhline(result.risk_infinite_M[i], color=PALETTE[0], ls=":", lw=1, label=r"$M=\infty$")
    ax0.set_ylim(result.bayes_risk - 0.02, max(result.risk.max(), result.bayes_risk) + 0.02)
    ax0.set(xscale="log", xlabel="prompts per class $M$", ylabel="zero-shot cross-entropy",
            title=f"Suff = {result.suff[i]:.3f} nats")
    ax0.legend(fontsize="small")
    n_ex, n_c = result.example_bayes.shape
    width = 0.38
    for e in range(n_ex):
        base = e * (n_c + 1)
        ax1.bar(base + np.arange(n_c) - width / 2, result.example_bayes[e], width, color="0.6",
                label="Bayes $p(c|x)$" if e == 0 else None)
        ax1.bar(base + np.arange(n_c) + width / 2, result.example_posteriors[i, j, e], width, color=PALETTE[1],
                label=f"zero-shot, one draw of M = {M}" if e == 0 else None)
    ax1.set_xticks([e * (n_c + 1) + (n_c - 1) / 2 for e in range(n_ex)], [f"image {e + 1}" for e in range(n_ex)])
    ax1.set(ylim=(0, 1), ylabel="probability of class $c$", title="label posteriors for three images")
    ax1.legend(fontsize="small", loc="upper right")


def draw_denoising_state(fig, P, x_values, sigma: float, codes=(1, 3, 6)) -> None:
    """Part I widget, one state per noise level ``sigma``: left, the excess denoising risk of every text
    coarsening at this level against its bound; right, the excess against the noise level for a few codes."""
    from ..viz import PALETTE, sequential_colors
    from .encoders import block_encoder

    n = P.shape[1]
    ax0, ax1 = fig.subplots(1, 2)
    all_cells = np.arange(1, n)  # n cells is sufficient: excess and bound both vanish
    pairs = [denoising_excess(P, x_values, block_encoder(n, c), sigma) for c in all_cells]
    ax0.plot(all_cells, [e for e, _ in pairs], "o-", color=PALETTE[0], ms=3, label=f"excess at σ = {sigma:g}")
    ax0.plot(all_cells, [b for _, b in pairs], "k--", lw=1, label="$2B^2\\,\\mathrm{Suff}(E_Y)$, every σ")
    ax0.set(yscale="log", ylim=(1e-6, 10), xlabel="cells of the text code", ylabel="excess squared error",
            title=f"noise level σ = {sigma:g}")
    ax0.legend(fontsize="small")
    grid = np.geomspace(0.05, 20, 30)
    for c, color in zip(codes, sequential_colors(len(codes))):
        ax1.plot(grid, [denoising_excess(P, x_values, block_encoder(n, c), g)[0] for g in grid], color=color,
                 label=f"{c} cell{'s' if c > 1 else ''}")
    ax1.axvline(sigma, color=PALETTE[1], lw=1)
    ax1.set(xscale="log", xlabel="noise level σ", ylabel="excess squared error",
            title="a noisier image leans on the text code")
    ax1.legend(fontsize="small")
