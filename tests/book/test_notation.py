"""The notation page names the library's code: every name in its "in code" column exists in ``mmtheory``."""

import importlib
import re

import pytest
from conftest import ROOT

PARTS = ("sufficiency", "jghm", "contexture", "icl", "neighbours")
SOURCE = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "src" / "mmtheory").rglob("*.py"))


def code_names() -> list[str]:
    """The backticked names of the last column of every notation table row."""
    names = []
    for line in (ROOT / "book" / "notation.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            names += re.findall(r"`([^`]+)`", line.rstrip().rstrip("|").rsplit("|", 1)[-1])
    return names


def public(name: str):
    for module in ("mmtheory", *(f"mmtheory.{p}" for p in PARTS)):
        found = getattr(importlib.import_module(module), name, None)
        if found is not None:
            return found
    return None


def test_the_page_names_code():
    assert len(code_names()) >= 20


@pytest.mark.parametrize("name", code_names())
def test_each_code_name_exists_in_the_library(name):
    call = re.fullmatch(r"([A-Za-z_]\w*)\(.*\)", name)
    dotted = re.fullmatch(r"([A-Za-z_]\w*)\.(\w+)", name)
    if call:  # a function or class of the public API
        assert callable(public(call.group(1))), f"{call.group(1)} is not a public name of mmtheory"
    elif dotted:  # a class and its attribute or field
        owner = public(dotted.group(1))
        assert owner is not None, f"{dotted.group(1)} is not a public name of mmtheory"
        fields = getattr(owner, "__dataclass_fields__", {})
        assert hasattr(owner, dotted.group(2)) or dotted.group(2) in fields or \
            re.search(rf"\bself\.{dotted.group(2)}\b", SOURCE), f"{name}: no attribute {dotted.group(2)}"
    else:  # an argument or variable name the library uses
        for part in re.split(r"[^\w]+", name):
            assert not part or re.search(rf"\b{re.escape(part)}\b", SOURCE), f"{part!r} does not occur in the library"
