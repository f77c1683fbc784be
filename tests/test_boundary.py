"""The typed core boundary: model objects are immutable, compare by value and pickle; the core checks the
sizes it is given; the 0.2.0 positional spellings still work, with a DeprecationWarning."""
from __future__ import annotations

import math
import pickle
from dataclasses import replace

import numpy as np
import pytest

import htsgd
from htsgd import _core
from htsgd import landscapes as L

LAWS = [htsgd.Pareto(1.5, 0.3), htsgd.Stable(1.2, 0.5), htsgd.StudentT(3.0, 0.2), htsgd.Gaussian(0.7)]
LANDSCAPES = [L.DoubleWell(), L.Polynomial([0.0, 0.0, -1.0, 0.0, 1.0]), L.CriticalPoints([-2.0, 0.0, 1.0], 2.0),
              L.Tabulated(np.linspace(-2, 2, 9), np.linspace(-2, 2, 9) ** 3 - np.linspace(-2, 2, 9)),
              L.Quadratic(np.eye(3), [1.0, 0.0, -1.0]), L.Separable(L.DoubleWell(), 2)]
DW = L.DoubleWell()


def roundtrip(obj):
    return pickle.loads(pickle.dumps(obj))


# ------------------------------------------------------------------------------------------ pickling
@pytest.mark.parametrize("obj", LAWS + LANDSCAPES, ids=repr)
def test_laws_and_landscapes_pickle_and_compare_equal(obj):
    back = roundtrip(obj)
    assert back == obj and hash(back) == hash(obj) and back is not obj
    if isinstance(obj, L.Landscape):
        x = np.array([[0.3, -0.2, 0.1][: obj.dim]]) if obj.dim > 1 else np.array([0.3, -1.7])
        np.testing.assert_array_equal(back.grad(x), obj.grad(x))
    else:
        np.testing.assert_array_equal(back.sample(100, rng=1), obj.sample(100, rng=1))


def test_unequal_models_compare_unequal():
    assert htsgd.Pareto(1.5, 0.3) != htsgd.Pareto(1.5, 0.4)
    assert L.Quadratic(np.eye(2)) != L.Quadratic(np.eye(2), [0.0, 1.0])
    assert L.DoubleWell() != L.CriticalPoints([-1.0, 0.0, 1.0])  # same function, other class
    a = htsgd.HeavyTailedSGD(DW, 0.1, LAWS[0], truncation=0.5)
    assert a != htsgd.HeavyTailedSGD(DW, 0.1, LAWS[0], truncation=0.6)
    assert a != htsgd.HeavyTailedSGD(DW, 0.1, LAWS[0], truncation=0.5, bounds=(-3.0, 3.0))


@pytest.mark.parametrize("sgd", [
    htsgd.HeavyTailedSGD(DW, 0.1, LAWS[0], truncation=0.5, bounds=(-3.0, 3.0)),
    htsgd.HeavyTailedSGD(L.Quadratic(np.eye(2)), 0.05, LAWS[3], None, bounds=([-1, -2], [1, 2]), clip="coordinate",
                         isotropic=True),
], ids=["1d", "2d"])
def test_heavy_tailed_sgd_pickles_and_gives_the_same_bits(sgd):
    back = roundtrip(sgd)
    assert back == sgd and hash(back) == hash(sgd)
    x0 = 0.5 if sgd.model.is_1d else np.zeros(2)
    a, b = sgd.run(x0, 50, 64, rng=3), back.run(x0, 50, 64, rng=3)
    assert a == b and roundtrip(a) == a


def test_results_pickle_and_compare_equal():
    sgd = htsgd.HeavyTailedSGD(DW, 0.1, htsgd.Pareto(1.5, 0.5), truncation=0.6)
    r = sgd.run(1.0, 20, 50, rng=1, record_every=5)
    et = sgd.exit_times(1.0, (0.0, math.inf), 200, 200, rng=2)
    p = sgd.exit_probability(1.0, (0.0, math.inf), 50, method="crude", n_samples=500, rng=3)  # NaN fields
    q = sgd.exit_probability(1.0, (0.0, math.inf), 50, n_samples=500, rng=4)
    m = sgd.mean_exit_time(1.0, (0.0, math.inf), method="direct", n_samples=50, rng=5)
    for res in (r, et, et.exponential_check(), p, q, m):
        assert roundtrip(res) == res
    assert math.isnan(p.branch_exit_rate)
    assert et != sgd.exit_times(1.0, (0.0, math.inf), 200, 200, rng=3)
    assert htsgd.ExitProbability is htsgd.rare_event.ExitProbability is htsgd.results.ExitProbability
    assert htsgd.MeanExitTime is htsgd.rare_event.MeanExitTime


