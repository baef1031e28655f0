"""Sphinx extension: serve every script the book needs from the site itself.

The stock Jupyter Book page loads MathJax, require.js and the ipywidgets
html-manager from CDNs; offline, math shows as raw TeX and widgets as nothing.
This extension

1. fetches the pinned packages of ``book/package.json`` (locked by
   ``book/package-lock.json``) from the npm registry with ``npm ci`` and copies the
   files the pages use into the git-ignored ``book/_static/vendor/``; a stamp holding
   the hash of the lock file and of this file makes later builds skip this step;
2. turns progress bars off in the kernels that execute the chapters, and clears the
   execution cache when the library under ``src/`` has changed since the outputs were
   computed (the cache is keyed on the notebooks' code only, so it would otherwise
   serve numbers from an older library);
3. after an HTML build, warns about every ``<script>``, ``<link>`` or ``<img>``
   that points off the site (a warning fails the strict ``-W`` build).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

BOOK = Path(__file__).resolve().parents[1]
LIBRARY = BOOK.parent / "src"
NODE_MODULES = BOOK / "node_modules"
VENDOR = BOOK / "_static" / "vendor"
STAMP = VENDOR / ".assets.sha256"

# (source under node_modules, destination under vendor); folders are copied whole.
FILES = [
    ("requirejs/require.js", "require.js"),
    ("requirejs/package.json", "requirejs.package.json"),  # version and licence (MIT)
    ("@jupyter-widgets/html-manager/dist/embed-amd.js", "html-manager/embed-amd.js"),
    ("@jupyter-widgets/html-manager/package.json", "html-manager.package.json"),  # BSD-3-Clause
    ("mathjax/es5/tex-mml-chtml.js", "mathjax/tex-mml-chtml.js"),
    ("mathjax/es5/input/tex/extensions", "mathjax/input/tex/extensions"),
    ("mathjax/es5/output/chtml/fonts/woff-v2", "mathjax/output/chtml/fonts/woff-v2"),
    ("mathjax/es5/ui", "mathjax/ui"),
    ("mathjax/es5/a11y", "mathjax/a11y"),
    ("mathjax/LICENSE", "mathjax/LICENSE"),  # Apache-2.0
]
# The html-manager's icon fonts, requested from under require.js's baseUrl (vendor/npm/).
FONT_SUFFIXES = (".woff2", ".woff", ".ttf")  # the formats Chromium, Firefox and Safari request
# Which of the two folders the manager asks depends on how its chunks were loaded: serve both.
FONT_DESTINATIONS = ("npm/@jupyter-widgets", "npm/@jupyter-widgets/html-manager/dist")

INSTALL_HINT = (
    "The book serves MathJax, require.js and the widget manager itself, fetched at build time "
    "from the npm registry. Install Node.js 18 or newer with npm (Debian/Ubuntu: "
    "`sudo apt-get install nodejs npm`; macOS: `brew install node`; Windows: the installer from "
    "nodejs.org), then build again."
)


def _assets_hash() -> str:
    """Hash of what decides the vendored files: the lock file and this extension's file lists."""
    return hashlib.sha256((BOOK / "package-lock.json").read_bytes() + Path(__file__).read_bytes()).hexdigest()


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dst)


def ensure_vendor_assets() -> bool:
    """Make ``book/_static/vendor`` match ``book/package-lock.json``, running ``npm ci`` if needed.

    Returns whether the assets were (re)fetched.
    """
    wanted = _assets_hash()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return False
    npm = shutil.which("npm")
    if npm is None:
        raise ExtensionError("npm was not found on PATH. " + INSTALL_HINT)
    logger.info("offline_assets: fetching pinned JavaScript with `npm ci` (once per lock file)")
    cmd = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    done = subprocess.run(cmd, check=False, cwd=BOOK, capture_output=True, text=True)
    if done.returncode != 0:
        raise ExtensionError(
            f"`npm ci` in {BOOK} failed (exit {done.returncode}):\n{done.stderr.strip()}\n"
            "It needs the npm registry to be reachable. " + INSTALL_HINT
        )
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    for src, dst in FILES:
        _copy(NODE_MODULES / src, VENDOR / dst)
    fonts = [p for p in (NODE_MODULES / "@jupyter-widgets/html-manager/dist").iterdir() if p.suffix in FONT_SUFFIXES]
    for font in fonts:
        for folder in FONT_DESTINATIONS:
            _copy(font, VENDOR / folder / font.name)
    STAMP.write_text(wanted + "\n")
    return True


class _RemoteAssets(HTMLParser):
    """Collect the URLs of ``<script src>``, ``<link href>`` and ``<img src>`` that leave the site."""

    ATTRS: ClassVar[dict[str, str]] = {"script": "src", "link": "href", "img": "src"}

    def __init__(self) -> None:
        super().__init__()
        self.remote: list[str] = []

    def handle_starttag(self, tag, attrs):
        wanted = self.ATTRS.get(tag)
        for name, value in attrs:
            if name == wanted and value and is_remote(value):
                self.remote.append(f"<{tag} {name}={value!r}>")


def is_remote(url: str) -> bool:
    """True for URLs that would be fetched from another host (``http:``, ``https:``, ``//host``)."""
    url = url.strip().lower()
    return url.startswith(("http://", "https://", "//"))


def remote_assets(html: str) -> list[str]:
    """Every remote ``<script>``, ``<link>`` or ``<img>`` in an HTML page."""
    parser = _RemoteAssets()
    parser.feed(html)
    return parser.remote


LIBRARY_STAMP = "mmtheory-library.sha256"  # in the execution cache: the library the cached outputs were computed with


def library_hash() -> str:
    """A hash of every Python file of the library, by path and content."""
    digest = hashlib.sha256()
    for path in sorted(LIBRARY.rglob("*.py")):
        digest.update(str(path.relative_to(LIBRARY)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def ensure_fresh_execution_cache(cache: Path) -> bool:
    """Clear the notebook execution cache if it was filled by another version of the library.

    Returns whether it was cleared.
    """
    stamp = cache / LIBRARY_STAMP
    wanted = library_hash()
    if stamp.exists() and stamp.read_text().strip() == wanted:
        return False
    cleared = cache.exists()
    if cleared:
        logger.info("offline_assets: the library changed since the cached outputs were computed; re-executing")
        shutil.rmtree(cache)
    cache.mkdir(parents=True, exist_ok=True)
    stamp.write_text(wanted + "\n")
    return cleared


def _builder_inited(app) -> None:
    os.environ.setdefault("MMTHEORY_PROGRESS", "0")
    cache = Path(app.config.nb_execution_cache_path or Path(app.outdir).parent / ".jupyter_cache")
    cleared = ensure_fresh_execution_cache(cache)
    refreshed = app.builder.format == "html" and ensure_vendor_assets()
    app.mmtheory_rewrite_all = cleared or refreshed


def _env_get_outdated(app, env, added, changed, removed) -> list[str]:
    # After a cleared cache every notebook must be re-read (and so re-executed); after refreshed
    # assets every page must be written, since Sphinx copies static files only when it writes pages.
    return sorted(env.found_docs) if getattr(app, "mmtheory_rewrite_all", False) else []


def _build_finished(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for page in sorted(Path(app.outdir).rglob("*.html")):
        for tag in remote_assets(page.read_text(encoding="utf-8", errors="replace")):
            logger.warning(f"offline_assets: {page.relative_to(app.outdir)} loads a remote asset {tag}")


def setup(app):
    app.connect("builder-inited", _builder_inited)
    app.connect("env-get-outdated", _env_get_outdated)
    app.connect("build-finished", _build_finished)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
