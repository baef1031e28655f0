r"""Contextures: the expectation operator of a context and its singular functions.

A **context** is a joint law :math:`P^+(x, a)` of an input :math:`X` and a context variable
:math:`A` (a label, a masked copy, a neighbour, a caption). On finite spaces it is an
:math:`N \times M` array. Its **expectation operator** is

.. math:: (T g)(x) = \mathbb E[g(A) \mid X = x], \qquad T: L^2(P_A) \to L^2(P_X),

with singular values :math:`1 = s_0 \ge s_1 \ge \dots` and left singular functions
:math:`\mu_0 \equiv 1, \mu_1, \dots` orthonormal in :math:`L^2(P_X)`. They are computed from the
matrix :math:`Q = D_X^{-1/2} P D_A^{-1/2}` (Zhai et al., 2025): a plain SVD of :math:`P` or of
:math:`T` gives the wrong functions unless both marginals are uniform.

Every inner product here is the one of :math:`L^2(P_X)`: functions on :math:`X` are length-:math:`N`
vectors (or :math:`N \times d` matrices, one function per column) weighted by :math:`p_x`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .checks import check_integer, check_probability
from .joint import validate_joint
from .numerics import golden_min


# --------------------------------------------------------------------------- the operator and its SVD


def validate_context(P, name: str = "P") -> np.ndarray:
    """Return ``P`` as a float array if it is a joint law whose two marginals are positive everywhere."""
    P = validate_joint(P, name)
    for axis, what in ((1, "row (every x)"), (0, "column (every a)")):
        mass = P.sum(axis=axis)
        if np.any(mass <= 0):
            raise ValueError(f"{name} must give every {what} positive probability; "
                             f"{int(np.sum(mass <= 0))} have none (drop them first)")
    return P


def expectation_operator(P) -> np.ndarray:
    r"""The row-stochastic matrix :math:`T_{xa} = P^+(a \mid x)`, so that :math:`(Tg)(x) = \sum_a T_{xa} g(a)`."""
    P = validate_context(P)
    return P / P.sum(axis=1, keepdims=True)


def dual_kernel(P) -> np.ndarray:
    r"""The dual kernel :math:`k_X^+(x, x') = \sum_a P^+(a\mid x) P^+(a \mid x') / P_A(a)` as an :math:`N\times N` array.

    Its integral operator :math:`f \mapsto \sum_{x'} k_X^+(\cdot, x') f(x') p_{x'}` is :math:`TT^*`,
    with eigenvalues :math:`s_i^2`.
    """
    T = expectation_operator(P)
    return (T / P.sum(axis=0)) @ T.T


@dataclasses.dataclass(frozen=True)
class ContextSVD:
    """The singular system of a finite context.

    ``s`` has length ``N`` (zeros where the rank runs out) and starts with ``s[0] = 1``;
    ``mu[:, i]`` are the left singular functions, a complete orthonormal basis of :math:`L^2(P_X)`
    with ``mu[:, 0] = 1``; ``nu[:, i]`` the right ones for ``i < min(N, M)``.
    """

    s: np.ndarray
    mu: np.ndarray
    nu: np.ndarray
    px: np.ndarray
    pa: np.ndarray


def context_svd(P) -> ContextSVD:
    r"""Singular values and functions of :math:`T` from the SVD of :math:`Q = D_X^{-1/2} P D_A^{-1/2}`.

    :math:`\mu_i = D_X^{-1/2} U_{:,i}` and :math:`\nu_i = D_A^{-1/2} V_{:,i}`; signs are fixed so that
    each :math:`\mu_i` has a positive weighted mean against the ramp ``1, 2, ..., N`` (ties broken by
    the largest entry), which makes repeated calls and plots reproducible.
    """
    P = validate_context(P)
    px, pa = P.sum(axis=1), P.sum(axis=0)
    Q = P / np.sqrt(np.outer(px, pa))
    U, s, Vt = np.linalg.svd(Q, full_matrices=False)
    N, k = P.shape[0], s.size
    if k < N:  # complete U to a basis of R^N; the extra directions have s = 0
        U = np.hstack([U, np.linalg.svd(U, full_matrices=True)[0][:, k:]])
        s = np.concatenate([s, np.zeros(N - k)])
    V = Vt.T.copy()
    _constant_first(U, V, s, np.sqrt(px))
    signs = _orientation(U[:, 1:])
    U[:, 1:] *= signs
    V[:, 1:k] *= signs[: k - 1]
    return ContextSVD(s=s, mu=U / np.sqrt(px)[:, None], nu=V / np.sqrt(pa)[:, None], px=px, pa=pa)


def _constant_first(U: np.ndarray, V: np.ndarray, s: np.ndarray, root_px: np.ndarray) -> None:
    """Rotate the singular vectors of ``s = 1`` (in place) so that the first is the constant function.

    The constant is always a singular pair with ``s = 1``; when the context splits into pieces that share no
    context value, ``s = 1`` is repeated and an SVD may return any basis of that block. Rotating U and V by one
    orthogonal matrix keeps ``U diag(s) V^T`` unchanged inside a block of equal singular values.
    """
    m = int(np.sum(s > 1 - 1e-10))
    c = U[:, :m].T @ root_px  # the constant's coordinates in the block: a unit vector
    R = np.linalg.qr(np.column_stack([c, np.eye(m)]))[0][:, :m]
    R[:, 0] *= np.sign(R[:, 0] @ c)
    U[:, :m], V[:, :m] = U[:, :m] @ R, V[:, :m] @ R


def _orientation(U: np.ndarray) -> np.ndarray:
    ramp = np.arange(1, U.shape[0] + 1)
    score = ramp @ U
    flat = np.abs(score) < 1e-9 * np.abs(U).sum(axis=0)
    peak = U[np.argmax(np.abs(U), axis=0), np.arange(U.shape[1])]
    return np.where(flat, np.sign(peak), np.sign(score)).astype(float)


def _check_d(d, s: np.ndarray, name: str = "d") -> int:
    rank = int(np.sum(s[1:] > 1e-12))
    return check_integer(d, name, 1, max(rank, 1), note=f"the number of non-zero s_i with i >= 1 is {rank}")


# --------------------------------------------------------------------------- closed-form contexts


def check_rho(rho) -> float:
    """Return the correlation ``rho`` of a Gaussian-noise context as a float if it is in ``[0, 1)``; else ``ValueError``."""
    return check_probability(rho, "rho (the correlation of the context)", closed_high=False)


def gaussian_context(rho: float, n: int = 161, span: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    r"""Gaussian noise :math:`A = \rho X + \sqrt{1-\rho^2}\,\varepsilon`, :math:`X \sim N(0,1)`, on a grid.

    Returns the joint table on ``n`` grid points in :math:`[-\text{span}, \text{span}]` (both axes) and
    the grid. By Mehler's formula the singular functions are :math:`\mathrm{He}_k/\sqrt{k!}` and
    :math:`s_k = |\rho|^k`; the grid is a trapezoidal rule, which is exponentially accurate for these
    smooth, fast-decaying integrands (with the defaults, :math:`s_k` agree with :math:`\rho^k` to
    about 1e-13).
    """
    from .joint import gaussian_joint

    return gaussian_joint(n, check_rho(rho), span), np.linspace(-span, span, n)


def hermite_functions(u, k: int) -> np.ndarray:
    r"""The orthonormal probabilists' Hermite polynomials :math:`\mathrm{He}_j(u)/\sqrt{j!}`, ``j = 0..k``, as columns."""
    k = check_integer(k, "k", 0)
    u = np.asarray(u, dtype=float)
    H = np.empty(u.shape + (k + 1,))
    H[..., 0] = 1.0
    if k >= 1:
        H[..., 1] = u
    for j in range(2, k + 1):
        H[..., j] = u * H[..., j - 1] - (j - 1) * H[..., j - 2]
    return H / np.sqrt([math.factorial(j) for j in range(k + 1)])


