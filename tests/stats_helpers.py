"""The statistical tolerances of the test suite: every statistical assertion in tests/ goes through here.

Each check compares an estimate with a reference through a standard error that the central limit theorem
gives, and fails when the standardised difference exceeds one threshold ``Z``:

* ``assert_frequency``: a frequency ``k / n`` against a probability ``p`` (binomial band, sigma from ``p``);
* ``assert_z`` / ``assert_agree``: two estimates, each with its standard error (an exact reference has 0);
  ``assert_above``: one estimate resolved above another (an ordering the theory predicts);
* ``fit_slope`` / ``assert_slope``: a weighted least-squares slope of ``log y`` on ``log x`` with its
  standard error (per-point errors by the delta method), against a predicted slope;
* ``Bias``: where a theory is only asymptotic and its finite-size error is known (for example the mean
  exit time at finite ``lr``, below ``1/(q lambda_b)``), the error is a modelled term, measured
  independently with its own standard error and its source, and it enters the z-test as an estimate
  would; never a loose band.

Why ``Z`` ~ 5: the seeds are fixed, so a run is deterministic; a false alarm can only come when the random
streams legitimately change (a new sampler, kernel or seed) and the whole suite draws afresh. With at most
``MAX_CHECKS`` statistical checks in one run of the suite (about 300 are made today), a
Bonferroni split of a family-wise false-alarm rate ``FAMILY_FALSE_ALARM = 1e-3`` gives a per-check rate of
``5e-7`` (``2.5e-7`` per side), i.e. ``Z = 5.03``. A correct implementation then fails somewhere in the suite
at most once in a thousand re-draws, while an error of ``Z + 1 ~ 6`` standard errors fails 84% of the time.

Every check also asserts that it *can* fail: a binomial band must be narrower than the probability it
tests, and ``assert_resolves`` states the smallest effect a test is meant to catch. A binomial band needs
``n p (1 - p) >= MIN_VARIANCE_COUNT`` (100): the skewness is then <= 0.1 and the binomial tail at ``Z`` is
within a factor ~7 of the normal one (Poisson(100) at 5 sigma: 1.9e-6 against 2.9e-7), which the slack of
``MAX_CHECKS`` over the actual count absorbs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats

FAMILY_FALSE_ALARM = 1e-3
MAX_CHECKS = 2000
PER_CHECK_FALSE_ALARM = FAMILY_FALSE_ALARM / MAX_CHECKS  # Bonferroni: 5e-7
Z = float(stats.norm.isf(PER_CHECK_FALSE_ALARM / 2))  # two-sided: 5.03
MIN_VARIANCE_COUNT = 100.0


# ----------------------------------------------------------------------------------------- binomial bands
def binomial_sigma(p: float, n: int) -> float:
    """Standard deviation of the frequency of an event of probability ``p`` over ``n`` independent draws."""
    assert 0 < p < 1 and n > 0, (p, n)
    return math.sqrt(p * (1 - p) / n)


def binomial_band(p: float, n: int, z: float = Z) -> float:
    """Half-width of the ``z``-sigma band of the frequency of an event of probability ``p`` over ``n`` draws."""
    return z * binomial_sigma(p, n)


def assert_frequency(hits: int, n: int, p: float, z: float = Z, what: str = "") -> None:
    """``hits / n`` lies within the binomial band of ``p``; the band is narrow enough to mean something."""
    assert n * p * (1 - p) >= MIN_VARIANCE_COUNT, f"{what}: n p (1 - p) = {n * p * (1 - p):.3g} too small; increase n"
    band = binomial_band(p, n, z)
    assert band < min(p, 1 - p), f"{what}: band {band:.3g} too wide for p={p:.3g}; increase n"
    assert abs(hits / n - p) <= band, (f"{what}: frequency {hits / n:.6g} vs p={p:.6g}, "
                                       f"z = {(hits / n - p) / (band / z):+.2f} (|z| <= {z:.2f})")


def frequency_above(samples: np.ndarray, x: float) -> int:
    """Number of samples with ``|z| > x``: the empirical tail count."""
    return int(np.count_nonzero(np.abs(samples) > x))


def assert_tail(samples: np.ndarray, x: float, p: float, what: str = "") -> None:
    """The empirical ``P(|Z| > x)`` of ``samples`` within the binomial band of ``p``."""
    samples = np.asarray(samples)
    assert_frequency(frequency_above(samples, x), samples.size, p, what=f"{what} P(|Z| > {x:g})")


# ---------------------------------------------------------------------------------------------- z-tests
def z_score(a: float, se_a: float, b: float, se_b: float = 0.0) -> float:
    """``(a - b) / sqrt(se_a^2 + se_b^2)``: two independent estimates with their standard errors."""
    se = math.hypot(se_a, se_b)
    assert se > 0 and math.isfinite(se), (se_a, se_b)
    return (a - b) / se


def assert_z(a: float, se_a: float, b: float, se_b: float = 0.0, what: str = "", z: float = Z) -> float:
    """``|z_score(a, se_a, b, se_b)| <= z``; an exact reference ``b`` has ``se_b = 0``. Returns the z-score."""
    score = z_score(a, se_a, b, se_b)
    assert abs(score) <= z, f"{what}: {a:.6g} +- {se_a:.2g} vs {b:.6g} +- {se_b:.2g}: z = {score:+.2f} (|z| <= {z:.2f})"
    return score


def assert_agree(a, b, what: str = "", z: float = Z) -> float:
    """z-test of two estimates that carry ``.value`` and ``.stderr`` (results of htsgd)."""
    return assert_z(a.value, a.stderr, b.value, b.stderr, what=what, z=z)


def assert_above(a: float, se_a: float, b: float, se_b: float = 0.0, what: str = "", z: float = Z) -> float:
    """``a`` exceeds ``b`` by more than ``z`` combined standard errors (a one-sided, resolved ordering)."""
    score = z_score(a, se_a, b, se_b)
    assert score > z, f"{what}: {a:.6g} +- {se_a:.2g} not above {b:.6g} +- {se_b:.2g}: z = {score:+.2f} (> {z:.2f})"
    return score


def assert_resolves(stderr: float, effect: float, what: str = "", z: float = Z) -> None:
    """The test can fail: an error of size ``effect`` would stand more than ``z`` standard errors out."""
    assert z * stderr < abs(effect), f"{what}: {z:.2f} x stderr {stderr:.3g} does not resolve {effect:.3g}"


def assert_pvalue(pvalue: float, what: str = "") -> None:
    """A goodness-of-fit test (KS, chi-square) passes at the suite's per-check false-alarm rate."""
    assert pvalue >= PER_CHECK_FALSE_ALARM, f"{what}: p-value {pvalue:.3g} < {PER_CHECK_FALSE_ALARM:.3g}"


