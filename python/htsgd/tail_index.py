"""Tail-index estimation: how heavy is a sample's tail, with a confidence interval.

Two estimators:

- ``method="hill"`` (scalars, or the norms of vectors): Hill's estimator on the ``k`` largest ``|x|``,
  ``1/alpha = mean_{i<=k} log(x_(i) / x_(k+1))`` (Hill 1975, Ann. Statist. 3, 1163), by default in the
  reduced-bias form of Caeiro, Gomes & Pestana (2005, REVSTAT 3, 113), which removes the leading bias that
  a body unlike a pure power law causes (the shifted Pareto law of :class:`htsgd.Pareto` biases the
  classical Hill estimate low by about 0.1 at ``alpha = 1.5``, n = 5000). ``k`` is the estimated
  mean-squared-error optimum of the classical estimator (Hall 1982); the percentile bootstrap interval
  redoes the whole estimate, choice of ``k`` included, on every resample.
- ``method="mohammadi"`` (vectors or scalars): the estimator of Mohammadi, Mohammadpour & Ogata (2015,
  Metrika 78, 549) used for SGD gradient noise by Simsekli, Sagun & Gurbuzbalaban (2019, ICML): split
  ``n = K1 * K2`` samples into ``K2`` blocks of ``K1``, ``Y_j`` the block sums, and
  ``1/alpha = (mean log|Y_j| - mean log|X_i|) / log K1``. Exact in expectation for symmetric alpha-stable
  laws (``sum of K1 = K1^(1/alpha) X``); for other laws in the domain of attraction it is biased, and it
  cannot exceed about 2 (a sum of finite-variance vectors grows like ``sqrt(K1)``): it answers
  "alpha < 2 or not", not "how light".

Gaussian or other light-tailed samples give Hill estimates that grow with the sample size (no power law
fits) and Mohammadi estimates near 2; :attr:`TailIndex.heavy_tailed` is ``True`` only when the whole
interval lies below 2 (an infinite variance resolved by the data).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import check_array, check_choice, check_int, check_interval

_MIN_K = 10  # fewest order statistics a Hill estimate uses


@dataclass(frozen=True)
class TailIndex:
    """What :func:`tail_index` returns.

    Attributes
    ----------
    alpha : float
        Point estimate of the tail index ``alpha`` (``P(|X| > x) ~ C x^-alpha``).
    ci_low, ci_high : float
        Percentile bootstrap interval of level ``confidence``.
    confidence : float
        Level of the interval.
    stderr : float
        Bootstrap standard deviation of the estimate.
    method : str
        ``"hill"`` or ``"mohammadi"``.
    k : int
        Hill: order statistics used (the estimated MSE-optimal ``k`` unless given). Mohammadi: block size ``K1``.
    n : int
        Samples used (non-zero values for Hill; ``K1 * K2`` for Mohammadi).
    """

    alpha: float
    ci_low: float
    ci_high: float
    confidence: float
    stderr: float
    method: str
    k: int
    n: int

    @property
    def heavy_tailed(self) -> bool:
        """``True`` when the whole interval lies below 2: the data resolve an infinite variance.

        (Mohammadi's estimate of finite-variance noise sits near 2 with an interval around it: ``False``.)
        """
        return self.ci_high < 2.0

    def covers(self, alpha: float) -> bool:
        """Whether ``alpha`` lies in the interval."""
        return self.ci_low <= alpha <= self.ci_high

    def __str__(self) -> str:
        return (f"alpha = {self.alpha:.3g} ({100 * self.confidence:g}% interval {self.ci_low:.3g}-{self.ci_high:.3g}; "
                f"{self.method}, k = {self.k}, n = {self.n})")


# ------------------------------------------------------------------------------------------------ Hill
def _second_order(logs_desc: np.ndarray) -> tuple[float, float]:
    """Second-order tail parameters ``(rho, beta)`` of ``U(t) = C t^(1/alpha) (1 + beta t^rho / rho + ...)``.

    ``rho`` by Fraga Alves, Gomes & de Haan (2003, Portugaliae Math. 60, 193; tau = 0) and ``beta`` by
    Gomes & Martins (2002, Extremes 5, 5), both at ``k1 = n^0.999`` order statistics, as in Caeiro, Gomes &
    Pestana (2005, REVSTAT 3, 113).
    """
    n = len(logs_desc)
    k1 = min(int(n ** 0.999), n - 1)
    spacings = logs_desc[:k1] - logs_desc[k1]
    m1, m2, m3 = (float(np.mean(spacings ** j)) for j in (1, 2, 3))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (math.log(m1) - 0.5 * math.log(m2 / 2)) / (0.5 * math.log(m2 / 2) - math.log(m3 / 6) / 3)
        rho = -abs(3 * (t - 1) / (t - 3))
    if not math.isfinite(rho) or rho == 0:
        return -1.0, 0.0
    i = np.arange(1, k1 + 1)
    scaled = i * (logs_desc[:k1] - logs_desc[1:k1 + 1])  # i * (log X_(i) - log X_(i+1))

    def d(a: float) -> float:
        return float(np.mean((i / k1) ** (-a)))

    def dd(a: float) -> float:
        return float(np.mean((i / k1) ** (-a) * scaled))

    denom = d(rho) * dd(rho) - dd(2 * rho)
    beta = (k1 / n) ** rho * (d(rho) * dd(0) - dd(rho)) / denom if denom != 0 else 0.0
    return rho, (beta if math.isfinite(beta) else 0.0)


def _hill(logs_desc: np.ndarray, k: int | None, reduce_bias: bool) -> tuple[float, int]:
    """Hill estimate of ``alpha`` (reduced-bias when asked) and the ``k`` used.

    ``k=None`` takes the ``k`` that minimises the asymptotic mean squared error of the Hill estimator,
    ``((1 - rho)^2 n^(-2 rho) / (-2 rho beta^2))^(1/(1 - 2 rho))`` (Hall 1982; clipped to ``[10, n/2]``).
    The reduced-bias estimator divides ``1/alpha`` by the leading bias term:
    ``H(k) (1 - beta / (1 - rho) (n/k)^rho)`` (Caeiro, Gomes & Pestana 2005).
    """
    n = len(logs_desc)
    rho, beta = _second_order(logs_desc) if (reduce_bias or k is None) else (-1.0, 0.0)
    if k is None:
        k0 = ((1 - rho) ** 2 * n ** (-2 * rho) / (-2 * rho * beta ** 2)) ** (1 / (1 - 2 * rho)) if beta else n / 2
        k = int(min(max(k0, _MIN_K), n // 2))
    h = float(np.mean(logs_desc[:k]) - logs_desc[k])
    if reduce_bias:
        h *= 1.0 - beta / (1.0 - rho) * (n / k) ** rho
    return (1.0 / h if h > 0 else math.inf), k


# ------------------------------------------------------------------------------------------- Mohammadi
def _mohammadi(norms_log: np.ndarray, block_logs: np.ndarray, k1: int) -> float:
    """``1/alpha = (mean log|Y| - mean log|X|) / log K1``; returns ``alpha`` (inf when the difference is <= 0)."""
    d = (float(np.mean(block_logs)) - float(np.mean(norms_log))) / math.log(k1)
    return 1.0 / d if d > 0 else math.inf


def _block_logs(x: np.ndarray, k1: int) -> np.ndarray:
    y = x.reshape(-1, k1, x.shape[1]).sum(axis=1)
    return np.log(np.linalg.norm(y, axis=1) + np.finfo(float).tiny)


# ------------------------------------------------------------------------------------------------- API
def tail_index(samples: Any, *, method: str = "auto", k: int | None = None, confidence: float = 0.9,
               n_bootstrap: int = 200, reduce_bias: bool = True, rng: Any = None) -> TailIndex:
    """Estimate the tail index ``alpha`` of ``samples`` with a bootstrap confidence interval.

    Parameters
    ----------
    samples : array_like, shape (n,) or (n, d)
        Scalars (the tail of ``|x|`` is estimated) or ``n`` vectors of dimension ``d`` (Hill uses their
        Euclidean norms; Mohammadi sums them in blocks). Finite numbers, ``n >= 50``.
    method : {"auto", "hill", "mohammadi"}
        ``"auto"``: Hill for scalars (or ``d == 1``), Mohammadi for vectors.
    k : int, optional
        Hill: number of order statistics (default: the estimated MSE optimum, redone on each resample).
        Mohammadi: block size ``K1`` (default ``floor(sqrt(n))``; ``K2 = n // K1`` blocks).
    confidence : float
        Level of the percentile bootstrap interval, in (0, 1).
    n_bootstrap : int
        Bootstrap resamples (>= 20).
    reduce_bias : bool
        Hill: apply the second-order bias correction (default ``True``).
    rng : int, numpy Generator or SeedSequence, optional
        Seed of the bootstrap.

    Returns
    -------
    TailIndex
        ``alpha``, ``ci_low``, ``ci_high``, ``stderr``, ``k``, ``n``; ``heavy_tailed`` and ``covers(alpha)``.
    """
    x = check_array("samples", samples, ndim=(1, 2))
    method = check_choice("method", method, ("auto", "hill", "mohammadi"))
    confidence = check_interval("confidence", confidence, 0.0, 1.0, lo_open=True, hi_open=True)
    n_bootstrap = check_int("n_bootstrap", n_bootstrap, minimum=20)
    if x.shape[0] < 50:
        raise ValueError(f"Invalid samples: {x.shape[0]} samples; expected at least 50")
    if x.ndim == 2 and x.shape[1] == 0:
        raise ValueError(f"Invalid samples: shape {x.shape}; expected vectors of dimension >= 1")
    if method == "auto":
        method = "mohammadi" if x.ndim == 2 and x.shape[1] > 1 else "hill"
    gen = np.random.default_rng(rng)
    if method == "hill":
        return _hill_index(x, k, confidence, n_bootstrap, bool(reduce_bias), gen)
    return _mohammadi_index(x, k, confidence, n_bootstrap, gen)


def _interval(point: float, boot: np.ndarray, confidence: float, method: str, k: int, n: int) -> TailIndex:
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(boot, [tail, 1.0 - tail])
    finite = boot[np.isfinite(boot)]
    sd = float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan
    return TailIndex(float(point), float(lo), float(hi), confidence, sd, method, int(k), int(n))


def _hill_index(x: np.ndarray, k: int | None, confidence: float, n_boot: int, reduce_bias: bool,
                gen: np.random.Generator) -> TailIndex:
    mags = np.abs(x) if x.ndim == 1 else np.linalg.norm(x, axis=1)
    mags = mags[mags > 0]
    n = len(mags)
    if n < 50:
        raise ValueError(f"Invalid samples: {n} non-zero values; expected at least 50")
    if k is not None:
        k = check_int("k", k, minimum=2, maximum=n - 1)
    logs = np.sort(np.log(mags))[::-1]
    alpha, k_used = _hill(logs, k, reduce_bias)
    boot = np.empty(n_boot)
    for b in range(n_boot):
        boot[b] = _hill(np.sort(logs[gen.integers(0, n, n)])[::-1], k, reduce_bias)[0]
    return _interval(alpha, boot, confidence, "hill", k_used, n)


def _mohammadi_index(x: np.ndarray, k1: int | None, confidence: float, n_boot: int,
                     gen: np.random.Generator) -> TailIndex:
    x = x.reshape(len(x), -1)
    k1 = int(math.isqrt(len(x))) if k1 is None else check_int("k", k1, minimum=2, maximum=len(x) // 2)
    n = (len(x) // k1) * k1
    x = x[:n]
    logs = np.log(np.linalg.norm(x, axis=1) + np.finfo(float).tiny)
    alpha = _mohammadi(logs, _block_logs(x, k1), k1)
    boot = np.empty(n_boot)
    for b in range(n_boot):
        idx = gen.integers(0, n, n)
        boot[b] = _mohammadi(logs[idx], _block_logs(x[idx], k1), k1)
    return _interval(alpha, boot, confidence, "mohammadi", k1, n)
