"""How much faster the JGHM sampler and belief propagation are than the official code's algorithm.

    python benchmarks/jghm_throughput.py --threads 2            # CPU, and CUDA when there is one
    python benchmarks/jghm_throughput.py --device cpu --json benchmarks/results/jghm_throughput.json
    python benchmarks/jghm_throughput.py --official ~/Multimodal-GHM   # also time the official code itself

On the paper's model (``JGHM.paper(p=0.2)``: 10 symbols, depth 4, branching 3, 81 leaves a tree),
for a batch of ``--n`` samples (default 10,000, as in the official code's evaluations), it times
three tasks, each as :mod:`mmtheory.jghm` (torch) against the official algorithm
(``benchmarks/official_algorithm.py``: one node at a time, each batched over the samples, numpy,
always on the CPU):

* sampling: (root, image leaves, text leaves) triples per second;
* the image root posterior given all 81 image leaves (the upward pass), samples per second;
* the denoising posterior mean of the image leaves given noisy leaves and the text leaves (the text
  root message, then the image upward and downward passes), samples per second.

Each side runs the same batch ``--repeats`` times in a row after one warm-up call, in ``--rounds``
rounds that take turns between the sides, all in one process, and keeps its best time: the ratios
are measured in one run, each side warm, and a drift in the machine's speed touches both. Before timing, the two sides' posteriors are compared on 200 samples
(root posteriors to 1e-10, denoising means to 1e-8); the script exits non-zero if they disagree.
``--official PATH`` (a local clone of github.com/willcai7/Multimodal-GHM) also times the official
class ``GHMTree`` (sampling one tree, ``BP_CLS``, ``BP_DNS``) on the same trees, to check that the
re-implementation is no slower than the original.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

# numpy's BLAS (the official algorithm's matrix products) reads its thread count when first loaded:
# take --threads from the command line before importing it, so both sides run on the same threads.
THREADS = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv[:-1] else "2"
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = THREADS

import numpy as np
import official_algorithm as official
import torch

from mmtheory.jghm import JGHM, bp

N_CHECK = 200
TASKS = ("sampling", "root posterior", "denoising mean")


def best_time(fn, repeats: int, device: str = "cpu") -> float:
    """The shortest of ``repeats`` wall-clock timings of ``fn()``, synchronising CUDA around each."""
    best = math.inf
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def inputs(model: JGHM, n: int, sigma: float) -> dict:
    """One batch of trees and noisy image leaves, on the CPU, shared by every implementation."""
    s = model.sample(n, 2, "cpu")
    gen = torch.Generator().manual_seed(3)
    z = s.image.double() + sigma * torch.randn(s.image.shape, generator=gen, dtype=torch.float64)
    return {"image": s.image, "text": s.text, "z": z}


def ours(model: JGHM, data: dict, sigma: float, device: str) -> dict:
    """The library's three tasks as callables, inputs moved to ``device`` once."""
    image, text, z = (data[k].to(device) for k in ("image", "text", "z"))
    n = image.shape[0]
    return {"sampling": lambda: model.sample(n, 1, device),
            "root posterior": lambda: bp.root_posterior(model, "image", image),
            "denoising mean": lambda: bp.denoising_mean(model, z, text, sigma)}


def baseline(model: JGHM, data: dict, sigma: float) -> dict:
    """The official algorithm's three tasks as callables (numpy)."""
    image, text, z = (data[k].numpy() for k in ("image", "text", "z"))
    n, rng = image.shape[0], np.random.default_rng(1)
    return {"sampling": lambda: official.sample(model.image, model.text, model.prior, n, rng),
            "root posterior": lambda: official.root_posterior(model.image, image, model.prior),
            "denoising mean": lambda: official.denoising_mean(model.image, z, model.prior, sigma,
                                                              official.root_message(model.text, text))}


def original(model: JGHM, data: dict, sigma: float, path: Path) -> dict:
    """The official class ``GHMTree`` itself, from a local clone at ``path`` (sampling is one tree)."""
    sys.path.insert(0, str(path / "src"))
    from ghmclip.data.data_random_GHM import GHMTree

    def per_node(T):  # the official layout: one matrix per node and slot
        return [[layer[c] for _ in range(3**d) for c in range(layer.shape[0])] for d, layer in enumerate(T)]

    image, text, z = data["image"], data["text"], data["z"]
    n, prior = image.shape[0], model.prior
    trees = {}
    for name, T, leaves in (("image", model.image, image), ("text", model.text, text)):
        tree = GHMTree(4, 3, model.n_symbols, prior, 0.2, per_node(T), n, build_tree=True)
        tree.T_value[-1] = list(leaves.numpy().T)  # the shared batch's leaves
        trees[name] = tree

    def denoising():
        trees["text"].BP_CLS()
        return trees["image"].BP_DNS(z.numpy().T, sigma, external_hd_message=trees["text"].root_node.hd_message)

    return {"sampling": lambda: GHMTree(4, 3, model.n_symbols, prior, 0.2, per_node(model.image), n),
            "root posterior": lambda: trees["image"].BP_CLS(),
            "denoising mean": denoising}


