r"""When the modalities differ: a two-modality task law, per-modality streams, and what modality awareness buys.

**The law** (the book's own extension of Part IV's reconstruction). Modality :math:`j \in \{1, 2\}` observes
:math:`x^{(j)} = A_j z + \tau_j \varepsilon_j \in \mathbb R^{d_j}` with its own loadings
:math:`A_j = \sqrt{g_j}\, U_j \operatorname{diag}(\sqrt\lambda) V^\top` (Haar :math:`U_j`, one shared spectrum
:math:`\lambda_i \sim \mathrm{Unif}[\underline m, \overline m]` and one shared :math:`V`), its own *signal share*
:math:`g_j \ge 0` and its own *noise variance* :math:`\tau_j^2 > 0`; :math:`y = \theta^\top z + \xi` as before.
With :math:`g_1 + g_2 = 1` and :math:`\tau_1 = \tau_2 = 1` the summed Gram has the spectrum of the chapter's
law. A weak modality has a small share; a noisy one a large :math:`\tau_j^2`.

**The reduction.** Rotating each modality's coordinates by :math:`U_j` (which commutes with any per-modality
scalar) and the latent by :math:`V`, the population problem splits into :math:`k` independent
:math:`2 \times 2` blocks :math:`\Sigma_\lambda = \lambda\, s s^\top + \operatorname{diag}(\tau_1^2, \tau_2^2)`,
:math:`s = (\sqrt{g_1}, \sqrt{g_2})`, plus pure-noise coordinates that carry no weight. Every population excess
below is a quadrature over :math:`\lambda` of :math:`2 \times 2` matrix algebra: no Monte Carlo.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from ..checks import Integer, check_integer, constrain
from ..numerics import golden_min
from ..runtime import get_device
from .closed_forms import LatentFactorModel, _check_bounds, _check_depth, _spectral_mean, lsa_optimum, optimal_alpha
from .prompts import Prompts, _haar, _oracle, context_moments


@dataclasses.dataclass(frozen=True)
class TwoModalityLaw:
    """Two modalities with their own loadings, signal shares ``shares`` and noise variances ``noise``."""

    dims: tuple[int, int] = (6, 4)
    k: int = 4
    m_low: float = 0.5
    m_high: float = 4.0
    shares: tuple[float, float] = (0.5, 0.5)
    noise: tuple[float, float] = (1.0, 1.0)
    sigma: float = 0.0

    def __post_init__(self):
        if len(self.dims) != 2 or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in self.dims):
            raise ValueError(f"dims must be two positive integers, got {self.dims!r}")
        check_integer(self.k, "k", 1, min(self.dims), note="at most the smaller modality's dimension")
        _check_bounds(self.m_low, self.m_high)
        if len(self.shares) != 2 or min(self.shares) < 0 or sum(self.shares) <= 0:
            raise ValueError(f"shares must be two non-negative numbers, not both zero, got {self.shares!r}")
        if len(self.noise) != 2 or not min(self.noise) > 0:
            raise ValueError(f"noise (the two noise variances) must be two positive numbers, got {self.noise!r}")
        if not self.sigma >= 0:
            raise ValueError(f"sigma must be non-negative, got {self.sigma!r}")

    @property
    def d(self) -> int:
        return self.dims[0] + self.dims[1]

    @property
    def gain(self) -> float:
        r""":math:`\kappa = \sum_j g_j/\tau_j^2`: the whitened law's Gram is :math:`\kappa\, V\Lambda V^\top`."""
        return sum(g / t for g, t in zip(self.shares, self.noise))

    def whitened(self) -> LatentFactorModel:
        """The chapter's unit-noise law with spectrum ``gain * [m_low, m_high]``: same Bayes risk and closed forms."""
        return LatentFactorModel(self.dims, self.k, self.gain * self.m_low, self.gain * self.m_high, self.sigma)

    def block(self, lam: np.ndarray) -> np.ndarray:
        r"""The population covariance blocks :math:`\Sigma_\lambda`, shape ``(len(lam), 2, 2)``."""
        s = np.sqrt(np.asarray(self.shares, dtype=float))
        return np.asarray(lam, dtype=float)[:, None, None] * np.outer(s, s) + np.diag(self.noise)


