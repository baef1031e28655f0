"""Every chapter executes at the quick scale, from top to bottom, as the notebook a reader downloads."""

import sys

import nbclient
import pytest
from conftest import ROOT, chapter_notebooks

sys.path.insert(0, str(ROOT / "book" / "_ext"))
from notebooks import chapter_notebook  # noqa: E402


def execute(notebook, path, monkeypatch):
    monkeypatch.setenv("MMTHEORY_SCALE", "quick")  # the kernel inherits the environment
    monkeypatch.setenv("MMTHEORY_PROGRESS", "0")
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return [out for cell in notebook.cells for out in cell.get("outputs", []) if out.get("output_type") == "error"]


def code(notebook) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


@pytest.mark.parametrize("path", chapter_notebooks(), ids=lambda p: p.stem)
def test_chapter_notebook_executes_at_quick_scale(path, monkeypatch):
    assert not execute(chapter_notebook(path.read_text(encoding="utf-8")), path, monkeypatch)


@pytest.mark.parametrize("path", chapter_notebooks(), ids=lambda p: p.stem)
def test_student_notebook_executes_at_quick_scale(path, monkeypatch):
    """The student notebook drops the solutions; where its code is a prefix of the full notebook's, the test
    above already ran it; otherwise (a later cell outside the solutions) it is run here."""
    source = path.read_text(encoding="utf-8")
    student, full = chapter_notebook(source, "student"), chapter_notebook(source)
    assert len(code(student)) <= len(code(full))
    if code(student) != code(full)[:len(code(student))]:
        assert not execute(student, path, monkeypatch)


def test_there_are_chapters_to_execute():
    assert chapter_notebooks(), "no notebook chapter found in _toc.yml"
