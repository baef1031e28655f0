r"""The symmetric InfoNCE (CLIP) loss, and what a score trained on it converges to.

For a batch of :math:`B` pairs :math:`(x_i, y_i)` drawn from the joint law and a
score :math:`s(x, y)`, write :math:`S_{ij} = s(x_i, y_j)`. The in-batch symmetric loss
sums the image-to-text and the text-to-image cross-entropies, as in Oko et al. (2025):

.. math::

   \hat L(s) = \frac{1}{B} \sum_{i=1}^B \Big[ -S_{ii} + \log \sum_{j} e^{S_{ij}} \Big]
             + \frac{1}{B} \sum_{j=1}^B \Big[ -S_{jj} + \log \sum_{i} e^{S_{ij}} \Big].

A constant score gives :math:`2 \log B`. The population minimiser is the pointwise
mutual information up to one additive constant, and :math:`\log B - \hat L / 2`
estimates a lower bound on :math:`I(X;Y)`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
import torch.nn.functional as F

from .joint import gaussian_joint, mutual_information, pmi, validate_joint
from .registry import experiment
from .runtime import get_device, progress, resolve_scale


def info_nce_loss(scores: torch.Tensor) -> torch.Tensor:
    """Symmetric in-batch InfoNCE (both directions summed) of a ``(B, B)`` score matrix; positives on the diagonal."""
    if scores.ndim != 2 or scores.shape[0] != scores.shape[1] or scores.shape[0] < 2:
        raise ValueError(f"scores must be a square (B, B) matrix with B >= 2, got shape {tuple(scores.shape)}")
    target = torch.arange(scores.shape[0], device=scores.device)
    return F.cross_entropy(scores, target) + F.cross_entropy(scores.T, target)


def _check_score(score, P) -> tuple[np.ndarray, np.ndarray]:
    P = validate_joint(P)
    score = np.asarray(score, dtype=float)
    if score.shape != P.shape:
        raise ValueError(f"score must have the shape of P {P.shape}, got {score.shape}")
    if not np.all(np.isfinite(score)):
        raise ValueError("score must have finite entries")
    return score, P


def align_to_pmi(score, P) -> np.ndarray:
    r"""Shift ``score`` by the constant :math:`c = \mathbb E_P[\operatorname{pmi} - s]` that brings it closest to PMI."""
    score, P = _check_score(score, P)
    mask = P > 0
    return score + np.sum(P[mask] * (pmi(P)[mask] - score[mask]))


def distance_to_pmi(score, P) -> float:
    r"""How far a score table is from PMI + const on the pairs the data shows.

    .. math:: d(s) = \min_c \Big(\sum_{x,y} P(x,y)\,\big(s(x,y) - \operatorname{pmi}(x,y) - c\big)^2\Big)^{1/2}.

    The symmetric loss cannot see an additive constant, so neither does :math:`d`.
    """
    score, P = _check_score(score, P)
    mask = P > 0
    gap = align_to_pmi(score, P)[mask] - pmi(P)[mask]
    return float(np.sqrt(np.sum(P[mask] * gap**2)))


def excess_risk_large_batch(score, P) -> float:
    r"""Excess of the symmetric loss over its minimum as the batch grows, :math:`B \to \infty`.

    With :math:`Q_s(y \mid x) \propto P(y)\,e^{s(x,y)}` and :math:`Q_s(x \mid y) \propto P(x)\,e^{s(x,y)}`,

    .. math::

       \Delta(s) = \sum_x P(x)\, \mathrm{KL}\big(P(\cdot \mid x) \,\|\, Q_s(\cdot \mid x)\big)
                + \sum_y P(y)\, \mathrm{KL}\big(P(\cdot \mid y) \,\|\, Q_s(\cdot \mid y)\big),

    which is zero exactly when :math:`s = \operatorname{pmi} + c` on the support (for a law with full support).
    """
    score, P = _check_score(score, P)
    px, py = P.sum(axis=1), P.sum(axis=0)
    mask = P > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        log_px, log_py, log_P = np.log(px), np.log(py), np.log(P)
        log_q_y_given_x = log_py[None, :] + score
        log_q_y_given_x -= _logsumexp(log_q_y_given_x, axis=1)[:, None]
        log_q_x_given_y = log_px[:, None] + score
        log_q_x_given_y -= _logsumexp(log_q_x_given_y, axis=0)[None, :]
        kl_rows = np.sum(P[mask] * (log_P - log_px[:, None] - log_q_y_given_x)[mask])
        kl_cols = np.sum(P[mask] * (log_P - log_py[None, :] - log_q_x_given_y)[mask])
    return float(kl_rows + kl_cols)


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(a - m), axis=axis))


@dataclasses.dataclass
class ScoreFit:
    """A score table trained on the in-batch loss, with its path: distance to PMI + const and excess risk."""

    score: np.ndarray
    steps: np.ndarray
    distance: np.ndarray
    excess_risk: np.ndarray
    mi_lower_bound: float


def fit_score_table(
    P,
    steps: int = 1500,
    batch: int = 256,
    lr: float = 0.1,
    record_every: int = 50,
    seed: int = 0,
    device: str | torch.device | None = None,
    eval_batches: int = 100,
) -> ScoreFit:
    """Train a free score table :math:`s \\in \\mathbb R^{n_x \\times n_y}` on fresh batches from ``P``.

    Adam with a cosine-decayed step size, starting from :math:`s \\equiv 0`. Every
    ``record_every`` steps the distance :func:`distance_to_pmi` and the excess risk
    :func:`excess_risk_large_batch` are recorded. At the
    end, ``eval_batches`` fresh batches estimate :math:`\\log B - \\mathbb E \\hat L / 2`,
    the InfoNCE lower bound on :math:`I(X;Y)`.
    """
    P = validate_joint(P)
    for arg, value, low in (("steps", steps, 1), ("batch", batch, 2), ("record_every", record_every, 1),
                            ("eval_batches", eval_batches, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{arg} must be an integer >= {low}, got {value!r}")
    if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    dev = get_device(device)
    gen = torch.Generator(device=dev).manual_seed(seed)
    flat = torch.as_tensor(P.ravel(), dtype=torch.float32, device=dev)
    ny = P.shape[1]

    def draw() -> tuple[torch.Tensor, torch.Tensor]:
        cells = torch.multinomial(flat, batch, replacement=True, generator=gen)
        return cells // ny, cells % ny

    table = torch.zeros(P.shape, dtype=torch.float32, device=dev, requires_grad=True)
    opt = torch.optim.Adam([table], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    recorded_steps, distance, excess = [], [], []
    for step in progress(range(steps + 1), desc="InfoNCE", total=steps + 1):
        if step % record_every == 0 or step == steps:
            recorded_steps.append(step)
            current = table.detach().cpu().numpy().astype(float)
            distance.append(distance_to_pmi(current, P))
            excess.append(excess_risk_large_batch(current, P))
        if step == steps:
            break
        x, y = draw()
        loss = info_nce_loss(table[x][:, y])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        mean_loss = np.mean([info_nce_loss(table[x][:, y]).item() for x, y in (draw() for _ in range(eval_batches))])
    return ScoreFit(
        score=table.detach().cpu().numpy().astype(float),
        steps=np.array(recorded_steps),
        distance=np.array(distance),
        excess_risk=np.array(excess),
        mi_lower_bound=float(math.log(batch) - mean_loss / 2),
    )


# --- the opening chapter's experiment -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PMIRecoveryConfig:
    """Grid of correlations, table size and training budget for :func:`pmi_recovery`."""

    n: int = 8
    rhos: tuple[float, ...] = (0.0, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9)
    steps: int = 1500
    batch: int = 256
    lr: float = 0.1
    record_every: int = 25

    @classmethod
    def for_scale(cls, scale: str | None = None) -> "PMIRecoveryConfig":
        scale = resolve_scale(scale)
        if scale == "quick":
            return cls(rhos=(0.0, 0.5, 0.9), steps=300, batch=128)
        if scale == "full":
            return cls(n=12, rhos=tuple(np.round(np.linspace(0.0, 0.95, 20), 2)), steps=20000, batch=1024, lr=0.05)
        return cls()


@dataclasses.dataclass
class PMIRecoveryResult:
    """Per correlation ``rhos[r]``: the joint law, its PMI, the trained score (shifted to PMI), the path."""

    config: PMIRecoveryConfig
    rhos: np.ndarray
    joints: np.ndarray  # (R, n, n)
    pmis: np.ndarray  # (R, n, n)
    scores: np.ndarray  # (R, n, n), shifted by the best constant
    steps: np.ndarray  # (T,)
    distance: np.ndarray  # (R, T)
    excess_risk: np.ndarray  # (R, T)
    mutual_information: np.ndarray  # (R,)
    mi_lower_bound: np.ndarray  # (R,)


def plot_pmi_recovery(result: PMIRecoveryResult):
    """Distance to PMI + const along training, and the InfoNCE bound against the true mutual information."""
    from .viz import new_figure, sequential_colors

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


@experiment("pmi_recovery", plot=plot_pmi_recovery)
def pmi_recovery(scale: str | None = None, seed: int = 0, device=None) -> PMIRecoveryResult:
    """Train a score table on the CLIP loss for Gaussian joints of growing correlation; track the distance to PMI."""
    cfg = PMIRecoveryConfig.for_scale(scale)
    joints = np.stack([gaussian_joint(cfg.n, rho) for rho in cfg.rhos])
    fits = [
        fit_score_table(P, steps=cfg.steps, batch=cfg.batch, lr=cfg.lr, record_every=cfg.record_every,
                        seed=seed + r, device=device)
        for r, P in enumerate(joints)
    ]
    return PMIRecoveryResult(
        config=cfg,
        rhos=np.array(cfg.rhos),
        joints=joints,
        pmis=np.stack([pmi(P) for P in joints]),
        scores=np.stack([align_to_pmi(f.score, P) for f, P in zip(fits, joints)]),
        steps=fits[0].steps,
        distance=np.stack([f.distance for f in fits]),
        excess_risk=np.stack([f.excess_risk for f in fits]),
        mutual_information=np.array([mutual_information(P) for P in joints]),
        mi_lower_bound=np.array([f.mi_lower_bound for f in fits]),
    )


def draw_pmi_recovery_state(fig, result: PMIRecoveryResult, rho: float, clip: float = 3.0) -> None:
    """One state of the opening chapter's widget: the joint law, its PMI, the learned score, the training path.

    PMI and score share one colour scale clipped to ``[-clip, clip]`` (a colour bar marks the clipping).
    """
    from .viz import DIVERGING, PALETTE

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
