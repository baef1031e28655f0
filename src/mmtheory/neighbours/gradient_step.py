r"""Stage 1 as one large gradient step on a two-layer network: the mechanism behind Oko et al. (2024).

The spectral Stage 1 of ``single_index`` draws the rows of :math:`W` inside the learned subspace, so the
learner's features live in it by construction. Here they start outside it and get there, or not, by one
gradient step on the pre-training loss (the one-step analyses of Ba et al., 2022 and Damian et al., 2022).

**The network and its step.** :math:`f(x) = \sum_{j=1}^m a_j\,\mathrm{ReLU}(\langle w_j, x\rangle + b_j)` with
a symmetric initialisation: :math:`m/2` pairs of neurons share a row :math:`w_j` (uniform on the unit sphere of
:math:`\mathbb R^d`, not in :math:`S`) and a bias :math:`b_j \sim U[-1, 1]`, with second-layer weights
:math:`a_j = \pm 1`, so that :math:`f \equiv 0` at initialisation. The loss is
:math:`L(W) = \frac12\operatorname{mean}_i (y_i - f(x_i))^2` over :math:`n_1` pooled pretraining examples
(prompts of length :math:`N_{\rm pre}`, each with its own :math:`\beta`). One step
:math:`W_1 = W_0 - \eta\nabla_W L(W_0)`; since :math:`f_0 \equiv 0`, row :math:`j` moves by
:math:`\eta a_j \hat g_j`, with :math:`\hat g_j = \operatorname{mean}_i y_i\,\mathbf 1\{\langle w_j, x_i\rangle
+ b_j > 0\}\,x_i`. The rows are then normalised (the biases kept) and Stage 2 is
:func:`~mmtheory.neighbours.single_index.fit_attention`, unchanged.

**The expected step** (derived in the chapter): for a unit row,
:math:`\mathbb E\hat g_j = \varphi(b_j)\,[M w_j + \tfrac12(b_j^2 - 1)(w_j^\top M w_j)\,w_j]` with
:math:`M = (\sqrt2/r) P_S` and :math:`\varphi` the standard normal density; off :math:`S + \operatorname{span}
w_j` the step is pure noise of squared norm :math:`(d - r - 1)\tau_j/n_1` on average,
:math:`\tau_j = \mathbb E[y^2\mathbf 1\{\langle w_j, x\rangle + b_j > 0\}]`. The signal has norm about
:math:`\varphi(b_j)\sqrt{2/(rd)}`, so the step's noise falls below its signal once :math:`n_1 \gtrsim
r\tau d^2/(2\varphi(b)^2)`: a budget that grows like :math:`d^2`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from ..checks import Device, Integer, Positive, check_integer, constrain
from ..numerics import mean_se
from ..runtime import ScaleSettings, get_device, progress
from .single_index import (
    CHUNK_ELEMENTS,
    DTYPE,
    MAX_WIDTH,
    PROMPT_DTYPE,
    PretrainedICL,
    SingleIndexTasks,
    _chunks,
    _seed,
    design_rows,
    sample_prompts,
    solve_gamma,
)

# --------------------------------------------------------------------------- the network and its loss


@constrain(d=Integer(1), m=Integer(2, note="the width: an even number of neurons, in pairs"))
def symmetric_init(d: int, m: int, generator: torch.Generator, device=None):
    r"""``(W0, b, a)``: ``m/2`` rows uniform on the unit sphere of :math:`\mathbb R^d`, each used twice, biases
    uniform on [-1, 1] (shared by a pair), and second-layer weights :math:`+1` and :math:`-1` for the two members
    of a pair: the network :func:`network_output` is identically 0. Float64, on ``device``."""
    if m % 2:
        raise ValueError(f"m must be even (neurons come in pairs with opposite second-layer weights), got {m}")
    kw = dict(generator=generator, device=get_device(device), dtype=DTYPE)
    V = torch.randn(m // 2, d, **kw)
    V = V / V.norm(dim=1, keepdim=True)
    c = 2 * torch.rand(m // 2, **kw) - 1
    a = torch.cat([torch.ones(m // 2, dtype=DTYPE), -torch.ones(m // 2, dtype=DTYPE)]).to(V.device)
    return torch.cat([V, V]), torch.cat([c, c]), a


def network_output(W: torch.Tensor, b: torch.Tensor, a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r""":math:`f(x) = \sum_j a_j\,\mathrm{ReLU}(\langle w_j, x\rangle + b_j)` on the last axis of ``x``."""
    return torch.relu(x @ W.T.to(x.dtype) + b.to(x.dtype)) @ a.to(x.dtype)


def pretraining_loss(W: torch.Tensor, b: torch.Tensor, a: torch.Tensor, x: torch.Tensor, y: torch.Tensor):
    r"""The squared loss :math:`L(W) = \frac12\operatorname{mean}_i (y_i - f(x_i))^2` (``x (n, d)``, ``y (n,)``);
    differentiable in ``W`` (the test checks :func:`loss_gradient` against autograd)."""
    return 0.5 * ((y - network_output(W, b, a, x)) ** 2).mean()


def _gradient_sum(W, b, a, x, y, U=None):
    """Sums over examples (float64): of the per-example gradient in ``W``, and per row of y^2 1{active} and (with
    ``U``) of y^2 1{active} |U^T x|^2, the noise levels of the step off and inside S. Neurons with the same row
    and bias (the pairs of :func:`symmetric_init`) are computed once: their outer weights add up in ``f``."""
    neurons, index = torch.unique(torch.cat([W, b[:, None]], 1).to(DTYPE), dim=0, return_inverse=True)
    outer = torch.zeros(len(neurons), dtype=DTYPE, device=W.device).index_add_(0, index, a.to(DTYPE))
    inner = torch.cat([neurons[:, :-1].T, U.to(DTYPE)], 1) if U is not None else neurons[:, :-1].T
    products = x @ inner.to(x.dtype)  # one product for the pre-activations and the coordinates in S
    pre = products[:, : len(neurons)] + neurons[:, -1].to(x.dtype)
    active = (pre > 0).to(x.dtype)
    residual = y - torch.relu(pre) @ outer.to(x.dtype)
    grad = -a.to(DTYPE)[:, None] * ((active * residual[:, None]).T @ x).to(DTYPE)[index]
    y2 = y * y
    inside = y2 if U is None else y2 * (products[:, len(neurons):] ** 2).sum(1)
    return grad, (y2 @ active).to(DTYPE)[index], (inside @ active).to(DTYPE)[index]


def loss_gradient(W: torch.Tensor, b: torch.Tensor, a: torch.Tensor, x: torch.Tensor, y: torch.Tensor):
    r"""The gradient of :func:`pretraining_loss` in ``W`` on the sample, in closed form (float64):
    row :math:`j` is :math:`-a_j\operatorname{mean}_i (y_i - f(x_i))\,\mathbf 1\{\langle w_j, x_i\rangle + b_j
    > 0\}\,x_i`."""
    return _gradient_sum(W, b, a, x, y)[0] / y.numel()


def _check_unit_rows(W: torch.Tensor):
    norms = W.norm(dim=1)
    if not torch.allclose(norms, torch.ones_like(norms), atol=1e-6):
        raise ValueError(f"W must have unit rows (the expected step is derived for them), got norms in "
                         f"[{float(norms.min()):.3g}, {float(norms.max()):.3g}]")


def expected_correlation(W: torch.Tensor, b: torch.Tensor, U: torch.Tensor) -> torch.Tensor:
    r"""Per unit row, :math:`\mathbb E[y\,\mathbf 1\{\langle w_j, x\rangle + b_j > 0\}\,x] = \varphi(b_j)\,[M w_j
    + \frac12(b_j^2 - 1)(w_j^\top M w_j)\,w_j]`, :math:`M = (\sqrt2/r)UU^\top`, under the task law of
    ``single_index`` (float64, ``m x d``). At a symmetric initialisation, the expected loss gradient of row
    :math:`j` is :math:`-a_j` times this.

    Implements {prf:ref}`prop-one-step-gradient`
    """
    _check_unit_rows(W)
    W, b, U = W.to(DTYPE), b.to(DTYPE), U.to(DTYPE)
    MW = (math.sqrt(2) / U.shape[1]) * (W @ U) @ U.T  # rows M w_j
    quad = (MW * W).sum(1)  # w_j^T M w_j
    density = torch.exp(-b * b / 2) / math.sqrt(2 * math.pi)
    return density[:, None] * (MW + 0.5 * ((b * b - 1) * quad)[:, None] * W)


def subspace_fraction(W: torch.Tensor, U: torch.Tensor) -> torch.Tensor:
    r"""Per row of ``W``, the fraction of its squared norm inside :math:`S = \operatorname{span} U`:
    :math:`\|U^\top w\|^2/\|w\|^2` (``r/d`` on average for a uniformly random row)."""
    W, U = W.to(DTYPE), U.to(DTYPE)
    return ((W @ U) ** 2).sum(1) / (W * W).sum(1)


def off_plane_energy(V: torch.Tensor, W: torch.Tensor, U: torch.Tensor) -> torch.Tensor:
    r"""Per row, :math:`\|Q_j v_j\|^2`, with :math:`Q_j` the projection off :math:`S + \operatorname{span} w_j`
    (``V`` and ``W`` are ``m x d``, ``U`` is ``d x r`` orthonormal). For :math:`v_j = \hat g_j` its mean is
    :math:`(d - r - 1)\tau_j/n_1`: see :func:`expected_correlation` and the chapter."""
    V, W, U = V.to(DTYPE), W.to(DTYPE), U.to(DTYPE)
    V = V - (V @ U) @ U.T
    W = W - (W @ U) @ U.T
    W = W / W.norm(dim=1, keepdim=True)
    V = V - (V * W).sum(1, keepdim=True) * W
    return (V * V).sum(1)


@constrain(d=Integer(1), r=Integer(1), signal=Positive(note="the expected move, in units of the row's norm"))
def large_step(d: int, r: int, signal: float = 10.0) -> float:
    r"""The step :math:`\eta = \text{signal}\cdot\sqrt{\pi r d}`: for a row with the typical overlap
    :math:`\|P_S w\|^2 = r/d` and :math:`b = 0`, the expected move :math:`\eta\varphi(0)\|Mw\|` has norm ``signal``,
    against the row's own unit norm."""
    check_integer(r, "r", 1, d, note=f"at most d = {d}")
    return signal * math.sqrt(math.pi * r * d)


