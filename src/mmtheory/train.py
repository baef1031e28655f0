"""One training loop for the whole library.

Every trainer in :mod:`mmtheory` (the JGHM transformers, the in-context learners, the contexture tables and
encoders, the InfoNCE score tables) hands :func:`train` what it trains and a per-step loss; the loop owns the
rest. One step is

1. ``loss(step)``: draw a batch (or take the full one) and return the value to minimise;
2. clear the gradients, back-propagate, clip the gradient norm, take an AdamW step, step the cosine schedule;
   on a GPU the AdamW step is torch's fused kernel, and ``autocast=True`` runs the loss in bfloat16 autocast;
3. at a recorded step, copy the losses off the device (one transfer per ``record_every`` steps), check that
   they are finite and run ``callback`` (an evaluation); at a checkpoint step, save the whole state.

On the CPU a run is deterministic, and a run resumed from its checkpoint ends with exactly the parameters and
loss records of an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence

import numpy as np
import torch

from .checks import Integer, OneOf, check_integer, check_positive, constrain
from .io import load_checkpoint, save_checkpoint
from .runtime import progress


@dataclasses.dataclass(frozen=True)
class Optimisation:
    """``steps`` AdamW steps (betas (0.9, 0.999), eps 1e-8) of size ``lr``, decayed along a cosine to ``lr_min``
    over the run when ``cosine`` (else constant; no warm-up), with decoupled ``weight_decay`` and the gradient
    norm clipped to ``clip_norm`` (``None``: not clipped). With ``weight_decay = 0`` AdamW *is* Adam, bit for
    bit: torch skips the decay."""

    steps: int
    lr: float
    lr_min: float = 0.0
    cosine: bool = True
    weight_decay: float = 0.0
    clip_norm: float | None = None

    def __post_init__(self):
        check_integer(self.steps, "steps", 1)
        check_positive(self.lr, "lr", "the learning rate")
        check_positive(self.lr_min, "lr_min", allow_zero=True)
        if self.lr_min > self.lr:
            raise ValueError(f"lr_min must be <= lr = {self.lr}, got {self.lr_min!r}")
        if not isinstance(self.cosine, bool):
            raise ValueError(f"cosine must be True or False, got {self.cosine!r}")
        check_positive(self.weight_decay, "weight_decay", allow_zero=True)
        if self.clip_norm is not None:
            check_positive(self.clip_norm, "clip_norm", "or None for no clipping")


def _parameters(trained) -> list[tuple[str, torch.Tensor]]:
    """The named trainable tensors: each module's parameters that require a gradient, and the leaf tensors."""
    named = []
    for i, item in enumerate(trained):
        pairs = item.named_parameters() if isinstance(item, torch.nn.Module) else [("tensor", item)]
        named += [(f"{i}.{name}", p) for name, p in pairs if p.requires_grad]
    return named


