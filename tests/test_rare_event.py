"""Rare exits: big-jump importance sampling of P(tau <= T) and the slope estimator of E tau.

Setting of shared/rare-event.md: double well from its minimum x = 1 out of (0, inf) (nearer boundary at
r = 1), Pareto alpha 1.5, scale 0.1, horizon T = 5/lr; b = 0.6 gives l* = 2 and b = 0.4 gives l* = 3.
Comparisons are z-tests with both standard errors at the suite's threshold (tests/stats_helpers.py; fixed
seeds: the runs are deterministic), with at least ~50 exits behind every crude estimate.
"""
import math
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy import stats

import htsgd
from htsgd import _core
from htsgd import landscapes as L
from htsgd._rng import resolve_seed
from htsgd.rare_event import MeanExitTime
import stats_helpers
from stats_helpers import assert_agree, assert_resolves, assert_z

DW = L.DoubleWell()
DOMAIN = (0.0, math.inf)
NOISE = htsgd.Pareto(1.5, 0.1)
B_FOR_L = {2: 0.6, 3: 0.4}


def sgd(lr, l_star=2, noise=NOISE, **kw):
    return htsgd.HeavyTailedSGD(DW, lr, noise, truncation=B_FOR_L[l_star], **kw)


def horizon(lr):
    return round(5 / lr)


def z_score(a, b):
    return stats_helpers.z_score(a.value, a.stderr, b.value, b.stderr)


# ------------------------------------------------------------------------- importance vs crude
# (l*, lr, crude samples, importance samples): crude gets >= ~60 exits in each case, importance sampling
# enough samples for the largest weight to stay under 5% of the sum.
CASES = [
    (2, 0.1, 100_000, 20_000),
    (2, 0.05, 200_000, 20_000),
    (3, 0.1, 1_500_000, 100_000),
    pytest.param(3, 0.05, 6_000_000, 200_000, marks=pytest.mark.slow),
]


@pytest.mark.parametrize("l_star, lr, n_crude, n_is", CASES)
def test_importance_agrees_with_crude(l_star, lr, n_crude, n_is):
    s = sgd(lr, l_star)
    T = horizon(lr)
    crude = s.exit_probability(1.0, DOMAIN, T, method="crude", n_samples=n_crude, rng=11)
    imp = s.exit_probability(1.0, DOMAIN, T, n_samples=n_is, rng=12)
    assert crude.n_exits >= 50
    assert imp.l_star == l_star and imp.side == "left"
    assert imp.max_weight <= 1 / imp.weight
    z = z_score(imp, crude)
    print(f"l*={l_star} lr={lr}: IS {imp.value:.4g} +- {imp.stderr:.2g}, crude {crude.value:.4g} +- "
          f"{crude.stderr:.2g}, z = {z:.2f}; RE/sample IS {imp.rel_error_per_sample:.3g} crude "
          f"{crude.rel_error_per_sample:.3g}")
    assert_agree(imp, crude, f"importance vs crude, l*={l_star} lr={lr}")
    # the crude side limits the power: an importance estimate off by a factor 2 fails
    assert_resolves(math.hypot(imp.stderr, crude.stderr), crude.value, "importance vs crude")
    # importance sampling is the point: far fewer samples for the same error
    assert imp.rel_error_per_sample < crude.rel_error_per_sample / 3


def test_crude_agrees_with_exit_times():
    s, T = sgd(0.1), horizon(0.1)
    n = 200_000
    crude = s.exit_probability(1.0, DOMAIN, T, method="crude", n_samples=n, rng=21)
    et = s.exit_times(1.0, DOMAIN, n, max_steps=T, rng=22)
    p_et = np.count_nonzero(et.exited) / n
    se = math.sqrt(p_et * (1 - p_et) / n)
    assert crude.n_exits >= 100
    assert_z(crude.value, crude.stderr, p_et, se, what="crude vs exit_times")
    # the crude estimator is the indicator under the plain dynamics: sd = sqrt(p(1-p))
    p = crude.value
    assert crude.stderr == pytest.approx(math.sqrt(p * (1 - p) / (n - 1)), rel=1e-9)
    assert crude.max_weight == 1.0 and math.isnan(crude.branch_exit_rate) and crude.p_big == 1.0


