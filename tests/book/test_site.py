"""The strict build of the whole book, and checks of the HTML it produced."""

import re
import sys

import pytest
from conftest import ROOT, chapter_notebooks, toc_files

sys.path.insert(0, str(ROOT / "book" / "_ext"))
from offline_assets import remote_assets  # noqa: E402
from results_index import results, toc_chapters  # noqa: E402

pytestmark = pytest.mark.site


def pages(site):
    return sorted(site.rglob("*.html"))


def test_every_page_of_the_toc_is_built(built_site):
    assert (built_site / "index.html").exists()
    for name in toc_files():
        page = built_site / f"{name}.html"
        assert page.exists(), f"{name} is in _toc.yml but {page} was not built"


def test_no_page_loads_a_remote_script_stylesheet_or_image(built_site):
    offenders = {str(p.relative_to(built_site)): remote_assets(p.read_text()) for p in pages(built_site)}
    assert not {page: tags for page, tags in offenders.items() if tags}


def test_pages_serve_mathjax_and_the_widget_manager_locally(built_site):
    chapter = (built_site / "book" / "prologue" / "two_views.html").read_text()
    for asset in ("vendor/mathjax/tex-mml-chtml.js", "vendor/require.js", "vendor/html-manager/embed-amd.js"):
        assert asset in chapter
        assert (built_site / "_static" / asset).exists()


def test_no_cell_printed_an_error(built_site):
    for page in pages(built_site):
        html = page.read_text()
        assert "output error" not in html and "Traceback (most recent call last)" not in html, page.name
        assert not re.search(r'class="[^"]*\boutput stderr\b', html), f"{page.name} shows stderr output"


def test_widgets_carry_their_state_into_the_page(built_site):
    chapter = (built_site / "book" / "prologue" / "two_views.html").read_text()
    assert "application/vnd.jupyter.widget-state+json" in chapter
    assert "StackModel" in chapter and "LinkModel" in chapter


def test_the_checks_appendix_lists_every_chapter_and_every_quoted_number(built_site):
    from mmtheory.paper_values import paper_values

    page = (built_site / "book" / "checks.html").read_text()
    for chapter in chapter_notebooks():
        name = str(chapter.relative_to(ROOT / "book").with_suffix(""))
        assert f'id="claims-{name.replace("/", "-")}"' in page, f"{name} has no section in the appendix"
    for key in paper_values():
        assert key in page, f"the quoted number {key} is not in the appendix table"


def test_the_index_of_results_links_every_result(built_site):
    page = (built_site / "book" / "results.html").read_text()
    for chapter in toc_chapters(ROOT):
        for result in results((ROOT / f"{chapter}.md").read_text(encoding="utf-8")):
            assert f"#{result.label}" in page, f"{result.label} ({chapter}) is not linked from the index of results"


EXERCISE_ID = re.compile(r'class="exercise[^"]*"[^>]*id="([^"]+)"')


def exercise_ids(site) -> set[str]:
    return {f"{p.relative_to(site)}#{i}" for p in pages(site) for i in EXERCISE_ID.findall(p.read_text())}


def test_the_student_edition_keeps_every_exercise_and_no_solution(built_site, student_site):
    instructor = exercise_ids(built_site)
    assert len(instructor) >= 50 and exercise_ids(student_site) == instructor
    solutions = [p.name for p in pages(built_site) if 'class="solution' in p.read_text()]
    assert solutions, "the instructor edition shows no solution"
    for page in pages(student_site):
        html = page.read_text()
        assert 'class="solution' not in html and "solution-content" not in html, f"{page.name} shows a solution"
        assert not remote_assets(html), f"{page.name} loads a remote asset"


def test_an_unknown_edition_is_a_clear_error(monkeypatch):
    from editions import edition

    monkeypatch.setenv("MMTHEORY_EDITION", "teacher")
    with pytest.raises(ValueError, match="MMTHEORY_EDITION must be one of"):
        edition()


def test_every_chapter_page_links_its_notebook_and_the_zip_in_both_editions(built_site, student_site):
    import zipfile

    from notebooks import FOLDER, ZIP, notebook_name

    for site, edition in ((built_site, "instructor"), (student_site, "student")):
        names = sorted(notebook_name(str(p.relative_to(ROOT).with_suffix(""))) for p in chapter_notebooks())
        with zipfile.ZipFile(site / FOLDER / ZIP) as bundle:
            assert sorted(n.split("/")[-1] for n in bundle.namelist()) == names, edition
        for chapter in chapter_notebooks():
            name = str(chapter.relative_to(ROOT).with_suffix(""))
            page = (site / f"{name}.html").read_text()
            assert f'{FOLDER}/{notebook_name(name)}"' in page and f'{FOLDER}/{ZIP}"' in page, (edition, name)
            text = (site / FOLDER / notebook_name(name)).read_text()
            assert ("solution-start" in text) == (edition == "instructor"), (edition, name)
