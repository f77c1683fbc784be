"""htsgd.torch.HeavyTailedSGD: validation, SGD equivalence, foreach == single tensor, determinism, resume."""
import copy
import io
import math
import pickle

import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import htsgd.torch.truncation  # noqa: E402
from htsgd.torch import HeavyTailedSGD, heavy_tailed_sgd  # noqa: E402

F = torch.nn.functional


def make_model(seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    m = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3)).to(dtype)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=dtype))
    return m


def make_data(seed=1, n=32, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 5, generator=g, dtype=dtype), torch.randint(0, 3, (n,), generator=g)


X, Y = make_data()


def loss_of(m, x=X, y=Y):
    return F.cross_entropy(m(x.to(next(m.parameters()).dtype)), y)


def train(m, opt, steps=15, reference=False):
    for i in range(steps):
        if reference:  # a large-batch reference gradient every other step
            opt.zero_grad()
            loss_of(m).backward()
            if i % 2 == 0:
                opt.set_reference_gradient()
        opt.zero_grad()
        lo = 4 * (i % 4)
        loss_of(m, X[lo:lo + 8], Y[lo:lo + 8]).backward()
        opt.step()
    return [p.detach().clone() for p in m.parameters()]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


# ------------------------------------------------------------------------------------------------ validation
@pytest.mark.parametrize("kwargs, exc, match", [
    ({"lr": -1.0}, ValueError, r"Invalid learning rate: -1.0"),
    ({"lr": float("nan")}, ValueError, r"Invalid learning rate: nan"),
    ({"lr": "0.1"}, TypeError, r"Invalid lr: expected a real number"),
    ({"lr": torch.tensor(0.1)}, TypeError, r"Invalid learning rate: expected a real number"),
    ({"noise": "cauchy"}, ValueError, r"Invalid noise: 'cauchy'; expected one of"),
    ({"noise": 3}, TypeError, r"Invalid noise"),
    ({"alpha": 0.0}, ValueError, r"Invalid alpha: 0.0"),
    ({"alpha": float("nan")}, ValueError, r"Invalid alpha: nan"),
    ({"noise": "stable", "alpha": 2.5}, ValueError, r"Invalid alpha: 2.5; expected 0 < alpha <= 2"),
    ({"noise": "gaussian", "alpha": float("nan")}, ValueError, r"Invalid alpha"),
    ({"noise_scale": -1.0}, ValueError, r"Invalid noise_scale: -1.0; expected a finite number >= 0"),
    ({"noise_scale": float("inf")}, ValueError, r"Invalid noise_scale"),
    ({"noise_mode": "mult"}, ValueError, r"Invalid noise_mode: 'mult'"),
    ({"reference_decay": 1.0}, ValueError, r"Invalid reference_decay: 1.0; expected 0 <= reference_decay < 1"),
    ({"truncation": 0.0}, ValueError, r"Invalid truncation: 0.0; expected a number > 0"),
    ({"truncation": -1.0}, ValueError, r"Invalid truncation"),
    ({"truncation": float("nan")}, ValueError, r"Invalid truncation: nan"),
    ({"truncation": "1"}, TypeError, r"Invalid truncation: expected a real number"),
    ({"clip": "box"}, ValueError, r"Invalid clip: 'box'; expected one of 'norm', 'tensor', 'coordinate', 'global'"),
    ({"momentum": -0.1}, ValueError, r"Invalid momentum value: -0.1"),
    ({"momentum": float("nan")}, ValueError, r"Invalid momentum value: nan"),
    ({"dampening": 1.5}, ValueError, r"Invalid dampening: 1.5"),
    ({"weight_decay": -1e-4}, ValueError, r"Invalid weight_decay value: -0.0001"),
    ({"nesterov": True}, ValueError, r"Nesterov momentum requires a momentum and zero dampening"),
    ({"nesterov": True, "momentum": 0.9, "dampening": 0.1}, ValueError, r"Nesterov momentum requires"),
    ({"nesterov": 1}, TypeError, r"Invalid nesterov: expected a bool"),
    ({"maximize": "yes"}, TypeError, r"Invalid maximize: expected a bool"),
    ({"foreach": 0}, TypeError, r"Invalid foreach: expected a bool"),
    ({"sampler": "numpy"}, ValueError, r"Invalid sampler: 'numpy'"),
    ({"seed": -1}, ValueError, r"Invalid seed: -1; expected an integer >= 0"),
    ({"seed": 1.5}, TypeError, r"Invalid seed: expected an integer"),
    ({"generator": 1}, TypeError, r"Invalid generator: expected a torch.Generator"),
    ({"seed": 1, "generator": torch.Generator()}, ValueError, r"either a generator or a seed"),
])
def test_argument_validation(kwargs, exc, match):
    kwargs = {"lr": 0.1, **kwargs}
    with pytest.raises(exc, match=match):
        HeavyTailedSGD(make_model().parameters(), **kwargs)


