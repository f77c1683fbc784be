"""The bits that must not change: SHA-256 digests of a broad set of outputs of the public API.

Run as a script (``python tests/digest_workload.py``) it prints ``{name: digest}`` as JSON for the ISA that
``HTSGD_ISA`` selects; ``tests/test_digests.py`` runs it once per ISA of the machine and compares with
``tests/data/digests.json``. The workloads cover every noise law, 1-D and d-D landscapes, ``run``,
``exit_times``, the rare-event estimators, ``sample`` (``fill_noise``) and the torch optimizer's noise.
Regenerate the stored file only with a version bump that changes the random streams (CHANGELOG).
"""
from __future__ import annotations

import hashlib
import json
import math
import sys
import warnings

import numpy as np

import htsgd
from htsgd import landscapes as L


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a))
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:24]


LAWS = {
    "pareto": htsgd.Pareto(1.5, 0.2),
    "stable": htsgd.Stable(1.7, 0.1),
    "stable1": htsgd.Stable(1.0, 0.1),
    "student_t": htsgd.StudentT(2.5, 0.1),
    "gaussian": htsgd.Gaussian(0.3),
}


def workloads() -> dict[str, str]:
    out: dict[str, str] = {}
    # fill_noise through the public sampler, float64
    for name, law in LAWS.items():
        out[f"sample/{name}"] = _digest(law.sample(10_001, rng=3))
    # 1-D landscapes x laws: run (final, trajectory, occupancy) and exit times
    one_d = {
        "doublewell": L.DoubleWell(),
        "polynomial": L.Polynomial([0.0, 0.3, -1.0, 0.0, 0.5]),
        "critical": L.CriticalPoints([-2.0, -1.2, 0.0, 0.4, 1.5], scale=0.8),
        "tabulated": L.Tabulated(np.linspace(-3, 3, 61), np.linspace(-3, 3, 61) ** 3 - np.linspace(-3, 3, 61)),
    }
    for lname, land in one_d.items():
        for name, law in LAWS.items():
            for b in (0.6, None):
                sgd = htsgd.HeavyTailedSGD(land, lr=0.05, noise=law, truncation=b)
                r = sgd.run(x0=0.9, n_steps=300, n_particles=257, rng=11, record_every=50, n_threads=2)
                out[f"run1d/{lname}/{name}/b={b}"] = _digest(r.final, r.trajectory, r.occupancy)
                et = sgd.exit_times(x0=0.9, domain=(0.0, math.inf), n_particles=129, max_steps=2000, rng=12,
                                    n_threads=2)
                out[f"exit1d/{lname}/{name}/b={b}"] = _digest(et.steps, et.position, et.exited)
    # bounds, first_particle replay
    sgd = htsgd.HeavyTailedSGD(L.DoubleWell(), lr=0.1, noise=LAWS["pareto"], truncation=2.0, bounds=(-1.5, 1.2))
    r = sgd.run(x0=1.0, n_steps=500, n_particles=100, rng=5, first_particle=1000, occupancy=False)
    out["run1d/bounds/first_particle"] = _digest(r.final)
    # d-D: quadratic and separable, norm / coordinate clipping, isotropic, every law
    for d in (2, 5, 17):
        h = np.diag(np.linspace(0.5, 2.0, d))
        for name, law in LAWS.items():
            for clip, iso in (("norm", False), ("coordinate", False), ("norm", True)):
                sgd = htsgd.HeavyTailedSGD(L.Quadratic(h), lr=0.05, noise=law, truncation=0.7, clip=clip,
                                           isotropic=iso)
                r = sgd.run(x0=np.zeros(d), n_steps=100, n_particles=37, rng=21, record_every=25, n_threads=2)
                out[f"runNd/quadratic/d={d}/{name}/{clip}/iso={iso}"] = _digest(r.final, r.trajectory)
    sep = L.Separable(L.DoubleWell(), 3)
    for name, law in LAWS.items():
        sgd = htsgd.HeavyTailedSGD(sep, lr=0.05, noise=law, truncation=0.6, bounds=(-3.0, 3.0))
        r = sgd.run(x0=np.ones(3), n_steps=200, n_particles=65, rng=31, n_threads=2)
        out[f"runNd/separable/{name}"] = _digest(r.final, r.occupancy)
        et = sgd.exit_times(x0=np.ones(3), domain=(np.zeros(3), np.full(3, np.inf)), n_particles=65,
                            max_steps=3000, rng=32, n_threads=2)
        out[f"exitNd/separable/{name}"] = _digest(et.steps, et.position, et.exited)
    # untruncated d-D (overflow flags included)
    sgd = htsgd.HeavyTailedSGD(L.Quadratic(np.eye(2)), lr=0.05, noise=htsgd.Pareto(1.2, 1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = sgd.run(x0=np.zeros(2), n_steps=300, n_particles=64, rng=41, n_threads=2)
    out["runNd/untruncated"] = _digest(r.final, r.nonfinite_index)
    # rare events: importance and crude, and the two-horizon mean exit time
    sgd = htsgd.HeavyTailedSGD(L.DoubleWell(), lr=0.01, noise=htsgd.Pareto(1.5, 0.05), truncation=0.6)
    p = sgd.exit_probability(1.0, (0.0, math.inf), horizon=400, n_samples=20_000, rng=51, n_threads=2)
    out["rare/importance"] = _digest(np.array([p.value, p.stderr, p.n_samples]))
    p = sgd.exit_probability(1.0, (0.0, math.inf), horizon=400, method="crude", n_samples=5_000, rng=52,
                             n_threads=2)
    out["rare/crude"] = _digest(np.array([p.value, p.stderr, p.n_samples]))
    m = sgd.mean_exit_time(1.0, (0.0, math.inf), method="importance", n_samples=20_000, rng=53, n_threads=2)
    out["rare/mean_exit_time"] = _digest(np.array([m.value, m.stderr]))
    # torch: the optimizer's C++ noise path ("core") and its torch path
    try:
        import torch
    except ImportError:
        return out
    from htsgd.torch import HeavyTailedSGD as TorchSGD
    from htsgd.torch.noise import fill_noise_
    for name, law in (("pareto", "pareto"), ("stable", "stable"), ("student_t", "student_t"),
                      ("gaussian", "gaussian")):
        t = torch.empty(4099, dtype=torch.float64)
        g = torch.Generator().manual_seed(7)
        fill_noise_(t, law, 1.6 if law != "gaussian" else 2.0, 0.5, generator=g, sampler="core")
        out[f"torch/core/{name}"] = _digest(t.numpy())
        t32 = torch.empty(4099, dtype=torch.float32)
        fill_noise_(t32, law, 1.6 if law != "gaussian" else 2.0, 0.5, generator=g, sampler="torch")
        out[f"torch/torch/{name}/f32"] = _digest(t32.numpy())
    # the core sampler's float32 path (float32 in place, bfloat16 through float32)
    for name in ("pareto", "stable", "student_t", "gaussian"):
        g = torch.Generator().manual_seed(8)
        t32 = torch.empty(4099, dtype=torch.float32)
        fill_noise_(t32, name, 1.6 if name != "gaussian" else 2.0, 0.5, generator=g, sampler="core")
        out[f"torch/core/{name}/f32"] = _digest(t32.numpy())
    tbf = torch.empty(4099, dtype=torch.bfloat16)
    fill_noise_(tbf, "pareto", 1.6, 0.5, generator=torch.Generator().manual_seed(8), sampler="core")
    out["torch/core/pareto/bf16"] = _digest(tbf.float().numpy())
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(33, 7, dtype=torch.float64)), torch.nn.Parameter(torch.randn(5))]
    opt = TorchSGD(params, lr=0.1, noise="pareto", alpha=1.4, noise_scale=0.5, truncation=0.5, momentum=0.9,
                   seed=9)
    for _ in range(5):
        opt.zero_grad()
        sum((p ** 2).sum() for p in params).backward()
        opt.step()
    out["torch/optimizer"] = _digest(*[p.detach().numpy() for p in params])
    return out


if __name__ == "__main__":
    warnings.simplefilter("ignore")  # overflow warnings of the untruncated workloads are expected
    json.dump({"isa": htsgd._core.active_isa(), "digests": workloads()}, sys.stdout, indent=1, sort_keys=True)
