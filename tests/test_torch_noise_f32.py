"""The core sampler's float32 path (cpp/include/htsgd/law_lanes_f32.hpp, vecmath_f32.hpp): the lanes against the
scalar reference, the kernels' error against float64, the Pareto law up to its cut-off, and the torch side
(float32 in place, float16/bfloat16 through a float32 scratch buffer, the fused gradient add)."""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from htsgd import _core  # noqa: E402
from htsgd.torch import noise as tn  # noqa: E402
from stats_helpers import assert_frequency  # noqa: E402

pytestmark = pytest.mark.skipif(not hasattr(_core, "fill_noise_f32"), reason="htsgd built without fill_noise_f32")
T = _core._testing
EPS = 2.0**-24  # float32's unit roundoff
ALPHAS = (0.3, 0.5, 1.0, 1.5, 1.7, 2.0, 4.0, 10.0)


def fill(n, law="pareto", alpha=1.5, scale=1.0, seed=3, counter=11, threads=0, add=None):
    out = np.empty(n, dtype=np.float32)
    _core.fill_noise_f32([out], law, alpha, scale, [seed], [counter], threads, None if add is None else [add])
    return out


def all_words_below(k_max: int) -> np.ndarray:
    return np.arange(k_max, dtype=np.uint32)


def pareto_f64(u: np.ndarray, alpha: float, scale: float) -> np.ndarray:
    return scale * np.expm1(-np.log(u.astype(np.float64)) / alpha)


# ---------------------------------------------------------------------------------------- bits
@pytest.mark.parametrize("law", ["pareto", "gaussian"])
def test_lanes_equal_the_scalar_reference_for_any_thread_count(law):
    n = 3 * 4096 + 77  # several chunks and a partial group of 64
    ref = np.empty(n, dtype=np.float32)
    T.fill_noise_f32_reference(ref, law, 1.3, 0.7, 5, 2**40 + 3)
    for threads in (1, 2, 3):
        assert np.array_equal(fill(n, law, 1.3, 0.7, 5, 2**40 + 3, threads).view(np.uint32), ref.view(np.uint32))
    assert np.array_equal(fill(50, law, 1.3, 0.7, 5, 2**40 + 3), ref[:50])  # a prefix of a longer call


@pytest.mark.parametrize("law", ["pareto", "gaussian", "student_t", "stable"])
def test_fused_addend_equals_a_separate_add(law):
    n = 10_000 + 13
    add = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    z = fill(n, law, 1.7, 0.5)
    assert np.array_equal(fill(n, law, 1.7, 0.5, add=add), z + add)


def test_laws_without_a_float32_kernel_are_float64_variates_rounded():
    z64 = np.empty(5000)
    _core.fill_noise(z64, "stable", 1.3, 1.0, 3, 11)
    assert np.array_equal(fill(5000, "stable", 1.3), z64.astype(np.float32))


def test_bad_arguments_are_refused():
    out = np.empty(10, dtype=np.float32)
    with pytest.raises(ValueError, match="float32"):
        _core.fill_noise_f32([np.empty(10)], "pareto", 1.5, 1.0, [1], [2])
    with pytest.raises(ValueError, match="same length"):
        _core.fill_noise_f32([out], "pareto", 1.5, 1.0, [1, 2], [2])
    with pytest.raises(ValueError, match="addend"):
        _core.fill_noise_f32([out], "pareto", 1.5, 1.0, [1], [2], 0, [np.empty(9, dtype=np.float32)])
    with pytest.raises(ValueError, match="momenta"):
        _core.fill_noise_f32([out], "pareto", 1.5, 1.0, [1], [2], 0, None, [0.9, 0.9])
    with pytest.raises(ValueError, match="its own addend"):
        _core.fill_noise_f32([out], "pareto", 1.5, 1.0, [1], [2], 0, [out], [0.9])