# --- prompts --------------------------------------------------------------------------------------


@constrain(n=Integer(1), seed=Integer(0))
def sample_modal_prompts(law: TwoModalityLaw, n: int, L: int, seed: int = 0, device=None) -> Prompts:
    """``n`` tasks of the two-modality law, one prompt of ``L`` points each (modality 1 in the first ``dims[0]``
    coordinates); the oracle is computed through the whitened loadings :math:`\\tau_j^{-1} A_j`.

    Implements {eq}`eq-two-modality-law`
    """
    if isinstance(L, bool) or not isinstance(L, int) or L <= law.d:
        raise ValueError(f"L (the context length) must be an integer > d = {law.d}, got {L!r}")
    dev = get_device(device)
    gen = torch.Generator(device=dev).manual_seed(seed)
    f64 = {"device": dev, "dtype": torch.float64}
    lam = law.m_low + (law.m_high - law.m_low) * torch.rand(n, law.k, generator=gen, **f64)
    V = _haar(n, law.k, gen, dev)
    A = torch.cat([math.sqrt(g) * _haar(n, d, gen, dev)[:, :, :law.k] for g, d in zip(law.shares, law.dims)], dim=1)
    A = A * lam.sqrt()[:, None, :] @ V.transpose(1, 2)
    theta = torch.randn(n, law.k, generator=gen, **f64) / math.sqrt(law.k)
    tau = torch.cat([torch.full((d,), math.sqrt(t), **f64) for d, t in zip(law.dims, law.noise)])
    z = torch.randn(n, L + 1, law.k, generator=gen, **f64)
    x = z @ A.transpose(1, 2) + tau * torch.randn(n, L + 1, law.d, generator=gen, **f64)
    y = (z @ theta[:, :, None])[..., 0] + law.sigma * torch.randn(n, L + 1, generator=gen, **f64)
    w_white, risk = _oracle(A / tau[:, None], theta, law.sigma)
    return Prompts(X=x[:, :L], y=y[:, :L], xq=x[:, L], yq=y[:, L], w=w_white / tau, oracle_risk=risk)


# --- population excess of per-modality steps --------------------------------------------------------


@constrain(T=Integer(1, label="the depth"))
def modal_excess(steps, T: int, law: TwoModalityLaw) -> float:
    r"""Population excess at :math:`L = \infty` of :math:`T` steps of gradient descent preconditioned by
    :math:`P = \operatorname{diag}(\alpha_1 I_{d_1}, \alpha_2 I_{d_2})`: the tied modality-aware stack.

    Implements {prf:ref}`prop-modal-stack`, {prf:ref}`prop-modal-whitening`

    Per block, the error after :math:`T` steps is :math:`e_T = -(I - P\Sigma_\lambda)^T w_\lambda` with
    :math:`w_\lambda = \sqrt\lambda\,\Sigma_\lambda^{-1} s`, and the excess is
    :math:`\mathbb E_\lambda[e_T^\top \Sigma_\lambda e_T]` (``steps = (a, a)`` is the modality-blind stack).
    """
    P = np.diag(_check_steps(steps))

    def per_block(lam):
        sigma = law.block(lam)
        s = np.broadcast_to(np.sqrt(np.asarray(law.shares, dtype=float)), (len(lam), 2))
        error = np.linalg.solve(sigma, s[..., None])[..., 0] * np.sqrt(lam)[:, None]
        contraction = np.eye(2) - P @ sigma
        for _ in range(T):
            error = (contraction @ error[..., None])[..., 0]
        return np.einsum("ni,nij,nj->n", error, sigma, error)

    return _spectral_mean(per_block, law.m_low, law.m_high)


def _check_steps(steps) -> np.ndarray:
    steps = np.asarray(steps, dtype=float)
    if steps.shape != (2,) or not np.all(steps > 0):
        raise ValueError(f"steps must be two positive step sizes (one per modality), got {steps!r}")
    return steps


