"""The d-dimensional SIMD lanes (cpp/include/htsgd/lanes_nd.hpp) give the bits of the scalar per-particle
path (step_nd, ``scalar_reference=True``) for every landscape kind, noise law, clipping mode, isotropic
noise, projection bounds, occupancy, trajectories, non-finite particles and exit times with lane refills."""
from __future__ import annotations

import math

import numpy as np
import pytest

import htsgd
from htsgd import _core
from htsgd import landscapes as L
from htsgd._rng import resolve_seed
from htsgd._simulation import _occupancy_layout

LAWS = [htsgd.Pareto(1.5, 0.3), htsgd.Gaussian(0.4), htsgd.StudentT(1.5, 0.3), htsgd.Stable(1.5, 0.2)]
SPD = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, -0.2], [0.0, -0.2, 0.5]])


def _run_both(sgd: htsgd.HeavyTailedSGD, x0: np.ndarray, n_steps: int, record_every: int, seed: int = 5):
    edges, _, _ = _occupancy_layout(sgd.model)
    outs = []
    for run in (_core.run, _core._testing.run_reference):
        state = np.array(x0, dtype=np.float64, order="C")
        raw = run(sgd.model.core, state, n_steps, seed=resolve_seed(seed).key, record_every=record_every,
                  basin_edges=edges, n_threads=2)
        outs.append({k: getattr(raw, k) for k in ("final", "trajectory", "occupancy", "nonfinite_index",
                                                  "nonfinite_at")})
    return outs


def vars_of(out) -> dict:
    return {k: getattr(out, k) for k in ("steps", "position", "exited", "nonfinite")}


def _assert_same(a: dict, b: dict) -> None:
    for key in a:
        if a[key] is None:
            assert b[key] is None, key
        else:
            assert np.asarray(a[key]).tobytes() == np.asarray(b[key]).tobytes(), key


@pytest.mark.parametrize("noise", LAWS, ids=repr)
@pytest.mark.parametrize("kind", ["separable-norm", "separable-coordinate", "quadratic-bounded", "isotropic"])
def test_run_lanes_equal_scalar_path(noise, kind):
    d = 3
    if kind == "quadratic-bounded":
        land, extra = L.Quadratic(SPD, center=[0.5, -0.5, 0.0]), dict(bounds=([-2.0] * d, [1.0, 2.0, 0.8]))
    else:
        land = L.Separable(L.DoubleWell(), d)
        extra = dict(clip="coordinate") if kind == "separable-coordinate" else dict(isotropic=kind == "isotropic")
    sgd = htsgd.HeavyTailedSGD(land, lr=0.05, noise=noise, truncation=0.6, **extra)
    x0 = np.random.default_rng(0).uniform(-1.5, 1.5, size=(37, d))  # 37: a group of 32 lanes and a partial one
    lanes, ref = _run_both(sgd, x0, 41, record_every=4)  # odd step count: the last block's second half unused
    _assert_same(lanes, ref)


@pytest.mark.parametrize("truncation", [1e-120, 1e-3, 0.1, 0.3, 1e120])
def test_run_lanes_equal_scalar_path_around_the_clipping_screen(truncation):
    # the lanes skip truncate_norm for vectors whose every sum of squares is below b^2 (1 - 2^-30), and only
    # for 1e-100 <= b <= 1e100: b outside that range (always exact), b below almost every step (always
    # clipped) and b among the step norms (0.1, 0.3: about 20% and 4% of the steps clipped, so many vectors
    # take the screen and some lanes land just above b) give the scalar path's bits. A screen 1% too
    # lenient fails here: at b = 0.1 and 0.3 about 30 steps each have a norm in (b, 1.01 b] in a vector whose
    # other lanes pass the screen (estimated from the noise alone; the mutant was built and fails).
    d = 4
    sgd = htsgd.HeavyTailedSGD(L.Separable(L.DoubleWell(), d), lr=0.05, noise=htsgd.Pareto(1.5, 0.3),
                               truncation=truncation)
    x0 = np.random.default_rng(1).uniform(-1.5, 1.5, size=(200, d))
    lanes, ref = _run_both(sgd, x0, 300, record_every=30)
    _assert_same(lanes, ref)


def test_run_lanes_equal_scalar_path_for_nonfinite_particles():
    # untruncated stable noise with alpha 0.3 overflows: non-finite particles are flagged identically
    sgd = htsgd.HeavyTailedSGD(L.Separable(L.DoubleWell(), 2), lr=0.5, noise=htsgd.Stable(0.3, 1.0))
    lanes, ref = _run_both(sgd, np.zeros((40, 2)), 300, record_every=50)
    assert lanes["nonfinite_index"].size > 0
    _assert_same(lanes, ref)


@pytest.mark.parametrize("noise", [htsgd.Pareto(1.5, 0.3), htsgd.Gaussian(3.0)], ids=repr)
def test_exit_times_lanes_equal_scalar_path(noise):
    d = 2
    sgd = htsgd.HeavyTailedSGD(L.Separable(L.DoubleWell(), d), lr=0.05, noise=noise, truncation=0.6)
    lo, hi = np.array([0.0, -math.inf]), np.array([math.inf, math.inf])
    x0 = np.full((300, d), 0.3)  # 300 particles on 32 lanes x 2 threads: many refills, odd and even exit steps
    outs = [vars_of(f(sgd.model.core, x0, lo, hi, 10**6, seed=resolve_seed(9).key, n_threads=2))
            for f in (_core.exit_times, _core._testing.exit_times_reference)]
    assert outs[0]["exited"].all() and len(set(outs[0]["steps"] % 2)) == 2
    _assert_same(*outs)


def test_large_dimension_runs_one_particle_at_a_time():
    # above lanes_nd::kMaxDim (64) the scalar path runs: same API, same statistics
    sgd = htsgd.HeavyTailedSGD(L.Separable(L.DoubleWell(), 80), lr=0.05, noise=htsgd.Pareto(1.5, 0.2), truncation=0.6)
    r = sgd.run(np.ones(80), 20, n_particles=3, rng=1)
    assert r.final.shape == (3, 80) and np.all(np.isfinite(r.final))
