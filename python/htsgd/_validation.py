"""Argument checks shared by the public API: one message style, raised before any C++ runs.

Every check names the argument and its allowed domain, e.g.
``ValueError("Invalid lr: -0.1; expected a finite number > 0")``.
"""
from __future__ import annotations

import functools
import math
import numbers
import os
import sys
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
        raise TypeError(f"Invalid {name}: expected real numbers in a regular array; cannot be converted "
                        f"({exc})") from None
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


def thread_limit() -> int:
    """The most OpenMP threads a call may ask for: 8 per core, at least 64.

    Results do not depend on the thread count, so more threads than cores buy nothing; far more can make
    the OpenMP runtime fail to create them, which ends the process (libgomp aborts) instead of raising.
    """
    return max(64, 8 * (os.cpu_count() or 1))


def check_n_threads(value: Any) -> int:
    """``None`` (all cores, OMP_NUM_THREADS respected) or an integer in ``[1, thread_limit()]``; returns 0
    for None (the OpenMP default), or ``thread_limit()`` where OMP_NUM_THREADS asks for more."""
    if value is None:
        from ._core import max_threads as omp_default  # imported here: the torch extra needs no _core

        return 0 if omp_default() <= thread_limit() else thread_limit()
    return check_int("n_threads", value, minimum=1, maximum=thread_limit())


# ---------------------------------------------------------------- ranges where the noise samplers are exact
# The engine's uniforms are (2j + 1) 2^-53 (Student t: u^2 + v^2 >= 2^-104), so each sampler has a largest
# variate; outside these ranges it (or an intermediate of its formula) overflows to inf. The laws'
# constructors refuse those parameters. (A tiny scale is allowed: its variates round toward 0, never to
# inf or NaN, and a vanishing noise is a legitimate way to run the deterministic drift.)
_LN_MAX = math.log(sys.float_info.max) - 1.0  # one e of margin for the kernels' rounding
_LN_U = 53.0 * math.log(2.0)                  # -log of the smallest uniform


def _ln_max_variate(kind: str, alpha: float) -> float:
    """log of the largest |variate| / scale of the engine's sampler (and of its largest intermediate)."""
    if kind == "pareto":  # scale * expm1(-log(U) / alpha)
        return _LN_U / alpha
    if kind == "stable":  # sin(.) exp(E), E = -log cos(V) / alpha + (1 - alpha) / alpha log(cos(.) / W)
        ln_w = math.log(_LN_U)  # W = -log U lies in [2^-53, 36.7]
        if alpha < 1.0:
            return _LN_U / alpha + (1.0 - alpha) / alpha * _LN_U
        return _LN_U / alpha + (alpha - 1.0) / alpha * (_LN_U + ln_w)
    if kind == "student_t":  # u sqrt(df expm1(-2/df log w) / w), w >= 2^-104
        inner = 4.0 * _LN_U / alpha + math.log(4.0 * _LN_U) + 2.0 * _LN_U  # df expm1(t) <= 4 ln(2^53) e^t
        return max(inner, 0.5 * inner)  # the radicand itself must stay finite
    return 0.5 * math.log(2.0 * _LN_U)  # gaussian: sqrt(-2 log U)


@functools.lru_cache(maxsize=None)
def _min_alpha(kind: str) -> float:
    """The smallest alpha (3 significant digits, rounded up) whose largest variate is finite for scale 1."""
    lo, hi = 1e-6, 10.0  # _ln_max_variate decreases in alpha
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        lo, hi = (lo, mid) if _ln_max_variate(kind, mid) <= _LN_MAX else (mid, hi)
    unit = 10.0 ** (math.floor(math.log10(hi)) - 2)
    return round(math.ceil(hi / unit) * unit, 12)


def check_noise_range(kind: str, alpha_name: str, alpha: float, scale: float) -> None:
    """Refuse a law's parameters where its sampler is not exact: variates (or intermediates) that overflow
    to inf. ``alpha`` and ``scale`` are already checked finite and > 0."""
    if kind != "gaussian" and alpha < _min_alpha(kind):
        raise _fail(alpha_name, alpha, f"a number >= {_min_alpha(kind):g} (below it the sampler's largest "
                                       "variates overflow to inf)")
    largest = math.exp(_LN_MAX - _ln_max_variate(kind, alpha))
    if scale > largest:
        given = "" if kind == "gaussian" else f" for {alpha_name}={alpha:g}"
        raise _fail("scale", scale, f"0 < scale <= {largest:.4g}{given} (above it the sampler's largest "
                                    "variates overflow to inf)")


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
