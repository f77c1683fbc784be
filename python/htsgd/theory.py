"""Asymptotic theory of truncated heavy-tailed SGD in 1-D (pure numpy/scipy; never imports ``htsgd._core``).

Dynamics ``X <- X + phi_b(-lr f'(X) + lr Z)``, ``phi_b(w) = sign(w) min(|w|, b)``, noise tail
``H(x) = P(|Z| > x)`` regularly varying with index ``-alpha`` (``alpha > 1``), tail balance ``p_plus``,
``p_minus`` (Wang, Oh & Rhee, ICLR 2022, and follow-ups). For the basin ``(s_-, s_+)`` of a minimum ``m``:

- width ``r = min(m - s_-, s_+ - m)``; jumps needed ``l* = ceil(r / b)`` (``b = inf``: ``l* = 1``);
- scales ``lambda(lr) = H(1/lr)/lr`` and ``lambda_b(lr) = lr * lambda(lr)**l*`` (per step);
- first exit time ``tau`` (steps): ``q * lambda_b(lr) * tau -> Exp(1)``, so ``E tau ~ 1/(q lambda_b(lr))``
  and ``E tau ~ lr**-(1 + l*(alpha - 1))`` for Pareto-type tails;
- ``q`` is the mass, under ``nu_alpha(dw_1)...nu_alpha(dw_l*) dt_2...dt_l*`` with
  ``nu_alpha(dw) = alpha p_+- |w|**(-alpha-1) dw``, of the paths that start at ``m``, jump by ``phi_b(w_1)``,
  follow the gradient flow ``dx/dt = -f'(x)`` for ``t_2``, jump by ``phi_b(w_2)``, ... and end outside
  the basin. For ``l* = 1``: ``q = p_+ (s_+ - m)**-alpha 1{s_+ - m < b} + p_- (m - s_-)**-alpha 1{m - s_- < b}``.

How ``q`` is computed for ``l* >= 2`` (exactly, by deterministic quadrature, no time cut-off): in 1-D the flow
never crosses the minimum and only shrinks ``|x - m|``, so an exit on one side needs all ``l*`` jumps on
that side, each at least ``delta = R - (l* - 1) b`` (``R``: distance to that boundary). In the distance
``y = |x - m|`` the flow speed is ``g(y) = |f'(m +- y)|`` and ``dt = dy / g(y)`` turns every waiting-time
integral into a space integral. With ``E_a`` the measure of ending beyond distance ``a``::

    J_1(u) = p (a - u)**-alpha                         for a - b < u   (one jump from u reaches past a)
    J_{n+1}(u) = p * int_{a-nb}^{u+b} J_n(v) (v - u)**-alpha / g(v) dv
    E_a = J_l*(0),   q = E_{s_+ - m} (right) + E_{m - s_-} (left)

(``J_{n+1}`` follows from ``int nu(dw) int_0^inf J_n(flow_t(u + phi_b(w))) dt`` by ``dt = dv/g(v)`` and an
exchange of the two integrals; the atom of ``phi_b`` at ``b`` is included.) ``l* = 2`` is a single integral,
``q_side = p**2 int_{R-b}^{b} dv / ((R - v)**alpha v**alpha g(v))``; for ``l* >= 3`` the intermediate ``J_n``
are piecewise Chebyshev interpolants (degree 24) on panels graded toward the end where they vary on the
scale ``delta``; all integrals are adaptive (``quad_vec``, relative tolerance 1e-11). Accuracy: relative
error <~1e-9 (doubling the Chebyshev degree changes ``q`` by <1e-12 for ``l* = 3, 4``, <2e-7 at degree 12
with ``r/b`` within 1e-3 of an integer); ``tests/test_theory.py`` confirms ``q`` against a semi-analytic
``l* = 2`` value to 1e-8 and against brute-force Monte Carlo with explicit flows (``l* = 2, 3``).

Global dynamics (``markov_chain_generator``): on the time scale ``1/lambda_b(lr)`` with the largest ``l*``,
SGD mapped to basins converges to a Markov chain on the wide minima with generator
``Q_ij = sum_k mu_i(Omega_k) theta_k(j)``; untruncated: every minimum, ``l* = 1``, scale ``1/H(1/lr)``.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.polynomial import chebyshev as _cheb
from scipy.integrate import quad_vec
from scipy.optimize import brentq

from ._validation import check_array

__all__ = [
    "Basin", "MarkovChain", "find_basins", "basins_from_critical_points", "jumps_needed",
    "exit_time_exponent", "jump_rate", "exit_rate_scale", "exit_constant", "exit_side_probabilities",
    "predicted_mean_exit_time", "asymptotic_regime_indicator", "markov_chain_generator",
    "stationary_distribution",
]

_INF = math.inf
_CHEB_DEG = 24  # Chebyshev degree per panel for l* >= 3
_EPSREL = 1e-11  # target relative accuracy of every quadrature


# ----------------------------------------------------------------------------------------- validation
def _real(name, value, ok, domain, *, allow_inf=False):
    """Return ``value`` as float, checking kind, NaN and ``ok(value)``; ``domain`` is the message text."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Invalid {name}: expected a real number, got {type(value).__name__}")
    v = float(value)
    if math.isnan(v) or (math.isinf(v) and not allow_inf) or not ok(v):
        raise ValueError(f"Invalid {name}: {v!r}; expected {domain}")
    return v