def _samples(s, T, seed, n, crude=True, n_threads=2, **kw):
    """Per-sample outputs of the rare-event kernel (flags, end step, position), as exit_probability runs it."""
    args = dict(l_star=1, gamma=0.0, weight=1.0, side=0)
    args.update(kw)
    problem = _core.RareExitProblem(1.0, DOMAIN[0], DOMAIN[1], T, args["l_star"], args["gamma"], args["weight"],
                                    args["side"], crude)
    r = _core._testing.rare_exit_samples(s.model.core, problem, seed=resolve_seed(seed).key, first_sample=0,
                                         n_samples=n, n_threads=n_threads)
    return {k: getattr(r, k) for k in ("y", "flags", "steps", "position")}


@pytest.mark.parametrize("noise", [htsgd.Pareto(1.5, 0.5), htsgd.Pareto(1.5, 0.1), htsgd.Stable(1.5, 0.3)])
def test_crude_samples_are_exit_times_particles_bit_for_bit(noise):
    # Crude sample i runs the plain dynamics on the Dynamics stream at (i, k, slot 0) with the engine's
    # kernels (Pareto: SIMD lanes; other laws: scalar path), i.e. it is particle i of exit_times: same exit
    # indicator, same exit step (horizon if censored), same position to the last bit.
    s = htsgd.HeavyTailedSGD(DW, 0.1, noise, truncation=0.6)
    T, n = horizon(0.1), 20_000
    r = _samples(s, T, 23, n)
    et = s.exit_times(1.0, DOMAIN, n, max_steps=T, rng=23)
    exited = (r["flags"] & 1).astype(bool)
    assert exited.any() and not (r["flags"] & 6).any()
    np.testing.assert_array_equal(exited, et.exited)
    np.testing.assert_array_equal(r["steps"], et.steps)
    position = np.ascontiguousarray(et.position).reshape(-1)
    np.testing.assert_array_equal(r["position"].view(np.uint64), position.view(np.uint64))
    # and the tally of exit_probability is made of these samples
    crude = s.exit_probability(1.0, DOMAIN, T, method="crude", n_samples=n, rng=23)
    assert crude.n_exits == np.count_nonzero(exited)


_RARE_ISA_SCRIPT = """
import hashlib, math, htsgd
from htsgd import _core, landscapes as L
from htsgd._rng import resolve_seed
s = htsgd.HeavyTailedSGD(L.DoubleWell(), 0.1, htsgd.Pareto(1.5, 0.1), truncation=0.6)
h = hashlib.sha256()
for crude, side in ((False, -1), (False, 0), (True, 0)):
    problem = _core.RareExitProblem(1.0, 0.0, math.inf, 50, 2, 0.3, 0.1, side, crude)
    r = _core._testing.rare_exit_samples(s.model.core, problem, seed=resolve_seed(7).key, first_sample=0,
                                         n_samples=3000, n_threads=2)
    for k in ("y", "flags", "steps", "position"):
        h.update(getattr(r, k).tobytes())
print(_core.active_isa(), h.hexdigest())
"""


def test_rare_event_lanes_same_bits_for_every_instruction_set():
    outs = set()
    for isa in ("baseline", "avx2", "avx512"):
        env = dict(os.environ, HTSGD_ISA=isa)
        res = subprocess.run([sys.executable, "-c", _RARE_ISA_SCRIPT], env=env, capture_output=True, text=True,
                             check=True)
        outs.add(res.stdout.split()[1])
    assert len(outs) == 1