def test_param_groups_are_validated():
    m = make_model()
    opt = HeavyTailedSGD(m[0].parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"Invalid learning rate: -0.5"):
        opt.add_param_group({"params": m[2].parameters(), "lr": -0.5})
    assert len(opt.param_groups) == 1
    opt.add_param_group({"params": m[2].parameters(), "truncation": math.inf})
    assert opt.param_groups[1]["truncation"] is None and opt.param_groups[1]["lr"] == 0.1


def test_defaults_and_infinite_truncation():
    opt = HeavyTailedSGD(make_model().parameters(), lr=0.1, truncation=math.inf)
    assert opt.defaults["noise"] == "pareto" and opt.defaults["clip"] == "norm"
    assert opt.param_groups[0]["truncation"] is None


def test_sparse_gradients_are_rejected():
    emb = torch.nn.Embedding(10, 3, sparse=True)
    opt = HeavyTailedSGD(emb.parameters(), lr=0.1, noise=None)
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse"):
        opt.step()


# ------------------------------------------------------------------------------------------- SGD equivalence
SGD_CASES = [
    {},
    {"momentum": 0.9},
    {"momentum": 0.9, "nesterov": True},
    {"momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01},
    {"weight_decay": 0.1},
    {"maximize": True},
    {"maximize": True, "weight_decay": 0.1, "momentum": 0.5},
    {"maximize": True, "momentum": 0.8, "nesterov": True, "weight_decay": 1e-3},
]


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("kwargs", SGD_CASES)
def test_matches_torch_sgd_bit_for_bit(kwargs, foreach):
    m1, m2 = make_model(), make_model()
    ref = train(m1, torch.optim.SGD(m1.parameters(), lr=0.1, foreach=foreach, **kwargs))
    out = train(m2, HeavyTailedSGD(m2.parameters(), lr=0.1, noise=None, truncation=None, foreach=foreach, **kwargs))
    assert same(ref, out)


def test_matches_torch_sgd_with_param_groups_and_missing_grads():
    m1, m2 = make_model(), make_model()
    groups = lambda m: [{"params": m[0].parameters(), "lr": 0.05, "momentum": 0.9},  # noqa: E731
                        {"params": m[2].parameters(), "weight_decay": 0.01}]
    o1 = torch.optim.SGD(groups(m1), lr=0.1)
    o2 = HeavyTailedSGD(groups(m2), lr=0.1, noise=None)
    for m, o in ((m1, o1), (m2, o2)):
        m[2].bias.requires_grad_(False)
        train(m, o)
    assert same(m1.parameters(), m2.parameters())


# --------------------------------------------------------------------------------------- foreach == single
NOISY_CASES = [
    {"noise": "pareto", "truncation": 0.3},
    {"noise": "pareto", "truncation": 0.3, "clip": "tensor", "momentum": 0.9},
    {"noise": "stable", "alpha": 1.2, "truncation": 0.05, "clip": "coordinate", "weight_decay": 0.01},
    {"noise": "student_t", "alpha": 3.0, "noise_scale": 0.1, "momentum": 0.9, "nesterov": True},
    {"noise": "gaussian", "noise_scale": 0.1, "truncation": 0.2, "maximize": True},
    {"noise": "pareto", "noise_mode": "multiplicative", "alpha": 1.4, "truncation": 0.5, "momentum": 0.9},
    {"noise": "pareto", "noise_mode": "multiplicative", "clip": "tensor", "truncation": 0.1},
]


@pytest.mark.parametrize("sampler", ["torch", "auto"])
@pytest.mark.parametrize("kwargs", NOISY_CASES)
def test_foreach_matches_single_tensor(kwargs, sampler):
    reference = kwargs.get("noise_mode") == "multiplicative"
    outs = []
    for foreach in (False, True):
        m = make_model()
        opt = HeavyTailedSGD(m.parameters(), lr=0.1, seed=7, foreach=foreach, sampler=sampler, **kwargs)
        outs.append(train(m, opt, reference=reference))
    assert same(*outs)
    assert all(torch.isfinite(p).all() for p in outs[0])


SGD_OPTIONS = [{"momentum": 0.9}, {"momentum": 0.9, "weight_decay": 0.01}, {"momentum": 0.9, "nesterov": True},
               {"momentum": 0.5, "dampening": 0.1, "maximize": True}, {"weight_decay": 0.05},
               {"momentum": 0.9, "weight_decay": 1e-3, "nesterov": True, "maximize": True}]


@pytest.mark.parametrize("mode", ["additive", "multiplicative"])
@pytest.mark.parametrize("sgd", SGD_OPTIONS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_foreach_matches_single_tensor_for_every_sgd_option(dtype, sgd, mode):
    # float32 CPU, single tensor: the fused C++ passes (the fill takes in plain momentum; the direction pass
    # does the rest, and the multiplicative mode's noise and moving average); float64: torch's operations.
    # Both: the foreach path's bits, momentum buffers and moving averages included
    outs = []
    for foreach in (False, True):
        m = make_model(dtype=dtype)
        opt = HeavyTailedSGD(m.parameters(), lr=0.1, seed=7, foreach=foreach, truncation=0.3, noise_mode=mode,
                             **sgd)
        outs.append(train(m, opt, reference=mode == "multiplicative"))
        outs.append([t.clone() for p in m.parameters() for t in opt.state[p].values() if torch.is_tensor(t)])
    assert same(outs[0], outs[2]) and same(outs[1], outs[3])
    assert len(outs[1]) >= 4 * (sgd.get("momentum", 0) != 0)


def test_functional_form_matches_the_class():
    m1, m2 = make_model(), make_model()
    opt = HeavyTailedSGD(m1.parameters(), lr=0.1, seed=3, truncation=0.2, momentum=0.9)
    gen = torch.Generator().manual_seed(0)
    gen.set_state(opt.generator_for("cpu").get_state())
    bufs = [None] * len(list(m2.parameters()))
    for _ in range(5):
        for m in (m1, m2):
            m.zero_grad()
            loss_of(m).backward()
        opt.step()
        with torch.no_grad():
            ps = list(m2.parameters())
            heavy_tailed_sgd(ps, [p.grad for p in ps], bufs, lr=0.1, generator=gen, truncation=0.2, momentum=0.9)
    assert same(m1.parameters(), m2.parameters())


# -------------------------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("kwargs", NOISY_CASES[:2] + NOISY_CASES[5:6])
def test_seed_determines_the_trajectory(kwargs):
    runs = [train(m := make_model(), HeavyTailedSGD(m.parameters(), lr=0.1, seed=s, **kwargs)) for s in (5, 5, 6)]
    assert same(runs[0], runs[1])
    assert not same(runs[0], runs[2])


def test_user_generator_is_the_only_source_of_randomness():
    torch.manual_seed(0)
    a = train(m := make_model(), HeavyTailedSGD(m.parameters(), lr=0.1, generator=torch.Generator().manual_seed(1)))
    torch.manual_seed(123)  # the global RNG must not matter
    b = train(m := make_model(), HeavyTailedSGD(m.parameters(), lr=0.1, generator=torch.Generator().manual_seed(1)))
    assert same(a, b)
    m = make_model()  # (nn.Linear's initialisation uses the global RNG; the optimizer must not)
    state = torch.get_rng_state()
    train(m, HeavyTailedSGD(m.parameters(), lr=0.1, seed=2))
    assert torch.equal(state, torch.get_rng_state())


def test_fresh_entropy_seed_is_recorded():
    m = make_model()
    opt = HeavyTailedSGD(m.parameters(), lr=0.1)
    a = train(m, opt)
    b = train(m2 := make_model(), HeavyTailedSGD(m2.parameters(), lr=0.1, seed=opt.seed))
    assert same(a, b)


def test_noise_free_step_consumes_no_randomness():
    m = make_model()
    opt = HeavyTailedSGD(m.parameters(), lr=0.1, noise=None, truncation=0.1, seed=0)
    state = opt.generator_for("cpu").get_state()
    train(m, opt)
    assert torch.equal(state, opt.generator_for("cpu").get_state())


# ------------------------------------------------------------------------------------ state_dict and pickle
@pytest.mark.parametrize("kwargs", NOISY_CASES[:2] + NOISY_CASES[5:6])
def test_state_dict_resume_reproduces_the_trajectory(kwargs):
    reference = kwargs.get("noise_mode") == "multiplicative"
    m = make_model()
    opt = HeavyTailedSGD(m.parameters(), lr=0.1, seed=11, **kwargs)
    train(m, opt, steps=6, reference=reference)
    buf = io.BytesIO()
    torch.save({"model": m.state_dict(), "opt": opt.state_dict()}, buf)
    full = train(m, opt, steps=6, reference=reference)

    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)
    m2 = make_model(seed=99)
    m2.load_state_dict(ckpt["model"])
    opt2 = HeavyTailedSGD(m2.parameters(), lr=0.1, seed=12345, **kwargs)
    opt2.load_state_dict(ckpt["opt"])
    assert opt2.seed == opt.seed
    assert same(full, train(m2, opt2, steps=6, reference=reference))


def test_state_dict_with_a_user_generator():
    gen = torch.Generator().manual_seed(4)
    m = make_model()
    opt = HeavyTailedSGD(m.parameters(), lr=0.1, generator=gen)
    train(m, opt, steps=3)
    sd = copy.deepcopy(opt.state_dict())
    params = [p.detach().clone() for p in m.parameters()]
    full = train(m, opt, steps=3)
    with torch.no_grad():
        for p, q in zip(m.parameters(), params):
            p.copy_(q)
    opt.load_state_dict(sd)  # rewinds the user's generator
    assert same(full, train(m, opt, steps=3))


def test_pickle_and_setstate_backfill():
    m = make_model()
    opt = HeavyTailedSGD(m.parameters(), lr=0.1, seed=3, momentum=0.9)
    train(m, opt, steps=2)
    clone = pickle.loads(pickle.dumps(opt))
    assert clone.seed == 3
    assert torch.equal(clone.generator_for("cpu").get_state(), opt.generator_for("cpu").get_state())
    # an old state without the newer keys gets the defaults back
    state = opt.__getstate__()
    for g in state["param_groups"]:
        for k in ("noise_mode", "sampler", "clip", "reference_decay", "nesterov", "maximize", "foreach"):
            g.pop(k)
    state.pop("_htsgd")
    fresh = HeavyTailedSGD.__new__(HeavyTailedSGD)
    fresh.__setstate__(state)
    g = fresh.param_groups[0]
    assert (g["noise_mode"], g["sampler"], g["clip"], g["nesterov"]) == ("additive", "auto", "norm", False)
    assert isinstance(fresh.generator_for("cpu"), torch.Generator)


# ---------------------------------------------------------------------------------------------- truncation
@settings(max_examples=40, deadline=None)
@given(b=st.floats(1e-3, 10.0), lr=st.floats(1e-3, 2.0), scale=st.floats(1e-3, 1e3),
       clip=st.sampled_from(["global", "tensor", "coordinate"]), momentum=st.sampled_from([0.0, 0.9]),
       seed=st.integers(0, 2**32))
def test_truncated_step_is_at_most_b(b, lr, scale, clip, momentum, seed):
    m = make_model()
    opt = HeavyTailedSGD(m.parameters(), lr=lr, noise="pareto", alpha=1.1, noise_scale=scale, truncation=b,
                         clip=clip, momentum=momentum, seed=seed)
    for _ in range(2):
        before = [p.detach().clone() for p in m.parameters()]
        opt.zero_grad()
        loss_of(m).backward()
        opt.step()
        steps = [p.detach() - q for p, q in zip(m.parameters(), before)]
        tol = b * 1e-9 + 1e-12
        if clip == "global":
            assert torch.linalg.vector_norm(torch.cat([s.ravel() for s in steps])) <= b + tol
        elif clip == "tensor":
            assert all(torch.linalg.vector_norm(s) <= b + tol for s in steps)
        else:
            assert all(s.abs().max() <= b + tol for s in steps)


def test_global_truncation_spans_param_groups():
    m = make_model()
    opt = HeavyTailedSGD([{"params": m[0].parameters()}, {"params": m[2].parameters(), "lr": 0.5}],
                         lr=0.1, noise_scale=100.0, truncation=0.01, seed=0)
    before = [p.detach().clone() for p in m.parameters()]
    loss_of(m).backward()
    opt.step()
    step = torch.cat([(p.detach() - q).ravel() for p, q in zip(m.parameters(), before)])
    assert torch.linalg.vector_norm(step).item() == pytest.approx(0.01, rel=1e-9)
    assert opt.last_step_norm.item() > 0.01
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))], "truncation": 0.02})
    for p in opt.param_groups[-1]["params"]:
        p.grad = torch.ones_like(p)
    with pytest.raises(ValueError, match="must share one truncation"):
        opt.step()