# ------------------------------------------------------------------------------------------ immutability
PUBLIC = {
    L.Polynomial([0.0, 1.0, 2.0]): ["coefficients", "critical_points", "dim"],
    L.CriticalPoints([-1.0, 0.5, 2.0]): ["points", "scale", "critical_points", "dim"],
    L.Tabulated([0.0, 1.0, 2.0], [-1.0, 0.0, 1.0]): ["x", "g", "critical_points", "dim"],
    L.Quadratic(np.eye(3)): ["hessian", "center", "dim"],
    L.Separable(L.DoubleWell(), 2): ["component", "dim"],
}


@pytest.mark.parametrize("land", list(PUBLIC), ids=repr)
def test_landscape_attributes_cannot_be_set_and_arrays_are_read_only(land):
    x = np.zeros((2, land.dim)) + 0.25 if land.dim > 1 else np.array([0.25, 1.5])
    before = land.grad(x)
    for name in PUBLIC[land] + ["new_attribute"]:
        with pytest.raises(AttributeError, match="immutable|has no setter|can't set"):
            setattr(land, name, np.array([0.0]))
        value = getattr(land, name, None)
        if isinstance(value, np.ndarray):
            with pytest.raises(ValueError, match="read-only"):
                value[...] = 7.0
            with pytest.raises(ValueError):
                value.flags.writeable = True
    with pytest.raises(AttributeError):
        del land.dim
    np.testing.assert_array_equal(land.grad(x), before)


def test_reproducers_of_stale_attributes():
    q = L.Quadratic(np.eye(3))
    sgd = htsgd.HeavyTailedSGD(q, 0.1, htsgd.Gaussian(1.0), truncation=1.0)
    with pytest.raises(AttributeError, match="immutable"):
        q.center = np.zeros(1)
    with pytest.raises(AttributeError, match="immutable"):
        q.dim = 3
    assert sgd.run(np.zeros(3), 5, 4, rng=1).final.shape == (4, 3)
    t = L.Tabulated([0.0, 1.0, 2.0], [-1.0, 0.0, 1.0])
    with pytest.raises(AttributeError, match="immutable"):
        t.x = np.array([0.0])
    np.testing.assert_array_equal(t.grad([0.5, 3.0]), [-0.5, 2.0])


@pytest.mark.parametrize("law", LAWS, ids=repr)
def test_law_attributes_cannot_be_set(law):
    for name in ("alpha", "scale", "kind", "df", "new_attribute"):
        with pytest.raises(AttributeError):
            setattr(law, name, 3.0)
    assert law == roundtrip(law)


def test_heavy_tailed_sgd_attributes_cannot_be_set():
    sgd = htsgd.HeavyTailedSGD(DW, 0.1, htsgd.Pareto(1.5, 0.1), truncation=0.6, bounds=(-2.0, 2.0))
    ref = sgd.run(1.0, 30, 20, rng=1)
    for name in ("landscape", "lr", "noise", "truncation", "bounds", "clip", "isotropic", "model", "other"):
        with pytest.raises(AttributeError, match="immutable"):
            setattr(sgd, name, 1.0)
    for name in ("lr", "truncation", "landscape"):
        with pytest.raises(AttributeError, match="immutable"):
            setattr(sgd.model, name, 1.0)
    for arr in sgd.bounds:
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 100.0
    assert sgd.run(1.0, 30, 20, rng=1) == ref