def weighted_spectrum(law: TwoModalityLaw) -> tuple[float, float]:
    r"""The smallest and largest eigenvalue of :math:`\Sigma_\lambda` that carries weight, over the support.

    Implements {prf:ref}`prop-modal-whitening`

    :math:`\lambda_{\max}(\Sigma_\lambda)` and :math:`\lambda_{\min}(\Sigma_\lambda)` increase with :math:`\lambda`.
    When :math:`s` is an eigenvector of every block (equal noise, or one share zero) the other eigenvector
    carries no weight and the range is :math:`[s^\top\Sigma_{\underline m}s, s^\top\Sigma_{\overline m}s]/\|s\|^2`.
    """
    low, high = law.block(np.array([law.m_low, law.m_high]))
    s = np.sqrt(np.asarray(law.shares, dtype=float))
    if law.noise[0] == law.noise[1] or min(law.shares) == 0:
        return float(s @ low @ s / (s @ s)), float(s @ high @ s / (s @ s))
    return float(np.linalg.eigvalsh(low)[0]), float(np.linalg.eigvalsh(high)[-1])


def minimax_steps(law: TwoModalityLaw) -> dict[str, tuple]:
    r"""The minimax (:math:`T \to \infty`) steps and contraction factors, modality-blind and whitened.

    Implements {prf:ref}`prop-modal-whitening`

    Blind: :math:`\alpha = 2/(\mu_- + \mu_+)` on the weighted range :math:`[\mu_-, \mu_+]`
    (:func:`weighted_spectrum`), :math:`\rho = (\mu_+ - \mu_-)/(\mu_+ + \mu_-)`. Whitened:
    :math:`\alpha_j = 2/(\tau_j^2 (2 + \kappa(\underline m + \overline m)))` and
    :math:`\rho = \kappa(\overline m - \underline m)/(2 + \kappa(\underline m + \overline m))`; with equal noise
    :math:`\tau^2` and :math:`g_1 + g_2 = 1` both are :math:`2/(2\tau^2 + \underline m + \overline m)`.
    Returns ``{"blind": ((a, a), rho), "whitened": ((a1, a2), rho)}``.
    """
    low, high = weighted_spectrum(law)
    blind = 2.0 / (low + high)
    kappa, m, M = law.gain, law.m_low, law.m_high
    white = [2.0 / (t * (2 + kappa * (m + M))) for t in law.noise]
    return {"blind": ((blind, blind), (high - low) / (high + low)),
            "whitened": (tuple(white), kappa * (M - m) / (2 + kappa * (m + M)))}


@constrain(T=Integer(1, label="the depth"))
def blind_step(T: int, law: TwoModalityLaw) -> float:
    r"""The best single step at depth ``T``: the modality-blind stack, tuned. The excess is convex in the step, and
    beyond :math:`2/\mu_-` every weighted direction grows, so the minimiser lies in :math:`(0, 2/\mu_-)` (at finite
    ``T`` it can exceed :math:`2/\mu_+`, when the top direction carries little weight)."""
    upper = 2.0 / weighted_spectrum(law)[0]
    return golden_min(lambda a: math.log(max(modal_excess((a, a), T, law), 1e-300)), 0.0, upper)


@constrain(T=Integer(1, label="the depth"))
def whitened_steps(T: int, law: TwoModalityLaw) -> tuple[float, float]:
    r"""The per-modality steps :math:`\alpha_j = \alpha_T/\tau_j^2`, with :math:`\alpha_T` the tuned step of the
    whitened law (:func:`mmtheory.icl.optimal_alpha`).

    Implements {prf:ref}`prop-modal-whitening`
    """
    alpha = optimal_alpha(T, law.whitened())
    return alpha / law.noise[0], alpha / law.noise[1]


def _modality_index(dims) -> torch.Tensor:
    if len(dims) != 2 or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in dims):
        raise ValueError(f"dims must be two positive integers, got {dims!r}")
    return torch.cat([torch.full((d,), j, dtype=torch.long) for j, d in enumerate(dims)])