@pytest.mark.parametrize("crude, side, domain", [(False, -1, DOMAIN), (False, 0, (0.0, 2.0)), (False, 1, (0.0, 2.0)),
                                                  (True, 0, (0.0, 2.0))])
def test_rare_event_lanes_equal_the_scalar_path(crude, side, domain):
    # The SIMD lanes (one Philox block per two steps, lanes refilled at odd steps only, big positions tested
    # as lane vectors) compute the samples of the scalar path rare_exit_sample to the last bit, for any
    # thread count; an odd horizon ends samples at an odd step.
    s = sgd(0.1, noise=htsgd.Pareto(1.5, 0.5) if crude else NOISE)  # b = 0.6: l* = 2 on either side
    problem = _core.RareExitProblem(1.0, domain[0], domain[1], 51, 2, 0.3, 0.1, side, crude)

    def run(**kw):
        r = _core._testing.rare_exit_samples(s.model.core, problem, seed=resolve_seed(17).key, first_sample=5,
                                             n_samples=10_000, **kw)
        return {k: np.asarray(getattr(r, k)) for k in ("y", "flags", "steps", "position")}

    ref = run(n_threads=1, scalar_reference=True)
    assert np.count_nonzero(ref["flags"] & 1) >= 50  # exits, with their weights and exit steps, are compared
    assert (ref["steps"] < 51).any() and (ref["steps"] == 51).any()
    if not crude:
        assert np.count_nonzero((ref["flags"] & 3) == 3) >= 50  # exits in the conditioned branch
    for n_threads in (1, 2, 3):
        lanes = run(n_threads=n_threads)
        for k in ("y", "position"):
            np.testing.assert_array_equal(lanes[k].view(np.uint64), ref[k].view(np.uint64))
        np.testing.assert_array_equal(lanes["flags"], ref["flags"])
        np.testing.assert_array_equal(lanes["steps"], ref["steps"])


def test_relative_error_stays_bounded_as_lr_shrinks():
    # l* = 2, default gamma = 0.3 < r - (l* - 1) b = 0.4: the bounded-relative-error regime.
    coarse = sgd(0.05).exit_probability(1.0, DOMAIN, horizon(0.05), n_samples=40_000, rng=31)
    fine = sgd(0.001).exit_probability(1.0, DOMAIN, horizon(0.001), n_samples=8_000, rng=32)
    print(f"RE per sample: lr 0.05 {coarse.rel_error_per_sample:.3g} (p {coarse.value:.3g}), lr 0.001 "
          f"{fine.rel_error_per_sample:.3g} (p {fine.value:.3g})")
    assert fine.value < coarse.value / 30
    assert fine.rel_error_per_sample <= 1.5 * coarse.rel_error_per_sample


def test_slope_estimator_agrees_with_direct_simulation():
    s = sgd(0.1)
    direct = s.mean_exit_time(1.0, DOMAIN, method="direct", n_samples=1000, rng=41)
    imp = s.mean_exit_time(1.0, DOMAIN, method="importance", target_rel_error=0.03, rng=42)
    assert isinstance(imp, MeanExitTime) and imp.method == "importance" and direct.method == "direct"
    assert imp.horizons == (50, 200) and imp.rel_error <= 0.03
    z = z_score(imp, direct)
    print(f"E tau: slope {imp.value:.5g} +- {imp.stderr:.2g}, direct {direct.value:.5g} +- {direct.stderr:.2g}, "
          f"z = {z:.2f}")
    assert_agree(imp, direct, "slope estimator vs direct")
    assert_resolves(math.hypot(imp.stderr, direct.stderr), 0.25 * direct.value, "slope estimator vs direct")


def test_mean_exit_time_auto_picks_direct_when_affordable():
    r = sgd(0.1).mean_exit_time(1.0, DOMAIN, n_samples=200, rng=43)
    assert r.method == "direct" and r.exit_times is not None and r.n_samples == 200