def test_small_steps_are_not_touched_by_truncation():
    m1, m2 = make_model(), make_model()
    a = train(m1, HeavyTailedSGD(m1.parameters(), lr=0.01, noise=None, truncation=1e6))
    b = train(m2, torch.optim.SGD(m2.parameters(), lr=0.01))
    assert all(torch.allclose(x, y, rtol=0, atol=1e-15) for x, y in zip(a, b))


def test_no_host_synchronisation_in_the_step(monkeypatch):
    # the path every non-CPU device takes (on CPU the clip coefficient is read back by design: a memory read)
    monkeypatch.setattr(htsgd.torch.truncation, "HOST_CHECK_ON_CPU", False)
    m = make_model()
    opt = HeavyTailedSGD(m.parameters(), lr=0.1, truncation=0.1, momentum=0.9, sampler="torch", seed=0,
                         noise_mode="multiplicative")
    loss_of(m).backward()

    def forbidden(*args, **kwargs):
        raise AssertionError("host synchronisation in step()")

    for name in ("item", "tolist", "__bool__", "__float__", "__int__"):
        monkeypatch.setattr(torch.Tensor, name, forbidden)
    opt.step()
    opt.param_groups[0]["noise_mode"] = "additive"
    opt.param_groups[0]["clip"] = "tensor"
    opt.step()


