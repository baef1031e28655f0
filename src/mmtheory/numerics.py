"""Small numerical routines shared by the parts: statistics, fits, solvers, subspace geometry (numpy, no scipy)."""

from __future__ import annotations

import math

import numpy as np
import torch

from .checks import Positive, constrain


def mean_se(values) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over the last axis (the seeds or draws); the error is 0 for a single value."""
    values = np.asarray(values, dtype=float)
    k = values.shape[-1]
    se = values.std(axis=-1, ddof=1) / math.sqrt(k) if k > 1 else np.zeros(values.shape[:-1])
    return values.mean(axis=-1), se


@constrain(tol=Positive())
def golden_min(f, low: float, high: float, tol: float = 1e-13) -> float:
    """Minimiser of a unimodal function on ``[low, high]`` by golden-section search."""
    ratio = (math.sqrt(5) - 1) / 2
    a, b = low, high
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = f(c), f(d)
    while b - a > tol:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = f(d)
    return 0.5 * (a + b)


def fit_inverse_m(Ms, risks) -> tuple[float, float]:
    """Least-squares fit of ``risk(M) = a + b / M``; returns ``(a, b)``."""
    Ms, risks = np.asarray(Ms, dtype=float), np.asarray(risks, dtype=float)
    if Ms.shape != risks.shape or Ms.size < 2 or np.any(Ms < 1):
        raise ValueError("Ms and risks must be equal-length arrays of at least two points, with every M >= 1")
    a, b = np.linalg.lstsq(np.stack([np.ones_like(Ms), 1 / Ms], axis=1), risks, rcond=None)[0]
    return float(a), float(b)


def fit_prompt_expansion(Ms, risks, se, limit: float) -> tuple[float, float, float]:
    """Weighted least-squares fit of ``risk(M) = limit + b / M + c / M**2`` with the limit known.

    Returns ``(b, c, worst)``, ``worst`` the largest residual in standard errors (``se``; an ``se`` at
    round-off level, below 1e-12, as for a constant score, counts as one).
    """
    Ms, risks, se = (np.asarray(v, dtype=float) for v in (Ms, risks, se))
    if not (Ms.shape == risks.shape == se.shape) or Ms.size < 2 or np.any(Ms < 1) or np.any(se < 0):
        raise ValueError("Ms, risks and se must be equal-length arrays of at least two points, with M >= 1, se >= 0")
    w = 1 / np.where(se > 1e-12, se, 1.0)
    A = np.stack([1 / Ms, 1 / Ms**2], axis=1)
    (b, c) = np.linalg.lstsq(A * w[:, None], (risks - limit) * w, rcond=None)[0]
    worst = float(np.max(np.abs(risks - limit - A @ np.array([b, c])) * w))
    return float(b), float(c), worst


def logsumexp(x, axis: int = -1) -> np.ndarray:
    """``log(sum(exp(x), axis))`` of a numpy array, by ``torch.logsumexp`` (``-inf`` where all are ``-inf``)."""
    return torch.logsumexp(torch.as_tensor(np.asarray(x, dtype=float)), dim=axis).numpy()


def weighted_basis(F, px, centred: bool = True) -> np.ndarray:
    r"""An orthonormal basis of the span of ``F``'s columns in :math:`L^2(p_x)`, as :math:`D^{1/2}`-scaled coordinates.

    With ``centred`` the columns are centred under ``px`` first (the constant function is left out).
    """
    px = np.asarray(px, dtype=float)
    F = np.asarray(F, dtype=float).reshape(px.size, -1)
    G = np.sqrt(px)[:, None] * ((F - px @ F) if centred else F)
    U, sv, _ = np.linalg.svd(G, full_matrices=False)
    return U[:, sv > 1e-10 * max(sv.max(initial=0), 1e-300)]


def principal_cosines(F, G, px=None, centred: bool = True) -> np.ndarray:
    r"""Cosines of the principal angles between the spans of ``F`` and ``G`` in :math:`L^2(p_x)`, descending.

    ``F`` and ``G`` hold functions of :math:`x` as columns (``N x d`` and ``N x d'``); ``px`` defaults to
    uniform. With ``centred`` (the default) the spans are centred first, which makes this canonical
    correlation analysis (the cosines are the canonical correlations); without it the constant function
    counts, as it must for eigenvectors of a Markov kernel, whose first one is the constant.
    All equal 1 when the spans coincide; there are ``min(rank F, rank G)`` of them.
    """
    F = np.asarray(F, dtype=float)
    N = F.shape[0]
    px = np.full(N, 1.0 / N) if px is None else np.asarray(px, dtype=float)
    BF, BG = weighted_basis(F, px, centred), weighted_basis(G, px, centred)
    return np.clip(np.linalg.svd(BF.T @ BG, compute_uv=False), 0.0, 1.0)


def _ridge_moments(Phi, labelled, y, ridge) -> tuple[np.ndarray, ...]:
    """Checked inputs and the centred normal equations of the ridge probe on the labelled rows."""
    Phi = np.asarray(Phi, dtype=float)
    Phi = Phi.reshape(Phi.shape[0], -1)
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


@constrain(ridge=Positive(allow_zero=True))
def ridge_predict(Phi, labelled, y, ridge: float = 1e-2) -> np.ndarray:
    r"""Predictions on every row of a ridge probe fitted on the rows ``labelled`` with labels ``y``.

    The probe minimises :math:`\frac1m\sum_j (w^\top\Phi(x_j) + b - y_j)^2 + \lambda\|w\|^2` (the intercept
    :math:`b` is not penalised; ``ridge = 0`` gives the minimum-norm least-squares fit); ``Phi`` holds one
    feature per column, ``y`` one target per column if it is 2-D (each fitted on its own).
    """
    centred, y_mean, gram, rhs, ridge = _ridge_moments(Phi, labelled, y, ridge)
    return centred @ _ridge_solve(gram, rhs, ridge) + y_mean


@constrain(ridge=Positive(allow_zero=True))
def nested_ridge_predict(Phi, labelled, y, ridge: float = 1e-2) -> np.ndarray:
    """:func:`ridge_predict` on the first ``d`` columns of ``Phi``, for every ``d``: an ``N x D`` array."""
    centred, y_mean, gram, rhs, ridge = _ridge_moments(Phi, labelled, y, ridge)
    D = rhs.size
    W = np.zeros((D, D))
    for d in range(1, D + 1):
        W[:d, d - 1] = _ridge_solve(gram[:d, :d], rhs[:d], ridge)
    return centred @ W + y_mean
