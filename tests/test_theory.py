"""Tests of htsgd.theory: formulas by hand, independent estimates of q, properties, validation."""
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.integrate import quad
from scipy.special import spence

from htsgd import theory
from stats_helpers import assert_resolves, assert_z, mean_and_stderr

ALPHA = 1.5
finite = dict(allow_nan=False, allow_infinity=False)


def double_well_grad(x):
    return x**3 - x


class Lomax:
    """Stand-in for htsgd.noise.Pareto (duck-typed): exact tail (1 + x/scale)^-alpha."""

    def __init__(self, alpha, scale):
        self.alpha, self.scale = alpha, scale

    def tail(self, x):
        return (1.0 + np.asarray(x) / self.scale) ** -self.alpha


class Critical:
    """A landscape object with critical points and f' = prod (x - c)."""

    def __init__(self, points):
        self.critical_points = np.asarray(points, dtype=float)

    def grad(self, x):
        return np.prod(np.subtract.outer(np.asarray(x, dtype=float), self.critical_points), axis=-1)


def integer_ratio(r, b):
    return b is not None and (Fraction(r) / Fraction(b)).denominator == 1


# ------------------------------------------------------------------------------------------ jumps_needed
@given(k=st.integers(1, 30), b=st.floats(1e-3, 1e3, **finite), eps=st.floats(1e-6, 0.999, **finite))
def test_jumps_needed_steps_at_integers(k, b, eps):
    assert theory.jumps_needed((k - eps) * b, b) == k
    assert theory.jumps_needed((k + eps) * b, b) == k + 1


@given(k=st.integers(1, 1000))
def test_jumps_needed_exact_float_neighbours(k):
    b = 0.25  # k * b is exact, so its float neighbours are just below and just above an integer ratio
    assert theory.jumps_needed(math.nextafter(k * b, 0.0), b) == k
    assert theory.jumps_needed(math.nextafter(k * b, math.inf), b) == k + 1
    with pytest.raises(ValueError, match="Invalid b: 0.25; expected r/b not an integer"):
        theory.jumps_needed(k * b, b)


@given(r1=st.floats(1e-3, 1e3, **finite), r2=st.floats(1e-3, 1e3, **finite),
       b1=st.floats(1e-3, 1e3, **finite), b2=st.floats(1e-3, 1e3, **finite))
def test_jumps_needed_monotone(r1, r2, b1, b2):
    (r1, r2), (b1, b2) = sorted((r1, r2)), sorted((b1, b2))
    assume(not any(integer_ratio(r, b) for r in (r1, r2) for b in (b1, b2)))
    assert theory.jumps_needed(r1, b1) <= theory.jumps_needed(r2, b1)
    assert theory.jumps_needed(r1, b1) >= theory.jumps_needed(r1, b2)
    assert theory.jumps_needed(r1, None) == theory.jumps_needed(r1, math.inf) == 1


# ---------------------------------------------------------------------------------------------- scales
def test_exponents_and_rates_by_hand():
    assert [theory.exit_time_exponent(1.5, k) for k in (1, 2, 3)] == [1.5, 2.0, 2.5]
    noise, lr = Lomax(1.5, 0.2), 0.01
    H = (1 + 100 / 0.2) ** -1.5
    assert theory.jump_rate(noise, lr) == pytest.approx(H / lr, rel=1e-14)
    assert theory.jump_rate(noise.tail, lr) == theory.jump_rate(noise, lr)
    assert theory.exit_rate_scale(noise, lr, 1) == pytest.approx(H, rel=1e-14)
    assert theory.exit_rate_scale(noise, lr, 3) == pytest.approx(H * (H / lr) ** 2, rel=1e-14)


# -------------------------------------------------------------------------------------- basins, l* = 1
def test_double_well_basins():
    (basin,) = theory.find_basins(double_well_grad, (0.0, math.inf))
    assert (basin.minimum, basin.lo, basin.hi) == (pytest.approx(1.0, abs=1e-12), 0.0, math.inf)
    assert basin.width == pytest.approx(1.0, abs=1e-12) and basin.left == basin.width and basin.right == math.inf
    assert theory.jumps_needed(basin.width, 0.6) == 2 and theory.jumps_needed(basin.width, 1.5) == 1
    left, right = theory.find_basins(double_well_grad)
    assert left.minimum == pytest.approx(-1.0, abs=1e-12) and left.lo == -math.inf
    assert left.hi == right.lo == pytest.approx(0.0, abs=1e-12) and right.hi == math.inf
    via_points = theory.find_basins(Critical([-1.0, 0.0, 1.0]), (0.0, math.inf))
    assert via_points == [theory.Basin(1.0, 0.0, math.inf)]
    assert theory.basins_from_critical_points([-1.0, 1.0], [0.0]) == [
        theory.Basin(-1.0, -math.inf, 0.0), theory.Basin(1.0, 0.0, math.inf)]