def predicted_fraction(step: OneStep, U: torch.Tensor) -> torch.Tensor:
    r"""Per row, the fraction of the stepped row's squared norm in :math:`S` that the expected step and the
    step's noise levels predict (a ratio of expectations):
    :math:`(\|P_S\mu_j\|^2 + \eta^2\tau_{S,j}/n) / (\|\mu_j\|^2 + \eta^2(\tau_{S,j} + (d - r)\tau_j)/n)`, with
    :math:`\mu_j = w_j + \eta a_j\,\mathbb E\hat g_j` (:func:`expected_correlation`) and the noise levels
    ``tau``, ``tau_S`` of the :class:`OneStep`."""
    mu = step.W0.to(DTYPE) + step.eta * step.a.to(DTYPE)[:, None] * expected_correlation(step.W0, step.b, U)
    d, r = U.shape
    inside, outside = step.eta**2 * step.tau_S / step.n, step.eta**2 * (d - r) * step.tau / step.n
    return (((mu @ U.to(DTYPE)) ** 2).sum(1) + inside) / ((mu * mu).sum(1) + inside + outside)


# --------------------------------------------------------------------------- Stage 1 by one gradient step


@dataclasses.dataclass
class OneStep:
    r"""One gradient step from a symmetric initialisation: ``W0``, ``b``, ``a``, the loss gradient ``gradient``
    (``m x d``, on ``n`` examples), per row ``tau`` = mean of :math:`y^2\mathbf 1\{\text{active}\}` and ``tau_S``
    = mean of :math:`y^2\mathbf 1\{\text{active}\}\|U^\top x\|^2` (the step's noise levels per coordinate off
    :math:`S` and in all of :math:`S`), the step size ``eta``, and ``W1`` = the stepped rows, normalised."""

    W0: torch.Tensor
    b: torch.Tensor
    a: torch.Tensor
    gradient: torch.Tensor
    tau: torch.Tensor
    tau_S: torch.Tensor
    n: int
    eta: float

    @property
    def W1(self) -> torch.Tensor:
        """The rows of :math:`W_0 - \\eta\\nabla_W L`, each divided by its norm."""
        W = self.W0 - self.eta * self.gradient
        return W / W.norm(dim=1, keepdim=True)


