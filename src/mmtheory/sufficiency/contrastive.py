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

from ..checks import Device, Integer, OneOf, Positive, check_integer, constrain
from ..numerics import logsumexp
from ..runtime import get_device
from ..train import Optimisation, train
from .joint import pmi, validate_joint


def info_nce_loss(scores: torch.Tensor) -> torch.Tensor:
    """Symmetric in-batch InfoNCE (both directions summed) of a ``(B, B)`` score matrix; positives on the diagonal.

    Implements {eq}`eq-infonce`

    A stack ``(..., B, B)`` of independent score matrices gives one loss per matrix, of shape ``(...)``.
    """
    if scores.ndim < 2 or scores.shape[-1] != scores.shape[-2] or scores.shape[-1] < 2:
        raise ValueError(f"scores must be a square (B, B) matrix (or a stack of them) with B >= 2, "
                         f"got shape {tuple(scores.shape)}")
    B, batch = scores.shape[-1], scores.shape[:-2]
    flat = scores.reshape(-1, B, B)
    target = torch.arange(B, device=scores.device).repeat(flat.shape[0])
    rows = F.cross_entropy(flat.reshape(-1, B), target, reduction="none")
    cols = F.cross_entropy(flat.transpose(1, 2).reshape(-1, B), target, reduction="none")
    return (rows + cols).reshape(*batch, B).mean(-1)


def _check_score(score, P) -> tuple[np.ndarray, np.ndarray]:
    P = validate_joint(P)
    score = np.asarray(score, dtype=float)
    if score.shape != P.shape:
        raise ValueError(f"score must have the shape of P {P.shape}, got {score.shape}")
    if np.any(np.isnan(score)) or np.any(score == np.inf):
        raise ValueError("score must have no NaN or +inf entries (-inf marks pairs it rules out)")
    return score, P


def align_to_pmi(score, P) -> np.ndarray:
    r"""Shift ``score`` by the constant :math:`c = \mathbb E_P[\operatorname{pmi} - s]` that brings it closest to PMI."""
    score, P = _check_score(score, P)
    mask = P > 0
    return score + np.sum(P[mask] * (pmi(P)[mask] - score[mask]))


def distance_to_pmi(score, P) -> float:
    r"""How far a score table is from PMI + const on the pairs the data shows.

    Implements {eq}`eq-distance`

    .. math:: d(s) = \min_c \Big(\sum_{x,y} P(x,y)\,\big(s(x,y) - \operatorname{pmi}(x,y) - c\big)^2\Big)^{1/2}.

    The symmetric loss cannot see an additive constant, so neither does :math:`d`.
    """
    score, P = _check_score(score, P)
    mask = P > 0
    gap = align_to_pmi(score, P)[mask] - pmi(P)[mask]
    return float(np.sqrt(np.sum(P[mask] * gap**2)))


@constrain(direction=OneOf("both", "x_to_y", "y_to_x"))
def excess_risk_large_batch(score, P, direction: str = "both") -> float:
    r"""Excess of the symmetric loss over its minimum as the batch grows, :math:`B \to \infty`.

    Implements {prf:ref}`prop-large-batch`

    With :math:`Q_s(y \mid x) \propto P(y)\,e^{s(x,y)}` and :math:`Q_s(x \mid y) \propto P(x)\,e^{s(x,y)}`,

    .. math::

       \Delta(s) = \sum_x P(x)\, \mathrm{KL}\big(P(\cdot \mid x) \,\|\, Q_s(\cdot \mid x)\big)
                + \sum_y P(y)\, \mathrm{KL}\big(P(\cdot \mid y) \,\|\, Q_s(\cdot \mid y)\big),

    which is zero exactly when :math:`s = \operatorname{pmi} + c` on the support (for a law with full support).
    ``direction="x_to_y"`` or ``"y_to_x"`` returns one of the two terms.
    """
    score, P = _check_score(score, P)
    px, py = P.sum(axis=1), P.sum(axis=0)
    mask = P > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        log_px, log_py, log_P = np.log(px), np.log(py), np.log(P)
        log_q_y_given_x = log_py[None, :] + score
        log_q_y_given_x -= logsumexp(log_q_y_given_x, axis=1)[:, None]
        log_q_x_given_y = log_px[:, None] + score
        log_q_x_given_y -= logsumexp(log_q_x_given_y, axis=0)[None, :]
        kl_rows = np.sum(P[mask] * (log_P - log_px[:, None] - log_q_y_given_x)[mask])
        kl_cols = np.sum(P[mask] * (log_P - log_py[None, :] - log_q_x_given_y)[mask])
    return float({"both": kl_rows + kl_cols, "x_to_y": kl_rows, "y_to_x": kl_cols}[direction])


