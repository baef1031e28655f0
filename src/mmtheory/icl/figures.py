"""Figures and kernel-free widget states of Part IV: drawing only; the numbers come from the math and experiment modules."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..checks import Integer, Positive, constrain
from .closed_forms import LatentFactorModel, alpha_star, bayes_risk, ca_excess, lsa_optimum, optimal_alpha, rho_star

if TYPE_CHECKING:
    from .experiments import BaselineResult, DepthSweepResult, FiniteContextResult


@constrain(m_low=Positive(), m_high=Positive())
def draw_lsa_state(fig, m_low: float, m_high: float) -> None:
    """Part IV widget: the fixed LSA coefficient against the Bayes coefficient over the spectrum, and the risks."""
    from ..viz import PALETTE

    model = LatentFactorModel(m_low=m_low, m_high=m_high)
    gamma, excess = lsa_optimum(model)
    ax0, ax1 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
    lam = np.linspace(0.0, 16.5, 400)
    ax0.plot(lam, 1 / (1 + lam), color="0.6", lw=1, label=r"Bayes: $1/(1+\lambda)$, a different task each $\lambda$")
    inside = (lam >= m_low) & (lam <= m_high)
    ax0.plot(lam[inside], 1 / (1 + lam[inside]), color=PALETTE[0], lw=3, label="the spectrum of this task law")
    ax0.axhline(gamma, color=PALETTE[1], lw=2, label=rf"one-layer LSA: $\gamma^* = {gamma:.3f}$")
    ax0.set(xlabel=r"eigenvalue $\lambda$ of $A^\top A$", ylabel="coefficient on the eigendirection",
            title="one fixed preconditioner for every task", ylim=(0, 1.05))
    ax0.legend(fontsize="small", loc="upper right")
    bars = {"Bayes risk": bayes_risk(model), "LSA excess": excess,
            r"deep CA excess, $T=8$": ca_excess(optimal_alpha(8, model), 8, model)}
    ax1.bar(list(bars), list(bars.values()), color=["0.6", PALETTE[1], PALETTE[0]])
    ax1.set(ylabel="squared error", ylim=(0, 0.75),
            title=rf"$[\underline{{m}}, \overline{{m}}] = [{m_low:g}, {m_high:g}]$: LSA excess / Bayes = {excess / bars['Bayes risk']:.0%}")
    ax1.tick_params(axis="x", labelsize=8)


def plot_depth_sweep(result: DepthSweepResult):
    """The learned step approaches alpha* from below; the excess falls like rho*^(2T)."""
    from ..viz import PALETTE, new_figure

    fig, (ax0, ax1) = new_figure(ncols=2)
    ax0.semilogx(result.depths, result.alpha_T, "o-", color=PALETTE[0], label=r"$\alpha_T$ (population optimum)")
    ax0.axhline(result.alpha_star, color="k", ls="--", lw=1, label=r"$\alpha^* = 2/(2+\underline{m}+\overline{m})$")
    ax0.set(xlabel="depth $T$", ylabel=r"$\alpha$", title="the learned step tends to the minimax step")
    ax0.legend(fontsize="small")
    ax1.semilogy(result.depths, result.excess_T, "o-", color=PALETTE[0], label="deep CA, at $\\alpha_T$")
    ax1.semilogy(result.depths, 0.8 * result.rho_star ** (2 * result.depths.astype(float)), "k--", lw=1,
                 label=r"$0.8\,\rho_*^{2T}$")
    ax1.axhline(result.lsa_excess, color=PALETTE[1], lw=1.5, label="one-layer LSA floor")
    ax1.set(xscale="log", xlabel="depth $T$", ylabel="excess over the oracle", title="excess risk against depth",
            ylim=(1e-40, 1))
    ax1.legend(fontsize="small")
    return fig


@constrain(T=Integer(1, label="the depth"))
def draw_depth_state(fig, T: int, model: LatentFactorModel = LatentFactorModel()) -> None:
    """Part IV widget: the minimax picture and the residual polynomial of the stack at depth ``T``."""
    from ..viz import PALETTE

    m, M = model.m_low, model.m_high
    a_star, a_T = alpha_star(m, M), optimal_alpha(T, model)
    ax0, ax1 = fig.subplots(1, 2)
    alphas = np.linspace(0.0, 2.0 / (1.0 + M), 400)
    worst = np.maximum(np.abs(1 - alphas * (1 + m)), np.abs(1 - alphas * (1 + M)))
    ax0.plot(alphas, worst, color="0.4", label=r"$\max_\lambda |1 - \alpha(1+\lambda)|$")
    ax0.plot([a_star], [rho_star(m, M)], "ko", label=rf"$\alpha^* = {a_star:.4f}$, $\rho_* = {rho_star(m, M):.3f}$")
    ax0.axvline(a_T, color=PALETTE[1], lw=1.5, label=rf"$\alpha_T = {a_T:.4f}$ at $T = {T}$")
    ax0.set(xlabel=r"step $\alpha$", ylabel="worst contraction over the spectrum", title="the minimax step", ylim=(0, 1))
    ax0.legend(fontsize="small", loc="upper right")
    lam = np.linspace(m, M, 400)
    ax1.semilogy(lam, np.abs(1 - a_T * (1 + lam)) ** T, color=PALETTE[1], label=r"$|1 - \alpha_T(1+\lambda)|^T$ (residual)")
    ax1.semilogy(lam, np.full_like(lam, rho_star(m, M) ** T), "k--", lw=1, label=r"$\rho_*^T$")
    ax1.set(xlabel=r"eigenvalue $\lambda$ of $A^\top A$", ylim=(1e-12, 1.5),
            title=f"T = {T}: excess {ca_excess(a_T, T, model):.1e}")
    ax1.legend(fontsize="small", loc="lower center")


def plot_finite_context(result: FiniteContextResult):
    """Excess against depth at several context lengths, and the trained step drifting below alpha*."""
    from ..viz import PALETTE, new_figure, sequential_colors

    fig, (ax0, ax1) = new_figure(ncols=2)
    for i, (L, color) in enumerate(zip(result.Ls, sequential_colors(len(result.Ls)))):
        ax0.errorbar(result.depths, result.excess_at_alpha_star[i], yerr=2 * result.excess_se[i], fmt="o-", ms=3,
                     color=color, label=f"L = {L}")
        ax0.axhline(result.ols_reference[i], color=color, ls=":", lw=1)
    ax0.plot(result.depths, result.population_excess, "k--", lw=1, label=r"$L = \infty$")
    ax0.set(xscale="log", yscale="log", xlabel="depth $T$", ylabel="excess over the oracle",
            title=r"at $\alpha^*$: depth helps down to the OLS reference (dotted)", ylim=(1e-4, 1))
    ax0.legend(fontsize="small")
    ax1.semilogx(result.trained_depths, result.trained_alpha, "o-", color=PALETTE[0],
                 label=f"trained at L = {result.train_L}")
    ax1.axhline(alpha_star(result.model.m_low, result.model.m_high), color="k", ls="--", lw=1, label=r"$\alpha^*$")
    ax1.set(xlabel="depth $T$", ylabel=r"learned $\alpha$", title="finite L: the learned step drifts below α*")
    ax1.legend(fontsize="small")
    return fig


def draw_context_state(fig, result: FiniteContextResult, L: int) -> None:
    """Part IV widget: excess against depth at the minimax step for one context length."""
    from ..viz import PALETTE

    i = int(np.flatnonzero(result.Ls == L)[0])
    ax = fig.subplots()
    for row in result.excess_at_alpha_star:
        ax.plot(result.depths, row, color="0.85", lw=1)
    ax.errorbar(result.depths, result.excess_at_alpha_star[i], yerr=2 * result.excess_se[i], fmt="o-",
                color=PALETTE[0], label=f"deep CA at α*, L = {L}")
    ax.axhline(result.ols_reference[i], color=PALETTE[1], ls=":", label="OLS reference $R\\,d/(L-d-1)$")
    ax.plot(result.depths, result.population_excess, "k--", lw=1, label="$L = \\infty$")
    ax.set(xscale="log", yscale="log", ylim=(1e-5, 1), xlabel="depth $T$", ylabel="excess over the oracle",
           title=f"context length L = {L}")
    ax.legend(fontsize="small", loc="lower left")


def plot_softmax_baseline(result: BaselineResult):
    """Excess over the oracle along training for both architectures, one panel per context length."""
    from ..viz import PALETTE, new_figure

    fig, axes = new_figure(ncols=len(result.Ls))
    for ax, L, soft, stack, floor in zip(np.atleast_1d(axes), result.Ls, result.softmax_curve, result.stack_curve,
                                         result.ols_reference):
        ax.plot(result.curve_steps, soft, color=PALETTE[1], label=f"softmax transformer (depth {result.depth})")
        ax.plot(result.curve_steps, stack, color=PALETTE[0], label=f"cross-attention stack (T = {result.stack_depth})")
        ax.axhline(floor, color="k", ls=":", lw=1, label="least squares")
        ax.set(yscale="log", xlabel="training step", ylabel="excess over the oracle", title=f"L = {L}")
        ax.legend(fontsize="small")
    return fig


NOISE_GRID = (0.01, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0)  # modality 2's noise variance in the modality widget


@constrain(noise2=Positive(), share2=Positive(allow_zero=True))
def draw_modality_state(fig, noise2: float, share2: float, depths=(1, 2, 4, 8, 16, 32)) -> None:
    """Part IV widget: the tuned modality-blind stack against the whitened (modality-aware) one, for modality 2's
    noise variance ``noise2`` (modality 1's is 1) and signal share ``share2`` (modality 1 has ``1 - share2``)."""
    from ..viz import PALETTE
    from .modalities import TwoModalityLaw, blind_step, minimax_steps, modal_excess, whitened_steps

    def law(noise):
        return TwoModalityLaw(shares=(1.0 - share2, share2), noise=(1.0, noise))

    here = law(noise2)
    blind = [modal_excess((blind_step(T, here),) * 2, T, here) for T in depths]
    aware = [modal_excess(whitened_steps(T, here), T, here) for T in depths]
    ax0, ax1 = fig.subplots(1, 2)
    ax0.semilogy(depths, blind, "o-", color=PALETTE[1], label="modality-blind, tuned step")
    ax0.semilogy(depths, aware, "s-", color=PALETTE[0], label=r"modality-aware: $\alpha_j = \alpha_T/\tau_j^2$")
    ax0.set(xscale="log", xlabel="depth $T$", ylabel=r"excess over the oracle ($L = \infty$)",
            title=rf"$\tau_2^2 = {noise2:g}$, share of modality 2 $= {share2:g}$")
    ax0.legend(fontsize="small")
    rhos = np.array([[minimax_steps(law(t))[key][1] for key in ("blind", "whitened")] for t in NOISE_GRID])
    ax1.semilogx(NOISE_GRID, rhos[:, 0], "o-", color=PALETTE[1], label="blind")
    ax1.semilogx(NOISE_GRID, rhos[:, 1], "s-", color=PALETTE[0], label="aware")
    ax1.axvline(noise2, color="0.6", lw=1)
    ax1.set(xlabel=r"noise variance of modality 2, $\tau_2^2$ ($\tau_1^2 = 1$)", ylim=(0, 1),
            ylabel=r"contraction per layer as $T \to \infty$", title="when awareness matters")
    ax1.legend(fontsize="small")
