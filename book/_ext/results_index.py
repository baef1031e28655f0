"""Sphinx extension: the index of results, generated from the chapters' sources at every build.

Every ``prf`` definition, theorem, proposition, lemma and corollary of the chapters in ``_toc.yml`` is listed
with its chapter, a link, and its status as the book states it right after the statement (the paragraph that
starts ``*Status:``; see the preface for what each status means). The directive ``results-index`` renders the
list; it notes every chapter as a dependency, so the index is rebuilt when a chapter changes and cannot go
stale.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import yaml
from sphinx.util.docutils import SphinxDirective

KINDS = ("definition", "theorem", "proposition", "lemma", "corollary")
DIRECTIVE = re.compile(r"^(`{3,}|:{3,})\{prf:(" + "|".join(KINDS) + r")\}[ \t]*(.*)$", re.MULTILINE)
NEXT_BLOCK = re.compile(r"^(#|`{3,}\{|:{3,}\{)", re.MULTILINE)
STATUS = re.compile(r"\*Status:\s*(.*?)(?:\n\s*\n|$)", re.DOTALL)
# The statuses of the preface, as the status sentences word them; a sentence often gives several (one part
# proved in the source, another derived here), and all are listed, in the order the sentence gives them.
CATEGORIES = (
    ("schematic", re.compile(r"schematic", re.IGNORECASE)),
    ("reconstruction", re.compile(r"\*read\*|reconstruct", re.IGNORECASE)),
    ("derived here", re.compile(r"derived here", re.IGNORECASE)),
    ("proved in the source", re.compile(r"proved in", re.IGNORECASE)),
    ("classical", re.compile(r"classical", re.IGNORECASE)),
)


@dataclasses.dataclass(frozen=True)
class Result:
    kind: str
    label: str
    title: str
    status: str  # the CATEGORIES' names the status gives, joined by "; "; "definition"; "" when none is stated


def status_category(text: str) -> str:
    """The statuses a status sentence gives, in its order (``"proved in the source; derived here"``)."""
    found = sorted((m.start(), name) for name, pattern in CATEGORIES if (m := pattern.search(text)))
    return "; ".join(name for _, name in found)


def results(source: str) -> list[Result]:
    """The results a chapter's MyST source states, in order, with their status categories."""
    found = []
    for match in DIRECTIVE.finditer(source):
        fence, kind, title = match.groups()
        end = source.find("\n" + fence + "\n", match.end())
        body = source[match.end():end]
        label = re.search(r"^:label:\s*(\S+)", body, re.MULTILINE)
        after = source[end + len(fence) + 2:]
        stop = NEXT_BLOCK.search(after)
        status = STATUS.search(body + "\n\n" + after[:stop.start() if stop else len(after)])
        category = "definition" if kind == "definition" else status_category(
            (status.group(1) if status else "") + " " + title)
        found.append(Result(kind, label.group(1) if label else "", title.strip(), category if status or
                            kind == "definition" else ""))
    return found


def toc_chapters(root: Path) -> list[str]:
    """The chapters of ``_toc.yml``, in reading order, as paths without suffix."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    return [c["file"] for part in toc.get("parts", []) for c in part.get("chapters", [])]


class ResultsIndex(SphinxDirective):
    has_content = False

    def run(self):
        root = Path(self.env.srcdir)
        lines = ["| Result | Chapter | Status |", "| --- | --- | --- |"]
        for chapter in toc_chapters(root):
            path = root / f"{chapter}.md"
            self.env.note_dependency(str(path))
            for r in results(path.read_text(encoding="utf-8")):
                lines.append(f"| {{prf:ref}}`{r.label}` ({r.title}) | {{doc}}`/{chapter}` | {r.status or 'not stated'} |")
        return self.parse_text_to_nodes("\n".join(lines))


def setup(app):
    app.add_directive("results-index", ResultsIndex)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