def _check_k(K) -> int:
    return check_integer(K, "K", 2, note="one positive and at least one negative")


def _negative_count_vectors(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """All count vectors of ``k`` draws over ``n`` values (rows) and their log multinomial coefficients."""
    from itertools import combinations_with_replacement
    from math import lgamma

    counts = np.array([np.bincount(c, minlength=n) for c in combinations_with_replacement(range(n), k)])
    log_factorial = np.array([lgamma(c + 1) for c in range(k + 1)])
    return counts, lgamma(k + 1) - log_factorial[counts].sum(axis=1)


def _one_direction_exact(score: np.ndarray, P: np.ndarray, K: int) -> float:
    r"""Image-to-text term: :math:`\mathbb E[-s(x, y_1) + \log(e^{s(x,y_1)} + \sum_{k \ge 2} e^{s(x, y_k)})]`."""
    py = P.sum(axis=0)
    counts, log_coef = _negative_count_vectors(P.shape[1], K - 1)
    with np.errstate(divide="ignore"):
        log_prob = log_coef + counts @ np.where(py > 0, np.log(py), -np.inf)  # multinomial weights, (m,)
    keep = np.isfinite(log_prob)
    counts, prob = counts[keep], np.exp(log_prob[keep])
    top = np.max(np.where(np.isfinite(score), score, -np.inf), axis=1, keepdims=True)
    e = np.exp(score - top)  # (n_x, n_y), entries in [0, 1]
    negatives = e @ counts.T  # (n_x, m): sum over the K-1 negatives of e^{s(x, y_k) - top}
    log_total = np.log(e[:, :, None] + negatives[:, None, :]) + top[:, :, None]  # (n_x, n_y, m)
    mask = P > 0
    return float(np.sum(P[mask] * ((log_total @ prob)[mask] - score[mask])))


@constrain(K=Integer(2, note="one positive and at least one negative"), direction=OneOf("both", "x_to_y", "y_to_x"),
           max_terms=Integer(1))
def clip_risk_exact(score, P, K: int, direction: str = "both", max_terms: int = 20_000_000) -> float:
    r"""The :math:`K`-sample contrastive risk of a score table, both directions summed, exactly.

    Implements {eq}`eq-clip-risk-k`

    .. math::

       R_K(s) = \mathbb E\Big[-\log \frac{e^{s(x_1, y_1)}}{\sum_{k=1}^K e^{s(x_1, y_k)}}\Big]
              + \mathbb E\Big[-\log \frac{e^{s(x_1, y_1)}}{\sum_{k=1}^K e^{s(x_k, y_1)}}\Big],

    with :math:`(x_1, y_1) \sim P` and the negatives drawn independently from the marginals (the
    convention of Oko et al., 2025). The expectation over the :math:`K-1` negatives is a finite sum
    over their count vectors, weighted by the multinomial law; its size grows like
    :math:`\binom{n + K - 2}{K - 1}`, so ``max_terms`` (entries of the largest array) guards
    against asking for the impossible: use :func:`clip_risk_monte_carlo` there.
    ``direction="x_to_y"`` or ``"y_to_x"`` returns one of the two terms.
    """
    score, P = _check_score(score, P)
    return _by_enumeration(_one_direction_exact, score, P, K, direction, max_terms,
                           lambda n_other, n_anchor: math.comb(n_other + K - 2, K - 1) * n_anchor * n_other,
                           "; use clip_risk_monte_carlo")


def _by_enumeration(one_direction, score, P, K: int, direction: str, max_terms: int, size, hint: str = "") -> float:
    """Sum an enumeration over candidate count vectors in the asked direction(s), refusing one whose largest
    array (``size(n_other, n_anchor)`` entries) exceeds ``max_terms``."""
    for n_other, n_anchor in ((P.shape[1], P.shape[0]), (P.shape[0], P.shape[1])):
        terms = size(n_other, n_anchor)
        if terms > max_terms:
            raise ValueError(f"K = {K} on a {P.shape[0]}x{P.shape[1]} table needs {terms:.3g} terms, more than "
                             f"max_terms = {max_terms}{hint}")
    x_to_y = one_direction(score, P, K) if direction != "y_to_x" else 0.0
    y_to_x = one_direction(score.T, P.T, K) if direction != "x_to_y" else 0.0
    return x_to_y + y_to_x


def _mixture_kl_one_direction(score: np.ndarray, P: np.ndarray, K: int) -> float:
    px, py = P.sum(axis=1), P.sum(axis=0)
    rows, cols = px > 0, py > 0
    P, score, px, py = P[rows][:, cols], score[rows][:, cols], px[rows], py[cols]
    counts, log_coef = _negative_count_vectors(py.size, K)
    prob = np.exp(log_coef + counts @ np.log(py))  # multinomial law of the K candidates' counts
    r = P / np.outer(px, py)  # P(y | x) / P(y)
    e = np.exp(score - score.max(axis=1, keepdims=True))
    t = e / (e @ py)[:, None]  # Q_s(y | x) / P(y)
    R, T = r @ counts.T / K, t @ counts.T / K  # densities of P^mix_x, Q^mix_x against P_Y^K, (n_x, m)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(R > 0, R * np.log(R / T), 0.0)
    return float(px @ (terms @ prob))


@constrain(K=Integer(2, note="one positive and at least one negative"), direction=OneOf("both", "x_to_y", "y_to_x"),
           max_terms=Integer(1))
def mixture_kl(score, P, K: int, direction: str = "x_to_y", max_terms: int = 20_000_000) -> float:
    r"""What :math:`K` candidates hide of a score's error: :math:`\mathbb E_x \mathrm{KL}(P^{\rm mix}_x \| Q^{\rm mix}_x)`.

    Implements {prf:ref}`prop-finite-k`

    :math:`P^{\rm mix}_x` is the law of the :math:`K` candidates :math:`(y_1, \dots, y_K)` of an anchor
    :math:`x` (one from :math:`P(\cdot \mid x)` at a uniform position, the others from :math:`P_Y`) and
    :math:`Q^{\rm mix}_x` the same with :math:`Q_s(\cdot \mid x) \propto P_Y e^{s(x, \cdot)}` in place of
    :math:`P(\cdot \mid x)`. The finite-:math:`K` excess is :math:`\Delta(s)` minus this, direction by
    direction. Exact: both densities against :math:`P_Y^{\otimes K}` depend on the candidates only through
    their counts, so the sum runs over count vectors (``max_terms`` bounds its size, as in
    :func:`clip_risk_exact`).
    """
    score, P = _check_score(score, P)
    return _by_enumeration(_mixture_kl_one_direction, score, P, K, direction, max_terms,
                           lambda n_other, n_anchor: math.comb(n_other + K - 1, K) * max(n_anchor, n_other))


@constrain(B=Positive())
def finite_k_constant(B: float) -> float:
    r"""The constant :math:`C_B = e^{4B} \sup_{0 < a \le e^{3B}} (a-1)^2 / (a\log a - a + 1)` of {prf:ref}`cor-finite-k`.

    Implements {prf:ref}`cor-finite-k`

    With scores and PMI bounded by :math:`B` in absolute value,
    :math:`\mathbb E_x\mathrm{KL}(P^{\rm mix}_x \| Q^{\rm mix}_x) \le (C_B / K)\,\Delta(s)` direction by direction.
    The ratio :math:`(a-1)^2/(a \log a - a + 1)` increases in :math:`a`, so the supremum is its value at
    :math:`e^{3B}` (at least 2, its limit at :math:`a = 1`).
    """
    u = 3 * B  # a = e^u; phi(a) = u e^u - e^u + 1 = sum_{n >= 2} (n - 1) u^n / n!, summed directly for small u
    phi = sum((n - 1) * u**n / math.factorial(n) for n in range(2, 40)) if u < 1 else u * math.exp(u) - math.expm1(u)
    return math.exp(4 * B) * max(2.0, math.expm1(u) ** 2 / phi)


@constrain(K=Integer(2, note="one positive and at least one negative"), n=Integer(2),
           convention=OneOf("iid", "in_batch"), seed=Integer(0), chunk=Integer(1))
def monte_carlo_losses(scores: list[np.ndarray], P: np.ndarray, K: int, n: int, convention: str,
                        seed: int, chunk: int = 20_000) -> np.ndarray:
    """Per-anchor (``iid``) or per-batch (``in_batch``) losses of every score on the same draws, ``(len(scores), n)``."""
    rng = np.random.default_rng(seed)
    nx, ny = P.shape
    px, py, flat = P.sum(axis=1), P.sum(axis=0), P.ravel()
    out = np.empty((len(scores), n))
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        if convention == "iid":
            cells = rng.choice(P.size, size=m, p=flat)
            x, y = cells // ny, cells % ny
            neg_y = rng.choice(ny, size=(m, K - 1), p=py)
            neg_x = rng.choice(nx, size=(m, K - 1), p=px)
            for i, score in enumerate(scores):
                pos = score[x, y]
                rows = np.concatenate([pos[:, None], score[x[:, None], neg_y]], axis=1)
                cols = np.concatenate([pos[:, None], score[neg_x, y[:, None]]], axis=1)
                out[i, start:start + m] = logsumexp(rows, axis=1) + logsumexp(cols, axis=1) - 2 * pos
        else:
            cells = rng.choice(P.size, size=(m, K), p=flat)
            x, y = cells // ny, cells % ny
            for i, score in enumerate(scores):
                S = score[x[:, :, None], y[:, None, :]]  # (m, K, K)
                diag = np.diagonal(S, axis1=1, axis2=2)
                out[i, start:start + m] = np.mean(logsumexp(S, axis=2) + logsumexp(S, axis=1) - 2 * diag, axis=1)
    return out


@constrain(K=Integer(2, note="one positive and at least one negative"), n=Integer(2),
           convention=OneOf("iid", "in_batch"), seed=Integer(0))
def clip_risk_monte_carlo(score, P, K: int, n: int = 100_000, convention: str = "iid",
                          seed: int = 0) -> tuple[float, float]:
    """Monte Carlo estimate of :func:`clip_risk_exact` and its standard error, under either batch convention.

    ``convention="iid"``: ``n`` anchors, each direction with its own :math:`K-1` fresh negatives.
    ``convention="in_batch"``: ``n`` batches of :math:`K` pairs, the loss :func:`info_nce_loss` of each
    batch's :math:`K \\times K` score matrix (every pair is an anchor; negatives are shared).
    Both have expectation :math:`R_K(s)`; they differ in variance. The standard error is over
    independent anchors (``iid``) or batches (``in_batch``).
    """
    score, P = _check_score(score, P)
    values = monte_carlo_losses([score], P, K, n, convention, seed)[0]
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(n))


