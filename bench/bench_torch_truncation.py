"""Cost of phi_b's extreme-step repair in htsgd.torch.HeavyTailedSGD (see htsgd/torch/truncation.py), before
against after, in one process.

    python bench/bench_torch_truncation.py [--before b8f89f1] [--numel 100000] [--tensors 10] [--rounds 200]

"before" is the optimizer as it was at commit ``--before`` (its optimizer.py and _functional.py loaded from git,
with today's noise and truncation helpers that it imports); "after" is this tree's (on CPU the clip
coefficient is read back and the repair runs only when needed); "after, device path" is this tree's with the
repair always computed on the device and selected with torch.where (what CUDA runs; the CPU figures show
its extra passes, not CUDA's cost). The builds step the same parameters (the same memory), in an order
shuffled every round (the machine is shared and noisy); ratios are medians of per-round ratios against
"before". Timed: a truncated noise-free step and the additive-noise step (C++ sampler). Nothing asserts on
time; the builds are first checked to take the same step bit for bit.
"""
from __future__ import annotations

import argparse
import pathlib
import random
import statistics
import subprocess
import sys
import time
import types

import torch

import htsgd.torch.truncation as truncation
from htsgd.torch import HeavyTailedSGD

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _module_at(commit: str, path: str, name: str, replace: tuple[tuple[str, str], ...] = ()) -> types.ModuleType:
    """Load ``path`` as it was at ``commit`` as the module ``name`` inside the package htsgd.torch."""
    src = subprocess.check_output(["git", "-C", str(ROOT), "show", f"{commit}:{path}"], text=True)
    for a, b in replace:
        src = src.replace(a, b)
    mod = types.ModuleType(name)
    mod.__package__ = "htsgd.torch"
    mod.__file__ = f"<{commit}:{path}>"
    sys.modules[name] = mod
    exec(compile(src, mod.__file__, "exec"), mod.__dict__)
    return mod


def optimizer_before(commit: str) -> type:
    _module_at(commit, "python/htsgd/torch/_functional.py", "htsgd.torch._functional_before")
    old = _module_at(commit, "python/htsgd/torch/optimizer.py", "htsgd.torch.optimizer_before",
                     ((" ._functional import", " ._functional_before import"),))
    return old.HeavyTailedSGD


def params(n_tensors: int, numel: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    ps = []
    for _ in range(n_tensors):
        p = torch.randn(numel, generator=g).requires_grad_()
        p.grad = torch.randn(numel, generator=g)
        ps.append(p)
    return ps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default="b8f89f1", help="the commit to compare with")
    ap.add_argument("--tensors", type=int, default=10)
    ap.add_argument("--numel", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--foreach", action="store_true")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (1: steadier on a loaded machine)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    builds = {"before": (optimizer_before(args.before), True), "after": (HeavyTailedSGD, True),
              "after, device path": (HeavyTailedSGD, False)}
    kinds = {"noise-free, truncated": {"noise": None}, "additive noise, truncated": {"noise": "pareto"}}

    def make(build, ps, kw):
        return builds[build][0](ps, lr=0.01, truncation=1e-3, seed=1, foreach=args.foreach, **kw)

    for kind, kw in kinds.items():  # every build takes the same step
        results = []
        for build in builds:
            truncation.HOST_CHECK_ON_CPU = builds[build][1]
            ps = params(args.tensors, 1000)
            make(build, ps, kw).step()
            results.append(ps)
        assert all(torch.equal(x, y) for r in results[1:] for x, y in zip(results[0], r)), kind
    shared = {kind: params(args.tensors, args.numel) for kind in kinds}  # the builds step the same memory
    opts = {(kind, build): make(build, shared[kind], kw) for kind, kw in kinds.items() for build in builds}
    times: dict[tuple, list[float]] = {k: [] for k in opts}
    rng = random.Random(0)
    for r in range(args.rounds + 1):
        order = list(opts)
        rng.shuffle(order)  # no build always follows the same one (caches)
        for key in order:
            truncation.HOST_CHECK_ON_CPU = builds[key[1]][1]
            t = time.perf_counter()
            opts[key].step()
            if r:
                times[key].append(time.perf_counter() - t)
    truncation.HOST_CHECK_ON_CPU = True
    n = args.tensors * args.numel
    print(f"{n / 1e6:.1f}M float32 parameters in {args.tensors} tensors, foreach={args.foreach}, "
          f"torch threads {torch.get_num_threads()}, {args.rounds} rounds, before = {args.before}")
    print(f"{'step':28s} {'build':20s} {'ms/step (median)':>16s} {'x before':>9s}")
    for kind in kinds:
        base = times[kind, "before"]
        for build in builds:
            ts = times[kind, build]
            ratio = statistics.median([t / b for t, b in zip(ts, base)])
            print(f"{kind:28s} {build:20s} {statistics.median(ts) * 1e3:16.3f} {ratio:9.3f}")
    print("x before: median over rounds of the ratio within a round")


if __name__ == "__main__":
    main()
