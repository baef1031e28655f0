"""Small numerical routines shared by the theory modules (numpy only, no scipy)."""

from __future__ import annotations

import math

import numpy as np


def mean_se(values) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over the last axis (the seeds or draws); the error is 0 for a single value."""
    values = np.asarray(values, dtype=float)
    k = values.shape[-1]
    se = values.std(axis=-1, ddof=1) / math.sqrt(k) if k > 1 else np.zeros(values.shape[:-1])
    return values.mean(axis=-1), se


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
