r"""Deep encoders learn the top singular functions of a context, with diminishing returns of width.

**The context** (Zhai et al., 2025, *Contextures*). :math:`X \sim N(0, I_{\rm dim})` and the context
variable is a noisy copy, :math:`A = \rho X + \sqrt{1-\rho^2}\,\varepsilon` with
:math:`\varepsilon \sim N(0, I_{\rm dim})`. In one dimension the expectation operator
:math:`Tg(x) = \mathbb E[g(A) \mid x]` has singular values :math:`s_k = \rho^k` and singular functions the
orthonormal Hermite polynomials :math:`h_k = \mathrm{He}_k/\sqrt{k!}` on both sides (Mehler's formula;
:func:`mmtheory.contexture.gaussian_context`).

**The loss.** An encoder :math:`\Psi: \mathbb R^{\rm dim} \to \mathbb R^d` of :math:`A` is trained on the
spectral contrastive loss

.. math:: L_C(\Psi) = \mathbb E\big[-\langle \tilde\Psi(A), \tilde\Psi(A^+)\rangle
          + \tfrac12 \langle \tilde\Psi(A), \tilde\Psi(A^-)\rangle^2\big],

where :math:`A, A^+` are independent draws from :math:`P(\cdot \mid x)` for one :math:`x \sim P_X`, :math:`A^-`
is an independent draw from the marginal and :math:`\tilde\Psi = \Psi - \mathbb E\Psi`. The pair
:math:`(A, A^+)` has the kernel of :math:`T^*T`, whose eigenvalues are :math:`s_k^2`, so writing
:math:`\tilde\Psi = W h` (``W`` with ``d`` rows) gives
:math:`L_C = -\operatorname{tr}(W \Lambda W^\top) + \tfrac12 \|W^\top W\|_F^2` with
:math:`\Lambda = \operatorname{diag}(s_1^2, s_2^2, \dots)`. By Eckart–Young the minimum is

.. math:: L_C^* = -\tfrac12 \sum_{k=1}^d s_k^4 = -\tfrac12 \sum_{k=1}^d \rho^{4k},

reached exactly when :math:`\tilde\Psi = R\,(s_1 h_1, \dots, s_d h_d)` for an orthogonal :math:`R`: the span is
that of the top-:math:`d` singular functions, and the loss also fixes the scale (the orthonormal
:math:`h_1..h_d` themselves score :math:`d/2 - \sum_k \rho^{2k}`).

**On a minibatch** of :math:`B` pairs the outputs are centred with the mean over both views, the positive term
is :math:`-\frac1B \sum_i \langle z_i, z_i^+\rangle` and the negatives are the off-diagonal pairs,
:math:`\frac{1}{2B(B-1)} \sum_{i \ne j} \langle z_i, z_j^+\rangle^2`, computed in :math:`O(Bd^2)` from
:math:`\sum_{i,j} \langle z_i, z_j^+\rangle^2 = \langle Z^\top Z, Z^{+\top} Z^+\rangle_F`.

**Measurements.** The population loss of an encoder is computed without sampling, by Gauss–Hermite quadrature
over :math:`(X, \varepsilon)` (:func:`population_loss`); a batch estimate from 65k pairs has a standard error of a
few 1e-3, as large as the loss gaps at large width. **Alignment** is the mean squared canonical correlation between
:math:`\Psi(a)` and :math:`h_1..h_d` on a fixed sample :math:`a \sim N(0, 1)`: 1 exactly when the spans agree. It is
a lenient score: almost any smooth span holds :math:`h_1, h_2`, and an untrained Tanh MLP already scores 0.7–0.9.
**Downstream error** is the worst-case linear-probe error over the compatible tasks :math:`\mathcal F_\epsilon`
(:func:`gaussian_worst_case_error`, at the middle of Theorem 16's range of :math:`\epsilon`): Theorem 16 bounds it
from below for every encoder with ``d`` outputs, by the value the top-``d`` features attain.
The experiment sweeps the width (and depth) of a Tanh MLP at a fixed step budget; the paper's claim is that
alignment rises with width and then plateaus.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch

from ..checks import Device, Integer, Positive, Probability, Real, check_integer, constrain
from ..numerics import principal_cosines
from ..runtime import get_device
from ..train import Optimisation, train
from .contexts import hermite_functions
from .objectives import contrastive_minimum
from .operator import ContextSVD, check_rho, theorem16_range, worst_case_error

GRID = np.linspace(-3.0, 3.0, 121)  # where the learned features are stored for the widget
TEST_SEED = 20250  # the fixed test sample of the alignment measurement


# --- the context and the loss ---------------------------------------------------------------------


def sample_context_pairs(n: int, rho: float, gen: torch.Generator, dim: int = 1,
                         dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``n`` pairs :math:`(a_i, a_i^+)`, each ``(n, dim)``: two independent noisy copies of one
    :math:`x_i \sim N(0, I)`.

    Drawn with ``gen`` on its device. Across pairs the draws are independent, so :math:`a_j^+` with
    :math:`j \ne i` is a draw from the marginal :math:`N(0, I)` independent of :math:`a_i`: a negative.
    """
    n, dim, rho = check_integer(n, "n", 1), check_integer(dim, "dim", 1), check_rho(rho)
    x, noise, noise_pos = torch.randn(3, n, dim, generator=gen, device=gen.device, dtype=dtype)
    spread = (1.0 - rho**2) ** 0.5
    return rho * x + spread * noise, rho * x + spread * noise_pos


