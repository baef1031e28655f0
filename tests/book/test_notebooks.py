"""The notebooks a reader downloads: made from the sources, plain .ipynb, and without solutions for students."""

import sys

import nbformat
from conftest import ROOT, chapter_notebooks

sys.path.insert(0, str(ROOT / "book" / "_ext"))
from notebooks import chapter_notebook, notebook_name, without_solutions  # noqa: E402

SOURCE = """---
jupytext:
  text_representation: {extension: .md, format_name: myst}
kernelspec: {display_name: Python 3, language: python, name: python3}
---

# A chapter

```{code-cell} ipython3
x = 1
```

```{exercise} Double it
:label: ex-double
```

```{solution-start} ex-double
:class: dropdown
```

```{code-cell} ipython3
y = 2 * x
```

```{solution-end}
```

After.
"""


def test_the_student_notebook_keeps_the_exercise_and_drops_the_solution():
    full, student = chapter_notebook(SOURCE), chapter_notebook(SOURCE, "student")
    assert [c.source for c in full.cells if c.cell_type == "code"] == ["x = 1", "y = 2 * x"]
    assert [c.source for c in student.cells if c.cell_type == "code"] == ["x = 1"]
    text = "\n".join(c.source for c in student.cells)
    assert "ex-double" in text and "solution" not in text and "After." in text
    assert "jupytext" not in full.metadata and full.metadata.kernelspec.name == "python3"
    nbformat.validate(full)


def test_every_chapter_has_a_notebook_and_every_solution_is_removed_for_students():
    names = [notebook_name(str(p.relative_to(ROOT).with_suffix(""))) for p in chapter_notebooks()]
    assert len(set(names)) == len(names) and "icl--one_layer.ipynb" in names
    for path in chapter_notebooks():
        student = without_solutions(path.read_text(encoding="utf-8"))
        assert "{solution" not in student, f"{path.name}: a solution survives in the student notebook"
