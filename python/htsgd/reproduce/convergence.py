"""Convergence of a measured constant to its asymptotic value, against ``asymptotic_regime_indicator``.

The asymptotic constants of the theory (``q`` of the exit time, the generator ``Q``) hold in the limit where
moderate jumps are rare within one relaxation time; ``theory.asymptotic_regime_indicator`` measures how far a
setting is from it (about ``scale^alpha lr^(alpha - 1)``). The studies here measure measured / theory over a
series of learning rates and a series of noise scales far smaller than direct simulation reaches (the
importance sampler of :mod:`htsgd.rare_event` there, direct simulation where it is cheap, both on an overlap),
and fit ``1 - ratio = c * indicator^gamma`` where the gap is resolved.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

import numpy as np

from ..dynamics import HeavyTailedSGD

#: Marker and line style per series (the learning-rate series at the default scale, the scale series).
SERIES_STYLE = {"lr": ("s", ":"), "scale": ("o", "-")}


def importance_mean_exit_time(sgd: HeavyTailedSGD, basin: Any, n_samples: int, horizons: tuple[float, float],
                              seed: Any, threads: int | None) -> tuple[float, float, str]:
    """Mean exit time (steps), its standard error and a caveat, by the two-horizon importance estimator.

    ``horizons`` are in units of ``1/lr`` steps (ODE time). The estimator's warnings are recorded, not raised:
    "p(T2) is not small" is expected at the overlap with direct simulation (compared there on purpose), and
    "the largest weight is ...% of the sum" (the error bar is not to be trusted) is returned as the caveat,
    which the tables print beside the point.
    """
    lr = sgd.lr
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = sgd.mean_exit_time(basin.minimum, (basin.lo, basin.hi), method="importance", n_samples=n_samples,
                               horizons=(max(1, round(horizons[0] / lr)), max(2, round(horizons[1] / lr))),
                               rng=seed, n_threads=threads)
    notes = sorted({str(w.message).split(":")[0] for w in caught if "largest weight" in str(w.message)})
    return float(m.value), float(m.stderr), "; ".join(notes)


def direct_mean_exit_time(sgd: HeavyTailedSGD, basin: Any, n_exits: int, max_steps: int, seed: Any,
                          threads: int | None) -> tuple[float, float, str]:
    """Mean exit time (steps), its standard error (censoring-aware) and a caveat (censored exits, if any)."""
    et = sgd.exit_times(basin.minimum, (basin.lo, basin.hi), n_exits, max_steps, rng=seed, n_threads=threads)
    m = et.mean()
    return float(m.value), float(m.stderr), (f"{et.n_censored} censored" if et.n_censored else "")


def fit_gap(indicators: Sequence[float], ratios: Sequence[float], stderrs: Sequence[float],
            min_z: float = 2.0) -> dict:
    """Weighted fit of ``log(1 - ratio) = log c + gamma log(indicator)`` over the points with a resolved gap.

    A point enters when its gap ``1 - ratio`` exceeds ``min_z`` standard errors (elsewhere ``log`` of the gap
    is noise). Weights: ``(gap / stderr)^2`` (delta method).

    Returns
    -------
    dict
        ``gamma``, ``gamma_stderr``, ``c``, ``points`` (number used); NaN when fewer than 3 points qualify.
    """
    ind, r, se = (np.asarray(v, dtype=float) for v in (indicators, ratios, stderrs))
    gap = 1.0 - r
    ok = (gap > min_z * se) & (se > 0)
    if np.count_nonzero(ok) < 3:
        return {"gamma": math.nan, "gamma_stderr": math.nan, "c": math.nan, "points": int(np.count_nonzero(ok))}
    x, y, w = np.log(ind[ok]), np.log(gap[ok]), (gap[ok] / se[ok]) ** 2
    xm, ym = np.sum(w * x) / w.sum(), np.sum(w * y) / w.sum()
    sxx = np.sum(w * (x - xm) ** 2)
    gamma = float(np.sum(w * (x - xm) * (y - ym)) / sxx)
    return {"gamma": gamma, "gamma_stderr": float(1.0 / math.sqrt(sxx)), "c": float(math.exp(ym - gamma * xm)),
            "points": int(np.count_nonzero(ok))}


def ratio_panel(ax: Any, pts: list[dict], groups: Sequence[tuple[str, str, str]], *, title: str,
                ylabel: str) -> None:
    """Measured / theory against the indicator (log x), one colour per group and one marker per series.

    ``groups``: ``(key value, label, colour)`` with ``pts[i]["group"]`` the key; direct-simulation points are
    open markers, importance-sampling points filled.
    """
    for key, label, col in groups:
        for series, (mk, ls) in SERIES_STYLE.items():
            sel = sorted((p for p in pts if p["group"] == key and p["series"] == series), key=lambda p: p["indicator"])
            for method, fill in (("importance", col), ("direct", "white")):
                s = [p for p in sel if p["method"] == method]
                if s:
                    ax.errorbar([p["indicator"] for p in s], [p["ratio"] for p in s],
                                yerr=[p["ratio_stderr"] for p in s], fmt=mk, color=col, mfc=fill, ms=4, lw=0.9)
            imp = [p for p in sel if p["method"] == "importance"]
            if imp:
                ax.plot([p["indicator"] for p in imp], [p["ratio"] for p in imp], ls, color=col, lw=0.8,
                        label=f"{label}, {'noise-scale' if series == 'scale' else 'lr'} series")
    ax.axhline(1.0, color="0.3", ls="--", lw=0.9)
    ax.set(xscale="log", xlabel="asymptotic_regime_indicator (moderate jumps per relaxation time)", ylabel=ylabel)
    ax.invert_xaxis()  # toward the asymptotic regime, left to right
    ax.set_title(title, loc="left")
