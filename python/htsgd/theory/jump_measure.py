"""The ``l*``-jump measure by deterministic quadrature (no sampling, no waiting-time cut-off).

In 1-D the flow never crosses the minimum and only shrinks ``|x - m|``, so an exit on one side needs all
``l*`` jumps on that side, each at least ``delta = R - (l* - 1) b``. In the distance ``y = |x - m|`` the
flow speed is ``g(y) = |f'(m +- y)|`` and ``dt = dy / g(y)`` turns every waiting-time integral into a space
integral. With ``E_a`` the measure of ending beyond distance ``a``::

    J_1(u) = p (a - u)**-alpha                         for a - b < u   (one jump from u reaches past a)
    J_{n+1}(u) = p * int_{a-nb}^{u+b} J_n(v) (v - u)**-alpha / g(v) dv
    E_a = J_l*(0)

The intermediate ``J_n`` are piecewise Chebyshev interpolants (degree 24) on panels graded toward the end
where they vary on the scale ``delta``; all integrals are adaptive (``quad_vec``, relative tolerance 1e-11).
"""
from __future__ import annotations

import math

import numpy as np
from numpy.polynomial import chebyshev as _cheb
from scipy.integrate import quad_vec

from ..basins import gradient_function as grad_function

__all__ = ["landing_measure"]

_CHEB_DEG = 24  # Chebyshev degree per panel for l* >= 3
_EPSREL = 1e-11  # target relative accuracy of every quadrature


def _cheb_panels(f, lo, hi, delta):
    """Piecewise Chebyshev interpolant of a vectorised ``f`` on ``[lo, hi]``, panels halving toward ``hi``
    down to width ``delta/4`` (where the ``J_n`` vary on the scale ``delta``)."""
    edges = [lo]
    while hi - edges[-1] > delta / 2:
        edges.append(edges[-1] + (hi - edges[-1]) / 2)
    edges = np.array(edges + [hi])
    k = np.arange(_CHEB_DEG + 1)
    z = np.cos(np.pi * (k + 0.5) / (_CHEB_DEG + 1))  # first-kind nodes on [-1, 1]
    mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
    vals = f((mid[:, None] + half[:, None] * z).ravel()).reshape(mid.size, -1)
    coef = np.array([_cheb.chebfit(z, v, _CHEB_DEG) for v in vals])

    def interp(x):
        x = np.asarray(x, dtype=float)
        i = np.clip(np.searchsorted(edges, x) - 1, 0, mid.size - 1)
        t = (x - mid[i]) / half[i]
        c = coef[i]
        b1 = b2 = np.zeros_like(t)
        for j in range(_CHEB_DEG, 0, -1):  # Clenshaw
            b1, b2 = c[..., j] + 2 * t * b1 - b2, b1
        return c[..., 0] + t * b1 - b2
    return interp, edges


def _integrate(f, lo, hi, points=None):
    val, _ = quad_vec(f, lo, hi, epsabs=0.0, epsrel=_EPSREL, limit=20000, points=points)
    return val


def _speed(grad, m, sign):
    """Flow speed toward ``m`` at distance ``y`` on one side, checked positive."""
    f = grad_function(grad)

    def g(y):
        s = sign * f(m + sign * np.asarray(y))
        if not np.all(np.isfinite(s) & (s > 0)):
            raise ValueError(f"Invalid grad: does not point toward the minimum {m!r} inside its basin; "
                             "expected the basin to match the landscape")
        return s
    return g


def _beyond_measure(g, a, l, b, alpha, p):
    """Mass of the ``l``-jump measure (jumps toward one side, tail weight ``p``) of paths from the minimum
    that end at distance > ``a``; ``g(y) > 0`` is the flow speed toward the minimum at distance ``y``."""
    if p == 0.0 or a >= l * b:
        return 0.0
    if l == 1:
        try:
            return p * a ** -alpha
        except OverflowError:  # a basin narrower than ~1e-200: q is beyond the float range
            return math.inf
    delta = a - (l - 1) * b  # smallest jump that matters; > 0 by the caller's l*
    J = lambda u: p * (a - u) ** -alpha  # noqa: E731  (J_1 on (a - b, (l-1) b])
    points = None
    for n in range(1, l - 1):  # J_{n+1} on [a - (n+1) b, (l-n-1) b] from J_n
        v_lo, Jn = a - n * b, J

        def nxt(u, v_lo=v_lo, Jn=Jn):
            span = u + b - v_lo  # v = v_lo + s * span, s in [0, 1]

            def integrand(s):
                v = v_lo + s * span
                return span * Jn(v) * (v - u) ** -alpha / g(v)
            return p * _integrate(integrand, 0.0, 1.0)
        J, points = _cheb_panels(nxt, v_lo - b, (l - n - 1) * b, delta)
    pts = None if points is None else [t for t in points if delta < t < b]
    return p * float(_integrate(lambda v: J(np.atleast_1d(v))[0] * v ** -alpha / g(np.atleast_1d(v))[0],
                                delta, b, points=pts))


def landing_measure(basin, l_star, b, alpha, grad, p_minus, p_plus, targets):
    """``l*``-jump measure of ending in each interval ``(lo, hi)`` of ``targets`` (outside ``basin``)."""
    m, out = basin.minimum, []
    for t_lo, t_hi in targets:
        sign = 1.0 if t_lo >= basin.hi else -1.0
        p = p_plus if sign > 0 else p_minus
        g = _speed(grad, m, sign) if l_star > 1 and p > 0 else None
        near, far = sorted(abs(x - m) for x in (t_lo, t_hi))
        e = [_beyond_measure(g, d, l_star, b, alpha, p) if math.isfinite(d) else 0.0 for d in (near, far)]
        out.append(max(e[0] - e[1], 0.0))
    return out
