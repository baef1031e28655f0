"""Argument checks shared by the modules: raised early, naming the argument and the accepted range."""

from __future__ import annotations

import functools
import inspect

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


# --------------------------------------------------------------------------- declared constraints
# In the spirit of scikit-learn's ``_parameter_constraints``: a public function declares the range of each
# argument once, with ``@constrain(n=Integer(1), p=Probability())``; the declaration is checked at call time
# and kept on the function (``fn.__constraints__``) so that one common test can call every function with
# the ``invalid()`` examples of each declared argument and expect a ``ValueError`` naming it.

_BAD_TYPE = "1"  # a string: refused wherever a number is expected


class Constraint:
    """The accepted values of one argument. ``label`` (e.g. ``"the mask rate"``) is shown after the name;
    ``none_ok`` also accepts ``None`` (an omitted optional argument)."""

    def __init__(self, label: str = "", none_ok: bool = False):
        self.label, self.none_ok = label, none_ok

    def check(self, value, name: str) -> None:
        """Raise ``ValueError`` whose message starts with ``name`` unless ``value`` is accepted."""
        if not (value is None and self.none_ok):
            self._check(value, f"{name} ({self.label})" if self.label else name)

    def _check(self, value, name: str) -> None:  # pragma: no cover - every constraint defines it
        raise NotImplementedError

    def invalid(self) -> list:
        """A few values this constraint refuses (used by the common test)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if v not in ("", None, False))
        return f"{type(self).__name__}({fields})"


class Integer(Constraint):
    """An integer (not a bool) in ``[low, high]`` (``high=None``: unbounded); the message of :func:`check_integer`."""

    def __init__(self, low: int, high: int | None = None, note: str = "", **kw):
        super().__init__(**kw)
        self.low, self.high, self.note = low, high, note

    def _check(self, value, name):
        check_integer(value, name, self.low, self.high, self.note)

    def invalid(self):
        return [self.low - 1, self.low + 0.5, _BAD_TYPE] + ([self.high + 1] if self.high is not None else [])


class Probability(Constraint):
    """A number in ``[0, 1]``, either end open as asked; the message of :func:`check_probability`."""

    def __init__(self, closed_low: bool = True, closed_high: bool = True, **kw):
        super().__init__(**kw)
        self.closed_low, self.closed_high = closed_low, closed_high

    def _check(self, value, name):
        check_probability(value, name, self.closed_low, self.closed_high)

    def invalid(self):
        return [-0.1, 1.1, float("nan"), _BAD_TYPE] + ([] if self.closed_low else [0.0]) + \
            ([] if self.closed_high else [1.0])


class Positive(Constraint):
    """A finite number > 0 (>= 0 with ``allow_zero``); the message of :func:`check_positive`."""

    def __init__(self, allow_zero: bool = False, note: str = "", **kw):
        super().__init__(**kw)
        self.allow_zero, self.note = allow_zero, note

    def _check(self, value, name):
        check_positive(value, name, self.note, self.allow_zero)

    def invalid(self):
        return [-1.0, float("inf"), float("nan"), _BAD_TYPE] + ([] if self.allow_zero else [0.0])


class Real(Constraint):
    """A finite real number between ``low`` and ``high`` (``None``: unbounded); ``closed`` says which ends belong."""

    def __init__(self, low: float | None = None, high: float | None = None, closed: str = "both", **kw):
        if closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"closed must be 'both', 'left', 'right' or 'neither', got {closed!r}")
        super().__init__(**kw)
        self.low, self.high, self.closed = low, high, closed

    def _check(self, value, name):
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
            and bool(np.isfinite(value))
        ok = ok and (self.low is None or (value >= self.low if left else value > self.low))
        ok = ok and (self.high is None or (value <= self.high if right else value < self.high))
        if not ok:
            if self.low is not None and self.high is not None:
                accepted = f"in {'[' if left else '('}{self.low}, {self.high}{']' if right else ')'}"
            elif self.low is not None:
                accepted = f"{'>=' if left else '>'} {self.low}"
            elif self.high is not None:
                accepted = f"{'<=' if right else '<'} {self.high}"
            else:
                accepted = "a finite number"
            raise ValueError(f"{name} must be {accepted}, got {value!r}")

    def invalid(self):
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        out = [float("nan"), float("inf"), _BAD_TYPE]
        if self.low is not None:
            out.append(self.low - 1 if left else self.low)
        if self.high is not None:
            out.append(self.high + 1 if right else self.high)
        return out


class OneOf(Constraint):
    """One of a few fixed options (compared with ``==``)."""

    def __init__(self, *options, **kw):
        super().__init__(**kw)
        self.options = options

    def _check(self, value, name):
        try:
            ok = any(value is o or bool(value == o) for o in self.options)
        except (TypeError, ValueError):  # an array compared with an option
            ok = False
        if not ok:
            raise ValueError(f"{name} must be one of {self.options}, got {value!r}")

    def invalid(self):
        return [x for x in ("not-an-option", -12345) if x not in self.options]


class Scale(Constraint):
    """A run scale: ``quick``, ``book``, ``full`` or ``None`` (the environment's); the message of ``resolve_scale``."""

    def _check(self, value, name):
        from .runtime import resolve_scale

        resolve_scale(value)

    def invalid(self):
        return ["huge", 3]


class Device(Constraint):
    """A torch device that this machine has (or ``None``); the messages of ``get_device``."""

    def _check(self, value, name):
        from .runtime import get_device

        get_device(value)

    def invalid(self):
        return ["tpu", 3.5]


def constrain(**constraints: Constraint):
    """Decorator: check the named arguments against their constraints on every call, before the body runs.

    Arguments are checked in the order of the signature, so the first bad one is the one named. The
    declaration is kept as ``fn.__constraints__`` (merged with one already there, for stacked decorators).
    """

    def decorate(fn):
        signature = inspect.signature(fn)
        unknown = set(constraints) - set(signature.parameters)
        if unknown:
            raise TypeError(f"{fn.__qualname__} has no argument(s) {sorted(unknown)} to constrain")
        order = [name for name in signature.parameters if name in constraints]

        @functools.wraps(fn)
        def checked(*args, **kwargs):
            given = signature.bind_partial(*args, **kwargs).arguments
            for name in order:
                if name in given:
                    constraints[name].check(given[name], name)
            return fn(*args, **kwargs)

        checked.__constraints__ = {**getattr(fn, "__constraints__", {}), **constraints}
        return checked

    return decorate
