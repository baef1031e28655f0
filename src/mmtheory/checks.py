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
