"""Finite-lr biases of the exit-time theory in the settings of tests/test_exit_times.py, as modelled terms.

The first-exit theory (Wang, Oh, Rhee, ICLR 2022; README "A short tour") is asymptotic in ``lr -> 0``. At the
learning rates a test can afford, the l* = 1 mean exit time sits ~15% below ``1/(q lambda_b)`` (a jump that
lands just short of the boundary is finished by small noise where the drift is weak), the exit-side split is
a point or two off the ``q`` split, and the untruncated slope is steeper than ``-alpha``. A test compares its
estimate with the prediction *plus* this bias, each with its standard error (tests/stats_helpers.py).

Each bias below was measured by an independent simulation: the test's setting, another seed and 10x the
exits. ``python tests/finite_lr_biases.py`` measures them again (about 8 minutes on 2 cores) and prints them
beside the recorded values.
"""
from __future__ import annotations

import math

import numpy as np

import htsgd
from htsgd import landscapes as L
from htsgd import theory
from htsgd.reproduce import _common as C
from htsgd.reproduce import sharp_minima
from stats_helpers import Bias, fit_slope

NOISE = htsgd.Pareto(1.5, 0.2)
SOURCE = "tests/finite_lr_biases.py"

# Double well, basin (0, inf) of 1, lr 0.05, b = 1.5 (l* = 1): E tau / (1/(q lambda_b)) - 1.
L1_MEAN = Bias(-0.1588, 0.0042, f"{SOURCE}: 40000 exits")
# CriticalPoints(-1.4, -0.6, 0, 0.8, 1.6), middle basin, Pareto(1.5, 0.1), lr 0.05, b = 1: left share minus the
# q split (absolute), and the relative bias of the mean exit time.
SIDE_LEFT = Bias(0.0138, 0.0024, f"{SOURCE}: 40000 exits")
SIDE_MEAN = Bias(-0.0947, 0.0045, f"{SOURCE}: 40000 exits")
# `htsgd demo` (the same double well, noise and b): the l* = 1 mean at each of the tests' learning rates.
DEMO_L1_MEAN = {0.1: Bias(-0.1825, 0.0041, f"{SOURCE}: 40000 exits"), 0.05: L1_MEAN}
# `htsgd reproduce exit-times` (htsgd.reproduce._common's landscape and noise, b = 1.5, censored at 5x the
# prediction as there): the l* = 1 mean at the quick mode's learning rates.
REPRODUCE_L1_MEAN = {0.04: Bias(-0.0955, 0.0143, f"{SOURCE}: 4000 exits"),
                     0.02: Bias(-0.0646, 0.0148, f"{SOURCE}: 4000 exits"),
                     0.01: Bias(-0.0696, 0.0147, f"{SOURCE}: 4000 exits")}
# `htsgd reproduce sharp-minima`, untruncated noise: the fraction of time in narrow basins minus the stationary
# narrow mass of the limiting chain (absolute), at every learning rate of the quick and full modes.
SHARP_MINIMA_UNTRUNCATED = {lr: Bias(v, se, f"{SOURCE}: 600 particles") for lr, v, se in (
    (0.08, -0.0057, 0.0019), (0.04, -0.0121, 0.0017), (0.02, -0.0159, 0.0013), (0.01, -0.0171, 0.0011),
    (0.005, -0.0165, 0.0010))}
# Fitted log-log slope minus -(1 + l*(alpha - 1)) (untruncated: -alpha) on the tests' lr grids (absolute).
SLOPES = {
    "l*=1": ((1.5, (0.1, 0.05, 0.02), 1000), Bias(-0.0268, 0.0087, f"{SOURCE}: 10000 exits per lr")),
    "l*=2": ((0.6, (0.1, 0.05, 0.025), 1000), Bias(0.0014, 0.0101, f"{SOURCE}: 10000 exits per lr")),
    "untruncated": ((None, (0.1, 0.05, 0.02, 0.01), 2000), Bias(-0.0949, 0.0040, f"{SOURCE}: 20000 exits per lr")),
    "l*=2 fine": ((0.6, (0.1, 0.07, 0.05, 0.035, 0.025), 3000),
                  Bias(0.0052, 0.0053, f"{SOURCE}: 30000 exits per lr")),
}


def exit_estimates(landscape, lr, noise, b, x0, domain, n, rng):
    """(ExitTimes, mean) of ``n`` uncensored first exits."""
    et = htsgd.HeavyTailedSGD(landscape, lr, noise, truncation=b).exit_times(x0, domain, n, max_steps=10**9, rng=rng)
    assert et.n_censored == 0
    return et, et.mean()


