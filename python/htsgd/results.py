"""Result objects of the simulations: plain arrays plus the statistics users need, and the seed."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from scipy import stats


class Estimate(NamedTuple):
    """A point estimate with its standard error."""

    value: float
    stderr: float

    def __str__(self) -> str:
        return f"{self.value:.6g} +- {self.stderr:.2g}"


def _warn_nonfinite(n_bad: int, n: int, what: str) -> None:
    if n_bad:
        # stacklevel 5: warn -> _warn_nonfinite -> __post_init__ -> __init__ -> run() -> the user's line
        warnings.warn(f"{n_bad} of {n} particles became non-finite (overflow of an untruncated step?); "
                      f"they are flagged in `nonfinite` and {what}", RuntimeWarning, stacklevel=5)


@dataclass(frozen=True)
class RunResult:
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


@dataclass(frozen=True)
class ExponentialCheck:
    """Comparison of ``steps / mean`` with Exp(1): Kolmogorov-Smirnov statistic, its p-value (approximate:
    the mean is estimated), and the coefficient of variation (1 for an exponential law)."""

    statistic: float
    pvalue: float
    coefficient_of_variation: float
    n: int


@dataclass(frozen=True)
class ExitTimes:
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