# ------------------------------------------------------------------------------------------ core checks
def test_core_checks_the_sizes_it_is_given():
    with pytest.raises(ValueError, match="center"):
        _core.LandscapeND.quadratic(np.eye(3), np.zeros(1))
    with pytest.raises(ValueError, match="hessian"):
        _core.LandscapeND.quadratic(np.ones((2, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="x"):
        _core.Landscape1D.tabulated(np.array([0.0]), np.array([0.0]), np.array([0.0]))
    with pytest.raises(ValueError, match="size of x"):
        _core.Landscape1D.tabulated(np.arange(3.0), np.arange(2.0), np.arange(3.0))
    q = _core.LandscapeND.quadratic(np.eye(3), np.zeros(3))
    with pytest.raises(ValueError, match="shape"):
        q.grad(np.zeros((2, 2)))
    law = _core.NoiseLaw(_core.NoiseKind.pareto, 1.5, 1.0)
    with pytest.raises(ValueError, match="alpha"):
        _core.NoiseLaw(_core.NoiseKind.stable, 2.5, 1.0)
    with pytest.raises(ValueError, match="bounds"):
        _core.Model(q, law, _core.Step(0.1, 1.0, np.full(2, -np.inf), np.full(2, np.inf)))
    model = _core.Model(q, law, _core.Step(0.1, 1.0, np.full(3, -np.inf), np.full(3, np.inf)))
    with pytest.raises(ValueError, match="state"):
        _core.run(model, np.zeros((4, 2)), 3, seed=1)
    with pytest.raises(ValueError, match="domain"):
        _core.exit_times(model, np.zeros((4, 3)), np.full(1, -1.0), np.full(1, 1.0), 10, seed=1)
    with pytest.raises(ValueError, match="basin"):
        _core.run(model, np.zeros((4, 3)), 3, seed=1, basin_edges=np.zeros(20))
    one_d = _core.Model(_core.Landscape1D.polynomial(np.zeros(3), np.zeros(2)), law,
                        _core.Step(0.1, 1.0, np.full(1, -np.inf), np.full(1, np.inf)))
    with pytest.raises(ValueError, match="state"):
        _core.run(one_d, np.zeros((4, 1)), 3, seed=1)
    with pytest.raises(ValueError, match="1-D"):
        _core.rare_exit(model, _core.RareExitProblem(0.0, -1.0, 1.0, 10, 1, 0.0, 1.0, 0, True), seed=1,
                        first_sample=0, n_samples=10, tally=_core.RareExitTally())


# ------------------------------------------------------------------------------------------ vocabulary
SGD = htsgd.HeavyTailedSGD(DW, 0.1, htsgd.Pareto(1.5, 0.5), truncation=0.6)
DOM = (0.0, math.inf)


def test_run_rng_positional_is_deprecated_but_gives_the_same_result():
    new = SGD.run(1.0, 20, 10, rng=4, record_every=5, n_threads=1)
    with pytest.warns(DeprecationWarning, match="by keyword"):
        old = SGD.run(1.0, 20, 10, 4, 5, 1)
    assert old == new


def test_exit_times_rng_positional_is_deprecated_but_gives_the_same_result():
    new = SGD.exit_times(1.0, DOM, 50, 100, rng=4, n_threads=1)
    with pytest.warns(DeprecationWarning, match="by keyword"):
        old = SGD.exit_times(1.0, DOM, 50, 100, 4, 1)
    assert old == new
    with pytest.raises(TypeError, match="multiple values"):
        SGD.exit_times(1.0, DOM, 50, 100, 4, rng=5)


def test_exit_probability_and_mean_exit_time_positional_options_are_deprecated():
    new = SGD.exit_probability(1.0, DOM, 50, method="crude", n_samples=300, rng=2)
    with pytest.warns(DeprecationWarning, match="method, n_samples"):
        old = SGD.exit_probability(1.0, DOM, 50, "crude", 300, None, None, None, None, 2)
    assert new.n_exits > 0 and replace(old, seconds=new.seconds) == new  # seconds: wall time
    with pytest.warns(DeprecationWarning):
        old = htsgd.rare_event.exit_probability(SGD, 1.0, DOM, 50, "crude", 300, rng=2)
    assert replace(old, seconds=new.seconds) == new
    new = SGD.mean_exit_time(1.0, DOM, method="direct", n_samples=40, rng=3)
    with pytest.warns(DeprecationWarning, match="method, n_samples"):
        old = SGD.mean_exit_time(1.0, DOM, "direct", 40, rng=3)
    assert old.value == new.value and old.exit_times == new.exit_times
    with pytest.raises(TypeError, match="at most"):
        SGD.run(1.0, 20, 10, 4, 5, 1, 0)


def test_keyword_spellings_give_no_warning():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SGD.run(x0=1.0, n_steps=5, n_particles=3, rng=1, record_every=1, n_threads=1, first_particle=2)
        SGD.exit_times(x0=1.0, domain=DOM, n_particles=3, max_steps=10, rng=1, n_threads=1)
        SGD.exit_probability(x0=1.0, domain=DOM, horizon=20, method="crude", n_samples=10, rng=1, n_threads=1)