# ----------------------------------------------------------------------------------- multiplicative mode
def test_multiplicative_with_supplied_reference_matches_the_formula():
    m = make_model()
    opt = HeavyTailedSGD(m.parameters(), lr=0.1, noise_mode="multiplicative", seed=1)
    loss_of(m).backward()
    g_ref = [p.grad.clone() for p in m.parameters()]
    opt.set_reference_gradient()
    opt.zero_grad()
    loss_of(m, X[:4], Y[:4]).backward()
    g = [p.grad.clone() for p in m.parameters()]
    before = [p.detach().clone() for p in m.parameters()]
    z_gen = torch.Generator().manual_seed(0)
    z_gen.set_state(opt.generator_for("cpu").get_state())
    opt.step()
    from htsgd.torch.noise import sample_scalar
    z = sample_scalar("pareto", 1.5, 1.0, z_gen)
    for p, q, gr, gb in zip(m.parameters(), before, g_ref, g):
        assert torch.allclose(p, q - 0.1 * (gr + z * (gb - gr)), rtol=1e-12, atol=1e-12)
    assert all("reference_grad" not in opt.state[p] for p in m.parameters())  # used once


def test_multiplicative_ema_reference():
    m = make_model()
    opt = HeavyTailedSGD(m.parameters(), lr=0.1, noise_mode="multiplicative", reference_decay=0.5, seed=1)
    loss_of(m).backward()
    g0 = [p.grad.clone() for p in m.parameters()]
    before = [p.detach().clone() for p in m.parameters()]
    opt.step()  # the first EMA step is noiseless SGD
    assert all(torch.equal(p, q.add(g, alpha=-0.1)) for p, q, g in zip(m.parameters(), before, g0))
    opt.zero_grad()
    loss_of(m, X[:4], Y[:4]).backward()
    g1 = [p.grad.clone() for p in m.parameters()]
    opt.step()
    for p, g_a, g_b in zip(m.parameters(), g0, g1):
        assert torch.allclose(opt.state[p]["reference_ema"], 0.5 * g_a + 0.5 * g_b, rtol=1e-14, atol=1e-14)


