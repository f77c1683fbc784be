"""Sweep engine vs direct calls: many small exit-time cells, in one run.

1. direct: every cell as one ``exit_times`` call (all cores), one after the other, with the cell's own seed;
2. sweep (embedded): ``htsgd.sweep.run(spec, DIR)``: a LocalCluster started and stopped by the call;
3. sweep (warm cluster): the same on a cluster of the same layout started beforehand (the steady state);
4. trivial cells (one particle, one step): the engine's cost per task (submit, gather, store).

Asserts that every sweep estimate equals the direct call's, then prints the ratios: the goal is a sweep
total <= 1.15x the sum of the direct calls on the embedded cluster.

    python bench/bench_sweep.py [--lrs 12] [--alphas 8] [--particles 2000]
"""
from __future__ import annotations

import argparse
import math
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def spec_for(lrs: int, alphas: int, particles: int, max_steps: int, seed: int = 1):
    from htsgd.sweep import Sweep

    return Sweep(model={"landscape": {"type": "DoubleWell"}, "noise": {"type": "Pareto", "alpha": 1.5, "scale": 0.2},
                        "lr": 0.1, "truncation": 1.5},
                 grid={"lr": [float(x) for x in np.geomspace(0.2, 0.05, lrs)],
                       "noise.alpha": [float(x) for x in np.linspace(1.3, 1.8, alphas)]},
                 measure={"type": "exit_times", "x0": 1.0, "domain": [0.0, math.inf], "n_particles": particles,
                          "max_steps": max_steps}, seed=seed)


def direct(spec) -> tuple[float, list[float], int]:
    """Every cell as one call; returns the summed seconds of the calls, the estimates and particle-steps."""
    from htsgd.sweep.seeding import cell_seed
    from htsgd.sweep.tasks import build_model

    total, estimates, steps = 0.0, [], 0
    m = spec.measure
    for cell in spec.expand():
        sgd = build_model(cell.model)
        rng = cell_seed(spec.seed, cell.model, m["type"])
        t = time.perf_counter()
        et = sgd.exit_times(x0=m["x0"], domain=tuple(m["domain"]), n_particles=m["n_particles"],
                            max_steps=m["max_steps"], rng=rng)
        total += time.perf_counter() - t
        estimates.append(et.mean().value)
        steps += int(et.steps.sum())
    return total, estimates, steps


def timed_sweep(spec, out: Path, **kw) -> tuple[float, object]:
    from htsgd.sweep import run

    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    res = run(spec, out, **kw)
    return time.perf_counter() - t, res


def main() -> None:
    import logging

    import dask
    import distributed

    from htsgd.sweep.execution import default_layout

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lrs", type=int, default=12)
    ap.add_argument("--alphas", type=int, default=8)
    ap.add_argument("--particles", type=int, default=2000)
    ap.add_argument("--max-steps", type=int, default=10**6)
    args = ap.parse_args()
    spec = spec_for(args.lrs, args.alphas, args.particles, args.max_steps)
    n_cells = len(spec.expand())
    workers, threads = default_layout()
    print(f"{n_cells} cells of {args.particles} exits (double well, l* = 1); embedded cluster: {workers} worker(s) "
          f"x {threads} OpenMP thread(s)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        direct(spec_for(2, 2, args.particles, args.max_steps, seed=99))  # warm up caches and the thread team
        t_direct, estimates, steps = direct(spec)
        t_embedded, res = timed_sweep(spec, tmp / "embedded")
        assert res.cells["estimate"].tolist() == estimates, "sweep estimates differ from the direct calls"

        with dask.config.set({"distributed.scheduler.worker-saturation": "inf"}):  # as the embedded cluster
            cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                               dashboard_address="127.0.0.1:0", scheduler_port=0,
                                               silence_logs=logging.ERROR)
        with distributed.Client(cluster) as client:
            timed_sweep(spec_for(2, 2, 10, 10, seed=98), tmp / "warmup", client=client)  # workers import htsgd
            t_warm, res = timed_sweep(spec, tmp / "warm", client=client)
            assert res.cells["estimate"].tolist() == estimates
            trivial = spec_for(args.lrs, args.alphas, 1, 1)
            t_trivial, _ = timed_sweep(trivial, tmp / "trivial", client=client)
        cluster.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n  direct calls, summed          {t_direct:8.2f} s   ({steps / t_direct:.3g} particle-steps/s)")
    print(f"  sweep, embedded cluster       {t_embedded:8.2f} s   (cluster start and stop included)")
    print(f"  sweep, warm cluster           {t_warm:8.2f} s")
    print(f"  trivial cells, warm cluster   {t_trivial:8.2f} s   ({n_cells} tasks)\n")
    print(f"  embedded sweep / direct       {t_embedded / t_direct:6.2f}x  [<= 1.15x]"
          f"  {'ok' if t_embedded / t_direct <= 1.15 else 'above goal'}")
    print(f"  warm sweep / direct           {t_warm / t_direct:6.2f}x")
    print(f"  overhead per cell (warm)      {1e3 * (t_warm - t_direct) / n_cells:6.2f} ms  (sweep - direct, per cell)")
    print(f"  engine cost per task          {1e3 * t_trivial / n_cells:6.2f} ms  (trivial cells: submit, run, "
          f"gather, store)")


if __name__ == "__main__":
    main()
