"""Rare exits: the probability of leaving a basin within a horizon, and mean exit times beyond direct reach.

Under truncation, leaving a basin of width ``r`` needs ``l* = ceil(r/b)`` big jumps, and
``p = P(tau <= T)`` falls like ``(H(1/lr)/lr)**l*``: crude Monte Carlo needs ``~1/p`` samples. Big-jump
importance sampling (Wang & Rhee; Chen, Blanchet, Rhee & Zwart) samples from
the defensive mixture ``Q = w P + (1 - w) P(. | B)``, ``B`` = "at least ``l*`` big noises among the ``T``
steps", a noise being *big* when ``lr |Z| > gamma`` (one-sided: and pointing toward the exit side). Under
``P(. | B)`` the number of big noises is ``Bin(T, pe) | >= l*``, their positions uniform, their sizes from
the law conditioned on being big, all other noises conditioned on not being big. The weight is taken on
the path stopped at the exit::

    Y = 0 if tau > T,   else   Y = 1 / (w + (1 - w) P(Bin(T - tau, pe) >= l* - c) / P(B))

with ``c`` the big noises up to ``tau``. Guarantees: ``E Y = p`` exactly (unbiased for every ``gamma`` and
``w``); ``0 <= Y <= 1/w``, so the CLT interval holds; bounded relative error as ``lr -> 0`` with
``lr * T`` fixed when ``gamma < r - (l* - 1) b``. The whole-path weight is unbiased too but hides rare
samples of weight ``1/w``: not used.

Supported: 1-D landscapes; ``method="importance"`` with :class:`htsgd.Pareto` noise only (the laws
conditioned on big / not big are exact inverse transforms of its closed-form tail; other laws raise
``NotImplementedError``: their conditioned laws have no closed form and rejection would cost ``1/pe`` draws
per big noise); ``method="crude"`` with any law. Sides: one-sided toward the lower or upper end of the
domain, or two-sided.

Everything per sample runs in C++ (``htsgd/rare_event.hpp``; ``htsgd/rare_lanes.hpp``: 32 samples side by side
in SIMD lanes per thread, one Philox block per two steps as in the engine, OpenMP over groups of lanes);
sample ``i`` of a call is a pure function of ``(seed, i)`` and the running sums are
taken in sample order, so results are bit-identical for any thread count or ISA, and batches
(``target_rel_error``) give exactly the one-shot estimate with the same total. Crude sample ``i`` is particle
``i`` of :meth:`HeavyTailedSGD.exit_times` (Dynamics stream); the importance branch draws from its own stream.

Measured (double well from x = 1 out of (0, inf), Pareto alpha 1.5, T = 5/lr): scale 0.01, ``l* = 3``,
lr = 0.001: p ~ 5.5e-13 to 10% relative error with ~2.4e4 samples, about 0.4 CPU-seconds per thread on 2
threads (``bench/bench_rare_event.py``).
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _core, _simulation, theory
from ._compat import keyword_only
from ._model import Model
from ._rng import RNGLike, Seed, resolve_seed
from ._validation import check_choice, check_int, check_interval, check_n_threads, check_real
from .landscapes import Landscape1D
from .noise import Pareto
from .results import ExitProbability, MeanExitTime

__all__ = ["ExitProbability", "MeanExitTime", "exit_probability", "mean_exit_time"]

_MAX_SAMPLES = 2**32  # sample ids index the 32-bit particle word of the Philox counter
_MAX_STEPS = 2**56 - 1
_MAX_TABLE = 2**25  # entries of the binomial tail table, (l* + 1) * (horizon + 1): 256 MiB
_DEFAULT_SAMPLES = 10_000
_STEP_BUDGET = 10**11  # particle-steps a target_rel_error run may spend when n_samples is not given
_FIRST_BATCH = 1_000
_BATCH_STRIDE = 0.8  # fraction of the way to the projected total that the next batch goes (_next_total)
_DEFAULT_WEIGHT = 0.1
_DIRECT_BUDGET = 2e8  # particle-steps that method="auto" spends on direct simulation at most
_PILOT_SAMPLES = 2_000
_SIDES = ("left", "right", "both")
_SIDE_CODE = {"left": -1, "right": 1, "both": 0}


# ---------------------------------------------------------------------------------------- validation
@dataclass(frozen=True)
class _Setup:
    """A validated problem: everything the kernel needs but the seed and the sample range."""

    model: Model
    x0: float
    lo: float
    hi: float
    horizon: int
    method: str
    l_star: int
    side: str
    gamma: float | None
    weight: float | None
    threads: int


def _as_model(sgd: Any) -> Model:
    """The validated model of an :class:`htsgd.HeavyTailedSGD` (its ``model``), or a Model itself."""
    model = sgd if isinstance(sgd, Model) else getattr(sgd, "model", None)
    if not isinstance(model, Model):
        raise TypeError(f"Invalid sgd: expected an htsgd.HeavyTailedSGD, got {type(sgd).__name__}")
    return model


def _domain_and_start(sgd: Model, x0: Any, domain: Any) -> tuple[float, float, float]:
    if not isinstance(sgd.landscape, Landscape1D):
        raise NotImplementedError("exit_probability and mean_exit_time support 1-D landscapes only "
                                  f"(got {type(sgd.landscape).__name__})")
    lo_a, hi_a = sgd.check_box("domain", domain)
    lo, hi = float(lo_a[0]), float(hi_a[0])
    x = check_real("x0", x0)
    if not math.isfinite(x):
        raise ValueError(f"Invalid x0: {x0!r}; expected a finite number")
    if not lo < x < hi:
        raise ValueError(f"Invalid x0: {x0!r}; expected a point strictly inside domain ({lo!r}, {hi!r})")
    if sgd.bounds is not None and not (sgd.bounds[0][0] <= x <= sgd.bounds[1][0]):
        raise ValueError(f"Invalid x0: {x0!r}; expected a point inside bounds {sgd.bounds}")
    if math.isinf(lo) and math.isinf(hi):
        raise ValueError(f"Invalid domain: {domain!r}; expected at least one finite end (an exit to leave by)")
    return x, lo, hi


def _basin_sides(sgd: Model, lo: float, hi: float, domain: Any) -> dict[str, tuple[float, int]]:
    """Finite sides of the domain's basin: name -> (distance from the minimum, jumps needed)."""
    try:
        basins = sgd.landscape.basins((lo, hi))
    except ValueError as exc:
        raise ValueError(f"Invalid domain: {domain!r}; expected the basin of one minimum ({exc})") from None
    if len(basins) != 1:
        raise ValueError(f"Invalid domain: {domain!r} holds {len(basins)} minima; expected the basin of exactly "
                         "one minimum (e.g. the ends of landscape.basins()[i])")
    (basin,) = basins
    out = {}
    for name, dist in (("left", basin.left), ("right", basin.right)):
        if math.isfinite(dist):
            try:
                out[name] = (dist, theory.jumps_needed(dist, sgd.truncation))
            except ValueError as exc:
                raise ValueError(f"Invalid truncation: {sgd.truncation!r}; expected the distance {dist!r} from "
                                 f"the minimum to the {name} end not to be a multiple of it ({exc})") from None
    return out


