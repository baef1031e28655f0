"""Sphinx extension: the instructor edition (the default) and the student edition, from the same sources.

``MMTHEORY_EDITION=student`` builds the book without solutions: after sphinx-exercise has merged each gated
solution (``solution-start`` ... ``solution-end``, code cells included) into one node, this extension drops
those nodes, so the exercises keep their numbers and labels and no solution text reaches the page. The
student build reads the executed notebooks from the instructor build's cache (``_build/.jupyter_cache``), so
it executes nothing that the instructor build already ran. Build it with::

    MMTHEORY_EDITION=student jupyter-book build . --all -W -n --keep-going --path-output _build/student

(the site lands in ``_build/student/_build/html``).
"""

from __future__ import annotations

import os
from pathlib import Path

from sphinx.transforms import SphinxTransform
from sphinx_exercise.nodes import solution_node

EDITION_ENV = "MMTHEORY_EDITION"
EDITIONS = ("instructor", "student")


def edition() -> str:
    """The edition to build: ``$MMTHEORY_EDITION``, default ``instructor``; a clear error for anything else."""
    name = os.environ.get(EDITION_ENV, "instructor")
    if name not in EDITIONS:
        raise ValueError(f"{EDITION_ENV} must be one of {EDITIONS}, got {name!r}")
    return name


class DropSolutions(SphinxTransform):
    """Remove every solution from the doctree (after sphinx-exercise merges the gated ones, at priority 10)."""

    default_priority = 11

    def apply(self):
        if edition() == "student":
            for node in list(self.document.findall(solution_node)):
                node.parent.remove(node)


def _config_inited(app, config) -> None:
    edition()  # fail early on a misspelt edition
    if edition() == "student" and not config.nb_execution_cache_path:
        config.nb_execution_cache_path = str(Path(app.srcdir) / "_build" / ".jupyter_cache")


def setup(app):
    app.add_transform(DropSolutions)
    app.connect("config-inited", _config_inited)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