# ---------------------------------------------------------------------------------------- kernels
def test_log_kernel_error():
    rng = np.random.default_rng(1)
    x = np.concatenate([np.float32(2.0) ** -np.arange(0, 33, dtype=np.float32) * np.float32(1.0),
                        rng.uniform(2.0**-32, 1.0, 400_000).astype(np.float32),
                        np.exp(rng.uniform(-80, 80, 200_000)).astype(np.float32),
                        np.nextafter(np.float32(1), np.float32(0)) - np.arange(5000, dtype=np.float32) * EPS])
    x = x[(x > 0) & np.isfinite(x)]
    got = T.eval_kernel_f32("log", x).astype(np.float64)
    exact = np.log(x.astype(np.float64))
    # absolute error < 2^-24 (1 + |log x|): relative < 2 ulp away from log = 0, absolute near it
    assert np.all(np.abs(got - exact) <= EPS * (1.0 + np.abs(exact)))


def test_expm1_kernel_error():
    t = np.concatenate([np.linspace(-17, 88.7, 400_001), np.linspace(-1e-3, 1e-3, 20_001)]).astype(np.float32)
    got = T.eval_kernel_f32("expm1", t).astype(np.float64)
    exact = np.expm1(t.astype(np.float64))
    nz = exact != 0
    assert np.max(np.abs(got[nz] / exact[nz] - 1)) < 4.2 * EPS  # 2.5e-7
    assert T.eval_kernel_f32("expm1", np.array([89.0, 1e30], dtype=np.float32)).tolist() == [math.inf, math.inf]
    assert T.eval_kernel_f32("expm1", np.array([-100.0], dtype=np.float32))[0] == -1.0


def test_sincospi_kernel_error():
    a = np.linspace(-2, 2, 400_001).astype(np.float32)
    a64 = a.astype(np.float64)
    assert np.max(np.abs(T.eval_kernel_f32("sinpi", a) - np.sin(np.pi * a64))) < 2 * EPS
    assert np.max(np.abs(T.eval_kernel_f32("cospi", a) - np.cos(np.pi * a64))) < 2 * EPS


def pareto_bound(u: np.ndarray, alpha: float) -> np.ndarray:
    """The documented relative error of a float32 Pareto variate: (6 + 2 t) 2^-24, t = -log(U)/alpha."""
    return (6.0 + 2.0 * (-np.log(u.astype(np.float64)) / alpha)) * EPS


@pytest.mark.parametrize("alpha", ALPHAS)
def test_pareto_relative_error_over_the_whole_domain(alpha):
    # every k < 2^20 (the tail: U < 2^-11), then a stride through all 2^31 values of k (the body)
    words = np.concatenate([all_words_below(2**20), np.arange(2**20, 2**31, 1021, dtype=np.uint32),
                            np.arange(2**31 - 2**14, 2**31, dtype=np.uint32)])
    u = T.uniform_f32(words)
    got = T.pareto_f32_words(words, alpha, 1.0).astype(np.float64)
    exact = pareto_f64(u, alpha, 1.0)
    nz = exact > 0
    assert np.all(np.abs(got[nz] / exact[nz] - 1) <= pareto_bound(u[nz], alpha))
    assert np.all(got[~nz] == 0)


def test_uniform_construction():
    k = np.array([0, 1, 2**23 - 1, 2**31 - 1], dtype=np.uint32)
    u = T.uniform_f32(k)
    assert u[0] == 2.0**-32 and u[1] == 1.5 * 2.0**-31 and u[2] == (2**23 - 0.5) * 2.0**-31 and u[3] == 1.0
    assert np.array_equal(T.uniform_f32(k | np.uint32(2**31)), u)  # bit 31 is the sign, not part of U
    kk = all_words_below(2**23)
    assert np.array_equal(T.uniform_f32(kk).astype(np.float64), (kk + 0.5) * 2.0**-31)  # exact below 2^-8
    assert np.all(np.diff(T.uniform_f32(np.arange(0, 2**31, 997, dtype=np.uint32))) >= 0)  # monotone


