"""phi_b in the torch optimizer for extreme steps, as the simulator's truncate_norm
(cpp/include/htsgd/truncation.hpp): |step| <= b for infinite components and for norms beyond the float range,
a NaN component makes the truncated step NaN (every tensor of the norm; per tensor with clip="tensor"; per
coordinate with clip="coordinate"), ordinary steps bit for bit as the plain formula. Every test runs both
builds of the repair: "host" (CPU: the coefficient is read back, the repair runs when needed) and "device"
(computed on the device and selected with torch.where, the path CUDA takes).

Tolerances on |step| <= b: a few units in the last place of the parameters' dtype (the factor and the product
are rounded in that dtype): 2^-50 for float64, 2^-21 for float32, 2^-6 for bfloat16.
"""
from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import htsgd.torch.truncation as truncation  # noqa: E402
from htsgd.torch import HeavyTailedSGD, heavy_tailed_sgd  # noqa: E402
from htsgd.torch.truncation import phi_b  # noqa: E402

INF, NAN = math.inf, math.nan
DTYPES = [torch.float64, torch.float32, torch.bfloat16]
HUGE = {torch.float64: 1e200, torch.float32: 1e30, torch.bfloat16: 1e30}  # squares overflow the norm dtype
TOL = {torch.float64: 2.0 ** -50, torch.float32: 2.0 ** -21, torch.bfloat16: 2.0 ** -6}


@pytest.fixture(params=["host", "device"], autouse=True)
def build(request, monkeypatch):
    monkeypatch.setattr(truncation, "HOST_CHECK_ON_CPU", request.param == "host")
    return request.param