def hypercube_points(n: int) -> np.ndarray:
    """All ``2**n`` points of :math:`\\{-1, +1\\}^n` as rows (in binary order)."""
    n = check_integer(n, "n", 1, 14)
    bits = (np.arange(2**n)[:, None] >> np.arange(n - 1, -1, -1)) & 1
    return 1.0 - 2.0 * bits


def hypercube_context(n: int, p: float) -> np.ndarray:
    r"""Masking on the hypercube: :math:`X` uniform on :math:`\{\pm 1\}^n`, each coordinate hidden with probability ``p``.

    :math:`A \in \{-1, 0, +1\}^n` (0 = masked), in base-3 order with digit ``0, 1, 2`` for
    ``-1, 0 (mask), +1``. The table is :math:`2^n \times 3^n`. The singular functions are the parities
    :math:`\chi_S(x) = \prod_{i \in S} x_i` with :math:`s_S = (1-p)^{|S|/2}`.
    """
    n = check_integer(n, "n", 1, 9, note="the table has 2^n x 3^n entries")
    p = check_probability(p, "p (the mask rate)", closed_high=False)
    # one coordinate: rows x = +1, -1 (the order of hypercube_points); columns a = -1, mask, +1
    single = np.array([[0.0, p, 1 - p], [1 - p, p, 0.0]])
    cond = np.ones((1, 1))
    for _ in range(n):
        cond = np.einsum("xa,yb->xyab", cond, single).reshape(cond.shape[0] * 2, cond.shape[1] * 3)
    return cond / 2**n


