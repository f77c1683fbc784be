"""phi_b properties (hypothesis) and that the engine's steps obey them."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import htsgd
from stats_helpers import assert_frequency

finite = st.floats(min_value=-1e150, max_value=1e150, allow_nan=False, allow_infinity=False)
rows = hnp.arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 6)), elements=finite)
thresholds = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False)


@given(rows, thresholds)
def test_norm_is_bounded_by_b(w, b):
    out = htsgd.truncate(w, b)
    assert np.all(np.linalg.norm(out, axis=1) <= b * (1 + 1e-12))


@given(rows, thresholds)
def test_direction_kept_and_short_steps_untouched(w, b):
    out = htsgd.truncate(w, b)
    norms = np.linalg.norm(w, axis=1)
    short = norms <= b
    assert np.array_equal(out[short], w[short])
    for wi, oi in zip(w[~short], out[~short]):
        # same direction: oi is a positive multiple of wi
        scale = np.linalg.norm(oi) / np.linalg.norm(wi)
        np.testing.assert_allclose(oi, scale * wi, rtol=1e-12, atol=0)


@given(rows, thresholds)
def test_idempotent(w, b):
    once = htsgd.truncate(w, b)
    np.testing.assert_allclose(htsgd.truncate(once, b), once, rtol=1e-14, atol=0)


@given(rows)
def test_infinite_b_is_identity(w):
    assert np.array_equal(htsgd.truncate(w, None), w)
    assert np.array_equal(htsgd.truncate(w, math.inf), w)


@given(rows, thresholds)
def test_coordinate_clip(w, b):
    out = htsgd.truncate(w, b, clip="coordinate")
    assert np.array_equal(out, np.clip(w, -b, b))


def test_huge_step_is_clipped_not_zeroed():
    out = htsgd.truncate(np.array([[1e300, -1e300]]), 2.0)
    np.testing.assert_allclose(out, [[math.sqrt(2), -math.sqrt(2)]], rtol=1e-15)


def test_nan_passes_through():
    assert np.isnan(htsgd.truncate(np.array([np.nan]), 1.0)).all()


@pytest.mark.parametrize("b", [0.05, 0.6])
def test_engine_steps_never_exceed_b(b):
    # Huge noise: almost every step is clipped; |x_1 - x_0| <= b for every particle, and 1-D steps of
    # length exactly b dominate.
    noise = htsgd.Pareto(1.2, 50.0)
    sgd = htsgd.HeavyTailedSGD(htsgd.landscapes.DoubleWell(), 0.5, noise, truncation=b)
    x1 = sgd.run(0.3, 1, n_particles=20_000, rng=1).final
    assert np.all(np.abs(x1 - 0.3) <= b * (1 + 1e-12))
    # w = d + lr Z, d = -lr f'(0.3), is clipped when Z >= (b - d)/lr or Z <= -(b + d)/lr (Z symmetric)
    d = -0.5 * (0.3**3 - 0.3)

    def upper(y):  # P(Z >= y)
        return 0.5 * float(noise.tail(y)) if y >= 0 else 1 - 0.5 * float(noise.tail(-y))

    p_clip = upper((b - d) / 0.5) + 0.5 * float(noise.tail((b + d) / 0.5))
    more = sgd.run(0.3, 1, n_particles=180_000, rng=1, first_particle=20_000).final  # particles 20000..199999
    steps = np.abs(np.concatenate([x1, more]) - 0.3)
    assert np.all(steps <= b * (1 + 1e-12))
    clipped = int(np.count_nonzero(np.isclose(steps, b, rtol=1e-12)))
    assert_frequency(clipped, steps.size, p_clip, what="clipped steps")


def test_engine_d_dim_steps_by_norm():
    land = htsgd.landscapes.Quadratic(np.eye(3))
    sgd = htsgd.HeavyTailedSGD(land, 0.5, htsgd.Pareto(1.2, 50.0), truncation=0.3)
    x1 = sgd.run(np.zeros(3), 1, n_particles=5000, rng=2).final
    assert np.all(np.linalg.norm(x1, axis=1) <= 0.3 * (1 + 1e-12))
    sgd_c = htsgd.HeavyTailedSGD(land, 0.5, htsgd.Pareto(1.2, 50.0), truncation=0.3, clip="coordinate")
    x1c = sgd_c.run(np.zeros(3), 1, n_particles=5000, rng=2).final
    assert np.all(np.abs(x1c) <= 0.3) and np.any(np.linalg.norm(x1c, axis=1) > 0.3)
