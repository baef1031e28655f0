r"""Context quality: when is a moderate association best? Two finite experiments (Zhai et al., 2025, §5).

**Masking on the hypercube** (:func:`mask_rate_sweep`). :math:`X` is uniform on :math:`\{\pm1\}^n` and
:math:`A` hides each coordinate independently with probability :math:`p`. The singular functions are the
parities :math:`\chi_S` with :math:`s_S^2 = (1-p)^{|S|}`, so for every :math:`p \in (0, 1)` the top
:math:`d = \sum_{k \le L}\binom nk` functions span the parities of degree :math:`\le L`: at such a
*multiplicity boundary* the exact contexture does not depend on :math:`p` at all, and neither does the error
of a probe trained on it. The mask rate matters only through **estimation**. Pretraining sees
:math:`n_{\rm pre}` pairs :math:`(x_j, a_j) \sim P^+`; the plug-in context is the empirical joint table

.. math:: \hat P(x, a) = \frac1{n_{\rm pre}}\#\{j : (x_j, a_j) = (x, a)\}, \qquad
          \hat Q = \hat D_X^{-1/2} \hat P \hat D_A^{-1/2},

on the observed rows and columns, and the estimated encoder is :math:`\hat\mu_i = \hat D_X^{-1/2}\hat U_{:,i}`,
:math:`i = 1..d`, from the SVD of :math:`\hat Q` after deflating :math:`\hat\mu_0 \equiv 1`. Their span is
what minimising the spectral contrastive loss over *all* (tabular) encoders on the pretraining sample gives:
the unrestricted empirical-risk minimiser. For an observed input the Nyström form
:math:`\hat\mu_i = \hat T\hat\nu_i / \hat s_i` coincides with it; an input never seen in pretraining has no
estimate and gets the feature vector 0 (the mean of each centred feature), so the probe predicts its
intercept there. The grids keep :math:`n_{\rm pre} \ge 30 \cdot 2^n`, where that happens with probability
below :math:`2^n e^{-30}`.

Two failure modes follow. For small :math:`p` almost every observed :math:`a` is an unmasked copy of its
:math:`x`: :math:`\hat P` is nearly a permutation, every :math:`\hat s_i \approx 1`, and the near-ties
:math:`s_S^2 = (1-p)^{|S|}` let the estimated top-:math:`d` mix in parities of any degree. For :math:`p`
near 1 the signal :math:`s_S^2` of the low levels sinks below the sampling noise of :math:`\hat P`. The
probe is ridge regression (with an unpenalised intercept) on :math:`n_{\rm lab}` noisy labels of a
fixed low-degree target :math:`f^*`; its error is measured exactly over all :math:`2^n` inputs, relative
to :math:`\mathrm{Var} f^*`. What comes out (book scale, :math:`n = 7`, :math:`d = 28`): the estimated
encoder's error is U-shaped in :math:`p` with its minimum near :math:`p \approx 0.2`-:math:`0.4`; the dip
flattens as :math:`n_{\rm pre}` grows, towards the flat error of the exact encoder. :math:`\tau`, computed
from the exact spectrum, falls monotonically in :math:`p`: it flags the strong-association end but ranks the
weakest context best.

**KNN contexts on two moons** (:func:`knn_quality`). The exact top-:math:`d` singular functions of the
:math:`K`-nearest-neighbour context, a ridge probe on a few labelled points, and the best error over
:math:`d`, :math:`\mathrm{err}_{d^*}`, against :math:`K`. Next to it the task-agnostic metric

.. math:: \tau = \min_{1\le d\le d_0}\ \frac1{1 - s_{d+1}^2} + \beta\,\frac{\sum_{i\le d}s_i^2}{\sum_{i\le d_0}s_i^2}

(:func:`~mmtheory.contexture.tau_metric`) and the spectral decay rate. The downstream error is U-shaped in
:math:`K`, while :math:`\tau` falls with :math:`K` and sits near the abstain value :math:`\beta + 1 = 2`:
on this toy it fails.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..checks import Integer, Positive, Probability, check_integer, constrain
from ..numerics import mean_se, nested_ridge_predict, ridge_predict
from .contexts import empirical_context, hypercube_points, knn_context
from .operator import context_svd

# --------------------------------------------------------------------------- shared pieces


@constrain(ridge=Positive(allow_zero=True))
def ridge_probe_error(Phi, f, labelled, y, ridge: float = 1e-2) -> float:
    """Mean squared error over all rows of :func:`ridge_predict` against the clean target ``f``."""
    return float(np.mean((ridge_predict(Phi, labelled, y, ridge) - np.asarray(f, dtype=float)) ** 2))


# --------------------------------------------------------------------------- masking: sampling and estimation


@constrain(n=Integer(1, 12), p=Probability(closed_high=False, label="the mask rate"),
           n_pre=Integer(1, note="the number of pretraining pairs"))
def sample_masked_pairs(n: int, p: float, n_pre: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    r"""Draw ``n_pre`` pairs from the masking context :func:`~mmtheory.contexture.hypercube_context` ``(n, p)``.

    Returns the row index of each :math:`x` (in :func:`~mmtheory.contexture.hypercube_points` order) and the
    column index of each :math:`a` (base-3 digits ``0, 1, 2`` for ``-1``, mask, ``+1``, first coordinate most
    significant), so that ``hypercube_context(n, p)[x, a]`` is the probability of each pair.
    """
    n = check_integer(n, "n", 1, 12)
    x = rng.integers(0, 2**n, n_pre)
    bits = (x[:, None] >> np.arange(n - 1, -1, -1)) & 1  # bit 0 is the coordinate +1
    digits = np.where(rng.random((n_pre, n)) < p, 1, np.where(bits == 0, 2, 0))
    return x, digits @ (3 ** np.arange(n - 1, -1, -1))


@dataclasses.dataclass(frozen=True)
class SubspaceEstimate:
    r"""How far the plug-in estimate of a context's top singular vectors is from the truth, and Wedin's bound.

    ``sin_theta`` is the largest principal sine between the top ``d + 1`` left singular vectors of
    :math:`Q` and of :math:`\hat Q` (the constant included), ``noise`` is :math:`\|\hat Q - Q\|_{\rm op}`,
    ``gap`` is :math:`s_d - s_{d+1}`, and ``bound`` is :math:`\text{noise}/(\text{gap} - \text{noise})`, or
    ``inf`` when the noise is not below the gap (the bound says nothing)."""

    sin_theta: float
    noise: float
    gap: float
    bound: float


def _q_matrix(P: np.ndarray) -> np.ndarray:
    px, pa = P.sum(axis=1), P.sum(axis=0)
    return P / np.sqrt(np.outer(np.where(px > 0, px, 1.0), np.where(pa > 0, pa, 1.0)))  # unseen rows/columns: 0


@constrain(d=Integer(1))
def subspace_estimate(P, P_hat, d: int) -> SubspaceEstimate:
    r"""Compare the top-``d`` singular vectors of a context ``P`` with those of an estimate ``P_hat`` (same shape).

    Implements {prf:ref}`prop-wedin-contexture`

    :math:`Q = D_X^{-1/2} P D_A^{-1/2}` and :math:`\hat Q` likewise from ``P_hat`` with its own marginals (rows
    or columns it never saw are zero). By Wedin's theorem the sine is at most ``bound`` whenever
    ``noise < gap``.
    """
    P, P_hat = np.asarray(P, dtype=float), np.asarray(P_hat, dtype=float)
    if P.shape != P_hat.shape or P.ndim != 2:
        raise ValueError(f"P and P_hat must be tables of the same shape, got {P.shape} and {P_hat.shape}")
    Q, Q_hat = _q_matrix(P / P.sum()), _q_matrix(P_hat / P_hat.sum())
    d = check_integer(d, "d", 1, min(Q.shape) - 2, note="the number of non-constant singular vectors kept")
    U, s, _ = np.linalg.svd(Q, full_matrices=False)
    U_hat = np.linalg.svd(Q_hat, full_matrices=False)[0]
    cos = np.linalg.svd(U[:, : d + 1].T @ U_hat[:, : d + 1], compute_uv=False).min()
    noise, gap = float(np.linalg.norm(Q_hat - Q, 2)), float(s[d] - s[d + 1])
    return SubspaceEstimate(sin_theta=float(np.sqrt(max(0.0, 1 - cos**2))), noise=noise, gap=gap,
                            bound=noise / (gap - noise) if noise < gap else math.inf)


@constrain(n=Integer(1, 12), d=Integer(1))
def estimated_contexture(n: int, x, a, d: int) -> tuple[np.ndarray, np.ndarray]:
    r"""The top-``d`` singular functions of the empirical context of the pairs ``(x, a)`` (see the module notes).

    Returns ``(s2, mu)``: the estimated :math:`\hat s_i^2`, ``i = 0..2^n - 1`` (``s2[0] = 1``, zeros past the
    number of observed inputs), and the ``2^n x d`` encoder :math:`\hat\mu_1..\hat\mu_d` (orthonormal under the
    empirical law of :math:`X`; rows of unseen inputs are 0).
    """
    N = 2**n
    d = check_integer(d, "d", 1, N - 1, note="the number of non-constant functions of x")
    C = empirical_context(x, a, N)[0]
    seen = C.sum(axis=1) > 0
    C = C[seen]
    root = np.sqrt(C.sum(axis=1))
    K = (C / C.sum(axis=0)) @ C.T / np.outer(root, root)  # \hat Q \hat Q^T
    v0 = root / np.linalg.norm(root)  # the constant function, with eigenvalue 1
    values, vectors = np.linalg.eigh(K - np.outer(v0, v0))
    values, vectors = np.clip(values[::-1], 0.0, 1.0), vectors[:, ::-1]
    s2 = np.zeros(N)
    s2[0], s2[1 : seen.sum()] = 1.0, values[: seen.sum() - 1]
    mu = np.zeros((N, d))
    k = min(d, vectors.shape[1])
    mu[seen, :k] = vectors[:, :k] / v0[:, None]  # v0 = sqrt of the empirical law of the seen inputs
    return s2, mu


@constrain(n=Integer(2, 12), levels=Integer(1, 2, note="the target uses parities of degree 1 and 2"))
def hypercube_target(n: int, levels: int) -> np.ndarray:
    r"""The target :math:`(x_1+x_2+x_1x_2+x_3x_4)/2` (``levels = 2``) or :math:`(x_1+x_2)/\sqrt2` (``levels = 1``).

    A sum of orthonormal parities of degree at most ``levels``, so it lies in the span of the exact top-:math:`d`
    and has mean 0 and variance 1 under the uniform law.
    """
    n = check_integer(n, "n", 2 * levels, 12, note=f"levels = {levels} needs n >= {2 * levels}")
    X = hypercube_points(n)
    terms = [X[:, 0], X[:, 1]] + ([X[:, 0] * X[:, 1], X[:, 2] * X[:, 3]] if levels == 2 else [])
    return np.sum(terms, axis=0) / math.sqrt(len(terms))


# --------------------------------------------------------------------------- masking: the sweep


# --------------------------------------------------------------------------- KNN contexts on two moons


@constrain(K=Integer(1))
def knn_spectrum(points, K: int) -> tuple[np.ndarray, np.ndarray]:
    """Singular values and left singular functions (``mu[:, 0] = 1``) of :func:`~mmtheory.contexture.knn_context`.

    Points that are nobody's neighbour have probability 0 as a context value and are dropped from :math:`A`.
    """
    P = knn_context(points, K)
    svd = context_svd(P[:, P.sum(axis=0) > 0])
    return svd.s, svd.mu


TIE = 1e-10  # singular values closer than this are treated as tied


@constrain(n_lab=Integer(2), d_max=Integer(1), draws=Integer(1), ridge=Positive(allow_zero=True), seed=Integer(0))
def knn_errors(s, mu, target, n_lab: int, d_max: int, draws: int, ridge: float, seed: int) -> tuple[np.ndarray, ...]:
    """Test MSE and sign error of a ridge probe on ``mu[:, 1:d+1]``, ``d = 1..d_max``, for ``draws`` label draws.

    Each draw labels ``n_lab`` distinct points (clean labels) and tests on all the others. Where
    :math:`s_d = s_{d+1}` (a tie, e.g. inside the block :math:`s = 1` of a disconnected graph) the top-:math:`d`
    is not unique, the result would depend on rounding, and the errors are NaN.
    """
    N = mu.shape[0]
    n_lab = check_integer(n_lab, "n_lab", 2, N - 1, note="labelled points; the rest are the test set")
    d_max = check_integer(d_max, "d_max", 1, N - 2, note="non-constant functions of the points, less one")
    mse, sign = np.empty((d_max, draws)), np.empty((d_max, draws))
    for r in range(draws):
        labelled = np.random.default_rng([seed, r]).choice(N, n_lab, replace=False)
        test = np.setdiff1d(np.arange(N), labelled)
        prediction = nested_ridge_predict(mu[:, 1 : d_max + 1], labelled, target[labelled], ridge)[test]
        mse[:, r] = np.mean((prediction - target[test, None]) ** 2, axis=0)
        sign[:, r] = np.mean(np.sign(prediction) != np.sign(target[test, None]), axis=0)
    tied = np.asarray(s)[1 : d_max + 1] - np.asarray(s)[2 : d_max + 2] <= TIE
    mse[tied], sign[tied] = np.nan, np.nan
    return mse, sign


def _best_over_d(errors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row (one K): the d (from 1) minimising the draw-mean error, that error and its standard error.

    Rows with no admissible d give d = 0 and NaN.
    """
    mean, se = mean_se(errors)
    ok = np.isfinite(mean).any(axis=1)
    best = np.where(ok, np.argmin(np.where(np.isfinite(mean), mean, np.inf), axis=1), 0)
    rows = np.arange(errors.shape[0])
    return np.where(ok, best + 1, 0), np.where(ok, mean[rows, best], np.nan), np.where(ok, se[rows, best], np.nan)