def hypercube_spectrum(n: int, p: float) -> np.ndarray:
    r"""The exact singular values :math:`(1-p)^{|S|/2}` over all :math:`S \subseteq \{1..n\}`, descending."""
    n = check_integer(n, "n", 1, 14)
    p = check_probability(p, "p (the mask rate)", closed_high=False)
    sizes = np.concatenate([[k] * math.comb(n, k) for k in range(n + 1)])
    return (1 - p) ** (sizes / 2)


def parities(n: int, level: int) -> np.ndarray:
    r"""The parities :math:`\chi_S` with :math:`|S| = ` ``level`` as columns, on :func:`hypercube_points` ``(n)``."""
    from itertools import combinations

    X = hypercube_points(n)
    level = check_integer(level, "level", 0, n)
    return np.stack([X[:, list(S)].prod(axis=1) for S in combinations(range(n), level)], axis=1)


def ring_context(N: int, sigma: float, lazy: bool = False) -> np.ndarray:
    r"""A random walk on the ring :math:`\mathbb Z_N`: :math:`P(a \mid x) \propto \exp(-\mathrm{dist}(x,a)^2 / 2\sigma^2)`.

    :math:`X` is uniform and :math:`A = X` in law, so :math:`T` is a circulant matrix whose singular
    functions are the Fourier modes (:func:`ring_spectrum`). ``lazy`` mixes in staying put,
    :math:`(I + T)/2`, which makes :math:`T` positive semi-definite.
    """
    N = check_integer(N, "N", 3)
    if not (isinstance(sigma, (int, float, np.floating)) and sigma > 0):
        raise ValueError(f"sigma must be positive, got {sigma!r}")
    w = _ring_weights(N, sigma)
    T = np.stack([np.roll(w, x) for x in range(N)])
    if lazy:
        T = 0.5 * (np.eye(N) + T)
    return T / N


def _ring_weights(N: int, sigma: float) -> np.ndarray:
    j = np.arange(N)
    dist = np.minimum(j, N - j)
    w = np.exp(-(dist**2) / (2 * sigma**2))
    return w / w.sum()


def ring_spectrum(N: int, sigma: float) -> np.ndarray:
    r""":math:`s_k = |\sum_j w_j \cos(2\pi k j / N)|` for ``k = 0..N-1`` (each :math:`k` and :math:`N-k` are one pair), descending."""
    N = check_integer(N, "N", 3)
    w = _ring_weights(N, float(sigma))
    k = np.arange(N)
    return np.sort(np.abs(np.cos(2 * np.pi * np.outer(k, np.arange(N)) / N) @ w))[::-1]


def label_context(classes, eta: float, C: int | None = None, px=None) -> np.ndarray:
    r"""Noisy labels: :math:`P(a \mid x) = (1-\eta)\,\mathbb 1\{a = c(x)\} + \eta / C`.

    ``classes[x]`` is the class of item ``x`` (integers in ``0..C-1``), ``px`` the law of the items
    (uniform if omitted). With balanced classes :math:`s_1 = \dots = s_{C-1} = 1-\eta` and every other
    :math:`s_i = 0`; the :math:`\mu_i` span the centred class indicators.
    """
    classes = np.asarray(classes)
    if classes.ndim != 1 or classes.size < 2 or not np.issubdtype(classes.dtype, np.integer):
        raise ValueError("classes must be a 1-D integer array with at least two items")
    C = int(classes.max()) + 1 if C is None else check_integer(C, "C", 2)
    if classes.min() < 0 or classes.max() >= C:
        raise ValueError(f"classes must lie in 0..{C - 1}")
    eta = check_probability(eta, "eta (the label noise)", closed_high=False)
    N = classes.size
    px = np.full(N, 1.0 / N) if px is None else np.asarray(px, dtype=float)
    cond = (1 - eta) * np.eye(C)[classes] + eta / C
    return validate_context(px[:, None] * cond)


