"""Adapters from the objects users pass (noise laws, landscapes, callables) to the functions the theory needs.

Numbers are checked by :mod:`htsgd._validation`; this module only turns objects into callables and says
which objects it cannot use.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..basins import Basin
from .._validation import check_interval

__all__ = ["check_basin", "check_heavy_alpha", "noise_alpha", "tail_function"]


def check_heavy_alpha(alpha) -> float:
    """A tail index of a heavy tail with a finite mean, ``1 < alpha < inf``."""
    return check_interval("alpha", alpha, 1.0, math.inf, lo_open=True, hi_open=True)


def check_basin(basin) -> Basin:
    if not isinstance(basin, Basin):
        raise TypeError(f"Invalid basin: expected a Basin, got {type(basin).__name__}")
    return basin


def tail_function(tail):
    """A scalar tail ``H(x) = P(|Z| > x)`` from a noise object (``.tail``) or a vectorised callable."""
    fn = getattr(tail, "tail", None)
    fn = fn if callable(fn) else tail
    if not callable(fn):
        raise TypeError(f"Invalid tail: expected a noise object with .tail or a callable H(x), "
                        f"got {type(tail).__name__}")

    def H(x):
        h = float(np.asarray(fn(np.asarray([float(x)])), dtype=float).reshape(-1)[0])
        if not 0.0 <= h <= 1.0:  # also rejects NaN
            raise ValueError(f"Invalid tail: H({x!r}) = {h!r}; expected 0 <= H(x) <= 1")
        return h
    return H


def noise_alpha(noise):
    """The tail index of a noise object, refused for light (Gaussian) tails."""
    alpha = getattr(noise, "alpha", None)
    if alpha is None:
        raise TypeError(f"Invalid noise: expected a noise object with .alpha and .tail, got {type(noise).__name__}")
    if isinstance(alpha, numbers.Real) and math.isinf(alpha):
        raise ValueError("Invalid noise: alpha = inf (Gaussian); expected a heavy tail (exit times are "
                         "exponential in the depth, not a power law)")
    return alpha
