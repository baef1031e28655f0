"""Small numerical routines shared by the theory modules (numpy only, no scipy)."""

from __future__ import annotations

import math


def golden_min(f, low: float, high: float, tol: float = 1e-13) -> float:
    """Minimiser of a unimodal function on ``[low, high]`` by golden-section search."""
    ratio = (math.sqrt(5) - 1) / 2
    a, b = low, high
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = f(c), f(d)
    while b - a > tol:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = f(d)
    return 0.5 * (a + b)