def _resolve_side(side: Any, sides: dict[str, tuple[float, int]]) -> tuple[str, int, float]:
    """-> (side, l*, r) with r the nearest distance among the sides counted."""
    if side is None:
        if len(sides) == 2 and sides["left"][1] == sides["right"][1]:
            side = "both"
        else:
            side = min(sides, key=lambda s: (sides[s][1], sides[s][0]))
    else:
        side = check_choice("side", side, _SIDES)
        if side != "both" and side not in sides:
            raise ValueError(f"Invalid side: {side!r}; the domain's {side} end is infinite (no exit there; "
                             "expected a side with a finite end)")
    used = list(sides) if side == "both" else [side]
    l_star = min(sides[s][1] for s in used)
    r = min(sides[s][0] for s in used)
    return side, l_star, r


def _setup(sgd: Model, x0: Any, domain: Any, horizon: Any, method: Any, gamma: Any, weight: Any,
           side: Any, n_threads: Any) -> _Setup:
    method = check_choice("method", method, ("importance", "crude"))
    x, lo, hi = _domain_and_start(sgd, x0, domain)
    T = check_int("horizon", horizon, minimum=1, maximum=_MAX_STEPS)
    threads = check_n_threads(n_threads)
    side, l_star, r = _resolve_side(side, _basin_sides(sgd, lo, hi, domain))
    if method == "crude":
        for name, v in (("gamma", gamma), ("weight", weight)):
            if v is not None:
                raise ValueError(f"Invalid {name}: {v!r}; method='crude' takes no {name} (expected None)")
        needed = math.ceil(min(x - lo, hi - x) / sgd.b) if math.isfinite(sgd.b) else 1
        if T < needed:  # every step moves at most b: p = 0 exactly, and no sample count would show an exit
            raise ValueError(f"Invalid horizon: {T}; steps are at most b = {sgd.b:g} long, so leaving the "
                             f"domain from x0 takes at least {needed} steps")
        return _Setup(sgd, x, lo, hi, T, method, l_star, side, None, None, threads)
    if not isinstance(sgd.noise, Pareto):
        raise NotImplementedError(
            f"method='importance' needs Pareto noise (its conditioned laws invert in closed form); got "
            f"{type(sgd.noise).__name__}: use method='crude'")
    b = sgd.b
    if gamma is None:  # untruncated: l* = 1 and a jump beyond r exits, so gamma = r (b/2 would be inf)
        gamma = min(b / 2, r - (l_star - 1) * b) if math.isfinite(b) else r
    else:
        gamma = check_real("gamma", gamma)
        if math.isnan(gamma) or not 0 < gamma < b:
            raise ValueError(f"Invalid gamma: {gamma!r}; expected 0 < gamma < b = {b!r}")
    weight = _DEFAULT_WEIGHT if weight is None else check_interval("weight", weight, 0.0, 1.0, lo_open=True,
                                                                     hi_open=True)
    if T < l_star:
        raise ValueError(f"Invalid horizon: {T}; expected horizon >= l* = {l_star} for method='importance' "
                         f"(fewer steps cannot hold l* big jumps)")
    if (l_star + 1) * (T + 1) > _MAX_TABLE:
        raise ValueError(f"Invalid horizon: {T}; expected (l* + 1) * (horizon + 1) <= {_MAX_TABLE} "
                         f"(l* = {l_star}; the binomial table of the weights)")
    return _Setup(sgd, x, lo, hi, T, method, l_star, side, float(gamma), float(weight), threads)