@pytest.mark.slow
def test_slope_estimator_l3_agrees_with_direct_simulation():
    s = sgd(0.1, 3)
    direct = s.mean_exit_time(1.0, DOMAIN, method="direct", n_samples=600, rng=44)
    imp = s.mean_exit_time(1.0, DOMAIN, method="importance", target_rel_error=0.04, rng=45)
    assert_agree(imp, direct, "slope estimator vs direct, l* = 3")


# ------------------------------------------------------------------------------- exactness
def test_bit_identical_for_any_thread_count_and_batch_schedule():
    s, T = sgd(0.1), horizon(0.1)
    a = s.exit_probability(1.0, DOMAIN, T, n_samples=6000, rng=51, n_threads=1)
    b = s.exit_probability(1.0, DOMAIN, T, n_samples=6000, rng=51, n_threads=2)
    c = s.exit_probability(1.0, DOMAIN, T, n_samples=6000, rng=51, n_threads=3)
    assert (a.value, a.stderr, a.max_weight) == (b.value, b.stderr, b.max_weight) == (c.value, c.stderr, c.max_weight)
    batched = s.exit_probability(1.0, DOMAIN, T, target_rel_error=0.05, rng=52)
    assert batched.target_reached and batched.rel_error <= 0.05 and batched.n_samples > 1000
    one_shot = s.exit_probability(1.0, DOMAIN, T, n_samples=batched.n_samples, rng=52)
    assert (batched.value, batched.stderr) == (one_shot.value, one_shot.stderr)
    again = s.exit_probability(1.0, DOMAIN, T, n_samples=6000,
                               rng=np.random.SeedSequence(a.seed_entropy, spawn_key=a.seed_spawn_key))
    assert again.value == a.value


def test_result_fields_and_diagnostics():
    r = sgd(0.1).exit_probability(1.0, DOMAIN, 50, n_samples=5000, rng=61)
    assert isinstance(r, htsgd.ExitProbability)
    assert r.method == "importance" and r.l_star == 2 and r.side == "left"
    assert r.gamma == pytest.approx(0.3) and r.weight == 0.1  # min(b/2, r - (l* - 1) b) = min(0.3, 0.4)
    pe = 0.5 * (1 + 0.3 / (0.1 * 0.1)) ** -1.5
    assert r.p_big == pytest.approx(stats.binom.sf(1, 50, pe), rel=1e-10)
    assert 0 < r.branch_exit_rate < 1 and 0 < r.max_weight_share < 0.05 and r.max_weight <= 10
    assert r.rel_error == pytest.approx(r.stderr / r.value)
    assert r.rel_error_per_sample == pytest.approx(r.rel_error * math.sqrt(5000))
    assert r.samples_for(0.1) == math.ceil((r.rel_error_per_sample / 0.1) ** 2)
    assert r.estimate == (r.value, r.stderr) and "importance" in str(r) and r.seconds > 0


def test_side_defaults_and_two_sided():
    # the basin (0, 2) of the minimum 1 is symmetric: both ends need l* = 2, so the default is two-sided
    land = L.CriticalPoints([-1.0, 0.0, 1.0, 2.0, 3.0])  # minima -1, 1, 3; maxima 0, 2
    s = htsgd.HeavyTailedSGD(land, 0.1, NOISE, truncation=0.6)
    both = s.exit_probability(1.0, (0.0, 2.0), 50, n_samples=50_000, rng=71)
    assert both.side == "both" and both.l_star == 2
    crude = s.exit_probability(1.0, (0.0, 2.0), 50, method="crude", n_samples=300_000, rng=73)
    assert crude.n_exits >= 100
    assert_agree(both, crude, "two-sided importance vs crude")
    # an asymmetric basin: the nearer end needs fewer jumps and is the default side
    s = htsgd.HeavyTailedSGD(L.CriticalPoints([-1.0, 0.0, 1.0, 2.5, 4.0]), 0.1, NOISE, truncation=0.6)
    near = s.exit_probability(1.0, (0.0, 2.5), 50, n_samples=20_000, rng=74)
    assert near.side == "left" and near.l_star == 2 and near.gamma == pytest.approx(0.3)
    with warnings.catch_warnings():  # the wrong side: the left exits only come from the defensive branch
        warnings.simplefilter("ignore", RuntimeWarning)
        right = s.exit_probability(1.0, (0.0, 2.5), 50, side="right", n_samples=2000, rng=75)
    assert right.side == "right" and right.l_star == 3 and right.gamma == pytest.approx(0.3)


