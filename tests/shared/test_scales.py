"""One pattern for the settings of a scale: a frozen dataclass with a ``for_scale`` classmethod.

Every registered experiment reads its settings through ``XSettings.for_scale(scale)``, and every chapter that
needs its own scale-dependent numbers reads them from a ``...Chapter`` class of the same kind. Nothing else
indexes a mapping by the scale: the sources and the chapters' code cells are checked with ``ast``.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil
import textwrap
from pathlib import Path

import jupytext
import pytest

from mmtheory.registry import EXPERIMENT_MODULES, experiments
from mmtheory.runtime import ScaleSettings, SCALE_ENV, SCALES

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "mmtheory"
BOOK = ROOT / "book"


def _indexed_by_scale(node: ast.Subscript) -> bool:
    """``x[scale]`` or ``x[resolve_scale(...)]``."""
    key = node.slice
    if isinstance(key, ast.Name):
        return key.id == "scale"
    return isinstance(key, ast.Call) and isinstance(key.func, ast.Name) and key.func.id == "resolve_scale"


def scale_lookups(tree: ast.AST) -> list[int]:
    """Lines of the subscripts by the scale outside a ``for_scale`` method (the one place allowed to do it)."""
    lines = []

    def visit(node: ast.AST, inside: bool) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "for_scale":
            inside = True
        if isinstance(node, ast.Subscript) and _indexed_by_scale(node) and not inside:
            lines.append(node.lineno)
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(tree, False)
    return lines


def chapter_code(path: Path) -> str:
    """The code cells of a MyST notebook, magics and shell lines commented out."""
    cells = [c.source for c in jupytext.read(path).cells if c.cell_type == "code"]
    lines = [f"# {line}" if line.lstrip().startswith(("%", "!")) else line
             for cell in cells for line in cell.splitlines()]
    return "\n".join(lines)


SOURCES = sorted(PACKAGE.rglob("*.py"))
CHAPTERS = sorted(p for p in BOOK.rglob("*.md")
                  if "node_modules" not in p.parts and "```{code-cell}" in p.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_source_indexes_a_mapping_by_the_scale(path):
    found = scale_lookups(ast.parse(path.read_text()))
    assert not found, f"{path.name} indexes by the scale on lines {found}: read a settings class's for_scale"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: str(p.relative_to(BOOK)))
def test_no_chapter_indexes_a_mapping_by_the_scale(path):
    found = scale_lookups(ast.parse(chapter_code(path)))
    assert not found, f"{path.name} indexes by the scale (code line {found}): read a ...Chapter.for_scale field"


def test_the_checks_catch_a_dict_by_scale():
    assert scale_lookups(ast.parse('steps = {"quick": 1, "book": 2, "full": 3}[scale]')) == [1]
    assert scale_lookups(ast.parse("SIZES = {}\ndef f(scale):\n    return SIZES[resolve_scale(scale)]")) == [3]
    assert scale_lookups(ast.parse("class S:\n    def for_scale(cls, scale):\n        return _S[scale]")) == []


def settings_classes_read_by(run) -> list[type]:
    """The classes whose ``for_scale`` the experiment function ``run`` calls (``Name.for_scale(...)``)."""
    run = inspect.unwrap(run)
    tree = ast.parse(textwrap.dedent(inspect.getsource(run)))
    names = {node.func.value.id for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "for_scale"
             and isinstance(node.func.value, ast.Name)}
    module = vars(importlib.import_module(run.__module__))
    return [module[name] for name in sorted(names)]


EXPERIMENTS = experiments()


def all_settings_classes() -> list[type]:
    """Every settings class (experiment and chapter settings: a ``ScaleSettings``) defined in a module of a part
    that registers experiments."""
    found = []
    for part in EXPERIMENT_MODULES:
        package = importlib.import_module(part.rsplit(".", 1)[0])
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            module = importlib.import_module(info.name)
            found += [obj for obj in vars(module).values()
                      if inspect.isclass(obj) and obj.__module__ == info.name and issubclass(obj, ScaleSettings)]
    return found


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_every_experiment_reads_its_settings_through_for_scale(name):
    classes = settings_classes_read_by(EXPERIMENTS[name].run)
    assert len(classes) == 1, f"{name} should read exactly one settings class's for_scale, reads {classes}"


def test_every_chapter_settings_class_is_read_by_its_chapter():
    chapters = {cls for cls in all_settings_classes() if cls.__name__.endswith("Chapter")}
    assert chapters
    code = "\n".join(chapter_code(p) for p in CHAPTERS)
    for cls in chapters:
        assert f"{cls.__name__}.for_scale(" in code, f"no chapter reads {cls.__name__}"
        assert cls.__doc__ and cls.__doc__.startswith("Read by ``book/"), f"{cls.__name__}: say which chapter"


@pytest.mark.parametrize("cls", all_settings_classes(), ids=lambda c: c.__name__)
def test_settings_classes_are_frozen_dataclasses_with_one_instance_per_scale(cls, monkeypatch):
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, f"{cls.__name__} must be frozen"
    assert isinstance(inspect.getattr_static(cls, "for_scale"), classmethod)
    assert tuple(cls.SCALES) == SCALES, f"{cls.__name__}.SCALES must hold one instance for each of {SCALES}"
    for scale in SCALES:
        settings = cls.for_scale(scale)
        assert type(settings) is cls
        assert cls.for_scale(scale) == settings
        monkeypatch.setenv(SCALE_ENV, scale)
        assert cls.for_scale() == settings  # no argument: the scale of the environment
    with pytest.raises(ValueError, match="scale"):
        cls.for_scale("huge")
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(cls.for_scale("quick"), dataclasses.fields(cls)[0].name, None)


def test_every_experiment_settings_class_is_checked():
    read = {cls for exp in EXPERIMENTS.values() for cls in settings_classes_read_by(exp.run)}
    assert read <= set(all_settings_classes())
