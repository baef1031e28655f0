"""Command line: ``python -m mmtheory list``, ``python -m mmtheory run NAME --scale S --out DIR`` and
``python -m mmtheory gpu-suite --out DIR``.

Full-scale runs are made here, outside the book, and their JSON and figures are
shown beside the live (book-scale) run in the chapters; ``gpu-suite`` uses one short GPU window
(:mod:`mmtheory.suite`).
"""

from __future__ import annotations

import argparse
import sys

from .runtime import GPU_SCALE, SCALE_ENV, SCALES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mmtheory",
        description="Run the book's experiments at any scale and write their results.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{list,run,gpu-suite}")
    commands.add_parser("list", help="list the registered experiments")
    run = commands.add_parser("run", help="run one experiment; write NAME.json and NAME.png into --out")
    run.add_argument("experiment", help="an experiment name from `list`")
    run.add_argument(
        "--scale",
        choices=(*SCALES, GPU_SCALE),
        default=None,
        help=f"quick (seconds), book (CPU minutes), full (paper size; GPU) or gpu (the GPU suite's size, for its "
             f"experiments). Default: ${SCALE_ENV}, else book",
    )
    run.add_argument("--out", default="results", help="folder for the result files (default: ./results)")
    suite = commands.add_parser("gpu-suite", help="run every GPU experiment at the size that fits one 8-minute GPU "
                                                  "window; store each result as it finishes")
    for sub in (run, suite):
        sub.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
        sub.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    suite.add_argument("--out", default="book/stored/gpu", help="folder for the results (default: book/stored/gpu)")
    suite.add_argument("--scale", choices=("quick", GPU_SCALE), default=GPU_SCALE,
                       help="gpu (default), or quick to try the whole suite in a minute on any machine")
    suite.add_argument("--budget", type=float, default=480.0, help="seconds of the window (default 480)")
    suite.add_argument("--redo", action="store_true", help="run pieces again even when their results are stored")
    suite.add_argument("--only", nargs="+", metavar="PIECE", help="run only these pieces")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from .registry import experiments, run_experiment

    if args.command == "gpu-suite":
        from .suite import run_suite

        try:
            log = run_suite(args.out, scale=args.scale, device=args.device, budget=args.budget, redo=args.redo,
                            only=args.only, seed=args.seed)
        except ValueError as err:
            print(f"python -m mmtheory: error: {err}", file=sys.stderr)
            return 2
        return 1 if any(entry["status"].startswith("failed") for entry in log.values()) else 0
    if args.command == "list":
        print(f"Every experiment runs at --scale {', '.join(SCALES)} (default ${SCALE_ENV}, else book).")
        for name, exp in experiments().items():
            print(f"{name:24s} {exp.part:12s} {exp.summary}")
        return 0
    try:
        _, paths = run_experiment(args.experiment, scale=args.scale, seed=args.seed, device=args.device, out=args.out)
    except ValueError as err:
        print(f"python -m mmtheory: error: {err}", file=sys.stderr)
        return 2
    for kind, path in paths.items():
        print(f"wrote {kind}: {path}")
    return 0
