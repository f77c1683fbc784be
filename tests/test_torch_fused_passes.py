"""The optimizer's fused C++ passes give torch's bits on every instruction set.

- The multiplicative mode's pass (cpp/include/htsgd/multiplicative_pass.hpp) replaces torch.lerp,
  buf.mul_(m).add_(n) and ref.lerp_(g, w) on float32 CPU tensors, so it must round as torch does: once per
  lerp where torch's CPU kernels are AVX2/AVX-512, twice where they are DEFAULT.
- The additive mode's float32 fill takes the noisy gradient into the momentum buffer in its pass
  (law_lanes_f32.hpp), as buf.mul_(m).add_(noise + g).

Each pair of (htsgd's instruction set, torch's CPU capability) runs in a subprocess (both are chosen once per
process).
"""
import os
import subprocess
import sys

import numpy as np
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
# sizes: below one vector, odd tails, one thread, split over threads (> 2 * 32768)
for n in (5, 35, 1000, 200_003):
    # multipliers on both sides of torch's |t| < 0.5 switch, heavy ones, and the weights of the moving average
    for z in (0.3, 0.49999997, 0.5, -0.5, -0.7, 7.3, -1e4):
        for w in (0.1, 0.5, 0.7):
            g, r, b = (torch.randn(n, generator=gen) * s for s in (1.0, 3.0, 1.0))
            zt = torch.tensor(z, dtype=torch.float32)
            noisy = torch.lerp(r, g, zt)
            want_b, want_r = b.clone().mul_(0.9).add_(noisy), r.clone().lerp_(g, w)
            r1, b1 = r.clone(), b.clone()  # momentum, moving-average reference
            _core.multiplicative_pass_f32(g.numpy(), r1.numpy(), b1.numpy(), None, float(zt), 0.9, w, True, fused, 2)
            r2, out = r.clone(), torch.empty(n)  # no momentum: the noisy gradient into a workspace
            _core.multiplicative_pass_f32(g.numpy(), r2.numpy(), None, out.numpy(), float(zt), 0.9, w, False, fused, 2)
            r3 = r.clone()  # no momentum, a consumed reference: in place
            _core.multiplicative_pass_f32(g.numpy(), r3.numpy(), None, r3.numpy(), float(zt), 0.9, w, False, fused, 1)
            for got, want in ((b1, want_b), (r1, want_r), (out, noisy), (r2, r), (r3, noisy)):
                bad += int((got != want).sum())
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
        assert int(checked) > 10**7 and int(bad) == 0, (isa, res.stdout)


def test_the_other_rounding_would_differ():
    # the check above has power: the form torch does not use differs in many elements
    gen = torch.Generator().manual_seed(1)
    g, r = torch.randn(10_000, generator=gen), torch.randn(10_000, generator=gen)
    fused = _LERP_FUSED[torch.backends.cpu.get_cpu_capability()]
    out = torch.empty(10_000)
    _core.multiplicative_pass_f32(g.numpy(), r.clone().numpy(), None, out.numpy(), 7.3, 0.0, 0.0, False, not fused)
    assert int((out != torch.lerp(r, g, torch.tensor(7.3))).sum()) > 1000


def test_operands_are_checked():
    g, r, b = np.zeros(10, np.float32), np.zeros(10, np.float32), np.zeros(10, np.float32)
    kernel = _core.multiplicative_pass_f32
    with pytest.raises(ValueError, match="buf must be a writable C-contiguous float32 array the size of grad"):
        kernel(g, r, np.zeros(9, np.float32), None, 1.0, 0.9, 0.1, True, True)
    with pytest.raises(ValueError, match="ref must be"):
        kernel(g, r.astype(np.float64), b, None, 1.0, 0.9, 0.1, True, True)
    with pytest.raises(ValueError, match="grad must be"):
        kernel(np.zeros(20, np.float32)[::2], r, b, None, 1.0, 0.9, 0.1, True, True)
    frozen = np.zeros(10, np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="out must be a writable"):
        kernel(g, r, None, frozen, 1.0, 0.9, 0.1, False, True)
    with pytest.raises(ValueError, match="one of buf and out"):
        kernel(g, r, None, None, 1.0, 0.9, 0.1, False, True)
