"""Writing results so that an interrupted run never leaves a half-written file.

Every file the library writes (JSON results, figures, checkpoints) goes through
:func:`atomic_path`: the content is written to a temporary file in the same
folder and moved into place with :func:`os.replace`, which is atomic on POSIX
and Windows. A reader therefore sees either the old file or the new one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path; on normal exit move it onto ``path`` atomically.

    If the body raises, the temporary file is removed and ``path`` is left as it was.
    The parent folder is created if needed.

    >>> with atomic_path("out/result.json") as tmp:      # doctest: +SKIP
    ...     tmp.write_text("{}")
    """
    target = Path(path)
    if target.exists() and target.is_dir():
        raise ValueError(f"path must name a file, got the folder {str(target)!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def to_jsonable(obj: Any) -> Any:
    """Turn dataclasses, NumPy/torch arrays and scalars into plain JSON values.

    Non-finite floats become the strings ``"nan"``, ``"inf"``, ``"-inf"``, so that
    the file stays valid JSON.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if hasattr(obj, "detach") and hasattr(obj, "cpu"):  # a torch tensor
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot write an object of type {type(obj).__name__} as JSON")


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` (converted by :func:`to_jsonable`) as indented JSON, atomically."""
    text = json.dumps(to_jsonable(obj), indent=2, allow_nan=False)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    return Path(path)


def save_figure(fig, path: str | os.PathLike, **kwargs) -> Path:
    """Save a matplotlib figure atomically; the format follows the file's suffix."""
    path = Path(path)
    kwargs.setdefault("format", path.suffix.lstrip(".") or "png")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, **kwargs)
    return path


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Save a training state (model and optimiser ``state_dict``s, step, RNG states) atomically."""
    import torch

    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict, got {type(state).__name__}")
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def load_checkpoint(path: str | os.PathLike) -> dict | None:
    """Load a state saved by :func:`save_checkpoint`, or return ``None`` if there is none yet."""
    import torch

    path = Path(path)
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)
