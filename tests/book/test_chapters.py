"""Every chapter executes at the quick scale, from top to bottom, as a reader's kernel would run it."""

import jupytext
import nbclient
import pytest
from conftest import chapter_notebooks


@pytest.mark.parametrize("path", chapter_notebooks(), ids=lambda p: p.stem)
def test_chapter_executes_at_quick_scale(path, monkeypatch):
    monkeypatch.setenv("MMTHEORY_SCALE", "quick")  # the kernel inherits the environment
    monkeypatch.setenv("MMTHEORY_PROGRESS", "0")
    notebook = jupytext.read(path)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    errors = [out for cell in notebook.cells for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors


def test_there_are_chapters_to_execute():
    assert chapter_notebooks(), "no notebook chapter found in _toc.yml"
