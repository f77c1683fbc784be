"""scipy-like methods of the noise laws: densities, distribution functions, quantiles, moments, ``rvs``.

:class:`DistributionMethods` is a base of :class:`htsgd.NoiseLaw`, so every law (``Pareto``, ``Stable``,
``StudentT``, ``Gaussian``) has ``pdf``, ``logpdf``, ``cdf``, ``sf``, ``ppf``, ``median``, ``mean``, ``var``,
``std``, ``moment``, ``interval``, ``support``, ``rvs`` and ``to_scipy``, with scipy's names and conventions:
a moment that diverges is ``inf``, one that is undefined (``E|Z|^n`` infinite for an odd order) is ``nan``.

The distribution functions are those of the frozen scipy object of :meth:`DistributionMethods.to_scipy`:
``scipy.stats.t``, ``scipy.stats.norm``, ``scipy.stats.levy_stable`` (``scipy.stats.cauchy`` and
``scipy.stats.norm`` at ``alpha`` 1 and 2, where the stable law has closed forms; in the far tails,
``|x| >= 20 scale``, where ``levy_stable``'s numerical integration fails, the methods use the series of
Bergstrom (1952) instead) and, for the symmetric Lomax
law that scipy lacks, :data:`symmetric_lomax`, a ``scipy.stats.rv_continuous`` with exact formulas. Moments
are exact closed forms. Sampling (``rvs``) is the engine's own sampler, the one the dynamics use.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special, stats

__all__ = ["DistributionMethods", "symmetric_lomax"]


class symmetric_lomax_gen(stats.rv_continuous):
    r"""Symmetric Lomax law: ``Z = S |Z|`` with a fair sign ``S`` and ``|Z| ~ Lomax(c)``.

    ``P(|Z| > x) = (1 + x)^-c`` for ``x >= 0``; density ``c (1 + |x|)^-(c + 1) / 2``; shape ``c > 0``. With
    ``scale=s`` it is ``htsgd.Pareto(alpha=c, scale=s)``.
    """

    def _pdf(self, x, c):
        return 0.5 * c * (1.0 + np.abs(x)) ** (-c - 1.0)

    def _logpdf(self, x, c):
        return np.log(0.5 * c) - (c + 1.0) * np.log1p(np.abs(x))

    def _cdf(self, x, c):
        half_tail = 0.5 * (1.0 + np.abs(x)) ** (-c)
        return np.where(x < 0, half_tail, 1.0 - half_tail)

    def _sf(self, x, c):
        return self._cdf(-x, c)

    def _ppf(self, q, c):
        # the quantile of the smaller tail mass, for accuracy near 0 and 1
        lower = np.minimum(q, 1.0 - q)
        magnitude = np.expm1(-np.log(2.0 * lower) / c)
        return np.where(q < 0.5, -magnitude, magnitude)

    def _isf(self, q, c):
        return -self._ppf(q, c)

    def _munp(self, n, c):
        return _lomax_symmetric_moment(n, c)

    def _stats(self, c):
        return (_lomax_symmetric_moment(1, c), _lomax_symmetric_moment(2, c), None, None)


#: The symmetric Lomax law as a scipy distribution: ``symmetric_lomax(alpha, scale=scale)`` is ``Pareto``.
symmetric_lomax = symmetric_lomax_gen(name="symmetric_lomax")


def _lomax_symmetric_moment(n, c):
    """``E Z^n`` of the unit symmetric Lomax law: ``n! / prod_{i=1..n}(c - i)`` for even ``n < c``."""
    n = np.asarray(n, dtype=float)
    c = np.asarray(c, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        finite = np.exp(special.gammaln(n + 1.0) + special.gammaln(np.maximum(c - n, 1e-300)) - special.gammaln(c))
    odd = np.mod(n, 2.0) == 1.0
    return np.where(n == 0, 1.0, np.where(odd, np.where(c > n, 0.0, np.nan), np.where(c > n, finite, np.inf)))


def _symmetric_moment(order: int, alpha: float, even_moment) -> float:
    """``E Z^order`` of a symmetric law whose ``E|Z|^p`` is finite exactly for ``p < alpha``."""
    if order == 0:
        return 1.0
    if order % 2 == 1:
        return 0.0 if order < alpha else math.nan
    return even_moment(order) if order < alpha else math.inf


# Far tails of the symmetric stable law with characteristic function exp(-|t|^alpha) (Bergstrom 1952; Zolotarev,
# One-dimensional Stable Distributions, 1986, section 2.4): for x > 0
#   P(Z > x) = 1/pi sum_k (-1)^(k+1) Gamma(k alpha) / k! sin(k pi alpha / 2) x^(-k alpha),
# convergent for alpha < 1 and asymptotic for 1 < alpha < 2; from x = 20 on, 12 terms reach double precision.
_STABLE_FAR = 20.0
_STABLE_TERMS = np.arange(1, 13)


def _stable_far_sf(alpha: float, x: np.ndarray) -> np.ndarray:
    k = _STABLE_TERMS[:, None]
    coef = (-1.0) ** (k + 1) * np.exp(special.gammaln(k * alpha) - special.gammaln(k + 1.0)) * np.sin(k * np.pi * alpha / 2)
    return np.sum(coef * np.power(x[None, :], -k * alpha), axis=0) / np.pi


def _stable_far_pdf(alpha: float, x: np.ndarray) -> np.ndarray:
    k = _STABLE_TERMS[:, None]
    coef = (-1.0) ** (k + 1) * np.exp(special.gammaln(k * alpha + 1.0) - special.gammaln(k + 1.0)) * np.sin(k * np.pi * alpha / 2)
    return np.sum(coef * np.power(x[None, :], -k * alpha - 1.0), axis=0) / np.pi


def _stable_far_isf(alpha: float, q: np.ndarray) -> np.ndarray:
    """``x >= 20`` with ``P(Z > x) = q`` for small ``q``: Newton's method on ``log sf`` against ``log x``."""
    x = np.power(math.gamma(alpha) * math.sin(math.pi * alpha / 2) / (math.pi * q), 1.0 / alpha)
    for _ in range(30):
        sf, pdf = _stable_far_sf(alpha, x), _stable_far_pdf(alpha, x)
        step = (np.log(sf) - np.log(q)) * sf / (x * pdf)
        x = x * np.exp(step)
        if np.all(np.abs(step) < 1e-15):
            break
    return x


