r"""Multi-modal in-context learning on a latent-factor model (Part IV; Barnfield, Sen & Sur, 2026).

**The model** (our reconstruction: the paper's full text was not available; see the chapter).
A task draws loadings :math:`A \in \mathbb R^{d \times k}` (the rows of all modalities stacked)
and a response vector :math:`\theta \in \mathbb R^k`; a prompt then draws :math:`L + 1` points

.. math:: z \sim \mathcal N(0, I_k), \qquad x = A z + \varepsilon,\ \varepsilon \sim \mathcal N(0, I_d),
          \qquad y = \theta^\top z + \xi,\ \xi \sim \mathcal N(0, \sigma^2).

Given the task, :math:`\mathbb E[y \mid x] = w^\top x` with :math:`w = (I + AA^\top)^{-1} A\theta`,
and the oracle risk is :math:`\theta^\top (I_k + A^\top A)^{-1}\theta + \sigma^2`. The sampler draws
:math:`A = U \operatorname{diag}(\sqrt{\lambda}) V^\top` with Haar :math:`U, V` and eigenvalues
:math:`\lambda_j \sim \mathrm{Unif}[\underline m, \overline m]`, and :math:`\theta \sim \mathcal N(0, I_k/k)`.

**Population losses at** :math:`L = \infty`. Because :math:`V^\top\theta` is isotropic and independent
of the spectrum, every excess risk below is a one-dimensional integral over
:math:`\lambda \sim \mathrm{Unif}[\underline m, \overline m]`, computed by Gauss–Legendre quadrature
(exact for the polynomial part up to high degree): no Monte Carlo.

**The architectures.** Single-layer linear self-attention (LSA) predicts
:math:`x_q^\top \Gamma^\top \hat c` with one fixed matrix :math:`\Gamma`; the linearised cross-attention
stack runs :math:`h \leftarrow h + \beta\, h \hat\Sigma + \alpha x_q` for :math:`T` layers from
:math:`h = 0` (keys and values: the re-injected context covariates) and reads out
:math:`\hat y_q = \hat c^\top h`, where :math:`\hat\Sigma = X^\top X / L`, :math:`\hat c = X^\top y / L`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..checks import Integer, OneOf, Positive, check_integer, constrain
from ..numerics import golden_min

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(600)


@dataclasses.dataclass(frozen=True)
class LatentFactorModel:
    """Dimensions and spectral bounds of the task law; the default is the configuration of the chapter."""

    modality_dims: tuple[int, ...] = (6, 4)
    k: int = 4
    m_low: float = 0.5
    m_high: float = 4.0
    sigma: float = 0.0

    def __post_init__(self):
        if not self.modality_dims or any(not isinstance(d, int) or d < 1 for d in self.modality_dims):
            raise ValueError(f"modality_dims must be positive integers, got {self.modality_dims!r}")
        check_integer(self.k, "k", 1, self.d, note="at most d, the summed modality dimension")
        _check_bounds(self.m_low, self.m_high)
        if self.sigma < 0:
            raise ValueError(f"sigma must be non-negative, got {self.sigma}")

    @property
    def d(self) -> int:
        return int(sum(self.modality_dims))


# --- closed forms ---------------------------------------------------------------------------------


@constrain(m_low=Positive(), m_high=Positive())
def alpha_star(m_low: float, m_high: float) -> float:
    r"""The minimax step :math:`\alpha^* = 2/(2 + \underline m + \overline m)`, minimising
    :math:`\max_{\lambda \in [\underline m, \overline m]} |1 - \alpha(1 + \lambda)|`.

    Implements {prf:ref}`thm-alpha-star`
    """
    _check_bounds(m_low, m_high)
    return 2.0 / (2.0 + m_low + m_high)


@constrain(m_low=Positive(), m_high=Positive())
def rho_star(m_low: float, m_high: float) -> float:
    r"""The contraction factor at :math:`\alpha^*`: :math:`(\overline m - \underline m)/(2 + \underline m + \overline m)`.

    Implements {prf:ref}`thm-alpha-star`
    """
    _check_bounds(m_low, m_high)
    return (m_high - m_low) / (2.0 + m_low + m_high)


def _check_bounds(m_low, m_high):
    if not (0 < m_low <= m_high):
        raise ValueError(f"spectral bounds must satisfy 0 < m_low <= m_high, got m_low={m_low}, m_high={m_high}")


def _check_depth(T) -> int:
    return check_integer(T, "T (the depth)", 1)


def _spectral_mean(f, m_low: float, m_high: float) -> float:
    """:math:`\\mathbb E f(\\lambda)` for :math:`\\lambda \\sim \\mathrm{Unif}[m_{low}, m_{high}]` (quadrature)."""
    if m_low == m_high:
        return float(f(np.array([m_low]))[0])
    lam = 0.5 * (m_high - m_low) * _NODES + 0.5 * (m_high + m_low)
    return float(0.5 * np.sum(_WEIGHTS * f(lam)))


def bayes_risk(model: LatentFactorModel) -> float:
    r"""Mean oracle risk :math:`\mathbb E[\theta^\top (I + A^\top A)^{-1}\theta] + \sigma^2 = \mathbb E[1/(1+\lambda)] + \sigma^2`.

    Implements {prf:ref}`prop-icl-oracle`
    """
    return _spectral_mean(lambda lam: 1 / (1 + lam), model.m_low, model.m_high) + model.sigma**2


def lsa_optimum(model: LatentFactorModel) -> tuple[float, float]:
    r"""The best isotropic LSA :math:`\Gamma = \gamma I` at :math:`L = \infty`: ``(gamma_star, excess)``.

    Implements {prf:ref}`prop-lsa-floor`

    :math:`\gamma^* = \mathbb E\lambda / \mathbb E\lambda(1+\lambda)` and the excess
    :math:`\mathbb E\frac{\lambda}{1+\lambda} - (\mathbb E\lambda)^2 / \mathbb E\lambda(1+\lambda)`, which
    is zero only when the spectrum is a single point.
    """
    m, M = model.m_low, model.m_high
    first = _spectral_mean(lambda lam: lam, m, M)
    second = _spectral_mean(lambda lam: lam * (1 + lam), m, M)
    gamma = first / second
    return gamma, ca_excess(gamma, 1, model)


@constrain(T=Integer(1, label="the depth"))
def ca_excess(alpha: float, T: int, model: LatentFactorModel) -> float:
    r"""Excess risk over the oracle of the :math:`T`-layer tied cross-attention stack at :math:`L = \infty`.

    Implements {eq}`eq-ca-population`

    On an eigenvalue :math:`\mu = 1 + \lambda` of :math:`\Sigma` the stack applies
    :math:`g_T(\mu) = \mu^{-1}[1 - (1 - \alpha\mu)^T]` instead of :math:`1/\mu`, and the excess is
    :math:`\mathbb E[\lambda\mu(g_T(\mu) - 1/\mu)^2] = \mathbb E[\frac{\lambda}{1+\lambda}(1 - \alpha(1+\lambda))^{2T}]`
    (the two-parameter and ablated stacks: :func:`best_variant_excess`).
    """
    return _spectral_mean(lambda lam: lam / (1 + lam) * (1 - alpha * (1 + lam)) ** (2 * T), model.m_low, model.m_high)


@constrain(T=Integer(1, label="the depth"))
def optimal_alpha(T: int, model: LatentFactorModel) -> float:
    r"""The minimiser :math:`\alpha_T` of the tied population loss (convex in :math:`\alpha`), which gradient
    flow reaches from any start; :math:`\alpha_1` is the LSA optimum and :math:`\alpha_T \to \alpha^*`.

    Implements {prf:ref}`thm-alpha-star`
    """
    upper = 2.0 / (1.0 + model.m_high)
    return golden_min(lambda a: math.log(max(ca_excess(a, T, model), 1e-300)), 0.0, upper)


def _best_scaled(shape, lower: float, model: LatentFactorModel) -> tuple[float, float, float]:
    r"""Minimise :math:`\mathbb E[\lambda\mu(a\,\phi_\beta(\mu) - 1/\mu)^2]` over the scale :math:`a` and
    :math:`\beta \in (\text{lower}, 0)`, for a coefficient shape ``shape(beta, mu)``; returns ``(a, beta, excess)``.

    For fixed :math:`\beta` the loss is quadratic in :math:`a`, so :math:`a(\beta)` is explicit; the rest is a
    one-dimensional search.
    """
    m, M = model.m_low, model.m_high

    def fit(beta):
        num = _spectral_mean(lambda lam: lam * shape(beta, 1 + lam), m, M)
        den = _spectral_mean(lambda lam: lam * (1 + lam) * shape(beta, 1 + lam) ** 2, m, M)
        scale = num / den
        excess = _spectral_mean(lambda lam: lam * (1 + lam) * (scale * shape(beta, 1 + lam) - 1 / (1 + lam)) ** 2, m, M)
        return scale, excess

    beta = golden_min(lambda b: math.log(max(fit(b)[1], 1e-300)), lower + 1e-9, -1e-9, tol=1e-12)
    scale, excess = fit(beta)
    return scale, beta, excess


def _stack_shape(T: int):
    r"""The two-parameter stack's coefficient shape :math:`\sum_{s<T} (1 + \beta\mu)^s`."""
    return lambda beta, mu: sum((1 + beta * mu) ** s for s in range(T))


