"""The syllabus: its compute guide covers every chapter at the quick and book scales, from the stored timings,
and every exercise it assigns exists."""

import json
import re
import sys

from conftest import ROOT, chapter_notebooks

sys.path.insert(0, str(ROOT / "book" / "_ext"))
from compute_guide import TIMES, guide_markdown  # noqa: E402

SYLLABUS = (ROOT / "book" / "syllabus.md").read_text(encoding="utf-8")


def chapters() -> list[str]:
    return [str(p.relative_to(ROOT).with_suffix("")) for p in chapter_notebooks()]


def test_every_chapter_has_a_measured_time_at_quick_and_book_scale():
    stored = json.loads((ROOT / TIMES).read_text(encoding="utf-8"))
    for scale in ("quick", "book"):
        assert sorted(stored[scale]["seconds"]) == sorted(chapters()), scale
        assert all(s > 0 for s in stored[scale]["seconds"].values())
        assert {"cpus", "torch", "gpu"} <= set(stored[scale]["machine"]) and stored[scale]["commit"]


def test_the_guide_has_a_row_per_chapter_and_a_total():
    table = guide_markdown(ROOT)
    for chapter in chapters():
        assert f"{{doc}}`/{chapter}`" in table
    assert "**All chapters**" in table


def test_every_assigned_exercise_exists_and_every_chapter_is_taught():
    labels = set()
    for path in chapter_notebooks():
        labels |= set(re.findall(r"```\{exercise\}.*\n:label: (\S+)", path.read_text(encoding="utf-8")))
    assigned = set(re.findall(r"\{ref\}`(ex-[^`]+)`", SYLLABUS))
    assert assigned and assigned <= labels, assigned - labels
    full_course = SYLLABUS.split("## The full course")[1].split("## The short course")[0]
    for chapter in chapters():
        assert f"{{doc}}`/{chapter}`" in full_course, f"{chapter} is not in the full course"