# ---------------------------------------------------------------------------------------- the law
@pytest.mark.parametrize("alpha", [0.8, 1.5, 3.0])
def test_pareto_cut_off_and_tail_up_to_it(alpha):
    # |Z(k)| decreases with k, so P(|Z| > x) = #{k : |Z(k)| > x} / 2^31 exactly (the sign bit is independent):
    # enumerate the words of the tail and compare with (1 + x)^-alpha up to the cut x_max = 2^(32/alpha) - 1
    words = all_words_below(2**21)
    z = T.pareto_f32_words(words, alpha, 1.0).astype(np.float64)
    assert np.all(np.diff(z) <= 0)
    x_max = 2.0 ** (32 / alpha) - 1
    assert abs(z[0] / x_max - 1) <= pareto_bound(np.array([2.0**-32]), alpha)[0]  # the cut-off, reached at k = 0
    assert np.all(z <= z[0])
    for log2p in (-31, -30, -28, -26, -24, -22, -20):
        x = 2.0 ** (-log2p / alpha) - 1  # exact tail probability 2^log2p
        frequency = np.count_nonzero(z > x) / 2.0**31
        # the discreteness of U (one step 2^-31) and the kernel error (relative alpha * bound in probability)
        slack = 2.0**-31 + 2.0**log2p * alpha * pareto_bound(np.array([2.0**log2p]), alpha)[0]
        assert abs(frequency - 2.0**log2p) <= slack, (log2p, frequency)
    signed = T.pareto_f32_words(np.array([0, 2**31], dtype=np.uint32), alpha, 1.0)
    assert signed[0] == -signed[1] and signed[0] > 0


def test_pareto_tail_frequencies_from_the_sampler():
    alpha, scale, n = 1.5, 0.5, 2**24
    z = np.abs(fill(n, "pareto", alpha, scale, seed=21, counter=4).astype(np.float64))
    for p in (0.5, 0.1, 1e-2, 1e-3, 1e-4, 1e-5):
        x = scale * (p ** (-1 / alpha) - 1)
        assert_frequency(np.count_nonzero(z > x), n, p, what=f"P(|Z| > {x:.4g})")
    assert z.max() <= scale * (2.0 ** (32 / alpha) - 1) * (1 + 1e-6)
    s = fill(n, "pareto", alpha, scale, seed=21, counter=4)
    assert_frequency(np.count_nonzero(s > 0), n, 0.5, what="P(Z > 0)")


def test_gaussian_law_and_cut_off():
    n, scale = 2**22, 2.0
    z = fill(n, "gaussian", 0.0, scale, seed=8, counter=1).astype(np.float64) / scale
    from scipy import stats  # noqa: PLC0415
    for x in (0.5, 1.0, 2.0, 3.0, 4.0):
        assert_frequency(np.count_nonzero(np.abs(z) > x), n, 2 * stats.norm.sf(x), what=f"P(|Z| > {x})")
    assert_frequency(np.count_nonzero(z > 0), n, 0.5, what="P(Z > 0)")
    assert np.abs(z).max() <= math.sqrt(64 * math.log(2)) * (1 + 1e-6)
    # pairs from one word pair are (cos, sin) of one angle: independent normals, uncorrelated
    a, b = z.reshape(-1, 64)[:, 0:16].ravel(), z.reshape(-1, 64)[:, 16:32].ravel()
    r = np.mean(a * b)
    assert abs(r) < 5.03 / math.sqrt(a.size)


# ---------------------------------------------------------------------------------------- torch side
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_tensors_are_the_float32_variates_cast(dtype):
    n = 300_000
    low, high = torch.empty(n, dtype=dtype), torch.empty(n, dtype=torch.float32)
    tn.fill_noise_(low, "pareto", 0.9, 1.0, torch.Generator().manual_seed(4), "core")
    tn.fill_noise_(high, "pareto", 0.9, 1.0, torch.Generator().manual_seed(4), "core")
    assert torch.equal(low, tn.cast_finite(high, dtype)) and torch.isfinite(low).all()
    if dtype == torch.float16:
        assert (high.abs() > 65504).any()  # the clamp was exercised


def test_float32_tensor_uses_the_float32_path_and_float64_keeps_its_bits():
    g = torch.Generator().manual_seed(6)
    t32, t64 = torch.empty(1000), torch.empty(1000, dtype=torch.float64)
    tn.fill_noise_(t32, "pareto", 1.5, 1.0, g, "core")
    tn.fill_noise_(t64, "pareto", 1.5, 1.0, g, "core")
    g = torch.Generator().manual_seed(6)
    key, counter = torch.randint(0, 2**62, (2,), generator=g, dtype=torch.int64).tolist()
    assert np.array_equal(t32.numpy(), fill(1000, "pareto", 1.5, 1.0, key, counter))
    key, counter = torch.randint(0, 2**62, (2,), generator=g, dtype=torch.int64).tolist()
    ref = np.empty(1000)
    _core.fill_noise(ref, "pareto", 1.5, 1.0, key, counter)
    assert np.array_equal(t64.numpy(), ref)


