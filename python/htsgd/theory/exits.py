"""First exit from one basin: the constant ``q``, the exit sides, the mean exit time, the regime indicator.

``q * lambda_b(lr) * tau -> Exp(1)`` for the first exit time ``tau`` (steps), so ``E tau ~ 1/(q lambda_b(lr))``.
For ``l* = 1``: ``q = p_+ (s_+ - m)**-alpha 1{s_+ - m < b} + p_- (m - s_-)**-alpha 1{m - s_- < b}``; for
``l* >= 2`` ``q`` is the ``l*``-jump measure of the paths that end outside the basin
(:mod:`htsgd.theory.jump_measure`).
"""
from __future__ import annotations

import math

import numpy as np

from ..basins import gradient_function
from .._validation import check_positive, check_probability, check_truncation_threshold
from ._inputs import check_basin, check_heavy_alpha, noise_alpha, tail_function
from .jump_measure import landing_measure
from .scales import exit_rate_scale, jumps_needed, log_exit_rate_scale

__all__ = ["asymptotic_regime_indicator", "exit_constant", "exit_side_probabilities", "predicted_mean_exit_time"]

_INF = math.inf
_LOG_MAX = math.log(1.7976931348623157e308)  # log of the largest float
_LOG_TINY = math.log(5e-324)  # log of the smallest positive float


def _side_constants(basin, alpha, truncation, grad, p_plus, p_minus):
    basin = check_basin(basin)
    alpha, b = check_heavy_alpha(alpha), check_truncation_threshold("truncation", truncation)
    p_plus, p_minus = check_probability("p_plus", p_plus), check_probability("p_minus", p_minus)
    if math.isinf(basin.width):
        return 0.0, 0.0  # the basin is the whole line: no exit
    l_star = jumps_needed(basin.width, b)
    return tuple(landing_measure(basin, l_star, b, alpha, grad, p_minus, p_plus,
                                 [(-_INF, basin.lo)] if s < 0 else [(basin.hi, _INF)])[0] for s in (-1, 1))


def exit_constant(basin, alpha, truncation=None, *, grad=None, p_plus=0.5, p_minus=0.5) -> float:
    """The constant ``q`` of ``q * lambda_b(lr) * tau -> Exp(1)`` for the basin's first exit time.

    Parameters
    ----------
    basin : Basin
        Basin of the minimum the dynamics starts from.
    alpha : float
        Tail index, ``alpha > 1``.
    truncation : float or None
        Truncation threshold ``b`` (None or inf: untruncated, ``l* = 1``).
    grad : landscape or callable, optional
        Gradient ``f'`` (vectorised); required when ``l* >= 2``.
    p_plus, p_minus : float
        Tail balance of the noise (1/2 each for symmetric laws).

    Returns
    -------
    float
        ``q`` (no noise-scale factor: the scale lives in ``H``). ``l* = 1``: closed form; ``l* >= 2``:
        deterministic quadrature of the ``l*``-jump measure (no sampling and no waiting-time cut-off),
        relative accuracy <~1e-9 on smooth landscapes. ``q`` blows up as ``r/b`` approaches an integer
        from above (the smallest useful jump ``r - (l*-1) b`` goes to 0).
    """
    return float(sum(_side_constants(basin, alpha, truncation, grad, p_plus, p_minus)))


def exit_side_probabilities(basin, alpha, truncation=None, *, grad=None, p_plus=0.5, p_minus=0.5):
    """Asymptotic probabilities ``(P(exit left), P(exit right))`` of the first exit (same arguments as
    :func:`exit_constant`).

    Returns
    -------
    tuple of float
        The two sides' shares of ``q``.
    """
    left, right = _side_constants(basin, alpha, truncation, grad, p_plus, p_minus)
    if left + right <= 0:
        raise ValueError("Invalid basin: no exit is possible (q = 0); expected a finite side within reach")
    return left / (left + right), right / (left + right)


