"""The GPU suite: every GPU experiment of the book, at the largest size that fits one short GPU window.

GPU time for this project comes in rare windows of about eight minutes on one H200. One command uses a
window::

    python -m mmtheory gpu-suite --out book/stored/gpu

It runs the pieces of :data:`PIECES` in order, each experiment at scale ``gpu`` (the ``GPU`` size of its
settings class), and writes each piece's ``NAME.json`` (the result with its device, date, commit and wall
time) and ``NAME.png`` **as soon as that piece finishes**, so a window cut short still leaves results. A
piece whose file is already there (at the same scale) is not run again: the next window continues with what
is missing (``--redo`` runs everything again). Before each piece the suite compares the piece's estimated time
with what is left of ``--budget`` (default 480 s, counted from the suite's start, CUDA start-up included)
and skips the piece, saying so, when it does not fit. A failing piece is recorded and the suite goes on.
``suite.json`` in the same folder logs every piece's status and time, window after window.
On a machine that has a copy of the tree without ``.git``, set ``MMTHEORY_COMMIT`` to the commit it holds.

What makes the pieces fit: the data are drawn on the GPU, the JGHM transformers train under bfloat16
autocast, AdamW is torch's fused kernel (both in :func:`mmtheory.train.train`), the seeds of the contexture
width sweep train as one batched model (:func:`mmtheory.contexture.train_encoders`), and one process runs
all the JGHM pieces, so the CLIP encoders trained for ``jghm_clip`` are reused by ``jghm_probe`` and
``jghm_downstream``. ``torch.compile`` is not used: compiling each model costs tens of seconds of a window
that the measured step times below do not need.

Each piece's ``estimate`` (seconds on one H200) comes from CPU measurements of its ``gpu`` size on two
threads, in :data:`ESTIMATE_MODEL` (the per-piece numbers are in each piece's ``basis``). They are
estimates, stated before any GPU existed; ``suite.json`` records the measured times to replace them.
``--scale quick`` runs the same pieces at their quick sizes on any machine: the tests run the whole suite so.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from .checks import Device, OneOf, Positive, constrain
from .io import write_json
from .registry import provenance, run_experiment, write_record
from .runtime import GPU_SCALE, get_device

BUDGET = 480.0  # seconds of one window: eight minutes, start-up included
ESTIMATE_MODEL = (
    "a step's floating-point work W comes from its measured time on two CPU threads (which ran these models at "
    "about 90 GFLOP/s); on one H200 the step takes max(W / R, floor), with R = 100 TFLOP/s under bfloat16 "
    "autocast (the JGHM transformers) and 25 TFLOP/s in float32 (the rest), and a floor of about 8 us per "
    "kernel launch: 5 ms a step of a 5-block transformer, 1.5 ms a step of a batched MLP ensemble")
ROOT = Path(__file__).resolve().parents[2]  # the repository, where benchmarks/ lives
THROUGHPUT = ROOT / "benchmarks" / "jghm_throughput.py"


@dataclasses.dataclass(frozen=True)
class Piece:
    """One piece of the suite: an experiment run at scale ``gpu`` (or the BP throughput benchmark), with its
    estimated seconds on one H200 and what the estimate rests on."""

    name: str
    estimate: float
    basis: str


PIECES = (  # in order of priority: a window cut short keeps the first ones
    Piece("jghm_throughput", 20, "the CPU sides took 9 s at --rounds 1 on two threads; the CUDA side and the "
                                 "start of the process add a few seconds"),
    Piece("jghm_clip", 70, "3,000 steps of each of 3 encoders: 2.9 s (standard) and 3.1 s (guided) a step on "
                           "two CPU threads, 0.27 TFLOP -> 5 and 7 ms, the one-block encoder 2 ms: 42 s; "
                           "evaluation at K = 4 and M = 250, and Bayes, 20 s"),
    Piece("contexture_width_sweep", 70, "8 ensembles of 15 seeds x 3,000 steps: width 1024, depth 2 at 0.19 TFLOP "
                                        "a step -> 8 ms, 24 s; the 7 others at the 1.5 ms floor, 32 s; "
                                        "quadrature and alignment of 120 encoders, 10 s"),
    Piece("icl_softmax_baseline", 60, "2,000 steps at L = 200: 5.3 s a step on two CPU threads, 0.45 TFLOP -> "
                                      "18 ms, 36 s; at L = 50 5 ms, 10 s; the stacks 8 s; evaluation 5 s"),
    Piece("single_index_dimension", 80, "one (d, seed) of the full sweep took 6 s at d = 64 on two idle CPU threads, "
                                        "half in drawing prompts, a sixth in batched eigh; 25 of them at d = 16 "
                                        "to 256, the eigh calls of the baselines (500 prompts, 9 lengths) looped "
                                        "on the GPU at about 1 ms each: 60 s, drawing and solving 20 s"),
    Piece("single_index_rank", 45, "25 (r, seed) at d = 64: the same eigh calls, 35 s; the rest 10 s"),
    Piece("jghm_probe", 10, "reuses jghm_clip's two encoders (p = 0.2): probes and Bayes only"),
    Piece("jghm_downstream", 65, "4 transformers x 1,000 steps: 2.6 s a step on two CPU threads, 9 blocks -> "
                                 "8 ms floor, 32 s; evaluation at 5 flip probabilities, 30 s"),
    Piece("icl_finite_context", 35, "6 stacks (depth 1 to 32) x 1,500 steps at L = 200: 28 ms a step for all six "
                                    "on the CPU, launch-bound on the GPU at about 16 ms, 24 s; evaluation 10 s"),
)
WARM_UP = 15.0  # CUDA start-up, counted in the budget


def piece_names() -> tuple[str, ...]:
    return tuple(piece.name for piece in PIECES)


def _throughput(scale: str, device: torch.device, out: Path) -> dict:
    """Run ``benchmarks/jghm_throughput.py`` (on the CPU and, with a GPU, on CUDA) and store its numbers."""
    if not THROUGHPUT.exists():
        raise FileNotFoundError(f"{THROUGHPUT} is not here: run the suite from a checkout of the repository")
    size = ["--n", "300", "--repeats", "1", "--rounds", "1"] if scale == "quick" else ["--rounds", "1"]
    devices = ["--device", "cpu"] + (["--device", "cuda"] if device.type == "cuda" else [])
    with tempfile.TemporaryDirectory() as tmp:
        numbers = Path(tmp) / "numbers.json"
        subprocess.run([sys.executable, str(THROUGHPUT), "--threads", "2", *size, *devices, "--json", str(numbers)],
                       check=True, capture_output=True, text=True, cwd=ROOT)
        return json.loads(numbers.read_text())


def _run_piece(piece: Piece, scale: str, device: torch.device, out: Path, seed: int) -> None:
    if piece.name != "jghm_throughput":
        run_experiment(piece.name, scale=scale, seed=seed, device=str(device), out=out)
        return
    start = time.perf_counter()
    result = _throughput(scale, device, out)
    write_record(out, piece.name, scale, seed, device, time.perf_counter() - start, result)


def _stored_scale(path: Path) -> str | None:
    try:
        return json.loads(path.read_text()).get("scale")
    except (OSError, ValueError):
        return None


@constrain(scale=OneOf("quick", GPU_SCALE), device=Device(), budget=Positive())
def run_suite(out: str | Path = "book/stored/gpu", scale: str = GPU_SCALE, device=None, budget: float = BUDGET,
              redo: bool = False, only=None, seed: int = 0) -> dict:
    """Run the suite's pieces (``only``: a subset of :func:`piece_names`) into folder ``out``; return the log.

    Each piece's files are written when it finishes; a piece already stored at ``scale`` is kept unless
    ``redo``; at scale ``gpu`` a piece whose estimate exceeds what is left of ``budget`` seconds is skipped.
    The log (also written to ``out/suite.json``, appended window after window) has one entry per piece:
    ``status`` (``done``, ``stored``, ``skipped`` or ``failed``), ``seconds`` and ``estimate``.
    """
    names = piece_names() if only is None else tuple(only)
    unknown = sorted(set(names) - set(piece_names()))
    if unknown:
        raise ValueError(f"only must name pieces among {piece_names()}, got {unknown}")
    start, out, dev = time.perf_counter(), Path(out), get_device(device)
    window = time.strftime("%Y-%m-%dT%H:%M:%S")
    if dev.type == "cuda":
        torch.ones(1, device=dev).sum().item()  # start CUDA now: its seconds count against the budget
    entries = {}
    for piece in (p for p in PIECES if p.name in names):
        entry = {"estimate": piece.estimate}
        left = budget - (time.perf_counter() - start)
        if not redo and _stored_scale(out / f"{piece.name}.json") == scale:
            entry["status"] = "stored"
        elif scale == GPU_SCALE and piece.estimate > left:
            entry["status"] = f"skipped: needs about {piece.estimate:.0f} s, {max(left, 0):.0f} s left"
        else:
            began = time.perf_counter()
            try:
                _run_piece(piece, scale, dev, out, seed)
                entry["status"] = "done"
            except Exception as err:  # one failing piece must not cost the window the others
                entry["status"] = f"failed: {type(err).__name__}: {err}"
            entry["seconds"] = round(time.perf_counter() - began, 1)
        entries[piece.name] = entry
        print(f"{piece.name:24s} {entry['status']}" + (f" ({entry['seconds']} s)" if "seconds" in entry else ""),
              flush=True)
        _log(out, window, scale, dev, start, entries)
    return entries


def _log(out: Path, window: str, scale: str, device: torch.device, start: float, entries: dict) -> None:
    """Write ``out/suite.json``: the windows so far, this one last (replaced as its pieces finish)."""
    path = out / "suite.json"
    try:
        windows = json.loads(path.read_text())["windows"]
    except (OSError, ValueError, KeyError):
        windows = []
    record = {"started": window, "scale": scale, "device": str(device), **provenance(device),
              "seconds": round(time.perf_counter() - start, 1), "pieces": entries}
    if windows and windows[-1].get("started") == window:
        windows[-1] = record
    else:
        windows.append(record)
    write_json(path, {"windows": windows})


# --- the stored results in the chapters ---------------------------------------------------------------------


STORED = "../stored/gpu"  # the suite's folder, seen from a chapter (chapters run in their own folder)


def stored_record(name: str, folder: str | Path = STORED) -> dict | None:
    """The stored record of piece ``name`` in ``folder``, or ``None`` when the suite has not stored it yet."""
    if name not in piece_names():
        raise ValueError(f"name must be one of the suite's pieces {piece_names()}, got {name!r}")
    path = Path(folder) / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def describe_stored(name: str, folder: str | Path = STORED) -> str:
    """One Markdown paragraph on piece ``name``: where, when and how long its stored result was made (device,
    date, commit, wall time, scale), the benchmark's table for the throughput piece, or that none exists yet."""
    return _describe(name, stored_record(name, folder))


