"""Truncated heavy-tailed SGD: ``x <- proj(x + phi_b(-lr * grad f(x) + lr * Z))`` for many particles."""
from __future__ import annotations

from typing import Any

from . import _simulation, rare_event
from ._compat import keyword_only
from ._model import Model
from ._rng import RNGLike
from .landscapes import Landscape
from .noise import NoiseLaw
from .results import ExitProbability, ExitTimes, MeanExitTime, RunResult

_RUN_LEGACY = ("rng", "record_every", "n_threads")
_EXIT_TIMES_LEGACY = ("rng", "n_threads")
_EXIT_PROBABILITY_LEGACY = ("method", "n_samples", "target_rel_error", "gamma", "weight", "side", "rng", "n_threads")
_MEAN_EXIT_TIME_LEGACY = ("method", "n_samples", "target_rel_error", "horizons", "max_steps", "gamma", "weight",
                          "side", "rng", "n_threads")


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
    One vocabulary across :meth:`run`, :meth:`exit_times`, :meth:`exit_probability` and
    :meth:`mean_exit_time`: ``x0`` first, then ``domain`` (exits), then the counts: ``n_steps`` (the exact
    length of a run), ``max_steps`` (the censoring horizon of direct exit simulation), ``horizon`` (the ``T``
    of ``P(tau <= T)``); every option after them is keyword-only, ``rng`` and ``n_threads`` included. The
    positional options of 0.2.0 still work, with a ``DeprecationWarning``.

    The object is immutable (its attributes are read-only; ``bounds`` holds read-only arrays), compares by
    value and pickles; it validates once and builds its core model (``model``) once.

    Every particle's randomness is addressed by ``(seed, particle id, step)``, so results are
    bit-identical for any ``n_threads`` and particle ``i`` can be replayed alone with
    ``first_particle=i``. Calls release the GIL, use all cores and stop on Ctrl-C.
    """

    def __init__(self, landscape: Landscape, lr: float, noise: NoiseLaw, truncation: float | None = None,
                 bounds: tuple[Any, Any] | None = None, *, clip: str = "norm", isotropic: bool = False) -> None:
        object.__setattr__(self, "_model", Model(landscape, lr, noise, truncation, bounds, clip=clip,
                                                 isotropic=isotropic))

    # ------------------------------------------------------------------ read-only attributes
    model = property(lambda self: self._model, doc="The validated model (:class:`htsgd._model.Model`).")
    landscape = property(lambda self: self._model.landscape, doc="The loss landscape.")
    lr = property(lambda self: self._model.lr, doc="The learning rate.")
    noise = property(lambda self: self._model.noise, doc="The noise law.")
    truncation = property(lambda self: self._model.truncation, doc="``b``, or None (untruncated).")
    bounds = property(lambda self: self._model.bounds, doc="``(lo, hi)`` read-only arrays of length d, or None.")
    clip = property(lambda self: self._model.clip, doc="d-D clipping: 'norm' or 'coordinate'.")
    isotropic = property(lambda self: self._model.isotropic, doc="d-D: isotropic noise.")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"HeavyTailedSGD is immutable: cannot set {name!r} (build a new one)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"HeavyTailedSGD is immutable: cannot delete {name!r}")

    def __reduce__(self) -> tuple:
        args, kwargs = self._model.arguments()
        return _rebuild, (args, kwargs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HeavyTailedSGD):
            return NotImplemented
        return self._model == other._model

    def __hash__(self) -> int:
        return hash(self._model)

    # ------------------------------------------------------------------ public API
    def run(self, x0: Any, n_steps: int, n_particles: int | None = None, *args: Any, rng: RNGLike = None,
            record_every: int | None = None, n_threads: int | None = None, first_particle: int = 0,
            occupancy: bool = True) -> RunResult:
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
        kw = keyword_only("run", args, _RUN_LEGACY, {"rng": rng, "record_every": record_every, "n_threads": n_threads},
                          {"rng": None, "record_every": None, "n_threads": None})
        return _simulation.run(self._model, x0, n_steps, n_particles, first_particle=first_particle,
                               occupancy=occupancy, **kw)

    def exit_times(self, x0: Any, domain: tuple[Any, Any], n_particles: int, max_steps: int, *args: Any,
                   rng: RNGLike = None, n_threads: int | None = None, first_particle: int = 0) -> ExitTimes:
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
        kw = keyword_only("exit_times", args, _EXIT_TIMES_LEGACY, {"rng": rng, "n_threads": n_threads},
                          {"rng": None, "n_threads": None})
        return _simulation.exit_times(self._model, x0, domain, n_particles, max_steps, first_particle=first_particle,
                                      **kw)

    def __repr__(self) -> str:
        return f"HeavyTailedSGD({self._model.describe()})"

    # ------------------------------------------------------------------ rare events (htsgd.rare_event)
    def exit_probability(self, x0: Any, domain: tuple[Any, Any], horizon: int, *args: Any,
                         method: str = "importance", n_samples: int | None = None,
                         target_rel_error: float | None = None, gamma: float | None = None,
                         weight: float | None = None, side: str | None = None, rng: RNGLike = None,
                         n_threads: int | None = None) -> ExitProbability:
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
        given = {"method": method, "n_samples": n_samples, "target_rel_error": target_rel_error, "gamma": gamma,
                 "weight": weight, "side": side, "rng": rng, "n_threads": n_threads}
        kw = keyword_only("exit_probability", args, _EXIT_PROBABILITY_LEGACY, given, _EXIT_PROBABILITY_DEFAULTS)
        return rare_event.exit_probability(self._model, x0, domain, horizon, **kw)

    def mean_exit_time(self, x0: Any, domain: tuple[Any, Any], *args: Any, method: str = "auto",
                       n_samples: int | None = None, target_rel_error: float | None = None,
                       horizons: tuple[int, int] | None = None, max_steps: int | None = None,
                       gamma: float | None = None, weight: float | None = None, side: str | None = None,
                       rng: RNGLike = None, n_threads: int | None = None) -> MeanExitTime:
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
        htsgd.MeanExitTime
            ``value``, ``stderr``, ``method`` and, for importance, both :class:`ExitProbability` results.
        """
        given = {"method": method, "n_samples": n_samples, "target_rel_error": target_rel_error,
                 "horizons": horizons, "max_steps": max_steps, "gamma": gamma, "weight": weight, "side": side,
                 "rng": rng, "n_threads": n_threads}
        kw = keyword_only("mean_exit_time", args, _MEAN_EXIT_TIME_LEGACY, given, _MEAN_EXIT_TIME_DEFAULTS)
        return rare_event.mean_exit_time(self._model, x0, domain, **kw)


_EXIT_PROBABILITY_DEFAULTS = dict.fromkeys(_EXIT_PROBABILITY_LEGACY, None) | {"method": "importance"}
_MEAN_EXIT_TIME_DEFAULTS = dict.fromkeys(_MEAN_EXIT_TIME_LEGACY, None) | {"method": "auto"}


def _rebuild(args: tuple, kwargs: dict) -> HeavyTailedSGD:
    return HeavyTailedSGD(*args, **kwargs)
