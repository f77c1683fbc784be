"""phi_b over extreme inputs (hypothesis): ``|phi_b(w)| <= b`` for every row, infinite components included;
a row with a NaN component becomes NaN; rows within ``b`` are left bit for bit; the direction is kept."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from htsgd import truncate

extreme = st.one_of(st.floats(allow_nan=False), st.sampled_from([math.inf, -math.inf, 0.0, -0.0, 5e-324, 1e308]))
rows = hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 6)), elements=extreme)
thresholds = st.one_of(st.floats(5e-324, 1e308), st.sampled_from([1e-300, 1.0, 1e300]))


def _norm(w: np.ndarray) -> np.ndarray:
    m = np.max(np.abs(w), axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # a norm above DBL_MAX is inf
        return np.where(m[:, 0] > 0, m[:, 0] * np.linalg.norm(w / np.where(m > 0, m, 1.0), axis=1), 0.0)


@given(w=rows, b=thresholds)
def test_norm_clip_bounds_every_row(w, b):
    out = truncate(w, b)
    assert np.all(np.isfinite(out))
    assert np.all(_norm(out) <= b * (1 + 4e-16) + 5e-324)
    norm = _norm(w)
    small = norm <= b
    assert np.array_equal(out[small], w[small])  # left bit for bit
    inf_rows = np.any(np.isinf(w), axis=1)
    assert np.all(np.sign(out[inf_rows]) == np.where(np.isinf(w[inf_rows]), np.sign(w[inf_rows]), 0.0))
    big = ~small & ~inf_rows
    with np.errstate(under="ignore"):
        assert np.all(np.sign(out[big]) * np.sign(w[big]) >= 0)  # same direction (underflow may give 0)


@given(w=rows, b=thresholds, j=st.integers(0, 5))
def test_nan_component_makes_the_row_nan(w, b, j):
    w = w.copy()
    w[0, j % w.shape[1]] = math.nan
    out = truncate(w, b)
    assert np.all(np.isnan(out[0]))
    assert np.all(np.isfinite(out[1:]))


@given(w=rows, b=thresholds)
def test_coordinate_clip_bounds_every_coordinate(w, b):
    out = truncate(w, b, clip="coordinate")
    assert np.all(np.abs(out) <= b)
    assert np.array_equal(out[np.abs(w) <= b], w[np.abs(w) <= b])


@given(x=extreme, b=thresholds)
def test_scalar_clip(x, b):
    out = float(truncate(x, b))
    assert abs(out) <= b and (abs(x) > b or out == x)
    assert math.isnan(float(truncate(math.nan, b)))
    assert float(truncate(x, None)) == x  # untruncated: the identity, infinities included
