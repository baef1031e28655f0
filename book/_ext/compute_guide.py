"""Sphinx extension: the syllabus's compute guide, rendered from the stored chapter timings.

``benchmarks/chapter_times.py`` measures how long each chapter takes at each scale and stores the numbers,
with the machine and the commit, in ``benchmarks/results/chapter_times.json``. The directive
``compute-guide`` renders them as a table (one row per chapter, one column per scale measured) and says
where and when they were measured; no number in it is typed.
"""

from __future__ import annotations

import json
from pathlib import Path

from notebooks import is_notebook
from results_index import toc_chapters
from sphinx.util.docutils import SphinxDirective

TIMES = Path("benchmarks") / "results" / "chapter_times.json"
SCALES = ("quick", "book", "full")


def duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def guide_markdown(root: Path) -> str:
    """The compute guide as MyST: the table and a sentence per scale on how it was measured."""
    stored = json.loads((root / TIMES).read_text(encoding="utf-8"))
    scales = [s for s in SCALES if s in stored]
    chapters = [c for c in toc_chapters(root) if is_notebook((root / f"{c}.md").read_text(encoding="utf-8"))]
    lines = ["| Chapter | " + " | ".join(f"`{s}`" for s in scales) + " |", "|---" * (len(scales) + 1) + "|"]
    for chapter in chapters:
        cells = [duration(stored[s]["seconds"][chapter]) if chapter in stored[s]["seconds"] else "not measured"
                 for s in scales]
        lines.append(f"| {{doc}}`/{chapter}` | " + " | ".join(cells) + " |")
    lines.append("| **All chapters** | " + " | ".join(
        f"**{duration(sum(stored[s]['seconds'].values()))}**" for s in scales) + " |")
    lines.append("")
    for s in scales:
        m = stored[s]["machine"]
        lines.append(f"`{s}`: measured {stored[s]['date']} at commit `{stored[s]['commit']}` ({stored[s]['how']}), "
                     f"on {m['cpus']} CPU cores ({m['machine']}, {m['torch_threads']} PyTorch threads"
                     f"{', with a GPU' if m['gpu'] else ', no GPU'}), Python {m['python']}, PyTorch {m['torch']}.")
        lines.append("")
    return "\n".join(lines)


class ComputeGuide(SphinxDirective):
    has_content = False

    def run(self):
        root = Path(self.env.srcdir)
        self.env.note_dependency(str(root / TIMES))
        return self.parse_text_to_nodes(guide_markdown(root))


def setup(app):
    app.add_directive("compute-guide", ComputeGuide)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
