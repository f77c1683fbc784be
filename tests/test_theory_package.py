"""htsgd.theory as a package of small modules: names kept, dependencies pointing down, tiny lr answered."""
from __future__ import annotations

import ast
import math
import pathlib

import numpy as np
import pytest

import htsgd
from htsgd import basins, theory
from htsgd.landscapes import DoubleWell

PKG = pathlib.Path(htsgd.__file__).parent
ALLOWED = {"numpy", "scipy", "__future__", "math", "numbers", "dataclasses", "fractions", "typing"}


def test_public_names_are_kept_and_basins_live_beside_the_landscapes():
    for name in theory.__all__:
        assert hasattr(theory, name), name
    assert theory.Basin is basins.Basin and htsgd.landscapes.Basin is basins.Basin
    assert theory.find_basins is basins.find_basins
    assert theory.basins_from_critical_points is basins.basins_from_critical_points
    assert DoubleWell().basins()[0] == theory.Basin(-1.0, -math.inf, 0.0)


@pytest.mark.parametrize("path", sorted((PKG / "theory").glob("*.py")) + [PKG / "basins.py"],
                         ids=lambda p: p.name)
def test_theory_depends_only_on_numpy_scipy_and_validation(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots = {a.name.split(".")[0] for a in node.names}
            assert roots <= ALLOWED, (path.name, roots)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                assert node.module.split(".")[0] in ALLOWED, (path.name, node.module)
            else:  # relative: only _validation, basins and the theory package itself
                target = node.module or ""
                assert target in {"_validation", "basins"} or node.level == 1 and path.parent.name == "theory", \
                    (path.name, target)
    assert len(path.read_text().splitlines()) < 500


class _Lomax:
    """P(|Z| > x) = (1 + x/scale)^-alpha, written here so that the test does not use the simulator."""

    def __init__(self, alpha, scale):
        self.alpha, self.scale = alpha, scale

    def tail(self, x):
        return (1.0 + np.asarray(x, dtype=float) / self.scale) ** -self.alpha


BASIN = theory.Basin(1.0, 0.0, math.inf)


def _log_prediction_l1(noise, lr):
    """log(1 / (q lambda_b(lr))) for l* = 1, in closed form: q = 0.5 r^-alpha (r = 1, one side)."""
    log_h = noise.alpha * (math.log(lr) + math.log(noise.scale) - math.log1p(lr * noise.scale))
    return -math.log(0.5) - log_h


@pytest.mark.parametrize("lr", [1e-3, 1e-100, 1e-150])
def test_predicted_mean_exit_time_at_small_lr_is_the_closed_form(lr):
    noise = _Lomax(1.5, 0.2)
    got = theory.predicted_mean_exit_time(BASIN, noise, lr, 1.5)
    assert math.log(got) == pytest.approx(_log_prediction_l1(noise, lr), rel=1e-12)


@pytest.mark.parametrize("lr", [1e-250, 1e-300, 5e-324])
def test_predicted_mean_exit_time_overflows_to_inf_not_an_exception(lr):
    noise = _Lomax(1.5, 0.2)
    assert _log_prediction_l1(noise, lr) > math.log(1.7976931348623157e308)  # the answer is beyond floats
    assert theory.predicted_mean_exit_time(BASIN, noise, lr, 1.5) == math.inf


def test_predicted_mean_exit_time_when_only_the_product_underflows():
    # H(1/lr) ~ 1e-160 is a float but lambda_b = lr (H/lr)^2 underflows: the log-space answer is finite
    noise, lr = _Lomax(1.5, 1.0), 1e-107
    basin = theory.Basin(0.0, -0.3, 0.3)   # r = 0.3, b = 0.2: l* = 2
    got = theory.predicted_mean_exit_time(basin, noise, lr, 0.2, grad=lambda x: x)
    q = theory.exit_constant(basin, 1.5, 0.2, grad=lambda x: x)
    log_h = -1.5 * math.log1p(1.0 / lr)
    expected = -math.log(q) - (math.log(lr) + 2 * (log_h - math.log(lr)))
    assert math.isfinite(got) and math.log(got) == pytest.approx(expected, rel=1e-12)


def test_tail_that_underflows_with_a_finite_answer_is_a_clear_error():
    # a tail that drops to 0 beyond 1e20 while q ~ 1e150: the mean it bounds would be a finite float
    noise = _Lomax(1.5, 1.0)
    noise.tail = lambda x: np.where(np.asarray(x) > 1e20, 0.0, 1.0 / (1.0 + np.asarray(x)))
    with pytest.raises(ValueError, match="Invalid lr: 1e-30; the noise tail H\\(1/lr\\) underflows"):
        theory.predicted_mean_exit_time(theory.Basin(0.0, -1e-100, 1e-100), noise, 1e-30, None)


@pytest.mark.parametrize("lr", [1e-300, 5e-324])
def test_rates_at_tiny_lr_are_numbers(lr):
    noise = _Lomax(1.5, 0.2)
    assert theory.jump_rate(noise, lr) == 0.0            # H(1/lr)/lr underflows
    assert theory.exit_rate_scale(noise, lr, 3) == 0.0
    assert theory.asymptotic_regime_indicator(BASIN, noise, lr, 1.0) == 0.0


def test_exit_rate_scale_overflow_is_inf():
    flat = lambda x: np.full_like(np.asarray(x, dtype=float), 0.5)  # noqa: E731  (H = 1/2 everywhere)
    assert theory.exit_rate_scale(flat, 1e-300, 3) == math.inf
    assert theory.asymptotic_regime_indicator(BASIN, flat, 1e-200, 1e-200) == math.inf
