"""Jump counts and time scales: ``l* = ceil(r/b)``, ``lambda(lr) = H(1/lr)/lr``, ``lambda_b(lr) = lr lambda^l*``.

Rates are combined in log space: at tiny learning rates ``H(1/lr)`` and ``lr`` underflow while their
ratios and powers stay meaningful (or overflow to ``inf``, never to an exception).
"""
from __future__ import annotations

import math
from fractions import Fraction

from .._validation import check_int, check_interval, check_positive, check_truncation_threshold
from ._inputs import check_heavy_alpha, tail_function

__all__ = ["exit_rate_scale", "exit_time_exponent", "jump_rate", "jumps_needed", "log_exit_rate_scale"]


def jumps_needed(r, b) -> int:
    """Number of truncated jumps needed to leave a basin of width ``r``: ``l* = ceil(r/b)``.

    Parameters
    ----------
    r : float
        Basin width (distance from the minimum to the nearer boundary), ``0 < r < inf``.
    b : float or None
        Truncation threshold; ``None`` or ``inf`` (untruncated) gives 1.

    Returns
    -------
    int
        ``ceil(r/b)``, computed in exact rational arithmetic on the given floats.

    Raises
    ------
    ValueError
        If ``r/b`` is exactly an integer: the theory assumes it is not (the exit then hinges on jumps
        of exactly ``b`` with zero waiting time, and ``q`` is infinite in the limit).
    """
    r = check_interval("r", r, 0.0, math.inf, lo_open=True, hi_open=True)
    b = check_truncation_threshold("b", b)
    if math.isinf(b):
        return 1
    ratio = Fraction(r) / Fraction(b)
    if ratio.denominator == 1:
        raise ValueError(f"Invalid b: {b!r}; expected r/b not an integer (r = {r!r}, r/b = {ratio})")
    return math.ceil(ratio)


def exit_time_exponent(alpha, l_star) -> float:
    """Exponent ``1 + l*(alpha - 1)``: the mean exit time (steps) grows like ``lr**-exponent``.

    Parameters
    ----------
    alpha : float
        Tail index, ``alpha > 1``.
    l_star : int
        Jumps needed, ``>= 1`` (1 for untruncated noise, giving ``alpha``).

    Returns
    -------
    float
    """
    return 1.0 + check_int("l_star", l_star, minimum=1) * (check_heavy_alpha(alpha) - 1.0)


def _log(x: float) -> float:
    return math.log(x) if x > 0 else -math.inf


def jump_rate(tail, lr) -> float:
    """Rate ``lambda(lr) = H(1/lr)/lr`` of jumps of size > 1 per unit of ODE time.

    Parameters
    ----------
    tail : noise object or callable
        ``H(x) = P(|Z| > x)`` (``.tail`` of a noise law, its scale included).
    lr : float
        Learning rate, ``> 0``.

    Returns
    -------
    float
        ``inf`` if the ratio exceeds the float range.
    """
    lr = check_positive("lr", lr)
    return tail_function(tail)(1.0 / lr) / lr  # 1/lr may be inf for subnormal lr (H(inf) = 0)


def log_exit_rate_scale(tail, lr, l_star) -> float:
    """``log lambda_b(lr)`` (``-inf`` when ``H(1/lr)`` underflows to 0); see :func:`exit_rate_scale`."""
    l_star = check_int("l_star", l_star, minimum=1)
    lr = check_positive("lr", lr)
    h = tail_function(tail)(1.0 / lr)
    return math.log(lr) + l_star * (_log(h) - math.log(lr))


def exit_rate_scale(tail, lr, l_star) -> float:
    """Exit-rate scale per step ``lambda_b(lr) = H(1/lr) (H(1/lr)/lr)**(l*-1) = lr * lambda(lr)**l*``.

    Parameters
    ----------
    tail : noise object or callable
        Noise tail ``H``.
    lr : float
        Learning rate, ``> 0``.
    l_star : int
        Jumps needed, ``>= 1``.

    Returns
    -------
    float
        ``E tau ~ 1/(q * exit_rate_scale)`` steps; 0 where it underflows, ``inf`` where it overflows.
    """
    l_star = check_int("l_star", l_star, minimum=1)
    rate = jump_rate(tail, lr)
    try:
        return lr * rate ** l_star
    except OverflowError:  # float ** raises where * would give inf
        return math.inf