def test_find_basins_on_custom_grid_and_landscape():
    land = Critical([-2.0, -1.6, 0.0, 1.2, 2.5])
    expected = [(-2.0, -math.inf, -1.6), (0.0, -1.6, 1.2), (2.5, 1.2, math.inf)]
    for found in (theory.find_basins(land), theory.find_basins(land.grad),
                  theory.find_basins(land.grad, grid=np.linspace(-5, 5, 1001))):
        got = [(x.minimum, x.lo, x.hi) for x in found]
        assert np.allclose(got, expected, atol=1e-10)


def test_exit_constant_l1_by_hand():
    basin = theory.Basin(0.0, -0.8, 0.5)
    both = 0.5 * 0.5**-1.5 + 0.5 * 0.8**-1.5
    assert theory.exit_constant(basin, ALPHA, 1.0) == pytest.approx(both, rel=1e-14)
    assert theory.exit_constant(basin, ALPHA) == theory.exit_constant(basin, ALPHA, math.inf) == pytest.approx(both)
    assert theory.exit_constant(basin, ALPHA, 0.6, p_plus=0.3, p_minus=0.7) == pytest.approx(0.3 * 0.5**-1.5)
    assert theory.exit_side_probabilities(basin, ALPHA, 0.6) == (0.0, 1.0)
    left, right = theory.exit_side_probabilities(basin, ALPHA)
    assert right == pytest.approx(0.5**-1.5 / (0.5**-1.5 + 0.8**-1.5)) and left + right == pytest.approx(1.0)
    (dw,) = theory.find_basins(double_well_grad, (0.0, math.inf))
    assert theory.exit_constant(dw, ALPHA, 1.5) == pytest.approx(0.5, rel=1e-12)
    assert theory.exit_constant(theory.Basin(0.0, -math.inf, math.inf), ALPHA) == 0.0


@given(left=st.floats(0.05, 5, **finite), right=st.floats(0.05, 5, **finite),
       dl=st.floats(0, 3, **finite), dr=st.floats(0, 3, **finite), b=st.none() | st.floats(0.05, 10, **finite))
def test_exit_constant_l1_nonincreasing_in_widths(left, right, dl, dr, b):
    narrow, wide = theory.Basin(0.0, -left, right), theory.Basin(0.0, -left - dl, right + dr)
    assume(b is None or (min(left + dl, right + dr) < b and not integer_ratio(wide.width, b)
                         and not integer_ratio(narrow.width, b)))
    assert theory.exit_constant(wide, ALPHA, b) <= theory.exit_constant(narrow, ALPHA, b)


def test_predicted_mean_exit_time_and_regime():
    noise, lr = Lomax(1.5, 0.2), 0.01
    (basin,) = theory.find_basins(double_well_grad, (0.0, math.inf))
    H = noise.tail(1 / lr)
    assert theory.predicted_mean_exit_time(basin, noise, lr, 1.5) == pytest.approx(1 / (0.5 * H), rel=1e-12)
    q2 = theory.exit_constant(basin, ALPHA, 0.6, grad=double_well_grad)
    assert theory.predicted_mean_exit_time(basin, noise, lr, 0.6, grad=double_well_grad) == pytest.approx(
        1 / (q2 * H * H / lr), rel=1e-12)
    by_hand = noise.tail(basin.width / lr) / (lr * 2.0)  # f''(1) = 3 - 1 = 2
    assert theory.asymptotic_regime_indicator(basin, noise, lr, 2.0) == pytest.approx(by_hand, rel=1e-14)
    assert theory.asymptotic_regime_indicator(basin, noise, lr, grad=double_well_grad) == pytest.approx(
        by_hand, rel=1e-8)