def _truncation(name, b):
    if b is None:
        return _INF
    return _real(name, b, lambda v: v > 0, f"{name} > 0 (or None/inf for untruncated)", allow_inf=True)


def _alpha(alpha):
    return _real("alpha", alpha, lambda v: v > 1, "1 < alpha < inf (heavy tail with a finite mean)")


def _lr(lr):
    return _real("lr", lr, lambda v: v > 0, "lr > 0 and finite")


def _prob(name, p):
    return _real(name, p, lambda v: 0 <= v <= 1, f"0 <= {name} <= 1")


def _int(name, value, lo):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Invalid {name}: expected an integer, got {type(value).__name__}")
    if value < lo:
        raise ValueError(f"Invalid {name}: {value}; expected {name} >= {lo}")
    return int(value)


def _tail_fn(tail):
    """A vectorised tail ``H`` from a noise object (``.tail``) or a plain callable."""
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


def _grad_fn(grad):
    """A vectorised gradient from a landscape (``.grad``) or a callable."""
    if grad is None:
        raise ValueError("Invalid grad: None; expected a landscape or vectorised gradient callable "
                         "(needed for l* >= 2)")
    fn = getattr(grad, "grad", None)
    fn = fn if callable(fn) else grad
    if not callable(fn):
        raise TypeError(f"Invalid grad: expected a landscape with .grad or a callable, got {type(grad).__name__}")
    return lambda x: np.asarray(fn(np.asarray(x, dtype=float)), dtype=float).reshape(np.shape(x))


def _domain(domain):
    if not isinstance(domain, (tuple, list)) or len(domain) != 2:
        raise TypeError(f"Invalid domain: expected a pair (lo, hi), got {domain!r}")
    lo = _real("domain[0]", domain[0], lambda v: v < _INF, "-inf <= domain[0] < inf", allow_inf=True)
    hi = _real("domain[1]", domain[1], lambda v: v > lo, "domain[1] > domain[0]", allow_inf=True)
    return lo, hi


# -------------------------------------------------------------------------------------------- basins
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
        m = _real("minimum", self.minimum, lambda v: True, "a finite minimum")
        lo = _real("lo", self.lo, lambda v: v < m, f"lo < minimum = {m!r}", allow_inf=True)
        hi = _real("hi", self.hi, lambda v: v > m, f"hi > minimum = {m!r}", allow_inf=True)
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
    lo, hi = _domain(domain)
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
    lo, hi = _domain(domain)
    cps = getattr(grad, "critical_points", None)
    g = _grad_fn(grad)
    if cps is not None:
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
    n_grid = _int("n_grid", n_grid, 3)
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