def spectral_contrastive_batch_loss(z: torch.Tensor, z_pos: torch.Tensor) -> torch.Tensor:
    r"""The minibatch spectral contrastive loss of outputs ``z, z_pos`` (``(B, d)``, row ``i`` a positive pair).

    Both views are centred with their joint mean; the negatives are the :math:`B(B-1)` off-diagonal pairs.
    """
    if z.ndim != 2 or z.shape != z_pos.shape or z.shape[0] < 2:
        raise ValueError(f"z and z_pos must both have shape (B, d) with B >= 2, got {tuple(z.shape)} "
                         f"and {tuple(z_pos.shape)}")
    B = z.shape[0]
    mean = (z.sum(0) + z_pos.sum(0)) / (2 * B)
    z, z_pos = z - mean, z_pos - mean
    diagonal = (z * z_pos).sum(1)
    all_pairs = ((z.T @ z) * (z_pos.T @ z_pos)).sum()  # sum over all i, j of <z_i, z_j+>^2
    negative = (all_pairs - (diagonal**2).sum()) / (B * (B - 1))
    return -diagonal.mean() + 0.5 * negative


@constrain(rho=Probability(closed_high=False, label="the correlation of the context"), d=Integer(1))
def gaussian_contrastive_minimum(rho: float, d: int) -> float:
    r"""The population minimum :math:`L_C^* = -\frac12 \sum_{k=1}^d \rho^{4k}` over encoders with ``d`` outputs
    (:func:`~mmtheory.contexture.objectives.contrastive_minimum` with :math:`s_k = \rho^k`)."""
    return contrastive_minimum(rho ** np.arange(d + 1.0), d)


@constrain(rho=Probability(closed_high=False, label="the correlation of the context"), d=Integer(1))
def optimal_features(a, rho: float, d: int) -> np.ndarray:
    r"""A minimiser of :math:`L_C` for ``dim = 1``: the columns :math:`\rho^k h_k(a)`, ``k = 1..d``."""
    return hermite_functions(a, d)[..., 1:] * rho ** np.arange(1, d + 1)


@constrain(d=Integer(1))
def alignment_r2(features, a, d: int, px=None) -> float:
    r"""Mean squared canonical correlation between ``features`` (``(n, k)``) and :math:`h_1..h_d` at the points ``a``.

    The mean runs over the ``d`` Hermite directions, a direction the features miss counting as 0; when the
    features have rank ``d`` this is :func:`mmtheory.contexture.cca_r2`. ``px`` weights the points (default: a
    sample, equal weights).
    """
    cosines = principal_cosines(features, hermite_functions(np.ravel(a), d)[:, 1:], px)
    return float(np.sum(cosines**2) / d)