def test_binomial_tables_against_scipy():
    pe, T = 3e-4, 400
    tab = _core._testing.binomial_tail_table(pe, 3, T)
    n = np.arange(T + 1)
    for m in range(4):
        ref = stats.binom.sf(m - 1, n, pe) if m else np.ones(T + 1)
        np.testing.assert_allclose(tab[m], ref, rtol=1e-10, atol=1e-300)
    cdf = np.asarray(_core._testing.conditioned_count_cdf(pe, 3, T))
    k = 3 + np.arange(cdf.size)
    ref = np.cumsum(stats.binom.pmf(k, T, pe)) / stats.binom.sf(2, T, pe)
    np.testing.assert_allclose(cdf, ref, rtol=1e-9)
    assert cdf[-1] == 1.0
    tiny = _core._testing.binomial_tail_table(1e-12, 3, 5000)[3, 5000]
    assert tiny == pytest.approx(stats.binom.sf(2, 5000, 1e-12), rel=1e-9)


@pytest.mark.parametrize("side", [-1, 0, 1])
def test_conditioned_pareto_samplers_are_exact_inverse_transforms(side):
    alpha, scale, t = 1.5, 0.1, 3.0
    pg = (1 + t / scale) ** -alpha
    v = (np.arange(2000) + 0.5) / 2000
    big = np.asarray(_core._testing.pareto_conditioned(alpha, scale, t, side, v, True))
    small = np.asarray(_core._testing.pareto_conditioned(alpha, scale, t, side, v, False))
    H = NOISE.tail
    assert np.all(np.abs(big) > t)
    if side:
        assert np.all(side * big > 0) and np.all(side * small <= t)
        np.testing.assert_allclose(H(np.abs(big)), pg * v, rtol=1e-12)  # |Z| | big: tail = pg * V
        # oriented cdf of the symmetric law restricted to y <= t, at u = V (1 - pg/2)
        y = side * small
        cdf = np.where(y < 0, H(np.abs(y)) / 2, 1 - H(np.abs(y)) / 2)
        np.testing.assert_allclose(cdf, v * (1 - pg / 2), rtol=1e-12)
    else:
        assert np.all(np.abs(small) <= t)
        cdf = np.where(small < 0, H(np.abs(small)) / 2, 1 - H(np.abs(small)) / 2)
        np.testing.assert_allclose(cdf, pg / 2 + v * (1 - pg), rtol=1e-12)
        assert np.count_nonzero(big > 0) == np.count_nonzero(big < 0)


def test_crude_takes_any_law():
    s = htsgd.HeavyTailedSGD(DW, 0.1, htsgd.Stable(1.5, 0.1), truncation=0.6)
    r = s.exit_probability(1.0, DOMAIN, 50, method="crude", n_samples=2000, rng=81)
    assert r.method == "crude" and 0 <= r.value < 0.05


def test_share_warning_when_gamma_too_large():
    s = sgd(0.1, 3)
    with pytest.warns(RuntimeWarning, match="largest weight"):
        s.exit_probability(1.0, DOMAIN, 50, gamma=0.39, n_samples=2000, rng=91)


def test_target_not_reached_warns():
    with pytest.warns(RuntimeWarning, match="target_rel_error=0.001 not reached"):
        r = sgd(0.1).exit_probability(1.0, DOMAIN, 50, target_rel_error=0.001, n_samples=3000, rng=92)
    assert r.n_samples == 3000 and r.target_reached is False


