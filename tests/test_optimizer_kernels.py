"""The optimizer's C++ kernels without torch (they also run under ASan + UBSan, .ci/sanitize.sh).

``direction_pass_f32`` (cpp/include/htsgd/direction_pass.hpp) in its two-rounding form against the same
formulas in numpy float32 (every operation rounded, as numpy does), and in its fused form against itself on
1 and 2 threads and against the two-rounding form within an ulp per rounding; ``fill_noise_f32`` with
momenta against a fill followed by the momentum update in numpy. Equality with torch's own operations is
tests/test_torch_fused_passes.py.
"""
import itertools

import numpy as np
import pytest

from htsgd import _core

F = np.float32
SIZES = (5, 35, 3000, 100_003)  # below one vector, odd tails, several blocks, split over two threads
# (weight decay, maximize, momentum, dampening, nesterov)
CONFIGS = [(0.0, False, 0.9, 0.0, False), (5e-4, False, 0.9, 0.0, False), (0.01, True, 0.9, 0.1, False),
           (0.0, False, 0.9, 0.0, True), (1e-3, True, 0.0, 0.0, False), (0.0, False, 0.0, 0.0, False)]


def lerp(a, b, t):  # torch's form, two roundings
    t = F(t)
    return (t * (b - a) + a) if abs(t) < 0.5 else ((t - F(1)) * (b - a) + b)


def sgd_direction(n, p, buf, wd, maximize, m, damp, nesterov):
    n = -n if maximize else n
    if wd != 0:
        n = F(wd) * p + n
    if m == 0:
        return n, None
    buf = buf * F(m) + F(1 - damp) * n
    return (F(m) * buf + n if nesterov else buf), buf


def run_pass(g, p, b, *, ref=None, noisy=None, z=0.0, w=None, wd, maximize, m, damp, nesterov, fused, threads):
    ref = None if ref is None else ref.copy()
    noisy = None if noisy is None else noisy.copy()
    buf = b.copy() if m else None
    direct = m == 0 or nesterov
    out = (noisy if noisy is not None else np.empty_like(g)) if direct else None
    _core.direction_pass_f32(g, ref=ref, noisy=noisy, param=p, buf=buf, out=out, z=z,
                             weight=0.0 if w is None else w, update_ref=w is not None, decay=wd != 0,
                             weight_decay=wd, maximize=maximize, momentum=m, alpha=1 - damp, nesterov=nesterov,
                             fused=fused, n_threads=threads)
    return (out if direct else buf), buf, ref


@pytest.mark.parametrize("n", SIZES)
def test_two_rounding_form_is_the_numpy_formula(n):
    rng = np.random.default_rng(n)
    g, r, b, p, v = (rng.standard_normal(n).astype(F) * s for s in (1, 3, 1, 2, 1))
    for z, (wd, maximize, m, damp, nesterov) in itertools.product((0.3, 0.5, -0.7, 7.3), CONFIGS):
        kw = dict(wd=wd, maximize=maximize, m=m, damp=damp, nesterov=nesterov, fused=False, threads=2)
        # multiplicative, with the moving average
        d, buf, ref = run_pass(g, p, b, ref=r, z=z, w=0.1, **kw)
        want_d, want_buf = sgd_direction(lerp(r, g, z), p, b, wd, maximize, m, damp, nesterov)
        assert np.array_equal(d, want_d) and np.array_equal(ref, lerp(r, g, 0.1))
        assert want_buf is None or np.array_equal(buf, want_buf)
        # additive: the noisy gradient given
        d, buf, _ = run_pass(g, p, b, noisy=v, **kw)
        want_d, want_buf = sgd_direction(v, p, b, wd, maximize, m, damp, nesterov)
        assert np.array_equal(d, want_d) and (want_buf is None or np.array_equal(buf, want_buf))


@pytest.mark.parametrize("n", SIZES)
def test_fused_form_is_thread_independent_and_within_rounding(n):
    rng = np.random.default_rng(n + 1)
    g, r, b, p = (rng.standard_normal(n).astype(F) for _ in range(4))
    for wd, maximize, m, damp, nesterov in CONFIGS:
        kw = dict(ref=r, z=7.3, w=0.7, wd=wd, maximize=maximize, m=m, damp=damp, nesterov=nesterov)
        one, two, plain = (run_pass(g, p, b, fused=f, threads=t, **kw) for f, t in ((True, 1), (True, 2), (False, 2)))
        for a, c in zip(one, two):
            assert a is None or np.array_equal(a, c)
        d, d_plain = one[0].astype(np.float64), plain[0].astype(np.float64)
        # a few roundings apart at most: relative to the operands' scale
        assert np.all(np.abs(d - d_plain) <= 64 * np.finfo(F).eps * (1 + np.abs(d_plain) + 10 * np.abs(g)))
        assert np.count_nonzero(d != d_plain) > 0  # the two forms do differ