@constrain(K=Integer(2, note="one positive and at least one negative"), n=Integer(2),
           convention=OneOf("iid", "in_batch"), seed=Integer(0))
def clip_excess_monte_carlo(score, reference, P, K: int, n: int = 100_000, convention: str = "iid",
                            seed: int = 0) -> tuple[float, float]:
    """:math:`R_K(s) - R_K(s_{\\rm ref})` and its standard error, both risks on the same draws
    (common random numbers make the difference far more precise than either risk)."""
    score, P = _check_score(score, P)
    reference, _ = _check_score(reference, P)
    values = monte_carlo_losses([score, reference], P, K, n, convention, seed)
    gap = values[0] - values[1]
    return float(gap.mean()), float(gap.std(ddof=1) / np.sqrt(n))


@dataclasses.dataclass
class ScoreFit:
    """A score table trained on the in-batch loss, with its path: distance to PMI + const and excess risk."""

    score: np.ndarray
    steps: np.ndarray
    distance: np.ndarray
    excess_risk: np.ndarray
    mi_lower_bound: float


@constrain(steps=Integer(1), batch=Integer(2), lr=Positive(note="the learning rate"), record_every=Integer(1),
           seed=Integer(0), device=Device(), eval_batches=Integer(1), convention=OneOf("in_batch", "iid"),
           K=Integer(2, none_ok=True, note="one positive and at least one negative"))
