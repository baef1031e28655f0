r"""What a (nearly) sufficient representation buys downstream, computed exactly on finite models.

Three uses of a contrastively trained representation, each with its excess risk in terms of sufficiency:

- **zero-shot classification**: a label :math:`c` read off the text through a channel
  :math:`p(c \mid y)`; classes are scored by averaging :math:`e^{s(x, y)}` over :math:`M` prompts
  :math:`y \sim P(\cdot \mid c)`;
- **conditional denoising**: predict a bounded real image :math:`x` from :math:`z = x + \sigma g` and
  a text code :math:`E(y)`; the excess squared error is at most :math:`2B^2 \operatorname{Suff}(E)`;
- **next-token prediction from an image code**: the excess log-loss of predicting :math:`y` from
  :math:`E(x)` instead of :math:`x` is exactly :math:`\operatorname{Suff}(E)`.
"""

from __future__ import annotations

import numpy as np

from ..checks import Integer, Positive, constrain
from .encoders import encode, sufficiency_information
from .joint import conditional, entropy, validate_encoder, validate_joint


@constrain(n_classes=Integer(1, none_ok=True))
def label_channel(labels, n_classes: int | None = None) -> np.ndarray:
    """The deterministic channel :math:`p(c \\mid y) = 1\\{c = \\text{labels}[y]\\}` as a row-stochastic matrix."""
    labels = validate_encoder(labels, len(np.asarray(labels)), name="labels")
    n_classes = int(labels.max()) + 1 if n_classes is None else n_classes
    if labels.max() >= n_classes:
        raise ValueError(f"labels must be below n_classes = {n_classes}")
    return np.eye(n_classes)[labels]


def _check_channel(P: np.ndarray, channel) -> np.ndarray:
    channel = np.asarray(channel, dtype=float)
    if channel.ndim != 2 or channel.shape[0] != P.shape[1]:
        raise ValueError(f"channel must have one row per text value ({P.shape[1]}), got shape {channel.shape}")
    if np.any(channel < 0) or not np.allclose(channel.sum(axis=1), 1.0):
        raise ValueError("channel must be row-stochastic: p(c | y) >= 0 summing to 1 over c")
    return channel


def bayes_label_posterior(P, channel) -> np.ndarray:
    """:math:`p(c \\mid x) = \\sum_y P(y \\mid x)\\, p(c \\mid y)`, rows x."""
    P = validate_joint(P)
    return conditional(P) @ _check_channel(P, channel)


def zero_shot_posterior(score, P, channel, prompts=None) -> np.ndarray:
    r"""The zero-shot label posterior :math:`\hat p(c \mid x) \propto p(c)\, \frac1M \sum_m e^{s(x, y_{c,m})}`.

    Implements {eq}`eq-zero-shot`

    ``prompts`` is an integer array ``(n_classes, M)`` of text values, row ``c`` drawn from
    :math:`P(\cdot \mid c)`. With ``prompts=None`` the average is replaced by its expectation
    (:math:`M = \infty`): :math:`\hat p(c \mid x) \propto \sum_y P(y)\, p(c \mid y)\, e^{s(x,y)}`, the
    push-forward of :math:`Q_s(\cdot \mid x)` through the channel.
    """
    P = validate_joint(P)
    channel = _check_channel(P, channel)
    score = np.asarray(score, dtype=float)
    if score.shape != P.shape:
        raise ValueError(f"score must have the shape of P {P.shape}, got {score.shape}")
    shifted = np.exp(score - score.max(axis=1, keepdims=True))
    prior_c = P.sum(axis=0) @ channel
    if prompts is None:
        weights = shifted @ (P.sum(axis=0)[:, None] * channel)
    else:
        prompts = np.asarray(prompts)
        if prompts.ndim != 2 or prompts.shape[0] != channel.shape[1] or prompts.shape[1] < 1:
            raise ValueError(f"prompts must have shape (n_classes = {channel.shape[1]}, M >= 1), got {prompts.shape}")
        weights = prior_c * shifted[:, prompts].mean(axis=2)
    return weights / weights.sum(axis=1, keepdims=True)


@constrain(M=Integer(1, note="prompts per class"))
def draw_prompts(P, channel, M: int, rng: np.random.Generator) -> np.ndarray:
    """``M`` prompts per class, :math:`y \\sim P(y \\mid c) \\propto P(y)\\, p(c \\mid y)`, shape ``(n_classes, M)``."""
    P = validate_joint(P)
    text_given_class = (P.sum(axis=0)[:, None] * _check_channel(P, channel)).T
    text_given_class /= text_given_class.sum(axis=1, keepdims=True)
    return np.stack([rng.choice(P.shape[1], size=M, p=row) for row in text_given_class])


def cross_entropy_risk(posterior, P, channel) -> float:
    """:math:`\\mathbb E_{(x, c)}[-\\log \\hat p(c \\mid x)]` under :math:`P(x, c) = \\sum_y P(x, y) p(c \\mid y)`."""
    P = validate_joint(P)
    joint_xc = P @ _check_channel(P, channel)
    mask = joint_xc > 0
    with np.errstate(divide="ignore"):
        return float(-np.sum(joint_xc[mask] * np.log(np.asarray(posterior)[mask])))


