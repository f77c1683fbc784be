"""Periodic (the tilted cosine): the landscape added through the three-file path of README "Development"."""
import math
import pickle

import numpy as np
import pytest

import htsgd
from htsgd.landscapes import Periodic, Separable
from stats_helpers import assert_frequency, binomial_band

CASES = [(1.0, 2 * math.pi, 0.0), (0.3, 1.7, 0.25), (2.5, 0.01, -100.0), (1e-3, 1e3, 1e-9)]


def reference(amplitude, period, tilt, x):
    k = 2 * np.pi / period
    return -amplitude * np.cos(k * x) + tilt * x, amplitude * k * np.sin(k * x) + tilt


@pytest.mark.parametrize("amplitude,period,tilt", CASES)
def test_value_and_grad_match_numpy(amplitude, period, tilt):
    land = Periodic(amplitude, period, tilt)
    x = np.random.default_rng(1).uniform(-5 * period, 5 * period, 1001)
    f, g = reference(amplitude, period, tilt, x)
    scale_f = amplitude + abs(tilt) * np.abs(x)  # the size of the terms, for points where f or f' is near 0
    scale_g = amplitude * 2 * np.pi / period + abs(tilt)
    assert np.all(np.abs(land.value(x) - f) <= 1e-14 * np.maximum(np.abs(f), scale_f))  # rtol 1e-14
    assert np.all(np.abs(land.grad(x) - g) <= 1e-14 * np.maximum(np.abs(g), scale_g))
    assert land.value(x.reshape(7, 143)).shape == (7, 143)


def test_defaults_and_shape_of_the_wells():
    land = Periodic()
    assert (land.amplitude, land.period, land.tilt) == (1.0, 2 * math.pi, 0.0)
    assert land.value(np.array([0.0]))[0] == -1.0
    assert land.grad(np.array([0.0]))[0] == 0.0
    mins, maxs = land.critical_points_within((-7.0, 7.0))
    np.testing.assert_allclose(mins, [-2 * math.pi, 0.0, 2 * math.pi], atol=1e-15)
    np.testing.assert_allclose(maxs, [-math.pi, math.pi])
    (basin,) = land.basins((-math.pi, math.pi))
    assert (basin.minimum, basin.lo, basin.hi) == (0.0, -math.pi, math.pi)


def test_tilted_critical_points_are_zeros_of_the_gradient():
    land = Periodic(0.7, 1.3, 2.0)  # |t| < 2 pi A / P = 3.38
    mins, maxs = land.critical_points_within((-4.0, 4.0))
    assert mins.size == maxs.size == 6
    np.testing.assert_allclose(land.grad(np.concatenate([mins, maxs])), 0.0, atol=1e-14)
    g_right = land.grad(mins + 1e-6)
    assert np.all(g_right > 0) and np.all(land.grad(maxs + 1e-6) < 0)  # minima and maxima, not inflections
    basins = land.basins((-4.0, 4.0))
    assert [b.minimum for b in basins] == mins.tolist()


def test_infinitely_many_critical_points_raise_and_steep_tilt_has_none():
    land = Periodic(1.0, 2.0, 0.5)
    for attr in ("critical_points", "minima", "maxima"):
        with pytest.raises(ValueError, match="infinitely many critical points"):
            getattr(land, attr)
    with pytest.raises(ValueError, match="infinitely many critical points"):
        land.basins()
    with pytest.raises(ValueError, match="expected finite ends"):
        land.critical_points_within((0.0, math.inf))
    with pytest.raises(ValueError, match="at most 1000000 critical points"):
        land.critical_points_within((0.0, 2e6))
    steep = Periodic(1.0, 2.0, 2 * math.pi / 2.0 * 1.01)  # the tilt beats every slope of the cosine
    assert steep.critical_points.size == steep.minima.size == steep.maxima.size == 0
    assert [a.size for a in steep.critical_points_within((-10.0, 10.0))] == [0, 0]
    with pytest.raises(ValueError, match="at least one minimum"):
        steep.basins((-10.0, 10.0))


