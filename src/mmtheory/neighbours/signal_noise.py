r"""Signal learning against noise memorisation: single- and multi-modal contrastive pre-training.

After Huang et al. (2024); the data model and network below are **our reconstruction** of their setting,
the simplest one consistent with what we could read (the paper's exact architecture and thresholds were not
verified). Each sample has a label :math:`y \in \{\pm1\}` and two patches,

.. math:: x = [\,y\mu,\ \xi\,], \qquad \mu = e_1 \in \mathbb R^d, \qquad
          \xi \sim \mathcal N\big(0, \sigma^2 (I_d - e_1e_1^\top)\big), \qquad
          \mathrm{SNR} = \frac{\|\mu\|}{\sigma\sqrt d}.

A second modality :math:`\tilde x = [y\tilde\mu, \tilde\xi]` shares the label, not the noise, and has its own
:math:`\widetilde{\mathrm{SNR}}` (the *partner*). Each modality has a one-hidden-layer ReLU encoder applied
patch-wise, :math:`h_r(x) = \mathrm{ReLU}(\langle w_r, y\mu\rangle) + \mathrm{ReLU}(\langle w_r, \xi\rangle)`,
:math:`r = 1..m`, and the score of a pair is :math:`\langle h(x), g(\tilde x)\rangle / \tau`.

- **single-modal** (SimCLR-like): positives are :math:`x_i` and an augmentation
  :math:`x_i^+ = [y_i\mu, \xi_i + \epsilon_i]` that keeps the noise, both through the same encoder;
- **multi-modal** (CLIP-like): positives are :math:`x_i` and its partner :math:`\tilde x_i`, through two encoders.

Both minimise the symmetric InfoNCE loss (:func:`~mmtheory.sufficiency.info_nce_loss`) over the same
:math:`n` samples by full-batch gradient descent with step ``lr`` divided by :math:`\mathbb E\|x\|^2 = 1 +
\sigma^2(d-1)` (a fixed step diverges at low SNR, where the noise patch dominates the input), or by
sign-gradient descent. We track the **signal coefficient** :math:`\max_r|\langle w_r, \mu\rangle|/\|\mu\|` and
the **noise coefficient** :math:`\max_{r,i}|\langle w_r, \xi_i\rangle|/\|\xi_i\|` (both projections of a
neuron onto a unit direction), and the test accuracy of a ridge probe on the frozen modality-1 features,
fitted on the :math:`n` training labels and tested on fresh samples.

Every run of a sweep is one slice of a batched computation: the runs for all SNRs and seeds train together.
For each seed the standard-normal draws are shared by every SNR (the noise is :math:`\sigma` times them) and
by both paradigms, so comparisons are paired.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from ..checks import Device, Integer, OneOf, check_integer, check_positive, constrain
from ..numerics import ridge_predict
from ..runtime import get_device, progress
from ..sufficiency.contrastive import info_nce_loss

PARADIGMS = ("single", "multi")
OPTIMIZERS = ("gd", "sign")


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    """Sizes and optimisation of one contrastive pre-training run (defaults: the book scale)."""

    d: int = 300  # dimension of each patch
    n: int = 40  # training samples (pairs)
    m: int = 20  # neurons per encoder
    steps: int = 1500
    tau: float = 1.0  # temperature
    lr: float = 0.5  # gradient descent: the step is lr / E||x||^2
    sign_lr: float = 1e-3  # sign gradient descent: the step per coordinate
    optimizer: str = "gd"
    init_scale: float = 0.01  # standard deviation of the initial weights
    augment: float = 0.1  # augmentation noise, relative to sigma (single-modal)
    snr_partner: float = 1.0  # SNR of the second modality (multi-modal)
    evaluations: int = 24  # log-spaced evaluation steps (plus step 0)
    n_test: int = 2000
    ridge: float = 1e-2  # the probe's ridge penalty

    def __post_init__(self):
        check_integer(self.d, "d", 2)
        check_integer(self.n, "n", 2, note="InfoNCE needs at least one negative")
        check_integer(self.m, "m", 1)
        check_integer(self.steps, "steps", 1)
        check_integer(self.evaluations, "evaluations", 1)
        check_integer(self.n_test, "n_test", 1)
        check_positive(self.tau, "tau (the temperature)")
        check_positive(self.lr, "lr")
        check_positive(self.sign_lr, "sign_lr")
        check_positive(self.init_scale, "init_scale")
        check_positive(self.augment, "augment", allow_zero=True)
        check_positive(self.snr_partner, "snr_partner")
        check_positive(self.ridge, "ridge", allow_zero=True)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")


@constrain(steps=Integer(1), evaluations=Integer(1))
def evaluation_steps(steps: int, evaluations: int) -> np.ndarray:
    """Step 0 and ``evaluations`` steps log-spaced from 1 to ``steps`` (only ``steps`` if ``evaluations = 1``)."""
    if evaluations == 1:
        return np.array([0, steps])
    return np.unique(np.r_[0, np.round(np.geomspace(1, steps, evaluations)).astype(int)])


@constrain(d=Integer(2))
def noise_scale(snr, d: int):
    """:math:`\\sigma = \\|\\mu\\| / (\\mathrm{SNR}\\sqrt d)` with :math:`\\|\\mu\\| = 1`; ``snr`` a number or a tensor of them.

    Implements {eq}`eq-signal-noise`
    """
    if not bool(torch.all(torch.isfinite(torch.as_tensor(snr))) and torch.all(torch.as_tensor(snr) > 0)):
        raise ValueError(f"snr must be positive and finite, got {snr!r}")
    return 1.0 / (snr * math.sqrt(d))


def _check_snrs(snrs) -> torch.Tensor:
    snrs = torch.as_tensor(snrs, dtype=torch.float32).reshape(-1)
    if snrs.numel() == 0 or not bool(torch.isfinite(snrs).all() and (snrs > 0).all()):
        raise ValueError(f"snrs must be positive numbers, got {snrs.tolist()}")
    return snrs


def features(W: torch.Tensor, y: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
    r"""Patch-wise ReLU features :math:`h_r = \mathrm{ReLU}(y w_{r1}) + \mathrm{ReLU}(\langle w_r, \xi\rangle)`.

    ``W``: ``(..., m, d)``; ``y``: ``(..., n)``; ``xi``: ``(..., n, d)``; returns ``(..., n, m)``.
    """
    return torch.relu(W[..., None, :, 0] * y[..., None]) + torch.relu(xi @ W.transpose(-1, -2))


def _standard_noise(shape, gen: torch.Generator, device) -> torch.Tensor:
    z = torch.randn(*shape, generator=gen, device=device)
    z[..., 0] = 0.0  # orthogonal to mu = e_1
    return z


def _labels(shape, gen: torch.Generator, device) -> torch.Tensor:
    return torch.randint(0, 2, shape, generator=gen, device=device).float() * 2 - 1


@dataclasses.dataclass
class _Draws:
    """Standard-normal draws of one batch of runs; the noise of a run is its sigma times these."""

    y: torch.Tensor  # (R, n)
    z: torch.Tensor  # (R, n, d) modality 1
    z_partner: torch.Tensor  # (R, n, d)
    z_augment: torch.Tensor  # (R, n, d)
    y_test: torch.Tensor  # (R, n_test)
    z_test: torch.Tensor  # (R, n_test, d)
    W: torch.Tensor  # (R, m, d) initial weights, modality 1
    W_partner: torch.Tensor  # (R, m, d)


def _draw(config: PretrainConfig, seeds, device) -> _Draws:
    """One independent set of draws per seed, in a fixed order (so both paradigms see the same data)."""
    parts = []
    for seed in seeds:
        gen = torch.Generator(device=device).manual_seed(int(seed))
        n, d, m = config.n, config.d, config.m
        parts.append([_labels((n,), gen, device), _standard_noise((n, d), gen, device),
                      _standard_noise((n, d), gen, device), _standard_noise((n, d), gen, device),
                      _labels((config.n_test,), gen, device), _standard_noise((config.n_test, d), gen, device),
                      config.init_scale * torch.randn(m, d, generator=gen, device=device),
                      config.init_scale * torch.randn(m, d, generator=gen, device=device)])
    return _Draws(*(torch.stack(column) for column in zip(*parts)))


@dataclasses.dataclass
class Trajectories:
    """Coefficients and test accuracy over training, per SNR and seed: arrays ``(S, seeds, evaluations)``."""

    paradigm: str
    snrs: np.ndarray  # (S,)
    seeds: np.ndarray
    steps: np.ndarray  # (E,) the step of each evaluation (0 = initialisation)
    accuracy: np.ndarray
    signal: np.ndarray
    noise: np.ndarray
    loss: np.ndarray


def _probe_accuracy(W, y, xi, y_test, xi_test, ridge: float) -> np.ndarray:
    """Test accuracy of the ridge probe on frozen features, one per run."""
    train, test = features(W, y, xi).cpu().numpy(), features(W, y_test, xi_test).cpu().numpy()
    labels, labels_test = y.cpu().numpy(), y_test.cpu().numpy()
    n = labels.shape[1]
    accuracy = np.empty(len(train))
    for k in range(len(train)):
        prediction = ridge_predict(np.vstack([train[k], test[k]]), np.arange(n), labels[k], ridge)[n:]
        accuracy[k] = np.mean(np.where(prediction >= 0, 1.0, -1.0) == labels_test[k])
    return accuracy


def _coefficients(W, xi) -> tuple[np.ndarray, np.ndarray]:
    signal = W[..., 0].abs().amax(-1)
    noise = ((xi @ W.transpose(-1, -2)).abs() / xi.norm(dim=-1, keepdim=True)).amax((-1, -2))
    return signal.cpu().numpy(), noise.cpu().numpy()


@constrain(paradigm=OneOf(*PARADIGMS), device=Device())
def pretrain_encoders(snrs, seeds, paradigm: str, config: PretrainConfig = PretrainConfig(), device=None,
             desc: str | None = None) -> Trajectories:
    """Train the modality-1 encoder by ``paradigm`` for every SNR in ``snrs`` and every seed, as one batch.

    Implements {eq}`eq-signal-noise`
    """
    snrs = _check_snrs(snrs)
    seeds = [check_integer(s, "seed", 0) for s in np.atleast_1d(seeds)]
    dev = get_device(device)
    S, K = len(snrs), len(seeds)
    draws = _draw(config, seeds, dev)

    def per_run(t):  # (K, ...) -> (S*K, ...)
        return t.unsqueeze(0).expand(S, *t.shape).reshape(S * K, *t.shape[1:])

    sigma = noise_scale(snrs.to(dev), config.d).repeat_interleave(K)[:, None, None]
    sigma_partner = noise_scale(config.snr_partner, config.d)
    y, y_test = per_run(draws.y), per_run(draws.y_test)
    xi, xi_test = sigma * per_run(draws.z), sigma * per_run(draws.z_test)
    partner = sigma_partner * per_run(draws.z_partner)
    augmented = xi + config.augment * sigma * per_run(draws.z_augment)
    W = per_run(draws.W).clone().requires_grad_(True)
    W_partner = per_run(draws.W_partner).clone().requires_grad_(paradigm == "multi")
    step = config.lr / (1.0 + sigma[:, :, 0] ** 2 * (config.d - 1))  # (R, 1): lr / E||x||^2
    step_partner = config.lr / (1.0 + sigma_partner**2 * (config.d - 1))

    history = {key: [] for key in ("accuracy", "signal", "noise", "loss")}
    evaluations = set(evaluation_steps(config.steps, config.evaluations).tolist())
    for t in progress(range(config.steps + 1), desc=desc or f"{paradigm}-modal", total=config.steps + 1):
        h = features(W, y, xi)
        z = features(W_partner, y, partner) if paradigm == "multi" else features(W, y, augmented)
        loss = info_nce_loss(h @ z.transpose(-1, -2) / config.tau)  # (R,)
        if t in evaluations:
            with torch.no_grad():
                history["accuracy"].append(_probe_accuracy(W, y, xi, y_test, xi_test, config.ridge))
                signal, noise = _coefficients(W, xi)
                history["signal"].append(signal)
                history["noise"].append(noise)
                history["loss"].append(loss.detach().cpu().numpy())
        if t == config.steps:
            break
        params = [W, W_partner] if paradigm == "multi" else [W]
        grads = torch.autograd.grad(loss.sum(), params)
        with torch.no_grad():
            for p, g, s in zip(params, grads, (step[..., None], step_partner)):
                p -= config.sign_lr * g.sign() if config.optimizer == "sign" else s * g

    def shaped(key):
        return np.stack(history[key], axis=-1).reshape(S, K, -1)

    return Trajectories(paradigm=paradigm, snrs=snrs.numpy().astype(float), seeds=np.array(seeds),
                        steps=evaluation_steps(config.steps, config.evaluations), **{key: shaped(key) for key in history})


# --------------------------------------------------------------------------- experiments


