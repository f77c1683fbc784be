"""Exit times against the theory (shared/theory.md sections 2 and 6).

Tolerances: the slope is tested tightly (within 0.2, about 4-6 standard errors of the fit with 1000
exits per point); the constant q converges slowly in lr (a jump landing just short of the boundary is
finished by small noise), so the l* = 1 mean is tested within 20% of 1/(q lambda_b) as the protocol says,
and the exit side within 0.05 of the q split.
"""
import math

import numpy as np
import pytest

import htsgd
from htsgd import landscapes as L
from htsgd import theory

NOISE = htsgd.Pareto(1.5, 0.2)


def mean_exit(sgd, x0, domain, n, seed):
    et = sgd.exit_times(x0, domain, n, max_steps=10**9, rng=seed)
    assert et.n_censored == 0
    return et


def fitted_slope(landscape, basin, b, lrs, n, x0, noise=NOISE):
    means = []
    for i, lr in enumerate(lrs):
        sgd = htsgd.HeavyTailedSGD(landscape, lr, noise, truncation=b)
        means.append(mean_exit(sgd, x0, (basin.lo, basin.hi), n, np.random.SeedSequence(2024, spawn_key=(i,)))
                     .mean().value)
    return np.polyfit(np.log(lrs), np.log(means), 1)[0]


def test_l1_mean_exit_time_and_exponential_law():
    dw = L.DoubleWell()
    (basin,) = dw.basins(domain=(0.0, math.inf))
    lr, b = 0.05, 1.5
    predicted = theory.predicted_mean_exit_time(basin, NOISE, lr, b, grad=dw.grad)
    et = mean_exit(htsgd.HeavyTailedSGD(dw, lr, NOISE, truncation=b), 1.0, (0.0, math.inf), 4000, 1)
    m = et.mean()
    assert m.stderr / m.value < 0.02  # the band below is about 10 standard errors
    assert abs(m.value / predicted - 1) < 0.2, (m, predicted)
    check = et.exponential_check()
    assert abs(check.coefficient_of_variation - 1) < 6 * math.sqrt(2 / check.n)
    assert check.pvalue > 1e-3
    assert np.all(et.position[et.exited] <= 0)  # the right side is out of reach of one jump


def test_l1_exit_side_follows_q_split():
    # Middle basin of minimum 0 with boundaries at -0.6 and 0.8: both within b = 1, so l* = 1 on both sides
    # and the predicted left share is 0.6^-alpha / (0.6^-alpha + 0.8^-alpha) = 0.606.
    land = L.CriticalPoints([-1.4, -0.6, 0.0, 0.8, 1.6])
    basin = land.basins()[1]
    noise = htsgd.Pareto(1.5, 0.1)
    p_left, p_right = theory.exit_side_probabilities(basin, 1.5, 1.0)
    assert p_left == pytest.approx(0.6**-1.5 / (0.6**-1.5 + 0.8**-1.5))
    sgd = htsgd.HeavyTailedSGD(land, 0.05, noise, truncation=1.0)
    et = mean_exit(sgd, 0.0, (basin.lo, basin.hi), 4000, 2)
    left, right = et.side_fractions()
    assert abs(left.value - p_left) < 0.05, (left, p_left)
    predicted = theory.predicted_mean_exit_time(basin, noise, 0.05, 1.0, grad=land.grad)
    assert abs(et.mean().value / predicted - 1) < 0.2


def test_slope_l1():
    dw = L.DoubleWell()
    (basin,) = dw.basins(domain=(0.0, math.inf))
    slope = fitted_slope(dw, basin, 1.5, [0.1, 0.05, 0.02], 1000, 1.0)
    assert abs(slope + theory.exit_time_exponent(1.5, 1)) < 0.2, slope


def test_slope_l2():
    # b = 0.6 < r = 1 < 2b: two big jumps are needed; predicted slope -(1 + 2 * 0.5) = -2.
    dw = L.DoubleWell()
    (basin,) = dw.basins(domain=(0.0, math.inf))
    assert theory.jumps_needed(basin.width, 0.6) == 2
    slope = fitted_slope(dw, basin, 0.6, [0.1, 0.05, 0.025], 1000, 1.0)
    assert abs(slope + theory.exit_time_exponent(1.5, 2)) < 0.2, slope


@pytest.mark.slow
def test_slope_untruncated_is_minus_alpha():
    dw = L.DoubleWell()
    (basin,) = dw.basins(domain=(0.0, math.inf))
    slope = fitted_slope(dw, basin, None, [0.1, 0.05, 0.02, 0.01], 2000, 1.0)
    assert abs(slope + 1.5) < 0.2, slope


@pytest.mark.slow
def test_slope_l2_finer_grid_more_exits():
    dw = L.DoubleWell()
    (basin,) = dw.basins(domain=(0.0, math.inf))
    slope = fitted_slope(dw, basin, 0.6, [0.1, 0.07, 0.05, 0.035, 0.025], 3000, 1.0)
    assert abs(slope + 2.0) < 0.2, slope