def _check_sizes(n_samples: Any, target_rel_error: Any) -> tuple[int | None, float | None]:
    n = None if n_samples is None else check_int("n_samples", n_samples, minimum=2, maximum=_MAX_SAMPLES)
    t = None
    if target_rel_error is not None:
        t = check_interval("target_rel_error", target_rel_error, 0.0, 1.0, lo_open=True, hi_open=True)
    return n, t


# --------------------------------------------------------------------------------------------- engine
class _Run:
    """Samples 0, 1, 2, ... of one estimator, extended in batches (bit-identical to one shot)."""

    def __init__(self, s: _Setup, seed: Seed) -> None:
        self.s, self.seed = s, seed
        self.tally = _core.RareExitTally()
        self.p_big = 1.0
        self.seconds = 0.0
        self._problem = _core.RareExitProblem(s.x0, s.lo, s.hi, s.horizon, s.l_star, s.gamma or 0.0, s.weight or 1.0,
                                              _SIDE_CODE[s.side], s.method == "crude")

    @property
    def n(self) -> int:
        return int(self.tally.n)

    def extend(self, count: int) -> None:
        count = min(count, _MAX_SAMPLES - self.n)
        if count <= 0:
            return
        t0 = time.perf_counter()
        self.tally, p_big = _core.rare_exit(self.s.model.core, self._problem, seed=self.seed.key, first_sample=self.n,
                                            n_samples=count, tally=self.tally, n_threads=self.s.threads)
        self.seconds += time.perf_counter() - t0
        self.p_big = float(p_big)

    def mean_sd(self) -> tuple[float, float]:
        t, n = self.tally, self.n
        m = (t.sum + t.sum_c) / n
        m2 = (t.sum2 + t.sum2_c) / n
        var = max(m2 - m * m, 0.0) * n / (n - 1) if n > 1 else math.inf
        return m, math.sqrt(var)

    def rel_error(self) -> float:
        m, sd = self.mean_sd()
        return sd / (m * math.sqrt(self.n)) if m > 0 else math.inf

    def result(self, target_reached: bool | None = None) -> ExitProbability:
        s, t = self.s, self.tally
        m, sd = self.mean_sd()
        total = t.sum + t.sum_c
        share = t.max_y / total if total > 0 else math.nan
        rate = t.branch_exits / t.branch if t.branch else math.nan
        return ExitProbability(
            value=m, stderr=sd / math.sqrt(self.n), n_samples=self.n, seconds=self.seconds, method=s.method,
            horizon=s.horizon, l_star=s.l_star, side=s.side, gamma=s.gamma, weight=s.weight, p_big=self.p_big,
            branch_exit_rate=rate if s.method == "importance" else math.nan, max_weight=float(t.max_y),
            max_weight_share=share,
            n_exits=int(t.exits), n_nonfinite=int(t.nonfinite), lr=s.model.lr, domain=(s.lo, s.hi), x0=s.x0,
            seed_entropy=self.seed.entropy, seed_spawn_key=self.seed.spawn_key, target_reached=target_reached)


