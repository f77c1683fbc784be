"""Occupancy against a plain recount from the full trajectory: per particle and basin, the number of finite
steps whose position lies in the basin (1-D: between consecutive maxima; d-D separable: the mixed-radix index
over coordinates, coordinate 0 fastest). Covers the lane counters (up to 8 basins in 1-D), the scalar path
(more basins), padding lanes (particle counts that are no multiple of the lane groups), non-finite particles,
and thread counts."""
import warnings

import numpy as np
import pytest

import htsgd
from htsgd import landscapes as L


def recount(trajectory: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(n_steps, n) or (n_steps, n, d) positions -> (n, (len(edges) + 1) ** d) counts of the finite steps."""
    traj = trajectory if trajectory.ndim == 3 else trajectory[:, :, None]
    n_steps, n, d = traj.shape
    radix = len(edges) + 1
    finite = np.all(np.isfinite(traj), axis=2)
    digits = np.searchsorted(edges, np.where(np.isfinite(traj), traj, 0.0), side="right")  # edges[b-1] <= x < edges[b]
    index = (digits * radix ** np.arange(d)).sum(axis=2)
    particle = np.broadcast_to(np.arange(n), (n_steps, n))
    flat = (particle * radix**d + index)[finite]
    return np.bincount(flat, minlength=n * radix**d).reshape(n, radix**d).astype(np.int64)


def run_all_threads(sgd, x0, n_steps, n):
    runs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # non-finite particles are expected in some cases
        for threads in (1, 2, 3):
            runs.append(sgd.run(x0, n_steps, n_particles=n, rng=11, record_every=1, n_threads=threads))
    for r in runs[1:]:
        assert np.array_equal(r.occupancy, runs[0].occupancy)
    return runs[0]


# points: minimum, maximum, ..., minimum: 3 basins (lane counters) and 10 basins (scalar path)
THREE = [-2.0, -1.0, 0.0, 1.0, 2.0]
TEN = [float(v) for v in np.arange(-9.0, 9.5, 1.0)]  # 19 points, f' ~ 1e11 at the centre: scale 1e-12


@pytest.mark.parametrize("points, scale", [(THREE, 0.05), (TEN, 1e-12)], ids=["3-basins", "10-basins"])
def test_occupancy_1d_equals_recount(points, scale):
    land = L.CriticalPoints(points, scale=scale)
    sgd = htsgd.HeavyTailedSGD(land, 0.05, htsgd.Pareto(1.2, 2.0), truncation=3.0)
    r = run_all_threads(sgd, 0.3, 300, 77)
    expected = recount(r.trajectory, np.asarray(land.maxima))
    assert r.occupancy.shape == (77, len(points) // 2 + 1)
    assert np.array_equal(r.occupancy, expected)
    assert np.count_nonzero(expected.sum(axis=0)) >= 3  # the particles visit several basins


def test_occupancy_1d_nonfinite_equals_recount():
    sgd = htsgd.HeavyTailedSGD(L.DoubleWell(), 0.5, htsgd.Pareto(0.6, 10.0))  # untruncated: overflows
    r = run_all_threads(sgd, 1.0, 200, 70)
    assert r.n_nonfinite > 0
    assert np.array_equal(r.occupancy, recount(r.trajectory, np.array([0.0])))


@pytest.mark.parametrize("dim", [2, 3])
def test_occupancy_nd_equals_recount(dim):
    land = L.Separable(L.CriticalPoints(THREE, scale=0.05), dim)
    sgd = htsgd.HeavyTailedSGD(land, 0.05, htsgd.Pareto(1.2, 2.0), truncation=3.0)
    r = run_all_threads(sgd, np.full(dim, 0.3), 200, 37)
    expected = recount(r.trajectory, np.array([-1.0, 1.0]))
    assert r.occupancy.shape == (37, 3**dim)
    assert np.array_equal(r.occupancy, expected)
    assert np.count_nonzero(expected.sum(axis=0)) >= 4


def test_occupancy_nd_nonfinite_equals_recount():
    sgd = htsgd.HeavyTailedSGD(L.Separable(L.DoubleWell(), 2), 0.5, htsgd.Pareto(0.6, 10.0))
    r = run_all_threads(sgd, np.ones(2), 200, 40)
    assert r.n_nonfinite > 0
    assert np.array_equal(r.occupancy, recount(r.trajectory, np.array([0.0])))