def _check(trained, loss, settings, desc, record_every, callback, generator, checkpoint, checkpoint_every):
    def trainable(item) -> bool:
        return isinstance(item, torch.nn.Module) or (isinstance(item, torch.Tensor) and item.is_leaf
                                                     and item.requires_grad)

    if not isinstance(trained, (list, tuple)) or not trained or not all(map(trainable, trained)):
        kinds = [type(t).__name__ for t in trained] if isinstance(trained, (list, tuple)) else type(trained).__name__
        raise ValueError(f"trained must be a non-empty list of torch modules and of leaf tensors that require a "
                         f"gradient, got {kinds}")
    if not _parameters(trained):
        raise ValueError("trained has no parameter that requires a gradient")
    if not callable(loss):
        raise ValueError(f"loss must be a callable loss(step) -> scalar tensor, got {loss!r}")
    if not isinstance(settings, Optimisation):
        raise ValueError(f"settings must be an Optimisation, got {type(settings).__name__}")
    if not isinstance(desc, str):
        raise ValueError(f"desc must be a string, got {desc!r}")
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be a callable callback(step) or None, got {callback!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None, got {generator!r}")
    if checkpoint is not None and not isinstance(checkpoint, (str, os.PathLike)):
        raise ValueError(f"checkpoint must be a path or None, got {checkpoint!r}")


@constrain(record_every=Integer(1, none_ok=True), checkpoint_every=Integer(1, none_ok=True),
           autocast=OneOf(True, False))
def train(trained: Sequence[torch.nn.Module | torch.Tensor], loss: Callable[[int], torch.Tensor],
          settings: Optimisation, *, desc: str = "training", record_every: int | None = None,
          callback: Callable[[int], None] | None = None, generator: torch.Generator | None = None,
          checkpoint: str | os.PathLike | None = None, checkpoint_every: int | None = None,
          identity=None, autocast: bool = False) -> np.ndarray:
    """Train the modules and leaf tensors in ``trained`` in place; return the loss of every step (float64,
    ``(settings.steps,)``, resumed steps included; ``(settings.steps, E)`` when a step records ``E`` values).

    ``loss(step)`` (``step`` counts from 0) returns the scalar to minimise, or a pair ``(objective, recorded)``
    when the value to record is not the one minimised (a penalty added, or an ensemble's sum minimised and its
    ``E`` members' losses recorded). Losses are copied off the device every
    ``record_every`` steps (default: once, at the end) and must be finite, else ``FloatingPointError``.
    ``callback(done)`` runs with ``done`` updates made, before the next: at ``done = 0`` (not on a resumed run),
    at every multiple of ``record_every`` and at ``done = settings.steps``.

    With a ``checkpoint`` path the whole state (parameters, optimiser, schedule, the state of ``generator``, the
    losses) is saved every ``checkpoint_every`` steps and at the end, and a later call resumes from it. It is
    resumed only by a run with the same ``desc``, ``identity`` (anything else the run depends on, comparable
    with ``==``), settings and parameter shapes; another raises ``ValueError``. Module modes (``train()``,
    ``eval()``) are left as they are.

    On a GPU, AdamW runs as one fused kernel, and ``autocast=True`` computes ``loss`` under bfloat16 autocast
    (float64 operations are never cast; reductions such as softmax stay float32). On the CPU both are off, so
    CPU runs are unchanged by them.
    """
    _check(trained, loss, settings, desc, record_every, callback, generator, checkpoint, checkpoint_every)
    steps, every = settings.steps, record_every or settings.steps
    named = _parameters(trained)
    params = [p for _, p in named]
    on_gpu = all(p.is_cuda and p.is_floating_point() for p in params)
    optimizer = torch.optim.AdamW(params, lr=settings.lr, betas=(0.9, 0.999), eps=1e-8,
                                  weight_decay=settings.weight_decay, fused=on_gpu or None)
    schedule = None
    if settings.cosine:
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=settings.lr_min)
    signature = {"desc": desc, "run": identity, "settings": dataclasses.asdict(settings),  # a checkpoint's match
                 "parameters": {name: tuple(p.shape) for name, p in named}}

    history: list[float] = []
    start = 0
    state = None if checkpoint is None else load_checkpoint(checkpoint)
    if state is not None:
        if state["identity"] != signature:
            raise ValueError(f"checkpoint {str(checkpoint)!r} belongs to another run (other model, settings or "
                             "task): delete it or choose another path")
        with torch.no_grad():
            for item, saved in zip(trained, state["trained"]):
                if isinstance(item, torch.nn.Module):
                    item.load_state_dict(saved)
                else:
                    item.copy_(saved)
        optimizer.load_state_dict(state["optimizer"])
        if schedule is not None:
            schedule.load_state_dict(state["schedule"])
        if generator is not None:
            generator.set_state(state["generator"])
        history, start = list(state["history"]), state["step"]

    pending: list[torch.Tensor] = []  # losses still on the device

    def flush(done: int):
        if pending:
            values = torch.stack(pending).double().cpu().tolist()
            pending.clear()
            if not np.all(np.isfinite(values)):
                raise FloatingPointError(f"{desc}: the training loss is not finite by step {done}")
            history.extend(values)

    if callback is not None and start == 0:
        callback(0)
    bar = progress(range(start, steps), desc=desc, total=steps, initial=start)
    for step in bar:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast and on_gpu):
            value = loss(step)
        objective, recorded = value if isinstance(value, tuple) else (value, value)
        optimizer.zero_grad(set_to_none=True)
        objective.backward()
        if settings.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, settings.clip_norm)
        optimizer.step()
        if schedule is not None:
            schedule.step()
        pending.append(recorded.detach())
        done = step + 1
        if done % every == 0 or done == steps:
            flush(done)
            bar.set_postfix(loss=f"{np.mean(history[-1]):.4f}", refresh=False)
            if callback is not None:
                callback(done)
        if checkpoint is not None and (done % (checkpoint_every or steps) == 0 or done == steps):
            flush(done)
            save_checkpoint(checkpoint, {
                "identity": signature, "step": done, "history": history,
                "trained": [t.state_dict() if isinstance(t, torch.nn.Module) else t.detach().clone() for t in trained],
                "optimizer": optimizer.state_dict(), "schedule": None if schedule is None else schedule.state_dict(),
                "generator": None if generator is None else generator.get_state(),
            })
    return np.asarray(history, dtype=float)