class ModalityStack(torch.nn.Module):
    r"""Per-modality streams with attention within and between modalities, and a self-attention read-out.

    Implements {eq}`eq-modal-layer`

    Stream :math:`j` (the query token's modality-:math:`j` part) is updated by
    :math:`h_j \leftarrow h_j + \sum_i \beta_{ij}\, h_i \hat\Sigma_{ij} + \alpha_j x_q^{(j)}`, where
    :math:`h_i\hat\Sigma_{ij} = \frac1L\sum_\ell \langle h_i, x^{(i)}_\ell\rangle x^{(j)}_\ell` scores the context
    tokens with keys in modality :math:`i` and returns their modality-:math:`j` values (:math:`i \ne j`:
    cross-attention between modalities). ``gains="tied"``: :math:`\beta_{ij} = -\alpha_j`; ``"free"``: four
    learnable gains. ``blind=True`` ties the two steps (one :math:`\alpha`). Read-out
    :math:`\hat y_q = \sum_j \hat c_j^\top h_j`.
    """

    def __init__(self, dims=(6, 4), T: int = 8, gains: str = "tied", blind: bool = False, alpha0: float = 0.05):
        super().__init__()
        if gains not in ("tied", "free"):
            raise ValueError(f"gains must be 'tied' or 'free', got {gains!r}")
        self.T, self.gains, self.blind = _check_depth(T), gains, bool(blind)
        self.register_buffer("index", _modality_index(dims), persistent=False)
        self.alpha = torch.nn.Parameter(torch.full((1 if blind else 2,), float(alpha0), dtype=torch.float64))
        if gains == "free":
            self.beta = torch.nn.Parameter(torch.full((2, 2), -float(alpha0), dtype=torch.float64))

    def steps(self) -> torch.Tensor:
        return self.alpha.expand(2) if self.blind else self.alpha

    def forward(self, p: Prompts) -> torch.Tensor:
        Sigma, c = context_moments(p)
        a = self.steps()[self.index]
        gains = -a.expand(len(a), len(a)) if self.gains == "tied" else self.beta[self.index][:, self.index]
        M, h = Sigma * gains, torch.zeros_like(p.xq)
        for _ in range(self.T):
            h = h + (h[:, None, :] @ M)[:, 0] + a * p.xq
        return (c * h).sum(-1)


class OneWayStack(torch.nn.Module):
    r"""Modality 1's stream cross-attending to modality 2 only (keys and values in modality 2), as in a decoder
    that reads the other modality through cross-attention; self-attention read-out on modality 1.

    Implements {prf:ref}`prop-one-way`

    :math:`h \leftarrow h + h W_Q \hat\Sigma_{22} W_V + \alpha x_q^{(1)}` with learnable
    :math:`W_Q \in \mathbb R^{d_1 \times d_2}`, :math:`W_V \in \mathbb R^{d_2 \times d_1}`, and
    :math:`\hat y_q = \hat c_1^\top h`.
    """

    def __init__(self, dims=(6, 4), T: int = 4, alpha0: float = 0.05):
        super().__init__()
        _modality_index(dims)  # validates dims
        self.T, self.d1 = _check_depth(T), int(dims[0])
        eye = torch.eye(dims[0], dims[1], dtype=torch.float64)
        self.alpha = torch.nn.Parameter(torch.tensor(float(alpha0), dtype=torch.float64))
        self.W_Q = torch.nn.Parameter(0.3 * eye)
        self.W_V = torch.nn.Parameter(-0.3 * eye.T.clone())

    def forward(self, p: Prompts) -> torch.Tensor:
        Sigma, c = context_moments(p)
        d1 = self.d1
        reads = self.W_Q @ Sigma[:, d1:, d1:] @ self.W_V  # (n, d1, d1): h -> h W_Q Sigma_22 W_V
        h = torch.zeros_like(p.xq[:, :d1])
        for _ in range(self.T):
            h = h + (h[:, None, :] @ reads)[:, 0] + self.alpha * p.xq[:, :d1]
        return (c[:, :d1] * h).sum(-1)


def one_way_floor(law: TwoModalityLaw) -> float:
    r"""The one-layer floor on modality 1 alone: a lower bound on :class:`OneWayStack`'s excess when
    :math:`g_2 = 0`, at every depth and context length.

    Implements {prf:ref}`prop-one-way`
    """
    g1, t1 = law.shares[0], law.noise[0]
    if law.shares[1] != 0 or g1 == 0:
        raise ValueError(f"the floor holds when modality 2 carries no signal: shares must be (g1 > 0, 0), got {law.shares}")
    return lsa_optimum(LatentFactorModel((law.dims[0],), law.k, g1 * law.m_low / t1, g1 * law.m_high / t1))[1]
