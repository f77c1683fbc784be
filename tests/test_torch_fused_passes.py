"""The optimizer's fused C++ passes give torch's bits on every instruction set.

- The direction pass (cpp/include/htsgd/direction_pass.hpp) replaces, on float32 CPU tensors, torch.lerp (the
  multiplicative noisy gradient), torch.optim.SGD's direction (maximize, weight decay, momentum, dampening,
  Nesterov) and ref.lerp_(g, w), so it must round as torch does: once per lerp and add where torch's CPU
  kernels are AVX2/AVX-512, twice where they are DEFAULT.
- The additive mode's float32 fill takes the noisy gradient into the momentum buffer in its pass
  (law_lanes_f32.hpp), as buf.mul_(m).add_(noise + g).

Each pair of (htsgd's instruction set, torch's CPU capability) runs in a subprocess (both are chosen once per
process). The kernels' checks that need no torch (operands, thread independence) are
tests/test_optimizer_kernels.py.
"""
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from htsgd import _core  # noqa: E402
from htsgd.torch._single_tensor import _LERP_FUSED  # noqa: E402

_SCRIPT = """
import torch
from htsgd import _core
from htsgd.torch._single_tensor import _LERP_FUSED
fused = _LERP_FUSED[torch.backends.cpu.get_cpu_capability()]
gen = torch.Generator().manual_seed(0)
bad = checked = 0


def torch_direction(n, p, buf, wd, maximize, m, damp, nesterov):  # torch.optim.SGD's single-tensor body
    n = n if not maximize else -n
    if wd != 0:
        n = n.add(p, alpha=wd)
    if m == 0:
        return n
    buf.mul_(m).add_(n, alpha=1 - damp)
    return n.add(buf, alpha=m) if nesterov else buf


# sizes: below one vector, odd tails, several blocks, split over threads (> 2 * 32768)
for n in (5, 35, 3000, 100_003):
    # multipliers on both sides of torch's |t| < 0.5 switch, and heavy ones
    for z in (0.3, 0.49999997, 0.5, -0.7, 7.3, -1e4) if n < 10**4 else (0.49999997, -0.7):
        g, r, b, p = (torch.randn(n, generator=gen) * s for s in (1.0, 3.0, 1.0, 2.0))
        zt = torch.tensor(z, dtype=torch.float32)
        configs = [(0.0, False, 0.9, 0.0, False), (5e-4, False, 0.9, 0.0, False), (0.01, True, 0.9, 0.1, False),
                   (0.0, False, 0.9, 0.0, True), (1e-3, True, 0.0, 0.0, False), (0.0, False, 0.0, 0.0, False)]
        for k, (wd, maximize, m, damp, nesterov) in enumerate(configs):
            w = (0.1, 0.7)[k % 2]  # the moving average's weight on both sides of 0.5
            # multiplicative, moving-average reference
            want_b = b.clone()
            want_d = torch_direction(torch.lerp(r, g, zt), p, want_b, wd, maximize, m, damp, nesterov)
            want_r = r.clone().lerp_(g, w)
            r1, b1, out = r.clone(), b.clone(), torch.empty(n)
            direct = m == 0 or nesterov
            _core.direction_pass_f32(g.numpy(), ref=r1.numpy(), param=p.numpy(), buf=b1.numpy() if m else None,
                                     out=out.numpy() if direct else None, z=float(zt), weight=w, update_ref=True,
                                     decay=wd != 0, weight_decay=wd, maximize=maximize, momentum=m,
                                     alpha=1 - damp, nesterov=nesterov, fused=fused, n_threads=2)
            got_d = out if direct else b1
            pairs = [(got_d, want_d), (r1, want_r)] + ([(b1, want_b)] if m else [])
            # additive: the noisy gradient given, the direction in place where it is not the buffer
            noisy = torch.randn(n, generator=gen)
            want_b = b.clone()
            want_d = torch_direction(noisy.clone(), p, want_b, wd, maximize, m, damp, nesterov)
            b2, v = b.clone(), noisy.clone()
            _core.direction_pass_f32(g.numpy(), noisy=v.numpy(), param=p.numpy(), buf=b2.numpy() if m else None,
                                     out=v.numpy() if direct else None, decay=wd != 0, weight_decay=wd,
                                     maximize=maximize, momentum=m, alpha=1 - damp, nesterov=nesterov,
                                     fused=fused, n_threads=1)
            pairs += [(v if direct else b2, want_d)] + ([(b2, want_b)] if m else [])
            for got, want in pairs:
                bad += int((got != want).sum())
                checked += n
# a consumed reference without momentum: the noisy gradient in place
for n in (35, 100_003):
    g, r = torch.randn(n, generator=gen), torch.randn(n, generator=gen)
    want = torch.lerp(r, g, torch.tensor(7.3))
    _core.direction_pass_f32(g.numpy(), ref=r.numpy(), out=r.numpy(), z=7.3, fused=fused, n_threads=2)
    bad += int((r != want).sum())
    checked += n
# the additive fill with momentum: every lane width, the partial group of 64, several chunks and threads
for n in (77, 70_001):
    g, b = torch.randn(n, generator=gen), torch.randn(n, generator=gen)
    noisy, want = torch.empty(n), b.clone()
    _core.fill_noise_f32([noisy.numpy()], "pareto", 1.5, 0.3, [7], [9], 2, [g.numpy()])
    want.mul_(0.9).add_(noisy)
    _core.fill_noise_f32([b.numpy()], "pareto", 1.5, 0.3, [7], [9], 2, [g.numpy()], [0.9])
    bad += int((b != want).sum())
    checked += n
    # with SGD's other options (weight decay, dampening, maximize): its whole update of the buffer
    for law in ("pareto", "stable"):
        p, b = torch.randn(n, generator=gen), torch.randn(n, generator=gen)
        _core.fill_noise_f32([noisy.numpy()], law, 1.5, 0.3, [7], [9], 2, [g.numpy()])
        want = b.clone()
        torch_direction(noisy, p, want, 0.01, True, 0.9, 0.1, False)
        _core.fill_noise_f32([b.numpy()], law, 1.5, 0.3, [7], [9], 2, [g.numpy()], [0.9], params=[p.numpy()],
                             decay=True, weight_decay=0.01, maximize=True, one_minus_dampening=1 - 0.1, fused=fused)
        bad += int((b != want).sum())
        checked += n
print(torch.backends.cpu.get_cpu_capability(), fused, bad, checked)
"""


