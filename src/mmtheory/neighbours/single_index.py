r"""What pre-training buys in context: single-index tasks on a low-dimensional subspace (Oko et al., 2024).

**The task family.** A fixed subspace :math:`S = \operatorname{span} U`, :math:`U \in \mathbb R^{d\times r}`
orthonormal. Each prompt draws an index :math:`\beta = Uc/\|c\|`, :math:`c \sim \mathcal N(0, I_r)`, and
examples :math:`x \sim \mathcal N(0, I_d)`, :math:`y = \sigma_*(\langle x, \beta\rangle) + \text{noise}\cdot\varepsilon`
with the link :math:`\sigma_*(z) = \mathrm{He}_2(z)/\sqrt2 = (z^2 - 1)/\sqrt2` (mean 0, variance 1,
information exponent 2). A prompt holds :math:`N` examples and a query :math:`x_q`; errors are measured
against the clean target :math:`f(x_q) = \sigma_*(\langle x_q, \beta\rangle)`, so they are relative to
:math:`\mathrm{Var} f = 1`.

**The learner** (the schematic form of the paper's transformer; our reconstruction):

.. math:: \hat y(x_q) = \phi(x_q)^\top\, \Gamma\, \frac1N \sum_{i=1}^N y_i\, \phi(x_i), \qquad
          \phi(x) = \mathrm{ReLU}(Wx + b) \in \mathbb R^m.

*Stage 1* (the representation; the *spectral* learner) estimates the label-weighted moment
:math:`\hat M = \operatorname{mean}\, y\,(xx^\top - I)` over every pretraining example; its population
value is :math:`(\sqrt2/r) P_S`, so its top-:math:`r` eigenvectors :math:`\hat U` estimate :math:`S`, and the
rows of :math:`W` are unit random directions in :math:`\operatorname{span}\hat U`, :math:`b \sim U[-1, 1]`:
the features live in the learned subspace by construction. The real gradient step on a two-layer network,
whose rows start outside :math:`S`, is in ``gradient_step``. *Stage 2* (:func:`fit_attention`) fits
:math:`\Gamma` by ridge regression on fresh pretraining prompts: the prediction is linear in
:math:`\operatorname{vec}\Gamma` with design row :math:`\phi(x_q) \otimes \frac1N\sum_i y_i\phi(x_i)`
(:math:`m^2` columns, so :math:`m \le 64`).

**Baselines that see only the test prompt.** :math:`\hat\beta` = top eigenvector of :math:`\frac1N\sum_i y_i
(x_ix_i^\top - I)`, and the prediction :math:`a\,\sigma_*(\langle x_q, \hat\beta\rangle)`, :math:`a` by least squares
on the prompt: in :math:`\mathbb R^d` ("ambient"), and on the coordinates :math:`\hat U^\top x` ("subspace").

**Numerics.** Prompts are float32 and drawn in chunks; moments, Grams, :math:`\Gamma`, predictions and
errors are float64. Test prompts are nested (length :math:`N` uses the first :math:`N` examples of one long
prompt). At book scale the spectral learner's error at fixed :math:`N` is flat in :math:`d`, while the
ambient estimator's needed prompt length doubles with :math:`d`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math

import numpy as np
import torch

from ..checks import Device, Integer, OneOf, Positive, check_integer, check_positive, constrain
from ..numerics import mean_se
from ..runtime import get_device, progress

MAX_WIDTH = 64  # the ridge for Gamma has m^2 unknowns: its Gram matrix has m^4 entries
CHUNK_ELEMENTS = 2_000_000  # floats of x per chunk of prompts (8 MB in float32)
# Prompts, the big arrays, are float32; what is summed over them (moments, Grams, errors) and the solved
# quantities (the subspace, Gamma, predictions) are float64.
PROMPT_DTYPE, DTYPE = torch.float32, torch.float64


def link(z: torch.Tensor) -> torch.Tensor:
    r"""The link :math:`\sigma_*(z) = \mathrm{He}_2(z)/\sqrt2 = (z^2 - 1)/\sqrt2`: mean 0, variance 1 under
    :math:`\mathcal N(0, 1)`.

    Implements {eq}`eq-single-index`
    """
    return (z * z - 1.0) / math.sqrt(2.0)


@contextlib.contextmanager
def _one_thread():
    """Run small dense LAPACK calls (eigh, qr) on one CPU thread: a batch of small matrices gains nothing from
    threads, and on a busy machine the threads' barriers can make each call a thousand times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _seed(*keys: int) -> int:
    """One 63-bit seed from several integers (independent streams per seed, config and stage)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(2, dtype=np.uint64)[0] >> 1)


# --------------------------------------------------------------------------- tasks and prompts


@dataclasses.dataclass(frozen=True)
class SingleIndexTasks:
    """The task family: ambient dimension ``d``, subspace dimension ``r``, label noise ``noise``."""

    d: int
    r: int
    noise: float = 0.1

    def __post_init__(self):
        check_integer(self.d, "d", 2, note="the ambient dimension")
        check_integer(self.r, "r", 1, self.d, note=f"the subspace dimension, at most d = {self.d}")
        check_positive(self.noise, "noise", note="the label-noise standard deviation", allow_zero=True)

    def subspace(self, seed: int = 0, device=None) -> torch.Tensor:
        """A random orthonormal basis ``U`` (``d x r``, float64) of the task subspace, drawn from ``seed``."""
        gen = torch.Generator().manual_seed(seed)
        U, _ = torch.linalg.qr(torch.randn(self.d, self.r, generator=gen, dtype=DTYPE))
        return U.to(get_device(device))


@dataclasses.dataclass
class Prompts:
    """``n`` prompts (float32): examples ``x (n, N, d)``, labels ``y (n, N)``, queries ``xq (n, d)`` with
    their noisy labels ``yq (n,)`` and clean targets ``fq (n,)``, and the task indices ``beta (n, d)``."""

    x: torch.Tensor
    y: torch.Tensor
    xq: torch.Tensor
    yq: torch.Tensor
    fq: torch.Tensor
    beta: torch.Tensor


@constrain(n=Integer(1, note="the number of prompts"), N=Integer(1, note="the prompt length"))
def sample_prompts(tasks: SingleIndexTasks, U: torch.Tensor, n: int, N: int, generator: torch.Generator) -> Prompts:
    r"""``n`` prompts of ``N`` examples, each with its own :math:`\beta = Uc/\|c\|`, on ``U``'s device.

    Implements {eq}`eq-single-index`
    """
    if tuple(U.shape) != (tasks.d, tasks.r):
        raise ValueError(f"U must have shape (d, r) = {(tasks.d, tasks.r)}, got {tuple(U.shape)}")
    kw = dict(generator=generator, device=U.device, dtype=PROMPT_DTYPE)
    c = torch.randn(n, tasks.r, **kw)
    beta = (c / c.norm(dim=1, keepdim=True)) @ U.T.to(PROMPT_DTYPE)
    x = torch.randn(n, N + 1, tasks.d, **kw)
    f = link((x @ beta[:, :, None])[..., 0])
    y = f + tasks.noise * torch.randn(n, N + 1, **kw)
    return Prompts(x=x[:, :N], y=y[:, :N], xq=x[:, N], yq=y[:, N], fq=f[:, N], beta=beta)


def _chunks(n: int, N: int, d: int, device: torch.device) -> list[int]:
    """Sizes of consecutive chunks of ``n`` prompts, each holding about CHUNK_ELEMENTS floats of ``x``
    (sixteen times as many on a GPU)."""
    size = max(1, CHUNK_ELEMENTS * (16 if device.type == "cuda" else 1) // ((N + 1) * d))
    return [min(size, n - start) for start in range(0, n, size)]


# --------------------------------------------------------------------------- Stage 1: the spectral representation


def moment_matrix(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r""":math:`\hat M = \operatorname{mean}_j\, y_j (x_jx_j^\top - I)` over all examples (``x (..., d)``, ``y (...)``).

    Implements {prf:ref}`prop-si-moment`

    For one index :math:`\beta` its expectation is :math:`\sqrt2\,\beta\beta^\top` (the link is
    :math:`\mathrm{He}_2/\sqrt2`); averaged over :math:`\beta` uniform on the unit sphere of :math:`S`, it is
    :math:`(\sqrt2/r) P_S`. Returned in float64.
    """
    d = x.shape[-1]
    x, y = x.reshape(-1, d), y.reshape(-1)
    eye = torch.eye(d, dtype=DTYPE, device=x.device)
    return ((x * y[:, None]).T @ x).to(DTYPE) / y.numel() - y.to(DTYPE).mean() * eye


@constrain(r=Integer(1))
def learned_subspace(M: torch.Tensor, r: int) -> torch.Tensor:
    """The top-``r`` eigenvectors of the symmetric matrix ``M`` (by eigenvalue, not magnitude), as columns."""
    r = check_integer(r, "r", 1, M.shape[0], note="at most the size of M")
    with _one_thread():
        return torch.linalg.eigh(M)[1][:, -r:].flip(1)


def subspace_cosine(A: torch.Tensor, B: torch.Tensor) -> float:
    """The smallest cosine of the principal angles between the spans of the orthonormal columns of A and B."""
    return float(torch.linalg.svdvals(A.T.to(DTYPE) @ B.to(DTYPE)).min())


# --------------------------------------------------------------------------- Stage 2: Gamma by ridge regression


def design_rows(phi_q: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
    r"""Rows :math:`\phi(x_q) \otimes \bar\phi` (``n x m^2``), with :math:`\bar\phi = \frac1N\sum_i y_i\phi(x_i)`:
    the prediction :math:`\phi(x_q)^\top\Gamma\bar\phi` is the row times ``Gamma.reshape(-1)``."""
    return (phi_q[:, :, None] * context[:, None, :]).reshape(phi_q.shape[0], -1)


def solve_gamma(gram: torch.Tensor, rhs: torch.Tensor, count: int, ridge: float) -> torch.Tensor:
    r"""The ridge solution :math:`(Z^\top Z/n + \lambda I)^{-1} Z^\top y/n`, reshaped to ``m x m``."""
    m = math.isqrt(gram.shape[0])
    eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
    return torch.linalg.solve(gram / count + ridge * eye, rhs / count).reshape(m, m)


@constrain(ridge=Positive(allow_zero=True))
def fit_gamma(phi_q: torch.Tensor, context: torch.Tensor, targets: torch.Tensor, ridge: float = 1e-3) -> torch.Tensor:
    """Ridge regression of ``targets`` on :func:`design_rows`, in float64, in memory (:func:`fit_attention`: chunks)."""
    Z, targets = design_rows(phi_q.to(DTYPE), context.to(DTYPE)), targets.to(DTYPE)
    return solve_gamma(Z.T @ Z, Z.T @ targets, targets.numel(), ridge)


@dataclasses.dataclass
class PretrainedICL:
    r"""The pretrained learner, with first-layer weights :math:`W = G\hat U^\top` stored as their factors.

    Implements {eq}`eq-pretrained-learner`

    ``subspace (d, k)`` is an orthonormal basis :math:`\hat U` that holds the rows of :math:`W` (the learned
    subspace, :math:`k = r`, for the spectral Stage 1), ``G (m, k)`` those rows in its coordinates (unit
    vectors), ``b (m,)`` the biases, ``gamma (m, m)`` the attention matrix."""

    subspace: torch.Tensor
    G: torch.Tensor
    b: torch.Tensor
    gamma: torch.Tensor

    @property
    def W(self) -> torch.Tensor:
        """The ``m x d`` first-layer weights :math:`G\\hat U^\\top`."""
        return self.G @ self.subspace.T

    def features(self, x: torch.Tensor, coordinates: bool = False) -> torch.Tensor:
        r""":math:`\phi(x) = \mathrm{ReLU}(Wx + b) = \mathrm{ReLU}(G\,\hat U^\top x + b)` on the last axis of
        ``x``, in ``x``'s precision (through :math:`\hat U^\top x \in \mathbb R^r` first: the cheap order).
        With ``coordinates=True``, ``x`` already holds :math:`\hat U^\top x`."""
        z = x if coordinates else x @ self.subspace.to(x.dtype)
        return torch.relu(z @ self.G.T.to(x.dtype) + self.b.to(x.dtype))

    def context(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        r""":math:`\bar\phi = \frac1N\sum_i y_i\phi(x_i)` per prompt (``x (n, N, d)``, ``y (n, N)``): the
        attention output, in float64."""
        return (y[:, None, :] @ self.features(x))[:, 0].to(DTYPE) / y.shape[1]

    def predict(self, x: torch.Tensor, y: torch.Tensor, xq: torch.Tensor) -> torch.Tensor:
        r""":math:`\hat y(x_q) = \phi(x_q)^\top\Gamma\bar\phi` per prompt, in float64."""
        return ((self.features(xq).to(DTYPE) @ self.gamma) * self.context(x, y)).sum(-1)


@constrain(r=Integer(1), m=Integer(1))
def random_directions(r: int, m: int, generator: torch.Generator, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``m`` unit rows uniform on the sphere of :math:`\\mathbb R^r` (``G``), and biases uniform on [-1, 1]."""
    kw = dict(generator=generator, device=device, dtype=DTYPE)
    G = torch.randn(m, r, **kw)
    return G / G.norm(dim=1, keepdim=True), 2 * torch.rand(m, **kw) - 1


