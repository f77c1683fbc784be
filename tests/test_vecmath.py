"""The vectorised log2/exp2m1 kernels (cpp/include/htsgd/vecmath.hpp) behind the Pareto sampler.

The Pareto variate is ``Z = S * scale * exp2m1(-log2(U) / alpha)`` (= ``S * scale * (U^(-1/alpha) - 1)``); the
engine computes log2 and exp2m1 with its own branch-free table-driven kernels (documented relative error
< 4e-16 each on this domain). Here the uniforms U of
``fill_noise`` are rebuilt from the Philox blocks (numpy reimplementation, checked against the engine's
known-answer entry point), the exact transform is evaluated in extended precision, and:
  * the relative error of every variate stays within the budget of two ~1-ulp kernels, amplified by
    the conditioning ``t = -log(U)/alpha`` of exp (the same bound libm would give), and far below 1e-12;
  * the sampled tail ``P(|Z| > x)`` matches the exact ``(1 + x/scale)^-alpha`` within binomial error;
  * the run / exit-time kernels give the same bits whatever SIMD instruction set is dispatched.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from htsgd import _core

from philox_reference import half_block_uniforms, philox
from stats_helpers import assert_tail


def sampling_uniforms(seed: int, n: int):
    """U and sign bit of variate i of fill_noise(seed, counter=0) for Pareto, a half-block law (streams.hpp):
    U from the variate's word pair and the sign from bit 0 of its low word."""
    hi, lo, _, _ = half_block_uniforms(seed, n)
    bits = ((hi << np.uint64(32)) | lo) >> np.uint64(12)
    u = (bits.astype(np.float64) + 0.5) * 2.0**-52
    return u, (lo & np.uint64(1)).astype(bool)


def test_numpy_philox_matches_engine():
    for ctr, key in (([0, 0, 0, 0], [0, 0]), ([1, 2, 3, 4], [5, 6]), ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2)):
        ours = philox(*[[c] for c in ctr], *key)
        assert [int(w[0]) for w in ours] == list(_core._testing.philox4x32(ctr, key))


@pytest.mark.parametrize("alpha", [0.3, 1.0, 1.5, 2.0, 7.0])
def test_pareto_transform_relative_error(alpha):
    n, seed, scale = 2_000_000, 0x1234_5678_9ABC, 1.0
    out = np.empty(n)
    _core.fill_noise(out, "pareto", alpha, scale, seed, 0)
    u, neg = sampling_uniforms(seed, n)
    assert np.array_equal(np.signbit(out), neg)
    t = -np.log(u.astype(np.longdouble)) / np.longdouble(alpha)
    exact = np.longdouble(scale) * np.expm1(t)
    rel = np.abs((np.abs(out).astype(np.longdouble) - exact) / exact).astype(np.float64)
    eps = 2.0**-52
    # log2: < 2 ulps of log2(U), which exp turns into ~t ulps (t = -log(U)/alpha); exp2m1: < 2 ulps; roundings of
    # the products: 2 ulps.
    bound = (4.0 + 2.0 * t.astype(np.float64)) * eps
    assert np.all(rel <= bound), (rel.max(), float(bound[np.argmax(rel / bound)]))
    assert rel.max() < 1e-12
    # and no worse than numpy's own libm evaluation of the same formula, by more than 1 ulp-equivalent
    libm = scale * np.expm1(-np.log(u) / alpha)
    rel_libm = np.abs((libm.astype(np.longdouble) - exact) / exact).astype(np.float64)
    assert rel.max() <= rel_libm.max() + 2 * eps * (1.0 + float(t.max()))


def test_pareto_transform_extremes():
    # U at the ends of the open interval: 2^-53 and 1 - 2^-53 (the smallest and largest variates).
    for alpha in (0.02, 0.5, 1.5):
        out = np.empty(4_000_000)
        _core.fill_noise(out, "pareto", alpha, 1.0, 7, 0)
        assert np.all(np.isfinite(out) | (alpha < 0.05))  # alpha 0.02 may overflow to inf: U^-50 > 1e308
        assert not np.any(np.isnan(out))
        assert np.all(np.abs(out) > 0)


def _tail_check(n: int, alpha: float, scale: float, seed: int):
    out = np.empty(n)
    _core.fill_noise(out, "pareto", alpha, scale, seed, 0)
    for x in scale * np.array([0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]):
        assert_tail(out, x, (1.0 + x / scale) ** -alpha, what=f"Pareto({alpha}, {scale})")


def test_pareto_tail_1e7():
    _tail_check(10_000_000, 1.5, 0.2, 2024)


@pytest.mark.slow
def test_pareto_tail_1e8():
    _tail_check(100_000_000, 1.5, 1.0, 99)


_ISA_SCRIPT = r"""
import numpy as np, htsgd
from htsgd.landscapes import DoubleWell
sgd = htsgd.HeavyTailedSGD(DoubleWell(), lr=0.05, noise=htsgd.Pareto(1.5, 0.2), truncation=0.6)
r = sgd.run(np.linspace(-1.5, 1.5, 203), 300, rng=5, n_threads=2)
e = sgd.exit_times(1.0, (0.0, np.inf), n_particles=37, max_steps=10**7, rng=5, n_threads=2)
print(r.final.tobytes().hex(), r.occupancy.tobytes().hex(), e.steps.tobytes().hex(), e.position.tobytes().hex())
"""


def test_same_bits_for_every_instruction_set():
    outs = set()
    for isa in ("baseline", "avx2", "avx512"):
        env = dict(os.environ, HTSGD_ISA=isa)
        res = subprocess.run([sys.executable, "-c", _ISA_SCRIPT], env=env, capture_output=True, text=True, check=True)
        outs.add(res.stdout)
    assert len(outs) == 1