# ------------------------------------------------------------------------------ validation
S = sgd(0.1)


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"gamma": 0.7}, ValueError, r"Invalid gamma: 0.7; expected 0 < gamma < b = 0.6"),
    ({"gamma": 0.0}, ValueError, r"Invalid gamma: 0.0; expected 0 < gamma < b"),
    ({"gamma": math.nan}, ValueError, r"Invalid gamma: nan"),
    ({"gamma": "0.1"}, TypeError, r"Invalid gamma: expected a real number"),
    ({"weight": 1.0}, ValueError, r"Invalid weight: 1.0; expected 0 < weight < 1"),
    ({"weight": 0}, ValueError, r"Invalid weight: 0; expected 0 < weight < 1"),
    ({"horizon": 0}, ValueError, r"Invalid horizon: 0; expected an integer >= 1"),
    ({"horizon": 1}, ValueError, r"Invalid horizon: 1; expected horizon >= l\* = 2"),
    ({"horizon": 10**8}, ValueError, r"Invalid horizon: 100000000; expected \(l\* \+ 1\)"),
    ({"horizon": 5.0}, TypeError, r"Invalid horizon: expected an integer"),
    ({"method": "mcmc"}, ValueError, r"Invalid method: 'mcmc'; expected one of 'importance', 'crude'"),
    ({"method": "crude", "gamma": 0.1}, ValueError, r"Invalid gamma: 0.1; method='crude' takes no gamma"),
    ({"method": "crude", "weight": 0.5}, ValueError, r"Invalid weight: 0.5; method='crude' takes no weight"),
    ({"n_samples": 1}, ValueError, r"Invalid n_samples: 1; expected an integer >= 2"),
    ({"n_samples": 2**32 + 1}, ValueError, r"Invalid n_samples"),
    ({"target_rel_error": 0.0}, ValueError, r"Invalid target_rel_error: 0.0; expected 0 < target_rel_error < 1"),
    ({"target_rel_error": 1.5}, ValueError, r"Invalid target_rel_error"),
    ({"side": "up"}, ValueError, r"Invalid side: 'up'; expected one of 'left', 'right', 'both'"),
    ({"side": "right"}, ValueError, r"Invalid side: 'right'; the domain's right end is infinite"),
    ({"side": 1}, TypeError, r"Invalid side"),
    ({"x0": 0.0}, ValueError, r"Invalid x0: 0.0; expected a point strictly inside domain"),
    ({"x0": math.nan}, ValueError, r"Invalid x0: nan; expected a finite number"),
    ({"x0": [1.0]}, TypeError, r"Invalid x0: expected a real number"),
    ({"domain": (-math.inf, 3.0)}, ValueError, r"Invalid domain: .* holds 2 minima"),
    ({"domain": (0.0,)}, TypeError, r"Invalid domain: expected a pair"),
    ({"domain": (2.0, 1.0)}, ValueError, r"Invalid domain: .*expected lo < hi"),
    ({"domain": (0.5, 0.9), "x0": 0.7}, ValueError, r"Invalid domain: .*expected the basin of one minimum"),
    ({"rng": -1}, ValueError, r"Invalid rng"),
    ({"n_threads": 0}, ValueError, r"Invalid n_threads: 0"),
])
def test_exit_probability_validation(kwargs, exc, match):
    args = {"x0": 1.0, "domain": DOMAIN, "horizon": 50}
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        S.exit_probability(**args)