def _general_stable(law: Any) -> bool:
    return getattr(law, "kind", "") == "stable" and law.alpha not in (1.0, 2.0)


class DistributionMethods:
    """scipy-like methods shared by every noise law (a base of :class:`htsgd.NoiseLaw`).

    The law is symmetric, so ``median()`` is 0 and ``sf(x) = cdf(-x)``; ``2 * sf(x)`` equals ``tail(x)``
    where ``tail`` is exact.
    """

    # --- the scipy object ------------------------------------------------------------------------------
    def to_scipy(self) -> Any:
        """The law as a frozen ``scipy.stats`` distribution.

        Returns
        -------
        scipy.stats.rv_continuous frozen distribution
            ``Pareto(a, s)``: ``symmetric_lomax(a, scale=s)`` (defined in :mod:`htsgd.distributions`);
            ``Stable(a, s)``: ``levy_stable(a, 0, scale=s)``, or ``cauchy(scale=s)`` for ``a = 1`` and
            ``norm(scale=sqrt(2) s)`` for ``a = 2``; ``StudentT(df, s)``: ``t(df, scale=s)``;
            ``Gaussian(s)``: ``norm(scale=s)``.
        """
        kind, scale = self.kind, self.scale
        if kind == "pareto":
            return symmetric_lomax(self.alpha, scale=scale)
        if kind == "student_t":
            return stats.t(self.alpha, scale=scale)
        if kind == "gaussian":
            return stats.norm(scale=scale)
        if kind == "stable":
            if self.alpha == 2.0:
                return stats.norm(scale=math.sqrt(2.0) * scale)
            if self.alpha == 1.0:
                return stats.cauchy(scale=scale)
            return stats.levy_stable(self.alpha, 0.0, scale=scale)
        raise NotImplementedError(f"no scipy distribution for noise kind {kind!r}")

    # --- distribution functions --------------------------------------------------------------------------
    def pdf(self, x: Any) -> np.ndarray | float:
        """Probability density at ``x``.

        Parameters
        ----------
        x : array_like of float
            Points (any real numbers, ``+-inf`` included; not NaN).

        Returns
        -------
        numpy.ndarray or float
            The density, shaped like ``x``.
        """
        x = _points("x", x)
        out = np.asarray(self.to_scipy().pdf(x), dtype=np.float64)
        if _general_stable(self):
            far = np.abs(x) >= _STABLE_FAR * self.scale
            out[far] = _stable_far_pdf(self.alpha, np.abs(x[far]) / self.scale) / self.scale
        return out[()]

    def logpdf(self, x: Any) -> np.ndarray | float:
        """Logarithm of the density at ``x`` (accurate far in the tails).

        Parameters
        ----------
        x : array_like of float
            Points (not NaN).

        Returns
        -------
        numpy.ndarray or float
            ``log pdf(x)``, shaped like ``x``.
        """
        x = _points("x", x)
        if _general_stable(self):
            return np.log(self.pdf(x))[()]
        return self.to_scipy().logpdf(x)[()]

    def cdf(self, x: Any) -> np.ndarray | float:
        """Distribution function ``P(Z <= x)``.

        Parameters
        ----------
        x : array_like of float
            Points (not NaN).

        Returns
        -------
        numpy.ndarray or float
            ``P(Z <= x)``, shaped like ``x``.
        """
        x = _points("x", x)
        if getattr(self, "kind", "") == "stable" and self.alpha != 2.0:
            return self.sf(-x)
        return self.to_scipy().cdf(x)[()]

    def sf(self, x: Any) -> np.ndarray | float:
        """Survival function ``P(Z > x)``, accurate where it is small.

        Parameters
        ----------
        x : array_like of float
            Points (not NaN).

        Returns
        -------
        numpy.ndarray or float
            ``P(Z > x)``, shaped like ``x``.
        """
        x = _points("x", x)
        if getattr(self, "kind", "") != "stable" or self.alpha == 2.0:
            return self.to_scipy().sf(x)[()]
        # symmetric: the smaller of the two tail masses is computed, never 1 minus something
        z = np.atleast_1d(np.abs(x) / self.scale)
        if self.alpha == 1.0:  # Cauchy: P(Z > z) = arctan(1/z) / pi without cancellation
            small = np.arctan2(1.0, z) / np.pi
        else:
            small = np.empty_like(z)
            far = z >= _STABLE_FAR
            small[far] = _stable_far_sf(self.alpha, z[far])
            small[~far] = self.to_scipy().sf(self.scale * z[~far])
        small = small.reshape(np.shape(x))
        return np.where(x >= 0, small, 1.0 - small)[()]

    def ppf(self, q: Any) -> np.ndarray | float:
        """Quantile function, the inverse of :meth:`cdf`.

        Parameters
        ----------
        q : array_like of float
            Probabilities in ``[0, 1]``.

        Returns
        -------
        numpy.ndarray or float
            The ``q``-quantiles (``-inf`` at 0, ``inf`` at 1), shaped like ``q``.
        """
        q = np.asarray(q, dtype=np.float64)
        if np.any(np.isnan(q)) or np.any(q < 0) or np.any(q > 1):
            raise ValueError("Invalid q: expected probabilities in [0, 1]")
        # symmetric: the quantile of the smaller tail mass (1 - q is exact for q >= 1/2), mirrored
        small = np.atleast_1d(np.minimum(q, 1.0 - q))
        magnitude = np.full(small.shape, math.inf)
        far = np.zeros(small.shape, dtype=bool)
        if _general_stable(self):
            far = (small > 0) & (small < _stable_far_sf(self.alpha, np.array([_STABLE_FAR]))[0])
            magnitude[far] = self.scale * _stable_far_isf(self.alpha, small[far])
        near = (small > 0) & ~far
        if getattr(self, "kind", "") == "stable" and self.alpha == 1.0:  # Cauchy, without cancellation
            magnitude[near] = self.scale / np.tan(np.pi * small[near])
        else:
            magnitude[near] = -self.to_scipy().ppf(small[near])
        magnitude[small == 0.5] = 0.0
        return np.where(q < 0.5, -magnitude.reshape(q.shape), magnitude.reshape(q.shape))[()]

    def interval(self, confidence: float) -> tuple[float, float]:
        """The central interval that holds probability ``confidence``.

        Parameters
        ----------
        confidence : float
            A probability in ``[0, 1]``.

        Returns
        -------
        tuple of float
            ``(ppf((1 - confidence) / 2), ppf((1 + confidence) / 2))``, symmetric about 0.
        """
        c = float(confidence)
        if not 0.0 <= c <= 1.0:
            raise ValueError(f"Invalid confidence: {confidence!r}; expected a probability in [0, 1]")
        hi = float(self.ppf(0.5 + 0.5 * c))
        return -hi, hi

    def support(self) -> tuple[float, float]:
        """The support of the law.

        Returns
        -------
        tuple of float
            ``(-inf, inf)`` for every law.
        """
        return -math.inf, math.inf

    def median(self) -> float:
        """The median: 0 for these symmetric laws.

        Returns
        -------
        float
            0.0.
        """
        return 0.0

    # --- moments -----------------------------------------------------------------------------------------
    def moment(self, order: int) -> float:
        """Raw moment ``E Z^order`` (central too: the mean is 0 where it exists).

        Parameters
        ----------
        order : int
            The order, ``>= 0``.

        Returns
        -------
        float
            The moment; ``inf`` where an even moment diverges (``order >= alpha``) and ``nan`` where an odd
            one is undefined (scipy's convention).
        """
        if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 0:
            raise ValueError(f"Invalid order: {order!r}; expected an integer >= 0")
        n, s = int(order), self.scale
        kind = self.kind
        if kind == "gaussian":
            return _symmetric_moment(n, math.inf, lambda k: s**k * math.prod(range(k - 1, 0, -2)))
        if kind == "stable" and self.alpha == 2.0:  # N(0, 2 s^2)
            return _symmetric_moment(n, math.inf, lambda k: (math.sqrt(2.0) * s) ** k * math.prod(range(k - 1, 0, -2)))
        if kind == "pareto":
            return _symmetric_moment(n, self.alpha, lambda k: s**k * float(_lomax_symmetric_moment(k, self.alpha)))
        if kind == "student_t":
            nu = self.alpha
            return _symmetric_moment(n, nu, lambda k: s**k * nu ** (k / 2) * math.exp(
                special.gammaln((k + 1) / 2) + special.gammaln((nu - k) / 2) - special.gammaln(nu / 2)) / math.sqrt(math.pi))
        if kind == "stable":  # 0 < alpha < 2: E|Z|^p finite only for p < alpha <= 2
            return _symmetric_moment(n, self.alpha, lambda k: math.inf)
        raise NotImplementedError(f"no moments for noise kind {kind!r}")

    def mean(self) -> float:
        """The mean: 0 where ``E|Z|`` is finite (``alpha > 1``), else ``nan``.

        Returns
        -------
        float
            0.0 or nan.
        """
        return self.moment(1)

    def var(self) -> float:
        """The variance ``E Z^2``: finite for ``alpha > 2``, ``inf`` for ``1 < alpha <= 2``, else ``nan``.

        Returns
        -------
        float
            The variance (``scale^2`` for the Gaussian, ``2 scale^2 / ((alpha - 1)(alpha - 2))`` for Pareto,
            ``scale^2 df / (df - 2)`` for Student t).
        """
        return self.moment(2) if self.alpha > 1 else math.nan

    def std(self) -> float:
        """The standard deviation, ``sqrt(var())``.

        Returns
        -------
        float
            ``sqrt(var())`` (``inf`` or ``nan`` like the variance).
        """
        return math.sqrt(self.var())

    # --- sampling ----------------------------------------------------------------------------------------
    def rvs(self, size: int | tuple[int, ...] | None = None, random_state: Any = None) -> np.ndarray | float:
        """scipy's name for :meth:`sample`: i.i.d. variates from the engine's sampler.

        Parameters
        ----------
        size : None, int or tuple of int
            Output shape; None gives one float.
        random_state : None, int, numpy.random.SeedSequence or numpy.random.Generator
            The seed, as ``rng`` of :meth:`sample` (``rvs(n, random_state=s)`` equals ``sample(n, rng=s)``).

        Returns
        -------
        numpy.ndarray or float
            The variates.
        """
        if size is None:
            return float(self.sample(1, rng=random_state)[0])
        return self.sample(size, rng=random_state)


def _points(name: str, x: Any) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if np.any(np.isnan(arr)):
        raise ValueError(f"Invalid {name}: expected real numbers, not NaN")
    return arr
