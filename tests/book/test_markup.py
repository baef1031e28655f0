"""Markup that silently breaks the math: a line of a paragraph that starts with "+ ", "- " or "* " while an
inline formula is open is read by Markdown as a list item, so the formula is printed as raw TeX."""

import re

import pytest
from test_prose_numbers import CHAPTERS, prose


def open_math_list_lines(text: str) -> list[str]:
    """Lines that start a list item inside an inline ``$...$`` formula of the same paragraph."""
    found = []
    for paragraph in re.split(r"\n\s*\n", prose(text)):
        dollars = 0
        for line in paragraph.splitlines():
            if dollars % 2 == 1 and re.match(r"\s*[-+*] ", line):
                found.append(line.strip()[:60])
            dollars += len(re.findall(r"(?<![\\$])\$(?!\$)", line))
    return found


def test_the_finder_sees_a_list_marker_inside_a_formula():
    assert open_math_list_lines("Here $a\n+ b$ breaks.\n\nHere $a +\nb$ does not.\n\n- a list $x$\n- item\n") == ["+ b$ breaks."]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_list_marker_opens_inside_inline_math(path):
    assert not open_math_list_lines(path.read_text(encoding="utf-8")), path.name
