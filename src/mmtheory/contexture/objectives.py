r"""Objectives whose minimisers learn the contexture, as exact population losses on finite contexts.

Each loss takes an embedding *table*: :math:`\Phi \in \mathbb R^{N \times d}` (a function of
:math:`x`, one row per :math:`x`) or :math:`\Psi \in \mathbb R^{M \times d}` (a function of :math:`a`),
and the context :math:`P^+` as an :math:`N \times M` torch array, and returns the population value,
so no sampling noise hides whether a minimiser has been reached. The minima are known in closed
form (Zhai et al., 2025, Theorems 7, 10, 12, with the penalty terms derived in the chapter):

* spectral contrastive loss: :math:`-\tfrac12 \sum_{i \le d} s_i^4`;
* non-contrastive loss with a variance penalty of weight :math:`\lambda`:
  :math:`-\sum_{i\le d} (s_i^2 + s_i^4 / 4\lambda)`;
* class-balanced MSE to one-hot :math:`A` with a bias: :math:`M - 1 - \sum_{i\le d} s_i^2`;
* Laplacian eigenmaps with penalty :math:`\lambda` on a PSD walk:
  :math:`\sum_{i\le d} [(1-s_i) - (1-s_i)^2/4\lambda]`.

:func:`fit_table` minimises a loss by full-batch Adam in *natural coordinates*
:math:`\Phi = D^{-1/2} Z` (the :math:`L^2(P)` geometry; plain coordinates converge slowly when a
marginal has small entries).
"""

from __future__ import annotations

import numpy as np
import torch

from ..checks import Device, Integer, Positive, check_integer, constrain
from ..runtime import get_device
from ..train import Optimisation, train
from .operator import validate_context


