"""Result objects of the simulations: plain arrays plus the statistics users need, and the seed.

Every result is a frozen dataclass that pickles and compares equal field by field (arrays by value, NaN
equal to NaN), so results can travel to and from worker processes.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from scipy import stats


SHARE_WARNING = 0.05  # ExitProbability: above this max_weight_share the error bar is not to be trusted


def _same(a: Any, b: Any) -> bool:
    """Equality of result fields: arrays by shape, dtype and value; NaN equals NaN; containers elementwise."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return bool(a == b)


class _SameFields:
    """``==`` of dataclass results field by field (see ``_same``); unhashable, like their arrays."""

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in fields(self))  # type: ignore

    __hash__ = None  # type: ignore[assignment]


class Estimate(tuple):
    """A point estimate with its standard error: the tuple ``(value, stderr)``, plus the sample size ``n``
    where it is a sample mean (None otherwise).

    The one estimate type of the package: the simulator's statistics and ``htsgd.torch``'s sharpness
    estimates both return it. It unpacks and compares as the pair ``(value, stderr)`` (as in 0.2.0);
    ``n`` is carried beside the pair, not in it.
    """

    _fields = ("value", "stderr")

    def __new__(cls, value: float, stderr: float, n: int | None = None) -> "Estimate":
        self = super().__new__(cls, (value, stderr))
        self.__dict__["_n"] = n
        return self

    def __getnewargs__(self) -> tuple:
        return (self[0], self[1], self.n)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Estimate is immutable: cannot set {name!r}")

    @property
    def value(self) -> float:
        """The point estimate."""
        return self[0]

    @property
    def stderr(self) -> float:
        """Its standard error."""
        return self[1]

    @property
    def n(self) -> int | None:
        """The number of samples behind it, where that is defined."""
        return self.__dict__.get("_n")

    def _asdict(self) -> dict:
        return {"value": self.value, "stderr": self.stderr}

    def __repr__(self) -> str:
        tail = "" if self.n is None else f", n={self.n!r}"
        return f"Estimate(value={self.value!r}, stderr={self.stderr!r}{tail})"

    def __str__(self) -> str:
        return f"{self.value:.6g} +- {self.stderr:.2g}"


def _warn_nonfinite(n_bad: int, n: int, what: str) -> None:
    if n_bad:
        # stacklevel 5: warn -> _warn_nonfinite -> __post_init__ -> __init__ -> run() -> the user's line
        warnings.warn(f"{n_bad} of {n} particles became non-finite (overflow of an untruncated step?); "
                      f"they are flagged in `nonfinite` and {what}", RuntimeWarning, stacklevel=5)


@dataclass(frozen=True, eq=False)
class RunResult(_SameFields):
    """What :meth:`HeavyTailedSGD.run` returns.

    Attributes
    ----------
    final : ndarray, shape (n_particles,) or (n_particles, d)
        Positions after ``n_steps`` (NaN/inf for particles flagged in ``nonfinite``).
    trajectory : ndarray or None, shape (n_steps // record_every, n_particles[, d])
        Positions at steps ``record_every, 2 record_every, ...``.
    occupancy : ndarray or None, shape (n_particles, n_basins), int64
        Steps (of ``1..n_steps``) each particle spent in each basin, when the landscape has basins.
    basins : list
        The basins that the occupancy columns refer to (1-D: :class:`htsgd.theory.Basin`; d-D separable:
        the minima, coordinate 0 fastest).
    nonfinite_index, nonfinite_at : ndarray, int64
        The particles whose position became NaN or infinite, and the first step at which it did (sorted by
        particle). ``nonfinite_step`` and ``nonfinite`` give the same as n-sized arrays.
    seed_entropy, seed_spawn_key
        Repeat the run with ``rng=numpy.random.SeedSequence(seed_entropy, spawn_key=seed_spawn_key)``.
    occupancy_note : str or None
        Why ``occupancy`` is None when occupancy was asked for (e.g. a region between maxima that holds no
        minimum, where a particle is in no basin); None otherwise.
    """

    final: np.ndarray
    trajectory: np.ndarray | None
    record_every: int | None
    occupancy: np.ndarray | None
    basins: list = field(repr=False)
    nonfinite_index: np.ndarray = field(repr=False)
    nonfinite_at: np.ndarray = field(repr=False)
    n_steps: int = 0
    first_particle: int = 0
    seed_entropy: Any = None
    seed_spawn_key: tuple = ()
    occupancy_note: str | None = None

    def __post_init__(self) -> None:
        _warn_nonfinite(self.n_nonfinite, len(self.final), "their occupancy stops at that step")

    @property
    def nonfinite_step(self) -> np.ndarray:
        """Per particle: 0 if it stayed finite, else the first step at which its position was not finite."""
        out = np.zeros(len(self.final), dtype=np.int64)
        out[self.nonfinite_index] = self.nonfinite_at
        return out

    @property
    def nonfinite(self) -> np.ndarray:
        """Mask of the particles whose position became NaN or infinite."""
        out = np.zeros(len(self.final), dtype=bool)
        out[self.nonfinite_index] = True
        return out

    @property
    def n_nonfinite(self) -> int:
        return len(self.nonfinite_index)

    def occupancy_fraction(self) -> np.ndarray:
        """Fraction of all (finite) particle-steps spent in each basin."""
        if self.occupancy is None:
            raise ValueError(self.occupancy_note or "this landscape reports no basins, so no occupancy was recorded")
        total = self.occupancy.sum()
        return self.occupancy.sum(axis=0) / max(total, 1)


