"""scipy-like methods of the noise laws (htsgd.distributions): against scipy's own laws, against quadrature of
the density or of the characteristic function, and against the engine's samples (binomial bands)."""
import math

import numpy as np
import pytest
from scipy import integrate, stats

import htsgd
from htsgd.distributions import symmetric_lomax
from stats_helpers import assert_frequency

LAWS = [htsgd.Pareto(1.5, 0.2), htsgd.Pareto(4.5, 2.0), htsgd.StudentT(1.5, 1.0), htsgd.StudentT(5.0, 0.5),
        htsgd.Gaussian(0.7), htsgd.Stable(1.5, 0.3), htsgd.Stable(1.0, 0.3), htsgd.Stable(2.0, 0.3)]
X = np.array([-50.0, -3.0, -0.5, -0.01, 0.0, 0.2, 1.0, 7.0, 1e3])


def _id(law):
    return repr(law)


@pytest.mark.parametrize("df,scale", [(1.5, 1.0), (5.0, 0.5)])
def test_student_t_is_scipy_t(df, scale):
    law, ref = htsgd.StudentT(df, scale), stats.t(df, scale=scale)
    np.testing.assert_allclose(law.pdf(X), ref.pdf(X), rtol=1e-14)
    np.testing.assert_allclose(law.logpdf(X), ref.logpdf(X), rtol=1e-14)
    np.testing.assert_allclose(law.cdf(X), ref.cdf(X), rtol=1e-14)
    np.testing.assert_allclose(law.sf(X), ref.sf(X), rtol=1e-14)
    # (older scipy gives 8e-17 for the median, htsgd exactly 0)
    np.testing.assert_allclose(law.ppf([0.001, 0.3, 0.5, 0.999]), ref.ppf([0.001, 0.3, 0.5, 0.999]), rtol=1e-13,
                               atol=1e-15)
    assert law.var() == pytest.approx(ref.var(), rel=1e-14)
    if df > 4:
        assert law.moment(4) == pytest.approx(ref.moment(4), rel=1e-12)


def test_gaussian_is_scipy_norm():
    law, ref = htsgd.Gaussian(0.7), stats.norm(scale=0.7)
    np.testing.assert_allclose(law.pdf(X), ref.pdf(X), rtol=1e-14)
    np.testing.assert_allclose(law.sf(X), ref.sf(X), rtol=1e-14)
    assert [law.moment(k) for k in range(7)] == pytest.approx([ref.moment(k) for k in range(7)], rel=1e-13)
    assert law.std() == pytest.approx(0.7, rel=1e-15)


def test_stable_matches_levy_stable_and_closed_forms():
    law = htsgd.Stable(1.5, 0.3)
    ref = stats.levy_stable(1.5, 0.0, scale=0.3)
    x = np.array([-2.0, 0.0, 0.1, 1.0])
    np.testing.assert_allclose(law.pdf(x), ref.pdf(x), rtol=1e-10)
    np.testing.assert_allclose(law.cdf(x), ref.cdf(x), rtol=1e-10)
    # alpha 1 and 2: Cauchy(scale) and N(0, 2 scale^2)
    np.testing.assert_allclose(htsgd.Stable(1.0, 0.3).cdf(X), stats.cauchy(scale=0.3).cdf(X), rtol=1e-13)
    np.testing.assert_allclose(htsgd.Stable(2.0, 0.3).pdf(X), stats.norm(scale=0.3 * math.sqrt(2)).pdf(X), rtol=1e-14)
    assert htsgd.Stable(2.0, 0.3).var() == pytest.approx(2 * 0.09, rel=1e-15)


@pytest.mark.parametrize("alpha", [0.8, 1.5, 1.9])
def test_stable_density_is_the_inverse_fourier_transform(alpha):
    # htsgd's stable law has characteristic function exp(-|scale t|^alpha): p(x) = 1/pi int_0^inf cos(tx) e^-(st)^a dt
    scale = 0.3
    law = htsgd.Stable(alpha, scale)
    for x in (0.0, 0.2, 1.0):
        ref = integrate.quad(lambda t: math.cos(t * x) * math.exp(-((scale * t) ** alpha)), 0, math.inf, limit=500)[0]
        assert float(law.pdf(x)) == pytest.approx(ref / math.pi, rel=1e-6)


