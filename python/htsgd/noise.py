"""Noise laws of the SGD update: symmetric, i.i.d., sampled in C++ from counter-based streams.

Laws are immutable (frozen dataclasses), compare by value and pickle; each builds its core law
(``_core.NoiseLaw``) once, after validation.

Each law has ``.alpha`` (the tail index: ``P(|Z| > x)`` regularly varying with index ``-alpha``;
``inf`` for the Gaussian), ``.scale``, ``.tail(x) = P(|Z| > x)`` and ``.sample(size, rng=None)``.
``.tail_is_exact`` says whether ``.tail`` is the exact law or its asymptote.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from scipy import special, stats

from . import _core
from ._rng import RNGLike, resolve_seed
from ._validation import check_array, check_int, check_interval, check_noise_range, check_positive
from .distributions import DistributionMethods


class NoiseLaw(DistributionMethods):
    """Base class of the noise laws (symmetric: ``p_plus = p_minus = 1/2``)."""

    kind: str = ""
    alpha: float
    scale: float
    tail_is_exact: bool = True

    def tail(self, x: Any) -> np.ndarray | float:
        """``P(|Z| > x)`` for ``x >= 0`` (vectorised)."""
        raise NotImplementedError

    def sample(self, size: int | tuple[int, ...], rng: RNGLike = None) -> np.ndarray:
        """Draw i.i.d. variates with the engine's sampler (the same code the dynamics use).

        Parameters
        ----------
        size : int or tuple of int
            Output shape.
        rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
            Seed, numpy's conventions. The same seed gives the same variates for any thread count.
        """
        if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
            size = (size,)
        if not isinstance(size, tuple):
            raise TypeError(f"Invalid size: expected an int or a tuple of ints, got {type(size).__name__}")
        shape = tuple(check_int("size", s, minimum=0) for s in size)
        out = np.empty(shape, dtype=np.float64)
        seed = resolve_seed(rng)
        self._core_law.fill(out.reshape(-1), seed.key, 0)
        return out

    @property
    def _core_law(self) -> _core.NoiseLaw:
        """The law as the core takes it, built once (after validation) by ``_build_core``."""
        return self.__dict__["_core_law_cache"]

    def _build_core(self) -> None:
        alpha = self.alpha if math.isfinite(self.alpha) else 2.0  # the Gaussian sampler ignores alpha
        object.__setattr__(self, "_core_law_cache", _core.NoiseLaw(getattr(_core.NoiseKind, self.kind), alpha,
                                                                   self.scale))

    def __reduce__(self) -> tuple:
        # Rebuilt through __init__ (validation included); the core law is not pickled but built again.
        return type(self), tuple(getattr(self, f.name) for f in fields(self))  # type: ignore[arg-type]

    def _tail_input(self, x: Any) -> np.ndarray:
        arr = check_array("x", x, allow_nonfinite=True)
        if np.any(arr < 0):
            raise ValueError("Invalid x: expected numbers >= 0 (inf allowed, no NaN)")
        return arr


@dataclass(frozen=True)
class Pareto(NoiseLaw):
    """Symmetric Lomax: ``Z = S * scale * (U^(-1/alpha) - 1)``, exact tail ``(1 + x/scale)^-alpha``.

    The default heavy-tailed law of htsgd. ``alpha > 0`` (the theory needs ``alpha > 1``).
    """

    alpha: float
    scale: float = 1.0
    kind = "pareto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "alpha", check_positive("alpha", self.alpha))
        object.__setattr__(self, "scale", check_positive("scale", self.scale))
        check_noise_range(self.kind, "alpha", self.alpha, self.scale)
        self._build_core()

    def tail(self, x: Any) -> np.ndarray | float:
        x = self._tail_input(x)
        return (1.0 + x / self.scale) ** (-self.alpha)


@dataclass(frozen=True)
class Stable(NoiseLaw):
    """Symmetric alpha-stable, characteristic function ``exp(-|scale t|^alpha)``, ``0 < alpha <= 2``.

    Sampled exactly (Chambers-Mallows-Stuck). ``tail`` is exact for ``alpha = 1`` (Cauchy) and
    ``alpha = 2`` (``N(0, 2 scale^2)``); otherwise it is the asymptote
    ``C_alpha scale^alpha x^-alpha``, ``C_alpha = 2 Gamma(alpha) sin(pi alpha / 2) / pi``.
    """

    alpha: float
    scale: float = 1.0
    kind = "stable"

    def __post_init__(self) -> None:
        object.__setattr__(self, "alpha", check_interval("alpha", self.alpha, 0.0, 2.0, lo_open=True, hi_open=False))
        object.__setattr__(self, "scale", check_positive("scale", self.scale))
        check_noise_range(self.kind, "alpha", self.alpha, self.scale)
        self._build_core()

    @property
    def tail_is_exact(self) -> bool:  # type: ignore[override]
        return self.alpha in (1.0, 2.0)

    @property
    def tail_constant(self) -> float:
        """``C_alpha`` of the asymptote ``P(|Z| > x) ~ C_alpha (x/scale)^-alpha``."""
        return 2.0 * math.gamma(self.alpha) * math.sin(math.pi * self.alpha / 2.0) / math.pi

    def tail(self, x: Any) -> np.ndarray | float:
        x = self._tail_input(x)
        if self.alpha == 2.0:
            return special.erfc(x / (2.0 * self.scale))
        if self.alpha == 1.0:
            return 1.0 - 2.0 / math.pi * np.arctan(x / self.scale)
        with np.errstate(divide="ignore"):
            return np.minimum(1.0, self.tail_constant * (x / self.scale) ** (-self.alpha))


@dataclass(frozen=True)
class StudentT(NoiseLaw):
    """Student t with ``df`` degrees of freedom times ``scale``; tail index ``alpha = df``; exact tail."""

    df: float
    scale: float = 1.0
    kind = "student_t"

    def __post_init__(self) -> None:
        object.__setattr__(self, "df", check_positive("df", self.df))
        object.__setattr__(self, "scale", check_positive("scale", self.scale))
        check_noise_range(self.kind, "df", self.df, self.scale)
        self._build_core()

    @property
    def alpha(self) -> float:  # type: ignore[override]
        return self.df

    def tail(self, x: Any) -> np.ndarray | float:
        x = self._tail_input(x)
        return 2.0 * stats.t.sf(x / self.scale, self.df)


@dataclass(frozen=True)
class Gaussian(NoiseLaw):
    """``N(0, scale^2)``: the light-tailed baseline (``alpha = inf``)."""

    scale: float = 1.0
    kind = "gaussian"

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", check_positive("scale", self.scale))
        check_noise_range(self.kind, "alpha", 2.0, self.scale)
        self._build_core()

    @property
    def alpha(self) -> float:  # type: ignore[override]
        return math.inf

    def tail(self, x: Any) -> np.ndarray | float:
        x = self._tail_input(x)
        return special.erfc(x / (math.sqrt(2.0) * self.scale))


def check_noise(noise: Any) -> NoiseLaw:
    if not isinstance(noise, NoiseLaw):
        raise TypeError("Invalid noise: expected an htsgd noise law (Pareto, Stable, StudentT, Gaussian), "
                        f"got {type(noise).__name__}")
    return noise
