"""Contexts with closed forms or built from samples, and ways to combine contexts."""

from __future__ import annotations

import math

import numpy as np

from ..checks import Integer, Positive, Probability, Real, check_integer, constrain
from ..numerics import principal_cosines
from .operator import context_svd, validate_context


@constrain(rho=Probability(closed_high=False, label="the correlation of the context"), n=Integer(2),
           span=Real(0, closed="neither"))
def gaussian_context(rho: float, n: int = 161, span: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    r"""Gaussian noise :math:`A = \rho X + \sqrt{1-\rho^2}\,\varepsilon`, :math:`X \sim N(0,1)`, on a grid.

    Returns the joint table on ``n`` grid points in :math:`[-\text{span}, \text{span}]` (both axes) and
    the grid. By Mehler's formula the singular functions are :math:`\mathrm{He}_k/\sqrt{k!}` and
    :math:`s_k = |\rho|^k`; the grid is a trapezoidal rule, which is exponentially accurate for these
    smooth, fast-decaying integrands (with the defaults, :math:`s_k` agree with :math:`\rho^k` to
    about 1e-13).
    """
    from ..sufficiency.joint import gaussian_joint

    return gaussian_joint(n, float(rho), span), np.linspace(-span, span, n)


@constrain(k=Integer(0))
def hermite_functions(u, k: int) -> np.ndarray:
    r"""The orthonormal probabilists' Hermite polynomials :math:`\mathrm{He}_j(u)/\sqrt{j!}`, ``j = 0..k``, as columns.

    Implements {prf:ref}`prop-closed-forms`
    """
    u = np.asarray(u, dtype=float)
    H = np.empty(u.shape + (k + 1,))
    H[..., 0] = 1.0
    if k >= 1:
        H[..., 1] = u
    for j in range(2, k + 1):  # the normalised recursion: no j! to overflow for large k
        H[..., j] = (u * H[..., j - 1] - np.sqrt(j - 1) * H[..., j - 2]) / np.sqrt(j)
    return H


@constrain(n=Integer(1, 14))
def hypercube_points(n: int) -> np.ndarray:
    """All ``2**n`` points of :math:`\\{-1, +1\\}^n` as rows (in binary order)."""
    bits = (np.arange(2**n)[:, None] >> np.arange(n - 1, -1, -1)) & 1
    return 1.0 - 2.0 * bits


@constrain(n=Integer(1, 9, note="the table has 2^n x 3^n entries"),
           p=Probability(closed_high=False, label="the mask rate"))
def hypercube_context(n: int, p: float) -> np.ndarray:
    r"""Masking on the hypercube: :math:`X` uniform on :math:`\{\pm 1\}^n`, each coordinate hidden with probability ``p``.

    :math:`A \in \{-1, 0, +1\}^n` (0 = masked), in base-3 order with digit ``0, 1, 2`` for
    ``-1, 0 (mask), +1``. The table is :math:`2^n \times 3^n`. The singular functions are the parities
    :math:`\chi_S(x) = \prod_{i \in S} x_i` with :math:`s_S = (1-p)^{|S|/2}`.
    """
    # one coordinate: rows x = +1, -1 (the order of hypercube_points); columns a = -1, mask, +1
    single = np.array([[0.0, p, 1 - p], [1 - p, p, 0.0]])
    cond = np.ones((1, 1))
    for _ in range(n):
        cond = np.einsum("xa,yb->xyab", cond, single).reshape(cond.shape[0] * 2, cond.shape[1] * 3)
    return cond / 2**n


@constrain(n=Integer(1, 14), p=Probability(closed_high=False, label="the mask rate"))
def hypercube_spectrum(n: int, p: float) -> np.ndarray:
    r"""The exact singular values :math:`(1-p)^{|S|/2}` over all :math:`S \subseteq \{1..n\}`, descending.

    Implements {prf:ref}`prop-closed-forms`
    """
    sizes = np.concatenate([[k] * math.comb(n, k) for k in range(n + 1)])
    return (1 - p) ** (sizes / 2)


@constrain(n=Integer(1, 14), level=Integer(0))
def parities(n: int, level: int) -> np.ndarray:
    r"""The parities :math:`\chi_S` with :math:`|S| = ` ``level`` as columns, on :func:`hypercube_points` ``(n)``.

    Implements {prf:ref}`prop-closed-forms`
    """
    from itertools import combinations

    X = hypercube_points(n)
    level = check_integer(level, "level", 0, n)
    return np.stack([X[:, list(S)].prod(axis=1) for S in combinations(range(n), level)], axis=1)


@constrain(N=Integer(3), sigma=Real(0, closed="neither"))
def ring_context(N: int, sigma: float, lazy: bool = False) -> np.ndarray:
    r"""A random walk on the ring :math:`\mathbb Z_N`: :math:`P(a \mid x) \propto \exp(-\mathrm{dist}(x,a)^2 / 2\sigma^2)`.

    :math:`X` is uniform and :math:`A = X` in law, so :math:`T` is a circulant matrix whose singular
    functions are the Fourier modes (:func:`ring_spectrum`). ``lazy`` mixes in staying put,
    :math:`(I + T)/2`, which makes :math:`T` positive semi-definite.
    """
    w = ring_weights(N, sigma)
    T = np.stack([np.roll(w, x) for x in range(N)])
    if lazy:
        T = 0.5 * (np.eye(N) + T)
    return T / N


@constrain(N=Integer(1), sigma=Real(0, closed="neither"))
def ring_weights(N: int, sigma: float) -> np.ndarray:
    j = np.arange(N)
    dist = np.minimum(j, N - j)
    w = np.exp(-(dist**2) / (2 * sigma**2))
    return w / w.sum()


@constrain(N=Integer(3), sigma=Real(0, closed="neither"))
def ring_spectrum(N: int, sigma: float) -> np.ndarray:
    r""":math:`s_k = |\sum_j w_j \cos(2\pi k j / N)|` for ``k = 0..N-1`` (each :math:`k` and :math:`N-k` are one pair), descending.

    Implements {prf:ref}`prop-closed-forms`
    """
    w = ring_weights(N, float(sigma))
    k = np.arange(N)
    return np.sort(np.abs(np.cos(2 * np.pi * np.outer(k, np.arange(N)) / N) @ w))[::-1]


@constrain(eta=Probability(closed_high=False, label="the label noise"), C=Integer(2, none_ok=True))
def label_context(classes, eta: float, C: int | None = None, px=None) -> np.ndarray:
    r"""Noisy labels: :math:`P(a \mid x) = (1-\eta)\,\mathbb 1\{a = c(x)\} + \eta / C`.

    ``classes[x]`` is the class of item ``x`` (integers in ``0..C-1``), ``px`` the law of the items
    (uniform if omitted). With balanced classes :math:`s_1 = \dots = s_{C-1} = 1-\eta` and every other
    :math:`s_i = 0`; the :math:`\mu_i` span the centred class indicators.
    """
    classes = np.asarray(classes)
    if classes.ndim != 1 or classes.size < 2 or not np.issubdtype(classes.dtype, np.integer):
        raise ValueError("classes must be a 1-D integer array with at least two items")
    C = int(classes.max()) + 1 if C is None else int(C)
    if classes.min() < 0 or classes.max() >= C:
        raise ValueError(f"classes must lie in 0..{C - 1}")
    N = classes.size
    px = np.full(N, 1.0 / N) if px is None else np.asarray(px, dtype=float)
    cond = (1 - eta) * np.eye(C)[classes] + eta / C
    return validate_context(px[:, None] * cond)


@constrain(K=Integer(1))
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


@constrain(n=Integer(4), noise=Positive(allow_zero=True), seed=Integer(0))
def two_moons(n: int, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points on two interleaved half circles with Gaussian jitter, and which moon each is on."""
    rng = np.random.default_rng(seed)
    label = np.arange(n) % 2
    angle = rng.uniform(0, np.pi, n)
    x = np.where(label == 0, np.cos(angle), 1 - np.cos(angle))
    y = np.where(label == 0, np.sin(angle), 0.5 - np.sin(angle))
    return np.stack([x, y], axis=1) + noise * rng.standard_normal((n, 2)), label


@constrain(N=Integer(1, none_ok=True))
def empirical_context(x, a, N: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""The plug-in context of sampled pairs: :math:`\hat P(x, a) = \#\{j : (x_j, a_j) = (x, a)\} / n`.

    ``x`` holds input indices in ``0..N-1`` and ``a`` context values (any integer labels). Returns the
    ``N x m`` table over the ``m`` distinct observed context values (rows of unseen inputs are zero, so
    drop them before :func:`context_svd`) and those values.
    """
    x, a = np.asarray(x), np.asarray(a)
    shape_ok = x.ndim == 1 and x.shape == a.shape and x.size >= 1 and np.issubdtype(x.dtype, np.integer)
    N = (int(x.max()) + 1 if shape_ok else 1) if N is None else int(N)
    if not shape_ok or x.min() < 0 or x.max() >= N:
        raise ValueError(f"x and a must be 1-D integer arrays of one length >= 1, with x in [0, {N - 1}]")
    values, column = np.unique(a, return_inverse=True)
    counts = np.bincount(x * values.size + column.ravel(), minlength=N * values.size)
    return counts.reshape(N, values.size) / x.size, values


@constrain(rho=Probability(closed_high=False, label="the correlation of the context"))
def mehler_kernel(u, v, rho: float) -> np.ndarray:
    r"""The dual kernel of the Gaussian-noise context, :math:`k_X^+(u, v) = \sum_k \rho^{2k}\,\mathrm{He}_k(u)\mathrm{He}_k(v)/k!`.

    In closed form (Mehler's formula at :math:`r = \rho^2`):
    :math:`(1-r^2)^{-1/2}\exp\big(-\frac{r^2u^2 - 2ruv + r^2v^2}{2(1-r^2)}\big)`, for all pairs of ``u`` and ``v``.
    """
    r = float(rho) ** 2
    u, v = np.asarray(u, dtype=float)[:, None], np.asarray(v, dtype=float)[None, :]
    return np.exp(-(r**2 * u**2 - 2 * r * u * v + r**2 * v**2) / (2 * (1 - r**2))) / np.sqrt(1 - r**2)


@constrain(d=Integer(1))
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


def loss_mixture(Ps, weights) -> tuple[np.ndarray, np.ndarray]:
    r"""The official code's convex combination: mix the *losses*, learning the top eigenfunctions of :math:`\sum_j w_j T_jT_j^*`.

    Implements {prf:ref}`prop-mixing`

    The contexts must share the law of :math:`X` (their context variables may differ). Returns ``(s, mu)``:
    the square roots of the eigenvalues, descending (``s[0] = 1`` for the constant), and the
    eigenfunctions as columns, orthonormal in :math:`L^2(P_X)`. Compare :func:`convex_mix`, which mixes the
    joint laws: for commuting walks its singular values are :math:`|w m_1 + (1-w) m_2|` against
    :math:`\sqrt{w m_1^2 + (1-w) m_2^2}` here, never larger.
    """
    Ps = [validate_context(P) for P in Ps]
    weights = np.asarray(weights, dtype=float)
    if weights.shape != (len(Ps),) or np.any(weights < 0) or abs(weights.sum() - 1) > 1e-9:
        raise ValueError(f"weights must be {len(Ps)} non-negative numbers summing to 1, got {weights}")
    px = Ps[0].sum(axis=1)
    if any(P.shape[0] != px.size or not np.allclose(P.sum(axis=1), px) for P in Ps):
        raise ValueError("the contexts must have the same law of X (equal row sums)")
    root = np.sqrt(px)
    K = sum(w * (P / np.sqrt(np.outer(px, P.sum(axis=0)))) @ (P / np.sqrt(np.outer(px, P.sum(axis=0)))).T
            for w, P in zip(weights, Ps))  # sum_j w_j Q_j Q_j^T, in the coordinates sqrt(p_x) f(x)
    values, vectors = np.linalg.eigh(K)
    values, vectors = values[::-1], vectors[:, ::-1]
    return np.sqrt(np.clip(values, 0.0, None)), vectors / root[:, None]


def concatenated_encoders(Ps, ds) -> np.ndarray:
    r"""The official code's concatenation: the top-:math:`d_j` singular functions of each context, side by side.

    Implements {prf:ref}`prop-mixing`

    Returns an ``N x sum(ds)`` encoder. Compare :func:`concatenate`, which concatenates the context
    *variables* and learns one top-:math:`d` span of the joint context.
    """
    from .operator import context_svd

    if len(Ps) != len(ds):
        raise ValueError(f"ds must give one dimension per context, got {len(ds)} for {len(Ps)} contexts")
    return np.hstack([context_svd(P).mu[:, 1 : d + 1] for P, d in zip(Ps, ds)])


@constrain(N=Integer(4), M=Integer(4), alpha=Real(0), beta=Real(0), noise=Real(0, 1, closed="left"), seed=Integer(0))
def nested_cluster_context(N: int = 40, M: int = 60, alpha: float = 3.0, beta: float = 2.0, noise: float = 0.3,
                           seed: int = 0) -> np.ndarray:
    r"""A random context with a strong top singular value and clear spectral gaps.

    Inputs and context values fall into four groups (``i % 4``), paired into two super-groups. The joint
    weight is :math:`e^{\alpha\,[\text{same super-group}] + \beta\,[\text{same group}]}` times independent
    uniform noise in :math:`[1 - \text{noise}, 1 + \text{noise}]` and random row and column weights in
    :math:`[0.5, 1.5]`. The super-groups give :math:`s_1` near one, the groups two singular values below
    it, and the noise the rest, well below: with the defaults :math:`s_1 \approx 0.98`,
    :math:`s_2 \approx s_3 \approx 0.75` and :math:`s_4 < 0.1`, so the top-:math:`d` span is well defined at
    :math:`d = 1` and :math:`d = 3`.
    """
    rng = np.random.default_rng(seed)
    gx, ga = np.arange(N) % 4, np.arange(M) % 4
    same_group = gx[:, None] == ga[None, :]
    same_super = (gx[:, None] // 2) == (ga[None, :] // 2)
    W = np.exp(alpha * same_super + beta * same_group) * rng.uniform(1 - noise, 1 + noise, (N, M))
    W *= rng.uniform(0.5, 1.5, N)[:, None] * rng.uniform(0.5, 1.5, M)[None, :]
    return W / W.sum()


def closed_form_residuals() -> list[tuple[str, float, float, str]]:
    r"""The four closed-form spectra against ``context_svd`` of their finite tables.

    Implements {prf:ref}`prop-closed-forms`

    Rows ``(context, max |s - formula|, min cosine, compared with)``: the largest gap between the computed
    singular values and the formula, and the smallest cosine of the principal angles in :math:`L^2(P_X)`
    between the leading computed singular functions and the closed-form ones. The contexts are Gaussian
    noise at :math:`\rho = 0.6` (:math:`s_k = \rho^k`, the first ten; :math:`\mu_1..\mu_5` against
    :math:`\mathrm{He}_1..\mathrm{He}_5`), the hypercube with :math:`n = 6, p = 0.3`
    (:math:`s_S = (1-p)^{|S|/2}`; :math:`\mu_1..\mu_6` against the coordinates :math:`x_i`), the ring with
    :math:`N = 40, \sigma = 2` (the Fourier formula; :math:`\mu_1, \mu_2` against the first cosine and
    sine) and five balanced classes of eight inputs with :math:`\eta = 0.25` (:math:`s_1..s_4 = 1 - \eta`, then
    zeros; :math:`\mu_1..\mu_4` against the class indicators).
    """
    rows = []
    rho = 0.6
    P, grid = gaussian_context(rho)
    S = context_svd(P)
    rows.append(("Gaussian, rho = 0.6", np.abs(S.s[:10] - rho ** np.arange(10)).max(),
                 principal_cosines(S.mu[:, 1:6], hermite_functions(grid, 5)[:, 1:], S.px).min(), "He_1..He_5"))
    n, p = 6, 0.3
    S = context_svd(hypercube_context(n, p))
    rows.append(("hypercube, n = 6, p = 0.3", np.abs(S.s - hypercube_spectrum(n, p)).max(),
                 principal_cosines(S.mu[:, 1:n + 1], parities(n, 1), S.px).min(), "parities x_i"))
    S = context_svd(ring_context(40, 2.0))
    j = np.arange(40)
    modes = np.stack([np.cos(2 * np.pi * j / 40), np.sin(2 * np.pi * j / 40)], axis=1)
    rows.append(("ring, N = 40, sigma = 2", np.abs(S.s - ring_spectrum(40, 2.0)).max(),
                 principal_cosines(S.mu[:, 1:3], modes).min(), "cos, sin"))
    classes = np.repeat(np.arange(5), 8)
    S = context_svd(label_context(classes, eta=0.25))
    rows.append(("labels, C = 5, eta = 0.25", np.abs(S.s[1:] - np.r_[[0.75] * 4, [0.0] * 35]).max(),
                 principal_cosines(S.mu[:, 1:5], np.eye(5)[classes]).min(), "class indicators"))
    return rows