@pytest.mark.parametrize("foreach", [False, True])
def test_batch_with_addends_equals_fill_then_add(foreach):
    def tensors():
        return [torch.empty(70_000), torch.empty(33, dtype=torch.float64), torch.empty(500, dtype=torch.bfloat16),
                torch.empty(20, 30).t(), torch.empty(5)]

    grads = [torch.randn(t.shape, generator=torch.Generator().manual_seed(i)).to(t.dtype)
             for i, t in enumerate(tensors())]
    grads[0] = torch.randn(140_000)[::2]  # a non-contiguous addend: added after the fill
    a, b = tensors(), tensors()
    ga, gb = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
    tn.fill_noise_batch_(a, "pareto", 1.5, 0.3, [ga] * len(a))
    for t, g in zip(a, grads):
        t.add_(g)
    tn.fill_noise_batch_(b, "pareto", 1.5, 0.3, [gb] * len(b), addends=grads, foreach=foreach)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    with pytest.raises(ValueError, match="Invalid addends"):
        tn.fill_noise_batch_(b, "pareto", 1.5, 0.3, [gb] * len(b), addends=grads[:2])


@pytest.mark.parametrize("law", ["pareto", "gaussian", "student_t"])
def test_momentum_buffers_take_in_the_noisy_gradient_with_sgds_bits(law):
    # momenta: buf.mul_(m).add_(noise + g), in the fill's pass for float32 core tensors (a partial group of
    # 64, several chunks, threads), through a temporary for the others (float64, bfloat16, non-contiguous
    # addend, the torch sampler); the draws stay in tensor order
    def tensors():
        gen = torch.Generator().manual_seed(5)
        return [torch.randn(70_001, generator=gen), torch.randn(33, dtype=torch.float64, generator=gen),
                torch.randn(500, generator=gen).to(torch.bfloat16), torch.randn(77, generator=gen),
                torch.randn(64, generator=gen)]

    grads = [torch.randn(t.shape, generator=torch.Generator().manual_seed(i)).to(t.dtype)
             for i, t in enumerate(tensors())]
    grads[3] = torch.randn(154)[::2]  # a non-contiguous addend
    momenta = [0.9, 0.5, 0.9, 0.7, None]
    for sampler in ("auto", "torch"):
        bufs, want = tensors(), tensors()
        ga, gb = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
        work = [torch.empty_like(t) for t in want]
        tn.fill_noise_batch_(work, law, 1.5, 0.3, [ga] * len(work), sampler, addends=grads)
        for b, w, m in zip(want, work, momenta):
            if m is None:
                b.copy_(w)
            else:
                b.mul_(m).add_(w)
        tn.fill_noise_batch_(bufs, law, 1.5, 0.3, [gb] * len(bufs), sampler, addends=grads, momenta=momenta)
        assert all(torch.equal(x, y) for x, y in zip(bufs, want)), sampler
        assert torch.equal(ga.get_state(), gb.get_state())
    with pytest.raises(ValueError, match="Invalid momenta"):
        tn.fill_noise_batch_(bufs, law, 1.5, 0.3, [gb] * len(bufs), momenta=[0.9])
    with pytest.raises(TypeError, match="Invalid momenta: expected a real number"):
        tn.fill_noise_batch_(bufs, law, 1.5, 0.3, [gb] * len(bufs), momenta=["0.9"] * len(bufs))
    with pytest.raises(ValueError, match="Invalid momenta"):
        tn.fill_noise_batch_(bufs, law, 1.5, 0.3, [gb] * len(bufs), momenta=[math.nan] * len(bufs))


def test_one_randint_per_run_of_tensors_draws_what_one_per_tensor_draws():
    # fill_noise_batch_ draws the seeds of consecutive core tensors of one generator in one randint call
    g1, g2 = torch.Generator().manual_seed(12), torch.Generator().manual_seed(12)
    one = [torch.randint(0, 2**62, (2,), generator=g1, dtype=torch.int64).tolist() for _ in range(40)]
    batch = torch.randint(0, 2**62, (80,), generator=g2, dtype=torch.int64).view(-1, 2).tolist()
    assert one == batch and torch.equal(g1.get_state(), g2.get_state())