def fit_score_table(
    P,
    steps: int = 1500,
    batch: int = 256,
    lr: float = 0.1,
    record_every: int = 50,
    seed: int = 0,
    device: str | torch.device | None = None,
    eval_batches: int = 100,
    convention: str = "in_batch",
    K: int | None = None,
    encoder=None,
) -> ScoreFit:
    """Train a free score table :math:`s \\in \\mathbb R^{n_x \\times n_y}` on fresh batches from ``P``.

    Adam with a cosine-decayed step size, starting from :math:`s \\equiv 0`. Every
    ``record_every`` steps the distance :func:`distance_to_pmi` and the excess risk
    :func:`excess_risk_large_batch` are recorded. At the
    end, ``eval_batches`` fresh batches estimate :math:`\\log K - \\mathbb E \\hat L / 2`,
    the InfoNCE lower bound on :math:`I(X;Y)`.

    ``convention="in_batch"`` (CLIP): each step draws ``batch`` pairs and uses the
    :math:`B \\times B` score matrix, so :math:`K = B`. ``convention="iid"`` (Oko et al.): each of
    the ``batch`` anchors gets its own ``K - 1`` fresh negatives in each direction.
    With an ``encoder`` of :math:`X` (codes, as in :mod:`mmtheory.sufficiency`) the table is
    :math:`h(E(x), y)`: a score that sees the image only through its code.
    """
    P = validate_joint(P)
    settings = Optimisation(steps, lr)
    if convention == "iid":
        K = _check_k(K)
    elif K is not None and K != batch:
        raise ValueError(f"K must be omitted (it equals batch = {batch}) with convention='in_batch', got {K!r}")
    else:
        K = batch
    dev = get_device(device)
    gen = torch.Generator(device=dev).manual_seed(seed)
    flat = torch.as_tensor(P.ravel(), dtype=torch.float32, device=dev)
    px = torch.as_tensor(P.sum(axis=1), dtype=torch.float32, device=dev)
    py = torch.as_tensor(P.sum(axis=0), dtype=torch.float32, device=dev)
    ny = P.shape[1]

    def batch_loss(table: torch.Tensor) -> torch.Tensor:
        cells = torch.multinomial(flat, batch, replacement=True, generator=gen)
        x, y = cells // ny, cells % ny
        if convention == "in_batch":
            return info_nce_loss(table[x][:, y])
        neg_y = torch.multinomial(py, batch * (K - 1), replacement=True, generator=gen).view(batch, K - 1)
        neg_x = torch.multinomial(px, batch * (K - 1), replacement=True, generator=gen).view(batch, K - 1)
        pos = table[x, y][:, None]
        rows = torch.cat([pos, table[x[:, None], neg_y]], dim=1)
        cols = torch.cat([pos, table[neg_x, y[:, None]]], dim=1)
        first = torch.zeros(batch, dtype=torch.long, device=dev)
        return F.cross_entropy(rows, first) + F.cross_entropy(cols, first)

    if encoder is None:
        codes, n_codes = torch.arange(P.shape[0], device=dev), P.shape[0]
    else:
        from .joint import validate_encoder

        enc = validate_encoder(encoder, P.shape[0])
        codes, n_codes = torch.as_tensor(enc, device=dev), int(enc.max()) + 1
    free = torch.zeros((n_codes, P.shape[1]), dtype=torch.float32, device=dev, requires_grad=True)
    recorded_steps, distance, excess = [], [], []

    def evaluate(step):
        recorded_steps.append(step)
        current = free[codes].detach().cpu().numpy().astype(float)
        distance.append(distance_to_pmi(current, P))
        excess.append(excess_risk_large_batch(current, P))

    train([free], lambda step: batch_loss(free[codes]), settings, desc="InfoNCE", record_every=record_every,
          callback=evaluate)
    with torch.no_grad():
        mean_loss = np.mean([batch_loss(free[codes]).item() for _ in range(eval_batches)])
    return ScoreFit(
        score=free[codes].detach().cpu().numpy().astype(float),
        steps=np.array(recorded_steps),
        distance=np.array(distance),
        excess_risk=np.array(excess),
        mi_lower_bound=float(math.log(K) - mean_loss / 2),
    )


# --- the opening chapter's experiment -------------------------------------------------------------


