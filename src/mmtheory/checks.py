"""Argument checks shared by the modules: raised early, naming the argument and the accepted range."""

from __future__ import annotations

import numpy as np


def check_integer(value, name: str, low: int, high: int | None = None, note: str = "") -> int:
    """Return ``value`` as an ``int`` if it is an integer (not a bool) in ``[low, high]``; else ``ValueError``.

    The message reads ``"{name} must be an integer >= {low}"`` (or ``"in [low, high]"``), then ``note``
    in parentheses, then the value received.
    """
    ok = not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        accepted = f">= {low}" if high is None else f"in [{low}, {high}]"
        extra = f" ({note})" if note else ""
        raise ValueError(f"{name} must be an integer {accepted}{extra}, got {value!r}")
    return int(value)


def check_probability(p, name: str, closed_low: bool = True, closed_high: bool = True) -> float:
    """Return ``p`` as a float if it is a number in [0, 1] (ends open as asked); else ``ValueError`` naming ``name``."""
    number = isinstance(p, (int, float, np.integer, np.floating)) and not isinstance(p, bool)
    ok = number and (p >= 0 if closed_low else p > 0) and (p <= 1 if closed_high else p < 1)
    if not ok:
        interval = ("[" if closed_low else "(") + "0, 1" + ("]" if closed_high else ")")
        raise ValueError(f"{name} must be in {interval}, got {p!r}")
    return float(p)


def check_positive(value, name: str, note: str = "", allow_zero: bool = False) -> float:
    """Return ``value`` as a float if it is a finite number > 0 (>= 0 with ``allow_zero``); else ``ValueError``."""
    number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = number and np.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        accepted = "a non-negative number" if allow_zero else "a positive number"
        extra = f" ({note})" if note else ""
        raise ValueError(f"{name} must be {accepted}{extra}, got {value!r}")
    return float(value)
