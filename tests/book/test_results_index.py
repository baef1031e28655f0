"""The index of results: every result of the chapters is found, and every theorem and proposition states a status."""

import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "book" / "_ext"))
from results_index import results, status_category, toc_chapters

CHAPTER_RESULTS = [(c, r) for c in toc_chapters(ROOT) for r in results((ROOT / f"{c}.md").read_text(encoding="utf-8"))]


def test_the_reader_finds_statements_labels_and_statuses():
    source = ("```{prf:theorem} A bound\n:label: thm-a\n\nStatement.\n```\n\n*Status:* proved in the source; "
              "the constant is *derived here*.\n\n## Next\n\n```{prf:definition} A word\n:label: def-b\n\nText.\n```\n"
              "\n```{prf:proposition} Unmarked\n:label: prop-c\n\nText.\n```\n\nNo status here.\n")
    found = results(source)
    assert [(r.kind, r.label, r.title, r.status) for r in found] == [
        ("theorem", "thm-a", "A bound", "proved in the source; derived here"),
        ("definition", "def-b", "A word", "definition"),
        ("proposition", "prop-c", "Unmarked", ""),
    ]


def test_status_labels_are_read_in_the_order_given():
    assert status_category("the limit is *read* (the abstract); the floor is *derived here*") == \
        "reconstruction; derived here"
    assert status_category("proved in the source; stated schematically") == "proved in the source; schematic"
    assert status_category("nothing recognisable") == ""


def test_the_book_states_results():
    assert len(CHAPTER_RESULTS) >= 25
    assert len({r.label for _, r in CHAPTER_RESULTS}) == len(CHAPTER_RESULTS), "a label is used twice"


@pytest.mark.parametrize("chapter, result", CHAPTER_RESULTS, ids=lambda x: getattr(x, "label", ""))
def test_every_result_is_labelled_and_states_its_status(chapter, result):
    assert result.label, f"{chapter}: a {result.kind} '{result.title}' has no :label:"
    assert result.status, (f"{chapter}: {result.label} has no status sentence ('*Status:* proved in the source / "
                           "derived here / schematic / *read*') after its statement")