# ------------------------------------------------------------------------------- l* >= 2: independent q
def explicit_flow_monte_carlo(b, n_jumps, n=2_000_000, seed=0):
    """Double well, basin (0, inf) of 1: brute force over jumps and waiting times with the explicit flow
    (z = x^2 solves z' = 2 z (1 - z)). Only jumps toward 0 of size >= delta = 1 - (l*-1) b can take part;
    waiting times beyond the flow time from 1 - (l*-1) b to 1 - delta cannot. Returns (estimate, std err)."""
    rng = np.random.default_rng(seed)
    delta = 1 - (n_jumps - 1) * b
    z0, z1 = (1 - (n_jumps - 1) * b) ** 2, (1 - delta) ** 2
    t_box = 0.5 * math.log(z1 * (1 - z0) / (z0 * (1 - z1)))
    x = np.ones(n)
    for k in range(n_jumps):
        if k:
            z, e = x * x, np.exp(2 * t_box * rng.random(n))
            x = np.sqrt(z * e / (1 - z + z * e))
        x -= np.minimum(delta * rng.random(n) ** (-1 / ALPHA), b)
    mass = (0.5 * delta**-ALPHA) ** n_jumps * t_box ** (n_jumps - 1)
    hit = x <= 0
    return mass * hit.mean(), mass * hit.std() / math.sqrt(n)


@pytest.mark.parametrize("b, n_jumps", [(0.6, 2), (0.52, 2), (0.45, 3)])
def test_exit_constant_double_well_against_brute_force(b, n_jumps):
    (basin,) = theory.find_basins(double_well_grad, (0.0, math.inf))
    assert theory.jumps_needed(basin.width, b) == n_jumps
    q = theory.exit_constant(basin, ALPHA, b, grad=double_well_grad)
    est, err = explicit_flow_monte_carlo(b, n_jumps)
    assert_z(est, err, q, what="brute-force q")  # quadrature error ~1e-9 relative: the Monte Carlo error dominates
    assert_resolves(err, 0.25 * q, "brute-force q")  # an error of 25% in q would fail (l* = 3: 18% resolved)
    assert theory.exit_side_probabilities(basin, ALPHA, b, grad=double_well_grad) == (1.0, 0.0)


def test_exit_constant_l2_linear_semi_analytic():
    """grad = c (x - m): flow time from y to y' is log(y/y')/c, so q_+ = p^2/c int nu(dw1) nu(dw2)
    log(j1 / (R - j2))_+; the w1-integral is p ((R - j2)^-alpha - b^-alpha)/alpha in closed form."""
    c, m, R, b, p = 2.0, 0.3, 1.0, 0.7, 0.5
    inner = quad(lambda w: ALPHA * w ** (-ALPHA - 1) * ((R - w) ** -ALPHA - b**-ALPHA), R - b, b,
                 epsabs=0, epsrel=1e-13)[0]
    by_hand = p * p / (ALPHA * c) * (inner + b**-ALPHA * ((R - b) ** -ALPHA - b**-ALPHA))
    basin = theory.Basin(m, m - 5.0, m + R)  # the left side needs >= 8 jumps: only the right counts
    q = theory.exit_constant(basin, ALPHA, b, grad=lambda x: c * (x - m))
    assert q == pytest.approx(by_hand, rel=1e-8)


def test_exit_constant_l3_linear_semi_analytic():
    """l* = 3, grad = c x: the waiting-time volume is (1/c^2) int_0^{j1} log((y + j2)/(R - j3))_+ dy/y,
    a dilogarithm; the jump sizes are integrated by Monte Carlo (std err from the sample)."""
    c, R, b, p = 2.0, 1.0, 0.4, 0.5
    delta = R - 2 * b
    rng = np.random.default_rng(1)
    j1, j2, j3 = np.minimum(delta * rng.random((3, 1_000_000)) ** (-1 / ALPHA), b)
    A, y_lo = R - j3, R - j3 - j2

    def F(y):
        return np.log(j2 / A) * np.log(y) - spence(1 + y / j2)
    vol = np.where(j1 > y_lo, (F(np.maximum(j1, y_lo)) - F(y_lo)) / c**2, 0.0) * (p * delta**-ALPHA) ** 3
    q = theory.exit_constant(theory.Basin(0.0, -5.0, R), ALPHA, b, grad=lambda x: c * x)
    mean, se = mean_and_stderr(vol)
    assert_z(mean, se, q, what="semi-analytic q, l* = 3")
    assert_resolves(se, 0.05 * q, "semi-analytic q, l* = 3")


