"""The SIMD transforms of every noise law (cpp/include/htsgd/lanes.hpp) against their scalar samplers
(noise.hpp) and against the exact formulas evaluated in extended precision.

* ``fill_noise`` (SIMD lanes, any ISA) equals ``fill_noise_reference`` (one scalar ``draw`` per variate) bit
  for bit, for every law and instruction set;
* each transform's relative error stays within a few ulps of its conditioning, far below 1e-12: the
  uniforms are rebuilt from the Philox blocks (tests/philox_reference.py) and the law's formula is evaluated
  in numpy's long double;
* half-block laws (Pareto, Gaussian) serve two consecutive variates from one block: those are uncorrelated
  within CLT bands.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from htsgd import _core
from philox_reference import half_block_uniforms, sampling_blocks, u01_open
from stats_helpers import assert_frequency, assert_z

EPS = 2.0**-52
LD_PI = np.arccos(np.longdouble(-1.0))
LAWS = [("pareto", 1.5), ("pareto", 0.3), ("gaussian", 2.0), ("student_t", 1.5), ("student_t", 0.4),
        ("student_t", 30.0), ("stable", 1.5), ("stable", 1.0), ("stable", 0.6), ("stable", 2.0)]

_ISA_SCRIPT = r"""
import hashlib, numpy as np
from htsgd import _core
for law, alpha in {laws!r}:
    lanes, ref = np.empty(50_003), np.empty(50_003)
    _core.fill_noise(lanes, law, alpha, 0.7, 123, 4, 2)
    _core._testing.fill_noise_reference(ref, _core.NoiseLaw.from_name(law, alpha, 0.7), 123, 4)
    print(law, alpha, lanes.tobytes() == ref.tobytes(), hashlib.sha256(lanes.tobytes()).hexdigest())