def knn_context(points, K: int) -> np.ndarray:
    r"""The :math:`K`-nearest-neighbour context on a sample: :math:`A` is one of the :math:`K` nearest other points.

    :math:`X` is uniform over the ``n`` points and :math:`P(a \mid x) = 1/K` for the ``K`` nearest
    (Euclidean, excluding ``x`` itself). A smaller ``K`` is a stronger association. Points that are
    nobody's neighbour have no mass as values of :math:`A` and their columns are dropped, so the
    table is ``n x m`` with ``m <= n`` (columns in the order of the points that remain).
    """
    points = _check_points(points)
    n = points.shape[0]
    K = check_integer(K, "K", 1, n - 1, note="the number of other points")
    dist = np.sum((points[:, None, :] - points[None, :, :]) ** 2, axis=-1)
    np.fill_diagonal(dist, np.inf)
    nearest = np.argsort(dist, axis=1, kind="stable")[:, :K]
    cond = np.zeros((n, n))
    np.put_along_axis(cond, nearest, 1.0 / K, axis=1)
    return cond[:, cond.sum(axis=0) > 0] / n


def _check_points(points) -> np.ndarray:
    points = np.asarray(points, dtype=float)
    if points.ndim != 2 or points.shape[0] < 2 or not np.all(np.isfinite(points)):
        raise ValueError(f"points must be a finite (n, dim) array with n >= 2, got shape {points.shape}")
    return points


