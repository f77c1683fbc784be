"""Every public argument of the dynamics is checked in Python, before any C++ runs."""
import math

import numpy as np
import pytest

import htsgd
from htsgd import landscapes as L

DW = L.DoubleWell()
P = htsgd.Pareto(1.5, 0.2)
SGD = htsgd.HeavyTailedSGD(DW, 0.05, P, truncation=0.6)
SGD2 = htsgd.HeavyTailedSGD(L.Separable(DW, 2), 0.05, P, truncation=0.6)


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(lr=-0.1), ValueError, "Invalid lr"),
    (dict(lr=0.0), ValueError, "Invalid lr"),
    (dict(lr=math.nan), ValueError, "Invalid lr"),
    (dict(lr=math.inf), ValueError, "Invalid lr"),
    (dict(lr="0.1"), TypeError, "Invalid lr"),
    (dict(truncation=0.0), ValueError, "Invalid truncation"),
    (dict(truncation=-1.0), ValueError, "Invalid truncation"),
    (dict(truncation=math.nan), ValueError, "Invalid truncation"),
    (dict(noise="pareto"), TypeError, "Invalid noise"),
    (dict(landscape=lambda x: x), TypeError, "Invalid landscape"),
    (dict(bounds=(1.0, 0.0)), ValueError, "Invalid bounds"),
    (dict(bounds=(0.0, math.nan)), ValueError, "Invalid bounds"),
    (dict(bounds=1.0), TypeError, "Invalid bounds"),
    (dict(clip="max"), ValueError, "Invalid clip"),
    (dict(isotropic="yes"), TypeError, "Invalid isotropic"),
])
def test_constructor(kwargs, exc, match):
    args = dict(landscape=DW, lr=0.05, noise=P, truncation=0.6)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        htsgd.HeavyTailedSGD(**args)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: SGD.run(1.0, -1), ValueError, "Invalid n_steps"),
    (lambda: SGD.run(1.0, 10.5), TypeError, "Invalid n_steps"),
    (lambda: SGD.run(1.0, 10, n_particles=0), ValueError, "Invalid n_particles"),
    (lambda: SGD.run(np.ones(3), 10, n_particles=4), ValueError, "Invalid n_particles"),
    (lambda: SGD.run(math.nan, 10), ValueError, "Invalid x0"),
    (lambda: SGD.run(np.ones((2, 2)), 10), ValueError, "Invalid x0"),
    (lambda: SGD.run("1", 10), TypeError, "Invalid x0"),
    (lambda: SGD.run(np.array([], dtype=float), 10), ValueError, "Invalid x0"),
    (lambda: SGD.run(1.0, 10, record_every=0), ValueError, "Invalid record_every"),
    (lambda: SGD.run(1.0, 10**9, n_particles=100, record_every=1), ValueError, "Invalid record_every"),
    (lambda: SGD.run(1.0, 10, n_threads=0), ValueError, "Invalid n_threads"),
    (lambda: SGD.run(1.0, 10, rng=-5), ValueError, "Invalid rng"),
    (lambda: SGD.run(1.0, 10, first_particle=-1), ValueError, "Invalid first_particle"),
    (lambda: SGD.run(1.0, 10, n_particles=10, first_particle=2**32 - 5), ValueError, "Invalid first_particle"),
    (lambda: SGD2.run(np.ones(3), 10), ValueError, "Invalid x0"),
    (lambda: SGD2.run(1.0, 10), ValueError, "Invalid x0"),
    (lambda: htsgd.HeavyTailedSGD(DW, 0.1, P, bounds=(0, 1)).run(2.0, 10), ValueError, "Invalid x0"),
    (lambda: SGD.exit_times(1.0, (0.0, math.inf), 0, 100), ValueError, "Invalid n_particles"),
    (lambda: SGD.exit_times(1.0, (0.0, math.inf), 10, 0), ValueError, "Invalid max_steps"),
    (lambda: SGD.exit_times(1.0, (1.0, 0.0), 10, 100), ValueError, "Invalid domain"),
    (lambda: SGD.exit_times(1.0, (1.0, 1.0), 10, 100), ValueError, "Invalid domain"),
    (lambda: SGD.exit_times(1.0, (math.nan, 2.0), 10, 100), ValueError, "Invalid domain"),
    (lambda: SGD.exit_times(1.0, (0.0,), 10, 100), TypeError, "Invalid domain"),
    (lambda: SGD.exit_times(3.0, (0.0, 2.0), 10, 100), ValueError, "Invalid x0"),
    (lambda: SGD.exit_times(0.0, (0.0, 2.0), 10, 100), ValueError, "Invalid x0"),
    (lambda: SGD2.exit_times(np.ones(2), (np.zeros(3), np.full(3, 2.0)), 10, 100), ValueError, "Invalid domain"),
    (lambda: SGD.exit_times(1.0, (0.0, 2.0), True, 100), TypeError, "Invalid n_particles"),
])
def test_methods(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_messages_name_the_domain():
    with pytest.raises(ValueError, match=r"Invalid lr: -0.1; expected a finite number > 0"):
        htsgd.HeavyTailedSGD(DW, -0.1, P)
    with pytest.raises(ValueError, match=r"Invalid alpha: 2.5; expected 0 < alpha <= 2"):
        htsgd.Stable(2.5)


def test_mean_without_exits_raises():
    et = SGD.exit_times(1.0, (0.0, math.inf), 5, 1, rng=0)
    assert not et.exited.any()  # one step of length <= b = 0.6 cannot leave (0, inf) from 1
    with pytest.raises(ValueError, match="no particle exited"):
        et.mean()
