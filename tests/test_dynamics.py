"""HeavyTailedSGD.run / exit_times: exact step semantics, reproducibility, occupancy, non-finite reports."""
import math

import numpy as np
import pytest

import htsgd
from htsgd import landscapes as L
from stats_helpers import assert_frequency, assert_resolves, frequency_above, mean_and_stderr

DW = L.DoubleWell()
W1 = dict(landscape=DW, lr=0.05, noise=htsgd.Pareto(1.5, 0.2), truncation=0.6)


def test_drift_clip_and_bounds_are_exact():
    # Noise of scale 1e-300 vanishes in double precision: one step is exactly proj(x - phi_b(lr * grad)),
    # with the gradient in the engine's product form (x + 1) x (x - 1).
    def expected_step(x, b, bounds):
        w = -0.3 * (((x + 1.0) * x) * (x - 1.0))
        if b is not None:
            w = np.clip(w, -b, b)
        return x + w if bounds is None else np.clip(x + w, *bounds)

    for b, bounds in [(None, None), (0.1, None), (0.1, (-2.5, 2.0))]:
        sgd = htsgd.HeavyTailedSGD(DW, 0.3, htsgd.Gaussian(1e-300), truncation=b, bounds=bounds)
        x0 = np.linspace(-3, 3, 1000) if bounds is None else np.linspace(-2.5, 2.0, 999)  # avoid x = 0
        assert np.array_equal(sgd.run(x0, 1, rng=0).final, expected_step(x0, b, bounds))


@pytest.mark.parametrize("landscape,x0", [
    (DW, 1.0),
    (L.Tabulated(np.linspace(-3, 3, 61), np.linspace(-3, 3, 61) ** 3 - np.linspace(-3, 3, 61)), 1.0),
    (L.Separable(L.DoubleWell(), 3), np.ones(3)),
])
@pytest.mark.parametrize("noise", [htsgd.Pareto(1.5, 0.2), htsgd.StudentT(2.0, 0.2), htsgd.Stable(1.5, 0.1)])
def test_thread_count_does_not_change_a_bit(landscape, x0, noise):
    sgd = htsgd.HeavyTailedSGD(landscape, 0.05, noise, truncation=0.6)
    runs = [sgd.run(x0, 300, n_particles=1000, rng=5, record_every=50, n_threads=t) for t in (1, 2, 3)]
    for r in runs[1:]:
        assert np.array_equal(r.final, runs[0].final)
        assert np.array_equal(r.trajectory, runs[0].trajectory)
        if r.occupancy is not None:
            assert np.array_equal(r.occupancy, runs[0].occupancy)
    dom = (0.0, math.inf) if np.ndim(x0) == 0 else (np.zeros(3), np.full(3, np.inf))
    exits = [sgd.exit_times(x0, dom, 300, 20_000, rng=6, n_threads=t) for t in (1, 2)]
    assert np.array_equal(exits[0].steps, exits[1].steps)
    assert np.array_equal(exits[0].position, exits[1].position)


def test_any_particle_replays_alone():
    sgd = htsgd.HeavyTailedSGD(**W1)
    x0 = np.linspace(0.5, 1.5, 200)
    full = sgd.run(x0, 500, rng=9, record_every=10)
    for i in (0, 37, 199):
        one = sgd.run(x0[i], 500, rng=9, record_every=10, first_particle=i)
        assert one.final[0] == full.final[i]
        assert np.array_equal(one.trajectory[:, 0], full.trajectory[:, i])
    et = sgd.exit_times(1.0, (0.0, math.inf), 64, 10**6, rng=4)
    one = sgd.exit_times(1.0, (0.0, math.inf), 1, 10**6, rng=4, first_particle=17)
    assert one.steps[0] == et.steps[17] and one.position[0] == et.position[17]


def test_refilled_lanes_replay_alone():
    # 400 exits through the 32 lanes of one thread: lanes are refilled many times, after odd and after
    # even exit steps (a lane then waits one iteration so that all lanes keep one step parity)
    sgd = htsgd.HeavyTailedSGD(**W1)
    dom = (0.0, math.inf)
    et = sgd.exit_times(0.3, dom, 400, 10**6, rng=8, n_threads=1)
    assert et.exited.all() and len(set(et.steps % 2)) == 2
    for i in range(0, 400, 9):
        one = sgd.exit_times(0.3, dom, 1, 10**6, rng=8, first_particle=i)
        assert one.steps[0] == et.steps[i] and one.position[0] == et.position[i]


def test_block_boundaries_do_not_matter():
    # particles are simulated in blocks; any split of the particle range gives the same paths
    sgd = htsgd.HeavyTailedSGD(**W1)
    full = sgd.run(1.0, 200, n_particles=300, rng=3).final
    parts = [sgd.run(1.0, 200, n_particles=n, rng=3, first_particle=s).final for s, n in [(0, 65), (65, 235)]]
    assert np.array_equal(np.concatenate(parts), full)


def test_trajectory_and_run_are_consistent():
    sgd = htsgd.HeavyTailedSGD(**W1)
    r = sgd.run(1.0, 100, n_particles=10, rng=1, record_every=25)
    assert r.trajectory.shape == (4, 10)
    assert np.array_equal(r.trajectory[-1], r.final)
    half = sgd.run(1.0, 50, n_particles=10, rng=1)
    assert np.array_equal(half.final, r.trajectory[1])


