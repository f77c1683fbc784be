"""CUDA checks of htsgd.torch (skipped cleanly without a GPU)."""
import pytest

torch = pytest.importorskip("torch")

from htsgd.torch import HeavyTailedSGD, noise  # noqa: E402
from stats_helpers import assert_tail  # noqa: E402

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def model(device):
    g = torch.Generator().manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    return m.to(device)


def train(m, opt, steps=10):
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(64, 6, generator=g).cuda(), torch.randint(0, 3, (64,), generator=g).cuda()
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(m(x), y).backward()
        opt.step()
    return [p.detach().clone() for p in m.parameters()]


def test_matches_torch_sgd_on_cuda():
    for foreach in (False, True):
        a = train(m := model("cuda"), torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, foreach=foreach))
        b = train(m := model("cuda"), HeavyTailedSGD(m.parameters(), lr=0.1, momentum=0.9, noise=None,
                                                     foreach=foreach))
        assert all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("mode", ["additive", "multiplicative"])
def test_noisy_step_is_deterministic_and_does_not_synchronise(mode):
    runs = []
    for foreach in (False, True):
        m = model("cuda")
        opt = HeavyTailedSGD(m.parameters(), lr=0.1, truncation=0.2, noise_mode=mode, seed=3, foreach=foreach)
        torch.cuda.set_sync_debug_mode("error")
        try:
            runs.append(train(m, opt))
        finally:
            torch.cuda.set_sync_debug_mode("default")
    # the norms may be reduced in a different order on the two paths: equal up to rounding
    assert all(torch.allclose(x, y, rtol=1e-5, atol=1e-6) for x, y in zip(*runs))


def test_generator_on_the_wrong_device_is_rejected():
    with pytest.raises(ValueError, match="Invalid generator"):
        HeavyTailedSGD(model("cuda").parameters(), lr=0.1, generator=torch.Generator())


def test_cuda_pareto_law():
    g = torch.Generator(device="cuda").manual_seed(0)
    z = noise.sample_noise((400_000,), "pareto", 1.5, 1.0, g)
    assert z.device.type == "cuda"
    for x in (0.5, 5.0, 50.0):
        assert_tail(z.double().cpu().numpy(), x, (1 + x) ** -1.5, what="CUDA Pareto")
