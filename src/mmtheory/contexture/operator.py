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

import numpy as np

from ..checks import Integer, Real, check_integer, check_probability, constrain
from ..numerics import golden_min, principal_cosines, weighted_basis
from ..sufficiency.joint import validate_joint

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
    r"""The row-stochastic matrix :math:`T_{xa} = P^+(a \mid x)`, so that :math:`(Tg)(x) = \sum_a T_{xa} g(a)`.

    Implements {prf:ref}`def-expectation-operator`
    """
    P = validate_context(P)
    return P / P.sum(axis=1, keepdims=True)


def dual_kernel(P) -> np.ndarray:
    r"""The dual kernel :math:`k_X^+(x, x') = \sum_a P^+(a\mid x) P^+(a \mid x') / P_A(a)` as an :math:`N\times N` array.

    Implements {prf:ref}`def-expectation-operator`

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

    Implements {prf:ref}`thm-duality`

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


def duality_residuals(P) -> dict[str, float]:
    r"""How far the singular system of ``context_svd(P)`` is from each statement of the duality theorem.

    Implements {prf:ref}`thm-duality`

    With :math:`T` the expectation operator, :math:`T^*_{ax} = P^+(x \mid a)` its adjoint and
    :math:`k = \min(N, M)`, the maxima of the absolute values of :math:`s_0 - 1`, :math:`\mu_0 - 1`,
    :math:`\langle \mu_i, \mu_j\rangle_{L^2(P_X)} - \delta_{ij}`, :math:`T\nu_i - s_i\mu_i`,
    :math:`T^*\mu_i - s_i\nu_i`, :math:`\sum_i s_i \mu_i(x)\nu_i(a) - P^+(x, a)/(P_X(x)P_A(a))` and of
    the eigenvalues of :math:`TT^*` (the dual kernel against :math:`P_X`) minus :math:`s_i^2`, keyed by
    the names the contexture chapter prints. All are zero up to rounding.
    """
    S = context_svd(P)
    P = validate_context(P)
    T = expectation_operator(P)  # T[x, a] = P(a | x)
    T_adj = (P / S.pa).T  # T*[a, x] = P(x | a)
    k = S.nu.shape[1]
    mu, s = S.mu[:, :k], S.s[:k]
    checks = {
        "s_0 - 1": S.s[0] - 1,
        "mu_0 - 1": np.abs(S.mu[:, 0] - 1).max(),
        "orthonormality in L2(P_X)": np.abs(S.mu.T @ (S.px[:, None] * S.mu) - np.eye(S.mu.shape[1])).max(),
        "T nu_i - s_i mu_i": np.abs(T @ S.nu - mu * s).max(),
        "T* mu_i - s_i nu_i": np.abs(T_adj @ mu - S.nu * s).max(),
        "spectral decomposition": np.abs((mu * s) @ S.nu.T - P / np.outer(S.px, S.pa)).max(),
        "eigenvalues of T T* - s^2": np.abs(np.sort(np.linalg.eigvals(dual_kernel(P) * S.px).real)[::-1]
                                            - S.s**2).max(),
    }
    return {name: float(abs(err)) for name, err in checks.items()}


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


# --------------------------------------------------------------------------- mixing contexts


# --------------------------------------------------------------------------- L2(P_X) geometry


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
    B = weighted_basis(Phi, px)
    return float(fc @ fc - np.sum((B.T @ fc) ** 2))


# --------------------------------------------------------------------------- compatibility and optimality


def coefficients(f, svd: ContextSVD) -> np.ndarray:
    r"""The coordinates :math:`u_i = \langle \tilde f, \mu_i \rangle_{P_X}` of the centred ``f``, for ``i = 1..N-1``.

    Implements {prf:ref}`def-compatibility`
    """
    f = np.asarray(f, dtype=float)
    if f.shape != svd.px.shape:
        raise ValueError(f"f must be a function of x, an array of shape {svd.px.shape}, got {f.shape}")
    return (svd.px * (f - svd.px @ f)) @ svd.mu[:, 1:]


def compatibility(f, svd: ContextSVD) -> float:
    r"""The compatibility :math:`\rho(f, P^+) = \max_g \langle \tilde f, Tg\rangle / (\|\tilde f\|\,\|g\|)`.

    Implements {prf:ref}`def-compatibility`

    In closed form :math:`\rho^2 = \sum_{i\ge1} s_i^2 u_i^2 / \sum_{i\ge1} u_i^2` (Zhai et al., 2025,
    Definition 13): the share of :math:`f`'s variance that the context can reproduce, weighted by
    :math:`s_i^2`.
    """
    u = coefficients(f, svd)
    norm2 = u @ u
    if norm2 <= 1e-300:
        raise ValueError("f is constant: compatibility is defined for non-constant targets")
    return float(np.sqrt((svd.s[1:] ** 2 * u**2).sum() / norm2))


@dataclasses.dataclass(frozen=True)
class Representer:
    r"""A function :math:`g` of the context variable offered to represent a task :math:`f` (Theorem 14).

    ``g`` holds its values on the ``M`` context values; ``variance_ratio`` is
    :math:`\mathbb E_X\mathbb E_{A,A' \mid X}(g(A) - g(A'))^2 / \|g\|^2_{P_A}`, computed from the joint
    table, and ``fit_error`` the relative error :math:`\|\tilde f - Tg\|_{P_X} / \|\tilde f\|_{P_X}`.
    """

    g: np.ndarray
    variance_ratio: float
    fit_error: float


def _representer(g: np.ndarray, fc: np.ndarray, P: np.ndarray) -> Representer:
    px, pa = P.sum(axis=1), P.sum(axis=0)
    mean = (P @ g) / px  # (Tg)(x)
    variance = 2 * (px @ ((P @ g**2) / px - mean**2))  # E_X E (g(A) - g(A'))^2 = 2 E_X Var(g(A) | X)
    norm2 = pa @ g**2
    return Representer(g=g, variance_ratio=float(variance / norm2),
                       fit_error=float(np.sqrt((px @ (fc - mean) ** 2) / (px @ fc**2))))


def representers(f, P, tol: float = 1e-10) -> tuple[Representer, Representer | None]:
    r"""The two candidate representers of a task :math:`f` that Theorem 14 of Zhai et al. (2025) is about.

    Implements {prf:ref}`prop-representer`

    The first is :math:`g = T^*\tilde f`, the one the source's proof uses: its conditional variance is at
    most :math:`2(1 - \rho^2)\|g\|^2 \le 4\epsilon\|g\|^2` but :math:`Tg \ne \tilde f` in general, with
    relative error at most :math:`\sqrt{1 - \rho^2}`. The second is the least-norm exact representer
    :math:`g = \sum_i (u_i/s_i)\nu_i` (so :math:`Tg = \tilde f`), or ``None`` when :math:`\tilde f` has a
    component (above ``tol`` in relative size) on a singular function with :math:`s_i \le` ``tol``, outside
    the range of :math:`T`. Every exact representer has variance ratio at least the second's.
    """
    P = validate_context(P)
    svd = context_svd(P)
    u = coefficients(f, svd)
    fc = np.asarray(f, dtype=float) - svd.px @ np.asarray(f, dtype=float)
    if u @ u <= 1e-300:
        raise ValueError("f is constant: a representer is defined for non-constant targets")
    adjoint = _representer((P.T @ fc) / svd.pa, fc, P)  # (T* f)(a) = E[f(X) | A = a]
    k = min(P.shape) - 1  # u_i, s_i with i = 1..k have right singular functions
    s = svd.s[1 : k + 1]
    if np.sum(u[k:] ** 2) + np.sum(u[:k][s <= tol] ** 2) > tol**2 * (u @ u):
        return adjoint, None
    ratio = np.divide(u[:k], s, out=np.zeros(k), where=s > tol)
    return adjoint, _representer(svd.nu[:, 1 : k + 1] @ ratio, fc, P)


def _check_epsilon(epsilon, s: np.ndarray) -> float:
    if not (isinstance(epsilon, (int, float, np.floating)) and 1 - s[1] < epsilon < 1):
        raise ValueError(f"epsilon must be in (1 - s_1, 1) = ({1 - s[1]:.6g}, 1) so that tasks of "
                         f"compatibility >= 1 - epsilon exist, got {epsilon!r}")
    return float(epsilon)


def theorem16_range(s) -> tuple[float, float]:
    r"""The range :math:`1 - s_1 \le \epsilon \le 1 - \sqrt{(s_1^2 + s_2^2)/2}` where Theorem 16 is stated.

    Implements {prf:ref}`thm-optimal-encoder`
    """
    s = np.asarray(s, dtype=float)
    return float(1 - s[1]), float(1 - np.sqrt((s[1] ** 2 + s[2] ** 2) / 2))


@constrain(d=Integer(1), epsilon=Real(0, 1, closed="neither"))
def optimal_worst_case_error(s, d: int, epsilon: float) -> float:
    r"""Theorem 16's minimum over :math:`d`-dimensional encoders of the worst-case probe error on :math:`\mathcal F_\epsilon`:

    .. math:: \frac{s_1^2 - (1-\epsilon)^2}{s_1^2 - s_{d+1}^2},

    attained by the top-:math:`d` singular functions (for :math:`d \ge 2` not only by them: the source's
    "only if" fails, see the chapter).

    Implements {prf:ref}`thm-optimal-encoder`
    """
    s = np.asarray(s, dtype=float)
    d = _check_d(d, s)
    epsilon = _check_epsilon(epsilon, s)
    if d + 1 >= s.size:
        return 0.0
    return float((s[1] ** 2 - (1 - epsilon) ** 2) / (s[1] ** 2 - s[d + 1] ** 2))


def worst_case_error(Phi, svd: ContextSVD, epsilon: float) -> tuple[float, np.ndarray]:
    r"""The worst-case probe error of encoder ``Phi`` (``N x d``) over :math:`\mathcal F_\epsilon`, and a worst task.

    Implements {prf:ref}`thm-optimal-encoder`

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
    B = basis.T @ weighted_basis(Phi, svd.px)
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