@constrain(rho=Probability(closed_high=False, label="the correlation of the context"), nodes=Integer(2))
def population_loss(features, rho: float, nodes: int = 64) -> float:
    r"""The population loss :math:`L_C` of a feature map of one variable, by Gauss–Hermite quadrature (no sampling).

    ``features`` maps an ``(n,)`` array of points to an ``(n, k)`` array. With nodes :math:`t_i` and weights
    :math:`w_i` of :math:`N(0, 1)`, :math:`A_{ij} = \rho t_i + \sqrt{1-\rho^2}\, t_j` covers :math:`(X, \varepsilon)`;
    then :math:`m_i = \sum_j w_j \tilde\Psi(A_{ij}) \approx \mathbb E[\tilde\Psi(A) \mid x = t_i]` and
    :math:`L_C = -\sum_i w_i |m_i|^2 + \frac12 \|\sum_{ij} w_i w_j \tilde\Psi(A_{ij}) \tilde\Psi(A_{ij})^\top\|_F^2`.
    Exact for polynomial features of degree below ``nodes``; for trained Tanh MLPs 40 nodes already agree with
    160 to about 1e-8.
    """
    t, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    values = np.asarray(features((rho * t[:, None] + (1.0 - rho**2) ** 0.5 * t[None, :]).ravel()), dtype=float)
    values = values.reshape(nodes, nodes, -1)
    centred = values - np.einsum("i,j,ijk->k", w, w, values)
    conditional = np.einsum("j,ijk->ik", w, centred)
    covariance = np.einsum("i,j,ijk,ijl->kl", w, w, centred, centred)
    return float(-np.einsum("i,ik,ik->", w, conditional, conditional) + 0.5 * np.sum(covariance**2))


@constrain(rho=Probability(closed_low=False, closed_high=False, label="the correlation of the context"))
def theorem16_midpoint(rho: float) -> float:
    r"""The middle of Theorem 16's range of :math:`\epsilon` for the Gaussian-noise context,
    :math:`s_k = \rho^k` (:func:`~mmtheory.contexture.theorem16_range`): the level the width sweep scores at."""
    return float(np.mean(theorem16_range(rho ** np.arange(3.0))))


@constrain(rho=Probability(closed_low=False, closed_high=False, label="the correlation of the context"),
           epsilon=Real(0, 1, closed="neither"), nodes=Integer(8, 150))
def gaussian_worst_case_error(features, rho: float, epsilon: float, nodes: int = 64) -> float:
    r"""The worst-case probe error :math:`\operatorname{err}(\Psi; \mathcal F_\epsilon)` of a feature map of one
    variable on the Gaussian-noise context: Theorem 16's left side, for a trained network.

    Implements {prf:ref}`thm-optimal-encoder`

    ``features`` maps an ``(n,)`` array of points to an ``(n, k)`` array, as for :func:`population_loss`. On the
    ``nodes`` Gauss–Hermite nodes :math:`t_i` with weights :math:`w_i` of :math:`N(0, 1)` the quadrature is exact
    for polynomials of degree below ``2 * nodes``, so :math:`h_0, \dots, h_{\rm nodes - 1}` are exactly
    orthonormal there: a complete basis of the functions on the nodes, with the context's singular values
    :math:`\rho^k`. On that finite model (tasks: polynomials of degree below ``nodes``) the dual of
    :func:`~mmtheory.contexture.worst_case_error` is exact. The top-:math:`d` features
    (:func:`optimal_features`) score Theorem 16's value; for Tanh MLPs 64 nodes agree with 128 to about 1e-6.
    """
    t, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    mu = hermite_functions(t, nodes - 1)
    values = np.asarray(features(t), dtype=float).reshape(nodes, -1)
    svd = ContextSVD(s=rho ** np.arange(float(nodes)), mu=mu, nu=mu, px=w, pa=w)
    return worst_case_error(values, svd, epsilon)[0]