@pytest.mark.parametrize("alpha", [0.7, 1.5, 1.9])
def test_stable_far_tails(alpha):
    # beyond 20 scales the Bergstrom series replaces levy_stable: continuous at the switch, equal to the
    # Fourier integral (QAWF quadrature), and tending to the asymptote C_alpha (x/scale)^-alpha of .tail
    scale = 0.3
    law = htsgd.Stable(alpha, scale)
    below, above = np.nextafter(20 * scale, 0), 20 * scale
    assert float(law.sf(above)) == pytest.approx(float(law.to_scipy().sf(below)), rel=1e-6)
    unit = htsgd.Stable(alpha, 1.0)
    for z in (20.0, 50.0):
        ref, err = integrate.quad(lambda t: math.exp(-(t**alpha)), 0, math.inf, weight="cos", wvar=z, limlst=200)
        assert abs(float(unit.pdf(z)) - ref / math.pi) <= 10 * err / math.pi  # QAWF's own error estimate, ~1e-9
        assert float(law.pdf(z * scale)) == pytest.approx(float(unit.pdf(z)) / scale, rel=1e-14)
    x = 1e6 * scale  # the series' second term is O((x/scale)^-alpha) relative to the asymptote
    assert 2 * float(law.sf(x)) == pytest.approx(float(law.tail(x)), rel=(x / scale) ** -alpha)
    assert float(law.cdf(-x)) == float(law.sf(x)) > 0 and np.isfinite(law.logpdf(-x))


@pytest.mark.parametrize("alpha,scale", [(1.5, 0.2), (4.5, 2.0), (0.7, 1.0)])
def test_pareto_closed_forms_against_quadrature(alpha, scale):
    law = htsgd.Pareto(alpha, scale)
    assert integrate.quad(law.pdf, -math.inf, math.inf)[0] == pytest.approx(1.0, rel=1e-9)
    for x in (-3.0, -0.1, 0.0, 0.5, 20.0):
        assert float(law.cdf(x)) == pytest.approx(integrate.quad(law.pdf, -math.inf, x)[0], rel=1e-8, abs=1e-12)
        assert float(law.sf(x)) == pytest.approx(1.0 - float(law.cdf(x)), rel=1e-12)
        if x >= 0:
            assert 2.0 * float(law.sf(x)) == pytest.approx(float(law.tail(x)), rel=1e-14)
    np.testing.assert_allclose(law.logpdf(X), np.log(law.pdf(X)), rtol=1e-12)
    # tails: logpdf stays finite where pdf underflows
    assert np.isfinite(law.logpdf(1e300)) and float(law.pdf(1e300)) == 0.0
    if alpha > 4:
        # E Z^2 = 2 s^2 / ((a-1)(a-2)), E Z^4 = 24 s^4 / ((a-1)(a-2)(a-3)(a-4)), by quadrature too
        assert law.var() == pytest.approx(2 * scale**2 / ((alpha - 1) * (alpha - 2)), rel=1e-13)
        for k in (2, 4):
            quad = 2 * integrate.quad(lambda z: z**k * float(law.pdf(z)), 0, math.inf, limit=200)[0]
            assert law.moment(k) == pytest.approx(quad, rel=1e-7)
        assert law.to_scipy().moment(4) == pytest.approx(law.moment(4), rel=1e-12)


