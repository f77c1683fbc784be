"""Argument checks shared by the public API: one message style, raised before any C++ runs.

Every check names the argument and its allowed domain, e.g.
``ValueError("Invalid lr: -0.1; expected a finite number > 0")``.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


def _fail(name: str, value: Any, domain: str) -> ValueError:
    return ValueError(f"Invalid {name}: {value!r}; expected {domain}")


def check_real(name: str, value: Any) -> float:
    """Return ``value`` as a float; ``TypeError`` unless it is a real number (bools are rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Invalid {name}: expected a real number, got {type(value).__name__}")
    return float(value)


def check_positive(name: str, value: Any, *, allow_inf: bool = False) -> float:
    """A real number ``> 0`` (finite unless ``allow_inf``); NaN is rejected."""
    v = check_real(name, value)
    if math.isnan(v) or v <= 0 or (math.isinf(v) and not allow_inf):
        raise _fail(name, value, "a number > 0" if allow_inf else "a finite number > 0")
    return v


def check_interval(name: str, value: Any, lo: float, hi: float, *, lo_open: bool, hi_open: bool) -> float:
    """A real number in the interval between ``lo`` and ``hi`` (open or closed at each end)."""
    v = check_real(name, value)
    ok_lo = v > lo if lo_open else v >= lo
    ok_hi = v < hi if hi_open else v <= hi
    if math.isnan(v) or not (ok_lo and ok_hi):
        left = "<" if lo_open else "<="
        right = "<" if hi_open else "<="
        raise _fail(name, value, f"{lo:g} {left} {name} {right} {hi:g}")
    return v


def check_int(name: str, value: Any, *, minimum: int, maximum: int | None = None) -> int:
    """An integer (Python or numpy, not bool) in ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Invalid {name}: expected an integer, got {type(value).__name__}")
    v = int(value)
    if v < minimum or (maximum is not None and v > maximum):
        upper = f" and <= {maximum}" if maximum is not None else ""
        raise _fail(name, value, f"an integer >= {minimum}{upper}")
    return v


def check_optional_int(name: str, value: Any, *, minimum: int) -> int | None:
    return None if value is None else check_int(name, value, minimum=minimum)


def check_array(name: str, value: Any, *, ndim: int | tuple[int, ...] | None = None,
                allow_nonfinite: bool = False, allow_nan: bool = False) -> np.ndarray:
    """A real float64 array (a copy only when needed) of the given number of dimensions, finite by default."""
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and other objects numpy refuses
        raise TypeError(f"Invalid {name}: cannot be converted to an array ({exc})") from None
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"Invalid {name}: expected real numbers, got an array of dtype {arr.dtype}")
    arr = np.asarray(arr, dtype=np.float64)
    if not arr.flags.c_contiguous:  # np.ascontiguousarray would also turn 0-d into 1-d
        arr = arr.copy(order="C")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed:
            raise ValueError(f"Invalid {name}: expected {' or '.join(map(str, allowed))} dimension(s), "
                             f"got shape {arr.shape}")
    if not allow_nonfinite:
        if not np.all(np.isfinite(arr)):
            raise _fail(name, _abbrev(arr), "finite numbers (no NaN or inf)")
    elif not allow_nan and np.any(np.isnan(arr)):
        raise _fail(name, _abbrev(arr), "numbers that are not NaN")
    return arr


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise TypeError(f"Invalid {name}: expected one of {choices}, got {type(value).__name__}")
    if value not in choices:
        raise _fail(name, value, f"one of {', '.join(map(repr, choices))}")
    return value


def check_n_threads(value: Any) -> int:
    """``None`` (all cores, OMP_NUM_THREADS respected) or an integer >= 1; returns 0 for None."""
    return 0 if value is None else check_int("n_threads", value, minimum=1, maximum=4096)


def _abbrev(arr: np.ndarray) -> str:
    return np.array2string(arr, threshold=6, edgeitems=2)


def check_real_where(name: str, value: Any, ok: Any, domain: str, *, allow_inf: bool = False) -> float:
    """A real number (not NaN; finite unless ``allow_inf``) for which ``ok(float(value))`` holds.

    For domains the other checkers do not express, e.g. ``lo < minimum``; ``domain`` is the text after
    "expected" in the message.
    """
    v = check_real(name, value)
    if math.isnan(v) or (math.isinf(v) and not allow_inf) or not ok(v):
        raise _fail(name, v, domain)
    return v


def check_truncation_threshold(name: str, value: Any) -> float:
    """A truncation threshold: a number ``> 0``; ``None`` or ``inf`` (untruncated) give ``inf``."""
    if value is None:
        return math.inf
    return check_real_where(name, value, lambda v: v > 0, f"{name} > 0 (or None/inf for untruncated)",
                            allow_inf=True)


def check_probability(name: str, value: Any) -> float:
    """A probability, ``0 <= value <= 1``."""
    return check_interval(name, value, 0.0, 1.0, lo_open=False, hi_open=False)


def check_domain(name: str, value: Any) -> tuple[float, float]:
    """An interval ``(lo, hi)`` given as a pair, ``-inf <= lo < hi <= inf``."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"Invalid {name}: expected a pair (lo, hi), got {value!r}")
    lo = check_real_where(f"{name}[0]", value[0], lambda v: v < math.inf, f"-inf <= {name}[0] < inf",
                          allow_inf=True)
    hi = check_real_where(f"{name}[1]", value[1], lambda v: v > lo, f"{name}[1] > {name}[0]", allow_inf=True)
    return lo, hi


def check_nonnegative(name: str, value: Any, *, label: str | None = None) -> float:
    """A finite real number ``>= 0``; ``label`` replaces ``name`` in the ValueError (torch's wording, e.g.
    "learning rate")."""
    v = check_real(name, value)
    if not (math.isfinite(v) and v >= 0):
        raise _fail(label or name, value, "a finite number >= 0")
    return v


def check_bool(name: str, value: Any) -> bool:
    """A Python or numpy bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"Invalid {name}: expected a bool, got {type(value).__name__}")
    return bool(value)
