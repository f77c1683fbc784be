"""One vocabulary for the simulator and the optimizer: law objects, clipping names, one Estimate type, the
functional form behind step(), and complex parameters stepped as their real views."""
from __future__ import annotations

import pickle

import pytest

torch = pytest.importorskip("torch")

import htsgd  # noqa: E402
import htsgd.results  # noqa: E402
from htsgd.torch import Estimate, HeavyTailedSGD, expected_sharpness, heavy_tailed_sgd  # noqa: E402


def _params(seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(17, 3, generator=g, dtype=dtype)),
            torch.nn.Parameter(torch.randn(5, generator=g, dtype=dtype))]


def _train(params, opt, steps=4):
    for _ in range(steps):
        opt.zero_grad()
        sum((p ** 2).sum() + p.sum() for p in params).backward()
        opt.step()
    return [p.detach().clone() for p in params]


@pytest.mark.parametrize("law, name, alpha, scale", [
    (htsgd.Pareto(1.4, 0.5), "pareto", 1.4, 0.5),
    (htsgd.Stable(1.7, 0.3), "stable", 1.7, 0.3),
    (htsgd.StudentT(3.0, 0.2), "student_t", 3.0, 0.2),
    (htsgd.Gaussian(0.7), "gaussian", 2.0, 0.7),
])
def test_a_law_object_gives_the_bits_of_its_name(law, name, alpha, scale):
    a, b = _params(), _params()
    by_object = _train(a, HeavyTailedSGD(a, lr=0.05, noise=law, truncation=0.3, seed=4))
    by_name = _train(b, HeavyTailedSGD(b, lr=0.05, noise=name, alpha=alpha, noise_scale=scale, truncation=0.3,
                                       seed=4))
    assert all(torch.equal(x, y) for x, y in zip(by_object, by_name))
    assert any(not torch.equal(x, y) for x, y in zip(by_object, _params()))  # the noise did something


def test_law_object_stored_as_name_alpha_scale_and_conflicts_refused():
    opt = HeavyTailedSGD(_params(), lr=0.1, noise=htsgd.Pareto(1.2, 0.4))
    g = opt.param_groups[0]
    assert (g["noise"], g["alpha"], g["noise_scale"]) == ("pareto", 1.2, 0.4)
    HeavyTailedSGD(_params(), lr=0.1, noise=htsgd.Pareto(1.2, 0.4), alpha=1.2, noise_scale=0.4)  # agreeing: fine
    with pytest.raises(ValueError, match=r"Invalid alpha: 1.5; the noise law Pareto\(alpha=1.2, scale=0.4\) "
                                         r"already sets alpha = 1.2"):
        HeavyTailedSGD(_params(), lr=0.1, noise=htsgd.Pareto(1.2, 0.4), alpha=1.5)
    with pytest.raises(ValueError, match=r"Invalid noise_scale: 1.0; the noise law"):
        HeavyTailedSGD(_params(), lr=0.1, noise=htsgd.StudentT(3.0, 0.5), noise_scale=1.0)
    with pytest.raises(ValueError, match=r"Invalid alpha: 2.0; the noise law Gaussian"):
        HeavyTailedSGD(_params(), lr=0.1, noise=htsgd.Gaussian(1.0), alpha=2.0)
    # the defaults of a name are unchanged
    g = HeavyTailedSGD(_params(), lr=0.1).param_groups[0]
    assert (g["noise"], g["alpha"], g["noise_scale"], g["clip"]) == ("pareto", 1.5, 1.0, "norm")


def test_law_objects_per_param_group():
    a, b = _params(), _params()
    opt = HeavyTailedSGD([{"params": [a[0]], "noise": htsgd.Stable(1.5, 0.1)}, {"params": [a[1]]}], lr=0.1, seed=1,
                         noise=htsgd.Pareto(1.3, 0.2))
    assert [(g["noise"], g["alpha"], g["noise_scale"]) for g in opt.param_groups] == \
        [("stable", 1.5, 0.1), ("pareto", 1.3, 0.2)]
    with pytest.raises(ValueError, match="Invalid alpha: 1.9"):
        opt.add_param_group({"params": [b[0]], "noise": htsgd.Pareto(1.3, 0.2), "alpha": 1.9})
    assert len(opt.param_groups) == 2
    opt.param_groups[1]["noise"] = htsgd.Pareto(1.7, 0.05)  # assigned after construction: resolved by step()
    _train(a, opt, steps=1)
    assert (opt.param_groups[1]["noise"], opt.param_groups[1]["alpha"]) == ("pareto", 1.7)