@constrain(n_prompts=Integer(1), N_pre=Integer(1, note="the prompt length"), ridge=Positive(allow_zero=True))
def fit_attention(model: PretrainedICL, tasks: SingleIndexTasks, U: torch.Tensor, n_prompts: int, N_pre: int,
                  ridge: float, generator: torch.Generator) -> PretrainedICL:
    r"""Stage 2 for ``model``'s features: ridge for :math:`\Gamma` on the noisy query labels of ``n_prompts`` fresh
    prompts (in chunks), penalty ``ridge`` added to the Gram :math:`Z^\top Z/n`. Sets ``model.gamma``; returns model."""
    m, kw = model.b.numel(), dict(device=U.device, dtype=DTYPE)
    gram, rhs = torch.zeros(m * m, m * m, **kw), torch.zeros(m * m, **kw)
    for size in _chunks(n_prompts, N_pre, tasks.d, U.device):
        p = sample_prompts(tasks, U, size, N_pre, generator)
        Z = design_rows(model.features(p.xq).to(DTYPE), model.context(p.x, p.y))
        Z32 = Z.to(PROMPT_DTYPE)  # the m^2 x m^2 Gram is the costly product: float32 per chunk, summed in float64
        gram += (Z32.T @ Z32).to(DTYPE)
        rhs += Z.T @ p.yq.to(DTYPE)
    model.gamma = solve_gamma(gram, rhs, n_prompts, ridge)
    return model


