"""Numbers quoted from papers and official repositories, each with its source: one home for all of them.

They live in ``mmtheory/data/paper_values.toml``; chapters glue them into the text and compare the book's
own numbers against them in code, and tests use the same entries, so a quoted number is typed once.
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from importlib import resources


@dataclasses.dataclass(frozen=True)
class PaperValue:
    """A quoted number (or a table of numbers, by name) and where it comes from."""

    key: str
    value: float | dict
    source: str
    note: str = ""


@functools.cache
def _table() -> dict[str, PaperValue]:
    raw = tomllib.loads(resources.files("mmtheory").joinpath("data/paper_values.toml").read_text())
    entries: dict[str, PaperValue] = {}

    def walk(node: dict, prefix: str) -> None:
        if "value" in node:
            entries[prefix] = PaperValue(prefix, node["value"], node["source"], node.get("note", ""))
            return
        for name, child in node.items():
            walk(child, f"{prefix}.{name}" if prefix else name)

    walk(raw, "")
    return entries


def paper_value(key: str) -> PaperValue:
    """The entry ``key`` (dotted, e.g. ``"jghm.bayes_risk.p020"``); ``ValueError`` naming the known keys if absent."""
    table = _table()
    if key not in table:
        raise ValueError(f"key must be one of {sorted(table)}, got {key!r}")
    return table[key]


def paper_values(prefix: str = "") -> dict[str, PaperValue]:
    """Every entry whose key starts with ``prefix``, by key."""
    return {k: v for k, v in _table().items() if k.startswith(prefix)}