def test_set_reference_gradient_arguments():
    m = make_model()
    with pytest.raises(ValueError, match="needs a param group with noise_mode='multiplicative'"):
        HeavyTailedSGD(m.parameters(), lr=0.1).set_reference_gradient()
    opt = HeavyTailedSGD(m.parameters(), lr=0.1, noise_mode="multiplicative")
    ps = list(m.parameters())
    with pytest.raises(ValueError, match=r"expected 4 tensors"):
        opt.set_reference_gradient([torch.zeros(1)])
    with pytest.raises(ValueError, match="shape"):
        opt.set_reference_gradient({ps[0]: torch.zeros(1)})
    with pytest.raises(ValueError, match="not a parameter"):
        opt.set_reference_gradient({torch.zeros(1): torch.zeros(1)})
    opt.set_reference_gradient({ps[0]: torch.ones_like(ps[0])})
    assert torch.equal(opt.state[ps[0]]["reference_grad"], torch.ones_like(ps[0]))
    assert "reference_grad" not in opt.state[ps[1]]


def test_zero_noise_scale_multiplicative_is_reference_descent():
    m = make_model()
    opt = HeavyTailedSGD(m.parameters(), lr=0.1, noise_mode="multiplicative", noise_scale=0.0, seed=0)
    ref = [torch.full_like(p, 0.5) for p in m.parameters()]
    opt.set_reference_gradient(ref)
    loss_of(m).backward()
    before = [p.detach().clone() for p in m.parameters()]
    opt.step()
    assert all(torch.equal(p, q - 0.1 * r) for p, q, r in zip(m.parameters(), before, ref))