@constrain(m=Integer(1, MAX_WIDTH, note=f"the width; the ridge Gram matrix for Gamma has m^2 x m^2 entries, {MAX_WIDTH ** 4:,} at m = {MAX_WIDTH}"),
           n_prompts=Integer(1, note="pretraining prompts per stage"),
           N_pre=Integer(1, note="the pretraining prompt length"), ridge=Positive(allow_zero=True), seed=Integer(0))
def pretrain_icl(tasks: SingleIndexTasks, U: torch.Tensor, m: int = 40, n_prompts: int = 3000, N_pre: int = 64,
             ridge: float = 1e-3, seed: int = 0) -> PretrainedICL:
    r"""Both stages, each on ``n_prompts`` fresh prompts of length ``N_pre`` (on ``U``'s device, in chunks).

    Stage 1 (spectral): :math:`\hat U` = top-:math:`r` eigenvectors of :func:`moment_matrix` over all Stage-1
    examples, and the rows of :math:`W` uniform on the unit sphere of :math:`\operatorname{span}\hat U`
    (:func:`random_directions`). Stage 2: :func:`fit_attention`. ``m`` is at most 64.
    """
    gen = torch.Generator(device=U.device).manual_seed(seed)
    M = torch.zeros(tasks.d, tasks.d, device=U.device, dtype=DTYPE)
    for size in _chunks(n_prompts, N_pre, tasks.d, U.device):
        p = sample_prompts(tasks, U, size, N_pre, gen)
        M += moment_matrix(p.x, p.y) * (size / n_prompts)  # the chunks' means, weighted by their sizes
    G, b = random_directions(tasks.r, m, gen, U.device)
    model = PretrainedICL(learned_subspace(M, tasks.r), G, b, gamma=torch.zeros(m, m, dtype=DTYPE, device=U.device))
    return fit_attention(model, tasks, U, n_prompts, N_pre, ridge, gen)


