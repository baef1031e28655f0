"""The trained-transformer figures of Oko et al. (2025) as registered experiments.

* ``jghm_probe``: do an encoder's hidden states carry the BP messages, level by level? Linear probes
  from the hidden state after every block to the upward message of every ancestor depth, for an
  untrained, a CLIP-trained and a BP-guided encoder.
* ``jghm_clip``: CLIP risk and zero-shot risk of trained encoders (standard depth, BP-guided, one
  block) against the Bayes risk, at one or more flip probabilities.
* ``jghm_downstream``: denoising and next-token prediction from the frozen 10-dimensional CLIP
  embedding against joint training on the raw other modality, and every model evaluated out of
  distribution beside Bayes and mis-specified BP.

``book`` scale uses a depth-2 tree (9 leaves a modality) and small transformers so that a chapter runs
on a laptop CPU in minutes; ``full`` is the paper's protocol (depth 4, 81 leaves, 40,000 CLIP and
30,000 downstream steps), meant for a GPU, checkpointed under ``$MMTHEORY_CHECKPOINTS``
(default ``checkpoints/``) so an interrupted run resumes.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

import numpy as np
import torch

from .context_quality import ridge_predict
from .downstream import fit_inverse_m
from .jghm import JGHM
from .jghm_risks import bayes_risk
from .jghm_training import (
    EVAL_SEED, TrainConfig, evaluate_clip, evaluate_denoiser, evaluate_next_token, evaluate_zero_shot,
    train_clip, train_denoiser, train_next_token,
)
from .jghm_transformers import TreeEncoder, guidance_targets
from .registry import experiment
from .runtime import get_device, resolve_scale

CHECKPOINT_ENV = "MMTHEORY_CHECKPOINTS"


@dataclasses.dataclass(frozen=True)
class Protocol:
    """One scale of the pre-training experiments: the tree, the networks, the steps and the evaluation."""

    depth: int
    d: int
    clip_layers: int  # "standard": one block per tree level and one more
    down_layers: int
    down_d: int
    clip: TrainConfig
    down: TrainConfig
    n_eval: int
    M: int
    Ms: tuple  # prompts per class for the zero-shot risk-versus-M curve of the standard encoder
    ps: tuple
    train_p: float  # the downstream models and their CLIP encoders are trained at this p
    ood_ps: tuple
    guidance: float
    probe_p: float = 0.3
    guided_lr_scale: float = 1.0  # the paper trains the guided encoders with a larger step
    checkpoints: bool = False


PROTOCOLS = {
    "quick": Protocol(depth=2, d=32, clip_layers=3, down_layers=2, down_d=32,
                      clip=TrainConfig(steps=30, batch=16, lr_max=3e-3, lr_min=3e-5, record_every=10),
                      down=TrainConfig(steps=20, batch=16, lr_max=3e-3, lr_min=3e-5, record_every=10),
                      n_eval=200, M=10, Ms=(5, 20), ps=(0.1,), train_p=0.1, ood_ps=(0.02, 0.3), guidance=1e-2),
    "book": Protocol(depth=2, d=32, clip_layers=3, down_layers=3, down_d=32,
                     clip=TrainConfig(steps=400, batch=64, lr_max=3e-3, lr_min=3e-5, record_every=50),
                     down=TrainConfig(steps=300, batch=64, lr_max=3e-3, lr_min=3e-5, record_every=50),
                     n_eval=2000, M=50, Ms=(5, 10, 25, 50, 100, 250), ps=(0.1,), train_p=0.1, ood_ps=(0.02, 0.05, 0.1, 0.2, 0.3), guidance=1e-2),
    "full": Protocol(depth=4, d=128, clip_layers=5, down_layers=9, down_d=128,
                     clip=TrainConfig(steps=40_000, batch=128, lr_max=3e-4, lr_min=3e-7, record_every=100,
                                      checkpoint_every=2000),
                     down=TrainConfig(steps=30_000, batch=128, lr_max=1e-3, lr_min=1e-6, record_every=100,
                                      checkpoint_every=2000),
                     n_eval=10_000, M=250, Ms=(5, 10, 25, 50, 100, 250), ps=(0.02, 0.1, 0.2, 0.3, 0.4), train_p=0.2,
                     ood_ps=(0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4), guidance=1e-3, probe_p=0.2,
                     guided_lr_scale=1e-3 / 3e-4, checkpoints=True),
}
ARCHITECTURES = ("standard", "guided", "shallow")


def _checkpoint(protocol: Protocol, name: str, seed: int):
    if not protocol.checkpoints:
        return None
    return Path(os.environ.get(CHECKPOINT_ENV, "checkpoints")) / f"{name}-seed{seed}.pt"


@functools.lru_cache(maxsize=8)
def _clip_run(protocol: Protocol, arch: str, p: float, seed: int, device: torch.device):
    """Train one pair of encoders of architecture ``arch`` at flip probability ``p``; kept for the
    process, so the experiments of one session (one chapter's kernel) train each pair once."""
    model = JGHM.paper(p=p, depth=protocol.depth)
    guided = arch == "guided"
    scale = protocol.guided_lr_scale if guided else 1.0
    config = dataclasses.replace(protocol.clip, seed=seed, guidance=protocol.guidance if guided else 0.0,
                                 lr_max=protocol.clip.lr_max * scale, lr_min=protocol.clip.lr_min * scale,
                                 checkpoint=_checkpoint(protocol, f"clip-{arch}-p{p}", seed))
    layers = 1 if arch == "shallow" else protocol.clip_layers
    return train_clip(model, config, device=device, d=protocol.d, n_layers=layers, n_heads=4)


# --- probes ---------------------------------------------------------------------------------------


def _r2(X: np.ndarray, Y: np.ndarray, ridge: float = 1e-3) -> float:
    """Held-out R^2 of a ridge probe of Y on X (fit on the first half, scored on the second)."""
    half = X.shape[0] // 2
    predicted = ridge_predict(X, np.arange(half), Y[:half], ridge)[half:]
    return float(1 - ((Y[half:] - predicted) ** 2).sum() / ((Y[half:] - Y[half:].mean(0)) ** 2).sum())


def probe_messages(encoder, T, leaves: torch.Tensor) -> np.ndarray:
    """``R2[b, i]``: how well a linear map of the hidden state after block ``b + 1`` at each leaf position
    predicts the upward BP message of that leaf's ancestor at depth ``L - 1 - i`` (held-out R^2)."""
    L = len(T)
    targets = guidance_targets(T, leaves, L)  # target i: the depth L - 1 - i ancestor's message
    with torch.no_grad():
        _, hidden = encoder(leaves, return_hidden=True)
    out = np.zeros((len(hidden), L))
    for b, h in enumerate(hidden):
        X = h.reshape(-1, h.shape[-1]).double().cpu().numpy()
        for i, target in enumerate(targets):
            out[b, i] = _r2(X, target.reshape(-1, target.shape[-1]).cpu().numpy())
    return out


@dataclasses.dataclass
class ProbeResult:
    """Held-out R^2 of linear probes, ``r2[arch]`` of shape ``(blocks, L)``, the same probes from the
    one-hot leaf at each position alone (``leaf_only``, what a position knows without attention), and
    the trained models' CLIP risk."""

    p: float
    depth: int
    r2: dict
    leaf_only: np.ndarray
    clip_risk: dict
    bayes: tuple


def probe_experiment(scale: str | None = None, seed: int = 0, device=None) -> ProbeResult:
    """Linear probes for the BP messages in untrained, CLIP-trained and BP-guided encoders."""
    protocol, dev = PROTOCOLS[resolve_scale(scale)], get_device(device)
    p = protocol.probe_p
    model = JGHM.paper(p=p, depth=protocol.depth)
    leaves = model.sample(max(protocol.n_eval // 4, 100), seed=EVAL_SEED + 1, device=dev).image
    one_hot = torch.nn.functional.one_hot(leaves, model.n_symbols).double()
    leaf_only = probe_messages(lambda x, return_hidden: (None, [one_hot]), model.image, leaves)[0]
    untrained = TreeEncoder(model.n_symbols, model.n_leaves("image"), d=protocol.d,
                            n_layers=protocol.clip_layers, n_heads=4).to(dev).eval()
    r2, risks = {"untrained": probe_messages(untrained, model.image, leaves)}, {}
    for arch in ("standard", "guided"):
        run = _clip_run(protocol, arch, p, seed, dev)
        r2[arch] = probe_messages(run.image_encoder.eval(), model.image, leaves)
        risk = evaluate_clip(run, model, n=protocol.n_eval)
        risks[arch] = (risk.mean, risk.se)
    bayes = bayes_risk(model, "clip", n=protocol.n_eval, seed=EVAL_SEED, device=dev)
    return ProbeResult(p=p, depth=protocol.depth, r2=r2, leaf_only=leaf_only, clip_risk=risks,
                       bayes=(bayes.mean, bayes.se))


def plot_probes(result: ProbeResult):
    from .viz import new_figure

    fig, axes = new_figure(ncols=len(result.r2), width=3.3 * len(result.r2), height=3.0)
    for ax, (arch, r2) in zip(axes, result.r2.items()):
        image = ax.imshow(r2.T, vmin=0, vmax=1, cmap="viridis", origin="lower", aspect="auto")
        for (b, i), value in np.ndenumerate(r2):
            ax.text(b, i, f"{value:.2f}", ha="center", va="center", fontsize=8,
                    color="k" if value > 0.6 else "w")
        ax.set(title=arch, xlabel="after block", ylabel="message of depth",
               xticks=range(r2.shape[0]), xticklabels=range(1, r2.shape[0] + 1),
               yticks=range(r2.shape[1]), yticklabels=[result.depth - 1 - i for i in range(r2.shape[1])])
    fig.colorbar(image, ax=axes, shrink=0.8, label="held-out R²")
    return fig


experiment("jghm_probe", plot=plot_probes)(probe_experiment)


# --- CLIP and zero-shot ---------------------------------------------------------------------------


@dataclasses.dataclass
class ClipResult:
    """CLIP and zero-shot risks (mean, se) of each architecture at each ``p``, with the Bayes risks,
    the training curves and the wall-clock seconds of every run; and the standard encoder's zero-shot
    risk against the number of prompts ``Ms`` at the middle ``p`` (``zsc_by_M``, fitted by ``a + b/M``)."""

    ps: np.ndarray
    depth: int
    steps: int
    M: int
    clip: dict  # arch -> (len(ps), 2)
    zsc: dict
    bayes_clip: np.ndarray
    bayes_zsc: np.ndarray
    history: dict  # arch -> (len(ps), steps)
    seconds: dict
    Ms: np.ndarray
    zsc_by_M: np.ndarray  # (len(Ms), 2)
    fit: tuple


def clip_experiment(scale: str | None = None, seed: int = 0, device=None) -> ClipResult:
    """CLIP and zero-shot risks of CLIP-trained transformers (standard, guided, shallow) against Bayes."""
    protocol, dev = PROTOCOLS[resolve_scale(scale)], get_device(device)
    clip, zsc, history, seconds = ({a: [] for a in ARCHITECTURES} for _ in range(4))
    bayes_clip, bayes_zsc = [], []
    for p in protocol.ps:
        model = JGHM.paper(p=p, depth=protocol.depth)
        for arch in ARCHITECTURES:
            run = _clip_run(protocol, arch, p, seed, dev)
            risk = evaluate_clip(run, model, n=protocol.n_eval)
            zero = evaluate_zero_shot(run.image_encoder, run.text_encoder, model, n=protocol.n_eval, M=protocol.M)
            clip[arch].append((risk.mean, risk.se))
            zsc[arch].append((zero.mean, zero.se))
            history[arch].append(run.history)
            seconds[arch].append(run.seconds)
        for task, out in (("clip", bayes_clip), ("zsc", bayes_zsc)):
            risk = bayes_risk(model, task, n=protocol.n_eval, seed=EVAL_SEED, device=dev)
            out.append((risk.mean, risk.se))
    p = protocol.ps[len(protocol.ps) // 2]
    run, model = _clip_run(protocol, "standard", p, seed, dev), JGHM.paper(p=p, depth=protocol.depth)
    by_M = [evaluate_zero_shot(run.image_encoder, run.text_encoder, model, n=protocol.n_eval, M=M)
            for M in protocol.Ms]
    by_M = np.array([(r.mean, r.se) for r in by_M])
    arrays = lambda d: {k: np.array(v) for k, v in d.items()}  # noqa: E731
    return ClipResult(ps=np.array(protocol.ps), depth=protocol.depth, steps=protocol.clip.steps, M=protocol.M,
                      clip=arrays(clip), zsc=arrays(zsc), bayes_clip=np.array(bayes_clip),
                      bayes_zsc=np.array(bayes_zsc), history=arrays(history), seconds=arrays(seconds),
                      Ms=np.array(protocol.Ms), zsc_by_M=by_M, fit=fit_inverse_m(protocol.Ms, by_M[:, 0]))


def plot_clip(result: ClipResult):
    from .viz import new_figure

    fig, axes = new_figure(ncols=3, width=13.0, height=3.2)
    i = len(result.ps) // 2
    for arch, curves in result.history.items():
        steps = np.arange(1, curves.shape[1] + 1)
        window = max(curves.shape[1] // 20, 1)
        smooth = np.convolve(curves[i], np.ones(window) / window, mode="valid")
        axes[0].plot(steps[window - 1:], smooth, label=arch)
    axes[0].axhline(result.bayes_clip[i, 0], color="k", ls="--", lw=1, label="Bayes")
    axes[0].set(xlabel="step", ylabel="training CLIP loss (moving mean)", title=f"p = {result.ps[i]}")
    axes[0].legend(fontsize=8)
    width = 0.8 / (len(result.clip) + 1)
    for k, (arch, values) in enumerate(list(result.clip.items()) + [("Bayes", result.bayes_clip)]):
        axes[1].bar(np.arange(len(result.ps)) + k * width, values[:, 0], width, yerr=2 * values[:, 1], label=arch)
    axes[1].set(xticks=np.arange(len(result.ps)) + 0.4 - width / 2, xticklabels=[f"p = {p}" for p in result.ps],
                ylabel="held-out CLIP risk")
    axes[1].legend(fontsize=8)
    a, b = result.fit
    axes[2].errorbar(result.Ms, result.zsc_by_M[:, 0], yerr=2 * result.zsc_by_M[:, 1], fmt="o", ms=4, capsize=2,
                     label="standard encoder")
    grid = np.geomspace(result.Ms[0], result.Ms[-1], 100)
    axes[2].plot(grid, a + b / grid, lw=1, label=f"fit {a:.3f} + {b:.2f}/M")
    axes[2].axhline(result.bayes_zsc[i, 0], color="k", ls="--", lw=1, label="Bayes")
    axes[2].set(xscale="log", xlabel="prompts per class M", ylabel="zero-shot cross-entropy")
    axes[2].legend(fontsize=8)
    return fig


experiment("jghm_clip", plot=plot_clip)(clip_experiment)


# --- downstream -----------------------------------------------------------------------------------


@dataclasses.dataclass
class DownstreamResult:
    """Denoising (``cdm``) and next-token (``vlm``) risks, ``risk[task][variant]`` of shape
    ``(len(ood_ps), 2)`` on data at each ``ood_ps`` for models trained at ``p``; variants are
    ``frozen`` (the CLIP embedding), ``joint`` (raw tokens), ``bayes`` and ``misspecified`` BP."""

    p: float
    ood_ps: np.ndarray
    depth: int
    risk: dict
    seconds: dict


def downstream_experiment(scale: str | None = None, seed: int = 0, device=None) -> DownstreamResult:
    """Denoising and next-token prediction from a frozen CLIP embedding vs joint training, in and out of distribution."""
    protocol, dev = PROTOCOLS[resolve_scale(scale)], get_device(device)
    p = protocol.train_p
    model = JGHM.paper(p=p, depth=protocol.depth)
    encoders = _clip_run(protocol, "standard", p, seed, dev)
    net = dict(d=protocol.down_d, n_layers=protocol.down_layers, n_heads=4)
    runs, seconds = {}, {}
    for variant, frozen in (("frozen", True), ("joint", False)):
        ck = lambda task: _checkpoint(protocol, f"{task}-{variant}-p{p}", seed)  # noqa: E731
        runs["cdm", variant] = train_denoiser(model, dataclasses.replace(protocol.down, seed=seed, checkpoint=ck("cdm")),
                                              text_encoder=encoders.text_encoder if frozen else None, device=dev, **net)
        runs["vlm", variant] = train_next_token(model, dataclasses.replace(protocol.down, seed=seed,
                                                                           checkpoint=ck("vlm")),
                                                image_encoder=encoders.image_encoder if frozen else None,
                                                device=dev, **net)
        seconds["cdm", variant], seconds["vlm", variant] = runs["cdm", variant].seconds, runs["vlm", variant].seconds
    evaluate = {"cdm": evaluate_denoiser, "vlm": evaluate_next_token}
    risk = {task: {v: [] for v in ("frozen", "joint", "bayes", "misspecified")} for task in evaluate}
    for q in protocol.ood_ps:
        data = JGHM.paper(p=q, depth=protocol.depth)
        n = protocol.n_eval
        for task in evaluate:
            for variant in ("frozen", "joint"):
                r = evaluate[task](runs[task, variant], data, n=n)
                risk[task][variant].append((r.mean, r.se))
            for variant, bp_model in (("bayes", None), ("misspecified", model)):
                r = bayes_risk(data, task, n=n, seed=EVAL_SEED, bp_model=bp_model, device=dev)
                risk[task][variant].append((r.mean, r.se))
    risk = {task: {v: np.array(values) for v, values in by.items()} for task, by in risk.items()}
    return DownstreamResult(p=p, ood_ps=np.array(protocol.ood_ps), depth=protocol.depth, risk=risk,
                            seconds={f"{t}-{v}": s for (t, v), s in seconds.items()})


def plot_downstream(result: DownstreamResult):
    from .viz import new_figure

    fig, axes = new_figure(ncols=2, width=9.5, height=3.2)
    titles = {"cdm": "denoising (sum over leaves)", "vlm": "next token (per token)"}
    styles = {"frozen": "-o", "joint": "-s", "bayes": "--k", "misspecified": ":k"}
    labels = {"frozen": "frozen CLIP embedding", "joint": "joint training", "bayes": "Bayes",
              "misspecified": f"BP with p = {result.p} matrices"}
    for ax, (task, by) in zip(axes, result.risk.items()):
        for variant, values in by.items():
            ax.errorbar(result.ood_ps, values[:, 0], yerr=2 * values[:, 1], fmt=styles[variant], ms=4, capsize=2,
                        label=labels[variant])
        ax.axvline(result.p, color="0.7", lw=0.8)
        ax.set(title=titles[task], xlabel="test flip probability p'", ylabel="risk")
    axes[0].legend(fontsize=7)
    return fig


experiment("jghm_downstream", plot=plot_downstream)(downstream_experiment)


def draw_ood_state(fig, result: DownstreamResult, test_p: float) -> None:
    """Denoising and next-token risks at one test flip probability: both trained models beside Bayes and
    BP run with the training matrices."""
    i = int(np.argmin(np.abs(result.ood_ps - test_p)))
    axes = fig.subplots(1, 2)
    names = ("frozen", "joint", "misspecified", "bayes")
    labels = ("frozen CLIP\nembedding", "joint\ntraining", f"BP with\np = {result.p}", "Bayes")
    colors = ("tab:blue", "tab:orange", "0.55", "k")
    for ax, (task, by) in zip(axes, result.risk.items()):
        values = np.array([by[name][i] for name in names])
        ax.bar(range(4), values[:, 0], yerr=2 * values[:, 1], color=colors, capsize=3)
        ax.set_xticks(range(4), labels, fontsize=7)
        top = max(by[name][:, 0].max() for name in names)
        ax.set(ylim=(0, 1.1 * top), title=f"{'denoising' if task == 'cdm' else 'next token'}, test p' = "
               f"{result.ood_ps[i]} (trained at {result.p})")
