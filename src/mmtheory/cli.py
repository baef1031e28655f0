"""Command line: ``python -m mmtheory list`` and ``python -m mmtheory run NAME --scale S --out DIR``.

Full-scale runs are made here, outside the book, and their JSON and figures are
shown beside the live (book-scale) run in the chapters.
"""

from __future__ import annotations

import argparse
import sys

from .runtime import SCALE_ENV, SCALES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mmtheory",
        description="Run the book's experiments at any scale and write their results.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{list,run}")
    commands.add_parser("list", help="list the registered experiments")
    run = commands.add_parser("run", help="run one experiment; write NAME.json and NAME.png into --out")
    run.add_argument("experiment", help="an experiment name from `list`")
    run.add_argument(
        "--scale",
        choices=SCALES,
        default=None,
        help=f"quick (seconds), book (CPU minutes) or full (paper size; GPU). Default: ${SCALE_ENV}, else book",
    )
    run.add_argument("--out", default="results", help="folder for the result files (default: ./results)")
    run.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    run.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from .registry import experiments, run_experiment

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
