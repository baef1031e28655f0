"""Where and how big: device choice, seeding, the run scale, progress bars.

Every experiment in the book runs at one of three **scales**:

========  ==========================================  ==============================
scale     where                                       budget
========  ==========================================  ==============================
quick     the unit tests                              seconds
book      the book build, a reader's CPU (default)    2-3 minutes a chapter, 2 cores
full      the papers' sizes                           a GPU; minutes to an hour
========  ==========================================  ==============================

The scale is an argument everywhere; when it is omitted it is read from the
environment variable ``MMTHEORY_SCALE`` (default ``book``), so one variable
re-runs the whole book at paper scale.

A fourth size, ``gpu``, belongs to the experiments of the GPU suite (:mod:`mmtheory.suite`) alone: the
largest version of each that fits its share of one short GPU window. It is asked for by argument only
(``scale="gpu"``, ``--scale gpu``), and a settings class gives it as its ``GPU`` attribute.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Iterator
from typing import ClassVar, TypeVar

import numpy as np
import torch
from tqdm.auto import tqdm

SCALES = ("quick", "book", "full")
GPU_SCALE = "gpu"  # the GPU suite's size (see the module docstring); by argument only
SCALE_ENV = "MMTHEORY_SCALE"
DEVICE_ENV = "MMTHEORY_DEVICE"
PROGRESS_ENV = "MMTHEORY_PROGRESS"
DEFAULT_SCALE = "book"

T = TypeVar("T")


def resolve_scale(scale: str | None = None) -> str:
    """Return the run scale: ``scale`` if given, else ``$MMTHEORY_SCALE``, else ``"book"``.

    Raises ``ValueError`` naming the argument (or the variable) for any value
    outside ``quick``, ``book``, ``full`` (and ``gpu``, accepted as an argument).
    """
    if scale is None:
        env = os.environ.get(SCALE_ENV, "").strip()
        if not env:
            return DEFAULT_SCALE
        if env not in SCALES:
            raise ValueError(f"environment variable {SCALE_ENV} must be one of {SCALES}, got {env!r}")
        return env
    if scale not in (*SCALES, GPU_SCALE):
        raise ValueError(f"scale must be one of {(*SCALES, GPU_SCALE)}, got {scale!r}")
    return scale


class ScaleSettings:
    """Base of the frozen dataclasses that hold an experiment's (or a chapter's) settings, one instance per scale.

    A subclass sets ``SCALES`` (scale -> instance) right after its definition; :meth:`for_scale` reads it, so
    every experiment gets its settings the same way: ``WidthSweepSettings.for_scale(scale)``.
    """

    SCALES: ClassVar[dict]
    GPU: ClassVar = None  # the GPU suite's size of an experiment that the suite runs

    @classmethod
    def for_scale(cls, scale: str | None = None):
        """The settings at ``scale`` (default: ``$MMTHEORY_SCALE``, else ``book``); ``gpu`` gives ``GPU``."""
        scale = resolve_scale(scale)
        if scale != GPU_SCALE:
            return cls.SCALES[scale]
        if cls.GPU is None:
            raise ValueError(f"scale 'gpu' is the GPU suite's size, and {cls.__name__} has none: use one of {SCALES}")
        return cls.GPU


def get_device(device: str | torch.device | None = None) -> torch.device:
    """Return the torch device to compute on.

    ``None`` means ``$MMTHEORY_DEVICE`` if set, else ``cuda`` when a GPU is
    available, else ``cpu``. Asking for ``cuda`` on a machine without one is an
    error, not a silent fall-back.
    """
    if device is None:
        device = os.environ.get(DEVICE_ENV, "").strip() or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}") from err
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} was asked for, but torch sees no CUDA GPU on this machine")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device index must be below {torch.cuda.device_count()} (the GPUs torch sees), got {device!r}"
            )
    return dev


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and torch (CPU and every GPU); return a fresh NumPy generator.

    On the CPU the same seed gives the same numbers run after run. GPU kernels
    may still differ in the last bits between runs and machines.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return np.random.default_rng(seed)


def progress_enabled() -> bool:
    """Progress bars are on unless ``$MMTHEORY_PROGRESS`` is ``0``/``false``/``off``.

    The book build turns them off, so that pages show results, not bars.
    """
    return os.environ.get(PROGRESS_ENV, "1").strip().lower() not in ("0", "false", "off", "no")


def progress(iterable: Iterable[T], desc: str | None = None, total: int | None = None, **kwargs) -> Iterator[T]:
    """Wrap a long loop in a tqdm progress bar (a widget in notebooks, text in a terminal).

    Bars appear only after two seconds, so short loops stay quiet.
    """
    kwargs.setdefault("delay", 2.0)
    kwargs.setdefault("disable", not progress_enabled())
    return tqdm(iterable, desc=desc, total=total, **kwargs)
