"""Truncated heavy-tailed SGD: ``x <- proj(x + phi_b(-lr * grad f(x) + lr * Z))`` for many particles."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _core
from ._rng import RNGLike, resolve_seed
from ._validation import (check_array, check_choice, check_int, check_n_threads, check_optional_int,
                          check_positive)
from .landscapes import Landscape, Landscape1D, LandscapeND, Separable, check_landscape
from .noise import NoiseLaw, check_noise
from .results import ExitTimes, RunResult
from .theory import basins_from_critical_points

_MAX_PARTICLES = 2**32 - 1  # particle ids index the 32-bit Philox counter word
_MAX_STEPS = 2**56 - 1
_MAX_BASINS_ND = 4096


class HeavyTailedSGD:
    """Truncated heavy-tailed SGD on a landscape, simulated for many independent particles in C++.

    Parameters
    ----------
    landscape : htsgd.landscapes.Landscape
        Loss landscape (1-D: state shape ``(n,)``; d-D: ``(n, d)``).
    lr : float
        Learning rate (step size), ``> 0``.
    noise : htsgd.Pareto, htsgd.Stable, htsgd.StudentT or htsgd.Gaussian
        Law of the gradient noise ``Z`` (its ``scale`` included).
    truncation : float or None
        ``b``: the whole step is clipped to length ``b``; None (or inf) is untruncated.
    bounds : (lo, hi) or None
        Iterates are projected onto ``[lo, hi]`` (1-D) or the box ``[lo, hi]^d`` (scalars or length-d
        sequences; infinite ends allowed).
    clip : {"norm", "coordinate"}
        d-D only: clip the step by its Euclidean norm (the theory's ``phi_b``) or each coordinate.
    isotropic : bool
        d-D only: noise with radius ``|Z|`` and a uniform direction, instead of i.i.d. coordinates.

    Notes
    -----
    Every particle's randomness is addressed by ``(seed, particle id, step)``, so results are
    bit-identical for any ``n_threads`` and particle ``i`` can be replayed alone with
    ``first_particle=i``. Calls release the GIL, use all cores and stop on Ctrl-C.
    """

    def __init__(self, landscape: Landscape, lr: float, noise: NoiseLaw, truncation: float | None = None,
                 bounds: tuple[Any, Any] | None = None, *, clip: str = "norm", isotropic: bool = False) -> None:
        self.landscape = check_landscape(landscape)
        self.lr = check_positive("lr", lr)
        self.noise = check_noise(noise)
        self.truncation = None if truncation is None else check_positive("truncation", truncation, allow_inf=True)
        self.clip = check_choice("clip", clip, ("norm", "coordinate"))
        if not isinstance(isotropic, (bool, np.bool_)):
            raise TypeError(f"Invalid isotropic: expected a bool, got {type(isotropic).__name__}")
        self.isotropic = bool(isotropic)
        self._d = 1 if isinstance(landscape, Landscape1D) else landscape.dim
        self.bounds = None if bounds is None else self._check_box("bounds", bounds)

    # ------------------------------------------------------------------ helpers
    @property
    def _b(self) -> float:
        return math.inf if self.truncation is None else self.truncation

    def _check_box(self, name: str, box: Any) -> tuple[np.ndarray, np.ndarray]:
        if not isinstance(box, (tuple, list)) or len(box) != 2:
            raise TypeError(f"Invalid {name}: expected a pair (lo, hi)")
        lo = check_array(f"{name}[0]", box[0], ndim=(0, 1), allow_nonfinite=True)
        hi = check_array(f"{name}[1]", box[1], ndim=(0, 1), allow_nonfinite=True)
        if lo.size not in (1, self._d) or hi.size not in (1, self._d):
            raise ValueError(f"Invalid {name}: expected scalars or sequences of length {self._d}")
        lo, hi = np.broadcast_to(lo, (self._d,)).copy(), np.broadcast_to(hi, (self._d,)).copy()
        if np.any(lo >= hi):
            raise ValueError(f"Invalid {name}: {box!r}; expected lo < hi")
        return lo, hi

    def _step_spec(self) -> dict:
        lo, hi = self.bounds if self.bounds is not None else (np.full(self._d, -np.inf), np.full(self._d, np.inf))
        return {"lr": self.lr, "truncation": self._b, "lo": lo, "hi": hi, "clip": self.clip,
                "isotropic": self.isotropic}

    def _initial_state(self, x0: Any, n_particles: int | None) -> np.ndarray:
        x = check_array("x0", x0, ndim=(0, 1, 2))
        if isinstance(self.landscape, Landscape1D):
            if x.ndim == 2:
                raise ValueError(f"Invalid x0: expected a scalar or shape (n_particles,), got shape {x.shape}")
            per_particle = x.ndim == 1
            single_shape: tuple[int, ...] = ()
        else:
            if x.ndim == 0 or x.shape[-1] != self._d:
                raise ValueError(f"Invalid x0: expected shape ({self._d},) or (n_particles, {self._d}), "
                                 f"got shape {x.shape}")
            per_particle = x.ndim == 2
            single_shape = (self._d,)
        if per_particle:
            if n_particles is not None and n_particles != x.shape[0]:
                raise ValueError(f"Invalid n_particles: {n_particles}; expected None or {x.shape[0]}, the number of "
                                 "particles in x0")
            out = x
        else:
            n = 1 if n_particles is None else n_particles
            out = np.broadcast_to(x, (n, *single_shape))
        if out.shape[0] < 1:
            raise ValueError("Invalid x0: expected at least one particle")
        if out.shape[0] > _MAX_PARTICLES:
            raise ValueError(f"Invalid n_particles: expected at most {_MAX_PARTICLES}")
        if self.bounds is not None:
            lo, hi = self.bounds
            pts = out.reshape(out.shape[0], -1)
            if np.any(pts < lo) or np.any(pts > hi):
                raise ValueError(f"Invalid x0: expected points inside bounds {self.bounds}")
        return out  # possibly a broadcast view: the callers copy it once, where they need to

    @staticmethod
    def _check_first_particle(first_particle: Any, n: int) -> int:
        fp = check_int("first_particle", first_particle, minimum=0)
        if fp + n > _MAX_PARTICLES + 1:
            raise ValueError(f"Invalid first_particle: {fp}; expected first_particle + n_particles <= 2**32")
        return fp

    # ------------------------------------------------------------------ public API
    def run(self, x0: Any, n_steps: int, n_particles: int | None = None, rng: RNGLike = None,
            record_every: int | None = None, n_threads: int | None = None, *,
            first_particle: int = 0, occupancy: bool = True) -> RunResult:
        """Simulate ``n_steps`` steps of every particle.

        Parameters
        ----------
        x0 : float or array_like
            Initial positions: one point (broadcast to ``n_particles``) or one per particle.
        n_steps : int
            Number of steps, ``>= 0``.
        n_particles : int, optional
            Number of particles when ``x0`` is a single point (default 1).
        rng : None, int, SeedSequence or Generator
            Seed (numpy's conventions); its entropy is stored in the result.
        record_every : int, optional
            Record the positions every ``record_every`` steps (the thinned trajectory).
        n_threads : int, optional
            OpenMP threads (default: all cores). Results do not depend on it.
        first_particle : int
            Id of the first particle: particle ``i`` of this call is particle ``first_particle + i`` of
            the stream, so ``run(x0[i], ..., first_particle=i)`` replays particle ``i`` alone.
        occupancy : bool
            Count the steps each particle spends in each basin (when the landscape has basins). Off, the
            call's memory is that of the state alone.

        Returns
        -------
        RunResult
            ``final``, ``trajectory``, ``occupancy`` (steps per basin, when the landscape has basins),
            the non-finite particles and the seed.
        """
        n_particles = check_optional_int("n_particles", n_particles, minimum=1)
        n_steps = check_int("n_steps", n_steps, minimum=0, maximum=_MAX_STEPS)
        record_every = check_optional_int("record_every", record_every, minimum=1)
        threads = check_n_threads(n_threads)
        if not isinstance(occupancy, (bool, np.bool_)):
            raise TypeError(f"Invalid occupancy: expected a bool, got {type(occupancy).__name__}")
        x = self._initial_state(x0, n_particles)
        fp = self._check_first_particle(first_particle, x.shape[0])
        seed = resolve_seed(rng)
        edges, n_basins, basins, note = self._occupancy_plan() if occupancy else (np.empty(0), 0, [], None)
        if record_every is not None and x.size * (n_steps // record_every) > 2**31:
            raise ValueError(f"Invalid record_every: {record_every}; expected a value that keeps the trajectory "
                             f"within 2**31 numbers (it would hold {x.size * (n_steps // record_every):.3g})")
        state = np.array(x, dtype=np.float64, order="C")  # the one copy: C++ turns it into the final state
        raw = _core.run(self.landscape._spec(), self.noise._spec(), self._step_spec(), state, n_steps, seed.key,
                        fp, record_every or 0, edges, n_basins, threads)
        return RunResult(final=raw["final"], trajectory=raw["trajectory"], record_every=record_every,
                         occupancy=raw["occupancy"], basins=basins, nonfinite_index=raw["nonfinite_index"],
                         nonfinite_at=raw["nonfinite_at"], n_steps=n_steps, first_particle=fp, seed_entropy=seed.entropy,
                         seed_spawn_key=seed.spawn_key, occupancy_note=note)

    def _occupancy_layout(self) -> tuple[np.ndarray, int, list]:
        return self._occupancy_plan()[:3]

    def _occupancy_plan(self) -> tuple[np.ndarray, int, list, str | None]:
        # Occupancy columns are the regions between consecutive maxima; they are basins only when each
        # holds exactly one minimum. Otherwise (concave ends, a landscape the analysis cannot classify)
        # the run goes on without occupancy and says why.
        land = self.landscape
        if isinstance(land, Landscape1D):
            try:
                return self._occupancy_layout_1d(land.minima, land.maxima)
            except ValueError as exc:
                return np.empty(0), 0, [], f"no occupancy: {exc}"
        edges = land.basin_edges if isinstance(land, LandscapeND) else None
        if edges is None or (len(edges) + 1) ** self._d > _MAX_BASINS_ND:
            return np.empty(0), 0, [], None
        if isinstance(land, Separable):
            try:
                self._occupancy_layout_1d(land.component.minima, land.component.maxima)
            except ValueError as exc:
                return np.empty(0), 0, [], f"no occupancy: {exc}"
        return np.ascontiguousarray(edges, dtype=np.float64), (len(edges) + 1) ** self._d, list(land.minima), None

    def _occupancy_layout_1d(self, minima: np.ndarray, maxima: np.ndarray) -> tuple[np.ndarray, int, list, None]:
        if len(minima) == 0 and len(maxima) == 0:
            return np.empty(0), 0, [], None
        ends = np.concatenate([[-math.inf], maxima, [math.inf]])
        per_region = np.bincount(np.searchsorted(maxima, minima), minlength=len(maxima) + 1)
        if np.any(per_region != 1):
            k = int(np.flatnonzero(per_region != 1)[0])
            raise ValueError(f"the region ({ends[k]:g}, {ends[k + 1]:g}) between maxima holds {per_region[k]} "
                             "minima, not one, so it is no basin (e.g. the landscape falls away at that end)")
        basins = basins_from_critical_points(minima, maxima)
        return np.ascontiguousarray(maxima, dtype=np.float64), len(maxima) + 1, basins, None

    def exit_times(self, x0: Any, domain: tuple[Any, Any], n_particles: int, max_steps: int,
                   rng: RNGLike = None, n_threads: int | None = None, *, first_particle: int = 0) -> ExitTimes:
        """First-exit times from the open interval (1-D) or box (d-D) ``domain``.

        Parameters
        ----------
        x0 : float or array_like
            Start point(s), strictly inside ``domain``.
        domain : (lo, hi)
            Open interval / box; either end may be infinite (e.g. ``(0, inf)``).
        n_particles : int
            Number of independent exits to simulate (``x0`` broadcast, or one row per particle).
        max_steps : int
            Censoring horizon: particles still inside after ``max_steps`` steps are reported with
            ``exited=False`` (the statistics of :class:`ExitTimes` account for them).
        rng, n_threads, first_particle
            As in :meth:`run`.

        Returns
        -------
        ExitTimes
            A step that overflows through a finite end of ``domain`` (untruncated noise) is an exit on that
            side, its position ``+-inf``; a NaN position, or ``+-inf`` beyond an infinite end (the true
            position is finite, still inside), is flagged ``nonfinite`` and treated as censored.
        """
        n_particles = check_int("n_particles", n_particles, minimum=1, maximum=_MAX_PARTICLES)
        max_steps = check_int("max_steps", max_steps, minimum=1, maximum=_MAX_STEPS)
        threads = check_n_threads(n_threads)
        lo, hi = self._check_box("domain", domain)
        x = self._initial_state(x0, n_particles)
        pts = x.reshape(x.shape[0], -1)
        if not (np.all(pts > lo) and np.all(pts < hi)):
            raise ValueError(f"Invalid x0: expected points strictly inside domain {domain!r}")
        fp = self._check_first_particle(first_particle, x.shape[0])
        seed = resolve_seed(rng)
        raw = _core.exit_times(self.landscape._spec(), self.noise._spec(), self._step_spec(),
                               np.ascontiguousarray(x), lo, hi,
                               max_steps, seed.key, fp, threads)
        dom = (float(lo[0]), float(hi[0])) if self._d == 1 and isinstance(self.landscape, Landscape1D) else (lo, hi)
        return ExitTimes(steps=raw["steps"], position=raw["position"], exited=raw["exited"],
                         nonfinite=raw["nonfinite"], domain=dom, max_steps=max_steps, lr=self.lr,
                         first_particle=fp, seed_entropy=seed.entropy, seed_spawn_key=seed.spawn_key)

    def __repr__(self) -> str:
        return (f"HeavyTailedSGD({self.landscape!r}, lr={self.lr:g}, noise={self.noise!r}, "
                f"truncation={self.truncation}, bounds={self.bounds})")

    # ------------------------------------------------------------------ rare events (htsgd.rare_event)
    def exit_probability(self, x0: Any, domain: tuple[Any, Any], horizon: int, method: str = "importance",
                         n_samples: int | None = None, target_rel_error: float | None = None,
                         gamma: float | None = None, weight: float | None = None, side: str | None = None,
                         rng: RNGLike = None, n_threads: int | None = None):
        """Probability ``p = P(tau <= horizon)`` of leaving ``domain`` within ``horizon`` steps (1-D).

        Made for the rare exits of truncated heavy-tailed SGD, where leaving a basin of width ``r`` needs
        ``l* = ceil(r/b)`` big jumps and ``p`` falls like ``(H(1/lr)/lr)**l*``. ``method="importance"``
        samples big-jump paths from the defensive mixture ``Q = w P + (1 - w) P(. | B)``, with ``B`` = "at
        least ``l*`` noises with ``lr |Z| > gamma`` (toward ``side``) among the ``horizon`` steps", and
        weights the path stopped at the exit by ``dP/dQ`` (see :mod:`htsgd.rare_event`).
        ``method="crude"`` is the same estimator with ``w = 1``: the indicator of an exit by ``horizon``
        under the plain dynamics (sample ``i`` is particle ``i`` of :meth:`exit_times` with the same seed).

        Guarantees of ``method="importance"``: unbiased for every ``gamma`` and ``weight``; every weight lies
        in ``[0, 1/weight]``, so the normal interval ``value +- z stderr`` holds; the relative error stays
        bounded as ``lr -> 0`` with ``lr * horizon`` fixed when ``gamma < r - (l* - 1) b`` (the cost per
        sample is at most ``horizon`` steps). Trust the error bar only while ``max_weight_share`` is below
        5% (a ``RuntimeWarning`` says otherwise).

        Parameters
        ----------
        x0 : float
            Start, strictly inside ``domain`` (typically the minimum).
        domain : (lo, hi)
            Open interval holding exactly one minimum of the landscape (its basin, or part of it); one end
            may be infinite. ``l*`` is taken from the distances of that minimum to the ends and the truncation.
        horizon : int
            ``T >= 1`` steps (``>= l*`` for importance sampling).
        method : {"importance", "crude"}
            Importance sampling needs :class:`htsgd.Pareto` noise (exact conditioned laws; other laws raise
            ``NotImplementedError``); crude Monte Carlo takes any law.
        n_samples : int, optional
            Samples (``>= 2``); with ``target_rel_error``, the most samples to spend. Default 10000 when
            neither is given.
        target_rel_error : float, optional
            Sample in batches until ``stderr / value <= target_rel_error`` (``0 < . < 1``); a
            ``RuntimeWarning`` if ``n_samples`` (default: a budget of 1e11 particle-steps, i.e.
            ``1e11 // horizon`` samples) runs out first. The sample ids continue across batches, so the
            result equals the one-shot estimate with the same total.
        gamma : float, optional
            Big-jump threshold, ``0 < gamma < b``. Default ``min(b/2, r - (l* - 1) b)`` (``r``: distance to
            the nearer end counted by ``side``).
        weight : float, optional
            Defensive weight ``w`` of the plain dynamics, ``0 < w < 1``; default 0.1.
        side : {"left", "right", "both"}, optional
            Big noises point toward this end (one-sided), or either way (``"both"``). Default: the end needing
            fewer jumps, ``"both"`` when both need ``l*``. Any side is unbiased, but exits through an end the
            big noises do not point to are reached only by the defensive branch: with both ends at ``l*``, a
            one-sided run misses them in practice and its error bar does not show it.
        rng : None, int, SeedSequence or Generator
            Seed; its entropy is stored in the result.
        n_threads : int, optional
            OpenMP threads over samples (default: all cores). Results are bit-identical for any value.

        Returns
        -------
        htsgd.ExitProbability
            ``value``, ``stderr``, ``rel_error_per_sample``, ``n_samples``, ``seconds`` and the diagnostics
            ``p_big`` (``P(B)``), ``branch_exit_rate`` (exits in the conditioned branch), ``max_weight`` and
            ``max_weight_share``.

        Raises
        ------
        ValueError
            Invalid arguments (``gamma`` outside ``(0, b)``, ``weight`` outside ``(0, 1)``, ``horizon < 1``,
            a domain with no or several minima, ...).
        NotImplementedError
            d-dimensional landscapes; importance sampling with non-Pareto noise.
        """
        from .rare_event import exit_probability

        return exit_probability(self, x0, domain, horizon, method=method, n_samples=n_samples,
                                target_rel_error=target_rel_error, gamma=gamma, weight=weight, side=side, rng=rng,
                                n_threads=n_threads)

    def mean_exit_time(self, x0: Any, domain: tuple[Any, Any], method: str = "auto", n_samples: int | None = None,
                       target_rel_error: float | None = None, horizons: tuple[int, int] | None = None,
                       max_steps: int | None = None, gamma: float | None = None, weight: float | None = None,
                       side: str | None = None, rng: RNGLike = None, n_threads: int | None = None):
        """Mean first-exit time (steps) from ``domain`` (1-D), by direct simulation or from exit probabilities.

        ``method="direct"`` simulates ``n_samples`` exits (:meth:`exit_times`, censoring-aware mean).
        ``method="importance"`` uses the two-horizon slope estimator
        ``E tau = (T2 - T1) / (log(1 - p(T1)) - log(1 - p(T2)))``, both probabilities by
        :meth:`exit_probability` with independent seeds; its standard error is the delta method's. It holds
        when ``T1`` is past the relaxation to the quasi-stationary law, where ``1 - p(T)`` decays exponentially
        (a warning when ``p(T2) > 0.2``: direct simulation is affordable there); the naive
        ``E[tau ^ T] / p(T)`` restarted at the minimum would be biased high by 15-30%.
        ``method="auto"`` runs a pilot of 2000 importance samples at ``T1`` and simulates directly when the
        projected cost ``n_samples * T1 / p(T1)`` is at most 2e8 steps (always for non-Pareto noise).

        Parameters
        ----------
        x0, domain, gamma, weight, side, rng, n_threads
            As in :meth:`exit_probability` (``gamma``, ``weight`` for the importance method only).
        method : {"auto", "direct", "importance"}
        n_samples : int, optional
            Direct: exits to simulate (default ``ceil(1/target_rel_error**2)``, or 1000). Importance: samples
            of both horizons together (default 10000 per horizon); with ``target_rel_error``, the cap.
        target_rel_error : float, optional
            Importance: extend both horizons (samples allotted to minimise the variance per step) until
            the slope's relative error is reached.
        horizons : (int, int), optional
            ``(T1, T2)``, default ``(round(5/lr), round(20/lr))``.
        max_steps : int, optional
            Direct: censoring horizon (default: none, every particle runs until it exits).

        Returns
        -------
        htsgd.rare_event.MeanExitTime
            ``value``, ``stderr``, ``method`` and, for importance, both :class:`ExitProbability` results.
        """
        from .rare_event import mean_exit_time

        return mean_exit_time(self, x0, domain, method=method, n_samples=n_samples,
                              target_rel_error=target_rel_error, horizons=horizons, max_steps=max_steps,
                              gamma=gamma, weight=weight, side=side, rng=rng, n_threads=n_threads)