@constrain(d=Integer(1))
def best_linear_map(features, a, d: int, points_features) -> np.ndarray:
    r"""Least squares of each :math:`h_k`, ``k = 1..d``, on ``features`` plus a bias at the points ``a``, applied to
    ``points_features``: the learned features as seen through the best linear read-out, ``(m, d)``."""
    design = np.column_stack([features, np.ones(len(features))])
    coef = np.linalg.lstsq(design, hermite_functions(np.ravel(a), d)[:, 1:], rcond=None)[0]
    return np.column_stack([points_features, np.ones(len(points_features))]) @ coef


# --- the encoder and its training -----------------------------------------------------------------


class MLPEncoder(torch.nn.Sequential):
    """A Tanh MLP from ``dim`` inputs to ``d`` outputs with ``depth`` hidden layers of ``width`` units."""

    def __init__(self, dim: int = 1, width: int = 64, depth: int = 2, d: int = 4):
        dim, width = check_integer(dim, "dim", 1), check_integer(width, "width", 1)
        depth, d = check_integer(depth, "depth", 1), check_integer(d, "d", 1)
        layers, fan_in = [], dim
        for _ in range(depth):
            layers += [torch.nn.Linear(fan_in, width), torch.nn.Tanh()]
            fan_in = width
        super().__init__(*layers, torch.nn.Linear(fan_in, d))


@dataclasses.dataclass
class EncoderFit:
    """One trained encoder: its loss along training and at the end, its alignment, its features on :data:`GRID`,
    and its worst-case probe error on the compatible tasks (:func:`gaussian_worst_case_error` at
    :func:`theorem16_midpoint`) before and after training."""

    width: int
    depth: int
    rho: float
    d: int
    steps: int
    curve_steps: np.ndarray  # the step that ends each block of record_every steps
    loss_curve: np.ndarray  # mean minibatch loss over each block
    initial_loss: float  # population loss (population_loss) before training
    final_loss: float  # and after
    cca_r2: float
    epsilon: float  # theorem16_midpoint(rho)
    initial_worst_case: float  # gaussian_worst_case_error at epsilon, before training
    worst_case: float  # and after
    aligned_features: np.ndarray  # (len(GRID), d): the best linear map of Psi onto h_1..h_d, on GRID
    seconds: float


def _features(encoder: torch.nn.Module, points: np.ndarray) -> np.ndarray:
    """The encoder's outputs at 1-D ``points``, as a float64 ``(n, d)`` array."""
    device = next(encoder.parameters()).device
    with torch.no_grad():
        return encoder(torch.as_tensor(points[:, None], dtype=torch.float32, device=device)).double().cpu().numpy()


def _ensemble(width: int, depth: int, d: int, seeds, device: torch.device):
    """One :class:`MLPEncoder` per seed (each built under its seed, as a lone run builds it), their parameters
    stacked along a leading ensemble axis, and ``forward(params, x)`` that maps ``x`` of shape ``(E, n, 1)``
    through every member at once (``torch.func.vmap`` of a functional call)."""
    members = []
    for seed in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            members.append(MLPEncoder(1, width, depth, d).to(device))
    params, _ = torch.func.stack_module_state(members)
    template = MLPEncoder(1, width, depth, d).to("meta")
    forward = torch.vmap(lambda p, x: torch.func.functional_call(template, p, (x,)))
    return members, params, forward


def _epsilon(rho: float) -> float:
    return theorem16_midpoint(rho) if rho > 0 else np.nan  # at rho = 0 no task is compatible


def _worst_case(encoder: torch.nn.Module, rho: float) -> float:
    return gaussian_worst_case_error(lambda a: _features(encoder, a), rho, _epsilon(rho)) if rho > 0 else np.nan


def _fit(encoder: torch.nn.Module, width: int, depth: int, rho: float, d: int, losses: np.ndarray,
         initial: tuple[float, float], seconds: float, record_every: int, test_points: int) -> EncoderFit:
    """Measure one trained encoder: its loss curve, population loss, alignment, worst-case probe error and
    features on the grid; ``initial`` holds its population loss and worst case before training."""
    steps = len(losses)
    test = np.random.default_rng(TEST_SEED).standard_normal(test_points)
    on_test = _features(encoder, test)
    starts, curve = np.arange(0, steps, record_every), losses.astype(np.float32)  # the float32 losses, exactly
    return EncoderFit(
        width=width, depth=depth, rho=rho, d=d, steps=steps, curve_steps=np.minimum(starts + record_every, steps),
        loss_curve=np.array([curve[s:s + record_every].mean() for s in starts]), initial_loss=initial[0],
        final_loss=population_loss(lambda a: _features(encoder, a), rho), cca_r2=alignment_r2(on_test, test, d),
        epsilon=_epsilon(rho), initial_worst_case=initial[1], worst_case=_worst_case(encoder, rho),
        aligned_features=best_linear_map(on_test, test, d, _features(encoder, GRID)), seconds=seconds,
    )