@pytest.mark.parametrize("law", ["pareto", "gaussian", "stable"])
def test_fill_with_momenta_is_fill_then_momentum(law):
    for n in (77, 70_001):
        rng = np.random.default_rng(n)
        g, b = rng.standard_normal(n).astype(F), rng.standard_normal(n).astype(F)
        noisy = np.empty(n, F)
        _core.fill_noise_f32([noisy], law, 1.5, 0.3, [7], [9], 2, [g])
        got = b.copy()
        _core.fill_noise_f32([got], law, 1.5, 0.3, [7], [9], 2, [g], [0.9])
        assert np.array_equal(got, b * F(0.9) + noisy)


@pytest.mark.parametrize("law", ["pareto", "stable"])
def test_fill_with_sgd_options_is_fill_then_sgds_update(law):
    # weight decay, dampening, maximize: the fill's pass applies SGD's whole update (two-rounding form here)
    for n in (77, 70_001):
        rng = np.random.default_rng(n + 2)
        g, b, p = (rng.standard_normal(n).astype(F) for _ in range(3))
        noisy = np.empty(n, F)
        _core.fill_noise_f32([noisy], law, 1.5, 0.3, [7], [9], 2, [g])
        _, want = sgd_direction(noisy, p, b, 0.01, True, 0.9, 0.1, False)
        got = b.copy()
        _core.fill_noise_f32([got], law, 1.5, 0.3, [7], [9], 2, [g], [0.9], params=[p], decay=True,
                             weight_decay=0.01, maximize=True, one_minus_dampening=0.9, fused=False)
        assert np.array_equal(got, want)


def test_operands_are_checked():
    g, r, b = np.zeros(10, F), np.zeros(10, F), np.zeros(10, F)
    kernel = _core.direction_pass_f32
    with pytest.raises(ValueError, match="buf must be a writable C-contiguous float32 array the size of grad"):
        kernel(g, ref=r, buf=np.zeros(9, F), momentum=0.9)
    with pytest.raises(ValueError, match="ref must be"):
        kernel(g, ref=r.astype(np.float64), buf=b, momentum=0.9)
    with pytest.raises(ValueError, match="grad must be"):
        kernel(np.zeros(20, F)[::2], ref=r, buf=b, momentum=0.9)
    frozen = np.zeros(10, F)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="out must be a writable"):
        kernel(g, ref=r, out=frozen)
    with pytest.raises(ValueError, match="out must be given"):
        kernel(g, ref=r)
    with pytest.raises(ValueError, match="out must be given"):
        kernel(g, ref=r, buf=b, nesterov=True, momentum=0.9)
    with pytest.raises(ValueError, match="one of ref and noisy"):
        kernel(g, out=b)
    with pytest.raises(ValueError, match="one of ref and noisy"):
        kernel(g, ref=r, noisy=b, out=b)
    with pytest.raises(ValueError, match="param must be given"):
        kernel(g, ref=r, out=b, decay=True, weight_decay=0.1)
    with pytest.raises(ValueError, match="out cannot be ref"):
        kernel(g, ref=r, out=r, update_ref=True)
    with pytest.raises(ValueError, match="update_ref needs ref"):
        kernel(g, noisy=r, out=b, update_ref=True)
    out = np.empty(10, F)
    with pytest.raises(ValueError, match="momenta"):
        _core.fill_noise_f32([out], "pareto", 1.5, 1.0, [1], [2], 0, None, [0.9, 0.9])
    with pytest.raises(ValueError, match="its own addend"):
        _core.fill_noise_f32([out], "pareto", 1.5, 1.0, [1], [2], 0, [out], [0.9])
    with pytest.raises(ValueError, match="weight decay needs params"):
        _core.fill_noise_f32([out], "pareto", 1.5, 1.0, [1], [2], 0, None, [0.9], decay=True, weight_decay=0.1)
    with pytest.raises(ValueError, match="every param must be"):
        _core.fill_noise_f32([out], "pareto", 1.5, 1.0, [1], [2], 0, None, [0.9], params=[np.zeros(9, F)],
                             decay=True, weight_decay=0.1)
    with pytest.raises(ValueError, match="every momentum must be the same"):
        _core.fill_noise_f32([out, out.copy()], "pareto", 1.5, 1.0, [1, 2], [2, 3], 0, None, [0.9, 0.5],
                             maximize=True)
