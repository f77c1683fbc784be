"""Sharpness metrics on a quadratic with a known Hessian; parameters are left exactly as found."""
import math

import pytest

torch = pytest.importorskip("torch")

import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from htsgd.torch import expected_sharpness, hessian_trace, top_hessian_eigenvalue  # noqa: E402
from stats_helpers import assert_resolves, assert_z  # noqa: E402


def quadratic(seed=0, d=12):
    """L(x, y) = 1/2 [x; y]^T A [x; y] split over two parameter tensors, A symmetric with a known spectrum."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    eig = torch.linspace(0.1, 2.0, d, dtype=torch.float64)
    eig[-1] = 5.0  # a well separated top eigenvalue
    a = q @ torch.diag(eig) @ q.T
    x = torch.nn.Parameter(torch.randn(d - 4, generator=g, dtype=torch.float64))
    y = torch.nn.Parameter(torch.randn(2, 2, generator=g, dtype=torch.float64))

    def loss():
        v = torch.cat([x.ravel(), y.ravel()])
        return 0.5 * v @ a @ v

    return [x, y], loss, a, eig


def test_hessian_trace_within_its_error():
    params, loss, a, eig = quadratic()
    est = hessian_trace(params, loss, n_samples=400, seed=1)
    off = a - torch.diag(torch.diag(a))
    sd = math.sqrt(2 * float((off**2).sum()))  # Hutchinson's per-sample standard deviation
    assert est.n == 400
    # the reported stderr is s / sqrt(n); the sample sd s has relative standard error sqrt((kurtosis - 1) / 4n),
    # the kurtosis of the Rademacher quadratic form v^T A v taken from an independent numpy draw of 10^5 of them
    v = np.random.default_rng(0).choice([-1.0, 1.0], size=(100_000, a.shape[0]))
    kurtosis = stats.kurtosis(np.einsum("ni,ij,nj->n", v, a.numpy(), v), fisher=False)
    assert_z(est.stderr, sd / math.sqrt(400) * math.sqrt((kurtosis - 1) / (4 * 400)), sd / math.sqrt(400),
             what="Hutchinson stderr")
    assert_z(est.value, est.stderr, float(eig.sum()), what="Hutchinson trace")


def test_hessian_trace_of_a_diagonal_hessian_is_exact():
    x = torch.nn.Parameter(torch.ones(5, dtype=torch.float64))
    d = torch.arange(1.0, 6.0, dtype=torch.float64)
    est = hessian_trace([x], lambda: 0.5 * (d * x**2).sum(), n_samples=3, seed=0)
    assert est.value == pytest.approx(15.0, rel=1e-14) and est.stderr == 0.0


def test_top_eigenvalue_within_its_residual():
    params, loss, _, eig = quadratic()
    est = top_hessian_eigenvalue(params, loss, tol=1e-8, max_iter=500, seed=2)
    assert est.converged
    assert abs(est.value - 5.0) <= est.residual + 1e-12
    assert est.residual <= 1e-8 * 5.0


def test_expected_sharpness_of_a_quadratic():
    # at the minimum, L(nu) = 1/2 nu^T A nu and E|.| = delta^2 tr(A) / 2
    params, loss, _, eig = quadratic()
    with torch.no_grad():
        for p in params:
            p.zero_()
    delta = 0.01
    est = expected_sharpness(params, loss, delta=delta, n_samples=2000, seed=3)
    expected = delta**2 * float(eig.sum()) / 2
    assert_z(est.value, est.stderr, expected, what="expected sharpness")
    assert_resolves(est.stderr, 0.1 * expected, "expected sharpness")  # an error of 10% would fail


@pytest.mark.parametrize("fn, kwargs", [(expected_sharpness, {"n_samples": 5}), (hessian_trace, {"n_samples": 5}),
                                        (top_hessian_eigenvalue, {"max_iter": 5})])
def test_parameters_and_grads_are_left_as_found(fn, kwargs):
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    x, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
    for p in model.parameters():
        p.grad = torch.full_like(p, 7.0)
    before = [p.detach().clone() for p in model.parameters()]
    fn(model, lambda: torch.nn.functional.cross_entropy(model(x), y), seed=0, **kwargs)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))
    assert all(torch.equal(p.grad, torch.full_like(p, 7.0)) for p in model.parameters())


def test_parameters_restored_when_the_loss_raises():
    x = torch.nn.Parameter(torch.ones(3))
    calls = []

    def loss():
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("boom")
        return (x**2).sum()

    with pytest.raises(RuntimeError, match="boom"):
        expected_sharpness([x], loss, seed=0)
    assert torch.equal(x.detach(), torch.ones(3))


def test_seeded_and_validated():
    params, loss, _, _ = quadratic()
    a = expected_sharpness(params, loss, n_samples=5, seed=4)
    b = expected_sharpness(params, loss, n_samples=5, generator=torch.Generator().manual_seed(0))
    assert a == expected_sharpness(params, loss, n_samples=5, seed=4) and a != b
    with pytest.raises(ValueError, match="Invalid delta: -1"):
        expected_sharpness(params, loss, delta=-1)
    with pytest.raises(ValueError, match="Invalid n_samples: 0"):
        hessian_trace(params, loss, n_samples=0)
    with pytest.raises(ValueError, match="requires_grad"):
        hessian_trace([torch.zeros(2)], loss)
    with pytest.raises(TypeError, match="Invalid loss_fn"):
        hessian_trace(params, lambda: 1.0)


@pytest.mark.parametrize("fn", [expected_sharpness, hessian_trace, top_hessian_eigenvalue])
def test_seed_and_generator_together_are_rejected(fn):
    params, loss, _, _ = quadratic()
    with pytest.raises(ValueError, match="either a generator or a seed"):
        fn(params, loss, seed=1, generator=torch.Generator().manual_seed(0))
