"""Hypothesis fuzz of the simulator over valid and near-invalid parameters at extreme magnitudes.

Invariants: every step is at most ``b`` long (norm, or per coordinate), trajectories stay inside
``bounds``, exit steps are ``>= 1``, exited particles are outside the domain and the others inside (or
flagged non-finite), and no non-finite value goes unflagged.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from htsgd import Gaussian, HeavyTailedSGD, Pareto, Stable, StudentT
from htsgd._validation import _min_alpha
from htsgd.landscapes import DoubleWell, Polynomial, Quadratic, Separable

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOL = 1 + 1e-12

magnitudes = st.sampled_from([1e-300, 1e-30, 1e-6, 1e-3, 0.05, 1.0, 10.0, 1e6, 1e30, 1e300])


def _law_or_none(cls, *params):
    try:
        return cls(*params)
    except ValueError:  # a scale too large for this alpha (its largest variate would overflow)
        return None


laws = st.one_of(
    st.builds(_law_or_none, st.just(Pareto), st.floats(_min_alpha("pareto"), 4.0),
              st.sampled_from([1e-200, 1e-3, 0.2, 1.0, 1e3, 1e200])),
    st.builds(_law_or_none, st.just(Stable), st.floats(_min_alpha("stable"), 2.0),
              st.sampled_from([1e-200, 0.2, 1.0, 1e200])),
    st.builds(_law_or_none, st.just(StudentT), st.floats(_min_alpha("student_t"), 30.0),
              st.sampled_from([1e-200, 0.2, 1.0, 1e100])),
    st.builds(Gaussian, st.sampled_from([1e-200, 0.2, 1.0, 1e200])),
).filter(lambda law: law is not None)
truncations = st.one_of(st.none(), st.just(math.inf), magnitudes)
landscapes_1d = st.one_of(
    st.just(DoubleWell()),
    st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=6).map(Polynomial),
    st.lists(st.sampled_from([-1e300, -1.0, 0.0, 1e-300, 1.0, 1e300]), min_size=3, max_size=4).map(Polynomial),
)


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # non-finite particles are reported by a warning
        return fn(*args, **kw)


def _check_run_1d(sgd, x0, n_steps, bounds):
    r = _quiet(sgd.run, x0, n_steps, 8, rng=1, record_every=1, occupancy=True)
    records = r.trajectory if r.trajectory is not None else np.empty((0, 8))  # None: no step recorded
    assert len(records) == n_steps
    path = np.vstack([np.full((1, 8), x0), records])
    flagged = r.nonfinite
    for i in range(8):
        p = path[:, i]
        finite = np.isfinite(p)
        if not flagged[i]:
            assert finite.all(), "a non-finite value without a flag"
        else:
            k = r.nonfinite_step[i]
            assert np.all(finite[:k]) and not finite[k], "the flag names the first non-finite step"
        first_bad = len(p) if finite.all() else int(np.argmin(finite))
        steps = np.abs(np.diff(p[:first_bad]))
        if sgd.truncation is not None:  # the difference of rounded positions: up to one spacing more
            slack = np.spacing(np.abs(p[1:first_bad]))
            assert np.all(steps <= sgd.truncation * TOL + slack), (steps.max(), sgd.truncation)
        if bounds is not None:
            q = p[:first_bad]
            assert np.all((q >= bounds[0]) & (q <= bounds[1]))
    assert np.array_equal(r.final[~flagged], path[-1][~flagged])
    if r.occupancy is not None:
        assert np.all(r.occupancy.sum(axis=1)[~flagged] == n_steps)
    else:
        assert r.occupancy_note is None or r.occupancy_note


@FUZZ
@given(land=landscapes_1d, lr=magnitudes, noise=laws, b=truncations, x0=st.floats(-3, 3),
       bounded=st.booleans(), n_steps=st.integers(0, 30))
def test_run_1d_invariants(land, lr, noise, b, x0, bounded, n_steps):
    bounds = (x0 - 2.0, x0 + 3.0) if bounded else None
    sgd = HeavyTailedSGD(land, lr, noise, truncation=b, bounds=bounds)
    _check_run_1d(sgd, x0, n_steps, bounds)


@FUZZ
@given(dim=st.integers(2, 5), lr=magnitudes, noise=laws, b=truncations, clip=st.sampled_from(["norm", "coordinate"]),
       isotropic=st.booleans(), quadratic=st.booleans(), bounded=st.booleans(), n_steps=st.integers(1, 20),
       scale=magnitudes)
def test_run_nd_invariants(dim, lr, noise, b, clip, isotropic, quadratic, bounded, n_steps, scale):
    land = Quadratic(scale * np.eye(dim)) if quadratic else Separable(DoubleWell(), dim)
    bounds = (-2.0, 3.0) if bounded else None
    sgd = HeavyTailedSGD(land, lr, noise, truncation=b, bounds=bounds, clip=clip, isotropic=isotropic)
    x0 = np.full(dim, 0.5)
    r = _quiet(sgd.run, x0, n_steps, 8, rng=2, record_every=1)
    path = np.concatenate([np.broadcast_to(x0, (1, 8, dim)), r.trajectory])
    for i in range(8):
        p = path[:, i, :]
        finite = np.all(np.isfinite(p), axis=1)
        assert finite.all() or r.nonfinite[i], "a non-finite value without a flag"
        first_bad = len(p) if finite.all() else int(np.argmin(finite))
        d = np.diff(p[:first_bad], axis=0)
        if sgd.truncation is not None and math.isfinite(sgd.truncation):  # b = inf: nothing to bound
            size = np.linalg.norm(d, axis=1) if clip == "norm" else np.abs(d).max(axis=1, initial=0.0)
            slack = math.sqrt(dim) * np.spacing(np.abs(p[1:first_bad]).max(axis=1, initial=0.0))
            assert np.all(size <= sgd.truncation * TOL + slack), (size.max(), sgd.truncation)
        if bounded:
            assert np.all((p[:first_bad] >= -2.0) & (p[:first_bad] <= 3.0))


@FUZZ
@given(land=landscapes_1d, lr=magnitudes, noise=laws, b=truncations, lo=st.sampled_from([-math.inf, -1.0, 0.5]),
       hi=st.sampled_from([math.inf, 1.5, 3.0]), max_steps=st.integers(1, 200))
def test_exit_times_1d_invariants(land, lr, noise, b, lo, hi, max_steps):
    sgd = HeavyTailedSGD(land, lr, noise, truncation=b)
    x0 = 1.0
    if math.isinf(lo) and math.isinf(hi):
        hi = 3.0
    et = _quiet(sgd.exit_times, x0, (lo, hi), 16, max_steps, rng=3)
    assert np.all(et.steps >= 1) and np.all(et.steps <= max_steps)
    pos = et.position
    out = (pos <= lo) | (pos >= hi)
    assert np.all(out[et.exited]), "an exited particle inside the domain"
    assert not np.any(et.exited & et.nonfinite)
    inside = ~et.exited & ~et.nonfinite
    assert np.all((pos[inside] > lo) & (pos[inside] < hi)) and np.all(et.steps[inside] == max_steps)
    assert np.all(~np.isfinite(pos[et.nonfinite]))
    # an exit at an infinite position is an exit through a finite end only
    inf_exit = et.exited & ~np.isfinite(pos)
    assert np.all(np.where(pos[inf_exit] > 0, math.isfinite(hi), math.isfinite(lo)))
    if sgd.truncation is not None and math.isfinite(sgd.truncation):
        assert not np.any(np.isinf(pos)), "a truncated step cannot overflow near the start"


@FUZZ
@given(dim=st.integers(2, 4), lr=magnitudes, noise=laws, b=truncations, clip=st.sampled_from(["norm", "coordinate"]),
       max_steps=st.integers(1, 100), infinite_side=st.booleans())
def test_exit_times_nd_invariants(dim, lr, noise, b, clip, max_steps, infinite_side):
    sgd = HeavyTailedSGD(Separable(DoubleWell(), dim), lr, noise, truncation=b, clip=clip)
    lo, hi = np.zeros(dim), np.full(dim, math.inf if infinite_side else 2.0)
    et = _quiet(sgd.exit_times, np.ones(dim), (lo, hi), 16, max_steps, rng=4)
    assert np.all(et.steps >= 1) and np.all(et.steps <= max_steps)
    pos = et.position
    out = np.any((pos <= lo) | (pos >= hi), axis=1)
    assert np.all(out[et.exited]) and not np.any(et.exited & et.nonfinite)
    inside = ~et.exited & ~et.nonfinite
    assert np.all(~out[inside]) and np.all(et.steps[inside] == max_steps)
    assert np.all(~np.all(np.isfinite(pos[et.nonfinite]), axis=1))
    assert not np.any(np.isnan(pos[et.exited]))
