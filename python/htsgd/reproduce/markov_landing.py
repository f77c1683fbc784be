"""Where the exits of a basin settle: landing fractions by direct simulation and by big-jump importance sampling.

The generator of the Markov-chain limit factors as ``Q_ij = (exit rate of i) x (fraction of the exits of i
that settle in basin j)`` (Wang, Oh & Rhee 2022; :mod:`htsgd.theory.markov`). This module measures the second
factor. An exit is followed by plain SGD until the particle comes within ``SETTLE_RADIUS`` of a minimum: that
basin is where the exit *settled* (a jump that lands just past a maximum, where the drift is weak, may fall
back; the theory's landing flows on into the basin it lands in).
Settling in a narrow basin ``k`` passes on to wide ``j`` with the absorption probability ``theta_k(j)``,
measured the same way from ``k``'s minimum.

Two estimators of the settled fractions ``F_i(k)`` of the exits from minimum ``i``:

- ``direct``: ``HeavyTailedSGD.exit_times`` from the minimum, then relaxation; every exit weighs 1.
- ``importance``: paths of ``T2 = 10/lr`` steps drawn from the defensive mixture of :mod:`htsgd.rare_event`
  (``w P + (1 - w) P(. | B)``, ``B`` = at least ``l*`` noises with ``lr |Z| > gamma``), simulated here in
  numpy for Pareto noise; an exit at ``tau`` weighs the likelihood ratio of the path stopped at ``tau``,
  ``1 / (w + (1 - w) P(Bin(T2 - tau, pe) >= l* - c) / P(B))`` (``c`` the big noises up to ``tau``), and the
  relaxation after it runs under ``P`` (strong Markov property), so every weighted fraction is unbiased in
  numerator and denominator. Only exits after ``T1 = 3/lr`` count (the path has relaxed to the
  quasi-stationary law, as for the rate of ``mean_exit_time(method="importance")``).

Fractions are ratios of sample means; their standard errors come from the delta method.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.stats import binom

from ..dynamics import HeavyTailedSGD
from ..results import ExitTimes
from ..theory import jumps_needed

RELAX_TIME = 10.0  # one round of the relaxation after an exit, in ODE time (steps * lr)
SETTLE_RADIUS = 0.1  # settled: this close to the minimum of its basin (every basin is >= 0.4 wide)
MAX_ROUNDS = 30  # rounds of relaxation at most (300 ODE time: the flow off a maximum with f'' = -0.15 from 1e-9)
HORIZONS = (3.0, 10.0)  # importance: exits counted in (T1, T2], in ODE time (3 relaxation times of f'' = 1)
WEIGHT = 0.1  # defensive weight of P in the mixture (rare_event's default)


@dataclass
class Landing:
    """Settled basin of each exit and its weight (1 for direct simulation).

    Attributes
    ----------
    basin : ndarray of int
        Index (in ``landscape.basins()``) of the basin each counted exit settled in.
    weight : ndarray
        Likelihood-ratio weight of each counted exit.
    n_samples : int
        Samples drawn (direct: exits simulated; importance: paths, exiting or not).
    method : str
    seconds : float
    """

    basin: np.ndarray
    weight: np.ndarray
    n_samples: int
    method: str
    seconds: float = 0.0

    def fraction(self, values: np.ndarray) -> tuple[float, float]:
        """Weighted mean of ``values[basin]`` over the counted exits and its delta-method standard error.

        With ``a_s = Y_s values[k_s]`` and ``d_s = Y_s`` over all ``n`` samples (zeros for the samples that
        did not exit), the estimate is ``sum a / sum d`` and its variance ``sum (a_s - R d_s)^2 / (sum d)^2``.
        """
        v = np.asarray(values, dtype=float)[self.basin]
        d = self.weight.sum()
        if d <= 0:
            return math.nan, math.nan
        r = float(np.sum(self.weight * v) / d)
        se = float(math.sqrt(np.sum((self.weight * (v - r)) ** 2)) / d)
        return r, se


def settled_basins(sgd: HeavyTailedSGD, x: np.ndarray, seed: np.random.SeedSequence, threads) -> np.ndarray:
    """Basin index where each position settles: plain SGD run in rounds of ``RELAX_TIME / lr`` steps until the
    particle is within ``SETTLE_RADIUS`` of the minimum of the basin it is in (at most ``MAX_ROUNDS`` rounds;
    then its basin at that time). A landing just past a maximum, where the drift is weak, either flows on
    into its basin or is pushed back by small noise; either way it settles near a minimum."""
    maxima, minima = sgd.landscape.maxima, sgd.landscape.minima
    x = np.asarray(x, dtype=float).copy()
    basin = np.searchsorted(maxima, x)
    open_ = np.abs(x - minima[basin]) >= SETTLE_RADIUS
    steps = max(1, round(RELAX_TIME / sgd.lr))
    for s in seed.spawn(MAX_ROUNDS):
        idx = np.flatnonzero(open_)
        if idx.size == 0:
            break
        x[idx] = np.asarray(sgd.run(x[idx], steps, rng=s, n_threads=threads, occupancy=False).final).ravel()
        basin[idx] = np.searchsorted(maxima, x[idx])
        open_[idx] = np.abs(x[idx] - minima[basin[idx]]) >= SETTLE_RADIUS
    return basin


def direct_landing(sgd: HeavyTailedSGD, basin, n_exits: int, max_steps: int, seed: np.random.SeedSequence,
                   threads=None) -> tuple[Landing, "ExitTimes"]:
    """Settled basins of ``n_exits`` directly simulated exits from ``basin.minimum`` (censored ones dropped),
    and the exit times themselves (their censoring-aware mean is the direct exit rate's inverse)."""
    t0 = time.perf_counter()
    s_exit, s_relax = seed.spawn(2)
    et = sgd.exit_times(basin.minimum, (basin.lo, basin.hi), n_exits, max_steps, rng=s_exit, n_threads=threads)
    x = np.asarray(et.position, dtype=float).ravel()[et.exited]
    k = settled_basins(sgd, x, s_relax, threads)
    return Landing(k, np.ones(k.size), n_exits, "direct", time.perf_counter() - t0), et


def _mixture_exits(sgd: HeavyTailedSGD, basin, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Positions and weights of the exits in ``(T1, T2]`` of ``n`` paths from the defensive mixture."""
    lr, b, noise = sgd.lr, sgd.truncation, sgd.noise
    alpha, scale = noise.alpha, noise.scale
    lo, hi = basin.lo, basin.hi
    l_star = jumps_needed(basin.width, b)
    gamma = min(b / 2, basin.width - (l_star - 1) * b)
    T1, T2 = (max(1, round(h / lr)) for h in HORIZONS)
    pe = (1.0 + gamma / (lr * scale)) ** -alpha  # P(lr |Z| > gamma) = P(U < pe)
    p_big = float(binom.sf(l_star - 1, T2, pe))
    cond = rng.random(n) >= WEIGHT  # branch P(. | B); else plain P
    ks = np.arange(l_star, min(T2, l_star + 60) + 1)  # big noises under P(. | B): Bin(T2, pe) given >= l*
    pk = binom.pmf(ks, T2, pe)
    big = np.zeros((T2, n), dtype=bool)
    for s, k in zip(np.flatnonzero(cond), rng.choice(ks, size=int(cond.sum()), p=pk / pk.sum())):
        big[rng.choice(T2, size=int(k), replace=False), s] = True
    lo_b, hi_b = (-math.inf, math.inf) if sgd.bounds is None else (sgd.bounds[0][0], sgd.bounds[1][0])
    x = np.full(n, float(basin.minimum))
    count = np.zeros(n, dtype=int)
    tau = np.zeros(n, dtype=int)
    alive = np.ones(n, dtype=bool)
    for t in range(T2):
        u = rng.random(n)
        u = np.where(cond, np.where(big[t], u * pe, pe + u * (1.0 - pe)), u)  # U < pe <=> big noise
        z = np.where(rng.random(n) < 0.5, -scale, scale) * (u ** (-1.0 / alpha) - 1.0)  # symmetric Lomax
        step = np.clip(-lr * sgd.landscape.grad(x) + lr * z, -b, b)  # phi_b of the whole step
        x = np.where(alive, np.clip(x + step, lo_b, hi_b), x)
        count += alive & (u < pe)
        out = alive & ~((x > lo) & (x < hi))
        tau[out] = t + 1
        alive &= ~out
    counted = ~alive & (tau > T1)
    rest = binom.sf(l_star - count[counted] - 1, T2 - tau[counted], pe)  # P(B | path up to tau)
    return x[counted], 1.0 / (WEIGHT + (1.0 - WEIGHT) * rest / p_big)


def importance_landing(sgd: HeavyTailedSGD, basin, n_samples: int, seed: np.random.SeedSequence,
                       threads=None, chunk: int = 20_000) -> Landing:
    """Settled basins of the exits in ``(T1, T2]`` of ``n_samples`` mixture paths, with their weights.

    Needs Pareto noise (its laws conditioned on ``|Z|`` above or below a level invert in closed form) and
    a finite truncation; ``gamma`` is rare_event's default, ``min(b/2, r - (l* - 1) b)``. The samples that
    do not exit in ``(T1, T2]`` weigh 0 and enter only through ``n_samples``.
    """
    t0 = time.perf_counter()
    s_path, s_relax = seed.spawn(2)
    rng = np.random.default_rng(s_path)
    xs, ws = [], []
    for first in range(0, n_samples, chunk):
        x, w = _mixture_exits(sgd, basin, min(chunk, n_samples - first), rng)
        xs.append(x)
        ws.append(w)
    k = settled_basins(sgd, np.concatenate(xs), s_relax, threads)
    return Landing(k, np.concatenate(ws), n_samples, "importance", time.perf_counter() - t0)


def absorption(landings: dict, narrow, wide, n_basins: int) -> tuple[np.ndarray, np.ndarray]:
    """``theta[k, j]``: probability that an exit settling in basin ``k`` ends its narrow visits at ``wide[j]``.

    Wide ``k``: 1 for itself. Narrow ``k``: the share of ``wide[j]`` among the exits of ``k`` (from its minimum)
    that settled in a wide basin; an exit settling back in a narrow basin starts afresh there, which, on a
    landscape whose narrow basins lead only to wide ones, is the same narrow ``k``.

    Returns
    -------
    (theta, stderr), each of shape ``(n_basins, len(wide))``.
    """
    theta, se = np.zeros((n_basins, len(wide))), np.zeros((n_basins, len(wide)))
    theta[wide, np.arange(len(wide))] = 1.0
    for k in narrow:
        lan = landings[k]
        keep = np.isin(lan.basin, wide)
        sub = Landing(lan.basin[keep], lan.weight[keep], lan.n_samples, lan.method)
        for j, w in enumerate(wide):
            theta[k, j], se[k, j] = sub.fraction(np.arange(n_basins) == w)
    return theta, se


def settled_share(landing: Landing, theta: np.ndarray, theta_se: np.ndarray, j: int) -> tuple[float, float]:
    """``G_j = sum_k F(k) theta[k, j]``: the fraction of the exits that end at wide state ``j``, with the
    delta-method standard error (the ``F`` sample and the independent ``theta`` estimates)."""
    g, se_f = landing.fraction(theta[:, j])
    shares = np.array([landing.fraction(np.arange(theta.shape[0]) == k)[0] for k in range(theta.shape[0])])
    return g, math.sqrt(se_f ** 2 + float(np.sum((shares * theta_se[:, j]) ** 2)))
