"""Measure what the book costs to build and test, so that chapters can be held to budgets.

    python benchmarks/site_build.py              # build timings, per-chapter execution, site size
    python benchmarks/site_build.py --tests      # ... and the whole test suite

Every build here goes to a temporary output folder, so the timings are cold (no
execution cache) and the project's own ``_build`` is left alone. The pinned web
assets are fetched once into a temporary folder to time ``npm ci`` separately.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = str(Path(sys.executable).with_name("jupyter-book"))


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{(done.stdout + done.stderr)[-4000:]}")
    return seconds


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def chapter_execution_seconds(cache: Path) -> dict[str, float]:
    from jupyter_cache import get_cache

    return {Path(r.uri).relative_to(ROOT).as_posix(): r.data.get("execution_seconds", float("nan"))
            for r in get_cache(str(cache)).list_cache_records()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", action="store_true", help="also time the whole test suite (python -m pytest)")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args()
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        npm_dir = tmp / "npm"
        npm_dir.mkdir()
        for name in ("package.json", "package-lock.json"):
            shutil.copy(ROOT / "book" / name, npm_dir / name)
        out["npm_ci_s"] = timed(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], npm_dir)

        strict = [JUPYTER_BOOK, "build", ".", "--all", "-W", "-n", "--keep-going", "--path-output", str(tmp)]
        out["cold_strict_build_s"] = timed(strict, ROOT)
        out["rebuild_nothing_changed_s"] = timed([JUPYTER_BOOK, "build", ".", "--path-output", str(tmp)], ROOT)
        out["strict_rebuild_warm_cache_s"] = timed(strict, ROOT)
        html = tmp / "_build" / "html"
        out["site_mb"] = folder_mb(html)
        out["site_vendor_mb"] = folder_mb(html / "_static" / "vendor")
        out["chapter_execution_s"] = chapter_execution_seconds(tmp / "_build" / ".jupyter_cache")
    if args.tests:
        out["test_suite_s"] = timed([sys.executable, "-m", "pytest", "-q"], ROOT)

    print(f"{'measure':56s} value")
    for key, value in out.items():
        if isinstance(value, dict):
            for chapter, seconds in value.items():
                print(f"  execute {chapter:46s} {seconds:6.1f} s")
        else:
            unit = "MB" if key.endswith("_mb") else "s"
            print(f"{key:56s} {value:6.1f} {unit}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
