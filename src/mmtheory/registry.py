"""The experiments that the command line can run.

An experiment is one function ``run(scale, seed, device) -> result`` (a
dataclass of arrays) and one function ``plot(result) -> Figure``. Theory modules
register theirs with :func:`experiment`; :func:`run_experiment` runs one and
writes ``NAME.json`` (the result and how it was made) and ``NAME.png``.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import platform
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .checks import Device, Integer, Scale, constrain
from .io import save_figure, write_json
from .runtime import get_device, resolve_scale, seed_everything

# The parts whose ``experiments`` modules register experiments when imported: one entry per subpackage.
EXPERIMENT_MODULES = tuple(f"mmtheory.{part}.experiments" for part in ("sufficiency", "jghm", "contexture", "icl",
                                                                         "neighbours"))


@dataclasses.dataclass(frozen=True)
class Experiment:
    name: str
    run: Callable[..., Any]
    plot: Callable[[Any], Any]
    summary: str
    part: str  # the subpackage that holds it: sufficiency, jghm, contexture, icl or neighbours


_REGISTRY: dict[str, Experiment] = {}

# What every experiment accepts (the runtime's own checks and messages); see :func:`experiment`.
EXPERIMENT_CONSTRAINTS = {"scale": Scale(none_ok=True), "seed": Integer(0, 2**32 - 1), "device": Device()}


def experiment(plot: Callable[[Any], Any]):
    """Decorator: register ``run`` under its own name (the id the command line uses), with ``plot`` to draw its result.

    The registered (and returned) function checks ``scale``, ``seed`` and ``device`` before it runs.
    """

    def register(run: Callable[..., Any]) -> Callable[..., Any]:
        name = run.__name__
        if name in _REGISTRY and _REGISTRY[name].run.__wrapped__ is not run:
            raise ValueError(f"experiment name {name!r} is registered twice")
        run = constrain(**EXPERIMENT_CONSTRAINTS)(run)
        summary = (run.__doc__ or "").strip().splitlines()[0] if run.__doc__ else ""
        part = run.__module__.split(".")[1]
        _REGISTRY[name] = Experiment(name=name, run=run, plot=plot, summary=summary, part=part)
        return run

    return register


def experiments() -> dict[str, Experiment]:
    """All registered experiments, by name."""
    for module in EXPERIMENT_MODULES:
        importlib.import_module(module)
    return dict(sorted(_REGISTRY.items()))


def get_experiment(name: str) -> Experiment:
    known = experiments()
    if name not in known:
        raise ValueError(f"experiment must be one of {sorted(known)}, got {name!r}")
    return known[name]


COMMIT_ENV = "MMTHEORY_COMMIT"


def provenance(device) -> dict:
    """Where and when a result was made: the date, the git commit of this checkout (outside one, a copy of the
    tree without ``.git``: ``$MMTHEORY_COMMIT``, else ``None``), the device's name, torch's version and CPU
    threads."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, text=True,
                                capture_output=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    commit = commit or os.environ.get(COMMIT_ENV, "").strip() or None
    device = torch.device(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    return {"date": time.strftime("%Y-%m-%d"), "commit": commit, "device_name": name, "torch": torch.__version__,
            "threads": torch.get_num_threads()}


def write_record(out: Path, name: str, scale: str, seed: int, device, seconds: float, result) -> Path:
    """Write ``out/NAME.json``: the result with how it was made (scale, seed, device, version, wall time and
    :func:`provenance`). Every stored run has this one shape, which the chapters read."""
    record = {"experiment": name, "scale": scale, "seed": seed, "device": str(device),
              "mmtheory_version": __version__, "seconds": round(seconds, 3), **provenance(device), "result": result}
    return write_json(Path(out) / f"{name}.json", record)


def run_experiment(
    name: str,
    scale: str | None = None,
    seed: int = 0,
    device: str | None = None,
    out: str | Path | None = None,
) -> tuple[Any, dict[str, Path]]:
    """Run experiment ``name``; if ``out`` is given, write ``out/NAME.json`` and ``out/NAME.png``."""
    exp = get_experiment(name)
    scale = resolve_scale(scale)
    dev = get_device(device)
    seed_everything(seed)
    start = time.perf_counter()
    result = exp.run(scale=scale, seed=seed, device=dev)
    seconds = time.perf_counter() - start
    paths: dict[str, Path] = {}
    if out is not None:
        out = Path(out)
        paths["json"] = write_record(out, name, scale, seed, dev, seconds, result)
        fig = exp.plot(result)
        paths["figure"] = save_figure(fig, out / f"{name}.png", dpi=120)
        import matplotlib.pyplot as plt

        plt.close(fig)
    return result, paths