@pytest.mark.parametrize("capability", ["native", "default"])
def test_fused_pass_has_torchs_bits_on_every_instruction_set(capability):
    for isa in ("baseline", "avx2", "avx512"):
        env = dict(os.environ, HTSGD_ISA=isa)
        if capability == "default":
            env["ATEN_CPU_CAPABILITY"] = "default"
        res = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, check=True)
        cap, fused, bad, checked = res.stdout.split()
        assert cap in _LERP_FUSED and (capability == "native" or cap == "DEFAULT"), res.stdout
        assert int(checked) > 5 * 10**6 and int(bad) == 0, (isa, res.stdout)


def test_the_other_rounding_would_differ():
    # the check above has power: the form torch does not use differs in many elements (lerp, and add with alpha)
    gen = torch.Generator().manual_seed(1)
    g, r, p = (torch.randn(10_000, generator=gen) for _ in range(3))
    fused = _LERP_FUSED[torch.backends.cpu.get_cpu_capability()]
    out = torch.empty(10_000)
    _core.direction_pass_f32(g.numpy(), ref=r.clone().numpy(), out=out.numpy(), z=7.3, fused=not fused)
    assert int((out != torch.lerp(r, g, torch.tensor(7.3))).sum()) > 1000
    v = g.clone()
    _core.direction_pass_f32(g.numpy(), noisy=v.numpy(), out=v.numpy(), param=p.numpy(), decay=True,
                             weight_decay=0.9, fused=not fused)
    assert int((v != g.add(p, alpha=0.9)).sum()) > 1000
