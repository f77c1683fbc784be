"""Exit times against the theory (shared/theory.md sections 2 and 6).

Tolerances (tests/stats_helpers.py): z-tests of each estimate (mean, exit-side share, coefficient of
variation, weighted log-log slope) with its standard error against the prediction plus its finite-lr bias;
the biases are modelled terms measured independently with their own standard errors
(tests/finite_lr_biases.py): the constant q converges slowly in lr (a jump landing just short of the
boundary is finished by small noise), so the l* = 1 mean sits ~15% below 1/(q lambda_b).
"""
import math

import numpy as np
import pytest

import htsgd
from htsgd import landscapes as L
from htsgd import theory
from finite_lr_biases import L1_MEAN, SIDE_LEFT, SIDE_MEAN, SLOPES
from stats_helpers import assert_model, assert_pvalue, assert_resolves, assert_slope, assert_z, fit_slope

NOISE = htsgd.Pareto(1.5, 0.2)


def mean_exit(sgd, x0, domain, n, seed):
    et = sgd.exit_times(x0, domain, n, max_steps=10**9, rng=seed)
    assert et.n_censored == 0
    return et


def fitted_slope(landscape, basin, b, lrs, n, x0, noise=NOISE):
    """Weighted least-squares log-log slope of the mean exit time against lr, and its standard error."""
    means = []
    for i, lr in enumerate(lrs):
        sgd = htsgd.HeavyTailedSGD(landscape, lr, noise, truncation=b)
        means.append(mean_exit(sgd, x0, (basin.lo, basin.hi), n, np.random.SeedSequence(2024, spawn_key=(i,)))
                     .mean())
    return fit_slope(lrs, [m.value for m in means], [m.stderr for m in means])


def check_slope(regime, landscape, basin, b, lrs, n, x0, expected):
    """The fitted slope against the theory plus its modelled finite-lr bias; a slope error of 0.2 would fail
    (neighbouring l* differ by alpha - 1 = 0.5)."""
    assert SLOPES[regime][0] == (b, tuple(lrs), n)  # the bias was measured on this grid
    slope, se = fitted_slope(landscape, basin, b, lrs, n, x0)
    assert_slope(slope, se, expected, SLOPES[regime][1], what=regime)
    assert_resolves(math.hypot(se, SLOPES[regime][1].stderr), 0.2, regime)


def test_l1_mean_exit_time_and_exponential_law():
    dw = L.DoubleWell()
    (basin,) = dw.basins(domain=(0.0, math.inf))
    lr, b = 0.05, 1.5
    predicted = theory.predicted_mean_exit_time(basin, NOISE, lr, b, grad=dw.grad)
    et = mean_exit(htsgd.HeavyTailedSGD(dw, lr, NOISE, truncation=b), 1.0, (0.0, math.inf), 4000, 1)
    m = et.mean()
    assert_model(m.value, m.stderr, predicted, L1_MEAN, what="l* = 1 mean exit time")
    assert_resolves(math.hypot(m.stderr, L1_MEAN.stderr * predicted), 0.1 * predicted, "l* = 1 mean")
    check = et.exponential_check()
    # tau / mean ~ Exp(1): the sample CV of n exponential draws is 1 with standard error 1 / sqrt(n) (delta
    # method: var s^2 = 8/n, cov(mean, s^2) = 2/n); the KS p-value at the suite's per-check false-alarm rate
    assert_z(check.coefficient_of_variation, 1 / math.sqrt(check.n), 1.0, what="coefficient of variation")
    assert_pvalue(check.pvalue, "KS against Exp(1)")
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
    assert_model(left.value, left.stderr, p_left, SIDE_LEFT, relative=False, what="left exit share")
    assert_resolves(math.hypot(left.stderr, SIDE_LEFT.stderr), 0.05, "left exit share")
    predicted = theory.predicted_mean_exit_time(basin, noise, 0.05, 1.0, grad=land.grad)
    m = et.mean()
    assert_model(m.value, m.stderr, predicted, SIDE_MEAN, what="l* = 1 mean exit time, two sides")


def test_slope_l1():
    dw = L.DoubleWell()
    (basin,) = dw.basins(domain=(0.0, math.inf))
    check_slope("l*=1", dw, basin, 1.5, [0.1, 0.05, 0.02], 1000, 1.0, -theory.exit_time_exponent(1.5, 1))


def test_slope_l2():
    # b = 0.6 < r = 1 < 2b: two big jumps are needed; predicted slope -(1 + 2 * 0.5) = -2.
    dw = L.DoubleWell()
    (basin,) = dw.basins(domain=(0.0, math.inf))
    assert theory.jumps_needed(basin.width, 0.6) == 2
    check_slope("l*=2", dw, basin, 0.6, [0.1, 0.05, 0.025], 1000, 1.0, -theory.exit_time_exponent(1.5, 2))


@pytest.mark.slow
def test_slope_untruncated_is_minus_alpha():
    dw = L.DoubleWell()
    (basin,) = dw.basins(domain=(0.0, math.inf))
    check_slope("untruncated", dw, basin, None, [0.1, 0.05, 0.02, 0.01], 2000, 1.0, -1.5)


@pytest.mark.slow
def test_slope_l2_finer_grid_more_exits():
    dw = L.DoubleWell()
    (basin,) = dw.basins(domain=(0.0, math.inf))
    check_slope("l*=2 fine", dw, basin, 0.6, [0.1, 0.07, 0.05, 0.035, 0.025], 3000, 1.0, -2.0)
