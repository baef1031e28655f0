r"""Finite joint laws of two modalities and the information they share.

A joint law of an "image" :math:`X \in \{0,\dots,n_x-1\}` and a "text"
:math:`Y \in \{0,\dots,n_y-1\}` is an :math:`n_x \times n_y` array
:math:`P(x, y) \ge 0` summing to one. Its **pointwise mutual information** is

.. math:: \operatorname{pmi}(x, y) = \log \frac{P(x, y)}{P(x)\,P(y)},

and the **mutual information** is its mean, :math:`I(X;Y) = \mathbb E_P[\operatorname{pmi}(X, Y)]`
(natural logarithms, so in nats).
"""

from __future__ import annotations

import numpy as np

from ..checks import Integer, OneOf, Real, constrain

_ATOL = 1e-9


def validate_joint(P, name: str = "P") -> np.ndarray:
    """Return ``P`` as a float array after checking that it is a joint law on a finite grid.

    Raises ``ValueError`` naming ``name`` if ``P`` is not two-dimensional, has a
    negative or non-finite entry, or does not sum to one (within 1e-9).
    """
    P = np.asarray(P, dtype=float)
    if P.ndim != 2 or min(P.shape) < 1:
        raise ValueError(f"{name} must be a non-empty 2-D array (rows x, columns y), got shape {P.shape}")
    if not np.all(np.isfinite(P)):
        raise ValueError(f"{name} must have finite entries")
    if np.any(P < 0):
        raise ValueError(f"{name} must have non-negative entries, got a minimum of {P.min():.3g}")
    total = P.sum()
    if abs(total - 1.0) > _ATOL:
        raise ValueError(f"{name} must sum to 1, got {total:.12g}")
    return P


def marginals(P) -> tuple[np.ndarray, np.ndarray]:
    """The marginal laws :math:`(P(x))_x` and :math:`(P(y))_y`."""
    P = validate_joint(P)
    return P.sum(axis=1), P.sum(axis=0)


def pmi(P) -> np.ndarray:
    """The pointwise mutual information matrix; ``-inf`` where :math:`P(x, y) = 0 < P(x)P(y)`.

    Implements {eq}`eq-pmi`

    Rows or columns with zero marginal mass have undefined PMI and are returned as ``nan``.
    """
    P = validate_joint(P)
    px, py = P.sum(axis=1), P.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(P) - np.log(px)[:, None] - np.log(py)[None, :]


def mutual_information(P) -> float:
    r""":math:`I(X;Y) = \sum_{x,y} P(x,y)\,\operatorname{pmi}(x,y)` in nats (cells with :math:`P=0` add nothing)."""
    P = validate_joint(P)
    M = pmi(P)
    mask = P > 0
    return float(np.sum(P[mask] * M[mask]))


@constrain(n=Integer(2), rho=Real(-1, 1, closed="neither"), span=Real(0, closed="neither"))
def gaussian_joint(n: int, rho: float, span: float = 2.0) -> np.ndarray:
    r"""A bivariate normal with correlation :math:`\rho`, restricted to an :math:`n \times n` grid.

    Implements {eq}`eq-gaussian-joint`

    The grid is :math:`u_i = -\text{span} + 2\,\text{span}\, i/(n-1)` on both axes and

    .. math:: P(x, y) \propto \exp\!\Big(-\frac{u_x^2 - 2\rho\, u_x u_y + u_y^2}{2(1-\rho^2)}\Big).

    Because the law is an exponential of a quadratic, its PMI is
    :math:`\rho u_x u_y / (1-\rho^2) + a(x) + b(y)`: a matrix of rank at most three.
    """
    u = np.linspace(-span, span, n)
    quad = (u[:, None] ** 2 - 2 * rho * u[:, None] * u[None, :] + u[None, :] ** 2) / (2 * (1 - rho**2))
    logits = -quad
    P = np.exp(logits - logits.max())
    return P / P.sum()