def _next_total(n: int, rel_error: float, target: float, cap: int) -> int:
    """Total samples for the next batch: 80% of the way to the CLT projection ``n (re/target)^2``, growing by
    at least 3% and at most 4x per batch. The projection is noisy while few samples have exited: a batch past
    the needed total is spent for nothing, one short of it costs one more batch (a few milliseconds).
    Replayed on the per-sample weights of ``bench/bench_rare_event.py`` (10 seeds), it ends 2.5% above the
    first total at which the target is met, against 6% going the whole way at once."""
    want = 4 * n if math.isinf(rel_error) else math.ceil(n * (rel_error / target) ** 2)
    want = min(want, 4 * n)
    if want > n:
        want = n + math.ceil(_BATCH_STRIDE * (want - n))
    return min(cap, max(n + max(math.ceil(0.03 * n), 100), want))


def _default_cap(horizon: int) -> int:
    """Samples a target_rel_error run may take when n_samples is not given: _STEP_BUDGET particle-steps."""
    return min(_MAX_SAMPLES, max(_FIRST_BATCH, _STEP_BUDGET // horizon))


def _run_to_target(run: _Run, n_samples: int | None, target: float | None) -> bool | None:
    if target is None:
        run.extend(_DEFAULT_SAMPLES if n_samples is None else n_samples)
        return None
    cap = _default_cap(run.s.horizon) if n_samples is None else n_samples
    run.extend(min(cap, _FIRST_BATCH))
    while run.rel_error() > target and run.n < cap:
        run.extend(_next_total(run.n, run.rel_error(), target, cap) - run.n)
    reached = run.rel_error() <= target
    if not reached:
        warnings.warn(f"target_rel_error={target:g} not reached with n_samples={run.n} (relative error "
                      f"{run.rel_error():.3g})", RuntimeWarning, stacklevel=4)
    return reached


# ----------------------------------------------------------------------------------------- public API
_EXIT_PROBABILITY_ARGS = ("method", "n_samples", "target_rel_error", "gamma", "weight", "side", "rng", "n_threads")
_MEAN_EXIT_TIME_ARGS = ("method", "n_samples", "target_rel_error", "horizons", "max_steps", "gamma", "weight", "side",
                        "rng", "n_threads")


def exit_probability(sgd: Any, x0: Any, domain: Any, horizon: int, *args: Any, method: str = "importance",
                     n_samples: int | None = None, target_rel_error: float | None = None, gamma: float | None = None,
                     weight: float | None = None, side: str | None = None, rng: RNGLike = None,
                     n_threads: int | None = None) -> ExitProbability:
    """``P(tau <= horizon)``; see :meth:`htsgd.HeavyTailedSGD.exit_probability` (the documented entry).

    ``sgd`` is an :class:`htsgd.HeavyTailedSGD` (or its ``model``).
    """
    if args:
        given = {"method": method, "n_samples": n_samples, "target_rel_error": target_rel_error, "gamma": gamma,
                 "weight": weight, "side": side, "rng": rng, "n_threads": n_threads}
        defaults = dict.fromkeys(_EXIT_PROBABILITY_ARGS, None) | {"method": "importance"}
        return exit_probability(sgd, x0, domain, horizon,
                                **keyword_only("exit_probability", args, _EXIT_PROBABILITY_ARGS, given, defaults))
    s = _setup(_as_model(sgd), x0, domain, horizon, method, gamma, weight, side, n_threads)
    n, target = _check_sizes(n_samples, target_rel_error)
    run = _Run(s, resolve_seed(rng))
    reached = _run_to_target(run, n, target)
    return run.result(reached)


def _default_horizons(lr: float) -> tuple[int, int]:
    return max(1, round(5 / lr)), max(2, round(20 / lr))


def _check_horizons(horizons: Any, lr: float) -> tuple[int, int]:
    if horizons is None:
        return _default_horizons(lr)
    if not isinstance(horizons, (tuple, list)) or len(horizons) != 2:
        raise TypeError(f"Invalid horizons: expected a pair (T1, T2), got {horizons!r}")
    t1 = check_int("horizons[0]", horizons[0], minimum=1, maximum=_MAX_STEPS)
    t2 = check_int("horizons[1]", horizons[1], minimum=1, maximum=_MAX_STEPS)
    if t2 <= t1:
        raise ValueError(f"Invalid horizons: {horizons!r}; expected T1 < T2")
    return t1, t2


def _slope(r1: _Run, r2: _Run) -> tuple[float, float, float]:
    """(E tau, its standard error, its relative error) from p(T1) and p(T2).

    After the relaxation to the quasi-stationary law, ``1 - p(T) = C exp(-T / E tau)``, so
    ``E tau = (T2 - T1) / (log(1 - p1) - log(1 - p2))``: exact under that model (the linear form
    ``(T2 - T1) / (p2 - p1)`` is biased high by about ``p2 / 2``). Standard error by the delta method.
    """
    (m1, sd1), (m2, sd2) = r1.mean_sd(), r2.mean_sd()
    if not (m2 > m1 and m2 < 1.0):
        return math.inf, math.nan, math.inf
    d = math.log1p(-m1) - math.log1p(-m2)
    se_d = math.sqrt((sd1 / (1.0 - m1)) ** 2 / r1.n + (sd2 / (1.0 - m2)) ** 2 / r2.n)
    value = (r2.s.horizon - r1.s.horizon) / d
    return value, value * se_d / d, se_d / d


def _slope_runs(r1: _Run, r2: _Run, n_samples: int | None, target: float | None) -> None:
    if target is None:
        each = _DEFAULT_SAMPLES if n_samples is None else max(2, n_samples // 2)
        r1.extend(each)
        r2.extend(each)
        return
    cap = _default_cap(r2.s.horizon) if n_samples is None else n_samples
    r1.extend(min(_FIRST_BATCH, cap // 2))
    r2.extend(min(_FIRST_BATCH, cap // 2))
    while True:
        _, _, re = _slope(r1, r2)
        if re <= target or r1.n + r2.n >= cap:
            break
        # Var = s1^2/n1 + s2^2/n2 at cost ~ T1 n1 + T2 n2: n_i proportional to s_i / sqrt(T_i).
        (_, s1), (_, s2) = r1.mean_sd(), r2.mean_sd()
        growth = 4.0 if math.isinf(re) else min(8.0, 1.1 * (re / target) ** 2)
        total = min(cap, max(r1.n + r2.n + 2, math.ceil(growth * (r1.n + r2.n))))
        a1, a2 = s1 / math.sqrt(r1.s.horizon), s2 / math.sqrt(r2.s.horizon)
        frac = a1 / (a1 + a2) if a1 + a2 > 0 else 0.5
        n1 = max(r1.n, math.ceil(total * frac))
        r1.extend(n1 - r1.n)
        r2.extend(max(0, total - n1 - r2.n))
    if _slope(r1, r2)[2] > target:
        warnings.warn(f"target_rel_error={target:g} not reached with n_samples={r1.n + r2.n}", RuntimeWarning,
                      stacklevel=4)


def mean_exit_time(sgd: Any, x0: Any, domain: Any, *args: Any, method: str = "auto", n_samples: int | None = None,
                   target_rel_error: float | None = None, horizons: tuple[int, int] | None = None,
                   max_steps: int | None = None, gamma: float | None = None, weight: float | None = None,
                   side: str | None = None, rng: RNGLike = None, n_threads: int | None = None) -> MeanExitTime:
    """Mean first-exit time; see :meth:`htsgd.HeavyTailedSGD.mean_exit_time` (the documented entry).

    ``sgd`` is an :class:`htsgd.HeavyTailedSGD` (or its ``model``).
    """
    if args:
        given = {"method": method, "n_samples": n_samples, "target_rel_error": target_rel_error,
                 "horizons": horizons, "max_steps": max_steps, "gamma": gamma, "weight": weight, "side": side,
                 "rng": rng, "n_threads": n_threads}
        defaults = dict.fromkeys(_MEAN_EXIT_TIME_ARGS, None) | {"method": "auto"}
        return mean_exit_time(sgd, x0, domain,
                              **keyword_only("mean_exit_time", args, _MEAN_EXIT_TIME_ARGS, given, defaults))
    sgd = _as_model(sgd)
    method = check_choice("method", method, ("auto", "direct", "importance"))
    n, target = _check_sizes(n_samples, target_rel_error)
    T1, T2 = _check_horizons(horizons, sgd.lr)
    max_steps = _MAX_STEPS if max_steps is None else check_int("max_steps", max_steps, minimum=1, maximum=_MAX_STEPS)
    if method == "direct":
        for name, v in (("gamma", gamma), ("weight", weight), ("horizons", horizons)):
            if v is not None:
                raise ValueError(f"Invalid {name}: {v!r}; method='direct' takes no {name} (expected None)")
    seed = resolve_seed(rng)
    root = seed.seed_sequence()
    kids = [np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, k)) for k in range(3)]
    n_direct = n if n is not None else (math.ceil(1.0 / target ** 2) if target is not None else 1000)
    t0 = time.perf_counter()
    if method == "auto":
        if not isinstance(sgd.noise, Pareto):
            method = "direct"
        else:
            pilot = _Run(_setup(sgd, x0, domain, T1, "importance", gamma, weight, side, n_threads), resolve_seed(kids[2]))
            pilot.extend(_PILOT_SAMPLES)
            p1 = pilot.mean_sd()[0]
            method = "direct" if p1 > 0 and n_direct * T1 / p1 <= _DIRECT_BUDGET else "importance"
    if method == "direct":
        x, lo, hi = _domain_and_start(sgd, x0, domain)
        check_n_threads(n_threads)
        et = _simulation.exit_times(sgd, x, (lo, hi), n_direct, max_steps, rng=kids[0], n_threads=n_threads)
        m = et.mean()
        return MeanExitTime(m.value, m.stderr, "direct", n_direct, time.perf_counter() - t0, exit_times=et,
                            seed_entropy=seed.entropy, seed_spawn_key=seed.spawn_key)
    s1 = _setup(sgd, x0, domain, T1, "importance", gamma, weight, side, n_threads)
    s2 = _setup(sgd, x0, domain, T2, "importance", gamma, weight, side, n_threads)
    r1, r2 = _Run(s1, resolve_seed(kids[0])), _Run(s2, resolve_seed(kids[1]))
    _slope_runs(r1, r2, n, target)
    value, se, _ = _slope(r1, r2)
    p1, p2 = r1.result(), r2.result()
    if p2.value > 0.2:
        warnings.warn(f"P(tau <= T2) = {p2.value:.3g} is not small: direct simulation is affordable and needs "
                      "no model of the exit law; use method='direct'", RuntimeWarning, stacklevel=3)
    if not math.isfinite(value):
        warnings.warn("p(T2) <= p(T1) in the estimates: no slope; take more samples", RuntimeWarning, stacklevel=3)
    return MeanExitTime(value, se, "importance", r1.n + r2.n, time.perf_counter() - t0, horizons=(T1, T2),
                        probabilities=(p1, p2), seed_entropy=seed.entropy, seed_spawn_key=seed.spawn_key)