def measure_slope(b, lrs, n, seed=777):
    """Weighted log-log slope of the mean exit time from 1 out of (0, inf) on the double well, and its stderr."""
    means = [exit_estimates(L.DoubleWell(), lr, NOISE, b, 1.0, (0.0, math.inf), n,
                            np.random.SeedSequence(seed, spawn_key=(i,)))[1] for i, lr in enumerate(lrs)]
    return fit_slope(lrs, [m.value for m in means], [m.stderr for m in means])


def main() -> None:
    dw = L.DoubleWell()
    (basin,) = dw.basins(domain=(0.0, math.inf))
    pred = theory.predicted_mean_exit_time(basin, NOISE, 0.05, 1.5, grad=dw.grad)
    m = exit_estimates(dw, 0.05, NOISE, 1.5, 1.0, (0.0, math.inf), 40_000,
                       np.random.SeedSequence(2026, spawn_key=(1,)))[1]
    print(f"l*=1 mean: {m.value / pred - 1:+.4f} +- {m.stderr / pred:.4f}   recorded {L1_MEAN}")
    pred = theory.predicted_mean_exit_time(basin, NOISE, 0.1, 1.5, grad=dw.grad)
    m = exit_estimates(dw, 0.1, NOISE, 1.5, 1.0, (0.0, math.inf), 40_000,
                       np.random.SeedSequence(2026, spawn_key=(3,)))[1]
    print(f"demo lr 0.1 mean: {m.value / pred - 1:+.4f} +- {m.stderr / pred:.4f}   recorded {DEMO_L1_MEAN[0.1]}")
    land, noise = C.default_landscape(), C.default_noise()
    wide = land.basins()[C.EXIT_BASIN]
    for lr, bias in REPRODUCE_L1_MEAN.items():
        pred = theory.predicted_mean_exit_time(wide, noise, lr, 1.5, grad=land)
        sgd = htsgd.HeavyTailedSGD(land, lr, noise, truncation=1.5, bounds=C.default_bounds())
        m = sgd.exit_times(wide.minimum, (wide.lo, wide.hi), 4000, int(5 * pred) + 1000,
                           rng=np.random.SeedSequence(2026, spawn_key=(4,))).mean()
        print(f"reproduce lr {lr} mean: {m.value / pred - 1:+.4f} +- {m.stderr / pred:.4f}   recorded {bias}")
    basins = land.basins()
    narrow, _ = C.narrow_wide(basins, C.GLOBAL_TRUNCATION)
    pi = theory.stationary_distribution(theory.markov_chain_generator(basins, C.ALPHA, None, grad=land).Q)[narrow].sum()
    for lr, bias in SHARP_MINIMA_UNTRUNCATED.items():
        occ = sharp_minima._sgd("untruncated", lr).run(np.repeat(land.minima, 120), sharp_minima.horizon_steps(lr),
                                                       rng=np.random.SeedSequence(2026, spawn_key=(5,))).occupancy
        frac = occ[:, narrow].sum(axis=1) / occ.sum(axis=1)
        print(f"sharp minima lr {lr}: {frac.mean() - pi:+.4f} +- {frac.std(ddof=1) / math.sqrt(frac.size):.4f}"
              f"   recorded {bias}")
    land = L.CriticalPoints([-1.4, -0.6, 0.0, 0.8, 1.6])
    mid, noise = land.basins()[1], htsgd.Pareto(1.5, 0.1)
    et, m = exit_estimates(land, 0.05, noise, 1.0, 0.0, (mid.lo, mid.hi), 40_000,
                           np.random.SeedSequence(2026, spawn_key=(2,)))
    left, _ = et.side_fractions()
    pred = theory.predicted_mean_exit_time(mid, noise, 0.05, 1.0, grad=land.grad)
    print(f"side split: {left.value - theory.exit_side_probabilities(mid, 1.5, 1.0)[0]:+.4f} +- {left.stderr:.4f}"
          f"   recorded {SIDE_LEFT}")
    print(f"side mean: {m.value / pred - 1:+.4f} +- {m.stderr / pred:.4f}   recorded {SIDE_MEAN}")
    for name, ((b, lrs, n), bias) in SLOPES.items():
        expected = -1.5 if b is None else -theory.exit_time_exponent(1.5, theory.jumps_needed(1.0, b))
        s, se = measure_slope(b, lrs, 10 * n)
        print(f"slope {name}: {s - expected:+.4f} +- {se:.4f}   recorded {bias}")


if __name__ == "__main__":
    main()