def test_validation_of_the_model():
    with pytest.raises(NotImplementedError, match="needs Pareto noise"):
        htsgd.HeavyTailedSGD(DW, 0.1, htsgd.StudentT(3.0, 0.1), truncation=0.6).exit_probability(1.0, DOMAIN, 50)
    sep = L.Separable(DW, 2)
    with pytest.raises(NotImplementedError, match="1-D landscapes only"):
        htsgd.HeavyTailedSGD(sep, 0.1, NOISE, truncation=0.6).exit_probability([1.0, 1.0], DOMAIN, 50)
    with pytest.raises(ValueError, match="Invalid truncation: 0.5; expected the distance 1.0"):
        htsgd.HeavyTailedSGD(DW, 0.1, NOISE, truncation=0.5).exit_probability(1.0, DOMAIN, 50)
    with pytest.raises(ValueError, match="Invalid domain: .*at least one finite end"):
        htsgd.HeavyTailedSGD(L.Polynomial([0.0, 0.0, 1.0]), 0.1, NOISE, 0.6).exit_probability(
            0.0, (-math.inf, math.inf), 50)
    bounded = sgd(0.1, bounds=(0.5, 3.0))
    with pytest.raises(ValueError, match="Invalid x0: 0.2; expected a point inside bounds"):
        bounded.exit_probability(0.2, DOMAIN, 50)


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"method": "slope"}, ValueError, r"Invalid method: 'slope'; expected one of 'auto', 'direct', 'importance'"),
    ({"horizons": (200, 50)}, ValueError, r"Invalid horizons: \(200, 50\); expected T1 < T2"),
    ({"horizons": 50}, TypeError, r"Invalid horizons: expected a pair"),
    ({"horizons": (0, 50)}, ValueError, r"Invalid horizons\[0\]: 0"),
    ({"max_steps": 0}, ValueError, r"Invalid max_steps: 0"),
    ({"method": "direct", "gamma": 0.2}, ValueError, r"Invalid gamma: 0.2; method='direct' takes no gamma"),
    ({"method": "direct", "horizons": (5, 10)}, ValueError, r"method='direct' takes no horizons"),
    ({"method": "importance", "gamma": 0.9}, ValueError, r"Invalid gamma: 0.9; expected 0 < gamma < b = 0.6"),
    ({"target_rel_error": -0.1}, ValueError, r"Invalid target_rel_error"),
])
def test_mean_exit_time_validation(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        S.mean_exit_time(1.0, DOMAIN, **kwargs)


# --------------------------------------------------------------------------- reproduce command
def test_reproduce_rare_exits_quick(tmp_path, capsys, monkeypatch):
    import argparse
    import json

    from htsgd import cli
    from htsgd.reproduce import rare_exits

    args = cli.build_parser().parse_args(["reproduce", "rare-exits", "--quick", "--seed", "3", "--out", "x"])
    assert args.quick and args._module is rare_exits
    monkeypatch.setattr(rare_exits, "LRS_QUICK", (0.1, 0.05))
    parser = argparse.ArgumentParser()
    rare_exits.add_arguments(parser)
    assert rare_exits.main(parser.parse_args(["--quick", "--out", str(tmp_path), "--no-progress"])) == 0
    assert "importance sampling (IS) vs crude" in capsys.readouterr().out
    for name in ("rare_exits.png", "rare_exits.csv", "rare_exits.json"):
        assert (tmp_path / name).stat().st_size > 0
    rows = json.loads((tmp_path / "rare_exits.json").read_text())["rows"]
    assert len(rows) == 4
    compared = [r for r in rows if r["crude_exits"] > 0]
    assert len(compared) >= 2 and all(abs(r["z"]) <= 3 for r in compared)


def test_unreachable_horizon_is_rejected():
    # from x0 = 1, with b = 0.6, leaving (0, inf) takes at least 2 steps: p = 0 exactly for horizon 1
    sgd = htsgd.HeavyTailedSGD(htsgd.landscapes.DoubleWell(), 0.1, htsgd.Pareto(1.5, 0.1), truncation=0.6)
    with pytest.raises(ValueError, match="Invalid horizon: 1; steps are at most b"):
        sgd.exit_probability(1.0, (0.0, math.inf), 1, method="crude", target_rel_error=0.1)
