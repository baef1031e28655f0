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
import time

import numpy as np
import torch

from .checks import check_integer
from .numerics import golden_min
from .registry import experiment
from .runtime import get_device, progress, resolve_scale

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


def alpha_star(m_low: float, m_high: float) -> float:
    r"""The minimax step :math:`\alpha^* = 2/(2 + \underline m + \overline m)`, minimising
    :math:`\max_{\lambda \in [\underline m, \overline m]} |1 - \alpha(1 + \lambda)|`."""
    _check_bounds(m_low, m_high)
    return 2.0 / (2.0 + m_low + m_high)


def rho_star(m_low: float, m_high: float) -> float:
    r"""The contraction factor at :math:`\alpha^*`: :math:`(\overline m - \underline m)/(2 + \underline m + \overline m)`."""
    _check_bounds(m_low, m_high)
    return (m_high - m_low) / (2.0 + m_low + m_high)


def _check_bounds(m_low, m_high):
    if not (0 < m_low <= m_high):
        raise ValueError(f"spectral bounds must satisfy 0 < m_low <= m_high, got m_low={m_low}, m_high={m_high}")


def _spectral_mean(f, m_low: float, m_high: float) -> float:
    """:math:`\\mathbb E f(\\lambda)` for :math:`\\lambda \\sim \\mathrm{Unif}[m_{low}, m_{high}]` (quadrature)."""
    if m_low == m_high:
        return float(f(np.array([m_low]))[0])
    lam = 0.5 * (m_high - m_low) * _NODES + 0.5 * (m_high + m_low)
    return float(0.5 * np.sum(_WEIGHTS * f(lam)))


def bayes_risk(model: LatentFactorModel) -> float:
    r"""Mean oracle risk :math:`\mathbb E[\theta^\top (I + A^\top A)^{-1}\theta] + \sigma^2 = \mathbb E[1/(1+\lambda)] + \sigma^2`."""
    return _spectral_mean(lambda lam: 1 / (1 + lam), model.m_low, model.m_high) + model.sigma**2


def lsa_optimum(model: LatentFactorModel) -> tuple[float, float]:
    r"""The best isotropic LSA :math:`\Gamma = \gamma I` at :math:`L = \infty`: ``(gamma_star, excess)``.

    :math:`\gamma^* = \mathbb E\lambda / \mathbb E\lambda(1+\lambda)` and the excess
    :math:`\mathbb E\frac{\lambda}{1+\lambda} - (\mathbb E\lambda)^2 / \mathbb E\lambda(1+\lambda)`, which
    is zero only when the spectrum is a single point.
    """
    m, M = model.m_low, model.m_high
    first = _spectral_mean(lambda lam: lam, m, M)
    second = _spectral_mean(lambda lam: lam * (1 + lam), m, M)
    gamma = first / second
    return gamma, ca_excess(gamma, 1, model)


def ca_excess(alpha: float, T: int, model: LatentFactorModel) -> float:
    r"""Excess risk over the oracle of the :math:`T`-layer tied cross-attention stack at :math:`L = \infty`.

    On an eigenvalue :math:`\mu = 1 + \lambda` of :math:`\Sigma` the stack applies
    :math:`g_T(\mu) = \mu^{-1}[1 - (1 - \alpha\mu)^T]` instead of :math:`1/\mu`, and the excess is
    :math:`\mathbb E[\lambda\mu(g_T(\mu) - 1/\mu)^2] = \mathbb E[\frac{\lambda}{1+\lambda}(1 - \alpha(1+\lambda))^{2T}]`
    (the two-parameter and ablated stacks: :func:`best_variant_excess`).
    """
    T = _check_depth(T)
    return _spectral_mean(lambda lam: lam / (1 + lam) * (1 - alpha * (1 + lam)) ** (2 * T), model.m_low, model.m_high)


def _check_depth(T) -> int:
    return check_integer(T, "T (the depth)", 1)


def optimal_alpha(T: int, model: LatentFactorModel) -> float:
    r"""The minimiser :math:`\alpha_T` of the tied population loss (convex in :math:`\alpha`), which gradient
    flow reaches from any start; :math:`\alpha_1` is the LSA optimum and :math:`\alpha_T \to \alpha^*`."""
    T = _check_depth(T)
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


def optimal_alpha_beta(T: int, model: LatentFactorModel) -> tuple[float, float]:
    r"""The minimiser :math:`(\alpha_T, \beta_T)` of the two-parameter population loss, with
    :math:`\beta \in (-2/(1 + \overline m), 0)`."""
    T = _check_depth(T)
    alpha, beta, _ = _best_scaled(_stack_shape(T), -2.0 / (1.0 + model.m_high), model)
    return alpha, beta


