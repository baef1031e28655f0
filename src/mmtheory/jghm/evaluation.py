"""Held-out risks of trained JGHM networks. They draw the same test data as :func:`mmtheory.jghm.bayes_risk` with the
same ``seed`` on the same device, so model-minus-Bayes differences are paired."""

from __future__ import annotations

import torch

from ..checks import Integer, constrain
from . import bp
from .model import JGHM
from .risks import ClipBatch, Risk, clip_batch, draw_prompts, zero_shot_logits
from .training import (
    ClipRun,
    DenoiserRun,
    NextTokenRun,
    _check_encoder,
    _check_model,
    _clip_losses,
    _denoising_errors,
    _device_of,
    _next_token_losses,
    _noisy,
)
from .transformers import TreeEncoder

EVAL_SEED = 10**6  # held-out draws: a seed no training run uses by default


def _evaluation_generator(n, chunk, seed, module: torch.nn.Module) -> torch.Generator:
    """Check the evaluation arguments; return the seeded generator, on ``module``'s device, of the held-out draws."""
    return torch.Generator(device=_device_of(module)).manual_seed(seed)


def _in_chunks(fn, n: int, chunk: int) -> torch.Tensor:
    """``fn(slice)`` over consecutive slices of ``range(n)``, concatenated."""
    return torch.cat([fn(slice(start, min(start + chunk, n))) for start in range(0, n, chunk)])


@constrain(n=Integer(2), seed=Integer(0), chunk=Integer(1), K=Integer(2))
def evaluate_clip(run_or_encoders, model: JGHM, n: int = 2000, K: int = 4, seed: int = EVAL_SEED,
                  chunk: int = 256) -> Risk:
    """The CLIP risk of trained encoders (a :class:`ClipRun` or a pair ``(image_encoder, text_encoder)``) on
    ``n`` fresh anchors with ``K - 1`` negatives each, drawn as :func:`~mmtheory.jghm.bayes_risk` draws them."""
    encoders = (run_or_encoders.image_encoder, run_or_encoders.text_encoder) \
        if isinstance(run_or_encoders, ClipRun) else tuple(run_or_encoders)
    if len(encoders) != 2:
        raise ValueError("run_or_encoders must be a ClipRun or a pair (image_encoder, text_encoder)")
    model = _check_model(model)
    _check_encoder(encoders[0], model, "image", "image_encoder")
    _check_encoder(encoders[1], model, "text", "text_encoder")
    generator = _evaluation_generator(n, chunk, seed, encoders[0])
    with torch.no_grad():
        batch = clip_batch(model, n, K, generator)
        values = _in_chunks(lambda s: _clip_losses(*encoders, model, ClipBatch(
            batch.image[s], batch.text[s], batch.negative_text[s], batch.negative_image[s]))[0], n, chunk)
    return Risk.of(values)


@constrain(n=Integer(2), seed=Integer(0), chunk=Integer(1), M=Integer(1))
def evaluate_zero_shot(image_encoder: TreeEncoder, text_encoder: TreeEncoder, model: JGHM, n: int = 2000,
                       M: int = 250, seed: int = EVAL_SEED, chunk: int = 256) -> Risk:
    r"""The zero-shot risk (cross-entropy of the label, the first text leaf) of the classifier
    :math:`\log p(c) + \log\frac1M\sum_m e^{\langle f(x_{\rm im}), g(y^{(c,m)})\rangle}`, with ``M`` prompts per
    class drawn after the ``n`` test pairs (never their own captions)."""
    model = _check_model(model)
    _check_encoder(image_encoder, model, "image", "image_encoder")
    _check_encoder(text_encoder, model, "text", "text_encoder")
    generator = _evaluation_generator(n, chunk, seed, image_encoder)
    dev = generator.device
    log_prior = torch.log(torch.as_tensor(bp.label_prior(model), device=dev))
    with torch.no_grad():
        s = model.sample(n, generator)
        prompts = draw_prompts(model, M, generator)  # (S, M, leaves)
        prompt_embeddings = _in_chunks(lambda r: text_encoder(prompts.flatten(0, 1)[r]), prompts.shape[0] * M, chunk)
        prompt_embeddings = prompt_embeddings.reshape(prompts.shape[0], M, -1)

        def losses(r):
            logits = zero_shot_logits(lambda a, b: a @ b.T, image_encoder(s.image[r]), prompt_embeddings, log_prior)
            return -torch.log_softmax(logits, -1).gather(1, s.text[r, :1])[:, 0]

        values = _in_chunks(losses, n, chunk)
    return Risk.of(values)


@constrain(n=Integer(2), seed=Integer(0), chunk=Integer(1))
def evaluate_denoiser(run: DenoiserRun, model: JGHM, n: int = 2000, seed: int = EVAL_SEED, chunk: int = 256) -> Risk:
    """The conditional-denoising risk (squared error summed over the image leaves) of a trained denoiser at its
    training noise level ``run.sigma``."""
    if not isinstance(run, DenoiserRun):
        raise ValueError(f"run must be a DenoiserRun, got {type(run).__name__}")
    model = _check_model(model)
    generator = _evaluation_generator(n, chunk, seed, run.denoiser)
    with torch.no_grad():
        s = model.sample(n, generator)
        z = _noisy(s.image, run.sigma, generator)
        values = _in_chunks(lambda r: _denoising_errors(run.denoiser, run.text_encoder, s.image[r], s.text[r], z[r]),
                            n, chunk)
    return Risk.of(values)


@constrain(n=Integer(2), seed=Integer(0), chunk=Integer(1))
def evaluate_next_token(run: NextTokenRun, model: JGHM, n: int = 2000, seed: int = EVAL_SEED,
                        chunk: int = 256) -> Risk:
    """The next-token risk (cross-entropy per text token, averaged over the positions) of a trained model."""
    if not isinstance(run, NextTokenRun):
        raise ValueError(f"run must be a NextTokenRun, got {type(run).__name__}")
    model = _check_model(model)
    generator = _evaluation_generator(n, chunk, seed, run.transformer)
    with torch.no_grad():
        s = model.sample(n, generator)
        values = _in_chunks(lambda r: _next_token_losses(run.transformer, run.image_encoder, s.image[r], s.text[r]),
                            n, chunk)
    return Risk.of(values)
