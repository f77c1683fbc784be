"""Loss landscapes: value and gradient evaluated in C++ (the same code the dynamics run).

1-D landscapes (state shape ``(n_particles,)``) know their critical points, hence their minima and
basins; d-dimensional ones use state shape ``(n_particles, d)``.

Landscapes are immutable: validated once, their arrays kept as private read-only copies (the properties
return read-only views), their core landscape (``_core.Landscape1D`` / ``_core.LandscapeND``) built once;
setting an attribute raises ``AttributeError``. They compare by value and pickle.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from numpy.polynomial import polynomial as P

from . import _core
from ._validation import check_array, check_domain, check_int, check_positive, check_real
from .basins import Basin, basins_from_critical_points


def _readonly(a: np.ndarray) -> np.ndarray:
    """A private read-only copy; callers get views of it, which cannot be made writable either."""
    out = np.array(a, dtype=np.float64, copy=True)
    out.flags.writeable = False
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.shape(a) == np.shape(b) and np.array_equal(a, b))
    return bool(a == b)


class Landscape:
    """Base class. ``dim`` is the dimension of the state (1 for the 1-D landscapes).

    Immutable after ``__init__``; subclasses list their constructor arguments in ``_args()`` (equality,
    hashing and pickling go through them) and end ``__init__`` with ``_freeze(core)``.
    """

    @property
    def dim(self) -> int:
        return 1

    def value(self, x: Any) -> np.ndarray:
        """Loss at ``x`` (vectorised over particles)."""
        return self._core_landscape.value(self._points(x))

    def grad(self, x: Any) -> np.ndarray:
        """Gradient at ``x`` (vectorised over particles)."""
        return self._core_landscape.grad(self._points(x))

    @property
    def _core_landscape(self) -> Any:
        return self.__dict__["_core_cache"]

    def _freeze(self, core: Any) -> None:
        object.__setattr__(self, "_core_cache", core)
        object.__setattr__(self, "_frozen", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if self.__dict__.get("_frozen", False):
            raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name!r} (build a new landscape)")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name!r}")

    def _args(self) -> tuple:
        raise NotImplementedError

    def __reduce__(self) -> tuple:
        return type(self), self._args()  # rebuilt (and validated) by __init__

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(_same(a, b) for a, b in zip(self._args(), other._args()))  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), *(a.tobytes() if isinstance(a, np.ndarray) else a for a in self._args())))

    def _points(self, x: Any) -> np.ndarray:
        raise NotImplementedError


class Landscape1D(Landscape):
    """A landscape on the real line; subclasses set ``_critical_points`` (sorted, alternating)."""

    @property
    def critical_points(self) -> np.ndarray:
        """Critical points where the gradient changes sign, sorted (read-only)."""
        return self._critical_points.view()

    def _points(self, x: Any) -> np.ndarray:
        return check_array("x", x, allow_nonfinite=True).reshape(-1)

    def value(self, x: Any) -> np.ndarray:
        x = check_array("x", x, allow_nonfinite=True)
        return super().value(x).reshape(x.shape)

    def grad(self, x: Any) -> np.ndarray:
        x = check_array("x", x, allow_nonfinite=True)
        return super().grad(x).reshape(x.shape)

    def _minimum_mask(self) -> np.ndarray:
        # The gradient changes sign at every critical point, so the kinds alternate: one reliable sign
        # decides all. It is read where |grad| is largest among the gaps between critical points and
        # beyond the ends (probes right beside a point fail on flat minima and tiny coefficients).
        c = np.asarray(self.critical_points, dtype=np.float64)
        if c.size == 0:
            return np.zeros(0, dtype=bool)
        reach = np.maximum(1.0, np.abs(c[[0, -1]]))[:, None] * 4.0 ** np.arange(8)  # past flat stretches
        probes = np.concatenate([c[0] - reach[0], 0.5 * c[:-1] + 0.5 * c[1:], c[-1] + reach[1]])
        with np.errstate(all="ignore"):
            g = np.asarray(self.grad(probes), dtype=np.float64)
        g = np.where(np.isnan(g), 0.0, g)
        n_out = reach.shape[1]
        near = np.zeros(probes.size, dtype=bool)  # the nearest probes first; farther ones past flat stretches
        near[[0, probes.size - n_out]] = True
        near[n_out:probes.size - n_out] = True
        ranked = np.where(near, np.abs(g), 0.0) if np.any(near & (g != 0)) else np.abs(g)
        best = int(np.argmax(ranked))
        g_best = g[best]
        k = 0 if best < n_out else (c.size if best >= probes.size - n_out else best - n_out + 1)  # its gap
        if g_best == 0:
            raise ValueError(f"cannot classify the critical points {c.tolist()} of {self!r}: the gradient "
                             "vanishes between them")
        # gap k lies left of critical point k (and right of point k - 1)
        sign_left_of = np.sign(g_best) * (-1.0) ** (np.arange(c.size) - k)  # grad sign in the gap left of each point
        return sign_left_of < 0

    @property
    def minima(self) -> np.ndarray:
        """Local minima, sorted."""
        return np.asarray(self.critical_points, dtype=np.float64)[self._minimum_mask()]

    @property
    def maxima(self) -> np.ndarray:
        """Local maxima, sorted: the boundaries between basins."""
        return np.asarray(self.critical_points, dtype=np.float64)[~self._minimum_mask()]

    def basins(self, domain: tuple[float, float] = (-math.inf, math.inf)) -> list[Basin]:
        """Basins (attraction fields) of the minima inside ``domain``; see :class:`htsgd.theory.Basin`.

        The domain's ends act as the outermost boundaries (e.g. ``(0, inf)`` for the double well's right
        basin); critical points outside it are ignored.
        """
        lo, hi = domain
        inside = lambda pts: pts[(pts > lo) & (pts < hi)]  # noqa: E731
        return basins_from_critical_points(inside(self.minima), inside(self.maxima), domain)


def _critical_points_of(grad_coef: np.ndarray) -> np.ndarray:
    """Real roots of odd multiplicity of a polynomial gradient: where it changes sign."""
    if np.all(grad_coef == 0):
        return np.array([])
    scaled = np.trim_zeros(grad_coef / np.max(np.abs(grad_coef)), "b")  # tiny or huge coefficients alike
    with np.errstate(all="ignore"):
        try:
            roots = P.polyroots(scaled)
        except np.linalg.LinAlgError:  # a leading coefficient so small that the companion matrix overflows
            roots = P.polyroots(scaled[:-1]) if scaled.size > 2 else np.array([])
    roots = roots[np.isfinite(roots)]
    real = np.sort(roots[np.abs(roots.imag) <= 1e-9 * np.maximum(1.0, np.abs(roots.real))].real)
    out = []
    for r in real:
        h = 1e-6 * max(1.0, abs(r))
        with np.errstate(all="ignore"):
            left, right = P.polyval(r - h, scaled), P.polyval(r + h, scaled)
        if np.isfinite(left) and np.isfinite(right) and np.sign(left) != np.sign(right):
            out.append(r)
    pts = np.array(out)  # sorted; a double root found twice is merged (relative, so huge roots cannot overflow)
    keep = np.concatenate([[True], np.diff(pts) > 1e-12 * np.maximum(1.0, np.abs(pts[1:]))]) if out else []
    return pts[keep] if out else np.array([])


class Polynomial(Landscape1D):
    """``f(x) = sum_k coefficients[k] x^k`` (increasing degree, numpy.polynomial's convention)."""

    def __init__(self, coefficients: Sequence[float]) -> None:
        c = check_array("coefficients", coefficients, ndim=1)
        if c.size < 1:
            raise ValueError("Invalid coefficients: expected at least one coefficient")
        self._coefficients = _readonly(c)
        with np.errstate(over="ignore"):
            grad_coef = P.polyder(c) if c.size > 1 else np.zeros(1)
        if not np.all(np.isfinite(grad_coef)):
            raise ValueError(f"Invalid coefficients: {c.tolist()}; expected coefficients whose gradient "
                             "coefficients k * c[k] are finite (below 1.8e308)")
        self._critical_points = _readonly(_critical_points_of(grad_coef))
        self._freeze(_core.Landscape1D.polynomial(c, grad_coef))

    @property
    def coefficients(self) -> np.ndarray:
        """``c_k`` in increasing degree (read-only)."""
        return self._coefficients.view()

    def _args(self) -> tuple:
        return (self._coefficients,)

    def __repr__(self) -> str:
        return f"Polynomial({self.coefficients.tolist()})"


class CriticalPoints(Landscape1D):
    """``f'(x) = scale * prod_k (x - points[k])``: minima and maxima exactly at ``points``.

    The points alternate minimum, maximum, ..., minimum (an odd number of them, outermost are minima),
    so the basin widths are chosen directly. ``f`` is the antiderivative whose lowest minimum is 0.
    """

    def __init__(self, points: Sequence[float], scale: float = 1.0) -> None:
        pts = check_array("points", points, ndim=1)
        if pts.size % 2 == 0:
            raise ValueError(f"Invalid points: {pts.tolist()}; expected an odd number of distinct points "
                             "(minimum, maximum, ..., minimum)")
        if np.any(np.diff(pts) <= 0):
            raise ValueError(f"Invalid points: {pts.tolist()}; expected strictly increasing points")
        self._scale = check_positive("scale", scale)
        self._critical_points = _readonly(pts)
        grad_coef = self._scale * P.polyfromroots(pts)
        value_coef = P.polyint(grad_coef)
        value_coef[0] = -min(P.polyval(pts[::2], value_coef))
        self._freeze(_core.Landscape1D.critical_points(pts, value_coef, self._scale))

    @property
    def points(self) -> np.ndarray:
        """The critical points, minimum, maximum, ..., minimum (read-only)."""
        return self._critical_points.view()

    @property
    def scale(self) -> float:
        return self._scale

    @property
    def minima(self) -> np.ndarray:
        return self.points[::2]

    @property
    def maxima(self) -> np.ndarray:
        return self.points[1::2]

    def _args(self) -> tuple:
        return (self._critical_points, self._scale)

    def __repr__(self) -> str:
        return f"CriticalPoints({self.points.tolist()}, scale={self.scale})"


class DoubleWell(CriticalPoints):
    """``f(x) = (x^2 - 1)^2 / 4``: minima at -1 and 1, maximum at 0."""

    def __init__(self) -> None:
        super().__init__([-1.0, 0.0, 1.0], scale=1.0)

    def _args(self) -> tuple:
        return ()

    def __repr__(self) -> str:
        return "DoubleWell()"


class Tabulated(Landscape1D):
    """Any 1-D landscape through its gradient on an increasing grid, interpolated linearly in C++.

    Outside the grid the end segments are extended linearly. ``value`` is the exact integral of the
    interpolant with ``f(x[0]) = 0``. Critical points are the zeros of the interpolant.
    """

    def __init__(self, x: Sequence[float], grad: Sequence[float]) -> None:
        xs = check_array("x", x, ndim=1)
        gs = check_array("grad", grad, ndim=1)
        if xs.size < 2:
            raise ValueError("Invalid x: expected at least 2 grid points")
        if gs.shape != xs.shape:
            raise ValueError(f"Invalid grad: expected shape {xs.shape} (that of x), got {gs.shape}")
        if np.any(np.diff(xs) <= 0):
            raise ValueError("Invalid x: expected a strictly increasing grid")
        self._x, self._g = _readonly(xs), _readonly(gs)
        f = np.concatenate([[0.0], np.cumsum(0.5 * (gs[1:] + gs[:-1]) * np.diff(xs))])
        self._critical_points = _readonly(self._zeros())
        self._freeze(_core.Landscape1D.tabulated(xs, gs, f))

    @property
    def x(self) -> np.ndarray:
        """The grid (read-only)."""
        return self._x.view()

    @property
    def g(self) -> np.ndarray:
        """The gradient at the grid points (read-only)."""
        return self._g.view()

    def _args(self) -> tuple:
        return (self._x, self._g)

    def _zeros(self) -> np.ndarray:
        x, g = self._x, self._g
        s = np.sign(g)
        nz = np.flatnonzero(s != 0)
        out = []
        for a, b in zip(nz[:-1], nz[1:]):  # consecutive nonzero nodes with opposite signs
            if s[a] != s[b]:
                if b == a + 1:
                    out.append(x[a] - g[a] * (x[b] - x[a]) / (g[b] - g[a]))
                else:
                    out.append(0.5 * (x[a + 1] + x[b - 1]))  # zero on nodes between: take the middle
        return np.array(out)

    def __repr__(self) -> str:
        return f"Tabulated(<{self.x.size} points on [{self.x[0]:g}, {self.x[-1]:g}]>)"


class Periodic(Landscape1D):
    """``f(x) = -amplitude * cos(2 pi x / period) + tilt * x``: a tilted cosine (a washboard).

    With ``tilt = 0`` the minima are the multiples of ``period`` and the maxima lie halfway between, so
    every basin has half-width ``period / 2``. Critical points exist only while
    ``|tilt| < 2 pi amplitude / period``; there are then infinitely many, so ``critical_points``,
    ``minima`` and ``maxima`` raise ``ValueError`` (a run reports no occupancy and says why) and the
    finite sets come from :meth:`critical_points_within` and :meth:`basins` on a finite domain.

    Parameters
    ----------
    amplitude : float
        ``A``, a finite number > 0.
    period : float
        ``P``, a finite number > 0.
    tilt : float
        ``t``, a finite number.
    """

    _MAX_POINTS = 1_000_000  # critical points one window may hold

    def __init__(self, amplitude: float = 1.0, period: float = 2 * math.pi, tilt: float = 0.0) -> None:
        self._amplitude = check_positive("amplitude", amplitude)
        self._period = check_positive("period", period)
        t = check_real("tilt", tilt)
        if not math.isfinite(t):
            raise ValueError(f"Invalid tilt: {tilt!r}; expected a finite number")
        self._tilt = t
        wavenumber = 2.0 * math.pi / self._period
        if not math.isfinite(self._amplitude * wavenumber):
            raise ValueError(f"Invalid amplitude: {amplitude!r}; expected amplitude * 2 pi / period = "
                             f"{self._amplitude * wavenumber!r} finite (below 1.8e308)")
        # sin(2 pi x / P) = -t / (2 pi A / P) at every critical point: minima at phase asin(.) + 2 pi n,
        # maxima at pi - asin(.) + 2 pi n (f'' = A k^2 cos(k x) > 0, < 0 there).
        s = -t / (self._amplitude * wavenumber)
        self._phase = math.asin(s) / (2.0 * math.pi) if abs(s) < 1.0 else None  # minima at P (phase + n)
        self._freeze(_core.Landscape1D.periodic(self._amplitude, self._period, self._tilt))

    @property
    def amplitude(self) -> float:
        return self._amplitude

    @property
    def period(self) -> float:
        return self._period

    @property
    def tilt(self) -> float:
        return self._tilt

    def _infinite(self) -> ValueError:
        return ValueError(f"{self!r} has infinitely many critical points (|tilt| < 2 pi amplitude / period); "
                          "use critical_points_within((lo, hi)) or basins((lo, hi)) with a finite domain")

    @property
    def critical_points(self) -> np.ndarray:
        """Empty when ``|tilt| >= 2 pi amplitude / period`` (no critical point), else ``ValueError``."""
        if self._phase is not None:
            raise self._infinite()
        return np.empty(0)

    @property
    def minima(self) -> np.ndarray:
        return self.critical_points

    @property
    def maxima(self) -> np.ndarray:
        return self.critical_points

    def critical_points_within(self, domain: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
        """The minima and the maxima strictly inside a finite ``domain``.

        Parameters
        ----------
        domain : (float, float)
            Finite ends ``lo < hi``, holding at most a million critical points.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            The minima and the maxima inside ``domain``, each sorted.
        """
        lo, hi = check_domain("domain", domain)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(f"Invalid domain: {domain!r}; expected finite ends (a {type(self).__name__} "
                             "has infinitely many critical points on an infinite domain)")
        if self._phase is None:
            return np.empty(0), np.empty(0)
        if 2 * (hi - lo) / self._period > self._MAX_POINTS:
            raise ValueError(f"Invalid domain: {domain!r}; expected at most {self._MAX_POINTS} critical points "
                             f"(a width below {self._MAX_POINTS * self._period / 2:g})")
        out = []
        for offset in (self._phase, 0.5 - self._phase):  # minima, maxima in units of the period
            n = np.arange(math.floor(lo / self._period - offset) - 1, math.ceil(hi / self._period - offset) + 2)
            pts = self._period * (offset + n)
            out.append(pts[(pts > lo) & (pts < hi)])
        return out[0], out[1]

    def basins(self, domain: tuple[float, float] = (-math.inf, math.inf)) -> list[Basin]:
        """Basins of the minima inside a finite ``domain`` (its ends are the outermost boundaries).

        ``basins((-period / 2, period / 2))`` with ``tilt = 0`` is the basin of 0. An infinite domain
        raises ``ValueError`` while the minima are infinitely many.
        """
        lo, hi = check_domain("domain", domain)
        if self._phase is None:
            return basins_from_critical_points([], [], domain)  # raises: no minimum
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise self._infinite()
        minima, maxima = self.critical_points_within((lo, hi))
        return basins_from_critical_points(minima, maxima, (lo, hi))

    def _args(self) -> tuple:
        return (self._amplitude, self._period, self._tilt)

    def __repr__(self) -> str:
        return f"Periodic(amplitude={self.amplitude!r}, period={self.period!r}, tilt={self.tilt!r})"


class LandscapeND(Landscape):
    """A landscape on R^d (state shape ``(n_particles, d)``)."""

    def _points(self, x: Any) -> np.ndarray:
        arr = check_array("x", x, ndim=(1, 2), allow_nonfinite=True)
        if arr.shape[-1] != self.dim:
            raise ValueError(f"Invalid x: expected last dimension {self.dim}, got shape {arr.shape}")
        return arr.reshape(-1, self.dim)

    def value(self, x: Any) -> np.ndarray:
        out = super().value(x)
        return out[0] if np.ndim(x) == 1 else out

    def grad(self, x: Any) -> np.ndarray:
        out = super().grad(x)
        return out[0] if np.ndim(x) == 1 else out

    @property
    def basin_edges(self) -> np.ndarray | None:
        """Interior basin boundaries per coordinate (separable landscapes), else None."""
        return None


class Quadratic(LandscapeND):
    """``f(x) = (x - center)^T hessian (x - center) / 2`` with a symmetric ``hessian``."""

    def __init__(self, hessian: Any, center: Any = None) -> None:
        h = check_array("hessian", hessian, ndim=2)
        if h.shape[0] != h.shape[1] or h.shape[0] < 1:
            raise ValueError(f"Invalid hessian: expected a square matrix, got shape {h.shape}")
        if not np.allclose(h, h.T, rtol=1e-12, atol=1e-12 * max(1.0, np.abs(h).max())):
            raise ValueError("Invalid hessian: expected a symmetric matrix")
        d = h.shape[0]
        c = np.zeros(d) if center is None else check_array("center", center, ndim=1)
        if c.shape != (d,):
            raise ValueError(f"Invalid center: expected shape ({d},), got {c.shape}")
        self._hessian, self._center = _readonly(h), _readonly(c)
        self._freeze(_core.LandscapeND.quadratic(h, c))

    @property
    def dim(self) -> int:
        return self._hessian.shape[0]

    @property
    def hessian(self) -> np.ndarray:
        """``H`` (read-only)."""
        return self._hessian.view()

    @property
    def center(self) -> np.ndarray:
        """``c`` (read-only)."""
        return self._center.view()

    def _args(self) -> tuple:
        return (self._hessian, self._center)

    @property
    def minima(self) -> np.ndarray:
        """``center`` if the Hessian is positive definite, else none."""
        return self.center[None, :] if np.all(np.linalg.eigvalsh(self.hessian) > 0) else np.empty((0, self.dim))

    def __repr__(self) -> str:
        return f"Quadratic(hessian={self.hessian.tolist()}, center={self.center.tolist()})"


class Separable(LandscapeND):
    """``f(x) = sum_i component(x_i)``: a multi-well landscape on R^d (``Separable(DoubleWell(), 2)`` has
    four wells). Its basins are products of the component's basins, numbered with coordinate 0 fastest."""

    def __init__(self, component: Landscape1D, dim: int) -> None:
        if not isinstance(component, Landscape1D):
            raise TypeError(f"Invalid component: expected a 1-D htsgd landscape, got {type(component).__name__}")
        self._component = component
        self._dim = check_int("dim", dim, minimum=1, maximum=1 << 20)
        self._freeze(_core.LandscapeND.separable(component._core_landscape, self._dim))

    @property
    def component(self) -> Landscape1D:
        return self._component

    @property
    def dim(self) -> int:
        return self._dim

    def _args(self) -> tuple:
        return (self._component, self._dim)

    @property
    def minima(self) -> np.ndarray:
        m = self.component.minima
        grids = np.meshgrid(*([m] * self.dim), indexing="ij")
        return np.stack([g.reshape(-1, order="F") for g in grids], axis=1)

    @property
    def basin_edges(self) -> np.ndarray | None:
        try:
            return self.component.maxima
        except ValueError:  # infinitely many (Periodic): no occupancy
            return None

    def __repr__(self) -> str:
        return f"Separable({self.component!r}, dim={self.dim})"


def check_landscape(landscape: Any) -> Landscape:
    if not isinstance(landscape, Landscape):
        raise TypeError(f"Invalid landscape: expected an htsgd landscape, got {type(landscape).__name__}")
    return landscape
