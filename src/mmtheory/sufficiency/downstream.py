r"""What a (nearly) sufficient representation buys downstream, computed exactly on finite models.

Three uses of a contrastively trained representation, each with its excess risk in terms of sufficiency:

- **zero-shot classification**: a label :math:`c` read off the text through a channel
  :math:`p(c \mid y)`; classes are scored by averaging :math:`e^{s(x, y)}` over :math:`M` prompts
  :math:`y \sim P(\cdot \mid c)`;
- **conditional denoising**: predict a bounded real image :math:`x` from :math:`z = x + \sigma g` and
  a text code :math:`E(y)`; the excess squared error is at most :math:`2B^2 \operatorname{Suff}(E)`;
- **next-token prediction from an image code**: the excess log-loss of predicting :math:`y` from
  :math:`E(x)` instead of :math:`x` is exactly :math:`\operatorname{Suff}(E)`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .checks import check_integer
from .jghm import TinyTree
from .joint import conditional, entropy, validate_joint
from .registry import experiment
from .runtime import resolve_scale
from .sufficiency import encode, factoring_score, prefix_encoder, sufficiency_information, validate_encoder


def label_channel(labels, n_classes: int | None = None) -> np.ndarray:
    """The deterministic channel :math:`p(c \\mid y) = 1\\{c = \\text{labels}[y]\\}` as a row-stochastic matrix."""
    labels = validate_encoder(labels, len(np.asarray(labels)), name="labels")
    n_classes = int(labels.max()) + 1 if n_classes is None else n_classes
    if labels.max() >= n_classes:
        raise ValueError(f"labels must be below n_classes = {n_classes}")
    return np.eye(n_classes)[labels]


def _check_channel(P: np.ndarray, channel) -> np.ndarray:
    channel = np.asarray(channel, dtype=float)
    if channel.ndim != 2 or channel.shape[0] != P.shape[1]:
        raise ValueError(f"channel must have one row per text value ({P.shape[1]}), got shape {channel.shape}")
    if np.any(channel < 0) or not np.allclose(channel.sum(axis=1), 1.0):
        raise ValueError("channel must be row-stochastic: p(c | y) >= 0 summing to 1 over c")
    return channel


def bayes_label_posterior(P, channel) -> np.ndarray:
    """:math:`p(c \\mid x) = \\sum_y P(y \\mid x)\\, p(c \\mid y)`, rows x."""
    P = validate_joint(P)
    return conditional(P) @ _check_channel(P, channel)


def zero_shot_posterior(score, P, channel, prompts=None) -> np.ndarray:
    r"""The zero-shot label posterior :math:`\hat p(c \mid x) \propto p(c)\, \frac1M \sum_m e^{s(x, y_{c,m})}`.

    ``prompts`` is an integer array ``(n_classes, M)`` of text values, row ``c`` drawn from
    :math:`P(\cdot \mid c)`. With ``prompts=None`` the average is replaced by its expectation
    (:math:`M = \infty`): :math:`\hat p(c \mid x) \propto \sum_y P(y)\, p(c \mid y)\, e^{s(x,y)}`, the
    push-forward of :math:`Q_s(\cdot \mid x)` through the channel.
    """
    P = validate_joint(P)
    channel = _check_channel(P, channel)
    score = np.asarray(score, dtype=float)
    if score.shape != P.shape:
        raise ValueError(f"score must have the shape of P {P.shape}, got {score.shape}")
    shifted = np.exp(score - score.max(axis=1, keepdims=True))
    prior_c = P.sum(axis=0) @ channel
    if prompts is None:
        weights = shifted @ (P.sum(axis=0)[:, None] * channel)
    else:
        prompts = np.asarray(prompts)
        if prompts.ndim != 2 or prompts.shape[0] != channel.shape[1] or prompts.shape[1] < 1:
            raise ValueError(f"prompts must have shape (n_classes = {channel.shape[1]}, M >= 1), got {prompts.shape}")
        weights = prior_c * shifted[:, prompts].mean(axis=2)
    return weights / weights.sum(axis=1, keepdims=True)


def draw_prompts(P, channel, M: int, rng: np.random.Generator) -> np.ndarray:
    """``M`` prompts per class, :math:`y \\sim P(y \\mid c) \\propto P(y)\\, p(c \\mid y)`, shape ``(n_classes, M)``."""
    check_integer(M, "M", 1, note="prompts per class")
    P = validate_joint(P)
    text_given_class = (P.sum(axis=0)[:, None] * _check_channel(P, channel)).T
    text_given_class /= text_given_class.sum(axis=1, keepdims=True)
    return np.stack([rng.choice(P.shape[1], size=M, p=row) for row in text_given_class])


def cross_entropy_risk(posterior, P, channel) -> float:
    """:math:`\\mathbb E_{(x, c)}[-\\log \\hat p(c \\mid x)]` under :math:`P(x, c) = \\sum_y P(x, y) p(c \\mid y)`."""
    P = validate_joint(P)
    joint_xc = P @ _check_channel(P, channel)
    mask = joint_xc > 0
    with np.errstate(divide="ignore"):
        return float(-np.sum(joint_xc[mask] * np.log(np.asarray(posterior)[mask])))


def fit_inverse_m(Ms, risks) -> tuple[float, float]:
    """Least-squares fit of ``risk(M) = a + b / M``; returns ``(a, b)``."""
    Ms, risks = np.asarray(Ms, dtype=float), np.asarray(risks, dtype=float)
    if Ms.shape != risks.shape or Ms.size < 2 or np.any(Ms < 1):
        raise ValueError("Ms and risks must be equal-length arrays of at least two points, with every M >= 1")
    a, b = np.linalg.lstsq(np.stack([np.ones_like(Ms), 1 / Ms], axis=1), risks, rcond=None)[0]
    return float(a), float(b)


def denoising_excess(P, x_values, encoder, sigma: float = 1.0, n_grid: int = 4001) -> tuple[float, float]:
    r"""Excess x0-prediction risk of conditioning on :math:`E(y)` instead of :math:`y`, and its bound.

    The image is the real number ``x_values[x]``, observed as :math:`z = x + \sigma g`. The excess is
    :math:`\mathbb E\,(\mathbb E[x \mid z, y] - \mathbb E[x \mid z, E(y)])^2`, integrated over
    :math:`z` on a grid of ``n_grid`` points (trapezoid rule); the bound is :math:`2B^2\operatorname{Suff}(E)`
    with :math:`B = \max |x|`. Returns ``(excess, bound)``.
    """
    P = validate_joint(P)
    x_values = np.asarray(x_values, dtype=float)
    if x_values.shape != (P.shape[0],):
        raise ValueError(f"x_values must give one real value per image value ({P.shape[0]}), got {x_values.shape}")
    if not (np.isscalar(sigma) and sigma > 0):
        raise ValueError(f"sigma must be positive, got {sigma!r}")
    enc = validate_encoder(encoder, P.shape[1])
    z = np.linspace(x_values.min() - 10 * sigma, x_values.max() + 10 * sigma, n_grid)
    phi = np.exp(-((z[:, None] - x_values[None, :]) ** 2) / (2 * sigma**2)) / np.sqrt(2 * np.pi * sigma**2)
    # p(z, y) and z-conditional means, for the text y and for its code e
    joint_zy = phi @ P  # (n_grid, n_y)
    mean_zy = (phi * x_values) @ P / np.maximum(joint_zy, 1e-300)
    P_code = encode(P, enc, axis=1)  # (n_x, n_e)
    mean_ze = (phi * x_values) @ P_code / np.maximum(phi @ P_code, 1e-300)
    gap = (mean_zy - mean_ze[:, enc]) ** 2 * joint_zy
    excess = float(np.trapezoid(gap.sum(axis=1), z))
    bound = 2 * np.max(np.abs(x_values)) ** 2 * sufficiency_information(P, enc, axis=1)
    return excess, bound


def next_token_excess(P, encoder) -> float:
    """:math:`\\mathbb E[-\\log P(y \\mid E(x))] - \\mathbb E[-\\log P(y \\mid x)]`: the price of predicting the text from a code."""
    P = validate_joint(P)
    enc = validate_encoder(encoder, P.shape[0])
    return (entropy(encode(P, enc)) - entropy(encode(P, enc).sum(axis=1))) - (entropy(P) - entropy(P.sum(axis=1)))


# --- Part I: zero-shot classification on a tiny JGHM ---------------------------------------------


@dataclasses.dataclass(frozen=True)
class ZeroShotConfig:
    """The tiny JGHM, the numbers of prompts per class, and the prompt sets drawn per number."""

    tree: TinyTree = TinyTree()
    Ms: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    n_draws: int = 200  # prompt sets per M

    @classmethod
    def for_scale(cls, scale: str | None = None) -> "ZeroShotConfig":
        scale = resolve_scale(scale)
        return {"quick": cls(Ms=(1, 4, 16), n_draws=20), "book": cls(), "full": cls(n_draws=5000)}[scale]


@dataclasses.dataclass
class ZeroShotResult:
    """Zero-shot risk of the scores of prefix encoders ``k`` (last row: the PMI) against the number of prompts."""

    config: ZeroShotConfig
    k: np.ndarray  # (n_enc,): leaves kept; k = n_leaves is the PMI itself
    suff: np.ndarray  # (n_enc,)
    Ms: np.ndarray  # (n_M,)
    risk: np.ndarray  # (n_enc, n_M), mean over prompt draws
    risk_se: np.ndarray  # (n_enc, n_M)
    risk_infinite_M: np.ndarray  # (n_enc,)
    bayes_risk: float  # H(C | X)
    fit_a: np.ndarray  # (n_enc,)
    fit_b: np.ndarray  # (n_enc,)
    pushforward_kl: np.ndarray  # (n_enc,) E_x KL(p(c|x) || p_hat_inf(c|x)), <= suff
    examples: np.ndarray  # (n_examples,) image values shown in the widget
    example_bayes: np.ndarray  # (n_examples, n_classes)
    example_posteriors: np.ndarray  # (n_enc, n_M, n_examples, n_classes): from the first prompt draw


def plot_zero_shot(result: ZeroShotResult):
    """Zero-shot risk against the number of prompts, with the fitted a + b/M."""
    from .viz import new_figure, sequential_colors

    fig, ax = new_figure()
    M_grid = np.geomspace(result.Ms.min(), result.Ms.max(), 100)
    for i, color in enumerate(sequential_colors(len(result.k))):
        label = "PMI (sufficient)" if result.suff[i] < 1e-12 else f"k = {result.k[i]} leaves"
        ax.errorbar(result.Ms, result.risk[i], yerr=2 * result.risk_se[i], fmt="o", color=color, ms=4, label=label)
        ax.plot(M_grid, result.fit_a[i] + result.fit_b[i] / M_grid, color=color, lw=1)
    ax.axhline(result.bayes_risk, color="k", ls="--", lw=1, label="Bayes risk $H(C|X)$")
    ax.set(xscale="log", xlabel="prompts per class $M$", ylabel="cross-entropy (nats)", title="zero-shot risk")
    ax.legend(fontsize="small")
    return fig


@experiment("zero_shot", plot=plot_zero_shot)
def zero_shot(scale: str | None = None, seed: int = 0, device=None) -> ZeroShotResult:
    """Zero-shot classification of the first text leaf of a tiny JGHM: risk against the number of prompts M."""
    cfg = ZeroShotConfig.for_scale(scale)
    P, tree = cfg.tree.joint(), cfg.tree
    ks = np.arange(tree.n_leaves + 1)
    encoders = [prefix_encoder(tree.n_symbols, tree.n_leaves, int(k)) for k in ks]
    channel = label_channel(prefix_encoder(tree.n_symbols, tree.n_leaves, 1))  # the first text leaf
    rng = np.random.default_rng(seed)
    risk = np.empty((len(ks), len(cfg.Ms)))
    se = np.empty_like(risk)
    scores = [factoring_score(P, enc) for enc in encoders]
    examples = np.argsort(P.sum(axis=1))[::-1][:3]  # the three most frequent images
    shown = np.empty((len(ks), len(cfg.Ms), len(examples), channel.shape[1]))
    for j, M in enumerate(cfg.Ms):
        draws = np.empty((cfg.n_draws, len(ks)))
        for d in range(cfg.n_draws):
            prompts = draw_prompts(P, channel, M, rng)
            for i, s in enumerate(scores):
                posterior = zero_shot_posterior(s, P, channel, prompts)
                draws[d, i] = cross_entropy_risk(posterior, P, channel)
                if d == 0:
                    shown[i, j] = posterior[examples]
        risk[:, j], se[:, j] = draws.mean(axis=0), draws.std(axis=0, ddof=1) / np.sqrt(cfg.n_draws)
    fits = np.array([fit_inverse_m(cfg.Ms, row) for row in risk])
    bayes = bayes_label_posterior(P, channel)
    limits = [zero_shot_posterior(s, P, channel) for s in scores]
    joint_xc = P @ channel
    return ZeroShotResult(
        config=cfg,
        k=ks,
        suff=np.array([sufficiency_information(P, enc) for enc in encoders]),
        Ms=np.array(cfg.Ms),
        risk=risk,
        risk_se=se,
        risk_infinite_M=np.array([cross_entropy_risk(q, P, channel) for q in limits]),
        bayes_risk=cross_entropy_risk(bayes, P, channel),
        fit_a=fits[:, 0],
        fit_b=fits[:, 1],
        pushforward_kl=np.array([float(np.sum(joint_xc * np.log(bayes / q))) for q in limits]),
        examples=examples,
        example_bayes=bayes[examples],
        example_posteriors=shown,
    )


def draw_zero_shot_state(fig, result: ZeroShotResult, k: int, M: int) -> None:
    """One state of the zero-shot widget: risk against M for encoder ``k``, and one draw of posteriors."""
    from .viz import PALETTE

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


def draw_denoising_state(fig, P, x_values, cells: int, sigmas=(0.25, 0.5, 1.0, 2.0)) -> None:
    """Part I widget: for a text coarsening into ``cells`` cells, the excess denoising risk against its bound."""
    from .sufficiency import block_encoder
    from .viz import PALETTE, sequential_colors

    n = P.shape[1]
    ax0, ax1 = fig.subplots(1, 2)
    all_cells = np.arange(1, n)  # n cells is sufficient: excess and bound both vanish
    for sigma, color in zip(sigmas, sequential_colors(len(sigmas))):
        excess = [denoising_excess(P, x_values, block_encoder(n, c), sigma)[0] for c in all_cells]
        ax0.plot(all_cells, excess, "o-", color=color, ms=3, label=f"excess, σ = {sigma:g}")
    bound = [denoising_excess(P, x_values, block_encoder(n, c))[1] for c in all_cells]
    ax0.plot(all_cells, bound, "k--", lw=1, label="$2B^2\\,\\mathrm{Suff}(E)$")
    ax0.axvline(cells, color=PALETTE[1], lw=1)
    ax0.set(yscale="log", xlabel="cells of the text code", ylabel="excess squared error",
            title="excess denoising risk and its bound")
    ax0.legend(fontsize="small")
    excess, bound_here = denoising_excess(P, x_values, block_encoder(n, cells), 1.0)
    ax1.bar(["excess (σ = 1)", "bound"], [excess, bound_here], color=[PALETTE[0], "0.6"])
    ax1.set(title=f"{cells} cells: ratio excess/bound = {excess / bound_here:.3f}" if bound_here > 0
            else f"{cells} cells: sufficient, both zero")
