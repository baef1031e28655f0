"""The package's shape: no import cycles, small modules, one public API per part, no reaching into another
part's private names. Everything is read from the sources with ``ast``; nothing is imported."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "mmtheory"
PARTS = ("sufficiency", "jghm", "contexture", "icl", "neighbours")
SHARED = ("checks", "numerics", "runtime", "io", "registry", "cli", "suite", "viz", "train", "claims", "paper_values")
MAX_LINES = 500


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_lines(tree: ast.Module) -> set[int]:
    """Line numbers inside ``if TYPE_CHECKING:`` blocks (imports there never run)."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.body:
                lines.update(range(child.lineno, child.end_lineno + 1))
    return lines


def imports(name: str) -> list[tuple[str, list[str]]]:
    """Every import that runs in module ``name`` (top level or inside functions): (target module, names)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    skip = _type_checking_lines(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.lineno not in skip:
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "mmtheory":
                found.append((target, [a.name for a in node.names]))
    return found


def edges(name: str) -> set[str]:
    """The package modules that importing ``name`` runs first: each target, the submodules imported by name,
    and the ``__init__`` of any other part it imports from (which runs all of that part). A package that
    contains ``name`` (``mmtheory`` itself, its own part) is left out: it is initialising when ``name`` runs."""
    out = set()
    for target, names in imports(name):
        for candidate in [target, *(f"{target}.{n}" for n in names)]:
            ancestor = name == candidate or name.startswith(candidate + ".")  # already initialising
            if candidate in MODULES and not ancestor:
                out.add(candidate)
        parts = target.split(".")
        if len(parts) >= 2 and parts[1] in PARTS and not name.startswith(f"mmtheory.{parts[1]}"):
            out.add(f"mmtheory.{parts[1]}")
    return out


def cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), or a module importing itself."""
    graph = {name: edges(name) for name in MODULES}
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle(monkeypatch, tmp_path):
    """The check can fail: two modules that import each other form a cycle."""
    (tmp_path / "a.py").write_text("from .b import f\n")
    (tmp_path / "b.py").write_text("def f():\n    from .a import g\n")
    fake = {"mmtheory.x.a": tmp_path / "a.py", "mmtheory.x.b": tmp_path / "b.py"}
    monkeypatch.setattr(sys.modules[__name__], "MODULES", fake)
    assert cycles() == [["mmtheory.x.a", "mmtheory.x.b"]]


def test_no_import_cycle_inside_the_package():
    assert cycles() == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_over_500_lines(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it along the mathematics it holds"


def test_the_layout_has_one_subpackage_per_part_and_the_shared_rooms():
    for part in PARTS:
        assert (PACKAGE / part / "__init__.py").is_file(), part
        assert (PACKAGE / part / "experiments.py").is_file(), f"{part}: experiments apart from the math"
        assert (PACKAGE / part / "figures.py").is_file(), f"{part}: figures apart from the math"
    for room in SHARED:
        assert (PACKAGE / f"{room}.py").is_file(), room


def _public_definitions(path: Path) -> list[str]:
    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return [n for n in names if not n.startswith("_")]


def _all_of(init: Path) -> list[str]:
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return [ast.literal_eval(e) for e in node.value.elts]
    return []


@pytest.mark.parametrize("part", PARTS)
def test_each_part_re_exports_every_public_name_of_its_modules(part):
    exported = set(_all_of(PACKAGE / part / "__init__.py"))
    for path in sorted((PACKAGE / part).glob("*.py")):
        if path.name == "__init__.py":
            continue
        assert path.stem in exported, f"mmtheory.{part} should export the module {path.stem}"
        if path.stem == "bp":  # belief propagation is used as a namespace: bp.upward, bp.root_posterior, ...
            continue
        missing = set(_public_definitions(path)) - exported
        assert not missing, f"mmtheory.{part}.{path.stem} defines {sorted(missing)}, not re-exported by mmtheory.{part}"


def test_no_part_imports_another_parts_private_names():
    offences = []
    for name in MODULES:
        own = name.split(".")[1] if name.count(".") else ""
        for target, names in imports(name):
            parts = target.split(".")
            other = len(parts) > 1 and parts[1] != own
            offences += [f"{name} imports {target}.{n}" for n in names if other and n.startswith("_")]
    assert offences == []


def _client_imports(text: str) -> list[str]:
    return re.findall(r"^\s*from (mmtheory[\w.]*) import", text, re.M) + re.findall(r"^\s*import (mmtheory[\w.]*)",
                                                                                     text, re.M)


ALLOWED_CLIENT_MODULES = {"mmtheory", *(f"mmtheory.{p}" for p in PARTS), *(f"mmtheory.{s}" for s in SHARED)}


def _clients() -> list[Path]:
    chapters = [p for p in (ROOT / "book").rglob("*.md") if "node_modules" not in p.parts and "_build" not in p.parts]
    return [*sorted(chapters), *sorted((ROOT / "tests").rglob("*.py")),
            *sorted((ROOT / "benchmarks").glob("*.py"))]


@pytest.mark.parametrize("path", _clients(), ids=lambda p: str(p.relative_to(ROOT)))
def test_chapters_tests_and_benchmarks_import_only_the_public_api(path):
    deep = [m for m in _client_imports(path.read_text()) if m not in ALLOWED_CLIENT_MODULES]
    assert deep == [], f"{path.name} imports from {deep}: import from mmtheory.<part> instead"
    private = re.findall(r"^\s*from mmtheory[\w.]* import \(?[^)\n]*\b(_\w+)", path.read_text(), re.M)
    assert private == [], f"{path.name} imports private names {private}"