def _describe(name: str, record: dict | None) -> str:
    if record is None:
        return (f"**No GPU result of `{name}` is stored yet.** No GPU window has run it: `python -m mmtheory "
                f"gpu-suite --out book/stored/gpu` on a machine with a GPU stores it here.")
    text = (f"**Stored GPU-suite result of `{name}`**: {record['device_name']} (`{record['device']}`), "
            f"{record['date']}, commit `{record['commit']}`, {record['seconds']:.0f} s wall time, "
            f"scale `{record['scale']}`.")
    if name == "jghm_throughput":
        rows = record["result"]["rows"]
        text += ("\n\n| task | device | library per s | official per s | ratio |\n|---|---|---|---|---|\n"
                 + "\n".join(f"| {r['task']} | {r['device']} | {r['per_s']:,.0f} | {r['official_per_s']:,.0f} | "
                             f"{r['ratio']:.1f}x |" for r in rows))
    return text


def show_stored(name: str, folder: str | Path = STORED) -> dict | None:
    """Display :func:`describe_stored` and the stored figure in a notebook; return the record (or ``None``)."""
    from IPython.display import Image, Markdown, display

    record = stored_record(name, folder)
    display(Markdown(_describe(name, record)))
    figure = Path(folder) / f"{name}.png"
    if figure.exists():
        display(Image(filename=str(figure)))
    return record