def _centre(F: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    return F - p @ F


def _gram(F: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    return F.T @ (p[:, None] * F)


def _average_encoder(P: torch.Tensor, Psi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(T Psi~, px): the average encoder of the centred Psi and the law of X."""
    px, pa = P.sum(1), P.sum(0)
    return (P @ _centre(Psi, pa)) / px[:, None], px


def spectral_contrastive_loss(Psi: torch.Tensor, P: torch.Tensor) -> torch.Tensor:
    r""":math:`\mathbb E[-\langle\tilde\Psi(A),\tilde\Psi(A^+)\rangle + \tfrac12\langle\tilde\Psi(A),\tilde\Psi(A^-)\rangle^2]`.

    Implements {prf:ref}`thm-objectives`

    :math:`A, A^+` are two draws from :math:`P^+(\cdot\mid x)`; :math:`A^-` an independent draw from
    :math:`P_A`. The first term is :math:`-\|T\tilde\Psi\|^2_{P_X}`, the second
    :math:`\tfrac12\|\mathrm{Cov}_{P_A}[\Psi]\|_F^2`.
    """
    TPsi, px = _average_encoder(P, Psi)
    pa = P.sum(0)
    Psi = _centre(Psi, pa)
    return -(px[:, None] * TPsi**2).sum() + 0.5 * (_gram(Psi, pa) ** 2).sum()


def noncontrastive_loss(Psi: torch.Tensor, P: torch.Tensor, penalty: float) -> torch.Tensor:
    r""":math:`-\mathbb E\langle\tilde\Psi(A),\tilde\Psi(A^+)\rangle + \lambda\,\|\mathrm{Cov}_{P_A}[\Psi] - I\|_F^2`.

    Implements {prf:ref}`thm-objectives`
    """
    TPsi, px = _average_encoder(P, Psi)
    pa = P.sum(0)
    Psi = _centre(Psi, pa)
    eye = torch.eye(Psi.shape[1], dtype=Psi.dtype)
    return -(px[:, None] * TPsi**2).sum() + penalty * ((_gram(Psi, pa) - eye) ** 2).sum()


def balanced_mse_loss(Phi: torch.Tensor, W: torch.Tensor, b: torch.Tensor, P: torch.Tensor) -> torch.Tensor:
    r"""Class-balanced regression onto one-hot :math:`A`: :math:`\mathbb E\sum_j (W\Phi(X) + b - e_A)_j^2 / P_A(j)`.

    Implements {prf:ref}`thm-objectives`, {prf:ref}`prop-balanced-mse`

    Each output coordinate :math:`j` is weighted by :math:`1/P_A(j)`; the population minimiser
    over :math:`(\Phi, W, b)` learns the contexture (the chapter derives this reading of
    Theorem 7).
    """
    return _mse(Phi @ W.T + b, P, 1.0 / P.sum(0))


def mse_loss(Phi: torch.Tensor, W: torch.Tensor, P: torch.Tensor) -> torch.Tensor:
    r"""Plain regression onto one-hot :math:`A` without a bias, :math:`\mathbb E\|W\Phi(X) - e_A\|^2` (Theorem 6).

    Implements {prf:ref}`prop-loss-kernel`

    With ``P.T`` in place of ``P`` it is the denoising autoencoder :math:`\mathbb E\|W\Psi(A) - e_X\|^2`, which
    reconstructs the one-hot input from the context.
    """
    return _mse(Phi @ W.T, P, torch.ones(P.shape[1], dtype=P.dtype))


def _mse(V: torch.Tensor, P: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    # E[(v_j - 1{A=j})^2 | x] = v_j^2 - 2 v_j P(j|x) + P(j|x)
    px = P.sum(1)
    cond = P / px[:, None]
    return (px[:, None] * (V**2 - 2 * V * cond + cond) * weight).sum()


def eigenmap_loss(Phi: torch.Tensor, P: torch.Tensor, penalty: float) -> torch.Tensor:
    r"""Laplacian eigenmaps on a graph context (``P`` symmetric, :math:`P(u,v) = w(u,v)/d_{\rm sum}`):

    :math:`\tfrac12 \mathbb E_{(u,v)\sim P}\|\Phi(u) - \Phi(v)\|^2 + \lambda\|\mathrm{Cov}_{P_X}[\Phi] - I\|_F^2`.

    Implements {prf:ref}`thm-objectives`
    """
    px = P.sum(1)
    Phi = _centre(Phi, px)
    spread = (px[:, None] * Phi**2).sum() - (Phi * (P @ Phi)).sum()
    eye = torch.eye(Phi.shape[1], dtype=Phi.dtype)
    return spread + penalty * ((_gram(Phi, px) - eye) ** 2).sum()


# --------------------------------------------------------------------------- closed-form minima


def _top(s, d: int) -> np.ndarray:
    s = np.asarray(s, dtype=float)
    d = check_integer(d, "d", 1, s.size - 1)
    return s[1 : d + 1]


@constrain(d=Integer(1))
def contrastive_minimum(s, d: int) -> float:
    r"""The minimum of :func:`spectral_contrastive_loss` over :math:`d`-dimensional tables,
    :math:`-\tfrac12 \sum_{i \le d} s_i^4`.

    Implements {prf:ref}`thm-objectives`, {prf:ref}`prop-objective-minima`
    """
    return float(-0.5 * np.sum(_top(s, d) ** 4))


@constrain(d=Integer(1))
def noncontrastive_minimum(s, d: int, penalty: float) -> float:
    r"""The minimum of :func:`noncontrastive_loss` with penalty :math:`\lambda`,
    :math:`-\sum_{i\le d} (s_i^2 + s_i^4 / 4\lambda)`.

    Implements {prf:ref}`thm-objectives`, {prf:ref}`prop-objective-minima`
    """
    top = _top(s, d)
    return float(-np.sum(top**2 + top**4 / (4 * penalty)))


@constrain(d=Integer(1), M=Integer(1))
def balanced_mse_minimum(s, d: int, M: int) -> float:
    r"""The minimum of :func:`balanced_mse_loss` (with a bias) for :math:`M` context values,
    :math:`M - 1 - \sum_{i\le d} s_i^2`.

    Implements {prf:ref}`thm-objectives`, {prf:ref}`prop-objective-minima`, {prf:ref}`prop-balanced-mse`
    """
    return float(M - 1 - np.sum(_top(s, d) ** 2))


@constrain(d=Integer(1))
def eigenmap_minimum(s, d: int, penalty: float) -> float:
    r"""The minimum of :func:`eigenmap_loss` with penalty :math:`\lambda` on a PSD walk,
    :math:`\sum_{i\le d} [(1-s_i) - (1-s_i)^2/4\lambda]`.

    Implements {prf:ref}`thm-objectives`, {prf:ref}`prop-objective-minima`
    """
    gap = 1 - _top(s, d)
    return float(np.sum(gap - gap**2 / (4 * penalty)))


def loss_kernel_spectrum(P, side: str = "inputs") -> tuple[np.ndarray, np.ndarray]:
    r"""Eigenvalues (descending) and :math:`L^2`-orthonormal eigenfunctions (columns) of the loss-kernel operator
    of plain regression on a finite context.

    Implements {prf:ref}`prop-loss-kernel`

    ``side="inputs"``: :math:`T\Lambda T^*` on :math:`L^2(P_X)`, :math:`\Lambda` the multiplication by :math:`P_A`,
    kernel :math:`k(x, x') = \sum_a P(a \mid x) P(a \mid x')`: what :func:`mse_loss` learns. ``side="context"``:
    :math:`T^*\Lambda' T` on :math:`L^2(P_A)`, :math:`\Lambda'` the multiplication by :math:`P_X`: what the denoising
    autoencoder learns. The operator is :math:`R R^\top` in natural coordinates, :math:`R_{xa} = \sqrt{p_x} P(a \mid x)`.
    """
    if side not in ("inputs", "context"):
        raise ValueError(f"side must be 'inputs' or 'context', got {side!r}")
    P = validate_context(P)
    P = P if side == "inputs" else P.T
    p = P.sum(1)
    U, sigma, _ = np.linalg.svd(np.sqrt(p)[:, None] * P / p[:, None], full_matrices=False)
    return sigma**2, U / np.sqrt(p)[:, None]


@constrain(d=Integer(1))
def plain_mse_minimum(P, d: int, side: str = "inputs") -> float:
    r"""The minimum of :func:`mse_loss` over rank-:math:`d` encoders: :math:`1 - \sum_{i \le d}\lambda_i(T\Lambda T^*)`
    (``side="context"``: of the denoising autoencoder, with :math:`T^*\Lambda' T`).

    Implements {prf:ref}`prop-loss-kernel`
    """
    values, _ = loss_kernel_spectrum(P, side)
    d = check_integer(d, "d", 1, values.size)
    return float(1.0 - values[:d].sum())


# --------------------------------------------------------------------------- fitting a table


@constrain(d=Integer(1), steps=Integer(1), lr=Positive(), seed=Integer(0), device=Device())
def fit_table(loss, p, d: int, extra_shapes=(), steps: int = 3000, lr: float = 0.05, seed: int = 0,
              device: str = "cpu"):
    r"""Minimise ``loss(table, *extras)`` over a table with ``len(p)`` rows and ``d`` columns.

    The table is parametrised as :math:`D_p^{-1/2} Z` with :math:`Z` free, which is gradient descent
    in the geometry of :math:`L^2(p)`; ``extras`` (e.g. a probe's weights) are free tensors of the
    given shapes. Full-batch Adam with a cosine-decayed step, float64, seeded. The tables of a finite
    context are small, so ``device`` defaults to the CPU; pass ``"cuda"`` (and a ``loss`` whose context
    tensor lives there) for large ones. Returns the table (numpy), the extras (numpy) and the loss curve.
    """
    dev = get_device(device)
    p = torch.as_tensor(np.asarray(p, dtype=float), device=dev)
    gen = torch.Generator().manual_seed(seed)
    Z = (0.1 * torch.randn(p.numel(), d, generator=gen, dtype=torch.float64)).to(dev).requires_grad_()
    extras = [(0.1 * torch.randn(*shape, generator=gen, dtype=torch.float64)).to(dev).requires_grad_()
              for shape in extra_shapes]
    curve = train([Z, *extras], lambda step: loss(Z / p.sqrt()[:, None], *extras), Optimisation(steps, lr),
                  desc="fit table")
    with torch.no_grad():
        table = (Z / p.sqrt()[:, None]).cpu().numpy()
    return table, [e.detach().cpu().numpy() for e in extras], curve