def predicted_mean_exit_time(basin, noise, lr, truncation=None, *, grad=None) -> float:
    """Asymptotic mean first-exit time ``1/(q lambda_b(lr))`` in steps.

    Parameters
    ----------
    basin : Basin
    noise : noise object
        Provides ``.alpha``, ``.tail`` (its scale included) and optionally ``.p_plus``/``.p_minus``.
    lr : float
        Learning rate, ``> 0``.
    truncation : float or None
        Truncation threshold ``b``.
    grad : landscape or callable, optional
        Needed when ``l* >= 2``.

    Returns
    -------
    float
        ``inf`` where it exceeds the float range (tiny ``lr``; computed in log space where
        ``lambda_b(lr)`` underflows). Finite-``lr`` runs
        typically exit 10-15% sooner for ``l* = 1`` (README, "A short tour").

    Raises
    ------
    ValueError
        If ``H(1/lr)`` underflows to 0 while the mean it bounds would still be a finite float.
    """
    alpha = noise_alpha(noise)
    b = check_truncation_threshold("truncation", truncation)
    q = exit_constant(basin, alpha, b, grad=grad, p_plus=getattr(noise, "p_plus", 0.5),
                      p_minus=getattr(noise, "p_minus", 0.5))
    if q <= 0:
        raise ValueError("Invalid basin: no exit is possible (q = 0); expected a finite side within reach")
    l_star = jumps_needed(basin.width, b)
    denominator = q * exit_rate_scale(noise, lr, l_star)
    if denominator > 0.0:
        return 1.0 / denominator  # inf once it exceeds the float range
    log_rate = log_exit_rate_scale(noise, lr, l_star)  # the product underflowed: work in logs
    if math.isinf(log_rate):  # H(1/lr) underflowed: E tau is above its value at the smallest float H
        log_bound = -math.log(q) - math.log(lr) - l_star * (_LOG_TINY - math.log(lr))
        if log_bound > _LOG_MAX:
            return _INF
        raise ValueError(f"Invalid lr: {lr!r}; the noise tail H(1/lr) underflows to 0, so the predicted mean "
                         "exit time cannot be computed; expected a larger lr")
    log_mean = -math.log(q) - log_rate
    return _INF if log_mean > _LOG_MAX else math.exp(log_mean)


def asymptotic_regime_indicator(basin, noise, lr, curvature=None, *, grad=None) -> float:
    """How far a setting is from the asymptotic regime: ``H(r/lr) / (lr f''(m))``.

    For Pareto noise ``H(r/lr) ~ (lr * scale / r)**alpha``: the chance per step of a jump the size of the
    basin width ``r``, times the relaxation time ``1/(lr f''(m))`` steps. Values << 1 mean small jumps
    are rare within one relaxation and the ``l*`` mechanism governs exits (predicted slopes and ``q``
    apply); values of order 0.1 or more mean small jumps pile up (slopes -1.3 to -1.4 instead of
    -1.5/-2.0, see the README). Aim for < 0.01.

    Parameters
    ----------
    basin : Basin
    noise : noise object or callable
        Noise tail ``H`` (``.tail``), its scale included.
    lr : float
        Learning rate, ``> 0``.
    curvature : float, optional
        ``f''(m) > 0``; by default estimated from ``grad`` by a central difference.
    grad : landscape or callable, optional
        Needed when ``curvature`` is not given.

    Returns
    -------
    float
        Computed in log space where ``lr f''(m)`` underflows (``inf`` beyond the float range).
    """
    basin = check_basin(basin)
    lr = check_positive("lr", lr)
    if curvature is None:
        h = min(1e-5 * max(1.0, abs(basin.minimum)), basin.width / 10)
        gm = gradient_function(grad)(np.array([basin.minimum - h, basin.minimum + h]))
        curvature = float((gm[1] - gm[0]) / (2 * h))
    curvature = check_positive("curvature", curvature)
    tail = tail_function(noise)(basin.width / lr)
    if tail == 0.0:
        return 0.0
    relaxation = lr * curvature
    if relaxation > 0.0:
        return tail / relaxation
    log_value = math.log(tail) - math.log(lr) - math.log(curvature)
    return _INF if log_value > _LOG_MAX else math.exp(log_value)
