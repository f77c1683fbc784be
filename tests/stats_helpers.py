"""Tolerances for statistical tests, derived from the CLT (see shared/style.md): z = 6 sigma bands."""
import math

import numpy as np

Z = 6.0


def binomial_band(p: float, n: int, z: float = Z) -> float:
    """Half-width of a z-sigma band for an empirical frequency of probability p over n draws."""
    assert 0 < p < 1 and n > 0
    return z * math.sqrt(p * (1 - p) / n)


def assert_frequency(hits: int, n: int, p: float, z: float = Z, what: str = "") -> None:
    band = binomial_band(p, n, z)
    # The band must be meaningful: narrower than the probability it tests.
    assert band < p, f"band {band:.3g} too wide for p={p:.3g}; increase n"
    assert abs(hits / n - p) <= band, f"{what}: frequency {hits / n:.6g} vs p={p:.6g} (band {band:.3g})"


def frequency_above(samples: np.ndarray, x: float) -> int:
    return int(np.count_nonzero(np.abs(samples) > x))