# ------------------------------------------------------------------------------------ global dynamics
@st.composite
def landscapes(draw):
    n_min = draw(st.integers(2, 3))
    gaps = draw(st.lists(st.floats(0.2, 2.0, **finite), min_size=2 * n_min - 2, max_size=2 * n_min - 2))
    points = np.cumsum([0.0] + gaps)
    b = draw(st.none() | st.floats(0.3, 3.0, **finite))
    return Critical(points), b


@settings(max_examples=25, deadline=None)
@given(case=landscapes())
def test_generator_is_a_generator(case):
    land, b = case
    basins = theory.find_basins(land)
    assume(not any(integer_ratio(x.width, b) for x in basins))
    chain = theory.markov_chain_generator(basins, ALPHA, b, grad=land)
    Q = chain.Q
    assert Q.shape == (len(chain.wide),) * 2 and np.allclose(Q.sum(axis=1), 0.0, atol=1e-12 * np.abs(Q).max())
    assert np.all(Q[~np.eye(len(Q), dtype=bool)] >= 0)
    ls = [theory.jumps_needed(x.width, b) for x in basins]
    assert chain.l_star_large == max(ls) and list(chain.wide) == [i for i, v in enumerate(ls) if v == max(ls)]


def test_generator_untruncated_by_hand_and_symmetric():
    land = Critical([-2.0, -1.6, 0.0, 1.2, 2.5])
    chain = theory.markov_chain_generator(theory.find_basins(land), ALPHA)
    assert chain.Q[0, 1] == pytest.approx(0.5 * (0.4**-1.5 - 3.2**-1.5), rel=1e-9)  # lands in (-1.6, 1.2)
    assert chain.Q[1, 0] == pytest.approx(0.5 * (1.6**-1.5), rel=1e-9)
    sym = Critical([-1.0, 0.0, 1.0])
    for b in (None, 0.7, 1.3):
        chain = theory.markov_chain_generator(theory.find_basins(sym), ALPHA, b, grad=sym)
        assert chain.Q[0, 1] == pytest.approx(chain.Q[1, 0], rel=1e-9) and chain.Q[0, 1] > 0
        assert np.allclose(theory.stationary_distribution(chain.Q), [0.5, 0.5])


def test_generator_narrow_basin_is_skipped():
    """b = 0.5: the basin of -2 (width 0.4) is narrow; its exits (<= 0.5 to the right) all land in the
    basin of 0, so a jump from 2.5 into (-inf, -1.6) counts as a transition to the basin of 0."""
    land = Critical([-2.0, -1.6, 0.0, 1.2, 2.5])
    basins = theory.find_basins(land)
    chain = theory.markov_chain_generator(basins, ALPHA, 0.5, grad=land)
    assert list(chain.wide) == [1, 2] and chain.l_star_large == 3
    direct = theory._landing(basins[2], 3, 0.5, ALPHA, land, 0.5, 0.5, [(-math.inf, 1.2)])[0]
    assert chain.Q[1, 0] == pytest.approx(direct, rel=1e-12)


@given(st.integers(1, 6).flatmap(lambda n: st.lists(st.floats(0, 10, **finite), min_size=n * n,
                                                       max_size=n * n)))
def test_stationary_distribution_properties(rates):
    n = math.isqrt(len(rates))
    Q = np.array(rates).reshape(n, n) + 1e-3  # positive rates: irreducible
    np.fill_diagonal(Q, 0.0)
    np.fill_diagonal(Q, -Q.sum(axis=1))
    pi = theory.stationary_distribution(Q)
    assert np.all(pi >= 0) and pi.sum() == pytest.approx(1.0)
    assert np.allclose(pi @ Q, 0.0, atol=1e-9 * np.abs(Q).max())