"""


def test_lanes_equal_the_scalar_samplers_for_every_law_and_instruction_set():
    outs = {}
    for isa in ("baseline", "avx2", "avx512"):
        env = dict(os.environ, HTSGD_ISA=isa)
        res = subprocess.run([sys.executable, "-c", _ISA_SCRIPT.format(laws=LAWS)], env=env, capture_output=True,
                             text=True, check=True)
        lines = res.stdout.split("\n")[: len(LAWS)]
        assert all(line.split()[2] == "True" for line in lines), (isa, res.stdout)
        outs[isa] = res.stdout
    assert len(set(outs.values())) == 1


def test_exp_kernel_accuracy():
    # documented: relative error < 4e-16 for normal results; 0 below -746, inf above 709.78
    t = np.concatenate([np.linspace(-708.0, 709.7, 1_000_001), np.random.default_rng(1).uniform(-1, 1, 10**6)])
    e = _core._testing.eval_kernel("exp", t)
    exact = np.exp(t.astype(np.longdouble))
    rel = np.abs((e - exact) / exact).astype(np.float64)
    assert rel.max() < 4e-16, rel.max()
    assert np.all(_core._testing.eval_kernel("exp", np.array([-800.0, 710.0, 800.0])) == [0.0, np.inf, np.inf])
    assert np.isnan(_core._testing.eval_kernel("exp", np.array([np.nan]))[0])


def test_log2_kernel_accuracy():
    # documented: relative error < 4e-16 on (0, 1) (the uniforms of the Pareto transform), < 7e-16 above 1;
    # exact 0 at 1 and relatively accurate next to it (the table interval around 1 has centre 1)
    rng = np.random.default_rng(3)
    u = (rng.integers(0, 2**52, 3_000_000, dtype=np.uint64).astype(np.float64) + 0.5) * 2.0**-52
    near1 = 1.0 - rng.uniform(0, 1, 10**5) * 2.0 ** -rng.integers(1, 53, 10**5)
    tiny = rng.uniform(1, 2, 10**5) * 2.0 ** -rng.integers(53, 1000, 10**5)
    above = np.concatenate([rng.uniform(1.0, 1.5, 10**6), rng.uniform(1, 2, 10**5) * 2.0 ** rng.integers(0, 1000, 10**5)])
    for x, bound in ((np.concatenate([u, near1[near1 != 1.0], tiny]), 4e-16), (above[above != 1.0], 7e-16)):
        exact = np.log2(x.astype(np.longdouble))
        rel = np.abs((_core._testing.eval_kernel("log2", x) - exact) / exact).astype(np.float64)
        assert rel.max() < bound, (rel.max(), x[np.argmax(rel)])
    assert _core._testing.eval_kernel("log2", np.array([1.0]))[0] == 0.0
    assert np.array_equal(_core._testing.eval_kernel("log2", 2.0 ** np.arange(-60.0, 60.0)), np.arange(-60.0, 60.0))


def test_exp2m1_kernel_accuracy():
    # documented for 0 <= y: relative error < 3.5e-16, full relative accuracy for tiny y; +inf above
    # 1023.96875 - 2^-30 (results above 1.774e308); NaN passes through
    rng = np.random.default_rng(4)
    y = np.concatenate([rng.uniform(0, 60, 2_000_000), rng.uniform(0, 1023.9, 10**6),
                        rng.uniform(0, 1, 10**5) * 2.0 ** -rng.integers(0, 200, 10**5), np.arange(0, 64) / 16])
    y = y[y > 0]
    exact = np.expm1(y.astype(np.longdouble) * np.log(np.longdouble(2)))
    rel = np.abs((_core._testing.eval_kernel("exp2m1", y) - exact) / exact).astype(np.float64)
    assert rel.max() < 3.5e-16, (rel.max(), y[np.argmax(rel)])
    edge = 1023.96875 - 2.0**-30
    got = _core._testing.eval_kernel("exp2m1", np.array([0.0, edge, np.nextafter(edge, 2000), 1024.0, 1e300, np.nan]))
    assert got[0] == 0.0 and 1.7e308 < got[1] < np.inf and np.all(got[2:5] == np.inf) and np.isnan(got[5])


def test_sincospi_kernel_accuracy():
    # documented for |a| <= 4: absolute error < 2.5e-16, relative < 4e-16 away from the zeros; exact at
    # multiples of 1/2 and relatively accurate for tiny a (the reduction 2a = n + f is exact)
    rng = np.random.default_rng(2)
    a = np.concatenate([rng.uniform(-4, 4, 2_000_000), rng.uniform(-1, 1, 10**5) * 2.0 ** -rng.integers(0, 60, 10**5),
                        np.arange(-8, 9) / 2])
    x = LD_PI * a.astype(np.longdouble)
    for name, exact in (("sinpi", np.sin(x)), ("cospi", np.cos(x))):
        got = _core._testing.eval_kernel(name, a)
        err = np.abs(got - exact).astype(np.float64)
        assert err.max() < 2.5e-16, (name, err.max())
        away = np.abs(exact) > 0.01
        assert np.max(err[away] / np.abs(exact[away]).astype(np.float64)) < 4e-16, name
    half_integers = np.arange(-8, 9) / 2
    assert np.array_equal(_core._testing.eval_kernel("sinpi", half_integers), np.sin(np.pi * half_integers).round())
    tiny = 2.0 ** -np.arange(10, 60)
    rel = np.abs(_core._testing.eval_kernel("sinpi", tiny) / np.sin(LD_PI * tiny) - 1).astype(np.float64)
    assert rel.max() < 4e-16


def _fill(law: str, alpha: float, scale: float, seed: int, n: int) -> np.ndarray:
    out = np.empty(n)
    _core.fill_noise(out, law, alpha, scale, seed, 0)
    return out


def test_gaussian_box_muller_accuracy():
    n, seed, scale = 1_000_000, 77, 1.3
    z = _fill("gaussian", 2.0, scale, seed, n)
    _, _, (b0, b1, b2, b3), odd = half_block_uniforms(seed, n)
    u, v = u01_open(b0, b1).astype(np.longdouble), u01_open(b2, b3).astype(np.longdouble)
    r = np.longdouble(scale) * np.sqrt(-2 * np.log(u))
    exact = np.where(odd, r * np.cos(2 * LD_PI * v), r * np.sin(2 * LD_PI * v))
    err = np.abs(z.astype(np.longdouble) - exact).astype(np.float64)
    # log ~1 ulp (x2 through sqrt: 1/2), sqrt and products ~1 ulp each, sin/cos < 2.5e-16 absolute
    assert np.all(err <= 6 * EPS * r.astype(np.float64))
    away_from_zeros = np.abs(exact) > 0.1 * r
    assert np.max(err[away_from_zeros] / np.abs(exact[away_from_zeros]).astype(np.float64)) < 1e-15


@pytest.mark.parametrize("alpha", [1.5, 1.0, 0.6, 1.9, 2.0])
def test_stable_cms_accuracy(alpha):
    n, seed, scale = 400_000, 78, 0.9
    z = _fill("stable", alpha, scale, seed, n)
    b0, b1, b2, b3 = sampling_blocks(seed, np.arange(n, dtype=np.uint64) + np.uint64(1))
    a = u01_open(b0, b1) - 0.5
    # the library evaluates sin(pi * fl(alpha a)) and cos(pi * fl((1 - alpha) a)): same rounded arguments here
    ta, tr = (alpha * a).astype(np.longdouble), ((1.0 - alpha) * a).astype(np.longdouble)
    a, w = a.astype(np.longdouble), -np.log(u01_open(b2, b3).astype(np.longdouble))
    al = np.longdouble(alpha)
    expo = -np.log(np.cos(LD_PI * a)) / al + (1 - al) / al * np.log(np.cos(LD_PI * tr) / w)
    exact = np.longdouble(scale) * np.sin(LD_PI * ta) * np.exp(expo)
    rel = np.abs((z.astype(np.longdouble) - exact) / exact).astype(np.float64)
    # each kernel ~1-2 ulp; exp turns the absolute error of its argument into relative error
    bound = (16.0 + 4.0 * np.abs(expo).astype(np.float64)) * EPS
    assert np.all(rel <= bound), (rel.max(), float(bound[np.argmax(rel / bound)]))
    assert rel.max() < 1e-13


@pytest.mark.parametrize("df", [1.5, 0.4, 30.0])
def test_student_t_polar_accuracy(df):
    n, seed, scale = 400_000, 79, 0.8
    z = _fill("student_t", df, scale, seed, n)
    b0, b1, b2, b3 = sampling_blocks(seed, np.arange(n, dtype=np.uint64) + np.uint64(1))
    u, v = 2 * u01_open(b0, b1) - 1, 2 * u01_open(b2, b3) - 1
    w = u * u + v * v  # the library's rounded w; first attempts accepted where w < 1 (the others are redrawn)
    first = w < 1.0
    assert_frequency(int(np.count_nonzero(first)), n, np.pi / 4, what="Bailey acceptance")
    uu, ww, d = u[first].astype(np.longdouble), w[first].astype(np.longdouble), np.longdouble(df)
    t = -2 / d * np.log(ww)
    exact = np.longdouble(scale) * uu * np.sqrt(d * np.expm1(t) / ww)
    rel = np.abs((z[first].astype(np.longdouble) - exact) / exact).astype(np.float64)
    bound = (8.0 + np.abs(t).astype(np.float64)) * EPS
    assert np.all(rel <= bound), (rel.max(), float(bound[np.argmax(rel / bound)]))
    assert rel.max() < 1e-13


@pytest.mark.parametrize("law,alpha", [("pareto", 1.5), ("gaussian", 2.0)])
def test_variates_sharing_a_block_are_independent(law, alpha):
    # steps 2m - 1 and 2m of a half-block law come from one Philox block: (odd, even) pairs uncorrelated
    n = 2_000_000
    z = _fill(law, alpha, 1.0, 80, n)
    first, second = z[0::2], z[1::2]
    m = first.size
    # Spearman's rho of independent pairs: mean 0, standard error 1 / sqrt(m - 1)
    rho = stats.spearmanr(first, second).statistic
    assert_z(rho, 1 / np.sqrt(m - 1), 0.0, what="Spearman rho")
    assert_frequency(int(np.count_nonzero(np.signbit(first) == np.signbit(second))), m, 0.5, what="same sign")
    rho_abs = stats.spearmanr(np.abs(first), np.abs(second)).statistic
    assert_z(rho_abs, 1 / np.sqrt(m - 1), 0.0, what="Spearman rho of |Z|")
