"""Cost of the extreme-step repair of phi_b in htsgd.torch.HeavyTailedSGD (see htsgd/torch/truncation.py).

    python bench/bench_torch_truncation.py [--numel 100000] [--tensors 10] [--rounds 200]

Times one optimizer step, interleaved round by round in one process (the machine is shared and noisy), for
three builds of the same step: "before" (the repair switched off: the ordinary clip only, as before the
repair existed), "host check" (CPU: the coefficient is read back and the repair runs only when needed) and
"device" (the repair computed on the device and selected with torch.where, as on CUDA). Each step is timed
for a truncated noise-free step and for the additive-noise step; ratios are medians of per-round ratios
against "before". Nothing asserts on time; the three builds are checked to give equal parameters first.
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

import torch

import htsgd.torch._functional as functional
import htsgd.torch.truncation as truncation
from htsgd.torch import HeavyTailedSGD

_REPAIR = truncation.repair_clip


def _off(*args, **kwargs):
    return None


BUILDS = {"before": (_off, True), "host check": (_REPAIR, True), "device": (_REPAIR, False)}


def use(build: str) -> None:
    repair, host = BUILDS[build]
    functional.repair_clip = repair
    truncation.repair_clip = repair
    truncation.HOST_CHECK_ON_CPU = host


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
    ap.add_argument("--tensors", type=int, default=10)
    ap.add_argument("--numel", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--foreach", action="store_true")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (1: steadier on a loaded machine)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    kinds = {"noise-free, truncated": {"noise": None}, "additive noise, truncated": {"noise": "pareto"}}
    for kind, kw in kinds.items():  # the three builds take the same step
        results = []
        for build in BUILDS:
            use(build)
            ps = params(args.tensors, 1000)
            HeavyTailedSGD(ps, lr=0.01, truncation=1e-3, seed=1, foreach=args.foreach, **kw).step()
            results.append(ps)
        assert all(torch.equal(x, y) for r in results[1:] for x, y in zip(results[0], r)), kind
    # one optimizer per kind, shared by the builds (the same memory: only the code differs)
    opts = {kind: HeavyTailedSGD(params(args.tensors, args.numel), lr=0.01, truncation=1e-3, seed=1,
                                 foreach=args.foreach, **kw) for kind, kw in kinds.items()}
    keys = [(kind, build) for kind in kinds for build in BUILDS]
    times: dict[tuple, list[float]] = {k: [] for k in keys}
    rng = random.Random(0)
    for r in range(args.rounds + 1):
        order = list(keys)
        rng.shuffle(order)  # shuffled each round: no build always follows the same one (caches)
        for key in order:
            use(key[1])
            t = time.perf_counter()
            opts[key[0]].step()
            if r:
                times[key].append(time.perf_counter() - t)
    use("host check")
    n = args.tensors * args.numel
    print(f"{n / 1e6:.1f}M float32 parameters in {args.tensors} tensors, foreach={args.foreach}, "
          f"torch threads {torch.get_num_threads()}, {args.rounds} rounds")
    print(f"{'step':28s} {'build':11s} {'ms/step (median)':>16s} {'x before (median of ratios)':>28s}")
    for kind in kinds:
        base = times[kind, "before"]
        for build in BUILDS:
            ts = times[kind, build]
            ratio = statistics.median([t / b for t, b in zip(ts, base)])
            print(f"{kind:28s} {build:11s} {statistics.median(ts) * 1e3:16.3f} {ratio:28.3f}")


if __name__ == "__main__":
    main()
