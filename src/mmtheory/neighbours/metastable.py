r"""Metastable Markov chains: clusters, their slow eigenvectors, and long hitting times.

The model follows the picture Kim, Wu, Lee and Suzuki (2025) draw of chain-of-thought reasoning: easy steps
form densely connected **clusters** of states, hard steps are **sparse edges** of small probability
between clusters. Here there are :math:`K` clusters of :math:`s` states each (:math:`N = Ks`), and

.. math:: P = (1 - \varepsilon)\, B + \varepsilon\, S .

- :math:`B` is block diagonal. Its block for cluster :math:`c` is :math:`M_c M_c^\top`, where
  :math:`M_c` is a random mixture of :math:`s` permutation matrices (Dirichlet weights): :math:`M_c` is
  doubly stochastic, so :math:`B_c` is dense, symmetric, doubly stochastic and positive semi-definite.
- :math:`S = \frac{1}{2m}\sum_{j=1}^m (\Pi_j + \Pi_j^\top)` with random permutations :math:`\Pi_j` that
  send every state to a state of *another* cluster. :math:`S` is symmetric, doubly stochastic, zero on
  the diagonal blocks, and has at most :math:`2m` non-zero entries a row.

So every state leaves its cluster with probability exactly :math:`\varepsilon`, :math:`P` is symmetric
and doubly stochastic, hence **reversible** with respect to the uniform law, and its eigenvalues are
real and at least :math:`-\varepsilon` (Weyl: :math:`B \succeq 0`, :math:`S \succeq -I`). Which
cluster a state jumps to depends on the state, so (for :math:`K \ge 3`) the cluster process is not
exactly Markov: the cluster indicators are eigenvectors only at :math:`\varepsilon = 0`.

Three facts are used in the chapter and checked in the tests:

- at :math:`\varepsilon = 0`, :math:`P = B` and :math:`B\,\mathbb 1_c = \mathbb 1_c` for every cluster
  indicator (each block is row-stochastic), so eigenvalue 1 has multiplicity :math:`K`;
- for small :math:`\varepsilon` the top-:math:`K` eigenspace stays close to the span of the indicators
  (Davis-Kahan), which :func:`cluster_alignment` measures;
- for :math:`K = 2` every exit lands in the other cluster, so the time to reach it is geometric with
  mean exactly :math:`1/\varepsilon`; for :math:`K \ge 3`, :math:`\varepsilon\,\mathbb E\tau` tends to
  the hitting time of the cluster-level chain :func:`meta_chain` (averaging, not proved here).

Reference: J. Kim, D. Wu, J. D. Lee, T. Suzuki, *Metastable Dynamics of Chain-of-Thought Reasoning*,
ICML 2025 (arXiv:2502.01694). The construction above is ours; the paper's kernels are more general.
"""

from __future__ import annotations

import numpy as np

from ..checks import Integer, Probability, check_integer, constrain
from ..numerics import principal_cosines

# --------------------------------------------------------------------------- the kernel


@constrain(K=Integer(2, label="the number of clusters"), s=Integer(1, label="the states per cluster"))
def cluster_labels(K: int, s: int) -> np.ndarray:
    """``labels[x] = x // s``: states ``0..s-1`` form cluster 0, the next ``s`` cluster 1, and so on."""
    return np.repeat(np.arange(K), s)


def _dense_block(s: int, rng: np.random.Generator) -> np.ndarray:
    """``M M^T`` for a Dirichlet mixture ``M`` of ``s`` random permutation matrices."""
    weights = rng.dirichlet(np.ones(s))
    M = np.zeros((s, s))
    for w in weights:
        M[np.arange(s), rng.permutation(s)] += w
    return M @ M.T