@pytest.mark.parametrize("kwargs,error,match", [
    ({"amplitude": 0.0}, ValueError, r"Invalid amplitude: 0.0; expected a finite number > 0"),
    ({"amplitude": -1.0}, ValueError, "Invalid amplitude"),
    ({"amplitude": math.inf}, ValueError, "Invalid amplitude"),
    ({"amplitude": math.nan}, ValueError, "Invalid amplitude"),
    ({"amplitude": "1"}, TypeError, "Invalid amplitude: expected a real number"),
    ({"period": 0.0}, ValueError, r"Invalid period: 0.0; expected a finite number > 0"),
    ({"period": math.inf}, ValueError, "Invalid period"),
    ({"period": True}, TypeError, "Invalid period"),
    ({"tilt": math.inf}, ValueError, r"Invalid tilt: inf; expected a finite number"),
    ({"tilt": math.nan}, ValueError, "Invalid tilt"),
    ({"tilt": None}, TypeError, "Invalid tilt"),
    ({"amplitude": 1e300, "period": 1e-10}, ValueError, "amplitude \\* 2 pi / period"),
])
def test_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        Periodic(**kwargs)


def test_immutable_pickles_and_compares_by_value():
    land = Periodic(0.5, 3.0, 0.1)
    with pytest.raises(AttributeError, match="immutable"):
        land.tilt = 0.0
    back = pickle.loads(pickle.dumps(land))
    assert back == land and hash(back) == hash(land) and back is not land
    x = np.linspace(-10, 10, 101)
    assert np.array_equal(back.grad(x), land.grad(x))
    assert land != Periodic(0.5, 3.0, 0.2) and land != htsgd.landscapes.DoubleWell()
    assert repr(back) == "Periodic(amplitude=0.5, period=3.0, tilt=0.1)"
    sgd = htsgd.HeavyTailedSGD(land, 0.05, htsgd.Pareto(1.5, 0.2), truncation=1.0)
    assert pickle.loads(pickle.dumps(sgd)) == sgd


def _sgd(tilt=0.0):
    return htsgd.HeavyTailedSGD(Periodic(1.0, 2.0, tilt), 0.05, htsgd.Pareto(1.5, 0.2), truncation=1.5)


def test_run_reports_no_occupancy_with_a_reason():
    res = _sgd().run(0.0, 200, 2000, rng=3)
    assert res.occupancy is None
    assert "infinitely many critical points" in res.occupancy_note
    assert np.all(np.isfinite(res.final))
    # the wells hold: after 200 steps most particles sit near a multiple of the period
    dist = np.abs(res.final - 2.0 * np.round(res.final / 2.0))
    assert np.mean(dist < 0.5) > 0.9
    nd = htsgd.HeavyTailedSGD(Separable(Periodic(1.0, 2.0), 2), 0.05, htsgd.Pareto(1.5, 0.2), truncation=1.5)
    res_nd = nd.run(np.zeros(2), 50, 500, rng=3)
    assert res_nd.occupancy is None and res_nd.final.shape == (500, 2)


def test_exits_from_the_basin_of_zero_are_symmetric():
    land = Periodic(1.0, 2.0)
    (basin,) = land.basins((-1.0, 1.0))
    n = 4000
    et = _sgd().exit_times(0.0, (basin.lo, basin.hi), n, 200_000, rng=11)
    assert et.n_censored == 0 and et.n_nonfinite == 0
    left = int(np.count_nonzero(et.position <= -1.0))
    assert left + int(np.count_nonzero(et.position >= 1.0)) == n
    assert_frequency(left, n, 0.5, z=5, what="left exits, tilt = 0")
    assert et.mean().value > 10  # a metastable well: exits need a rare large jump, not a few steps


def test_tilt_pushes_exits_downhill():
    n = 2000
    sgd = _sgd(tilt=1.5)  # f falls to the left: the left wall of the well is the lower one
    (x0,), _ = sgd.landscape.critical_points_within((-1.0, 1.0))
    et = sgd.exit_times(x0, (-1.0, 1.0), n, 200_000, rng=12)
    assert et.n_censored == 0
    left_share = np.count_nonzero(et.position <= -1.0) / n
    assert left_share - 0.5 > binomial_band(0.5, n, z=5)


@pytest.mark.parametrize("method", ["run", "exit_times"])
def test_thread_count_does_not_change_bits(method):
    sgd = _sgd(tilt=0.1)
    outs = []
    for threads in (1, 2):
        if method == "run":
            r = sgd.run(0.0, 300, 3001, rng=5, n_threads=threads, record_every=100)
            outs.append((r.final, r.trajectory))
        else:
            e = sgd.exit_times(0.0, (-1.0, 1.0), 3001, 50_000, rng=5, n_threads=threads)
            outs.append((e.steps, e.position))
    for a, b in zip(*outs):
        assert a.tobytes() == b.tobytes()