# --------------------------------------------------------------------------- baselines from the test prompt alone


def top_eigenvector(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""Per prompt, the top eigenvector (largest eigenvalue) of :math:`\frac1N\sum_i y_i(x_ix_i^\top - I)`.

    ``x (n, N, k)``, ``y (n, N)``; returns ``(n, k)``. The shift :math:`-\bar y I` does not move eigenvectors,
    so this is the top eigenvector of :math:`A = X^\top DX`, :math:`D = \operatorname{diag}(y)`. For
    :math:`N < k`, with :math:`X^\top = QR`, the nonzero spectrum of :math:`A` is that of the
    :math:`N\times N` matrix :math:`RDR^\top` (eigenvectors :math:`Qv`); if all of it is negative (every
    :math:`y_i < 0`), the null space of :math:`X` is on top, and we return the unit projection of
    :math:`(1, \dots, 1)` onto it.
    """
    n, N, k = x.shape
    if N >= k:
        A = (x * y[:, :, None]).transpose(1, 2) @ x
        with _one_thread():
            return torch.linalg.eigh(A)[1][..., -1]
    with _one_thread():
        Q, R = torch.linalg.qr(x.transpose(1, 2))  # Q (n, k, N), R (n, N, N)
        values, vectors = torch.linalg.eigh(R @ (y[:, :, None] * R.transpose(1, 2)))
    top = (Q @ vectors[..., -1:])[..., 0]
    ones = torch.ones(n, k, 1, dtype=x.dtype, device=x.device)
    null = (ones - Q @ (Q.transpose(1, 2) @ ones))[..., 0]
    null = null / null.norm(dim=1, keepdim=True).clamp_min(1e-30)
    return torch.where((values[:, -1] < 0)[:, None], null, top)


def prompt_only_prediction(x: torch.Tensor, y: torch.Tensor, xq: torch.Tensor, basis: torch.Tensor | None = None):
    r"""The spectral prompt-only predictor :math:`a\,\sigma_*(\langle x_q, \hat\beta\rangle)`, per prompt (float64).

    :math:`\hat\beta` is :func:`top_eigenvector` of the prompt, and :math:`a = \sum_i h_iy_i / \sum_i h_i^2`
    with :math:`h_i = \sigma_*(\langle x_i, \hat\beta\rangle)` (least squares on the prompt). With ``basis``
    (``d x r``) everything happens on the coordinates ``basis.T x`` (the "subspace" baseline).
    """
    if basis is not None:
        basis = basis.to(x.dtype)
        x, xq = x @ basis, xq @ basis
    beta = top_eigenvector(x, y)
    h = link((x @ beta[:, :, None])[..., 0]).to(DTYPE)
    a = (h * y.to(DTYPE)).sum(1) / (h * h).sum(1).clamp_min(1e-300)
    return a * link((xq * beta).sum(-1)).to(DTYPE)


# --------------------------------------------------------------------------- the sweeps


PREDICTORS = ("pretrained", "ambient", "subspace")


@dataclasses.dataclass
class SingleIndexSweep:
    """In-context error against the prompt length for several task families (one ``(d, r)`` per row).

    Errors are mean squared errors against the clean target (Var f = 1), per predictor in
    :data:`PREDICTORS`, with the seed as last axis. ``cosine`` is the smallest principal cosine between the
    learned and the true subspace. ``stored_*`` hold the first ``n_stored`` test queries of seed 0: the
    clean targets and the pretrained and ambient predictions.
    """

    varied: str  # "d" or "r"
    ds: np.ndarray  # (C,)
    rs: np.ndarray  # (C,)
    Ns: np.ndarray  # (K,)
    m: int
    n_prompts: int
    N_pre: int
    n_test: int
    n_baseline: int
    noise: float
    ridge: float
    errors: dict  # predictor -> (C, K, S)
    cosine: np.ndarray  # (C, S)
    stored_f: np.ndarray  # (C, K, n_stored)
    stored_pretrained: np.ndarray  # (C, K, n_stored)
    stored_ambient: np.ndarray  # (C, K, n_stored)

    def mean_se(self, predictor: str) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard error over seeds of one predictor's error, each ``(C, K)``."""
        return mean_se(self.errors[predictor])

    def length_to_reach(self, predictor: str, level: float) -> np.ndarray:
        """Per row, the smallest stored ``N`` at which the seed-mean error is at most ``level`` (NaN if none)."""
        below = self.mean_se(predictor)[0] <= level
        return np.array([self.Ns[np.argmax(b)] if b.any() else np.nan for b in below])

    def row(self, value: int) -> int:
        """The row whose varied parameter (``d`` or ``r``) equals ``value``."""
        values = self.ds if self.varied == "d" else self.rs
        hits = np.flatnonzero(values == value)
        if hits.size == 0:
            raise ValueError(f"{self.varied} must be one of the stored values {values.tolist()}, got {value!r}")
        return int(hits[0])


@constrain(n_test=Integer(2), seed=Integer(0), n_baseline=Integer(2, none_ok=True), n_stored=Integer(0))
def evaluate(model: PretrainedICL, tasks: SingleIndexTasks, U: torch.Tensor, Ns, n_test: int, seed: int,
             n_baseline: int | None = None, n_stored: int = 0) -> tuple[dict, dict]:
    """Mean squared errors against the clean target at each prompt length in ``Ns``.

    The test prompts are nested: each has ``max(Ns)`` examples, and length ``N`` uses its first ``N``, so
    every curve follows the same prompts as they grow. The pretrained learner is scored on ``n_test``
    prompts, the two prompt-only baselines on the first ``n_baseline`` (default all; their
    eigendecompositions are the costly part). Returns ``errors[predictor]`` (one per ``N``) and the outputs
    ``stored[key]`` (``f``, ``pretrained``, ``ambient``; ``len(Ns) x n_stored``) on the first ``n_stored`` queries.
    """
    Ns = [int(N) for N in Ns]
    n_baseline = n_test if n_baseline is None else min(n_baseline, n_test)
    gen = torch.Generator(device=U.device).manual_seed(seed)
    sums = {key: np.zeros(len(Ns)) for key in PREDICTORS}
    kept = {key: [[] for _ in Ns] for key in ("f", "pretrained", "ambient")}
    done = 0
    for size in _chunks(n_test, max(Ns), tasks.d, U.device):
        p = sample_prompts(tasks, U, size, max(Ns), gen)
        basis = model.subspace.to(p.x.dtype)
        z, zq = p.x @ basis, p.xq @ basis  # the learned coordinates, shared by the learner and a baseline
        phi_q = model.features(zq, coordinates=True).to(DTYPE) @ model.gamma
        phi = model.features(z, coordinates=True)
        fq = p.fq.to(DTYPE)
        k = min(size, max(n_baseline - done, 0))  # prompts of this chunk that the baselines also see
        for j, N in enumerate(Ns):
            context = (p.y[:, None, :N] @ phi[:, :N])[:, 0].to(DTYPE) / N
            preds = {"pretrained": (phi_q * context).sum(-1)}
            if k:
                preds["ambient"] = prompt_only_prediction(p.x[:k, :N], p.y[:k, :N], p.xq[:k])
                preds["subspace"] = prompt_only_prediction(z[:k, :N], p.y[:k, :N], zq[:k])
            for key, pred in preds.items():
                sums[key][j] += float(((pred - fq[: pred.numel()]) ** 2).sum())
            if done < n_stored:
                for key, value in (("f", fq), ("pretrained", preds["pretrained"]), ("ambient", preds["ambient"])):
                    kept[key][j].append(value[:k].cpu().numpy())
        done += size
    stored = {key: np.array([np.concatenate(v)[:n_stored] if v else np.zeros(0) for v in rows])
              for key, rows in kept.items()}
    counts = {"pretrained": n_test, "ambient": n_baseline, "subspace": n_baseline}
    return {key: sums[key] / counts[key] for key in PREDICTORS}, stored


@constrain(m=Integer(1, MAX_WIDTH, note=f"the width; the ridge Gram matrix for Gamma has m^2 x m^2 entries, {MAX_WIDTH ** 4:,} at m = {MAX_WIDTH}"),
           n_prompts=Integer(1, note="pretraining prompts per stage"),
           N_pre=Integer(1, note="the pretraining prompt length"),
           n_test=Integer(2, note="test prompts per prompt length"), n_baseline=Integer(2, none_ok=True),
           seeds=Integer(1), noise=Positive(allow_zero=True), ridge=Positive(allow_zero=True), seed=Integer(0),
           n_stored=Integer(0), varied=OneOf("d", "r"), device=Device())
def run_sweep(configs, Ns=(4, 8, 16, 32, 64, 128, 256, 512), m: int = 40, n_prompts: int = 3000, N_pre: int = 64,
              n_test: int = 2000, n_baseline: int = 500, seeds: int = 3, noise: float = 0.1, ridge: float = 1e-3,
              seed: int = 0, n_stored: int = 200, varied: str = "d", device=None) -> SingleIndexSweep:
    """Pretrain on each ``(d, r)`` in ``configs`` and each of ``seeds`` seeds, then test at every ``N``
    (:func:`evaluate`: ``n_test`` prompts for the pretrained learner, ``n_baseline`` for the baselines).

    Each (config, seed) draws its own subspace and its own pretraining and test prompts; a ``(d, r)`` pair
    gets the same draws in every sweep. ``varied`` (``"d"`` or ``"r"``) names the parameter that the rows
    differ in, for plots and :meth:`SingleIndexSweep.row`.
    """
    dev = get_device(device)
    configs = [SingleIndexTasks(int(d), int(r), noise) for d, r in configs]
    if not configs:
        raise ValueError("configs must hold at least one (d, r) pair")
    Ns = np.array([check_integer(N, "Ns entries", 1, note="prompt lengths") for N in Ns])
    n_baseline = check_integer(n_baseline, "n_baseline", 2, n_test, note="at most n_test")
    n_stored = min(check_integer(n_stored, "n_stored", 0), n_baseline)
    C, K = len(configs), Ns.size
    errors = {key: np.empty((C, K, seeds)) for key in PREDICTORS}
    cosine = np.empty((C, seeds))
    stored = {key: np.empty((C, K, n_stored)) for key in ("f", "pretrained", "ambient")}
    jobs = [(i, s) for i in range(C) for s in range(seeds)]
    for i, s in progress(jobs, desc=f"single-index sweep over {varied}"):
        tasks = configs[i]
        U = tasks.subspace(_seed(seed, s, tasks.d, tasks.r, 0), dev)
        model = pretrain_icl(tasks, U, m, n_prompts, N_pre, ridge, seed=_seed(seed, s, tasks.d, tasks.r, 1))
        cosine[i, s] = subspace_cosine(model.subspace, U)
        errs, first = evaluate(model, tasks, U, Ns, n_test, _seed(seed, s, tasks.d, tasks.r, 2), n_baseline,
                               n_stored if s == 0 else 0)
        for key in PREDICTORS:
            errors[key][i, :, s] = errs[key]
        if s == 0:
            for key in stored:
                stored[key][i] = first[key]
    return SingleIndexSweep(
        varied=varied, ds=np.array([t.d for t in configs]), rs=np.array([t.r for t in configs]), Ns=Ns, m=m,
        n_prompts=n_prompts, N_pre=N_pre, n_test=n_test, n_baseline=n_baseline, noise=float(noise),
        ridge=float(ridge), errors=errors, cosine=cosine, stored_f=stored["f"], stored_pretrained=stored["pretrained"],
        stored_ambient=stored["ambient"],
    )


def format_sweep(result: SingleIndexSweep, predictors=PREDICTORS) -> str:
    """A compact text table of the seed-mean errors: one line per row and predictor, one column per ``N``."""
    values = result.ds if result.varied == "d" else result.rs
    lines = [f"{'error / Var f at N =':<22s}" + "".join(f"{int(N):>6d}" for N in result.Ns)]
    for i, value in enumerate(values):
        for j, key in enumerate(predictors):
            head = f"{result.varied} = {int(value)}" if j == 0 else ""
            lines.append(f"{head:<10s}{key:<12s}" + "".join(f"{e:6.2f}" for e in result.mean_se(key)[0][i]))
    return "\n".join(lines)