@constrain(d0=Integer(1), beta=Real(0))
def tau_metric(s, d0: int, beta: float = 1.0) -> tuple[float, np.ndarray]:
    r"""The task-agnostic context metric of Zhai et al. (2025, Eqn 4):

    .. math:: \tau_d = \frac{1}{1 - s_{d+1}^2} + \beta\,\frac{\sum_{i=1}^d s_i^2}{\sum_{i=1}^{d_0} s_i^2},
              \qquad \tau = \min_{1 \le d \le d_0} \tau_d .

    Returns :math:`\tau` and the curve :math:`(\tau_1, \dots, \tau_{d_0})`; :math:`\tau_d = \infty` where
    :math:`s_{d+1} = 1` (a context that splits :math:`X` into disconnected pieces).
    """
    s = np.asarray(s, dtype=float)
    d0 = check_integer(d0, "d0", 1, s.size - 2, note="s must hold s_0..s_{d0+1}")
    s2 = s[1 : d0 + 2] ** 2
    gap = 1.0 - s2[1:]
    with np.errstate(divide="ignore"):
        first = np.where(gap > 1e-12, 1.0 / np.maximum(gap, 1e-300), np.inf)
    curve = first + beta * np.cumsum(s2[:-1]) / s2[:-1].sum()
    return float(curve.min()), curve


@constrain(d0=Integer(1))
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


