"""Basins of 1-D landscapes: the attraction field of each minimum, found from critical points or a gradient.

Pure numpy/scipy (never imports ``htsgd._core``), so that :mod:`htsgd.theory` can check the simulator
with it; :mod:`htsgd.landscapes` builds its ``basins()`` on it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from ._validation import check_domain, check_int, check_interval, check_real_where

__all__ = ["Basin", "basins_from_critical_points", "find_basins", "gradient_function"]

_INF = math.inf


@dataclass(frozen=True)
class Basin:
    """Attraction field ``(lo, hi)`` of the minimum ``minimum`` (``lo``/``hi`` may be -inf/+inf).

    Attributes
    ----------
    minimum, lo, hi : float
        Position of the minimum and the basin boundaries (maxima or domain ends), ``lo < minimum < hi``.
    """

    minimum: float
    lo: float
    hi: float

    def __post_init__(self):
        m = check_interval("minimum", self.minimum, -_INF, _INF, lo_open=True, hi_open=True)
        lo = check_real_where("lo", self.lo, lambda v: v < m, f"lo < minimum = {m!r}", allow_inf=True)
        hi = check_real_where("hi", self.hi, lambda v: v > m, f"hi > minimum = {m!r}", allow_inf=True)
        for k, v in (("minimum", m), ("lo", lo), ("hi", hi)):
            object.__setattr__(self, k, v)

    @property
    def left(self) -> float:
        """Distance ``minimum - lo`` to the left boundary."""
        return self.minimum - self.lo

    @property
    def right(self) -> float:
        """Distance ``hi - minimum`` to the right boundary."""
        return self.hi - self.minimum

    @property
    def width(self) -> float:
        """Distance ``min(left, right)`` to the nearer boundary (the ``r`` of ``l* = ceil(r/b)``)."""
        return min(self.left, self.right)


def gradient_function(grad):
    """A vectorised gradient ``x -> f'(x)`` (float64, shaped like ``x``) from a landscape or a callable.

    Parameters
    ----------
    grad : landscape or callable
        An object with a ``.grad`` method, or a vectorised ``grad(x)``.

    Returns
    -------
    callable
    """
    if grad is None:
        raise ValueError("Invalid grad: None; expected a landscape or vectorised gradient callable "
                         "(needed for l* >= 2)")
    fn = getattr(grad, "grad", None)
    fn = fn if callable(fn) else grad
    if not callable(fn):
        raise TypeError(f"Invalid grad: expected a landscape with .grad or a callable, got {type(grad).__name__}")
    return lambda x: np.asarray(fn(np.asarray(x, dtype=float)), dtype=float).reshape(np.shape(x))


def basins_from_critical_points(minima, maxima, domain=(-_INF, _INF)) -> list[Basin]:
    """Basins from sorted minima and maxima that alternate (at most one maximum outside the minima).

    Parameters
    ----------
    minima, maxima : array_like
        Positions strictly inside ``domain``; sorted together they must alternate between kinds.
    domain : (float, float)
        Domain ends, used as the outer boundaries when no maximum lies beyond the outer minima.

    Returns
    -------
    list of Basin
        One basin per minimum, left to right.
    """
    lo, hi = check_domain("domain", domain)
    mins, maxs = (np.asarray(v, dtype=float).reshape(-1) for v in (minima, maxima))
    for name, arr in (("minima", mins), ("maxima", maxs)):
        if not np.all(np.isfinite(arr)) or np.any((arr <= lo) | (arr >= hi)):
            raise ValueError(f"Invalid {name}: {arr.tolist()}; expected finite points inside the "
                             f"domain ({lo!r}, {hi!r})")
    if mins.size == 0:
        raise ValueError("Invalid minima: []; expected at least one minimum")
    pts = np.concatenate([mins, maxs])
    kind = np.concatenate([np.zeros(mins.size, int), np.ones(maxs.size, int)])
    order = np.argsort(pts, kind="stable")
    pts, kind = pts[order], kind[order]
    if np.any(np.diff(pts) <= 0) or np.any(np.diff(kind) == 0):
        raise ValueError(f"Invalid critical points: minima {mins.tolist()}, maxima {maxs.tolist()}; "
                         "expected distinct points alternating between minima and maxima")
    return [Basin(pts[i], pts[i - 1] if i > 0 else lo, pts[i + 1] if i + 1 < pts.size else hi)
            for i in np.flatnonzero(kind == 0)]


def _default_grid(lo, hi, n):
    """Finite: uniform. Infinite end(s): ``sinh``-spaced out to 1e4 from the finite end (or from 0)."""
    w = math.asinh(1e4)
    if math.isfinite(lo) and math.isfinite(hi):
        return np.linspace(lo, hi, n)
    if math.isfinite(lo):
        return lo + np.sinh(np.linspace(0.0, w, n))
    if math.isfinite(hi):
        return hi - np.sinh(np.linspace(w, 0.0, n))
    return np.sinh(np.linspace(-w, w, n))


def _basins_from_known_points(cps, g, lo, hi) -> list[Basin]:
    """Classify given critical points by the sign of the gradient between them."""
    c = np.asarray(cps, dtype=float).reshape(-1)
    c = np.sort(c[(c > lo) & (c < hi)])
    if c.size == 0:
        raise ValueError("Invalid critical_points: none inside the domain; expected at least a minimum")
    d = np.min(np.diff(c)) / 2 if c.size > 1 else 1.0
    ends = [max(c[0] - d, (lo + c[0]) / 2 if math.isfinite(lo) else -_INF),
            min(c[-1] + d, (hi + c[-1]) / 2 if math.isfinite(hi) else _INF)]
    probes = np.concatenate([[ends[0]], (c[:-1] + c[1:]) / 2, [ends[1]]])
    s = np.sign(g(probes))
    mins = c[(s[:-1] < 0) & (s[1:] > 0)]
    maxs = c[(s[:-1] > 0) & (s[1:] < 0)]
    return basins_from_critical_points(mins, maxs, (lo, hi))


def find_basins(grad, domain=(-_INF, _INF), *, grid=None, n_grid=20001) -> list[Basin]:
    """Minima, maxima and basins of a 1-D landscape.

    Parameters
    ----------
    grad : landscape or callable
        An object with ``.critical_points`` (sorted minima and maxima, used directly and classified by
        the sign of ``.grad`` between them), an object with ``.grad``, or a vectorised ``grad(x)``.
    domain : (float, float)
        Domain; its ends are the outer basin boundaries.
    grid : array_like, optional
        Increasing grid inside the domain on which sign changes of ``grad`` are located (then refined
        by ``brentq``). Default: ``n_grid`` points, uniform on a finite domain; with an infinite end,
        ``sinh``-spaced out to distance 1e4 from the finite end (from 0 if both are infinite), spacing
        ~5e-4 near that point growing ~|x|*5e-4. No critical point may lie beyond the grid, and pairs
        closer than the local spacing can be missed: pass a ``grid`` for unusual landscapes.
    n_grid : int
        Number of default grid points (>= 3).

    Returns
    -------
    list of Basin
        One basin per minimum, left to right.
    """
    lo, hi = check_domain("domain", domain)
    cps = getattr(grad, "critical_points", None)
    g = gradient_function(grad)
    if cps is not None:
        return _basins_from_known_points(cps, g, lo, hi)
    n_grid = check_int("n_grid", n_grid, minimum=3)
    x = _default_grid(lo, hi, n_grid) if grid is None else np.asarray(grid, dtype=float).reshape(-1)
    if x.size < 3 or not np.all(np.isfinite(x)) or np.any(np.diff(x) <= 0) or x[0] < lo or x[-1] > hi:
        raise ValueError("Invalid grid: expected at least 3 finite increasing points inside the domain")
    with np.errstate(all="ignore"):
        gv = g(x)
    if np.any(np.isnan(gv)):
        raise ValueError(f"Invalid grad: NaN at x = {x[np.isnan(gv)][0]!r}; expected finite values")
    s = np.sign(gv)
    nz = np.flatnonzero(s)
    mins, maxs = [], []
    for i, j in zip(nz[:-1], nz[1:]):
        if s[i] == s[j]:
            continue
        root = brentq(lambda t: float(g(np.array([t]))[0]), x[i], x[j], xtol=1e-14) if j == i + 1 \
            else float(np.mean(x[i + 1:j]))
        (mins if s[i] < 0 else maxs).append(root)
    return basins_from_critical_points(mins, maxs, (lo, hi))