@constrain(eta=Positive(note="the step size"), N_pre=Integer(1, note="the pretraining prompt length"))
def gradient_steps(tasks: SingleIndexTasks, U: torch.Tensor, W0: torch.Tensor, b: torch.Tensor, a: torch.Tensor,
                   budgets, eta: float, generator: torch.Generator, N_pre: int = 64) -> list[OneStep]:
    r"""One step of gradient descent on :func:`pretraining_loss` from ``(W0, b, a)``, once per budget in
    ``budgets`` (examples, increasing): the samples are nested, the budget :math:`n` using the first :math:`n`
    pooled examples of one stream of fresh pretraining prompts (length ``N_pre``, drawn in chunks on ``U``'s
    device). Each gradient is the sample's, in closed form (:func:`loss_gradient`)."""
    budgets = [check_integer(n, "budgets entries", 1, note="examples per step") for n in budgets]
    if not budgets or any(n1 >= n2 for n1, n2 in zip(budgets, budgets[1:])):
        raise ValueError(f"budgets must be a non-empty increasing sequence of example counts, got {budgets}")
    d, per_chunk = tasks.d, max(1, CHUNK_ELEMENTS // ((N_pre + 1) * tasks.d))
    grad = torch.zeros(W0.shape, dtype=DTYPE, device=W0.device)
    tau, tau_S = (torch.zeros(W0.shape[0], dtype=DTYPE, device=W0.device) for _ in range(2))
    steps, done = [], 0
    while len(steps) < len(budgets):
        p = sample_prompts(tasks, U, min(per_chunk, -(-(budgets[-1] - done) // N_pre)), N_pre, generator)
        x, y = p.x.reshape(-1, d), p.y.reshape(-1)
        start = 0
        while start < len(y) and len(steps) < len(budgets):
            stop = min(len(y), start + budgets[len(steps)] - done)
            g, t, t_S = _gradient_sum(W0, b, a, x[start:stop], y[start:stop], U)
            grad, tau, tau_S, done, start = grad + g, tau + t, tau_S + t_S, done + stop - start, stop
            if done == budgets[len(steps)]:
                steps.append(OneStep(W0=W0, b=b, a=a, gradient=grad / done, tau=tau / done, tau_S=tau_S / done,
                                     n=done, eta=eta))
    return steps


@constrain(n_examples=Integer(1, note="the pre-training budget of the step, in examples"),
           eta=Positive(note="the step size"), N_pre=Integer(1, note="the pretraining prompt length"))
def one_gradient_step(tasks: SingleIndexTasks, U: torch.Tensor, W0: torch.Tensor, b: torch.Tensor, a: torch.Tensor,
                  n_examples: int, eta: float, generator: torch.Generator, N_pre: int = 64) -> OneStep:
    """:func:`gradient_steps` at the single budget ``n_examples``."""
    return gradient_steps(tasks, U, W0, b, a, [n_examples], eta, generator, N_pre)[0]


@constrain(eta=Positive(note="the step size"))
def population_step(W0: torch.Tensor, b: torch.Tensor, a: torch.Tensor, U: torch.Tensor, eta: float) -> torch.Tensor:
    r"""The rows of :math:`W_0 + \eta\,a \odot \mathbb E\hat g` (the step at :math:`n_1 = \infty`, from
    :func:`expected_correlation`), each divided by its norm."""
    W = W0.to(DTYPE) + eta * a.to(DTYPE)[:, None] * expected_correlation(W0, b, U)
    return W / W.norm(dim=1, keepdim=True)


def learner_from_rows(W: torch.Tensor, b: torch.Tensor) -> PretrainedICL:
    r"""A :class:`~mmtheory.neighbours.single_index.PretrainedICL` with first layer ``W`` (any rows) and biases
    ``b``: ``subspace`` is an orthonormal basis of the row space (:math:`W^\top = QR`), ``G`` = :math:`R^\top`,
    and :math:`\Gamma = 0` until :func:`~mmtheory.neighbours.single_index.fit_attention`."""
    Q, R = torch.linalg.qr(W.to(DTYPE).T)
    m = W.shape[0]
    return PretrainedICL(subspace=Q, G=R.T, b=b.to(DTYPE), gamma=torch.zeros(m, m, dtype=DTYPE, device=W.device))


# --------------------------------------------------------------------------- the budget sweep


@dataclasses.dataclass
class BudgetSweep:
    """In-context error at one prompt length ``N_test`` against the step's budget, for several ambient ``d``.

    ``errors`` and ``fraction`` are ``(D, B + 1, S)``: one row per ``d``, one column per budget in ``budgets``
    and a last column for the population step (:math:`n_1 = \\infty`, :func:`population_step`), the seed last.
    ``errors`` are mean squared errors against the clean target (Var f = 1); ``fraction`` is the mean over rows
    of :func:`subspace_fraction` after the step, ``predicted`` its prediction (:func:`predicted_fraction`)."""

    ds: np.ndarray
    budgets: np.ndarray
    r: int
    m: int
    signal: float
    n_prompts: int
    N_pre: int
    N_test: int
    n_test: int
    errors: np.ndarray
    fraction: np.ndarray
    predicted: np.ndarray

    def mean_se(self, key: str = "errors") -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard error over seeds of ``errors``, ``fraction`` or ``predicted``, each ``(D, B + 1)``."""
        if key not in ("errors", "fraction", "predicted"):
            raise ValueError(f"key must be 'errors', 'fraction' or 'predicted', got {key!r}")
        return mean_se(getattr(self, key))


def _fit_attention_jointly(models, tasks, U, n_prompts, N_pre, ridge, seed):
    """:func:`~mmtheory.neighbours.single_index.fit_attention` for several models on one shared stream of
    prompts (drawn once: the draws are the costly part)."""
    gen = torch.Generator(device=U.device).manual_seed(seed)
    m, kw = models[0].b.numel(), dict(device=U.device, dtype=DTYPE)
    grams = [torch.zeros(m * m, m * m, **kw) for _ in models]
    rhss = [torch.zeros(m * m, **kw) for _ in models]
    for size in _chunks(n_prompts, N_pre, tasks.d, U.device):
        p = sample_prompts(tasks, U, size, N_pre, gen)
        for model, gram, rhs in zip(models, grams, rhss):
            Z = design_rows(model.features(p.xq).to(DTYPE), model.context(p.x, p.y))
            Z32 = Z.to(PROMPT_DTYPE)
            gram += (Z32.T @ Z32).to(DTYPE)
            rhs += Z.T @ p.yq.to(DTYPE)
    for model, gram, rhs in zip(models, grams, rhss):
        model.gamma = solve_gamma(gram, rhs, n_prompts, ridge)


def _errors(models, tasks, U, N, n_test, seed) -> list[float]:
    """Each model's mean squared error against the clean target on the same ``n_test`` prompts of length ``N``."""
    gen = torch.Generator(device=U.device).manual_seed(seed)
    sums = np.zeros(len(models))
    for size in _chunks(n_test, N, tasks.d, U.device):
        p = sample_prompts(tasks, U, size, N, gen)
        for k, model in enumerate(models):
            sums[k] += float(((model.predict(p.x, p.y, p.xq) - p.fq.to(DTYPE)) ** 2).sum())
    return (sums / n_test).tolist()


@constrain(r=Integer(1), m=Integer(2, MAX_WIDTH, note="the width, even"), signal=Positive(),
           n_prompts=Integer(1, note="Stage-2 prompts"), N_pre=Integer(1, note="the pretraining prompt length"),
           N_test=Integer(1, note="the test prompt length"), n_test=Integer(2, note="test prompts"),
           seeds=Integer(1), noise=Positive(allow_zero=True), ridge=Positive(allow_zero=True), seed=Integer(0),
           device=Device())
def run_budget_sweep(ds, budgets, r: int = 2, m: int = 24, signal: float = 10.0, n_prompts: int = 2000,
                     N_pre: int = 64, N_test: int = 64, n_test: int = 2000, seeds: int = 2, noise: float = 0.1,
                     ridge: float = 1e-3, seed: int = 0, device=None) -> BudgetSweep:
    """For each ``d`` in ``ds`` and each seed: a subspace, a symmetric initialisation, the step of size
    :func:`large_step` at every budget (nested samples, :func:`gradient_steps`) and in expectation, then Stage 2
    (ridge for :math:`\\Gamma`, as :func:`~mmtheory.neighbours.single_index.fit_attention`, on the same
    ``n_prompts`` prompts for every budget) and the in-context error at ``N_test`` on the same ``n_test`` test
    prompts."""
    dev = get_device(device)
    ds = [check_integer(d, "ds entries", r, note=f"ambient dimensions, at least r = {r}") for d in ds]
    if not ds:
        raise ValueError("ds must hold at least one ambient dimension")
    budgets = sorted(int(n) for n in budgets)
    errors = np.empty((len(ds), len(budgets) + 1, seeds))
    fraction, predicted = np.empty_like(errors), np.empty_like(errors)
    for i, s in progress([(i, s) for i in range(len(ds)) for s in range(seeds)], desc="one-step budget sweep"):
        tasks = SingleIndexTasks(ds[i], r, noise)
        U = tasks.subspace(_seed(seed, s, tasks.d, r, 10), dev)
        W0, b, a = symmetric_init(tasks.d, m, torch.Generator(device=dev).manual_seed(_seed(seed, s, tasks.d, r, 11)),
                                  dev)
        eta = large_step(tasks.d, r, signal)
        gen = torch.Generator(device=dev).manual_seed(_seed(seed, s, tasks.d, r, 12))
        steps = gradient_steps(tasks, U, W0, b, a, budgets, eta, gen, N_pre)
        rows = [step.W1 for step in steps] + [population_step(W0, b, a, U, eta)]
        predicted[i, :, s] = [float(predicted_fraction(st, U).mean()) for st in steps] + [
            float(subspace_fraction(rows[-1], U).mean())]
        models = [learner_from_rows(W1, b) for W1 in rows]
        _fit_attention_jointly(models, tasks, U, n_prompts, N_pre, ridge, _seed(seed, s, tasks.d, r, 13))
        errors[i, :, s] = _errors(models, tasks, U, N_test, n_test, _seed(seed, s, tasks.d, r, 14))
        fraction[i, :, s] = [float(subspace_fraction(W1, U).mean()) for W1 in rows]
    return BudgetSweep(ds=np.array(ds), budgets=np.array(budgets), r=r, m=m, signal=float(signal),
                       n_prompts=n_prompts, N_pre=N_pre, N_test=N_test, n_test=n_test, errors=errors,
                       fraction=fraction, predicted=predicted)


def format_budget_sweep(result: BudgetSweep) -> str:
    """Three text tables (seed means): the in-context error, the mean fraction in S and its prediction."""
    head = f"{'':>8s}" + "".join(f"{'2^' + str(int(math.log2(n))) if n & (n - 1) == 0 else n:>8}"
                                 for n in result.budgets.tolist()) + f"{'inf':>8s}"
    lines = []
    for key, title in (("errors", f"error at N = {result.N_test} / Var f"), ("fraction", "mean fraction in S"),
                       ("predicted", "predicted fraction in S")):
        lines += [f"{title}, by budget n1 (examples):", head]
        for i, d in enumerate(result.ds):
            lines.append(f"{'d = ' + str(int(d)):>8s}" + "".join(f"{v:8.3f}" for v in result.mean_se(key)[0][i]))
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class GradientStepSettings(ScaleSettings):
    """Read by ``book/neighbours/pretraining_in_context.md``: the :func:`run_budget_sweep` sizes (``ds`` to
    ``seeds``), and the noise check of the step: dimension ``d_noise``, budgets ``noise_budgets``."""

    ds: tuple[int, ...]
    budgets: tuple[int, ...]
    m: int
    n_prompts: int
    n_test: int
    seeds: int
    d_noise: int
    noise_budgets: tuple[int, ...]

    def sweep(self) -> dict:
        """The keyword arguments of :func:`run_budget_sweep`."""
        return {"ds": self.ds, "budgets": self.budgets, "m": self.m, "n_prompts": self.n_prompts,
                "n_test": self.n_test, "seeds": self.seeds}


GradientStepSettings.SCALES = {
    "quick": GradientStepSettings(ds=(16, 32), budgets=(2**10, 2**12, 2**14, 2**16), m=16, n_prompts=600,
                                  n_test=500, seeds=1, d_noise=32, noise_budgets=(2**12, 2**14, 2**16)),
    "book": GradientStepSettings(ds=(16, 32, 64, 128), budgets=(2**12, 2**14, 2**16, 2**18, 2**20), m=24,
                                 n_prompts=2000, n_test=2000, seeds=2, d_noise=64,
                                 noise_budgets=(2**12, 2**14, 2**16, 2**18)),
    "full": GradientStepSettings(ds=(16, 32, 64, 128, 256), budgets=(2**12, 2**14, 2**16, 2**18, 2**20, 2**22), m=32,
                                 n_prompts=4000, n_test=4000, seeds=4, d_noise=128,
                                 noise_budgets=(2**12, 2**14, 2**16, 2**18, 2**20)),
}