def mean_and_stderr(x: np.ndarray) -> tuple[float, float]:
    """Sample mean and its standard error (the CLT: ``sd / sqrt(n)``)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


# ------------------------------------------------------------------------------------------------ slopes
def fit_slope(x: Sequence[float], y: Sequence[float], y_stderr: Sequence[float]) -> tuple[float, float]:
    """Weighted least-squares slope of ``log y`` on ``log x`` and its standard error.

    The variance of ``log y`` is ``(stderr / y)^2`` (delta method); the points are independent.
    """
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    w = (np.asarray(y, float) / np.asarray(y_stderr, float)) ** 2
    xm = np.sum(w * lx) / np.sum(w)
    sxx = np.sum(w * (lx - xm) ** 2)
    slope = float(np.sum(w * (lx - xm) * ly) / sxx)
    return slope, float(1.0 / math.sqrt(sxx))


def assert_slope(slope: float, stderr: float, expected: float, bias: "Bias | None" = None, what: str = "",
                 z: float = Z) -> float:
    """A fitted slope against its prediction (plus a modelled finite-size bias, if any)."""
    b, se_b = (0.0, 0.0) if bias is None else (bias.value, bias.stderr)
    return assert_z(slope, stderr, expected + b, se_b, what=f"{what} slope", z=z)


# -------------------------------------------------------------------------------------- modelled biases
@dataclass(frozen=True)
class Bias:
    """A known finite-size error of a theory, as an estimate: ``value +- stderr``, from ``source``.

    Relative biases multiply the prediction by ``1 + value``; absolute ones (slopes, probabilities) add.
    """

    value: float
    stderr: float
    source: str

    def apply_relative(self, predicted: float) -> tuple[float, float]:
        """The prediction corrected by a relative bias, and the standard error the bias carries."""
        return predicted * (1 + self.value), abs(predicted) * self.stderr


def assert_model(value: float, stderr: float, predicted: float, bias: Bias | None = None, *, relative: bool = True,
                 what: str = "", z: float = Z) -> float:
    """An estimate against a theory's prediction corrected by its modelled bias (relative or absolute)."""
    if bias is None:
        return assert_z(value, stderr, predicted, 0.0, what=what, z=z)
    ref, se_ref = bias.apply_relative(predicted) if relative else (predicted + bias.value, bias.stderr)
    return assert_z(value, stderr, ref, se_ref, what=f"{what} (bias {bias.value:+.3g}: {bias.source})", z=z)


# ------------------------------------------------------------------------------------ exact references
def stable_tail_series(alpha: float, scale: float, x: float, terms: int = 6) -> float:
    """``P(|Z| > x)`` of the symmetric alpha-stable law (characteristic function ``exp(-|scale t|^alpha)``).

    Bergstrom's series, ``(2/pi) sum_k (-1)^(k+1) Gamma(alpha k) / k! sin(k pi alpha / 2) (x/scale)^(-alpha k)``
    (Zolotarev, *One-dimensional Stable Distributions*, 1986, sec. 2.4), convergent for alpha < 1 and
    asymptotic for alpha > 1 (6 terms agree with the Fourier inversion to 1e-9 relative at
    x = 10 scale, alpha 1.5). Its first term is the asymptote ``C_alpha (scale/x)^alpha``; the next ones
    are the finite-``x`` correction, so that tail checks need no bias allowance.
    """
    y = x / scale
    assert alpha < 1 or y >= 10, "the series is asymptotic for alpha > 1: use it at x >= 10 scale"
    k = np.arange(1, terms + 1)
    signs = np.where(k % 2 == 1, 1.0, -1.0)
    logs = [math.lgamma(alpha * kk) - math.lgamma(kk + 1) - alpha * kk * math.log(y) for kk in k]
    return float(2 / math.pi * np.sum(signs * np.exp(logs) * np.sin(k * math.pi * alpha / 2)))
