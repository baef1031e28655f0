"""Sphinx extension: the appendix "What the book checks", built from the records the claim checks write.

Each chapter that states results checks them in hidden cells with :mod:`mmtheory.claims`; executed during
the build, those checks write ``_build/claims/<chapter>.json``. This extension

1. points the kernels at that folder (``MMTHEORY_CLAIMS_DIR``) before any notebook runs, drops the records of
   chapters that no longer make claims, and clears the execution cache when a chapter that makes claims has
   no record (so the records always come from the outputs the site shows);
2. gives the directive ``claims-audit``, which the appendix uses: after every page has been read (and so
   executed), it becomes one table per chapter, with each claim, its test, the measured values, the scale
   and the outcome. The appendix is rebuilt on every build, so it cannot go stale.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from docutils import nodes
from offline_assets import LIBRARY_STAMP
from results_index import toc_chapters
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

BOOK = Path(__file__).resolve().parents[1]
CLAIMS_ENV = "MMTHEORY_CLAIMS_DIR"
MARK = "claims.begin("


def claims_folder(app) -> Path:
    """``_build/claims`` beside the sources: one folder for every edition built from them."""
    return Path(app.srcdir) / "_build" / "claims"


def chapters_with_claims(root: Path) -> dict[str, Path]:
    """The chapters of ``_toc.yml`` (``part/name``) whose source starts claim checks, with their sources."""
    sources = [root / f"{name}.md" for name in toc_chapters(root)]
    return {str(p.relative_to(BOOK).with_suffix("")): p for p in sources
            if p.exists() and MARK in p.read_text(encoding="utf-8")}


def record_path(folder: Path, chapter: str) -> Path:
    return folder / (chapter.replace("/", "--") + ".json")


class audit_placeholder(nodes.General, nodes.Element):
    """Replaced by the tables once every page has been read."""


class ClaimsAudit(SphinxDirective):
    has_content = False

    def run(self):
        return [audit_placeholder()]


class PaperValuesTable(SphinxDirective):
    """Every number the book quotes, with its source, read from ``mmtheory/data/paper_values.toml``."""

    has_content = False

    def run(self):
        from mmtheory.paper_values import paper_values

        rows = [(v.key, _format_quoted(v.value), v.source + (f" ({v.note})" if v.note else ""))
                for v in paper_values().values()]
        return [_grid(("quoted number", "value", "source"), (22, 30, 48), rows, "paper-values")]


def _builder_inited(app) -> None:
    folder = claims_folder(app)
    os.environ[CLAIMS_ENV] = str(folder)
    wanted = chapters_with_claims(Path(app.srcdir))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.json"):
        if stale.stem.replace("--", "/") not in wanted:
            stale.unlink()
    missing = [c for c in wanted if not record_path(folder, c).exists()]
    cache = Path(app.config.nb_execution_cache_path or Path(app.outdir).parent / ".jupyter_cache")
    if missing and cache.exists():
        logger.info(f"claims_audit: no claim records for {missing}; re-executing the chapters")
        clear_cache(cache)
        app.mmtheory_claims_rerun = True


def clear_cache(cache: Path) -> None:
    """Empty the execution cache but keep offline_assets' stamp of the library, which still holds: without it
    the next build (the student edition's, say) would take the cache for stale and execute everything again."""
    for child in cache.iterdir():
        if child.name != LIBRARY_STAMP:
            shutil.rmtree(child) if child.is_dir() else child.unlink()


def _env_get_outdated(app, env, added, changed, removed) -> list[str]:
    if getattr(app, "mmtheory_claims_rerun", False):  # every notebook must be read (executed) again
        return sorted(env.found_docs)
    return [doc for doc in env.found_docs if _has_audit(env, doc)]


def _has_audit(env, docname: str) -> bool:
    path = Path(env.doc2path(docname))
    return path.suffix == ".md" and "```{claims-audit}" in path.read_text(encoding="utf-8")


def _cell(text: str) -> nodes.entry:
    return nodes.entry("", nodes.paragraph(text=text))


def _grid(headers, widths, rows, css: str) -> nodes.table:
    group = nodes.tgroup(cols=len(headers))
    for width in widths:
        group += nodes.colspec(colwidth=width)
    group += nodes.thead("", nodes.row("", *(_cell(h) for h in headers)))
    body = nodes.tbody()
    for row in rows:
        body += nodes.row("", *(_cell(t) for t in row))
    group += body
    return nodes.table("", group, classes=[css])


def _table(claims: list[dict]) -> nodes.table:
    rows = [(c["claim"], c["rule"], ", ".join(f"{k} = {_format(v)}" for k, v in c["measured"].items()),
             c["scale"], c["status"]) for c in claims]
    return _grid(("claim", "test", "measured", "scale", "outcome"), (40, 14, 30, 7, 9), rows, "claims-audit")


def _format_quoted(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} = {v}" for k, v in value.items())
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_format(v) for v in value[:8]) + (", ..." if len(value) > 8 else "") + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_format(v)}" for k, v in value.items()) + "}"
    return str(value)


def _doctree_resolved(app, doctree, docname) -> None:
    placeholders = list(doctree.findall(audit_placeholder))
    if not placeholders:
        return
    folder = claims_folder(app)
    content = []
    total = {"holds": 0, "skipped": 0}
    for chapter in chapters_with_claims(Path(app.srcdir)):
        path = record_path(folder, chapter)
        if not path.exists():
            logger.warning(f"claims_audit: no claim records for {chapter} (was it executed?)")
            continue
        claims = json.loads(path.read_text())["claims"]
        for c in claims:
            total[c["status"]] = total.get(c["status"], 0) + 1
        section = nodes.section(ids=[f"claims-{chapter.replace('/', '-')}"])
        section += nodes.title(text=chapter)
        section += _table(claims) if claims else nodes.paragraph(text="No claim checked at this scale.")
        content.append(section)
    summary = nodes.paragraph(text=f"{total['holds']} claims hold and {total['skipped']} were not tested at the "
                                   f"scale of this build, in {len(content)} chapter{'' if len(content) == 1 else 's'}.")
    for node in placeholders:
        node.replace_self([summary, *content])


def setup(app):
    app.add_directive("claims-audit", ClaimsAudit)
    app.add_directive("paper-values", PaperValuesTable)
    app.add_node(audit_placeholder)
    app.connect("builder-inited", _builder_inited)
    app.connect("env-get-outdated", _env_get_outdated)
    app.connect("doctree-resolved", _doctree_resolved)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
