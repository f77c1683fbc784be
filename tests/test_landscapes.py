"""Landscapes: values and gradients against closed forms, critical points, basins."""
import math

import numpy as np
import pytest
from numpy.polynomial import polynomial as P

from htsgd import landscapes as L

X = np.linspace(-3, 3, 601)


def test_double_well():
    dw = L.DoubleWell()
    np.testing.assert_allclose(dw.value(X), (X**2 - 1) ** 2 / 4, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dw.grad(X), X**3 - X, rtol=1e-12, atol=1e-12)
    assert list(dw.minima) == [-1.0, 1.0] and list(dw.maxima) == [0.0]
    (b,) = dw.basins(domain=(0.0, math.inf))
    assert (b.minimum, b.lo, b.hi, b.width) == (1.0, 0.0, math.inf, 1.0)
    assert [bb.minimum for bb in dw.basins()] == [-1.0, 1.0]


def test_polynomial_matches_numpy():
    c = [0.3, -1.0, 0.2, 0.5, 0.1]
    f = L.Polynomial(c)
    np.testing.assert_allclose(f.value(X), P.polyval(X, c), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(f.grad(X), P.polyval(X, P.polyder(c)), rtol=1e-12, atol=1e-12)
    for m in f.minima:
        assert abs(f.grad(np.array([m]))[0]) < 1e-9
    assert f.value(np.float64(0.0)).shape == ()


def test_critical_points_exact_placement():
    pts = [-2.0, -0.9, 0.0, 0.4, 1.7]
    f = L.CriticalPoints(pts, scale=2.0)
    expected = 2.0 * np.prod([X - c for c in pts], axis=0)
    np.testing.assert_allclose(f.grad(X), expected, rtol=1e-12, atol=1e-12)
    assert np.all(f.grad(np.array(pts)) == 0.0)
    assert list(f.minima) == [-2.0, 0.0, 1.7] and list(f.maxima) == [-0.9, 0.4]
    assert min(f.value(f.minima)) == pytest.approx(0.0, abs=1e-12)
    widths = [b.width for b in f.basins()]
    assert widths == pytest.approx([1.1, 0.4, 1.3])
    # value is an antiderivative of grad
    h = 1e-6
    np.testing.assert_allclose((f.value(X + h) - f.value(X - h)) / (2 * h), f.grad(X), rtol=1e-5, atol=1e-5)


def test_tabulated_interpolates_and_finds_zeros():
    grid = np.linspace(-2, 2, 41)
    g = grid**3 - grid
    f = L.Tabulated(grid, g)
    inner = np.linspace(-1.99, 1.99, 97)
    np.testing.assert_allclose(f.grad(inner), np.interp(inner, grid, g), rtol=1e-12, atol=1e-12)
    assert f.critical_points == pytest.approx([-1.0, 0.0, 1.0], abs=1e-12)
    assert list(f.minima) == pytest.approx([-1.0, 1.0])
    # value: exact integral of the interpolant from grid[0]
    np.testing.assert_allclose(f.value(grid), np.concatenate([[0], np.cumsum((g[1:] + g[:-1]) / 2 * 0.1)]),
                               rtol=1e-12, atol=1e-12)
    # linear extension outside the grid
    slope = (g[-1] - g[-2]) / (grid[-1] - grid[-2])
    assert f.grad(np.array([3.0]))[0] == pytest.approx(g[-1] + slope * 1.0)


def test_quadratic_and_separable():
    h = np.array([[2.0, 0.5], [0.5, 1.0]])
    q = L.Quadratic(h, center=[1.0, -1.0])
    x = np.random.default_rng(0).normal(size=(50, 2))
    np.testing.assert_allclose(q.grad(x), (x - [1.0, -1.0]) @ h, rtol=1e-12)
    np.testing.assert_allclose(q.value(x), 0.5 * np.einsum("ni,ij,nj->n", x - [1, -1], h, x - [1, -1]), rtol=1e-12)
    assert q.grad(np.array([1.0, -1.0])).shape == (2,)
    s = L.Separable(L.DoubleWell(), 2)
    np.testing.assert_allclose(s.grad(x), x**3 - x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s.value(x), ((x**2 - 1) ** 2 / 4).sum(axis=1), rtol=1e-12, atol=1e-12)
    assert s.minima.tolist() == [[-1, -1], [1, -1], [-1, 1], [1, 1]]


@pytest.mark.parametrize("make,exc,match", [
    (lambda: L.Polynomial([1.0, np.nan]), ValueError, "Invalid coefficients"),
    (lambda: L.Polynomial([]), ValueError, "Invalid coefficients"),
    (lambda: L.Polynomial([[1.0, 2.0]]), ValueError, "Invalid coefficients"),
    (lambda: L.Polynomial(["a"]), TypeError, "Invalid coefficients"),
    (lambda: L.CriticalPoints([0.0, 1.0]), ValueError, "Invalid points"),
    (lambda: L.CriticalPoints([1.0, 0.0, 2.0]), ValueError, "Invalid points"),
    (lambda: L.CriticalPoints([0.0, np.inf, 2.0]), ValueError, "Invalid points"),
    (lambda: L.CriticalPoints([-1.0, 0.0, 1.0], scale=-1.0), ValueError, "Invalid scale"),
    (lambda: L.Tabulated([0.0, 1.0], [1.0]), ValueError, "Invalid grad"),
    (lambda: L.Tabulated([1.0, 0.0], [1.0, 2.0]), ValueError, "Invalid x"),
    (lambda: L.Tabulated([0.0], [1.0]), ValueError, "Invalid x"),
    (lambda: L.Quadratic([[1.0, 2.0], [0.0, 1.0]]), ValueError, "Invalid hessian"),
    (lambda: L.Quadratic([[1.0, 0.0]]), ValueError, "Invalid hessian"),
    (lambda: L.Quadratic(np.eye(2), center=[0.0]), ValueError, "Invalid center"),
    (lambda: L.Separable(L.Quadratic(np.eye(2)), 2), TypeError, "Invalid component"),
    (lambda: L.Separable(L.DoubleWell(), 0), ValueError, "Invalid dim"),
    (lambda: L.Quadratic(np.eye(2)).grad(np.zeros((3, 3))), ValueError, "Invalid x"),
])
def test_landscape_validation(make, exc, match):
    with pytest.raises(exc, match=match):
        make()
