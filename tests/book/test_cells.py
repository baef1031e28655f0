"""No chapter code cell is longer than 15 lines, except a short list of cells where writing it out is the lesson.

A cell's length is its number of non-blank lines, not counting option lines such as ``:tags:``. Computation
belongs in the library (documented and tested there) and software checks in the tests; a chapter calls the
library and names the function next to the result.
"""

import re

import pytest
from conftest import chapter_notebooks

MAX_LINES = 15

# (chapter stem, first line of the cell's code) -> why the cell may be longer
ALLOWED = {
    ("belief_propagation", "tiny = JGHM.paper(p=0.3, depth=2, branching=2, n_symbols=3, seed=42)"):
        "belief propagation written out by hand, node by node, on a tiny tree: writing it is the lesson",
}

_FENCE = re.compile(r"^(`{3,}|~{3,})\{code-cell\}")
_OPTION = re.compile(r"^:[\w-]+:")


def code_cells(text: str) -> list[tuple[int, list[str]]]:
    """``(line number of the opening fence, body lines)`` of every code cell of a MyST notebook."""
    lines, cells, i = text.splitlines(), [], 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, j = match.group(1), i + 1
        while j < len(lines) and lines[j].strip() != fence:
            j += 1
        cells.append((i + 1, lines[i + 1:j]))
        i = j + 1
    return cells


def code_lines(body: list[str]) -> list[str]:
    """The non-blank lines of a cell body that are code, not leading cell options."""
    out, in_options = [], True
    for line in body:
        if in_options and (_OPTION.match(line) or not line.strip()):
            continue
        in_options = False
        if line.strip():
            out.append(line)
    return out


def long_cells():
    for path in chapter_notebooks():
        for start, body in code_cells(path.read_text()):
            lines = code_lines(body)
            if len(lines) > MAX_LINES:
                yield path, start, lines


def test_cell_counting():
    text = "x\n```{code-cell} ipython3\n:tags: [hide-input]\n\na = 1\n\nb = 2\n```\nprose\n"
    [(start, body)] = code_cells(text)
    assert start == 2 and code_lines(body) == ["a = 1", "b = 2"]


def test_there_are_cells_to_check():
    assert any(code_cells(p.read_text()) for p in chapter_notebooks())


@pytest.mark.parametrize("path", chapter_notebooks(), ids=lambda p: p.stem)
def test_no_long_cells(path):
    too_long = [f"line {start}: {len(lines)} lines, starting {lines[0]!r}"
                for start, body in code_cells(path.read_text())
                if len(lines := code_lines(body)) > MAX_LINES and (path.stem, lines[0].strip()) not in ALLOWED]
    assert not too_long, (f"{path.name}: code cells over {MAX_LINES} non-blank lines (move computation to the "
                          f"library and software checks to the tests, or split the cell): {too_long}")


def test_the_allow_list_is_current():
    long = {(path.stem, lines[0].strip()) for path, _, lines in long_cells()}
    stale = set(ALLOWED) - long
    assert not stale, f"allow-listed cells that are no longer long (or no longer exist): {stale}"