@pytest.mark.parametrize("law", LAWS, ids=_id)
def test_ppf_inverts_cdf_and_is_symmetric(law):
    q = np.array([1e-9, 1e-6, 0.01, 0.2, 0.5, 0.77, 0.999])
    x = law.ppf(q)
    np.testing.assert_allclose(law.cdf(x), q, rtol=1e-9)
    # 1 - q carries a rounding error of up to 1.1e-16, relative 1.1e-7 at q = 1e-9
    np.testing.assert_allclose(law.ppf(1 - q), -x, rtol=1e-6, atol=1e-12)
    assert law.median() == 0.0 == float(law.ppf(0.5))
    assert law.ppf(0.0) == -math.inf and law.ppf(1.0) == math.inf
    lo, hi = law.interval(0.9)
    assert lo == -hi and float(law.cdf(hi)) == pytest.approx(0.95, rel=1e-9)
    assert law.support() == (-math.inf, math.inf)


@pytest.mark.parametrize("law", LAWS, ids=_id)
def test_to_scipy_agrees_with_the_methods(law):
    frozen = law.to_scipy()
    x = np.array([-1.0, 0.3, 4.0])
    np.testing.assert_allclose(frozen.cdf(x), law.cdf(x), rtol=1e-12)
    np.testing.assert_allclose(frozen.pdf(x), law.pdf(x), rtol=1e-12)


@pytest.mark.parametrize("law", LAWS, ids=_id)
def test_engine_samples_follow_the_cdf(law):
    n = 400_000
    z = law.rvs(n, random_state=5)
    for q in (0.05, 0.3, 0.5, 0.9):
        assert_frequency(int(np.count_nonzero(z <= law.ppf(q))), n, q, what=f"{law!r} at q={q}")


def test_moment_conventions():
    # divergent even moments are inf, undefined odd moments nan, as scipy
    assert htsgd.Pareto(1.5).mean() == 0.0 and htsgd.Pareto(1.5).var() == math.inf
    assert math.isnan(htsgd.Pareto(0.9).mean()) and math.isnan(htsgd.Pareto(0.9).var())
    assert math.isnan(htsgd.Stable(1.0).mean()) and htsgd.Stable(1.7).var() == math.inf
    assert htsgd.StudentT(2.0).var() == stats.t(2.0).var() == math.inf
    assert math.isnan(htsgd.StudentT(3.0).moment(3)) and htsgd.StudentT(3.5).moment(3) == 0.0
    assert htsgd.Pareto(3.0, 0.5).moment(0) == 1.0
    assert htsgd.Pareto(3.0, 0.5).std() == pytest.approx(math.sqrt(2 * 0.25 / 2), rel=1e-14)
    assert symmetric_lomax(3.0, scale=0.5).var() == pytest.approx(htsgd.Pareto(3.0, 0.5).var(), rel=1e-12)


def test_rvs_is_sample():
    law = htsgd.StudentT(3.0, 0.5)
    np.testing.assert_array_equal(law.rvs((3, 4), random_state=7), law.sample((3, 4), rng=7))
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    np.testing.assert_array_equal(law.rvs(5, random_state=g1), law.sample(5, rng=g2))
    one = law.rvs(random_state=9)
    assert isinstance(one, float) and one == law.sample(1, rng=9)[0]


def test_scalar_in_scalar_out():
    law = htsgd.Pareto(1.5)
    assert np.ndim(law.pdf(0.5)) == 0 and np.ndim(law.cdf(0.5)) == 0 and np.ndim(law.ppf(0.5)) == 0
    assert law.cdf([[0.0]]).shape == (1, 1)


def test_validation():
    law = htsgd.Pareto(1.5)
    with pytest.raises(ValueError, match=r"Invalid q: expected probabilities in \[0, 1\]"):
        law.ppf([0.5, 1.5])
    with pytest.raises(ValueError, match="Invalid q"):
        law.ppf(math.nan)
    with pytest.raises(ValueError, match="Invalid x: expected real numbers, not NaN"):
        law.cdf([0.0, math.nan])
    with pytest.raises(ValueError, match="Invalid order: -1; expected an integer >= 0"):
        law.moment(-1)
    with pytest.raises(ValueError, match="Invalid order"):
        law.moment(1.5)
    with pytest.raises(ValueError, match="Invalid confidence: 2"):
        law.interval(2)