def _cross_permutation(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random permutation ``pi`` of the states with ``labels[pi[x]] != labels[x]`` for every ``x``.

    Start from a uniform permutation and repair: a state ``x`` sent into its own cluster swaps its image
    with a random ``y`` for which the swap is valid. Such a ``y`` exists when ``K >= 2`` (of the
    ``(K-1)s`` states outside ``x``'s cluster at most ``s - 1`` are sent into it), and every swap
    repairs ``x`` without breaking ``y``, so the loop ends.
    """
    n = labels.size
    pi = rng.permutation(n)
    while True:
        bad = np.flatnonzero(labels[pi] == labels)
        if bad.size == 0:
            return pi
        x = bad[0]
        valid = np.flatnonzero((labels != labels[x]) & (labels[pi] != labels[x]))
        y = rng.choice(valid)
        pi[x], pi[y] = pi[y], pi[x]


@constrain(K=Integer(2, label="the number of clusters"), s=Integer(1, label="the states per cluster"), seed=Integer(0),
           m=Integer(1, label="the number of cross-cluster permutations"))
def metastable_parts(K: int, s: int, seed: int = 0, m: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The two pieces of the kernel: ``(B, S, labels)`` (module docstring), for ``K*s`` states.

    ``B`` is block diagonal with dense, symmetric, doubly stochastic, positive semi-definite blocks;
    ``S`` is symmetric, doubly stochastic, zero inside clusters, with at most ``2m`` non-zero entries a
    row (``m`` random cross-cluster permutations, symmetrised). ``labels[x]`` is the cluster of state ``x``.
    """
    labels = cluster_labels(K, s)
    K, s = int(K), int(s)
    rng = np.random.default_rng(seed)
    n = labels.size
    B = np.zeros((n, n))
    for c in range(K):
        block = slice(c * s, (c + 1) * s)
        B[block, block] = _dense_block(s, rng)
    S = np.zeros((n, n))
    for _ in range(m):
        pi = _cross_permutation(labels, rng)
        S[np.arange(n), pi] += 0.5 / m
        S[pi, np.arange(n)] += 0.5 / m
    return B, S, labels


@constrain(K=Integer(2, label="the number of clusters"), s=Integer(1, label="the states per cluster"),
           eps=Probability(closed_high=False, label="the inter-cluster probability"), seed=Integer(0),
           m=Integer(1, label="the number of cross-cluster permutations"))
def metastable_kernel(K: int, s: int, eps: float, seed: int = 0, m: int = 2) -> tuple[np.ndarray, np.ndarray]:
    r"""The transition matrix :math:`P = (1-\varepsilon)B + \varepsilon S` (module docstring) and the labels.

    Implements {eq}`eq-metastable-kernel`

    Returns ``(P, labels)``: ``P`` is ``(K*s, K*s)``, symmetric and doubly stochastic; ``labels[x]`` is
    the cluster of state ``x`` (:func:`cluster_labels`). ``B`` and ``S`` (:func:`metastable_parts`)
    depend only on ``(K, s, seed, m)``, so a sweep over ``eps`` with one seed moves along one segment
    of kernels. Every state leaves its cluster with probability exactly ``eps``.
    """
    B, S, labels = metastable_parts(K, s, seed, m)
    return (1 - eps) * B + eps * S, labels


# --------------------------------------------------------------------------- spectrum


def _check_kernel(P) -> np.ndarray:
    P = np.asarray(P, dtype=float)
    if P.ndim != 2 or P.shape[0] != P.shape[1] or P.shape[0] < 1:
        raise ValueError(f"P must be a square matrix, got shape {P.shape}")
    if np.any(P < -1e-12) or not np.allclose(P.sum(axis=1), 1.0, atol=1e-10):
        raise ValueError("P must be row-stochastic (non-negative entries, rows summing to 1)")
    return P


def stationary_law(P) -> np.ndarray:
    r"""The stationary law :math:`\pi^\top P = \pi^\top`: uniform if ``P`` is doubly stochastic, else a linear solve.

    The doubly stochastic case needs no solve, which matters at :math:`\varepsilon = 0`, where the chain
    splits into closed clusters and the stationary law is not unique (the uniform law is then *a*
    stationary law, and the one the chapter uses). Otherwise the chain must be irreducible.
    """
    P = _check_kernel(P)
    n = P.shape[0]
    if np.allclose(P.sum(axis=0), 1.0, atol=1e-10):
        return np.full(n, 1.0 / n)
    A = np.vstack([P.T - np.eye(n), np.ones((1, n))])
    b = np.zeros(n + 1)
    b[-1] = 1.0
    pi, *_ = np.linalg.lstsq(A, b, rcond=None)
    if np.any(pi <= 0) or np.abs(A @ pi - b).max() > 1e-8:
        raise ValueError("P must be irreducible (a unique, positive stationary law) or doubly stochastic")
    return pi


@constrain(k=Integer(1))
def top_eigenvectors(P, k: int, pi=None) -> tuple[np.ndarray, np.ndarray]:
    r"""The ``k`` largest eigenvalues of a **reversible** ``P`` and their right eigenvectors.

    If :math:`\pi_x P_{xy} = \pi_y P_{yx}`, then :math:`A = D^{1/2} P D^{-1/2}` (:math:`D = \mathrm{diag}\,\pi`)
    is symmetric, so :math:`P` has real eigenvalues in :math:`[-1, 1]` and right eigenvectors
    :math:`v_i = D^{-1/2}u_i` (:math:`u_i` those of :math:`A`) orthonormal in :math:`L^2(\pi)`.
    They are sorted by **value**, not modulus: slow relaxation (metastability) is an eigenvalue near
    :math:`+1`, while one near :math:`-1` is a period-two oscillation. For :func:`metastable_kernel` all
    eigenvalues are at least :math:`-\varepsilon`, so the two orders agree on the top :math:`k` whenever
    :math:`\lambda_k > \varepsilon`; then the :math:`v_i` are also the top singular functions of
    :math:`P` as the expectation operator of the context "next state" (Part III).

    A non-reversible ``P`` is refused: its eigenvectors may be complex and need not be orthogonal. Its
    top singular functions (``contexture.context_svd`` of the joint table :math:`\pi_x P_{xy}`) are
    the analogue. Signs: each :math:`v_i` has a positive entry of largest modulus (ties: the first).

    Returns ``(values, vectors)`` with ``vectors[:, i]`` the eigenvector of ``values[i]``.
    """
    P = _check_kernel(P)
    n = P.shape[0]
    k = check_integer(k, "k", 1, n, note="at most the number of states")
    pi = stationary_law(P) if pi is None else np.asarray(pi, dtype=float)
    if pi.shape != (n,) or np.any(pi <= 0) or not np.isclose(pi.sum(), 1.0):
        raise ValueError(f"pi must be a positive probability vector of length {n}")
    flow = pi[:, None] * P
    if np.abs(flow - flow.T).max() > 1e-10 * max(flow.max(), 1e-300):
        raise ValueError("P must be reversible with respect to pi (pi_x P_xy = pi_y P_yx); for a "
                         "non-reversible chain use contexture.context_svd(pi[:, None] * P) instead")
    root = np.sqrt(pi)
    A = root[:, None] * P / root[None, :]
    values, U = np.linalg.eigh(0.5 * (A + A.T))
    order = np.argsort(values)[::-1][:k]
    V = U[:, order] / root[:, None]
    peak = V[np.argmax(np.abs(V), axis=0), np.arange(k)]
    return values[order], V * np.sign(peak)


def indicators(labels) -> np.ndarray:
    """The cluster indicators :math:`\\mathbb 1_c` as the columns of an ``(N, K)`` 0/1 matrix."""
    labels = np.asarray(labels)
    return (labels[:, None] == np.arange(labels.max() + 1)[None, :]).astype(float)


def cluster_alignment(vectors, labels, pi=None) -> float:
    r"""How close the span of ``vectors`` is to functions that are constant on clusters: a number in [0, 1].

    The mean squared principal cosine between the span of the columns of ``vectors`` and the span of
    the cluster indicators, in :math:`L^2(\pi)` (uniform by default), averaged over the columns. For
    orthonormal vectors it is the fraction of their squared norm explained by their **cluster means**:
    :math:`\frac1k\sum_i \|\mathbb E_\pi[v_i \mid c(x)]\|^2_\pi`. It is 1 exactly when every vector is
    constant on every cluster.
    """
    V = np.asarray(vectors, dtype=float)
    V = V[:, None] if V.ndim == 1 else V
    labels = np.asarray(labels)
    if V.shape[0] != labels.size:
        raise ValueError(f"vectors must have one row per state ({labels.size}), got {V.shape[0]}")
    cos = principal_cosines(V, indicators(labels), pi, centred=False)
    return float(np.sum(cos**2) / np.linalg.matrix_rank(V))


def davis_kahan_bound(P, labels, pi=None) -> float:
    r"""An upper bound on :math:`\sin\theta_{\max}` between the top-:math:`K` eigenspace and the indicator span.

    Implements {prf:ref}`prop-meta-davis-kahan`

    With :math:`U_0` an orthonormal basis of the cluster indicators in :math:`L^2(\pi)`,
    :math:`M = U_0^* P U_0` (the :func:`meta_chain` in that basis) and the residual
    :math:`R = P U_0 - U_0 M`, the Davis-Kahan :math:`\sin\theta` theorem (residual form) gives

    .. math:: \sin\theta_{\max} \le \frac{\|R\|}{\lambda_{\min}(M) - \lambda_{K+1}(P)}

    whenever the denominator is positive (``inf`` otherwise). For :func:`metastable_kernel`,
    :math:`B U_0 = U_0`, so :math:`R = \varepsilon\,(I - U_0U_0^*)\,S\,U_0`: the residual is exactly linear
    in :math:`\varepsilon`, and so is the bound while the gap stays open. ``P`` must be reversible.
    """
    P = _check_kernel(P)
    labels = np.asarray(labels)
    if labels.shape != (P.shape[0],):
        raise ValueError(f"labels must have one entry per state ({P.shape[0]}), got shape {labels.shape}")
    pi = stationary_law(P) if pi is None else np.asarray(pi, dtype=float)
    K = int(labels.max()) + 1
    values, _ = top_eigenvectors(P, min(K + 1, P.shape[0]), pi)
    if values.size <= K:
        return float("inf")
    root = np.sqrt(pi)
    A = root[:, None] * P / root[None, :]
    U0 = root[:, None] * indicators(labels)
    U0 /= np.linalg.norm(U0, axis=0)
    M = U0.T @ A @ U0
    R = A @ U0 - U0 @ M
    gap = np.linalg.eigvalsh(0.5 * (M + M.T)).min() - values[K]
    return float(np.linalg.norm(R, 2) / gap) if gap > 0 else float("inf")


@constrain(K=Integer(1))
def spectral_gap(values, K: int) -> float:
    r"""The gap :math:`\lambda_K - \lambda_{K+1}` after the :math:`K`-th eigenvalue (``values`` descending)."""
    values = np.asarray(values, dtype=float)
    K = check_integer(K, "K", 1, values.size - 1, note="needs K + 1 eigenvalues")
    return float(values[K - 1] - values[K])


# --------------------------------------------------------------------------- hitting times


def _as_states(states, n: int, name: str) -> np.ndarray:
    states = np.atleast_1d(np.asarray(states))
    if states.size == 0 or not np.issubdtype(states.dtype, np.integer) or states.min() < 0 or states.max() >= n:
        raise ValueError(f"{name} must be a non-empty list of state indices in [0, {n - 1}], got {states!r}")
    return np.unique(states)


def hitting_time(P, start_states, target_states) -> float:
    r"""The expected number of steps to reach ``target_states``, from a uniform draw of ``start_states``.

    With :math:`\mathcal T` the target and :math:`h(x) = \mathbb E_x[\min\{t \ge 0 : X_t \in \mathcal T\}]`,
    first-step analysis gives :math:`h = 0` on :math:`\mathcal T` and

    .. math:: h(x) = 1 + \sum_y P_{xy} h(y), \quad x \notin \mathcal T, \qquad\text{i.e.}\qquad
              (I - P_{CC})\, h_C = \mathbb 1,

    solved exactly on the set :math:`C` of non-target states reachable from the start without passing
    through the target. The answer is the mean of :math:`h` over ``start_states``; it is ``inf`` if,
    from some start state, the chain can get stuck where the target is unreachable (e.g.
    :math:`\varepsilon = 0`).
    """
    P = _check_kernel(P)
    n = P.shape[0]
    start = _as_states(start_states, n, "start_states")
    target = _as_states(target_states, n, "target_states")
    is_target = np.zeros(n, dtype=bool)
    is_target[target] = True
    reach = np.zeros(n, dtype=bool)  # forward from the start, stopping at the target
    reach[start] = True
    reach &= ~is_target
    while True:
        grown = reach | ((P[reach] > 0).any(axis=0) & ~is_target)
        if np.array_equal(grown, reach):
            break
        reach = grown
    can_hit = is_target.copy()  # backward from the target
    while True:
        grown = can_hit | (P[:, can_hit] > 0).any(axis=1)
        if np.array_equal(grown, can_hit):
            break
        can_hit = grown
    if np.any(reach & ~can_hit):
        return float("inf")
    C = np.flatnonzero(reach)
    h = np.zeros(n)
    if C.size:
        h[C] = np.linalg.solve(np.eye(C.size) - P[np.ix_(C, C)], np.ones(C.size))
    return float(h[start].mean())


def meta_chain(P, labels, pi=None) -> np.ndarray:
    r"""The cluster-level kernel :math:`\bar P_{cc'} = \sum_{x \in c} \pi(x \mid c)\, P(x, c')`.

    The chain on clusters obtained by averaging, within each cluster, the probability of moving to each
    cluster under the stationary law :math:`\pi` (uniform by default for a doubly stochastic ``P``): the
    *compressed* description of the dynamics. When every state of a cluster has the same exit law (the
    chain is *lumpable*) it is exact; for a metastable chain it is accurate on time scales much longer
    than the time to mix inside a cluster.
    """
    P = _check_kernel(P)
    labels = np.asarray(labels)
    if labels.shape != (P.shape[0],):
        raise ValueError(f"labels must have one entry per state ({P.shape[0]}), got shape {labels.shape}")
    pi = stationary_law(P) if pi is None else np.asarray(pi, dtype=float)
    E = indicators(labels)
    mass = pi @ E
    return (E.T @ (pi[:, None] * P) @ E) / mass[:, None]


# --------------------------------------------------------------------------- figures


