"""Measure how much faster the vectorised JGHM sampler and belief propagation are than the reference.

    python benchmarks/jghm_throughput.py                  # CPU, and CUDA when there is one
    python benchmarks/jghm_throughput.py --threads 2      # torch on two CPU threads
    python benchmarks/jghm_throughput.py --device cpu --json out.json

On the paper's model (``JGHM.paper(p=0.2)``: 10 symbols, depth 4, branching 3, 81 leaves a tree)
it times three tasks, each as the vectorised code (:mod:`mmtheory.jghm`,
:mod:`mmtheory.jghm.bp`, torch) against the per-sample, per-node reference
(:mod:`mmtheory.jghm.reference`, numpy, always on the CPU):

* sampling: (root, image leaves, text leaves) triples per second;
* the image root posterior given all 81 image leaves, samples per second;
* the denoising posterior mean of the image leaves given noisy leaves and the text leaves (text
  root message, image upward and downward passes), samples per second.

Each timing is the best of ``--repeats`` runs. The vectorised batch starts at ``--n`` samples and
is enlarged (to 200,000, then timed over several calls) until one timing exceeds 0.2 s, as on a
GPU; the reference runs ``--reference-n``.
Before timing, the two implementations' posteriors are compared on 20 samples (root posteriors to
1e-10, denoising means to 1e-8); the script exits non-zero if they disagree.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from mmtheory.jghm import (
    JGHM,
    bp,
    denoising_mean_reference,
    root_message_reference,
    root_posterior_reference,
    sample_reference,
)

MIN_SECONDS = 0.2
MAX_N = 200_000  # (n, 81, 10) float64 tensors: 130 MB each
N_CHECK = 20


def best_time(fn, repeats: int, device: str) -> float:
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


def noisy(leaves: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    gen = torch.Generator(device=leaves.device).manual_seed(seed)
    noise = torch.randn(leaves.shape, generator=gen, device=leaves.device, dtype=torch.float64)
    return leaves.double() + sigma * noise


def vectorised_tasks(model: JGHM, sigma: float, device: str):
    """For each task, a function of ``n`` that prepares inputs and returns the callable to time."""

    def sampling(n):
        return lambda: model.sample(n, 1, device)

    def root_posterior(n):
        image = model.sample(n, 2, device).image
        return lambda: bp.root_posterior(model, "image", image)

    def denoising(n):
        s = model.sample(n, 3, device)
        z = noisy(s.image, sigma, 4)
        return lambda: bp.denoising_mean(model, z, s.text, sigma)

    return {"sampling": sampling, "root posterior": root_posterior, "denoising mean": denoising}


def reference_tasks(model: JGHM, sigma: float):
    def sampling(n):
        return lambda: sample_reference(model.image, model.text, model.prior, n, np.random.default_rng(1))

    def root_posterior(n):
        image = model.sample(n, 2, "cpu").image.numpy()
        return lambda: [root_posterior_reference(model.image, row, model.prior) for row in image]

    def denoising(n):
        s = model.sample(n, 3, "cpu")
        z, text = noisy(s.image, sigma, 4).numpy(), s.text.numpy()
        return lambda: [denoising_mean_reference(model.image, z_row, root_message_reference(model.text, t_row),
                                                 model.prior, sigma) for z_row, t_row in zip(z, text)]

    return {"sampling": sampling, "root posterior": root_posterior, "denoising mean": denoising}


def check_agreement(model: JGHM, sigma: float, device: str) -> list[str]:
    """Compare vectorised and reference posteriors on ``N_CHECK`` samples; the failures, if any."""
    s = model.sample(N_CHECK, 5, device)
    image, text = s.image.cpu().numpy(), s.text.cpu().numpy()
    failures = []
    fast = bp.root_posterior(model, "image", s.image).cpu().numpy()
    slow = np.array([root_posterior_reference(model.image, row, model.prior) for row in image])
    if not np.max(np.abs(fast - slow)) <= 1e-10:
        failures.append(f"{device}: root posteriors differ by {np.max(np.abs(fast - slow)):.3g}")
    z = noisy(s.image, sigma, 6)
    fast = bp.denoising_mean(model, z, s.text, sigma).cpu().numpy()
    slow = np.array([denoising_mean_reference(model.image, z_row, root_message_reference(model.text, t_row),
                                              model.prior, sigma) for z_row, t_row in zip(z.cpu().numpy(), text)])
    if not np.max(np.abs(fast - slow)) <= 1e-8:
        failures.append(f"{device}: denoising means differ by {np.max(np.abs(fast - slow)):.3g}")
    return failures


def time_vectorised(prepare, n: int, repeats: int, device: str) -> tuple[int, float]:
    """Samples per second at a batch of ``n`` or more: the batch is enlarged (up to ``MAX_N``, then
    timed over several calls) until one timing exceeds ``MIN_SECONDS``."""
    best_time(prepare(min(n, 256)), 1, device)  # warm-up: kernels, allocator
    calls = 1
    while True:
        fn = prepare(n)
        seconds = best_time(lambda: [fn() for _ in range(calls)], repeats, device)
        if seconds > MIN_SECONDS:
            return n, calls * n / seconds
        grow = max(2.0, 1.5 * MIN_SECONDS / max(seconds, 1e-6))
        if n < MAX_N:
            n = min(MAX_N, int(n * grow))
        else:
            calls = int(calls * grow)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--device", choices=("cpu", "cuda"), action="append",
                        help="where to run the vectorised code (repeatable; default cpu, and cuda if available)")
    parser.add_argument("--n", type=int, default=20_000, help="vectorised batch to start from (default 20,000)")
    parser.add_argument("--reference-n", type=int, default=200, help="reference samples (default 200)")
    parser.add_argument("--repeats", type=int, default=3, help="timings per measure, the best kept (default 3)")
    parser.add_argument("--p", type=float, default=0.2, help="the model's flip probability (default 0.2)")
    parser.add_argument("--sigma", type=float, default=1.0, help="denoising noise level (default 1)")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    if "cuda" in devices and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA device available")
    model = JGHM.paper(p=args.p)

    failures = [f for device in devices for f in check_agreement(model, args.sigma, device)]
    if failures:
        sys.exit("vectorised and reference disagree:\n  " + "\n  ".join(failures))
    print(f"agreement on {N_CHECK} samples: ok ({', '.join(devices)})")

    reference = {}
    for task, prepare in reference_tasks(model, args.sigma).items():
        reference[task] = args.reference_n / best_time(prepare(args.reference_n), args.repeats, "cpu")
    rows = []
    for device in devices:
        for task, prepare in vectorised_tasks(model, args.sigma, device).items():
            n, rate = time_vectorised(prepare, args.n, args.repeats, device)
            rows.append({"task": task, "device": device, "n": n, "per_s": rate, "reference_n": args.reference_n,
                         "reference_per_s": reference[task], "speedup": rate / reference[task]})

    print(f"JGHM.paper(p={args.p}): 81 leaves a tree; torch threads {args.threads}; best of {args.repeats}; "
          f"per second")
    print(f"{'task':16s} {'device':6s} {'n':>9s} {'vectorised/s':>13s} {'n ref':>6s} {'reference/s':>12s} "
          f"{'ratio':>9s}")
    for r in rows:
        print(f"{r['task']:16s} {r['device']:6s} {r['n']:9,d} {r['per_s']:13,.0f} {r['reference_n']:6d} "
              f"{r['reference_per_s']:12,.1f} {r['speedup']:8,.0f}x")
    if args.json:
        meta = {"model": f"JGHM.paper(p={args.p})", "threads": args.threads, "repeats": args.repeats,
                "sigma": args.sigma, "torch": torch.__version__,
                "cuda_device": torch.cuda.get_device_name() if "cuda" in devices else None}
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
