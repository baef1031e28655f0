"""Shared fixtures: the repository paths, the chapters in the table of contents, and the built site."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILD_HTML = ROOT / "_build" / "html"
STRICT_BUILD = ["jupyter-book", "build", ".", "--all", "-W", "-n", "--keep-going"]
STUDENT_OUTPUT = ["--path-output", "_build/student"]  # with MMTHEORY_EDITION=student (README)
STUDENT_HTML = ROOT / "_build" / "student" / "_build" / "html"


def toc_files() -> list[str]:
    """Every page named in _toc.yml (root first), as paths without suffix, relative to the root."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            files.append(chapter["file"])
            files.extend(section["file"] for section in chapter.get("sections", []))
    return files


def chapter_notebooks() -> list[Path]:
    """The pages of the toc that are notebooks (MyST markdown with a kernelspec)."""
    paths = [ROOT / f"{name}.md" for name in toc_files()]
    return [p for p in paths if p.exists() and "kernelspec:" in p.read_text()]


@pytest.fixture(scope="session")
def built_site() -> Path:
    """The HTML of a strict build of the whole book (``--all -W -n --keep-going``), made once per session.

    Set ``MMTHEORY_SITE`` to a built ``_build/html`` folder to check an existing build instead.
    """
    given = os.environ.get("MMTHEORY_SITE")
    if given:
        site = Path(given).resolve()
        if not (site / "index.html").exists():
            pytest.fail(f"MMTHEORY_SITE={given} holds no index.html")
        return site
    return strict_build([], {}, BUILD_HTML)


@pytest.fixture(scope="session")
def student_site(built_site) -> Path:
    """The student edition's HTML, built strictly from the instructor build's executed cache.

    Set ``MMTHEORY_STUDENT_SITE`` to a built student ``html`` folder to check an existing build instead.
    """
    given = os.environ.get("MMTHEORY_STUDENT_SITE")
    if given:
        return Path(given).resolve()
    return strict_build(STUDENT_OUTPUT, {"MMTHEORY_EDITION": "student"}, STUDENT_HTML)


def strict_build(extra: list[str], env: dict[str, str], html: Path) -> Path:
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb) if jb.exists() else STRICT_BUILD[0], *STRICT_BUILD[1:], *extra]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **env}, check=False)
    log = done.stdout + done.stderr
    if done.returncode != 0:
        pytest.fail(f"strict book build {' '.join(extra)} failed (exit {done.returncode}):\n{log[-6000:]}")
    sphinx_warnings = [line for line in log.splitlines() if "WARNING:" in line]
    assert not sphinx_warnings, "strict build printed warnings:\n" + "\n".join(sphinx_warnings)
    return html


@pytest.fixture
def quiet(monkeypatch):
    """No progress bars during the test, and no figure left open after it."""
    import matplotlib.pyplot as plt

    monkeypatch.setenv("MMTHEORY_PROGRESS", "0")
    yield
    plt.close("all")
