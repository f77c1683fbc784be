"""htsgd.torch.noise: both samplers draw the right laws (tail probabilities with binomial error bands)."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from scipy import stats  # noqa: E402

from htsgd.torch import noise as tn  # noqa: E402
from htsgd.torch import phi_b  # noqa: E402
from stats_helpers import MIN_VARIANCE_COUNT, Z, assert_frequency, assert_tail, stable_tail_series  # noqa: E402

N = 200_000


def draw(law, alpha, scale, sampler, dtype, seed=0, n=N):
    g = torch.Generator().manual_seed(seed)
    out = torch.empty(n, dtype=dtype)
    tn.fill_noise_(out, law, alpha, scale, g, sampler)
    return out.double().numpy()


def check_tail(z, x, p):
    """Empirical P(|Z| > x) within the binomial band of p (tests/stats_helpers.py)."""
    assert_tail(z, x, p)


SAMPLERS = ["torch"] + (["core"] if tn.core_available() else [])
DTYPES = [torch.float32, torch.float64]


def test_the_bands_make_sense():
    # with N draws a rate of 1e-3 is resolved to ~35% at Z sigma: a law whose tail index is off by 0.1
    # (a factor 100^0.1 = 1.6 at 100 scales) fails the checks below
    p = 1e-3
    assert N * p * (1 - p) >= MIN_VARIANCE_COUNT
    assert Z * math.sqrt(p * (1 - p) / N) / p < 100**0.1 - 1
    # and they do fail for such a law: Pareto alpha 1.6 checked as alpha 1.5, and scale 1.1 as scale 1
    for alpha, scale in ((1.6, 1.0), (1.5, 1.1)):
        z = draw("pareto", alpha, scale, "torch", torch.float64)
        with pytest.raises(AssertionError):
            check_tail(z, 10.0, 11.0**-1.5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("alpha, scale", [(1.5, 1.0), (0.8, 0.3), (3.0, 2.0)])
def test_pareto_tail_is_exact(sampler, dtype, alpha, scale):
    z = draw("pareto", alpha, scale, sampler, dtype)
    assert np.all(np.isfinite(z))
    for x in (0.1 * scale, scale, 10 * scale, 100 * scale):
        p = (1 + x / scale) ** -alpha
        if N * p * (1 - p) >= MIN_VARIANCE_COUNT:  # alpha 3 at 100 scales: 0.2 expected events, unresolvable
            check_tail(z, x, p)
    assert_frequency(int(np.count_nonzero(z > 0)), N, 0.5, what="P(Z > 0)")  # symmetric


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_stable(sampler, dtype):
    alpha, scale = 1.5, 0.5
    z = draw("stable", alpha, scale, sampler, dtype)
    assert np.all(np.isfinite(z))
    for x in (0.2, 0.5, 1.0, 2.0):  # body: scipy's levy_stable is accurate here
        check_tail(z, x, 2 * stats.levy_stable.sf(x, alpha, 0.0, scale=scale))
    for x in (10.0, 20.0):  # tail (20 and 40 scales): the exact tail series, asymptote and finite-x terms
        check_tail(z, x, stable_tail_series(alpha, scale, x))


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_stable_special_cases(sampler):
    cauchy = draw("stable", 1.0, 2.0, sampler, torch.float64, seed=1)
    for x in (0.5, 2.0, 50.0):
        check_tail(cauchy, x, 2 * stats.cauchy.sf(x, scale=2.0))
    gauss = draw("stable", 2.0, 1.0, sampler, torch.float64, seed=2)  # N(0, 2 scale^2)
    for x in (0.5, 2.0, 4.0):
        check_tail(gauss, x, 2 * stats.norm.sf(x, scale=math.sqrt(2.0)))
    small = draw("stable", 0.5, 1.0, sampler, torch.float32, seed=3)
    assert np.all(np.isfinite(small))
    check_tail(small, 1e3, stable_tail_series(0.5, 1.0, 1e3))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("df", [1.5, 4.0])
def test_student_t(sampler, dtype, df):
    z = draw("student_t", df, 0.5, sampler, dtype)
    for x in (0.1, 0.5, 2.0, 10.0):
        p = 2 * stats.t.sf(x, df, scale=0.5)
        if N * p * (1 - p) >= MIN_VARIANCE_COUNT:  # df 4 at 20 scales: 7 expected events, unresolvable
            check_tail(z, x, p)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_gaussian(sampler, dtype):
    z = draw("gaussian", 7.0, 3.0, sampler, dtype)  # alpha ignored
    for x in (0.3, 3.0, 9.0):
        check_tail(z, x, 2 * stats.norm.sf(x, scale=3.0))


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_generator_state_replays_the_noise(sampler):
    assert np.array_equal(draw("pareto", 1.5, 1.0, sampler, torch.float32, seed=5, n=1000),
                          draw("pareto", 1.5, 1.0, sampler, torch.float32, seed=5, n=1000))
    assert not np.array_equal(draw("pareto", 1.5, 1.0, sampler, torch.float32, seed=5, n=1000),
                              draw("pareto", 1.5, 1.0, sampler, torch.float32, seed=6, n=1000))


@pytest.mark.skipif(not tn.core_available(), reason="htsgd._core.fill_noise not built")
def test_core_sampler_does_not_depend_on_the_thread_count():
    outs = []
    for threads in (1, 2, 3):
        g = torch.Generator().manual_seed(9)
        out = torch.empty(10_001)
        tn.fill_noise_(out, "stable", 1.3, 1.0, g, "core", n_threads=threads)
        outs.append(out)
    assert torch.equal(outs[0], outs[1]) and torch.equal(outs[0], outs[2])


def test_auto_falls_back_to_torch_for_what_the_core_cannot_fill():
    g = torch.Generator().manual_seed(0)
    t = torch.empty(10, 4).t()  # not contiguous
    tn.fill_noise_(t, "pareto", 1.5, 1.0, g)
    h = tn.fill_noise_(torch.empty(50, dtype=torch.float16), "pareto", 1.5, 1.0, g)
    assert torch.isfinite(t).all() and h.dtype == torch.float16
    with pytest.raises(ValueError, match="sampler='core' needs"):
        tn.fill_noise_(torch.empty(4, 3).t(), "pareto", 1.5, 1.0, g, "core")  # not contiguous


def test_sample_scalar_and_validation():
    g = torch.Generator().manual_seed(0)
    z = tn.sample_scalar("pareto", 1.5, 1.0, g)
    assert z.shape == () and z.dtype == torch.float64
    with pytest.raises(ValueError, match=r"Invalid alpha: 3.0; expected 0 < alpha <= 2"):
        tn.sample_noise((3,), "stable", 3.0, 1.0, g)
    with pytest.raises(ValueError, match=r"Invalid noise: 'levy'"):
        tn.sample_noise((3,), "levy", 1.5, 1.0, g)
    with pytest.raises(ValueError, match=r"Invalid sampler: 'gpu'"):
        tn.fill_noise_(torch.empty(3), "pareto", 1.5, 1.0, g, "gpu")


def test_phi_b():
    w = [torch.tensor([3.0, 4.0]), torch.tensor([0.0])]
    out = phi_b(w, 1.0)
    assert torch.allclose(torch.cat(out), torch.tensor([0.6, 0.8, 0.0]))
    assert torch.equal(phi_b(torch.tensor([0.3, -0.4]), 1.0), torch.tensor([0.3, -0.4]))  # inside: untouched
    assert torch.equal(phi_b(torch.tensor([3.0, -0.5]), 1.0, "coordinate"), torch.tensor([1.0, -0.5]))
    assert torch.allclose(phi_b(w, 1.0, "tensor")[0], torch.tensor([0.6, 0.8]))
    assert torch.equal(phi_b(torch.tensor([1e30]), None), torch.tensor([1e30]))
    with pytest.raises(ValueError, match="Invalid truncation: -1"):
        phi_b(w, -1)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("law", ["pareto", "stable"])
def test_low_precision_samples_are_finite(dtype, law):
    # float32 Pareto variates with alpha 1.2 reach ~2^20, past float16's 65504 (P(|Z| > 65504) ~ 1.7e-6):
    # they must clamp, not turn inf
    n = 4_000_000
    g = torch.Generator().manual_seed(0)
    z = tn.sample_noise((n,), law, 1.2, 1.0, g, dtype)
    assert z.dtype == dtype and torch.isfinite(z).all()
    out = torch.empty(n, dtype=dtype)
    tn.fill_noise_(out, law, 1.2, 1.0, g, "auto")
    assert torch.isfinite(out).all()


def test_float16_clamp_keeps_the_sign():
    big = torch.finfo(torch.float16).max
    z = tn.sample_noise((200_000,), "pareto", 0.8, 1.0, torch.Generator().manual_seed(0), torch.float16)
    assert torch.isfinite(z).all() and (z == big).any() and (z == -big).any()


@pytest.mark.parametrize("law", ["pareto", "gaussian", "student_t", "stable"])
def test_batched_fill_equals_one_fill_per_tensor(law):
    # one C++ call for the core-eligible tensors; the torch sampler's (float16, non-contiguous) in between:
    # the same generator draws in the same order, so the same bits as tensor-by-tensor fills
    def tensors():
        return [torch.empty(300_000), torch.empty(7, dtype=torch.float64), torch.empty(50, dtype=torch.float16),
                torch.empty(40, 30).t(), torch.empty(100_000, dtype=torch.float64), torch.empty(1)]

    one, batch = tensors(), tensors()
    g1 = [torch.Generator().manual_seed(5), torch.Generator().manual_seed(6)]
    g2 = [torch.Generator().manual_seed(5), torch.Generator().manual_seed(6)]
    for i, t in enumerate(one):
        tn.fill_noise_(t, law, 1.5, 0.5, g1[i % 2])
    tn.fill_noise_batch_(batch, law, 1.5, 0.5, [g2[i % 2] for i in range(len(batch))])
    for a, b in zip(one, batch):
        assert torch.equal(a, b)
    assert all(torch.equal(a.get_state(), b.get_state()) for a, b in zip(g1, g2))
    with pytest.raises(ValueError, match="Invalid generators"):
        tn.fill_noise_batch_(batch, law, 1.5, 0.5, g2)