@constrain(sigma=Positive(), n_grid=Integer(2))
def denoising_excess(P, x_values, encoder, sigma: float = 1.0, n_grid: int = 4001) -> tuple[float, float]:
    r"""Excess x0-prediction risk of conditioning on :math:`E(y)` instead of :math:`y`, and its bound.

    Implements {prf:ref}`prop-denoising`

    The image is the real number ``x_values[x]``, observed as :math:`z = x + \sigma g`. The excess is
    :math:`\mathbb E\,(\mathbb E[x \mid z, y] - \mathbb E[x \mid z, E(y)])^2`, integrated over
    :math:`z` on a grid of ``n_grid`` points (trapezoid rule); the bound is :math:`2B^2\operatorname{Suff}(E)`
    with :math:`B = \max |x|`. Returns ``(excess, bound)``.
    """
    P = validate_joint(P)
    x_values = np.asarray(x_values, dtype=float)
    if x_values.shape != (P.shape[0],):
        raise ValueError(f"x_values must give one real value per image value ({P.shape[0]}), got {x_values.shape}")
    enc = validate_encoder(encoder, P.shape[1])
    z = np.linspace(x_values.min() - 10 * sigma, x_values.max() + 10 * sigma, n_grid)
    phi = np.exp(-((z[:, None] - x_values[None, :]) ** 2) / (2 * sigma**2)) / np.sqrt(2 * np.pi * sigma**2)
    # p(z, y) and z-conditional means, for the text y and for its code e
    joint_zy = phi @ P  # (n_grid, n_y)
    mean_zy = (phi * x_values) @ P / np.maximum(joint_zy, 1e-300)
    P_code = encode(P, enc, axis=1)  # (n_x, n_e)
    mean_ze = (phi * x_values) @ P_code / np.maximum(phi @ P_code, 1e-300)
    gap = (mean_zy - mean_ze[:, enc]) ** 2 * joint_zy
    excess = float(np.trapezoid(gap.sum(axis=1), z))
    bound = 2 * np.max(np.abs(x_values)) ** 2 * sufficiency_information(P, enc, axis=1)
    return excess, bound


@constrain(delta=Positive(), T=Positive(), n_t=Integer(2))
def diffusion_score_gap(P, x_values, encoder, delta: float, T: float = 5.0, n_t: int = 60) -> tuple[float, float]:
    r"""The integrated score gap of conditioning a diffusion sampler on :math:`E(y)` instead of :math:`y`, and its bound.

    Implements {prf:ref}`prop-diffusion-sufficiency`

    Forward process :math:`z_t = \alpha_t x + \sigma_t g`, :math:`\alpha_t = e^{-t}`, :math:`\sigma_t^2 = 1 - e^{-2t}`.
    By Tweedie's formula the two conditional scores differ by :math:`(\alpha_t/\sigma_t^2)` times the
    difference of the two denoisers, and :math:`z_t/\alpha_t = x + (\sigma_t/\alpha_t) g` has the same
    conditional means as :func:`denoising_excess` at noise level :math:`\sigma_t/\alpha_t`. Returns
    :math:`\int_\delta^T (\alpha_t^2/\sigma_t^4)\,\text{excess}(\sigma_t/\alpha_t)\,dt` (trapezoid rule on ``n_t``
    log-spaced times) and the bound :math:`B^2(1/\sigma_\delta^2 - 1/\sigma_T^2)\operatorname{Suff}(E_Y)`.
    """
    if delta >= T:
        raise ValueError(f"delta must be below T = {T}, got {delta}")
    t = np.geomspace(delta, T, n_t)
    alpha, sigma2 = np.exp(-t), -np.expm1(-2 * t)
    excess = np.array([denoising_excess(P, x_values, encoder, sigma=float(np.sqrt(v) / a))[0]
                       for a, v in zip(alpha, sigma2)])
    suff = sufficiency_information(validate_joint(P), validate_encoder(encoder, np.shape(P)[1]), axis=1)
    bound = float(np.max(np.abs(x_values)) ** 2 * (1 / sigma2[0] - 1 / sigma2[-1]) * suff)
    return float(np.trapezoid(alpha**2 / sigma2**2 * excess, t)), bound


def next_token_excess(P, encoder, given=None) -> float:
    """:math:`\\mathbb E[-\\log P(y \\mid E(x))] - \\mathbb E[-\\log P(y \\mid x)]`: the price of predicting the text from a code.

    With ``given`` (a function of the text, as an array over its values, e.g. its first token) the
    prediction also conditions on :math:`G = \\text{given}(y)`, and the price is
    :math:`\\mathbb E[-\\log P(y \\mid G, E(x))] - \\mathbb E[-\\log P(y \\mid G, x)]
    = \\operatorname{Suff}(E) - I(X; G \\mid E(X))` (the chain rule; Part II's next-token task gives the
    first text leaf).

    Implements {prf:ref}`prop-next-token`
    """
    P = validate_joint(P)
    enc = validate_encoder(encoder, P.shape[0])
    coded = encode(P, enc)
    if given is None:
        return (entropy(coded) - entropy(coded.sum(axis=1))) - (entropy(P) - entropy(P.sum(axis=1)))
    given = validate_encoder(given, P.shape[1], name="given")
    return (entropy(coded) - entropy(encode(coded, given, axis=1))) - (entropy(P) - entropy(encode(P, given, axis=1)))


# --- Part I: zero-shot classification on a tiny JGHM ---------------------------------------------


