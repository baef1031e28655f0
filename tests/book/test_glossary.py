"""The glossary: every term is used, through a {term} link, by at least one chapter, and every link names a term
(Sphinx matches terms without regard to case)."""

import re

from conftest import ROOT, chapter_notebooks

GLOSSARY = (ROOT / "book" / "glossary.md").read_text(encoding="utf-8")
TERMS = [t.lower() for t in re.findall(r"^([A-Z][^\n]*)\n  \S", GLOSSARY.split("```{glossary}")[1], re.MULTILINE)]
LINK = re.compile(r"\{term\}`(?:[^`<]*<)?([^`>]+)>?`")


def linked_terms() -> dict[str, set[str]]:
    return {str(p.relative_to(ROOT)): {t.lower() for t in LINK.findall(p.read_text(encoding="utf-8"))}
            for p in chapter_notebooks()}


def test_the_glossary_has_terms():
    assert len(TERMS) >= 12


def test_every_term_is_linked_from_a_chapter():
    used = set().union(*linked_terms().values())
    assert not set(TERMS) - used, f"terms no chapter links: {sorted(set(TERMS) - used)}"


def test_every_link_names_a_term():
    for chapter, terms in linked_terms().items():
        assert terms <= set(TERMS), f"{chapter} links terms the glossary lacks: {sorted(terms - set(TERMS))}"
