"""How long each chapter takes to run, per scale, stored for the syllabus's compute guide.

    python benchmarks/chapter_times.py --scale quick       # runs every chapter's notebook at quick scale
    python benchmarks/chapter_times.py --scale book --from-cache _build/.jupyter_cache
                                                           # reads the times of the last book-scale build
    python benchmarks/chapter_times.py --scale quick --only book/icl/modalities
                                                           # re-times one chapter, keeping the others' entries

The first form executes each notebook chapter of ``_toc.yml`` (the notebook a reader downloads) in a fresh
kernel, one after the other, and times it. The second reads the execution times that the build recorded in
its cache (the build runs at ``book`` scale unless ``MMTHEORY_SCALE`` says otherwise), so a full build is not
run twice. Results are merged into ``benchmarks/results/chapter_times.json`` with the machine, the date and the
commit they were measured at; the syllabus renders that file (``book/_ext/compute_guide.py``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "chapter_times.json"
sys.path.insert(0, str(ROOT / "book" / "_ext"))

from notebooks import chapter_notebook, is_notebook  # noqa: E402
from results_index import toc_chapters  # noqa: E402


def notebook_chapters() -> list[str]:
    return [c for c in toc_chapters(ROOT) if is_notebook((ROOT / f"{c}.md").read_text(encoding="utf-8"))]


def run_seconds(chapter: str, scale: str) -> float:
    import nbclient

    path = ROOT / f"{chapter}.md"
    os.environ.update(MMTHEORY_SCALE=scale, MMTHEORY_PROGRESS="0")
    notebook = chapter_notebook(path.read_text(encoding="utf-8"))
    start = time.perf_counter()
    nbclient.NotebookClient(notebook, timeout=1800, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def cached_seconds(cache: Path) -> dict[str, float]:
    from jupyter_cache import get_cache

    times = {(ROOT / r.uri).resolve().relative_to(ROOT).with_suffix("").as_posix(): r.data.get("execution_seconds")
             for r in get_cache(str(cache)).list_cache_records()}
    missing = [c for c in notebook_chapters() if times.get(c) is None]
    if missing:
        sys.exit(f"the cache {cache} holds no execution time for {missing}: build the book first")
    return {c: times[c] for c in notebook_chapters()}


def machine() -> dict[str, object]:
    import torch

    return {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "machine": platform.machine(),
            "python": platform.python_version(), "torch": torch.__version__, "gpu": torch.cuda.is_available()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=("quick", "book", "full"), required=True)
    parser.add_argument("--from-cache", type=Path, help="read the times of a build from its execution cache")
    parser.add_argument("--only", nargs="+", metavar="CHAPTER", help="time these chapters (e.g. book/icl/modalities)"
                        " and keep the stored times of the others; the entry's commit and date then say so")
    args = parser.parse_args()
    stored = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    unknown = sorted(set(args.only or ()) - set(notebook_chapters()))
    if unknown or (args.only and args.from_cache):
        parser.error(f"--only takes notebook chapters of _toc.yml, without --from-cache; unknown: {unknown}")
    if args.from_cache:
        seconds = cached_seconds(args.from_cache)
    else:
        seconds = dict(stored.get(args.scale, {}).get("seconds", {})) if args.only else {}
        for chapter in args.only or notebook_chapters():
            seconds[chapter] = run_seconds(chapter, args.scale)
            print(f"{chapter:45s} {seconds[chapter]:7.1f} s", flush=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=False).stdout.strip()
    how = "book build's execution cache" if args.from_cache else "each notebook run alone"
    if args.only:
        previous = stored.get(args.scale, {"commit": "unknown", "how": "unknown"})
        commit = f"{previous['commit']}; {', '.join(args.only)} at {commit}"
        how = f"{previous['how']}; {', '.join(args.only)} re-timed alone on {datetime.date.today().isoformat()}"
    stored[args.scale] = {"seconds": seconds, "machine": machine(), "commit": commit,
                          "date": datetime.date.today().isoformat(), "how": how}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(stored, indent=1) + "\n")
    print(f"{args.scale}: {sum(seconds.values()):.0f} s for {len(seconds)} chapters; written to {RESULTS}")


if __name__ == "__main__":
    main()