def check_agreement(model: JGHM, data: dict, sigma: float, devices: list[str]) -> list[str]:
    """Compare the library and the official algorithm on ``N_CHECK`` samples; the failures, if any."""
    part = {k: v[:N_CHECK] for k, v in data.items()}
    slow_root = official.root_posterior(model.image, part["image"].numpy(), model.prior)
    slow_mean = official.denoising_mean(model.image, part["z"].numpy(), model.prior, sigma,
                                        official.root_message(model.text, part["text"].numpy()))
    failures = []
    for device in devices:
        image, text, z = (part[k].to(device) for k in ("image", "text", "z"))
        gap = np.max(np.abs(bp.root_posterior(model, "image", image).cpu().numpy() - slow_root))
        if not gap <= 1e-10:
            failures.append(f"{device}: root posteriors differ by {gap:.3g}")
        gap = np.max(np.abs(bp.denoising_mean(model, z, text, sigma).cpu().numpy() - slow_mean))
        if not gap <= 1e-8:
            failures.append(f"{device}: denoising means differ by {gap:.3g}")
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch and BLAS CPU threads (default 2)")
    parser.add_argument("--device", choices=("cpu", "cuda"), action="append",
                        help="where to run the library (repeatable; default cpu, and cuda if available)")
    parser.add_argument("--n", type=int, default=10_000, help="samples per batch (default 10,000)")
    parser.add_argument("--repeats", type=int, default=3, help="timings in a row per round (default 3)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, the sides in turn; the best kept (default 2)")
    parser.add_argument("--p", type=float, default=0.2, help="the model's flip probability (default 0.2)")
    parser.add_argument("--sigma", type=float, default=1.0, help="denoising noise level (default 1)")
    parser.add_argument("--official", type=Path, help="a local clone of the official repository, to time it too")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    if "cuda" in devices and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA device available")
    model = JGHM.paper(p=args.p)
    data = inputs(model, args.n, args.sigma)

    failures = check_agreement(model, data, args.sigma, devices)
    if failures:
        sys.exit("library and official algorithm disagree:\n  " + "\n  ".join(failures))
    print(f"agreement with the official algorithm on {N_CHECK} samples: ok ({', '.join(devices)})")

    sides = {("official", "cpu"): baseline(model, data, args.sigma)}
    if args.official:
        sides["GHMTree", "cpu"] = original(model, data, args.sigma, args.official)
    sides.update({("library", device): ours(model, data, args.sigma, device) for device in devices})
    seconds = {}
    for task in TASKS:  # rounds in turn, so that a drift in the machine's speed hits every side alike
        for _ in range(args.rounds):
            for side, fns in sides.items():
                best_time(fns[task], 1, side[1])  # warm-up: sampling tables, kernels, allocator, caches
                best = best_time(fns[task], args.repeats, side[1])
                seconds[side, task] = min(seconds.get((side, task), math.inf), best)
    rate = {key: args.n / value for key, value in seconds.items()}
    orig = args.official is not None
    rows = [{"task": task, "device": device, "n": args.n, "per_s": rate[("library", device), task],
             "official_per_s": rate[("official", "cpu"), task],
             "ratio": rate[("library", device), task] / rate[("official", "cpu"), task],
             "original_per_s": rate[("GHMTree", "cpu"), task] if orig else None,
             "original_ratio": rate[("library", device), task] / rate[("GHMTree", "cpu"), task] if orig else None}
            for device in devices for task in TASKS]

    print(f"JGHM.paper(p={args.p}): 81 leaves a tree; batch {args.n:,}; {args.threads} threads; best of "
          f"{args.rounds} x {args.repeats}; per second")
    print(f"{'task':16s} {'device':6s} {'library/s':>11s} {'official/s':>11s} {'ratio':>7s}"
          + (f" {'GHMTree/s':>11s} {'ratio':>7s}" if orig else ""))
    for r in rows:
        print(f"{r['task']:16s} {r['device']:6s} {r['per_s']:11,.0f} {r['official_per_s']:11,.0f} "
              f"{r['ratio']:6.1f}x" + (f" {r['original_per_s']:11,.0f} {r['original_ratio']:6.1f}x" if orig else ""))
    print("official: the official algorithm (benchmarks/official_algorithm.py); ratio: library / official")
    if orig:
        print("GHMTree: the official code itself; its sampling draws one tree a sample, half a pair, so the"
              " sampling ratio against it is half the speed-up")
    if args.json:
        meta = {"model": f"JGHM.paper(p={args.p})", "threads": args.threads, "repeats": args.repeats, "rounds": args.rounds,
                "n": args.n, "sigma": args.sigma, "torch": torch.__version__, "numpy": np.__version__,
                "date": time.strftime("%Y-%m-%d"),
                "cuda_device": torch.cuda.get_device_name() if "cuda" in devices else None}
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