@dataclass(frozen=True, eq=False)
class ExponentialCheck(_SameFields):
    """Comparison of ``steps / mean`` with Exp(1): Kolmogorov-Smirnov statistic, its p-value (approximate:
    the mean is estimated), and the coefficient of variation (1 for an exponential law)."""

    statistic: float
    pvalue: float
    coefficient_of_variation: float
    n: int


@dataclass(frozen=True, eq=False)
class ExitTimes(_SameFields):
    """First-exit times from a domain, as returned by :meth:`HeavyTailedSGD.exit_times`.

    Attributes
    ----------
    steps : ndarray of int64
        First step ``k >= 1`` with ``x_k`` outside the open domain; ``max_steps`` for censored particles.
    position : ndarray
        Where each particle landed (its last position if censored).
    exited : ndarray of bool
        False = censored at ``max_steps`` (or non-finite).
    nonfinite : ndarray of bool
        Particles whose position overflowed; counted as censored at their last step (with a warning).
    """

    steps: np.ndarray
    position: np.ndarray
    exited: np.ndarray
    nonfinite: np.ndarray
    domain: tuple
    max_steps: int
    lr: float
    first_particle: int = 0
    seed_entropy: Any = None
    seed_spawn_key: tuple = ()

    def __post_init__(self) -> None:
        _warn_nonfinite(self.n_nonfinite, len(self.steps), "are treated as censored")

    @property
    def n_nonfinite(self) -> int:
        return int(np.count_nonzero(self.nonfinite))

    @property
    def n_censored(self) -> int:
        return int(np.count_nonzero(~self.exited))

    def mean(self) -> Estimate:
        """Censoring-aware mean exit time (steps) with its standard error.

        Without censoring: the sample mean and ``sd / sqrt(n)``. With censoring: the exponential
        maximum-likelihood estimate ``sum(steps) / n_exited`` (total time observed over exits; exit
        times are asymptotically exponential), standard error ``mean / sqrt(n_exited)``. Raises if no
        particle exited.
        """
        n_exit = int(np.count_nonzero(self.exited))
        if n_exit == 0:
            raise ValueError(f"no particle exited within max_steps={self.max_steps}; increase max_steps")
        t = self.steps.astype(np.float64)
        if n_exit == len(t):
            sd = float(np.std(t, ddof=1)) if len(t) > 1 else math.inf
            return Estimate(float(t.mean()), sd / math.sqrt(len(t)))
        m = float(t.sum()) / n_exit
        return Estimate(m, m / math.sqrt(n_exit))

    def mean_ode_time(self) -> Estimate:
        """Mean exit time in ODE time ``lr * steps``."""
        m = self.mean()
        return Estimate(self.lr * m.value, self.lr * m.stderr)

    def survival(self) -> tuple[np.ndarray, np.ndarray]:
        """Kaplan-Meier survival curve: times ``t`` and ``P(tau > t)`` just after each exit time."""
        t = self.steps
        order = np.argsort(t, kind="stable")
        t_sorted, ev = t[order], self.exited[order]
        times, idx = np.unique(t_sorted, return_index=True)
        at_risk = len(t) - idx
        events = np.add.reduceat(ev.astype(np.int64), idx)
        keep = events > 0
        surv = np.cumprod(1.0 - events[keep] / at_risk[keep])
        return times[keep], surv

    def exponential_check(self) -> ExponentialCheck:
        """Compare ``steps / mean`` with Exp(1) (uncensored particles only; see :class:`ExponentialCheck`)."""
        t = self.steps[self.exited].astype(np.float64)
        if len(t) < 2:
            raise ValueError("need at least two exits")
        m = self.mean().value
        res = stats.kstest(t / m, "expon")
        return ExponentialCheck(float(res.statistic), float(res.pvalue), float(t.std(ddof=1) / t.mean()), len(t))

    def side_fractions(self) -> tuple[Estimate, Estimate]:
        """1-D: fractions of exits through the lower and the upper end of the domain, with standard errors."""
        if self.position.ndim != 1:
            raise ValueError("side_fractions is for 1-D domains")
        n = int(np.count_nonzero(self.exited))
        if n == 0:
            raise ValueError("no particle exited")
        p_hi = float(np.count_nonzero(self.exited & (self.position >= self.domain[1]))) / n
        se = math.sqrt(p_hi * (1 - p_hi) / n)
        return Estimate(1.0 - p_hi, se), Estimate(p_hi, se)