# What both trainers accept: one set of checks and messages.
_TRAINING = dict(width=Integer(1), depth=Integer(1), rho=Probability(closed_high=False,
                label="the correlation of the context"), d=Integer(1), steps=Integer(1), batch=Integer(2),
                lr=Positive(), device=Device(), record_every=Integer(1))


@constrain(**_TRAINING)
def train_encoders(width: int, depth: int, seeds, rho: float = 0.8, d: int = 4, steps: int = 3000,
                   batch: int = 1024, lr: float = 1e-3, device=None, record_every: int = 50,
                   test_points: int = 20_000) -> list[EncoderFit]:
    """Train one :class:`MLPEncoder` per seed in ``seeds`` as **one batched model** (an ensemble axis, through
    ``torch.func.vmap``) with Adam on the spectral contrastive loss, each member on its own fresh batches;
    measure each as :func:`train_encoder` does.

    Members never interact: the step minimises the sum of their losses, whose gradient in a member's
    parameters is that member's own, and Adam acts elementwise. So each member ends where a lone run with its
    seed ends, up to floating-point rounding, in one run's time on a GPU instead of ``len(seeds)``. A member's
    ``seconds`` is the ensemble's training time divided by its size.
    """
    seeds = [check_integer(s, "each of seeds", 0) for s in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed, got none")
    check_integer(test_points, "test_points", d + 2)
    dev = get_device(device)
    members, params, forward = _ensemble(width, depth, d, seeds, dev)
    initial = [(population_loss(lambda a, m=m: _features(m, a), rho), _worst_case(m, rho)) for m in members]
    gens = [torch.Generator(device=dev).manual_seed(s) for s in seeds]
    pair_loss = torch.vmap(spectral_contrastive_batch_loss)

    def loss(step):
        a, a_pos = (torch.stack(views) for views in zip(*(sample_context_pairs(batch, rho, g) for g in gens)))
        z = forward(params, torch.cat([a, a_pos], dim=1))
        losses = pair_loss(z[:, :batch], z[:, batch:])
        return losses.sum(), losses

    start = time.perf_counter()
    losses = train(list(params.values()), loss, Optimisation(steps, lr, cosine=False),
                   desc=f"contrastive width {width} depth {depth}, {len(seeds)} seeds", record_every=record_every)
    seconds = (time.perf_counter() - start) / len(seeds)
    losses = losses.reshape(steps, len(seeds))
    fits = []
    for e, member in enumerate(members):
        member.load_state_dict({name: value[e].detach() for name, value in params.items()})
        fits.append(_fit(member, width, depth, rho, d, losses[:, e], initial[e], seconds, record_every, test_points))
    return fits


@constrain(**_TRAINING, seed=Integer(0))
def train_encoder(width: int, depth: int, rho: float = 0.8, d: int = 4, steps: int = 3000, batch: int = 1024,
                  lr: float = 1e-3, seed: int = 0, device=None, record_every: int = 50,
                  test_points: int = 20_000) -> EncoderFit:
    """Train a one-dimensional :class:`MLPEncoder` with Adam on the spectral contrastive loss, a fresh batch of
    pairs every step; measure the population loss by quadrature and the alignment on a fixed test sample.

    The initialisation and the data stream come from ``seed`` alone, so on the CPU a repeat gives the same numbers.
    It is :func:`train_encoders` with one seed.
    """
    return train_encoders(width, depth, (seed,), rho, d, steps, batch, lr, device, record_every, test_points)[0]


# --- the registered experiment: a width sweep ----------------------------------------------------