def test_float32_and_closure():
    m = make_model(dtype=torch.float32)
    opt = HeavyTailedSGD(m.parameters(), lr=0.1, truncation=0.5, seed=0)

    def closure():
        opt.zero_grad()
        loss = loss_of(m)
        loss.backward()
        return loss

    losses = [float(opt.step(closure).detach()) for _ in range(5)]
    assert all(math.isfinite(x) for x in losses)
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in m.parameters())


def test_state_matches_sgd_when_there_is_nothing_to_keep():
    m1, m2 = make_model(), make_model()
    o1 = torch.optim.SGD(m1.parameters(), lr=0.1, momentum=0.9)
    o2 = HeavyTailedSGD(m2.parameters(), lr=0.1, momentum=0.9, noise=None)
    train(m1, o1, steps=2)
    train(m2, o2, steps=2)
    s1, s2 = o1.state_dict()["state"], o2.state_dict()["state"]
    assert s1.keys() == s2.keys()
    assert all(torch.equal(s1[k]["momentum_buffer"], s2[k]["momentum_buffer"]) for k in s1)
    m3 = make_model()
    o3 = HeavyTailedSGD(m3.parameters(), lr=0.1, noise=None)
    train(m3, o3, steps=2)
    assert o3.state_dict()["state"] == {}


def test_inconsistent_global_truncation_fails_before_any_change():
    m = make_model()
    opt = HeavyTailedSGD([{"params": m[0].parameters()}, {"params": m[2].parameters(), "truncation": 0.2}],
                         lr=0.1, truncation=0.1, momentum=0.9, seed=0)
    loss_of(m).backward()
    before = [p.detach().clone() for p in m.parameters()]
    with pytest.raises(ValueError, match="must share one truncation"):
        opt.step()
    assert same(before, m.parameters()) and len(opt.state) == 0


# -- regressions ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("clip", ["global", "tensor"])
@pytest.mark.parametrize("foreach", [False, True])
def test_low_precision_step_norm_does_not_overflow(dtype, clip, foreach):
    # |grad| = 300 * sqrt(1e5) ~ 9.5e4 > 65504: a float16 norm is inf (the step was zeroed or NaN)
    p = torch.zeros(100_000, dtype=dtype, requires_grad=True)
    p.grad = torch.full_like(p, 300.0)
    opt = HeavyTailedSGD([p], lr=1e-3, noise=None, truncation=1.0, clip=clip, foreach=foreach)
    opt.step()
    assert torch.isfinite(p).all()
    assert torch.linalg.vector_norm(p.detach().double()).item() == pytest.approx(1.0, rel=1e-2)
    if clip == "global":
        assert opt.last_step_norm.dtype == torch.float32
        assert opt.last_step_norm.item() == pytest.approx(300e-3 * 1e5 ** 0.5, rel=1e-3)


