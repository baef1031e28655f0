"""Prompts of the latent-factor model (torch, batched), the oracle, and predictors computed from a prompt."""

from __future__ import annotations

import dataclasses
import math

import torch

from ..checks import Integer, Positive, constrain
from ..runtime import get_device
from .closed_forms import LatentFactorModel, _check_depth, bayes_risk


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


@constrain(n=Integer(1), seed=Integer(0))
def sample_prompts(model: LatentFactorModel, n: int, L: int, seed: int = 0, device=None) -> Prompts:
    """``n`` independent tasks, each with a context of ``L`` points and one query, in float64.

    Implements {eq}`eq-latent-factor`
    """
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


@constrain(weak_scale=Positive(allow_zero=True), n_tasks=Integer(1), seed=Integer(0))
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
    r"""Prediction after :math:`T` steps of gradient descent on :math:`\frac1{2L}\sum_i (y_i - v^\top x_i)^2` from 0.

    Implements {prf:ref}`prop-ca-closed-form`, {prf:ref}`prop-von-oswald` (one step, ``T = 1``)
    """
    T = _check_depth(T)
    Sigma, c = context_moments(p)
    v = torch.zeros_like(c)
    for _ in range(T):
        v = v + step * (c - (Sigma @ v[:, :, None])[..., 0])
    return (v * p.xq).sum(-1)


def excess_over_oracle(prediction: torch.Tensor, p: Prompts) -> float:
    r""":math:`\frac1n \sum (\hat y_q - w^\top x_q)^2`: the excess risk over the oracle, estimated on the batch."""
    return float(((prediction - (p.w * p.xq).sum(-1)) ** 2).mean())


def ols_prediction(p: Prompts) -> torch.Tensor:
    r"""Least squares on the context: :math:`\hat c^\top \hat\Sigma^{-1} x_q`."""
    Sigma, c = context_moments(p)
    return (torch.linalg.solve(Sigma, c[:, :, None])[..., 0] * p.xq).sum(-1)


def ols_excess(model: LatentFactorModel, L: int) -> float:
    r"""Excess of least squares over the oracle for Gaussian covariates: :math:`\mathbb E R_{\rm Bayes}\, d/(L - d - 1)`."""
    if isinstance(L, bool) or not isinstance(L, int) or L <= model.d + 1:
        raise ValueError(f"L (the context length) must be an integer > d + 1 = {model.d + 1}, got {L!r}")
    return bayes_risk(model) * model.d / (L - model.d - 1)


# --------------------------------------------------------------------------- the classical benchmark: linear regression


@constrain(n=Integer(1), L=Integer(1), seed=Integer(0))
def linear_regression_prompts(spectrum, n: int, L: int, seed: int = 0) -> Prompts:
    r"""Noiseless in-context linear regression: :math:`x \sim \mathcal N(0, \Lambda)`, :math:`w \sim \mathcal N(0, I)`,
    :math:`y = w^\top x`, with :math:`\Lambda = \operatorname{diag}(\text{spectrum})` the same for every task.

    Implements {prf:ref}`prop-zfb-optimum`

    The task law of Zhang, Frei and Bartlett (2024) and of von Oswald et al. (2023), as a :class:`Prompts`
    batch (``w`` is the task's weight vector, ``oracle_risk`` zero: the oracle knows ``w``).
    """
    lam = torch.as_tensor(spectrum, dtype=torch.float64)
    if lam.ndim != 1 or lam.numel() < 1 or not bool((lam > 0).all()):
        raise ValueError(f"spectrum must be a non-empty list of positive variances, got {spectrum!r}")
    gen = torch.Generator().manual_seed(seed)
    d = lam.numel()
    x = torch.randn(n, L + 1, d, generator=gen, dtype=torch.float64) * lam.sqrt()
    w = torch.randn(n, d, generator=gen, dtype=torch.float64)
    y = (x @ w[:, :, None])[..., 0]
    return Prompts(X=x[:, :L], y=y[:, :L], xq=x[:, L], yq=y[:, L], w=w, oracle_risk=torch.zeros(n, dtype=torch.float64))


@constrain(L=Integer(1))
def zfb_optimum(spectrum, L: int) -> torch.Tensor:
    r"""The best one-layer preconditioner at context length :math:`L`,
    :math:`\Gamma^* = \big((1 + 1/L)\Lambda + \operatorname{tr}(\Lambda)/L \cdot I\big)^{-1}` (Zhang, Frei, Bartlett 2024).

    Implements {prf:ref}`prop-zfb-optimum`
    """
    lam = torch.as_tensor(spectrum, dtype=torch.float64)
    return torch.diag(1.0 / ((1 + 1 / L) * lam + lam.sum() / L))


def fit_preconditioner(p: Prompts) -> torch.Tensor:
    r"""The :math:`\Gamma` minimising :math:`\sum (x_q^\top \Gamma^\top \hat c - y_q)^2` over the batch, by least squares.

    Implements {prf:ref}`prop-zfb-optimum`

    The prediction is linear in :math:`\Gamma`, :math:`x_q^\top\Gamma^\top\hat c = \operatorname{vec}(\Gamma)^\top(\hat c \otimes x_q)`,
    so the empirical optimum of a one-layer LSA is one linear least-squares problem.
    """
    _, c = context_moments(p)
    features = (c[:, :, None] * p.xq[:, None, :]).flatten(1)  # Gamma[i, j] multiplies c_i x_q,j
    coef = torch.linalg.lstsq(features, p.yq[:, None]).solution[:, 0]
    d = p.xq.shape[1]
    return coef.reshape(d, d)