# ---------------------------------------------------------------------------------- jumps and scales
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
    r = _real("r", r, lambda v: v > 0, "0 < r < inf")
    b = _truncation("b", b)
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
    return 1.0 + _int("l_star", l_star, 1) * (_alpha(alpha) - 1.0)


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
    """
    lr = _lr(lr)
    return _tail_fn(tail)(1.0 / lr) / lr


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
        ``E tau ~ 1/(q * exit_rate_scale)`` steps.
    """
    l_star = _int("l_star", l_star, 1)
    lr = _lr(lr)
    return lr * jump_rate(tail, lr) ** l_star


# ------------------------------------------------------------------------ l*-jump measure (quadrature)
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
    f = _grad_fn(grad)

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
        return p * a ** -alpha
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


def _landing(basin, l_star, b, alpha, grad, p_minus, p_plus, targets):
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


def _side_constants(basin, alpha, truncation, grad, p_plus, p_minus):
    if not isinstance(basin, Basin):
        raise TypeError(f"Invalid basin: expected a Basin, got {type(basin).__name__}")
    alpha, b = _alpha(alpha), _truncation("truncation", truncation)
    p_plus, p_minus = _prob("p_plus", p_plus), _prob("p_minus", p_minus)
    if math.isinf(basin.width):
        return 0.0, 0.0  # the basin is the whole line: no exit
    l_star = jumps_needed(basin.width, b)
    return tuple(_landing(basin, l_star, b, alpha, grad, p_minus, p_plus,
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
        deterministic quadrature of the ``l*``-jump measure (module docstring; no sampling and no
        waiting-time cut-off), relative accuracy <~1e-9 on smooth landscapes. ``q`` blows up as ``r/b``
        approaches an integer from above (the smallest useful jump ``r - (l*-1) b`` goes to 0).
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


def _noise_alpha(noise):
    alpha = getattr(noise, "alpha", None)
    if alpha is None:
        raise TypeError(f"Invalid noise: expected a noise object with .alpha and .tail, got {type(noise).__name__}")
    if isinstance(alpha, numbers.Real) and math.isinf(alpha):
        raise ValueError("Invalid noise: alpha = inf (Gaussian); expected a heavy tail (exit times are "
                         "exponential in the depth, not a power law)")
    return alpha


def predicted_mean_exit_time(basin, noise, lr, truncation=None, *, grad=None) -> float:
    """Asymptotic mean first-exit time ``1/(q lambda_b(lr))`` in steps.

    Parameters
    ----------
    basin : Basin
    noise : noise object
        Provides ``.alpha``, ``.tail`` (its scale included) and optionally ``.p_plus``/``.p_minus``.
    lr : float
        Learning rate.
    truncation : float or None
        Truncation threshold ``b``.
    grad : landscape or callable, optional
        Needed when ``l* >= 2``.

    Returns
    -------
    float
        Finite-``lr`` runs typically exit 10-15% sooner for ``l* = 1`` (theory.md section 2).
    """
    alpha = _noise_alpha(noise)
    b = _truncation("truncation", truncation)
    q = exit_constant(basin, alpha, b, grad=grad, p_plus=getattr(noise, "p_plus", 0.5),
                      p_minus=getattr(noise, "p_minus", 0.5))
    if q <= 0:
        raise ValueError("Invalid basin: no exit is possible (q = 0); expected a finite side within reach")
    return 1.0 / (q * exit_rate_scale(noise, lr, jumps_needed(basin.width, b)))


def asymptotic_regime_indicator(basin, noise, lr, curvature=None, *, grad=None) -> float:
    """How far a setting is from the asymptotic regime: ``H(r/lr) / (lr f''(m))``.

    For Pareto noise ``H(r/lr) ~ (lr * scale / r)**alpha``: the chance per step of a jump the size of the
    basin width ``r``, times the relaxation time ``1/(lr f''(m))`` steps. Values << 1 mean small jumps
    are rare within one relaxation and the ``l*`` mechanism governs exits (predicted slopes and ``q``
    apply); values of order 0.1 or more mean small jumps pile up (theory.md section 2: slopes -1.3 to
    -1.4 instead of -1.5/-2.0 there). Aim for < 0.01.

    Parameters
    ----------
    basin : Basin
    noise : noise object or callable
        Noise tail ``H`` (``.tail``), its scale included.
    lr : float
        Learning rate.
    curvature : float, optional
        ``f''(m) > 0``; by default estimated from ``grad`` by a central difference.
    grad : landscape or callable, optional
        Needed when ``curvature`` is not given.

    Returns
    -------
    float
    """
    if not isinstance(basin, Basin):
        raise TypeError(f"Invalid basin: expected a Basin, got {type(basin).__name__}")
    lr = _lr(lr)
    if curvature is None:
        h = min(1e-5 * max(1.0, abs(basin.minimum)), basin.width / 10)
        gm = _grad_fn(grad)(np.array([basin.minimum - h, basin.minimum + h]))
        curvature = float((gm[1] - gm[0]) / (2 * h))
    curvature = _real("curvature", curvature, lambda v: v > 0, "curvature f''(m) > 0 and finite")
    return _tail_fn(noise)(basin.width / lr) / (lr * curvature)


# ------------------------------------------------------------------------------------- global dynamics
@dataclass(frozen=True)
class MarkovChain:
    """Markov-chain limit of SGD mapped to minima.

    Attributes
    ----------
    Q : numpy.ndarray
        Generator on the states (rows sum to 0), in units of the time scale below.
    wide : numpy.ndarray
        Indices, in the ``basins`` given, of the states (the wide basins; all basins if untruncated).
    minima : numpy.ndarray
        Positions of the states' minima.
    l_star_large : int
        Largest ``l*`` (1 if untruncated).
    time_scale : str
        How chain time maps to SGD steps.
    """

    Q: np.ndarray
    wide: np.ndarray
    minima: np.ndarray
    l_star_large: int
    time_scale: str

    def rate_scale(self, tail, lr) -> float:
        """Per-step rate unit ``lambda_b(lr)`` with ``l* = l_star_large``: ``Q * rate_scale`` is per step."""
        return exit_rate_scale(tail, lr, self.l_star_large)


def markov_chain_generator(basins, alpha, truncation=None, *, grad=None, p_plus=0.5, p_minus=0.5) -> MarkovChain:
    """Generator of the Markov chain that SGD, mapped to minima, converges to (theory.md section 3).

    Parameters
    ----------
    basins : sequence of Basin
        Non-overlapping basins sorted left to right (e.g. from :func:`find_basins`).
    alpha : float
        Tail index, ``alpha > 1``.
    truncation : float or None
        ``b``. Truncated: states are the wide basins (largest ``l*``), ``Q_ij = sum_k mu_i(Omega_k)
        theta_k(j)`` with ``mu_i`` the ``l*_large``-jump measure from minimum ``i`` and ``theta`` the
        absorption probabilities in wide basins of the chain that jumps from each narrow basin ``k`` with
        its own normalised ``l*_k``-jump exit law. None: every minimum is a state, ``l* = 1``,
        ``Q_ij = mu_i(Omega_j)`` with the one-jump measure.
    grad : landscape or callable, optional
        Needed when some ``l* >= 2``.
    p_plus, p_minus : float
        Tail balance.

    Returns
    -------
    MarkovChain
        Exits landing outside every given basin (beyond a domain end) are dropped.
    """
    basins = list(basins) if isinstance(basins, (list, tuple)) else basins
    if not isinstance(basins, list) or not all(isinstance(x, Basin) for x in basins):
        raise TypeError("Invalid basins: expected a list of Basin")
    if not basins:
        raise ValueError("Invalid basins: []; expected at least one basin")
    if any(x.hi > y.lo or x.minimum >= y.minimum for x, y in zip(basins[:-1], basins[1:])):
        raise ValueError("Invalid basins: expected non-overlapping basins sorted left to right")
    alpha, b = _alpha(alpha), _truncation("truncation", truncation)
    p_plus, p_minus = _prob("p_plus", p_plus), _prob("p_minus", p_minus)
    n = len(basins)
    ls = np.array([jumps_needed(x.width, b) for x in basins]) if n > 1 else np.ones(1, int)
    l_large = int(ls.max())
    wide, narrow = np.flatnonzero(ls == l_large), np.flatnonzero(ls < l_large)
    mu = np.zeros((n, n))
    for i, x in enumerate(basins):
        others = [k for k in range(n) if k != i]
        mu[i, others] = _landing(x, int(ls[i]), b, alpha, grad, p_minus, p_plus,
                                 [(basins[k].lo, basins[k].hi) for k in others])
    theta = np.zeros((n, n))
    theta[wide, wide] = 1.0
    if narrow.size:
        tot = mu[narrow].sum(axis=1, keepdims=True)
        P = np.divide(mu[narrow], tot, out=np.zeros_like(mu[narrow]), where=tot > 0)
        try:
            theta[np.ix_(narrow, wide)] = np.linalg.solve(np.eye(narrow.size) - P[:, narrow], P[:, wide])
        except np.linalg.LinAlgError:
            raise ValueError("Invalid basins: some narrow basins form a closed class (no path to a wide basin); "
                             "the Markov-chain limit needs every narrow basin to lead to a wide one") from None
    Q = mu[wide] @ theta[:, wide]
    np.fill_diagonal(Q, 0.0)
    np.fill_diagonal(Q, -Q.sum(axis=1))
    unit = "H(1/lr)" if math.isinf(b) else f"lambda_b(lr) = lr*(H(1/lr)/lr)**{l_large}"
    return MarkovChain(Q, wide, np.array([basins[i].minimum for i in wide]), l_large,
                       f"one unit of chain time = 1/{unit} SGD steps; Q * rate_scale(tail, lr) is per step")


def stationary_distribution(Q) -> np.ndarray:
    """Stationary law ``pi`` of a generator: ``pi Q = 0``, ``sum(pi) = 1``, ``pi >= 0``.

    Parameters
    ----------
    Q : array_like
        Square generator: finite, off-diagonal entries >= 0, rows summing to 0 (to 1e-9 of the largest
        rate), with a single closed class.

    Returns
    -------
    numpy.ndarray
    """
    Q = check_array("Q", Q, allow_nonfinite=True, allow_nan=True)
    if Q.ndim != 2 or Q.shape[0] != Q.shape[1] or Q.shape[0] == 0:
        raise ValueError(f"Invalid Q: shape {Q.shape}; expected a non-empty square matrix")
    n = Q.shape[0]
    scale = max(float(np.max(np.abs(Q))) if np.all(np.isfinite(Q)) else 0.0, 1e-300)
    off = Q[~np.eye(n, dtype=bool)]
    if not np.all(np.isfinite(Q)) or np.any(off < 0) or np.any(np.abs(Q.sum(axis=1)) > 1e-9 * scale * n):
        raise ValueError("Invalid Q: expected a finite generator with off-diagonals >= 0 and rows summing to 0")
    A = np.vstack([Q.T / scale, np.ones((1, n))])
    rhs = np.zeros(n + 1)
    rhs[-1] = 1.0
    pi, _, rank, _ = np.linalg.lstsq(A, rhs, rcond=None)
    if rank < n:
        raise ValueError("Invalid Q: more than one closed class; expected a unique stationary law")
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum()