def test_float32_and_float64_norms_keep_their_dtype():
    from htsgd.torch.truncation import global_norm, tensor_norms

    ts = [torch.ones(3, dtype=torch.float64), torch.ones(2, dtype=torch.float32), torch.ones(4, dtype=torch.float16)]
    for foreach in (False, True):
        assert [n.dtype for n in tensor_norms(ts, foreach)] == [torch.float64, torch.float32, torch.float32]
        assert global_norm(ts, foreach).item() == pytest.approx(3.0, rel=1e-6)


@pytest.mark.parametrize("clip", ["global", "tensor", "coordinate"])
@pytest.mark.parametrize("foreach", [False, True])
def test_functional_infinite_truncation_is_no_truncation(clip, foreach):
    m1, m2 = make_model(), make_model()
    for m in (m1, m2):
        loss_of(m).backward()
    ps1, ps2 = list(m1.parameters()), list(m2.parameters())
    with torch.no_grad():
        heavy_tailed_sgd(ps1, [p.grad for p in ps1], [None] * len(ps1), lr=0.1, noise=None, truncation=math.inf,
                         clip=clip, foreach=foreach)
        heavy_tailed_sgd(ps2, [p.grad for p in ps2], [None] * len(ps2), lr=0.1, noise=None, truncation=None,
                         clip=clip, foreach=foreach)
    assert all(torch.isfinite(p).all() for p in ps1) and same(ps1, ps2)


@pytest.mark.parametrize("clip", ["global", "tensor", "coordinate"])
def test_infinite_truncation_set_after_construction_is_no_truncation(clip):
    m1, m2 = make_model(), make_model()
    o1 = HeavyTailedSGD(m1.parameters(), lr=0.1, seed=0, truncation=0.5, clip=clip)
    o1.param_groups[0]["truncation"] = math.inf
    o2 = HeavyTailedSGD(m2.parameters(), lr=0.1, seed=0, clip=clip)
    out1, out2 = train(m1, o1, steps=3), train(m2, o2, steps=3)
    assert all(torch.isfinite(p).all() for p in out1) and same(out1, out2)
    assert o1.last_step_norm is None


def test_core_sampler_on_an_unsupported_parameter_fails_at_construction():
    with pytest.raises(ValueError, match="sampler='core'"):
        HeavyTailedSGD([torch.zeros(3, device="meta", requires_grad=True)], lr=0.1, sampler="core")
    opt = HeavyTailedSGD([torch.zeros(3, requires_grad=True)], lr=0.1, sampler="core")
    with pytest.raises(ValueError, match="sampler='core'"):
        opt.add_param_group({"params": [torch.zeros(3, device="meta", requires_grad=True)]})
    assert len(opt.param_groups) == 1


@pytest.mark.parametrize("mode", ["additive", "multiplicative"])
def test_a_step_that_fails_changes_nothing(mode):
    # the second group's parameter becomes float8 after construction: sampler="core" cannot fill it
    m = make_model()
    good = list(m.parameters())
    bad = torch.nn.Parameter(torch.zeros(4, dtype=torch.float64))
    opt = HeavyTailedSGD([{"params": good}, {"params": [bad], "sampler": "core", "noise_mode": "additive"}],
                         lr=0.1, momentum=0.9, noise_mode=mode, seed=0)
    bad.data = bad.data.to(torch.float8_e5m2)
    loss_of(m).backward()
    if mode == "multiplicative":
        opt.set_reference_gradient({p: p.grad for p in good})
    bad.grad = torch.ones_like(bad)
    before = [p.detach().clone() for p in good]
    state_before = {p: dict(st) for p, st in opt.state.items()}
    gen_before = opt.generator_for("cpu").get_state()
    with pytest.raises(ValueError, match="sampler='core'"):
        opt.step()
    assert same(before, good)
    assert {p: set(st) for p, st in opt.state.items()} == {p: set(st) for p, st in state_before.items()}
    assert all("momentum_buffer" not in st and "reference_ema" not in st for st in opt.state.values())
    assert torch.equal(opt.generator_for("cpu").get_state(), gen_before)
    # an invalid value set after construction is caught before any change too
    bad.data = bad.data.double()
    bad.grad = torch.ones_like(bad)
    opt.param_groups[1]["truncation"] = -1.0
    with pytest.raises(ValueError, match="Invalid truncation"):
        opt.step()
    assert same(before, good)


