"""Claims about computed results, checked where the book makes them.

A chapter states a result in prose ("the guided encoder's risk is below the standard one's") right after the
cell that computes it; a hidden cell then checks the statement against the numbers with :func:`check` (or one of
its forms for the usual comparisons). A false statement raises :class:`ClaimError`, naming the chapter, the
claim and the measured values, so the strict book build fails instead of printing a sentence its output
contradicts. A true one is recorded; the appendix "What the book checks" lists every record of a build.

Records go to ``$MMTHEORY_CLAIMS_DIR/<chapter>.json`` when that variable is set (the book build sets it), one
file per chapter, rewritten by :func:`begin` at the top of each chapter. A claim that only holds at the scale
the site shows is made with ``needs="book"``: at ``quick`` scale it is recorded as skipped, with a message,
never silently.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from .runtime import SCALES, resolve_scale

CLAIMS_ENV = "MMTHEORY_CLAIMS_DIR"

_state: dict = {"chapter": None, "records": []}


class ClaimError(AssertionError):
    """A statement the book makes about a computed result is false of the numbers it computed."""


def begin(chapter: str) -> None:
    """Start the claims of ``chapter`` (e.g. ``"jghm/pretraining"``): forget earlier records of this kernel."""
    if not isinstance(chapter, str) or not chapter:
        raise ValueError(f"chapter must be a non-empty string such as 'jghm/pretraining', got {chapter!r}")
    _state["chapter"], _state["records"] = chapter, []
    _write()


def records() -> list[dict]:
    """The claims checked since the last :func:`begin`, in order."""
    return list(_state["records"])


def _number(value):
    """``value`` as JSON can hold it: arrays and NumPy scalars as lists and numbers, at any depth."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): _number(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_number(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _write() -> None:
    folder = os.environ.get(CLAIMS_ENV)
    if not folder or _state["chapter"] is None:
        return
    path = Path(folder) / (_state["chapter"].replace("/", "--") + ".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"chapter": _state["chapter"], "claims": _state["records"]}, indent=1))
    tmp.replace(path)


def _record(claim: str, status: str, measured: dict, rule: str, scale: str) -> dict:
    entry = {"claim": claim, "status": status, "rule": rule, "scale": scale,
             "measured": {k: _number(v) for k, v in measured.items()}}
    _state["records"].append(entry)
    _write()
    return entry


def glue_number(key: str, value) -> float:
    """Make the number ``value`` available to the text as ``{glue:text}`key:.3f```, without showing it here.

    NumPy scalars are turned into plain floats first (their ``repr`` would not format). Needs ``myst_nb``
    (the book's extra); returns the number glued.
    """
    from myst_nb import glue

    number = float(value)
    glue(key, number, display=False)
    return number


def check(condition, claim: str, rule: str = "", needs: str | None = None, scale: str | None = None,
          **measured) -> dict:
    """Check that ``claim`` (the sentence as the text says it) holds: ``condition`` is its test on the numbers.

    ``measured`` holds the numbers the condition compares (they are recorded and shown in the error);
    ``rule`` says the test in words (e.g. ``"a < b"``, ``"|a - b| <= 2 se"``). With ``needs="book"`` the claim is
    only tested at the ``book`` or ``full`` scale; at ``quick`` it is recorded as skipped and a line is printed.
    Returns the record; raises :class:`ClaimError` when the condition is false.
    """
    if not isinstance(claim, str) or not claim.strip():
        raise ValueError(f"claim must be the sentence the text states, got {claim!r}")
    if needs not in (None, *SCALES):
        raise ValueError(f"needs must be one of {SCALES} or None, got {needs!r}")
    scale = resolve_scale(scale)
    if needs is not None and SCALES.index(scale) < SCALES.index(needs):
        print(f"claim not tested at scale {scale!r} (it needs {needs!r}): {claim}")
        return _record(claim, "skipped", measured, rule, scale)
    if not bool(condition):
        values = ", ".join(f"{k} = {_number(v)!r}" for k, v in measured.items())
        raise ClaimError(f"[{_state['chapter'] or 'no chapter'}] false claim at scale {scale!r}: {claim!r}"
                         f" ({rule or 'condition false'}; {values})")
    return _record(claim, "holds", measured, rule, scale)


def check_less(a: float, b: float, claim: str, margin: float = 0.0, **kwargs) -> dict:
    """The claim that ``a`` is below ``b`` (by more than ``margin``, e.g. a multiple of a standard error)."""
    rule = "a < b" if margin == 0 else f"a < b - {margin:.3g}"
    return check(a < b - margin, claim, rule=rule, a=a, b=b, **kwargs)


def check_close(a: float, b: float, tolerance: float, claim: str, **kwargs) -> dict:
    """The claim that ``a`` and ``b`` agree to within ``tolerance`` (an absolute difference)."""
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be a non-negative number, got {tolerance!r}")
    return check(abs(a - b) <= tolerance, claim, rule=f"|a - b| <= {tolerance:.3g}", a=a, b=b, **kwargs)


def check_indistinguishable(a: float, b: float, se: float, claim: str, k: float = 2.0, **kwargs) -> dict:
    """The claim that ``a`` and ``b`` are indistinguishable at this budget: within ``k`` standard errors ``se``."""
    if not se >= 0:
        raise ValueError(f"se must be a non-negative number, got {se!r}")
    return check(abs(a - b) <= k * se, claim, rule=f"|a - b| <= {k:g} se", a=a, b=b, se=se, **kwargs)