def _params(dtype, grads):
    params = [torch.zeros(len(g), dtype=dtype, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g, dtype=torch.float64).to(dtype)
    return params


def _step(dtype, grads, *, b=1.0, lr=0.5, clip="norm", foreach=False, momentum=0.0):
    params = _params(dtype, grads)
    opt = HeavyTailedSGD(params, lr=lr, noise=None, truncation=b, clip=clip, foreach=foreach, momentum=momentum)
    opt.step()
    return [p.detach().double() for p in params], opt


def _norm(steps):
    m = max((float(s.abs().max()) for s in steps if s.numel()), default=0.0)
    if m == 0 or math.isnan(m):
        return m
    return m * math.sqrt(sum(float(((s / m) ** 2).sum()) for s in steps))


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("clip", ["norm", "global", "tensor"])
def test_infinite_components_give_length_b_along_them(dtype, clip, foreach):
    steps, opt = _step(dtype, [[INF, 1.0, -2.0], [-INF, 3.0]], b=2.0, clip=clip, foreach=foreach)
    share = 2.0 / math.sqrt(2) if clip != "tensor" else 2.0  # equal shares of b over the infinite components
    assert steps[0][0].item() == pytest.approx(-share, rel=TOL[dtype])  # the step is -lr * grad: signs kept
    assert steps[1][0].item() == pytest.approx(share, rel=TOL[dtype])
    assert torch.all(steps[0][1:] == 0) and torch.all(steps[1][1:] == 0)
    if clip != "tensor":
        assert _norm(steps) <= 2.0 * (1 + TOL[dtype])
        assert math.isinf(opt.last_step_norm.item())


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("clip", ["norm", "tensor"])
def test_overflowing_norm_is_clipped_in_its_direction(dtype, clip, foreach):
    h = HUGE[dtype]
    grads = [[h, -h, h / 2], [h, 0.0]]
    steps, opt = _step(dtype, grads, b=3.0, clip=clip, foreach=foreach)
    exact = [torch.tensor(g, dtype=torch.float64).to(dtype).double() for g in grads]
    units = [(exact, steps)] if clip == "norm" else [([e], [s]) for e, s in zip(exact, steps)]
    for e_unit, s_unit in units:
        n = _norm(e_unit)
        assert _norm(s_unit) == pytest.approx(3.0, rel=TOL[dtype])
        assert _norm(s_unit) <= 3.0 * (1 + TOL[dtype])
        for e, s in zip(e_unit, s_unit):  # the direction of -grad
            assert torch.allclose(s, -3.0 * (e / n), rtol=TOL[dtype], atol=3.0 * TOL[dtype])
    if clip == "norm":  # the norm of lr * grad, computed on a scaled copy (its square overflows)
        assert opt.last_step_norm.item() == pytest.approx(0.5 * _norm(exact), rel=TOL[dtype])


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_component(dtype, foreach):
    grads = [[1.0, NAN, INF], [2.0, 3.0]]
    steps, opt = _step(dtype, grads, clip="norm", foreach=foreach)
    assert all(torch.isnan(s).all() for s in steps)  # the global norm: every coordinate of every tensor
    assert math.isnan(opt.last_step_norm.item())
    steps, _ = _step(dtype, grads, clip="tensor", foreach=foreach)
    assert torch.isnan(steps[0]).all() and torch.isfinite(steps[1]).all()  # that tensor only
    steps, _ = _step(dtype, grads, clip="coordinate", foreach=foreach)
    assert torch.isnan(steps[0][1]) and torch.isnan(steps[0]).sum() == 1  # that coordinate only
    assert steps[0][2].item() == pytest.approx(-1.0, rel=TOL[dtype]) and torch.isfinite(steps[1]).all()


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_coordinate_clip_of_extremes(dtype, foreach):
    h = HUGE[dtype]
    steps, _ = _step(dtype, [[INF, -INF, h, -h, 0.1]], b=1.0, lr=0.5, clip="coordinate", foreach=foreach)
    expected = torch.tensor([-1.0, 1.0, -1.0, 1.0, -0.05], dtype=torch.float64)
    assert torch.allclose(steps[0], expected, rtol=TOL[dtype], atol=0)
    # a bound b / lr beyond the dtype's range (or beyond every float) must still stop an infinite component
    for lr in (1e-300, 1e-320):
        steps, _ = _step(dtype, [[INF, -2.0]], b=1e10, lr=lr, clip="coordinate", foreach=foreach)
        assert torch.isfinite(steps[0]).all() and steps[0].abs().max().item() <= 1e10 * (1 + TOL[dtype])


@pytest.mark.parametrize("foreach", [False, True])
def test_pooled_groups_with_different_lrs_overflowing(foreach):
    a = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    c = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    a.grad = torch.tensor([1e300, 0.0], dtype=torch.float64)
    c.grad = torch.tensor([1e300], dtype=torch.float64)
    opt = HeavyTailedSGD([{"params": [a], "lr": 1e8}, {"params": [c], "lr": 3e8}], noise=None, truncation=1.0,
                         foreach=foreach)
    opt.step()
    assert math.isinf(opt.last_step_norm.item())  # 1e308 * sqrt(10): beyond the float range
    assert a[0].item() == pytest.approx(-1 / math.sqrt(10), rel=1e-14)  # direction (1, 0, 3) / sqrt(10)
    assert a[1].item() == 0.0
    assert c[0].item() == pytest.approx(-3 / math.sqrt(10), rel=1e-14)


@pytest.mark.parametrize("foreach", [False, True])
def test_subnormal_factor_scales_the_direction(foreach):
    # |lr d| = 2^1022 * 2.5 > b / 2^-1022 (b = 1): the factor b / |lr d| would be subnormal
    g = [[2.0 ** 1022 * 1.5, -(2.0 ** 1023)]]
    steps, opt = _step(torch.float64, g, b=1.0, lr=1.0, foreach=foreach)
    assert _norm(steps) == pytest.approx(1.0, rel=2.0 ** -50) and _norm(steps) <= 1.0 + 2.0 ** -50
    assert steps[0][0].item() == pytest.approx(-0.6, rel=2.0 ** -50)
    assert opt.last_step_norm.item() == pytest.approx(2.0 ** 1022 * 2.5, rel=2.0 ** -50)


@pytest.mark.parametrize("clip", ["norm", "tensor"])
@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_ordinary_steps_are_the_plain_formula_bit_for_bit(dtype, foreach, clip):
    gen = torch.Generator().manual_seed(0)
    grads = [torch.randn(50, generator=gen, dtype=torch.float64) * 10, torch.randn(7, generator=gen,
                                                                                   dtype=torch.float64)]
    for b in (1.0, 1e6):  # clipped and not
        params = _params(dtype, [g.tolist() for g in grads])
        HeavyTailedSGD(params, lr=0.5, noise=None, truncation=b, clip=clip, foreach=foreach).step()
        ds = [g.to(dtype) for g in grads]
        low = dtype == torch.bfloat16
        norms = [torch.linalg.vector_norm(d, dtype=torch.float32) if low else torch.linalg.vector_norm(d)
                 for d in ds]
        if clip == "norm":
            norm = torch.linalg.vector_norm(torch.stack(norms)).mul_(0.5)
            scale = (b / torch.clamp(norm, min=b)).to(dtype).mul(-0.5)
            expected = [torch.zeros_like(d).addcmul_(d, scale) for d in ds]
        else:
            expected = [torch.zeros_like(d).addcmul_(d, (b / torch.clamp(n * 0.5, min=b)) * -0.5)
                        for d, n in zip(ds, norms)]
        assert all(torch.equal(p.detach(), e) for p, e in zip(params, expected))


def test_momentum_buffer_keeps_the_infinite_direction():
    steps, opt = _step(torch.float64, [[INF, 1.0]], b=1.0, momentum=0.9)
    p = opt.param_groups[0]["params"][0]
    assert torch.equal(opt.state[p]["momentum_buffer"], torch.tensor([INF, 1.0], dtype=torch.float64))
    assert steps[0].tolist() == [-1.0, 0.0]


def test_a_failed_step_changes_nothing():
    params = _params(torch.float64, [[INF, 1.0], [1e300, 1e300]])
    opt = HeavyTailedSGD(params, lr=0.5, noise=None, truncation=1.0, momentum=0.9)
    opt.step()
    before = [p.detach().clone() for p in params]
    buffers = [opt.state[p]["momentum_buffer"].clone() for p in params]
    opt.param_groups[0]["truncation"] = -1.0
    with pytest.raises(ValueError, match="truncation"):
        opt.step()
    assert all(torch.equal(p.detach(), q) for p, q in zip(params, before))
    assert all(torch.equal(opt.state[p]["momentum_buffer"], q) for p, q in zip(params, buffers))
    assert opt.last_step_norm is None


def test_functional_form_returns_the_repaired_norm():
    params = _params(torch.float32, [[1e30, 1e30]])
    with torch.no_grad():
        norm = heavy_tailed_sgd(params, [p.grad for p in params], [None], lr=1.0, noise=None, truncation=2.0)
    assert norm.item() == pytest.approx(1e30 * math.sqrt(2), rel=1e-6)  # its square overflows float32
    assert params[0].detach().tolist() == pytest.approx([-math.sqrt(2)] * 2, rel=1e-6)


def test_device_path_never_reads_back(monkeypatch):
    """The repair on the device path (CUDA's) reads nothing back: the step of extreme inputs with every
    host read forbidden (the host build reads the coefficient back on CPU by design: not checked here)."""
    monkeypatch.setattr(truncation, "HOST_CHECK_ON_CPU", False)

    def forbidden(*args, **kwargs):
        raise AssertionError("host synchronisation in step()")

    for clip, foreach in [("norm", False), ("norm", True), ("tensor", False), ("tensor", True)]:
        params = _params(torch.float32, [[INF, 1.0], [1e30, 1e30], [NAN, 1.0]][:2 if clip == "norm" else 3])
        opt = HeavyTailedSGD(params, lr=0.5, noise=None, truncation=1.0, clip=clip, foreach=foreach)
        with monkeypatch.context() as m:
            for name in ("item", "tolist", "__bool__", "__float__", "__int__"):
                m.setattr(torch.Tensor, name, forbidden)
            opt.step()
        assert all(torch.isfinite(p).all() for p in params[:2])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("clip", ["norm", "global", "tensor", "coordinate"])
def test_phi_b_function_extremes(dtype, clip):
    h = HUGE[dtype]
    for w in ([INF, -INF, 1.0], [h, h, -h], [h, 0.5, 0.0], [0.1, 0.2, 0.0]):
        t = torch.tensor(w, dtype=torch.float64).to(dtype)
        out = phi_b([t, t.flip(0)], 2.0, clip)
        bound = {"coordinate": 2.0 * math.sqrt(6), "tensor": 2.0 * math.sqrt(2)}.get(clip, 2.0)
        assert _norm([o.double() for o in out]) <= bound * (1 + TOL[dtype])
    out = phi_b([torch.tensor([NAN, 1.0], dtype=dtype), torch.tensor([1.0], dtype=dtype)], 2.0, clip)
    if clip in ("norm", "global"):
        assert all(torch.isnan(o).all() for o in out)
    elif clip == "tensor":
        assert torch.isnan(out[0]).all() and not torch.isnan(out[1]).any()
    else:
        assert torch.isnan(out[0][0]) and not torch.isnan(out[0][1])
    ordinary = [torch.tensor([3.0, 4.0], dtype=dtype)]
    assert torch.equal(phi_b(ordinary, math.inf, clip)[0], ordinary[0])  # b = inf: unchanged


# ------------------------------------------------------------------------------------------- hypothesis
VALUES = st.one_of(st.sampled_from([INF, -INF, 1e308, -1e308, 3e38, -1e30, 5e-324, -5e-324, 1e-40, 0.0, -0.0,
                                    1.0, -2.5, NAN]),
                   st.floats(-1e6, 1e6))
TENSORS = st.lists(st.lists(VALUES, min_size=1, max_size=5), min_size=1, max_size=3)


def _exact_norm(values):  # Euclidean norm in float64 with scaling (no overflow for finite values)
    m = max((abs(v) for v in values), default=0.0)
    if m == 0:
        return 0.0
    if math.isinf(m):
        return INF
    return m * math.sqrt(sum((v / m) ** 2 for v in values))


@given(grads=TENSORS, n_groups=st.integers(1, 2), lr=st.sampled_from([0.5, 1e-3, 1e30]),
       b=st.sampled_from([1e-3, 1.0, 1e3]), dtype=st.sampled_from(DTYPES),
       clip=st.sampled_from(["norm", "global", "tensor", "coordinate"]), foreach=st.booleans())
def test_every_step_within_b(grads, n_groups, lr, b, dtype, clip, foreach):
    if lr > 1 and dtype == torch.float64:
        lr = 1e150  # lr * d overflows for far smaller d (lr itself must fit the parameters' dtype)
    params = _params(dtype, grads)
    cut = max(1, len(params) // n_groups)
    groups = [{"params": params[:cut]}] + ([{"params": params[cut:], "lr": lr * 3}] if params[cut:] else [])
    lrs = [lr] * cut + [lr * 3] * (len(params) - cut)
    opt = HeavyTailedSGD(groups, lr=lr, noise=None, truncation=b, clip=clip, foreach=foreach)
    opt.step()
    steps = [p.detach().double() for p in params]
    ds = [p.grad.double() for p in params]
    tol = TOL[dtype]
    if clip == "coordinate":
        for s, d in zip(steps, ds):
            assert torch.equal(torch.isnan(s), torch.isnan(d))  # NaN: that coordinate only
            fin = ~torch.isnan(s)
            assert torch.all(s[fin].abs() <= b * (1 + tol))
        return
    units = [list(range(len(params)))] if clip != "tensor" else [[i] for i in range(len(params))]
    for unit in units:
        values = [float(x) * lrs[i] for i in unit for x in ds[i]]  # lr * d, in float64 (may overflow to inf)
        out = [steps[i] for i in unit]
        if any(math.isnan(v) for v in values):
            assert all(torch.isnan(s).all() for s in out)
            continue
        assert all(torch.isfinite(s).all() for s in out)
        assert _norm(out) <= b * (1 + tol)
        infinite = [math.isinf(float(x)) for i in unit for x in ds[i]]  # of d: lr * d may overflow, d is the step's
        n_inf = sum(infinite)                                           # direction, a finite d_j never dominates
        flat = torch.cat([s for s in out])
        if n_inf:
            expected = [-math.copysign(b / math.sqrt(n_inf), v) if f else 0.0 for v, f in zip(values, infinite)]
            assert torch.allclose(flat, torch.tensor(expected, dtype=torch.float64), rtol=tol, atol=0)
        else:  # w = lr * d, computed on w / 2^600 where lr * d overflows
            scale = 2.0 ** -600 if any(abs(v) > 1e150 for v in values) else 1.0
            scaled = [float(x) * scale * lrs[i] for i in unit for x in ds[i]]
            norm = _exact_norm(scaled)
            clipped = norm / scale > b  # (w / norm) * b: b / norm may be subnormal
            expected = torch.tensor([-(v / norm) * b if clipped else -v for v in scaled], dtype=torch.float64)
            assert torch.allclose(flat, expected, rtol=4 * tol, atol=b * 4 * tol + 1e-300)


@pytest.mark.parametrize("foreach", [False, True])
def test_apply_with_a_factor_from_elsewhere_repairs_from_its_tensors(foreach):
    from htsgd.torch._functional import apply_truncated_step
    p = torch.zeros(3, dtype=torch.float64)
    d = torch.tensor([INF, 1.0, 1e300], dtype=torch.float64)
    apply_truncated_step([p], [d], lr=0.5, truncation=2.0, coefficient=torch.zeros((), dtype=torch.float64),
                         foreach=foreach)  # the factor of an overflowed norm
    assert p.tolist() == [-2.0, 0.0, 0.0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("clip", ["norm", "tensor", "coordinate"])
@pytest.mark.parametrize("foreach", [False, True])
def test_cuda_extreme_steps_without_synchronisation(clip, foreach):
    grads = [[INF, 1.0, -2.0], [1e30, -1e30], [3.0, 4.0]]
    params = [p.detach().cuda().requires_grad_() for p in _params(torch.float32, grads)]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g, dtype=torch.float32, device="cuda")
    opt = HeavyTailedSGD(params, lr=0.5, noise=None, truncation=1.0, clip=clip, foreach=foreach)
    torch.cuda.set_sync_debug_mode("error")
    try:
        opt.step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    steps = [p.detach().double().cpu() for p in params]
    assert all(torch.isfinite(s).all() for s in steps)
    if clip == "norm":
        assert _norm(steps) <= 1.0 + TOL[torch.float32]
        assert steps[0][0].item() == pytest.approx(-1.0, rel=TOL[torch.float32])
    elif clip == "tensor":
        assert all(_norm([s]) <= 1.0 + TOL[torch.float32] for s in steps)
    else:
        assert all(s.abs().max() <= 1.0 + TOL[torch.float32] for s in steps)