def test_last_step_norm_is_reset_at_every_step():
    p = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    opt = HeavyTailedSGD([p], lr=0.1, noise=None, truncation=0.5)
    p.grad = torch.ones_like(p)
    opt.step()
    assert opt.last_step_norm is not None
    opt.param_groups[0]["truncation"] = None
    opt.step()
    assert opt.last_step_norm is None
    opt.param_groups[0]["truncation"] = 0.5
    p.grad = None
    opt.step()  # no gradient: no step, no norm
    assert opt.last_step_norm is None


@pytest.mark.parametrize("given", [False, True])
def test_multiplicative_momentum_step_is_the_stage_by_stage_formula_bit_for_bit(given):
    # the single-tensor path runs noise, momentum, the EMA update and the norm tensor by tensor (in cache),
    # float32 CPU tensors in one C++ pass (threaded above 65536 elements): the same bits as the formula
    # written stage by stage over all tensors
    gen = torch.Generator().manual_seed(3)
    shapes = [(7, 5), (300,), (2, 3, 4), (2, 40_001)]
    ps = [torch.randn(s, generator=gen).requires_grad_() for s in shapes]
    qs = [p.detach().clone() for p in ps]
    opt = HeavyTailedSGD(ps, lr=0.05, noise_mode="multiplicative", reference_decay=0.7, momentum=0.9,
                         truncation=0.3, seed=4, foreach=False)
    z_gen = torch.Generator()
    ema, bufs = None, None
    from htsgd.torch.noise import sample_scalar
    for _ in range(4):
        grads = [torch.randn(s, generator=gen) for s in shapes]
        refs = [torch.randn(s, generator=gen) for s in shapes]
        for p, g in zip(ps, grads):
            p.grad = g.clone()
        if given:
            opt.set_reference_gradient(refs)
        z_gen.set_state(opt.generator_for("cpu").get_state())
        opt.step()
        z = sample_scalar("pareto", 1.5, 1.0, z_gen).to(torch.float32)
        if given:
            noisy = [torch.lerp(r, g, z) for r, g in zip(refs, grads)]
        elif ema is None:
            ema = [g.clone() for g in grads]
            noisy = [torch.lerp(e, g, z) for e, g in zip(ema, grads)]
        else:
            noisy = [torch.lerp(e, g, z) for e, g in zip(ema, grads)]
        if not given:
            for e, g in zip(ema, grads):
                e.lerp_(g, 1.0 - 0.7)
        if bufs is None:
            bufs = [n.clone() for n in noisy]
        else:
            for b, n in zip(bufs, noisy):
                b.mul_(0.9).add_(n)
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(b) for b in bufs])) * 0.05
        scale = torch.clamp(norm, min=0.3).reciprocal().mul_(0.3).mul(-0.05)
        for q, b in zip(qs, bufs):
            q.addcmul_(b, scale)
        assert all(torch.equal(p.detach(), q) for p, q in zip(ps, qs))
        assert torch.equal(opt.last_step_norm, norm)


def test_reused_reference_memory_never_touches_the_callers_tensors():
    # momentum 0: the consumed g_ref is overwritten in place, and its memory holds the next reference
    p = torch.randn(50, generator=torch.Generator().manual_seed(1)).requires_grad_()
    opt = HeavyTailedSGD([p], lr=0.1, noise_mode="multiplicative", seed=2)
    for k in range(3):
        ref = torch.full((50,), float(k + 1))
        kept = ref.clone()
        p.grad = torch.zeros(50)
        opt.set_reference_gradient([ref])
        opt.step()
        assert torch.equal(ref, kept)
    assert opt.state[p].get("reference_grad") is None