def ratio_singular_values(P) -> np.ndarray:
    r"""Singular values :math:`1 = s_0 \ge s_1 \ge \dots` of the density ratio :math:`P(x,y)/(P(x)P(y))`.

    They are the singular values of the expectation operator :math:`g \mapsto \mathbb E[g(Y) \mid X = x]`
    between :math:`L^2(P_Y)` and :math:`L^2(P_X)`, computed as those of the matrix
    :math:`P(x,y) / \sqrt{P(x) P(y)}`; :math:`\sum_i s_i^2 = \sum_{x,y} P(x,y)^2 / (P(x)P(y))`.
    Rows and columns with zero marginal mass are dropped.
    """
    P = validate_joint(P)
    px, py = P.sum(axis=1), P.sum(axis=0)
    P = P[px > 0][:, py > 0]
    px, py = px[px > 0], py[py > 0]
    return np.linalg.svd(P / np.sqrt(np.outer(px, py)), compute_uv=False)


def entropy(p) -> float:
    r"""Shannon entropy :math:`-\sum p \log p` (nats) of a probability array of any shape."""
    p = np.asarray(p, dtype=float)
    if np.any(p < 0) or abs(p.sum() - 1.0) > _ATOL:
        raise ValueError("p must be a probability array: non-negative entries summing to 1")
    q = p[p > 0]
    return float(-np.sum(q * np.log(q)))


@constrain(given=OneOf("x", "y"))
def conditional(P, given: str = "x") -> np.ndarray:
    """The conditional law as a row-stochastic matrix: ``P(y | x)`` (rows x) or, with ``given="y"``, ``P(x | y)`` (rows y).

    Rows of zero marginal mass are left as zeros.
    """
    P = validate_joint(P)
    if given not in ("x", "y"):
        raise ValueError(f"given must be 'x' or 'y', got {given!r}")
    table = P if given == "x" else P.T
    mass = table.sum(axis=1, keepdims=True)
    return np.divide(table, mass, out=np.zeros_like(table), where=mass > 0)


@constrain(given=OneOf("x", "y"))
def conditional_kl(P, Q, given: str = "x") -> float:
    r"""Expected conditional divergence :math:`\mathbb E_X \mathrm{KL}(P(\cdot \mid X) \,\|\, Q(\cdot \mid X))`.

    ``Q`` is row-stochastic with one row per value of the conditioning variable
    (``given="x"``: rows x, columns y; ``given="y"``: rows y, columns x). Returns ``inf`` if
    ``Q`` puts zero mass where ``P`` does not.
    """
    cond = conditional(P, given)
    Q = np.asarray(Q, dtype=float)
    if Q.shape != cond.shape:
        raise ValueError(f"Q must have shape {cond.shape} (rows: the conditioning variable), got {Q.shape}")
    if np.any(Q < 0) or not np.allclose(Q.sum(axis=1), 1.0, atol=1e-9):
        raise ValueError("Q must be row-stochastic: non-negative rows summing to 1")
    weights = (P if given == "x" else P.T)
    mask = weights > 0
    if np.any(Q[mask] == 0):
        return float("inf")
    return float(np.sum(weights[mask] * np.log(cond[mask] / Q[mask])))


@constrain(n=Integer(0))
def validate_encoder(encoder, n: int, name: str = "encoder") -> np.ndarray:
    """Check that ``encoder`` maps ``range(n)`` to codes ``0..n_e-1``; return it as an int array."""
    enc = np.asarray(encoder)
    if enc.ndim != 1 or enc.shape[0] != n:
        raise ValueError(f"{name} must be a 1-D array with one code per value (length {n}), got shape {enc.shape}")
    if not np.issubdtype(enc.dtype, np.integer) or (n and enc.min() < 0):
        raise ValueError(f"{name} must hold non-negative integer codes")
    return enc.astype(np.int64)