def two_moons(n: int, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points on two interleaved half circles with Gaussian jitter, and which moon each is on."""
    n = check_integer(n, "n", 4)
    rng = np.random.default_rng(seed)
    label = np.arange(n) % 2
    angle = rng.uniform(0, np.pi, n)
    x = np.where(label == 0, np.cos(angle), 1 - np.cos(angle))
    y = np.where(label == 0, np.sin(angle), 0.5 - np.sin(angle))
    return np.stack([x, y], axis=1) + noise * rng.standard_normal((n, 2)), label


def empirical_context(x, a, N: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""The plug-in context of sampled pairs: :math:`\hat P(x, a) = \#\{j : (x_j, a_j) = (x, a)\} / n`.

    ``x`` holds input indices in ``0..N-1`` and ``a`` context values (any integer labels). Returns the
    ``N x m`` table over the ``m`` distinct observed context values (rows of unseen inputs are zero, so
    drop them before :func:`context_svd`) and those values.
    """
    x, a = np.asarray(x), np.asarray(a)
    shape_ok = x.ndim == 1 and x.shape == a.shape and x.size >= 1 and np.issubdtype(x.dtype, np.integer)
    N = (int(x.max()) + 1 if shape_ok else 1) if N is None else check_integer(N, "N", 1)
    if not shape_ok or x.min() < 0 or x.max() >= N:
        raise ValueError(f"x and a must be 1-D integer arrays of one length >= 1, with x in [0, {N - 1}]")
    values, column = np.unique(a, return_inverse=True)
    counts = np.bincount(x * values.size + column.ravel(), minlength=N * values.size)
    return counts.reshape(N, values.size) / x.size, values


def mehler_kernel(u, v, rho: float) -> np.ndarray:
    r"""The dual kernel of the Gaussian-noise context, :math:`k_X^+(u, v) = \sum_k \rho^{2k}\,\mathrm{He}_k(u)\mathrm{He}_k(v)/k!`.

    In closed form (Mehler's formula at :math:`r = \rho^2`):
    :math:`(1-r^2)^{-1/2}\exp\big(-\frac{r^2u^2 - 2ruv + r^2v^2}{2(1-r^2)}\big)`, for all pairs of ``u`` and ``v``.
    """
    r = check_rho(rho) ** 2
    u, v = np.asarray(u, dtype=float)[:, None], np.asarray(v, dtype=float)[None, :]
    return np.exp(-(r**2 * u**2 - 2 * r * u * v + r**2 * v**2) / (2 * (1 - r**2))) / np.sqrt(1 - r**2)


def nystrom_contexture(kernel, sample, d: int):
    r"""Estimate :math:`s_1^2..s_d^2` and :math:`\mu_1..\mu_d` from ``m`` draws of :math:`X` and the dual kernel.

    The eigenpairs :math:`(\lambda, v)` of the Gram matrix :math:`K_{jl} = k_X^+(x_j, x_l)/m` estimate the
    eigenpairs of :math:`TT^*` (its eigenvalues are :math:`s_i^2`); the Nyström extension
    :math:`\hat\mu(x) = \sum_j k_X^+(x, x_j)\, v_j / (\sqrt m\,\lambda)` evaluates the estimated singular
    functions anywhere (Zhai et al., 2025, App. D). ``kernel(a, b)`` returns the matrix of values for all
    pairs. Returns the ``d`` estimated :math:`s_i^2` (the constant's eigenvalue, the largest, is removed)
    and a function ``mu_hat(points) -> (n, d)``.
    """
    sample = np.asarray(sample, dtype=float)
    m = sample.shape[0]
    d = check_integer(d, "d", 1, m - 2, note="at most the sample size minus two")
    values, vectors = np.linalg.eigh(kernel(sample, sample) / m)
    values, vectors = values[::-1][1 : d + 1], vectors[:, ::-1][:, 1 : d + 1]

    def mu_hat(points) -> np.ndarray:
        return kernel(np.asarray(points, dtype=float), sample) @ vectors / (np.sqrt(m) * values)

    return values, mu_hat


# --------------------------------------------------------------------------- mixing contexts


def convolve(P, kernel) -> np.ndarray:
    r"""Chain a second context after the first: draw :math:`a_1 \sim P(\cdot\mid x)`, then :math:`a_2 \sim` ``kernel[a_1]``.

    ``kernel`` is a row-stochastic :math:`M_1 \times M_2` array. The operator is :math:`T_1 T_2`, so
    every singular value can only shrink (:math:`s_i(T_1T_2) \le \min(s_i(T_1), s_i(T_2))`).
    """
    P = validate_context(P)
    kernel = np.asarray(kernel, dtype=float)
    if kernel.shape[0] != P.shape[1] or np.any(kernel < 0) or not np.allclose(kernel.sum(axis=1), 1):
        raise ValueError(f"kernel must be a row-stochastic array with {P.shape[1]} rows")
    return validate_context(P @ kernel, "the convolved context")


def convex_mix(Ps, weights) -> np.ndarray:
    r"""The mixture :math:`\sum_j w_j P_j^+` of contexts on the same :math:`X` and :math:`A`."""
    Ps = [validate_context(P, f"Ps[{j}]") for j, P in enumerate(Ps)]
    weights = np.asarray(weights, dtype=float)
    if weights.shape != (len(Ps),) or np.any(weights < 0) or abs(weights.sum() - 1) > 1e-9:
        raise ValueError(f"weights must be {len(Ps)} non-negative numbers summing to 1, got {weights}")
    if len({P.shape for P in Ps}) != 1:
        raise ValueError("the contexts must share X and A (equal shapes)")
    return sum(w * P for w, P in zip(weights, Ps))


def concatenate(P1, P2) -> np.ndarray:
    r"""Both context variables at once, :math:`A = (A_1, A_2)`, independent given :math:`X`.

    The two contexts must have the same law of :math:`X`. The result is :math:`N \times M_1 M_2`, less the
    pairs that never occur together (their columns are dropped).
    Because :math:`T_1 = T_{12} J` with :math:`J` an isometry (a function of :math:`a_1` read as a
    function of :math:`(a_1, a_2)`), :math:`s_i(T_{12}) \ge \max(s_i(T_1), s_i(T_2))`.
    """
    P1, P2 = validate_context(P1, "P1"), validate_context(P2, "P2")
    px = P1.sum(axis=1)
    if P2.shape[0] != P1.shape[0] or not np.allclose(P2.sum(axis=1), px):
        raise ValueError("P1 and P2 must have the same law of X (equal row sums)")
    T1, T2 = P1 / px[:, None], P2 / px[:, None]
    joint = (px[:, None, None] * T1[:, :, None] * T2[:, None, :]).reshape(P1.shape[0], -1)
    return joint[:, joint.sum(axis=0) > 0]


# --------------------------------------------------------------------------- L2(P_X) geometry


def _weighted_basis(F: np.ndarray, px: np.ndarray) -> np.ndarray:
    """An orthonormal basis (in L2(px), as D^{1/2}-scaled coordinates) of the centred span of F's columns."""
    F = np.asarray(F, dtype=float).reshape(px.size, -1)
    G = np.sqrt(px)[:, None] * (F - px @ F)
    U, sv, _ = np.linalg.svd(G, full_matrices=False)
    return U[:, sv > 1e-10 * max(sv.max(initial=0), 1e-300)]


def principal_cosines(F, G, px=None) -> np.ndarray:
    r"""Cosines of the principal angles between the centred spans of ``F`` and ``G`` in :math:`L^2(P_X)`.

    ``F`` and ``G`` hold functions of :math:`x` as columns (``N x d`` and ``N x d'``); ``px`` defaults to
    uniform, which makes this canonical correlation analysis of two samples. The cosines are the
    canonical correlations, descending; all equal to 1 when the spans coincide.
    """
    F = np.asarray(F, dtype=float)
    N = F.shape[0]
    px = np.full(N, 1.0 / N) if px is None else np.asarray(px, dtype=float)
    BF, BG = _weighted_basis(F, px), _weighted_basis(G, px)
    return np.clip(np.linalg.svd(BF.T @ BG, compute_uv=False), 0.0, 1.0)


def cca_r2(F, G, px=None) -> float:
    r"""The mean squared canonical correlation :math:`R^2_{\mathrm{CCA}}`: 1 exactly when the spans agree.

    Averaged over ``min(rank F, rank G)`` correlations; invariant to invertible linear maps of either side.
    """
    return float(np.mean(principal_cosines(F, G, px) ** 2))


def probe_error(Phi, f, px) -> float:
    r"""The linear-probe error :math:`\min_{w,b} \|w^\top \Phi + b - f\|^2_{P_X}`."""
    px = np.asarray(px, dtype=float)
    f = np.asarray(f, dtype=float)
    fc = np.sqrt(px) * (f - px @ f)
    B = _weighted_basis(Phi, px)
    return float(fc @ fc - np.sum((B.T @ fc) ** 2))


# --------------------------------------------------------------------------- compatibility and optimality


def coefficients(f, svd: ContextSVD) -> np.ndarray:
    r"""The coordinates :math:`u_i = \langle \tilde f, \mu_i \rangle_{P_X}` of the centred ``f``, for ``i = 1..N-1``."""
    f = np.asarray(f, dtype=float)
    if f.shape != svd.px.shape:
        raise ValueError(f"f must be a function of x, an array of shape {svd.px.shape}, got {f.shape}")
    return (svd.px * (f - svd.px @ f)) @ svd.mu[:, 1:]


def compatibility(f, svd: ContextSVD) -> float:
    r"""The compatibility :math:`\rho(f, P^+) = \max_g \langle \tilde f, Tg\rangle / (\|\tilde f\|\,\|g\|)`.

    In closed form :math:`\rho^2 = \sum_{i\ge1} s_i^2 u_i^2 / \sum_{i\ge1} u_i^2` (Zhai et al., 2025,
    Definition 13): the share of :math:`f`'s variance that the context can reproduce, weighted by
    :math:`s_i^2`.
    """
    u = coefficients(f, svd)
    norm2 = u @ u
    if norm2 <= 1e-300:
        raise ValueError("f is constant: compatibility is defined for non-constant targets")
    return float(np.sqrt((svd.s[1:] ** 2 * u**2).sum() / norm2))


def _check_epsilon(epsilon, s: np.ndarray) -> float:
    if not (isinstance(epsilon, (int, float, np.floating)) and 1 - s[1] < epsilon < 1):
        raise ValueError(f"epsilon must be in (1 - s_1, 1) = ({1 - s[1]:.6g}, 1) so that tasks of "
                         f"compatibility >= 1 - epsilon exist, got {epsilon!r}")
    return float(epsilon)


def theorem16_range(s) -> tuple[float, float]:
    r"""The range :math:`1 - s_1 \le \epsilon \le 1 - \sqrt{(s_1^2 + s_2^2)/2}` where Theorem 16 is stated."""
    s = np.asarray(s, dtype=float)
    return float(1 - s[1]), float(1 - np.sqrt((s[1] ** 2 + s[2] ** 2) / 2))


def optimal_worst_case_error(s, d: int, epsilon: float) -> float:
    r"""Theorem 16's minimum over :math:`d`-dimensional encoders of the worst-case probe error on :math:`\mathcal F_\epsilon`:

    .. math:: \frac{s_1^2 - (1-\epsilon)^2}{s_1^2 - s_{d+1}^2},

    attained by the top-:math:`d` singular functions (and, in the theorem's range of :math:`\epsilon`,
    only by encoders with their span).
    """
    s = np.asarray(s, dtype=float)
    d = _check_d(d, s)
    epsilon = _check_epsilon(epsilon, s)
    if d + 1 >= s.size:
        return 0.0
    return float((s[1] ** 2 - (1 - epsilon) ** 2) / (s[1] ** 2 - s[d + 1] ** 2))


def worst_case_error(Phi, svd: ContextSVD, epsilon: float) -> tuple[float, np.ndarray]:
    r"""The worst-case probe error of encoder ``Phi`` (``N x d``) over :math:`\mathcal F_\epsilon`, and a worst task.

    The problem is :math:`\max u^\top R u` over unit :math:`u` (the coordinates of a centred task in the
    basis :math:`\mu_1, \mu_2, \dots`) with :math:`u^\top (S^2 - (1-\epsilon)^2 I) u \ge 0`, where
    :math:`R` projects away from the span of :math:`\tilde\Phi`. Two quadratic forms on a sphere of
    dimension at least three have a convex joint range (Brickman's theorem), so the Lagrangian dual
    :math:`\min_{t \ge 0} \lambda_{\max}(R + t(S^2 - (1-\epsilon)^2 I))` is exact; it is a convex
    function of :math:`t`, minimised by golden-section search on :math:`[0, 1/(s_1^2 - (1-\epsilon)^2)]`.
    Returns the maximum and the worst task as a function of :math:`x` (zero mean, unit norm).
    """
    epsilon = _check_epsilon(epsilon, svd.s)
    Phi = np.asarray(Phi, dtype=float).reshape(svd.px.size, -1)
    basis = np.sqrt(svd.px)[:, None] * svd.mu[:, 1:]  # orthonormal coordinates of centred functions
    B = basis.T @ _weighted_basis(Phi, svd.px)
    R = np.eye(basis.shape[1]) - B @ B.T
    G = np.diag(svd.s[1:] ** 2 - (1 - epsilon) ** 2)
    top = lambda t: np.linalg.eigvalsh(R + t * G)[-1]  # noqa: E731
    t = golden_min(top, 0.0, 1.0 / G[0, 0], tol=1e-12)
    t = 0.0 if top(0.0) <= top(t) else t
    values, vectors = np.linalg.eigh(R + t * G)
    u = _primal_task(vectors[:, values > values[-1] - 1e-7], G)
    return float(values[-1]), svd.mu[:, 1:] @ u


def _primal_task(E: np.ndarray, G: np.ndarray) -> np.ndarray:
    r"""A unit vector of the top eigenspace ``E`` of the dual with ``u' G u = 0`` (or the most feasible one).

    On that eigenspace :math:`u^\top R u = \lambda - t\,u^\top G u`, so any unit :math:`u` there with
    :math:`u^\top G u = 0` attains the dual value: mix the most and least :math:`G`-positive directions.
    """
    g, W = np.linalg.eigh(E.T @ G @ E)
    if g[0] >= 0 or g[-1] <= 0:
        return E @ W[:, -1]
    a = np.sqrt(g[-1] / (g[-1] - g[0]))
    return E @ (a * W[:, 0] + np.sqrt(1 - a**2) * W[:, -1])


def ratio_trace(Phi, P) -> float:
    r"""The ratio trace :math:`\mathrm{Tr}(C_\Phi^{-1} B_\Phi)`, :math:`C = \mathrm{Cov}_{P_X}[\Phi]`, :math:`B = \mathrm{Cov}_{P_A}[T^*\Phi]`.

    Invariant to invertible linear maps of :math:`\Phi`; at most :math:`s_1^2 + \dots + s_d^2`, with
    equality exactly for encoders that learn the contexture (Zhai et al., 2025, Lemma 22).
    """
    P = validate_context(P)
    px, pa = P.sum(axis=1), P.sum(axis=0)
    Phi = np.asarray(Phi, dtype=float).reshape(px.size, -1)
    Phi = Phi - px @ Phi
    adj = (P.T @ Phi) / pa[:, None]  # (T* Phi)(a) = E[Phi(X) | a], already centred under P_A
    C = Phi.T @ (px[:, None] * Phi)
    B = adj.T @ (pa[:, None] * adj)
    return float(np.trace(np.linalg.solve(C, B)))


# --------------------------------------------------------------------------- the quality of a context


def tau_metric(s, d0: int, beta: float = 1.0) -> tuple[float, np.ndarray]:
    r"""The task-agnostic context metric of Zhai et al. (2025, Eqn 4):

    .. math:: \tau_d = \frac{1}{1 - s_{d+1}^2} + \beta\,\frac{\sum_{i=1}^d s_i^2}{\sum_{i=1}^{d_0} s_i^2},
              \qquad \tau = \min_{1 \le d \le d_0} \tau_d .

    Returns :math:`\tau` and the curve :math:`(\tau_1, \dots, \tau_{d_0})`; :math:`\tau_d = \infty` where
    :math:`s_{d+1} = 1` (a context that splits :math:`X` into disconnected pieces).
    """
    s = np.asarray(s, dtype=float)
    d0 = check_integer(d0, "d0", 1, s.size - 2, note="s must hold s_0..s_{d0+1}")
    if not (isinstance(beta, (int, float, np.floating)) and beta >= 0):
        raise ValueError(f"beta must be non-negative, got {beta!r}")
    s2 = s[1 : d0 + 2] ** 2
    gap = 1.0 - s2[1:]
    with np.errstate(divide="ignore"):
        first = np.where(gap > 1e-12, 1.0 / np.maximum(gap, 1e-300), np.inf)
    curve = first + beta * np.cumsum(s2[:-1]) / s2[:-1].sum()
    return float(curve.min()), curve


def decay_rate(s, d0: int) -> float:
    r"""The rate :math:`\lambda` of the least-squares fit :math:`s_i^2 \approx e^{-\lambda i}`, :math:`i = 1..d_0`.

    A large :math:`\lambda` (fast decay) signals a weak association between :math:`X` and :math:`A`.
    """
    s = np.asarray(s, dtype=float)
    d0 = check_integer(d0, "d0", 1, s.size - 1)
    i = np.arange(1, d0 + 1)
    target = s[1 : d0 + 1] ** 2
    return golden_min(lambda lam: float(np.sum((np.exp(-lam * i) - target) ** 2)), 0.0, 50.0, tol=1e-10)


# --------------------------------------------------------------------------- figures

# Five association levels per family, weakest first: (parameter name, values, a context builder).
ASSOCIATION_LEVELS = {
    "Gaussian noise": ("rho", (0.3, 0.5, 0.7, 0.85, 0.95), lambda v: gaussian_context(v)[0]),
    "ring walk": ("sigma", (6.0, 3.0, 1.5, 0.8, 0.4), lambda v: ring_context(40, v)),
    "KNN on two moons": ("K", (150, 60, 25, 10, 4), lambda v: knn_context(two_moons(300, seed=1)[0], v)),
}


def draw_association_state(fig, family: str, level: int, n_show: int = 16) -> None:
    """Chapter figure: one context at one association level, its spectrum and its top three singular functions."""
    from .viz import PALETTE

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


def draw_optimality_state(fig, d: int, where: float, rho: float = 0.8, n_random: int = 25, seed: int = 0) -> None:
    r"""Chapter figure for Theorem 16 on the Gaussian-noise context (a 41-point grid, ``rho``).

    ``where`` in [0, 1] places :math:`\epsilon` inside the theorem's range. Left: the spectrum with the
    top ``d`` marked and the compatibility level :math:`(1-\epsilon)^2`. Right: worst-case probe errors on
    :math:`\mathcal F_\epsilon` of random encoders (random functions, and random mixtures of
    :math:`\mu_1..\mu_{d+2}`) against the formula, which the top-``d`` encoder attains.
    """
    from .viz import PALETTE

    S = context_svd(gaussian_context(rho, n=41, span=6.0)[0])
    low, high = theorem16_range(S.s)
    epsilon = low + float(where) * (high - low)
    formula = optimal_worst_case_error(S.s, d, epsilon)
    rng = np.random.default_rng(seed)
    N = S.px.size
    families = {
        "random functions": [rng.standard_normal((N, d)) for _ in range(n_random)],
        rf"mixtures of $\mu_1..\mu_{{{d + 2}}}$": [S.mu[:, 1 : d + 3] @ rng.standard_normal((d + 2, d))
                                                   for _ in range(n_random)],
    }
    ax0, ax1 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.4]})
    i = np.arange(1, 9)
    ax0.bar(i, S.s[i] ** 2, color=[PALETTE[0] if k <= d else "#bbbbbb" for k in i])
    ax0.axhline((1 - epsilon) ** 2, color=PALETTE[1], ls="--", label=r"$(1-\epsilon)^2$")
    ax0.set(xlabel="$i$", ylabel="$s_i^2$", title=rf"spectrum, top $d$ = {d} in blue ($\epsilon$ = {epsilon:.3f})")
    ax0.legend(fontsize="small")
    for row, (name, encoders) in enumerate(families.items()):
        errors = [worst_case_error(E, S, epsilon)[0] for E in encoders]
        ax1.scatter(errors, row + 0.15 * rng.standard_normal(len(errors)), s=12, color=PALETTE[row + 2], label=name)
    ax1.axvline(formula, color="k", lw=1.5, label=f"top-$d$ encoder = formula ({formula:.3f})")
    ax1.set(xscale="log", xlim=(formula / 1.5, 1.2), yticks=[], ylim=(-0.8, 1.8),
            xlabel=r"worst-case probe error on $F_\epsilon$", title="no encoder beats the top-$d$")
    ax1.legend(fontsize="small", loc="upper left")


def draw_mixing_state(fig, weight: float, N: int = 24, strong: float = 0.7, weak: float = 2.0) -> None:
    """Chapter figure: a strong and a weak ring walk, their convex mixture with ``weight`` on the strong one,
    their convolution and their concatenation; the spectra, sorted."""
    from .viz import PALETTE

    weight = check_probability(weight, "weight")
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