VARIANTS = ("lsa", "tied", "two", "no_skip", "no_reinjection")


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
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    T = _check_depth(T)
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


@dataclasses.dataclass
class Prompts:
    """A batch of tasks and one prompt each: context ``X (n, L, d)``, ``y (n, L)``, query ``xq (n, d)``,
    ``yq (n,)``, and the oracle weights ``w (n, d)``."""

    X: torch.Tensor
    y: torch.Tensor
    xq: torch.Tensor
    yq: torch.Tensor
    w: torch.Tensor
    oracle_risk: torch.Tensor  # (n,): theta^T (I + A^T A)^{-1} theta + sigma^2


def _haar(n: int, size: int, gen: torch.Generator, device) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(n, size, size, generator=gen, device=device, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r, dim1=1, dim2=2))[:, None, :]


def sample_tasks(model: LatentFactorModel, n: int, gen: torch.Generator, device) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` tasks: loadings ``A (n, d, k)`` with the spectrum of :math:`A^\\top A` uniform on the bounds, and ``theta (n, k)``."""
    d, k = model.d, model.k
    lam = model.m_low + (model.m_high - model.m_low) * torch.rand(n, k, generator=gen, device=device,
                                                                  dtype=torch.float64)
    U = _haar(n, d, gen, device)[:, :, :k]
    V = _haar(n, k, gen, device)
    A = U * lam.sqrt()[:, None, :] @ V.transpose(1, 2)
    theta = torch.randn(n, k, generator=gen, device=device, dtype=torch.float64) / math.sqrt(k)
    return A, theta


def _oracle(A: torch.Tensor, theta: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Oracle weights ``w = A (I + A^T A)^{-1} theta`` and risk ``theta^T (I + A^T A)^{-1} theta + sigma^2``."""
    inner = torch.eye(A.shape[-1], device=A.device, dtype=A.dtype) + A.transpose(1, 2) @ A
    solved = torch.linalg.solve(inner, theta[:, :, None])[..., 0]
    return (A @ solved[:, :, None])[..., 0], (theta * solved).sum(-1) + sigma**2


def sample_prompts(model: LatentFactorModel, n: int, L: int, seed: int = 0, device=None) -> Prompts:
    """``n`` independent tasks, each with a context of ``L`` points and one query, in float64."""
    check_integer(n, "n", 1)
    if isinstance(L, bool) or not isinstance(L, int) or L <= model.d:
        raise ValueError(f"L (the context length) must be an integer > d = {model.d}, got {L!r}")
    dev = get_device(device)
    gen = torch.Generator(device=dev).manual_seed(seed)
    d, k = model.d, model.k
    A, theta = sample_tasks(model, n, gen, dev)
    z = torch.randn(n, L + 1, k, generator=gen, device=dev, dtype=torch.float64)
    x = z @ A.transpose(1, 2) + torch.randn(n, L + 1, d, generator=gen, device=dev, dtype=torch.float64)
    y = (z @ theta[:, :, None])[..., 0] + model.sigma * torch.randn(n, L + 1, generator=gen, device=dev,
                                                                       dtype=torch.float64)
    w, risk = _oracle(A, theta, model.sigma)
    return Prompts(X=x[:, :L], y=y[:, :L], xq=x[:, L], yq=y[:, L], w=w, oracle_risk=risk)


def modality_oracle_risks(model: LatentFactorModel, weak_scale: float, n_tasks: int = 20_000,
                          seed: int = 0) -> dict[str, float]:
    """Mean oracle risk using modality 1 alone, modality 2 alone (its loadings scaled by ``weak_scale``), and both.

    Adding a modality adds a positive semidefinite Gram :math:`A^{(j)\\top} A^{(j)}` inside
    :math:`(I + A^\\top A)^{-1}`, so the risk with both is never larger than with either.
    """
    if len(model.modality_dims) != 2:
        raise ValueError(f"modality_oracle_risks needs exactly two modalities, got {model.modality_dims}")
    if not weak_scale >= 0:
        raise ValueError(f"weak_scale must be non-negative, got {weak_scale!r}")
    gen = torch.Generator().manual_seed(seed)
    A, theta = sample_tasks(model, n_tasks, gen, torch.device("cpu"))
    d1 = model.modality_dims[0]
    A = torch.cat([A[:, :d1], weak_scale * A[:, d1:]], dim=1)
    views = {"modality 1": A[:, :d1], "modality 2 (weak)": A[:, d1:], "both": A}
    return {name: float(_oracle(view, theta, model.sigma)[1].mean()) for name, view in views.items()}


def context_moments(p: Prompts) -> tuple[torch.Tensor, torch.Tensor]:
    r""":math:`\hat\Sigma = X^\top X / L` ``(n, d, d)`` and :math:`\hat c = X^\top y / L` ``(n, d)``."""
    L = p.X.shape[1]
    return p.X.transpose(1, 2) @ p.X / L, (p.X.transpose(1, 2) @ p.y[:, :, None])[..., 0] / L


def gradient_descent_prediction(p: Prompts, step: float, T: int) -> torch.Tensor:
    r"""Prediction after :math:`T` steps of gradient descent on :math:`\frac1{2L}\sum_i (y_i - v^\top x_i)^2` from 0."""
    T = _check_depth(T)
    Sigma, c = context_moments(p)
    v = torch.zeros_like(c)
    for _ in range(T):
        v = v + step * (c - (Sigma @ v[:, :, None])[..., 0])
    return (v * p.xq).sum(-1)


class CrossAttentionStack(torch.nn.Module):
    r"""The linearised cross-attention stack with covariate re-injection and a self-attention readout.

    ``mode="tied"``: one scalar, :math:`\beta = -\alpha`; ``"two"``: scalars :math:`\alpha, \beta`;
    ``"full"``: query, key and value maps :math:`W_Q, W_K, W_V \in \mathbb R^{d \times d}` shared across layers,
    the attention term :math:`\frac1L (h W_Q)(X W_K)^\top (X W_V)`, started at :math:`W_Q = W_K = I`,
    :math:`W_V = \beta_0 I`. Only the query token's stream is computed: each token's stream evolves on
    its own, and the readout uses the query's.
    """

    def __init__(self, d: int, T: int, mode: str = "tied", alpha0: float = 0.05):
        super().__init__()
        if mode not in ("tied", "two", "full"):
            raise ValueError(f"mode must be 'tied', 'two' or 'full', got {mode!r}")
        self.T, self.mode = _check_depth(T), mode
        self.alpha = torch.nn.Parameter(torch.tensor(float(alpha0), dtype=torch.float64))
        if mode == "two":
            self.beta = torch.nn.Parameter(torch.tensor(-float(alpha0), dtype=torch.float64))
        if mode == "full":
            eye = torch.eye(d, dtype=torch.float64)
            self.W_Q = torch.nn.Parameter(eye.clone())
            self.W_K = torch.nn.Parameter(eye.clone())
            self.W_V = torch.nn.Parameter(-float(alpha0) * eye)

    def forward(self, p: Prompts) -> torch.Tensor:
        L = p.X.shape[1]
        Sigma, c = context_moments(p)
        h = torch.zeros_like(p.xq)
        for _ in range(self.T):
            if self.mode == "full":
                keys, values = p.X @ self.W_K, p.X @ self.W_V  # (n, L, d)
                attention = ((h @ self.W_Q)[:, None, :] @ keys.transpose(1, 2)) @ values / L  # (n, 1, d)
                update = attention[:, 0]
            else:
                beta = -self.alpha if self.mode == "tied" else self.beta
                update = beta * (Sigma @ h[:, :, None])[..., 0]
            h = h + update + self.alpha * p.xq
        return (c * h).sum(-1)  # readout: (1/L) sum_i y_i <x_i, h_q>


def excess_over_oracle(prediction: torch.Tensor, p: Prompts) -> float:
    r""":math:`\frac1n \sum (\hat y_q - w^\top x_q)^2`: the excess risk over the oracle, estimated on the batch."""
    return float(((prediction - (p.w * p.xq).sum(-1)) ** 2).mean())


class LinearSelfAttention(torch.nn.Module):
    r"""Single-layer linear self-attention, in two parametrisations.

    ``mode="full"``: the reduced form :math:`\hat y_q = x_q^\top \Gamma^\top \hat c` with one learnable
    :math:`d \times d` matrix :math:`\Gamma`: one step of gradient descent with a fixed preconditioner.
    ``mode="standard"``: the merged-weights form of Zhang, Frei and Bartlett,
    :math:`f(E) = E + W^{PV} E\, (E^\top W^{KQ} E)/L` on the embedding
    :math:`E = \begin{pmatrix} x_1 & \cdots & x_L & x_q \\ y_1 & \cdots & y_L & 0 \end{pmatrix}`, with
    :math:`\hat y_q` the bottom-right entry; the keys run over the :math:`L` context columns only.
    """

    def __init__(self, d: int, mode: str = "full", gamma0: float = 0.0):
        super().__init__()
        if mode not in ("full", "standard"):
            raise ValueError(f"mode must be 'full' or 'standard', got {mode!r}")
        self.mode = mode
        if mode == "full":
            self.Gamma = torch.nn.Parameter(gamma0 * torch.eye(d, dtype=torch.float64))
        else:
            self.W_PV = torch.nn.Parameter(torch.zeros(d + 1, d + 1, dtype=torch.float64))
            self.W_KQ = torch.nn.Parameter(torch.zeros(d + 1, d + 1, dtype=torch.float64))
            with torch.no_grad():
                self.W_PV[d, d] = 1.0
                self.W_KQ[:d, :d] = gamma0 * torch.eye(d, dtype=torch.float64)

    def forward(self, p: Prompts) -> torch.Tensor:
        if self.mode == "full":
            _, c = context_moments(p)
            return ((p.xq @ self.Gamma.T) * c).sum(-1)
        L = p.X.shape[1]
        context = torch.cat([p.X, p.y[:, :, None]], dim=2)  # (n, L, d+1): the context columns
        query = torch.cat([p.xq, torch.zeros_like(p.yq)[:, None]], dim=1)  # (n, d+1)
        attention = (context @ self.W_KQ @ query[:, :, None])[..., 0] / L  # (n, L): e_i^T W^KQ e_q / L
        mixed = (context * attention[:, :, None]).sum(1)  # (n, d+1): sum_i e_i (e_i^T W^KQ e_q) / L
        return query[:, -1] + mixed @ self.W_PV[-1]


class SoftmaxTransformer(torch.nn.Module):
    r"""A standard transformer baseline: softmax attention, MLPs, layer norms, nothing tied to the model.

    Each context example becomes the token :math:`(x_i, y_i)` and the query the token :math:`(x_q, 0)`, with a
    learned flag marking the query; a linear embedding, ``depth`` pre-norm encoder blocks (``heads``-head
    softmax attention over all tokens, a GELU MLP of width ``4 * width``), and a linear read-out of
    :math:`\hat y_q` from the query token. It runs in float32 and returns float64 like the other modules.
    """

    def __init__(self, d: int, width: int = 64, depth: int = 4, heads: int = 4):
        super().__init__()
        d, width = check_integer(d, "d", 1), check_integer(width, "width", 1)
        depth, heads = check_integer(depth, "depth", 1), check_integer(heads, "heads", 1)
        if width % heads:
            raise ValueError(f"width must be a multiple of heads, got width={width}, heads={heads}")
        self.embed = torch.nn.Linear(d + 2, width)
        block = torch.nn.TransformerEncoderLayer(width, heads, dim_feedforward=4 * width, dropout=0.0,
                                                 activation="gelu", batch_first=True, norm_first=True)
        self.blocks = torch.nn.TransformerEncoder(block, depth, enable_nested_tensor=False)
        self.readout = torch.nn.Sequential(torch.nn.LayerNorm(width), torch.nn.Linear(width, 1))

    def forward(self, p: Prompts) -> torch.Tensor:
        n, L, _ = p.X.shape
        flag = torch.zeros(n, L + 1, 1, dtype=p.X.dtype, device=p.X.device)
        flag[:, -1] = 1.0
        values = torch.cat([p.y, torch.zeros_like(p.yq)[:, None]], dim=1)[:, :, None]
        tokens = torch.cat([torch.cat([p.X, p.xq[:, None]], dim=1), values, flag], dim=2).float()
        hidden = self.blocks(self.embed(tokens))
        return self.readout(hidden[:, -1])[:, 0].double()


@dataclasses.dataclass
class TrainResult:
    """A model trained on fresh prompts: its excess over the oracle along training, and its final parameters."""

    steps: np.ndarray
    excess: np.ndarray
    parameters: dict


def train_in_context(module: torch.nn.Module, model: LatentFactorModel, L: int, steps: int = 1000,
                     batch: int = 256, lr: float = 1e-2, eval_prompts: int = 2000, record_every: int = 50,
                     seed: int = 0, device=None) -> TrainResult:
    """Adam with a cosine-decayed step on the squared error of the query prediction, with a fresh batch of
    tasks and prompts every step (online training); the excess over the oracle is measured on fixed
    evaluation prompts."""
    for name, value, low in (("steps", steps, 1), ("batch", batch, 1), ("eval_prompts", eval_prompts, 2),
                             ("record_every", record_every, 1)):
        check_integer(value, name, low)
    dev = get_device(device)
    module = module.to(dev)
    evaluation = sample_prompts(model, eval_prompts, L, seed=10**6 + seed, device=dev)
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    recorded, excess = [], []
    for step in progress(range(steps + 1), desc="in-context training"):
        if step % record_every == 0 or step == steps:
            with torch.no_grad():
                recorded.append(step)
                excess.append(excess_over_oracle(module(evaluation), evaluation))
        if step == steps:
            break
        p = sample_prompts(model, batch, L, seed=seed * 10**5 + step, device=dev)
        loss = ((module(p) - p.yq) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
    params = {name: value.detach().cpu().numpy() for name, value in module.named_parameters()}
    return TrainResult(steps=np.array(recorded), excess=np.array(excess), parameters=params)


def ols_prediction(p: Prompts) -> torch.Tensor:
    r"""Least squares on the context: :math:`\hat c^\top \hat\Sigma^{-1} x_q`."""
    Sigma, c = context_moments(p)
    return (torch.linalg.solve(Sigma, c[:, :, None])[..., 0] * p.xq).sum(-1)


def ols_excess(model: LatentFactorModel, L: int) -> float:
    r"""Excess of least squares over the oracle for Gaussian covariates: :math:`\mathbb E R_{\rm Bayes}\, d/(L - d - 1)`."""
    if isinstance(L, bool) or not isinstance(L, int) or L <= model.d + 1:
        raise ValueError(f"L (the context length) must be an integer > d + 1 = {model.d + 1}, got {L!r}")
    return bayes_risk(model) * model.d / (L - model.d - 1)


def draw_lsa_state(fig, m_low: float, m_high: float) -> None:
    """Part IV widget: the fixed LSA coefficient against the Bayes coefficient over the spectrum, and the risks."""
    from .viz import PALETTE

    model = LatentFactorModel(m_low=m_low, m_high=m_high)
    gamma, excess = lsa_optimum(model)
    ax0, ax1 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
    lam = np.linspace(0.0, 16.5, 400)
    ax0.plot(lam, 1 / (1 + lam), color="0.6", lw=1, label=r"Bayes: $1/(1+\lambda)$, a different task each $\lambda$")
    inside = (lam >= m_low) & (lam <= m_high)
    ax0.plot(lam[inside], 1 / (1 + lam[inside]), color=PALETTE[0], lw=3, label="the spectrum of this task law")
    ax0.axhline(gamma, color=PALETTE[1], lw=2, label=rf"one-layer LSA: $\gamma^* = {gamma:.3f}$")
    ax0.set(xlabel=r"eigenvalue $\lambda$ of $A^\top A$", ylabel="coefficient on the eigendirection",
            title="one fixed preconditioner for every task", ylim=(0, 1.05))
    ax0.legend(fontsize="small", loc="upper right")
    bars = {"Bayes risk": bayes_risk(model), "LSA excess": excess,
            r"deep CA excess, $T=8$": ca_excess(optimal_alpha(8, model), 8, model)}
    ax1.bar(list(bars), list(bars.values()), color=["0.6", PALETTE[1], PALETTE[0]])
    ax1.set(ylabel="squared error", ylim=(0, 0.75),
            title=rf"$[\underline{{m}}, \overline{{m}}] = [{m_low:g}, {m_high:g}]$: LSA excess / Bayes = {excess / bars['Bayes risk']:.0%}")
    ax1.tick_params(axis="x", labelsize=8)


# --- registered experiment: the population depth sweep --------------------------------------------


@dataclasses.dataclass
class DepthSweepResult:
    """Minimisers of the population loss of the T-layer stack, tied and two-parameter, against depth."""

    model: LatentFactorModel
    depths: np.ndarray
    alpha_T: np.ndarray
    excess_T: np.ndarray
    two_param_depths: np.ndarray
    beta_over_alpha: np.ndarray  # -beta_T / alpha_T
    alpha_star: float
    rho_star: float
    lsa_excess: float
    bayes_risk: float


def plot_depth_sweep(result: DepthSweepResult):
    """The learned step approaches alpha* from below; the excess falls like rho*^(2T)."""
    from .viz import PALETTE, new_figure

    fig, (ax0, ax1) = new_figure(ncols=2)
    ax0.semilogx(result.depths, result.alpha_T, "o-", color=PALETTE[0], label=r"$\alpha_T$ (population optimum)")
    ax0.axhline(result.alpha_star, color="k", ls="--", lw=1, label=r"$\alpha^* = 2/(2+\underline{m}+\overline{m})$")
    ax0.set(xlabel="depth $T$", ylabel=r"$\alpha$", title="the learned step tends to the minimax step")
    ax0.legend(fontsize="small")
    ax1.semilogy(result.depths, result.excess_T, "o-", color=PALETTE[0], label="deep CA, at $\\alpha_T$")
    ax1.semilogy(result.depths, 0.8 * result.rho_star ** (2 * result.depths.astype(float)), "k--", lw=1,
                 label=r"$0.8\,\rho_*^{2T}$")
    ax1.axhline(result.lsa_excess, color=PALETTE[1], lw=1.5, label="one-layer LSA floor")
    ax1.set(xscale="log", xlabel="depth $T$", ylabel="excess over the oracle", title="excess risk against depth",
            ylim=(1e-40, 1))
    ax1.legend(fontsize="small")
    return fig


@experiment("icl_depth_sweep", plot=plot_depth_sweep)
def depth_sweep(scale: str | None = None, seed: int = 0, device=None) -> DepthSweepResult:
    """Population optimum of the cross-attention stack against depth (closed form at L = infinity)."""
    scale = resolve_scale(scale)
    model = LatentFactorModel()
    depths = np.array({"quick": [1, 2, 4, 8, 16, 32], "book": [1, 2, 4, 8, 16, 32, 64, 128, 256],
                       "full": [2**i for i in range(11)]}[scale])
    two = depths[(depths >= 2) & (depths <= 32)]  # at T = 1 the prediction does not depend on beta
    alphas = np.array([optimal_alpha(int(T), model) for T in depths])
    pairs = [optimal_alpha_beta(int(T), model) for T in two]
    return DepthSweepResult(
        model=model,
        depths=depths,
        alpha_T=alphas,
        excess_T=np.array([ca_excess(a, int(T), model) for a, T in zip(alphas, depths)]),
        two_param_depths=two,
        beta_over_alpha=np.array([-b / a for a, b in pairs]),
        alpha_star=alpha_star(model.m_low, model.m_high),
        rho_star=rho_star(model.m_low, model.m_high),
        lsa_excess=lsa_optimum(model)[1],
        bayes_risk=bayes_risk(model),
    )




def draw_depth_state(fig, T: int, model: LatentFactorModel = LatentFactorModel()) -> None:
    """Part IV widget: the minimax picture and the residual polynomial of the stack at depth ``T``."""
    from .viz import PALETTE

    m, M = model.m_low, model.m_high
    a_star, a_T = alpha_star(m, M), optimal_alpha(T, model)
    ax0, ax1 = fig.subplots(1, 2)
    alphas = np.linspace(0.0, 2.0 / (1.0 + M), 400)
    worst = np.maximum(np.abs(1 - alphas * (1 + m)), np.abs(1 - alphas * (1 + M)))
    ax0.plot(alphas, worst, color="0.4", label=r"$\max_\lambda |1 - \alpha(1+\lambda)|$")
    ax0.plot([a_star], [rho_star(m, M)], "ko", label=rf"$\alpha^* = {a_star:.4f}$, $\rho_* = {rho_star(m, M):.3f}$")
    ax0.axvline(a_T, color=PALETTE[1], lw=1.5, label=rf"$\alpha_T = {a_T:.4f}$ at $T = {T}$")
    ax0.set(xlabel=r"step $\alpha$", ylabel="worst contraction over the spectrum", title="the minimax step", ylim=(0, 1))
    ax0.legend(fontsize="small", loc="upper right")
    lam = np.linspace(m, M, 400)
    ax1.semilogy(lam, np.abs(1 - a_T * (1 + lam)) ** T, color=PALETTE[1], label=r"$|1 - \alpha_T(1+\lambda)|^T$ (residual)")
    ax1.semilogy(lam, np.full_like(lam, rho_star(m, M) ** T), "k--", lw=1, label=r"$\rho_*^T$")
    ax1.set(xlabel=r"eigenvalue $\lambda$ of $A^\top A$", ylim=(1e-12, 1.5),
            title=f"T = {T}: excess {ca_excess(a_T, T, model):.1e}")
    ax1.legend(fontsize="small", loc="lower center")


@dataclasses.dataclass
class FiniteContextResult:
    """The stack at finite context length: excess at the minimax step over a (L, T) grid, and trained steps."""

    model: LatentFactorModel
    Ls: np.ndarray
    depths: np.ndarray
    excess_at_alpha_star: np.ndarray  # (n_L, n_T), Monte Carlo
    excess_se: np.ndarray  # (n_L, n_T)
    ols_floor: np.ndarray  # (n_L,)
    population_excess: np.ndarray  # (n_T,) at alpha*, L = infinity
    train_L: int
    trained_depths: np.ndarray
    trained_alpha: np.ndarray
    trained_excess: np.ndarray


def plot_finite_context(result: FiniteContextResult):
    """Excess against depth at several context lengths, and the trained step drifting below alpha*."""
    from .viz import PALETTE, new_figure, sequential_colors

    fig, (ax0, ax1) = new_figure(ncols=2)
    for i, (L, color) in enumerate(zip(result.Ls, sequential_colors(len(result.Ls)))):
        ax0.errorbar(result.depths, result.excess_at_alpha_star[i], yerr=2 * result.excess_se[i], fmt="o-", ms=3,
                     color=color, label=f"L = {L}")
        ax0.axhline(result.ols_floor[i], color=color, ls=":", lw=1)
    ax0.plot(result.depths, result.population_excess, "k--", lw=1, label=r"$L = \infty$")
    ax0.set(xscale="log", yscale="log", xlabel="depth $T$", ylabel="excess over the oracle",
            title=r"at $\alpha^*$: depth helps down to the OLS floor (dotted)", ylim=(1e-4, 1))
    ax0.legend(fontsize="small")
    ax1.semilogx(result.trained_depths, result.trained_alpha, "o-", color=PALETTE[0],
                 label=f"trained at L = {result.train_L}")
    ax1.axhline(alpha_star(result.model.m_low, result.model.m_high), color="k", ls="--", lw=1, label=r"$\alpha^*$")
    ax1.set(xlabel="depth $T$", ylabel=r"learned $\alpha$", title="finite L: the learned step drifts below α*")
    ax1.legend(fontsize="small")
    return fig


@experiment("icl_finite_context", plot=plot_finite_context)
def finite_context(scale: str | None = None, seed: int = 0, device=None) -> FiniteContextResult:
    """The cross-attention stack at finite context: excess against depth and L, and the drift of the trained step."""
    scale = resolve_scale(scale)
    model = LatentFactorModel()
    sizes = {"quick": dict(Ls=(50, 200), n=200, steps=40, train=(1, 4)),
             "book": dict(Ls=(50, 200, 1000, 4000), n=400, steps=400, train=(1, 4, 8, 16)),
             "full": dict(Ls=(50, 200, 1000, 4000, 10000), n=2000, steps=3000, train=(1, 2, 4, 8, 16, 32))}[scale]
    depths = np.array([1, 2, 4, 8, 16, 32])
    a_star = alpha_star(model.m_low, model.m_high)
    excess, se = np.empty((len(sizes["Ls"]), len(depths))), np.empty((len(sizes["Ls"]), len(depths)))
    for i, L in enumerate(sizes["Ls"]):
        n = sizes["n"] if L <= 1000 else max(sizes["n"] // 3, 50)
        p = sample_prompts(model, n, L, seed=seed + i, device=device)
        target = (p.w * p.xq).sum(-1)
        with torch.no_grad():
            for j, T in enumerate(depths):
                gaps = (CrossAttentionStack(model.d, int(T), alpha0=a_star).to(p.X.device)(p) - target) ** 2
                excess[i, j], se[i, j] = float(gaps.mean()), float(gaps.std() / math.sqrt(n))
    trained = [train_in_context(CrossAttentionStack(model.d, int(T), "tied", alpha0=0.05), model, L=200,
                                steps=sizes["steps"], batch=128, lr=2e-2, eval_prompts=1000, seed=seed, device=device)
               for T in sizes["train"]]
    return FiniteContextResult(
        model=model, Ls=np.array(sizes["Ls"]), depths=depths, excess_at_alpha_star=excess, excess_se=se,
        ols_floor=np.array([ols_excess(model, L) for L in sizes["Ls"]]),
        population_excess=np.array([ca_excess(a_star, int(T), model) for T in depths]),
        train_L=200, trained_depths=np.array(sizes["train"]),
        trained_alpha=np.array([float(r.parameters["alpha"]) for r in trained]),
        trained_excess=np.array([r.excess[-1] for r in trained]),
    )


def draw_context_state(fig, result: FiniteContextResult, L: int) -> None:
    """Part IV widget: excess against depth at the minimax step for one context length."""
    from .viz import PALETTE

    i = int(np.flatnonzero(result.Ls == L)[0])
    ax = fig.subplots()
    for row in result.excess_at_alpha_star:
        ax.plot(result.depths, row, color="0.85", lw=1)
    ax.errorbar(result.depths, result.excess_at_alpha_star[i], yerr=2 * result.excess_se[i], fmt="o-",
                color=PALETTE[0], label=f"deep CA at α*, L = {L}")
    ax.axhline(result.ols_floor[i], color=PALETTE[1], ls=":", label="least-squares floor $R\\,d/(L-d-1)$")
    ax.plot(result.depths, result.population_excess, "k--", lw=1, label="$L = \\infty$")
    ax.set(xscale="log", yscale="log", ylim=(1e-5, 1), xlabel="depth $T$", ylabel="excess over the oracle",
           title=f"context length L = {L}")
    ax.legend(fontsize="small", loc="lower left")


@dataclasses.dataclass
class BaselineResult:
    """A standard softmax transformer and the two-parameter cross-attention stack trained on the same prompts."""

    model: LatentFactorModel
    Ls: np.ndarray
    steps: int
    batch: int
    width: int
    depth: int
    stack_depth: int
    curve_steps: np.ndarray
    softmax_curve: np.ndarray  # (n_L, records): excess over the oracle along training
    stack_curve: np.ndarray  # (n_L, records)
    ols_floor: np.ndarray  # (n_L,)
    softmax_seconds: np.ndarray  # (n_L,)
    stack_seconds: np.ndarray  # (n_L,)
    device: str


SOFTMAX_SIZES = {
    "quick": dict(Ls=(30,), steps=30, width=16, depth=1, batch=32, eval_prompts=200),
    "book": dict(Ls=(50,), steps=300, width=32, depth=2, batch=64, eval_prompts=1000),
    "full": dict(Ls=(50, 200, 1000), steps=20_000, width=128, depth=6, batch=256, eval_prompts=4000),
}


def plot_softmax_baseline(result: BaselineResult):
    """Excess over the oracle along training for both architectures, one panel per context length."""
    from .viz import PALETTE, new_figure

    fig, axes = new_figure(ncols=len(result.Ls))
    for ax, L, soft, stack, floor in zip(np.atleast_1d(axes), result.Ls, result.softmax_curve, result.stack_curve,
                                         result.ols_floor):
        ax.plot(result.curve_steps, soft, color=PALETTE[1], label=f"softmax transformer (depth {result.depth})")
        ax.plot(result.curve_steps, stack, color=PALETTE[0], label=f"cross-attention stack (T = {result.stack_depth})")
        ax.axhline(floor, color="k", ls=":", lw=1, label="least squares")
        ax.set(yscale="log", xlabel="training step", ylabel="excess over the oracle", title=f"L = {L}")
        ax.legend(fontsize="small")
    return fig


@experiment("icl_softmax_baseline", plot=plot_softmax_baseline)
def softmax_baseline(scale: str | None = None, seed: int = 0, device=None) -> BaselineResult:
    """A standard softmax transformer against the cross-attention stack, trained on the same fresh prompts."""
    size = SOFTMAX_SIZES[resolve_scale(scale)]
    model, dev = LatentFactorModel(), get_device(device)
    common = dict(steps=size["steps"], batch=size["batch"], eval_prompts=size["eval_prompts"],
                  record_every=max(size["steps"] // 20, 1), seed=seed, device=dev)
    runs = {"softmax": [], "stack": []}
    builders = (("softmax", lambda: SoftmaxTransformer(model.d, size["width"], size["depth"]), 1e-3),
                ("stack", lambda: CrossAttentionStack(model.d, 8, mode="two"), 2e-2))
    for L in size["Ls"]:
        for name, build, lr in builders:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)  # the same initialisation wherever the experiment is called from
                module = build()
            start = time.perf_counter()
            result = train_in_context(module, model, L=L, lr=lr, **common)
            runs[name].append((result, time.perf_counter() - start))
    return BaselineResult(
        model=model, Ls=np.array(size["Ls"]), steps=size["steps"], batch=size["batch"], width=size["width"],
        depth=size["depth"], stack_depth=8, curve_steps=runs["softmax"][0][0].steps,
        softmax_curve=np.array([r.excess for r, _ in runs["softmax"]]),
        stack_curve=np.array([r.excess for r, _ in runs["stack"]]),
        ols_floor=np.array([ols_excess(model, L) for L in size["Ls"]]),
        softmax_seconds=np.array([t for _, t in runs["softmax"]]), stack_seconds=np.array([t for _, t in runs["stack"]]),
        device=str(dev),
    )