@constrain(T=Integer(1, label="the depth"))
def optimal_alpha_beta(T: int, model: LatentFactorModel) -> tuple[float, float]:
    r"""The minimiser :math:`(\alpha_T, \beta_T)` of the two-parameter population loss, with
    :math:`\beta \in (-2/(1 + \overline m), 0)`.

    Implements {prf:ref}`thm-alpha-star`
    """
    alpha, beta, _ = _best_scaled(_stack_shape(T), -2.0 / (1.0 + model.m_high), model)
    return alpha, beta


VARIANTS = ("lsa", "tied", "two", "no_skip", "no_reinjection")


@constrain(variant=OneOf(*VARIANTS), T=Integer(1, label="the depth"))
def best_variant_excess(variant: str, T: int, model: LatentFactorModel) -> float:
    r"""The smallest population excess an architecture variant can reach at depth ``T`` (:math:`L = \infty`).

    On an eigenvalue :math:`\mu = 1 + \lambda` each variant applies a coefficient :math:`g(\mu)`:

    - ``"lsa"``: one layer, :math:`g = \gamma` (``T`` is ignored);
    - ``"tied"``: :math:`\mu^{-1}[1 - (1 - \alpha\mu)^T]`, the stack with :math:`\beta = -\alpha`;
    - ``"two"``: :math:`\alpha \sum_{s<T} (1 + \beta\mu)^s`;
    - ``"no_skip"``: :math:`\alpha \sum_{s<T} (\beta\mu)^s`, the stack without its residual connection;
    - ``"no_reinjection"``: :math:`a (1 + \beta\mu)^T`, covariates entered once, at the bottom.

    The excess is :math:`\mathbb E[\lambda\mu(g(\mu) - 1/\mu)^2]`, minimised over the variant's parameters
    (the overall scale in closed form, the rest by a one-dimensional search).
    """
    M = model.m_high
    if variant == "lsa":
        return lsa_optimum(model)[1]
    if variant == "tied":
        return ca_excess(optimal_alpha(T, model), T, model)
    shapes = {
        "two": (_stack_shape(T), -2.0 / (1.0 + M)),
        "no_skip": (lambda beta, mu: sum((beta * mu) ** s for s in range(T)), -1.0 / (1.0 + M)),
        "no_reinjection": (lambda beta, mu: (1 + beta * mu) ** T, -2.0 / (1.0 + M)),
    }
    return _best_scaled(*shapes[variant], model)[2]


# --- sampling and predictors (torch, batched) -----------------------------------------------------


# --- registered experiment: the population depth sweep --------------------------------------------