# ----------------------------------------------------------------------------------------- validation
def test_validation_messages():
    basin = theory.Basin(1.0, 0.0, math.inf)
    cases = [
        (lambda: theory.jumps_needed(1.0, -1.0), "Invalid b: -1.0; expected b > 0 \\(or None/inf for untruncated\\)"),
        (lambda: theory.jumps_needed(1.0, float("nan")), "Invalid b: nan"),
        (lambda: theory.jumps_needed(0.0, 1.0), "Invalid r: 0.0; expected 0 < r < inf"),
        (lambda: theory.jumps_needed(math.inf, 1.0), "Invalid r: inf"),
        (lambda: theory.jumps_needed(1.0, 0.5), "Invalid b: 0.5; expected r/b not an integer"),
        (lambda: theory.exit_time_exponent(1.0, 1), "Invalid alpha: 1.0; expected 1 < alpha"),
        (lambda: theory.exit_time_exponent(1.5, 0), "Invalid l_star: 0; expected an integer >= 1"),
        (lambda: theory.jump_rate(Lomax(1.5, 1.0), 0.0), "Invalid lr: 0.0; expected a finite number > 0"),
        (lambda: theory.jump_rate(lambda x: 2.0 + 0 * x, 0.1), "Invalid tail: H\\(10.0\\) = 2.0"),
        (lambda: theory.exit_constant(basin, ALPHA, 0.6), "Invalid grad: None; expected a landscape"),
        (lambda: theory.exit_constant(basin, ALPHA, 0.6, grad=lambda x: -double_well_grad(x)),
         "Invalid grad: does not point toward the minimum"),
        (lambda: theory.exit_constant(basin, ALPHA, 0.0), "Invalid truncation: 0.0; expected truncation > 0"),
        (lambda: theory.exit_constant(basin, ALPHA, p_plus=1.5), "Invalid p_plus: 1.5; expected 0 <= p_plus <= 1"),
        (lambda: theory.exit_side_probabilities(theory.Basin(0, -math.inf, math.inf), ALPHA),
         "Invalid basin: no exit is possible"),
        (lambda: theory.Basin(1.0, 2.0, 3.0), "Invalid lo: 2.0; expected lo < minimum = 1.0"),
        (lambda: theory.Basin(float("nan"), 0.0, 1.0), "Invalid minimum: nan"),
        (lambda: theory.Basin(1.0, 0.0, float("nan")), "Invalid hi: nan"),
        (lambda: theory.find_basins(double_well_grad, (1.0, 0.0)), "Invalid domain\\[1\\]: 0.0; expected domain"),
        (lambda: theory.find_basins(double_well_grad, grid=[0.0, 1.0]), "Invalid grid"),
        (lambda: theory.find_basins(double_well_grad, n_grid=2), "Invalid n_grid: 2; expected an integer >= 3"),
        (lambda: theory.find_basins(lambda x: np.full_like(x, np.nan)), "Invalid grad: NaN"),
        (lambda: theory.basins_from_critical_points([0.0, 1.0], []), "Invalid critical points"),
        (lambda: theory.basins_from_critical_points([], [0.0]), "Invalid minima: \\[\\]"),
        (lambda: theory.basins_from_critical_points([2.0], [], (0.0, 1.0)), "Invalid minima: \\[2.0\\]"),
        (lambda: theory.markov_chain_generator([], ALPHA), "Invalid basins: \\[\\]"),
        (lambda: theory.markov_chain_generator([theory.Basin(0, -1, 1), theory.Basin(0.5, 0, 2)], ALPHA),
         "Invalid basins: expected non-overlapping"),
        (lambda: theory.stationary_distribution(np.zeros((2, 3))), "Invalid Q: shape \\(2, 3\\)"),
        (lambda: theory.stationary_distribution([[-1.0, 2.0], [1.0, -1.0]]), "Invalid Q: expected a finite"),
        (lambda: theory.stationary_distribution([[1.0, -1.0], [1.0, -1.0]]), "Invalid Q: expected a finite"),
        (lambda: theory.stationary_distribution(np.zeros((2, 2))), "Invalid Q: more than one closed class"),
        (lambda: theory.predicted_mean_exit_time(basin, Lomax(math.inf, 1.0), 0.1), "Invalid noise: alpha = inf"),
        (lambda: theory.asymptotic_regime_indicator(basin, Lomax(1.5, 1.0), 0.1, -1.0), "Invalid curvature: -1.0"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


def test_type_errors():
    for call in (lambda: theory.jumps_needed("1", 1.0), lambda: theory.jumps_needed(True, 0.3),
                 lambda: theory.exit_time_exponent(1.5, 2.0), lambda: theory.jump_rate(3.0, 0.1),
                 lambda: theory.exit_constant((1.0, 0.0, 2.0), ALPHA), lambda: theory.find_basins(42),
                 lambda: theory.markov_chain_generator([(0, -1, 1)], ALPHA),
                 lambda: theory.find_basins(double_well_grad, domain=0.0),
                 lambda: theory.predicted_mean_exit_time(theory.Basin(0, -1, 1), object(), 0.1)):
        with pytest.raises(TypeError, match="Invalid"):
            call()