class _ValueWithError:
    """``estimate`` and ``rel_error`` of a result with ``value`` and ``stderr`` fields."""

    value: float
    stderr: float

    @property
    def estimate(self) -> Estimate:
        return Estimate(self.value, self.stderr)

    @property
    def rel_error(self) -> float:
        """``stderr / value`` (inf without exits)."""
        return self.stderr / self.value if self.value > 0 else math.inf


@dataclass(frozen=True, eq=False)
class ExitProbability(_SameFields, _ValueWithError):
    """``p = P(tau <= horizon)`` for the first exit ``tau`` (steps) from ``domain``, with its diagnostics.

    Attributes
    ----------
    value, stderr : float
        The estimate ``mean(Y)`` and its standard error ``sd(Y) / sqrt(n_samples)``.
    n_samples : int
        Samples used. ``seconds``: wall time.
    method : {"importance", "crude"}
    horizon, l_star, side : int, int, str
        ``T``; the big jumps needed toward the exit side(s); ``"left"``, ``"right"`` or ``"both"``.
    gamma, weight : float or None
        Big-jump threshold and defensive weight (None for crude Monte Carlo).
    p_big : float
        ``P(B)``, the probability under the plain dynamics of at least ``l*`` big noises (1 for crude).
    branch_exit_rate : float
        Fraction of the conditioned-branch samples that exited (NaN for crude). Near 0: ``B`` rarely
        produces an exit (horizon much longer than the time the jumps must fall within, or ``gamma`` small).
    max_weight : float
        ``max(Y)``; never above ``1 / weight`` (1 for crude Monte Carlo).
    max_weight_share : float
        ``max(Y) / sum(Y)``. Above 0.05 one sample dominates and the error bar is not to be trusted
        (a ``RuntimeWarning`` is issued; usually ``gamma`` is too large). NaN without exits.
    n_exits, n_nonfinite : int
        Samples that exited; samples whose position overflowed (counted as not exited, with a warning).
    seed_entropy, seed_spawn_key
        Repeat with ``rng=numpy.random.SeedSequence(seed_entropy, spawn_key=seed_spawn_key)``.
    """

    value: float
    stderr: float
    n_samples: int
    seconds: float
    method: str
    horizon: int
    l_star: int
    side: str
    gamma: float | None
    weight: float | None
    p_big: float
    branch_exit_rate: float
    max_weight: float
    max_weight_share: float
    n_exits: int
    n_nonfinite: int = 0
    lr: float = math.nan
    domain: tuple = ()
    x0: float = math.nan
    seed_entropy: Any = None
    seed_spawn_key: tuple = ()
    target_reached: bool | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.method == "importance" and self.max_weight_share > SHARE_WARNING:
            warnings.warn(f"the largest weight is {self.max_weight_share:.1%} of the sum (> 5%): the error bar "
                          f"is not to be trusted; lower gamma (now {self.gamma:g}) or take more samples",
                          RuntimeWarning, stacklevel=6)
        if self.n_nonfinite:
            warnings.warn(f"{self.n_nonfinite} of {self.n_samples} samples became non-finite (overflow of an "
                          "untruncated step?); they count as not exited", RuntimeWarning, stacklevel=6)

    @property
    def rel_error_per_sample(self) -> float:
        """``sd(Y) / mean(Y)``: the relative error of one sample; ``n`` samples give this over ``sqrt(n)``."""
        return self.rel_error * math.sqrt(self.n_samples)

    def samples_for(self, rel_error: float) -> int:
        """Samples needed for a relative error ``rel_error`` at this relative error per sample."""
        return math.ceil((self.rel_error_per_sample / rel_error) ** 2)

    def __str__(self) -> str:
        return (f"P(tau <= {self.horizon}) = {self.value:.4g} +- {self.stderr:.2g} ({self.method}, "
                f"{self.n_samples} samples, relative error per sample {self.rel_error_per_sample:.3g}, "
                f"{self.seconds:.2f} s)")


@dataclass(frozen=True, eq=False)
class MeanExitTime(_SameFields, _ValueWithError):
    """Mean first-exit time (steps) with its standard error, as returned by ``mean_exit_time``.

    Attributes
    ----------
    value, stderr : float
    method : {"direct", "importance"}
        Direct simulation of exits, or the two-horizon slope estimator
        ``(T2 - T1) / (log(1 - p(T1)) - log(1 - p(T2)))`` with both probabilities by importance sampling.
    n_samples : int
        Exits simulated (direct) or samples of both horizons together (importance).
    seconds : float
    horizons : (int, int) or None
    probabilities : (ExitProbability, ExitProbability) or None
        ``p(T1)`` and ``p(T2)`` (importance).
    exit_times : ExitTimes or None
        The simulated exits (direct).
    """

    value: float
    stderr: float
    method: str
    n_samples: int
    seconds: float
    horizons: tuple[int, int] | None = None
    probabilities: tuple[ExitProbability, ExitProbability] | None = field(default=None, repr=False)
    exit_times: ExitTimes | None = field(default=None, repr=False)
    seed_entropy: Any = None
    seed_spawn_key: tuple = ()

    def __str__(self) -> str:
        return f"E tau = {self.value:.5g} +- {self.stderr:.2g} steps ({self.method}, {self.seconds:.2f} s)"
