"""Sphinx extension: every chapter as a Jupyter notebook to download, one by one and all in one zip.

At the end of an HTML build each notebook chapter of ``_toc.yml`` is converted from its MyST source
(:func:`chapter_notebook`, with jupytext) into ``notebooks/<part>--<chapter>.ipynb`` of the site, without
outputs, and all of them into ``notebooks/mmtheory-notebooks.zip``. The student edition's notebooks hold no
solution (the same spans the student site drops). Each chapter page links to its notebook and to the zip
right under its title. Nothing is committed: the files are made from the sources at every build.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import jupytext
import nbformat
from docutils import nodes
from editions import edition
from results_index import toc_chapters

FOLDER = "notebooks"
ZIP = "mmtheory-notebooks.zip"
SOLUTION = re.compile(r"^(`{3,})\{solution-start\}.*?^\1\{solution-end\}\n\1[ \t]*\n?", re.MULTILINE | re.DOTALL)


def is_notebook(source: str) -> bool:
    return "kernelspec:" in source.split("\n---\n", 1)[0]


def without_solutions(source: str) -> str:
    """The MyST source with every gated solution (``solution-start`` ... ``solution-end``) removed."""
    return SOLUTION.sub("", source)


def chapter_notebook(source: str, edition_name: str = "instructor") -> nbformat.NotebookNode:
    """The notebook a reader downloads for a chapter's MyST ``source``: no outputs, no jupytext pairing."""
    if edition_name == "student":
        source = without_solutions(source)
    notebook = jupytext.reads(source, fmt="md:myst")
    notebook.metadata.pop("jupytext", None)
    return notebook


def notebook_name(chapter: str) -> str:
    """``book/icl/one_layer`` -> ``icl--one_layer.ipynb``."""
    return "--".join(Path(chapter).parts[1:]) + ".ipynb"


def _write_notebooks(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    root, folder = Path(app.srcdir), Path(app.outdir) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / ZIP, "w", zipfile.ZIP_DEFLATED) as bundle:
        for chapter in toc_chapters(root):
            source = (root / f"{chapter}.md").read_text(encoding="utf-8")
            if is_notebook(source):
                path = folder / notebook_name(chapter)
                nbformat.write(chapter_notebook(source, edition()), path)
                bundle.write(path, f"mmtheory-notebooks/{path.name}")


def _link_notebook(app, doctree, docname) -> None:
    path = Path(app.srcdir) / f"{docname}.md"
    if app.builder.format != "html" or not path.exists() or not is_notebook(path.read_text(encoding="utf-8")):
        return
    up = "../" * docname.count("/")
    note = nodes.paragraph(classes=["notebook-download"])
    note += nodes.Text("Run this chapter yourself: ")
    note += nodes.reference("", "download it as a notebook", refuri=f"{up}{FOLDER}/{notebook_name(docname)}")
    note += nodes.Text(", or ")
    note += nodes.reference("", "all chapters as one zip", refuri=f"{up}{FOLDER}/{ZIP}")
    note += nodes.Text(" (see ")
    note += nodes.reference("", "Run it yourself", refuri=f"{up}book/run_it_yourself.html")
    note += nodes.Text(").")
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is not None:
        title = next(iter(section.findall(nodes.title)))
        section.insert(section.index(title) + 1, note)


def setup(app):
    app.connect("doctree-resolved", _link_notebook)
    app.connect("build-finished", _write_notebooks)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