def test_occupancy_counts_every_step_and_matches_positions():
    sgd = htsgd.HeavyTailedSGD(DW, 0.1, htsgd.Pareto(1.5, 0.5), truncation=1.5)
    r = sgd.run(1.0, 2000, n_particles=400, rng=2, record_every=1)
    assert r.occupancy.shape == (400, 2)
    assert np.all(r.occupancy.sum(axis=1) == 2000)
    np.testing.assert_array_equal(r.occupancy[:, 1], (r.trajectory > 0).sum(axis=0))
    frac = r.occupancy_fraction()
    assert frac.sum() == pytest.approx(1.0)
    # the particles (independent) visit both basins: the time on the left is resolved from 0 and from 1
    left, se = mean_and_stderr(r.occupancy[:, 0] / 2000)
    assert left == pytest.approx(frac[0])
    assert_resolves(se, left, "time on the left")
    assert_resolves(se, 1 - left, "time on the right")
    assert [b.minimum for b in r.basins] == [-1.0, 1.0]


def test_occupancy_separable_mixed_radix():
    land = L.Separable(L.DoubleWell(), 2)
    sgd = htsgd.HeavyTailedSGD(land, 0.1, htsgd.Gaussian(1e-300))
    starts = np.array([[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]])
    r = sgd.run(starts, 10, rng=0)
    assert r.occupancy.tolist() == [[10, 0, 0, 0], [0, 10, 0, 0], [0, 0, 10, 0], [0, 0, 0, 10]]
    assert np.array_equal(np.array(r.basins), starts)


def test_isotropic_noise_in_2d_is_rotation_invariant():
    land = L.Quadratic(np.zeros((2, 2)))
    sgd = htsgd.HeavyTailedSGD(land, 1.0, htsgd.Pareto(1.5, 1.0), isotropic=True)
    x = sgd.run(np.zeros(2), 1, n_particles=200_000, rng=8).final
    angle = np.arctan2(x[:, 1], x[:, 0])
    counts = np.histogram(angle, bins=8, range=(-np.pi, np.pi))[0]
    n = len(x)
    for k, c in enumerate(counts):
        assert_frequency(int(c), n, 1 / 8, what=f"angle octant {k}")
    r = np.linalg.norm(x, axis=1)
    p = float(htsgd.Pareto(1.5).tail(2.0))
    assert_frequency(frequency_above(r, 2.0), n, p, what="radius tail")


def test_nonfinite_particles_are_reported_not_kept():
    sgd = htsgd.HeavyTailedSGD(DW, 0.5, htsgd.Pareto(0.6, 10.0))  # untruncated, overflows quickly
    with pytest.warns(RuntimeWarning, match="non-finite"):
        r = sgd.run(1.0, 200, n_particles=500, rng=1)
    assert r.n_nonfinite > 0
    assert np.array_equal(r.nonfinite, ~np.isfinite(r.final))
    # a flagged particle's occupancy stops at the step it overflowed
    bad = np.flatnonzero(r.nonfinite)
    assert np.all(r.occupancy[bad].sum(axis=1) == r.nonfinite_step[bad] - 1)
    # an overflow through a finite end is an exit on that side (position +-inf), not censoring
    et = sgd.exit_times(1.0, (-1e308, 1e308), 200, 10_000, rng=1)
    over = ~np.isfinite(et.position)
    assert over.any() and np.all(et.exited[over]) and et.n_nonfinite == 0
    # beyond an infinite end the true position is still inside: flagged non-finite and censored
    with pytest.warns(RuntimeWarning, match="non-finite"):
        et = sgd.exit_times(1.0, (-math.inf, math.inf), 200, 10_000, rng=1)
    assert et.n_nonfinite > 0 and not np.any(et.exited & et.nonfinite)


def test_exit_times_basic_semantics():
    sgd = htsgd.HeavyTailedSGD(**W1)
    et = sgd.exit_times(1.0, (0.0, math.inf), 500, 50, rng=3)
    assert et.steps.dtype == np.int64 and np.all(et.steps >= 1) and np.all(et.steps <= 50)
    assert np.all(et.position[et.exited] <= 0.0)
    assert np.all(et.steps[~et.exited] == 50) and np.all(et.position[~et.exited] > 0)
    # both outcomes occur (a 50-step horizon censors most particles, not all) ...
    assert 0 < et.n_censored < 500
    # ... and an exited particle's path from run() is inside the domain before its exit step and outside at it
    for i in np.flatnonzero(et.exited)[:5]:
        r = sgd.run(1.0, int(et.steps[i]), rng=3, first_particle=int(i), record_every=1)
        assert np.all(r.trajectory[:-1, 0] > 0) and r.trajectory[-1, 0] == et.position[i]


def test_survival_curve_and_mean_with_censoring():
    sgd = htsgd.HeavyTailedSGD(**W1)
    et = sgd.exit_times(1.0, (0.0, math.inf), 2000, 5000, rng=10)
    assert 0 < et.n_censored < 2000
    t, s = et.survival()
    assert np.all(np.diff(s) < 0) and np.all((s > 0) & (s <= 1))
    # no censoring before max_steps: Kaplan-Meier equals the empirical survival
    assert s[-1] == pytest.approx(np.mean(et.steps > t[-1]))
    m = et.mean()
    assert m.value == pytest.approx(et.steps.sum() / np.count_nonzero(et.exited))


def test_occupancy_switch_and_x0_untouched():
    sgd = htsgd.HeavyTailedSGD(**W1)
    x0 = np.linspace(0.5, 1.5, 100)
    keep = x0.copy()
    with_occ = sgd.run(x0, 50, rng=1)
    without = sgd.run(x0, 50, rng=1, occupancy=False)
    assert np.array_equal(x0, keep)  # the engine works in a copy
    assert without.occupancy is None and with_occ.occupancy is not None
    assert np.array_equal(with_occ.final, without.final)
    with pytest.raises(TypeError, match="Invalid occupancy"):
        sgd.run(x0, 5, occupancy="no")


def test_active_isa_is_reported():
    assert htsgd._core.active_isa() in ("baseline", "avx2", "avx512")