@pytest.mark.parametrize("foreach", [False, True])
def test_clip_norm_is_global(foreach):
    a, b = _params(), _params()
    x = _train(a, HeavyTailedSGD(a, lr=0.2, truncation=0.1, clip="norm", momentum=0.5, seed=2, foreach=foreach))
    y = _train(b, HeavyTailedSGD(b, lr=0.2, truncation=0.1, clip="global", momentum=0.5, seed=2, foreach=foreach))
    assert all(torch.equal(u, v) for u, v in zip(x, y))
    phi = htsgd.torch.phi_b([torch.tensor([3.0, 4.0])], 1.0, "norm")[0]
    assert torch.allclose(phi, torch.tensor([0.6, 0.8]))


@pytest.mark.parametrize("foreach", [False, True])
def test_step_is_the_functional_form(foreach):
    a, b = _params(), _params()
    opt = HeavyTailedSGD(a, lr=0.1, noise=htsgd.Pareto(1.5, 0.3), truncation=0.2, momentum=0.9, seed=5,
                         foreach=foreach)
    gen = torch.Generator().manual_seed(0)
    gen.set_state(opt.generator_for("cpu").get_state())
    bufs = [None, None]
    for _ in range(3):
        for ps in (a, b):
            for p in ps:
                p.grad = None
            sum((p ** 2).sum() for p in ps).backward()
        opt.step()
        with torch.no_grad():
            norm = heavy_tailed_sgd(b, [p.grad for p in b], bufs, lr=0.1, generator=gen, noise="pareto",
                                    alpha=1.5, noise_scale=0.3, truncation=0.2, clip="norm", momentum=0.9,
                                    foreach=foreach)
        assert torch.equal(norm, opt.last_step_norm)
    assert all(torch.equal(x.detach(), y.detach()) for x, y in zip(a, b))


def test_one_estimate_type():
    assert Estimate is htsgd.results.Estimate is htsgd.Estimate
    model = torch.nn.Linear(3, 1).double()
    x = torch.randn(20, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    est = expected_sharpness(model, lambda: (model(x) ** 2).mean(), delta=1e-2, n_samples=8, seed=0)
    assert type(est) is htsgd.results.Estimate and est.n == 8 and est.stderr >= 0
    assert htsgd.results.Estimate(1.0, 0.1).n is None and str(est).count("+-") == 1
    # the 0.2.0 contract of the simulator's estimates holds: a pair that unpacks and compares as a tuple
    value, stderr = est
    assert (value, stderr) == est == (est.value, est.stderr) and len(est) == 2
    back = pickle.loads(pickle.dumps(est))
    assert type(back) is htsgd.results.Estimate and back == est and back.n == 8
    with pytest.raises(AttributeError):
        est.n = 3


def _complex_loss(re, im):
    return (0.5 * re ** 2 + 2.0 * im ** 2 + re * im + 0.3 * re).sum()


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("kw", [
    {"clip": "norm", "truncation": 0.05, "momentum": 0.9},
    {"clip": "coordinate", "truncation": 0.01, "momentum": 0.5, "nesterov": True},
    {"clip": "tensor", "truncation": 0.02, "weight_decay": 0.1},
    {"noise_mode": "multiplicative", "truncation": 0.05, "momentum": 0.9},
    {"noise": None, "momentum": 0.9},
], ids=["norm", "coordinate", "tensor", "multiplicative", "sgd"])
def test_a_complex_parameter_steps_as_its_real_view(kw, foreach):
    g = torch.Generator().manual_seed(3)
    z = torch.nn.Parameter(torch.randn(6, 4, dtype=torch.complex128, generator=g))
    w = torch.nn.Parameter(torch.randn(5, dtype=torch.float64, generator=g))
    twin = torch.nn.Parameter(torch.view_as_real(z.detach()).clone())
    w2 = torch.nn.Parameter(w.detach().clone())
    kw = {"lr": 0.1, "noise": htsgd.Pareto(1.5, 0.5), "seed": 11, "foreach": foreach, **kw}
    opt_c, opt_r = HeavyTailedSGD([z, w], **kw), HeavyTailedSGD([twin, w2], **kw)
    for _ in range(4):
        for opt, (re, im), other in ((opt_c, (z.real, z.imag), w), (opt_r, twin.unbind(-1), w2)):
            opt.zero_grad()
            (_complex_loss(re, im) + (other ** 2).sum()).backward()
            opt.step()
    assert torch.equal(torch.view_as_real(z.detach()), twin.detach()) and torch.equal(w.detach(), w2.detach())
    assert not torch.equal(twin.detach(), torch.view_as_real(z.detach()) * 0)  # something moved
    buf = opt_c.state[z].get("momentum_buffer")
    if buf is not None:
        assert buf.is_complex() and torch.equal(torch.view_as_real(buf), opt_r.state[twin]["momentum_buffer"])
    sd = opt_c.state_dict()  # the state stays complex and round-trips
    opt_c.load_state_dict(sd)
