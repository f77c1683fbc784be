"""``htsgd sweep run SPEC --out DIR [--workers N | --scheduler ADDRESS]``, ``htsgd sweep status DIR``,
``htsgd sweep plot DIR``: parameter studies from a TOML spec on Dask."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands of ``htsgd sweep``."""
    sub = parser.add_subparsers(dest="sweep_command", required=True)
    run = sub.add_parser("run", help="run or resume a sweep into a directory")
    run.add_argument("spec", type=Path, help="sweep spec (TOML)")
    run.add_argument("--out", type=Path, required=True, help="output directory (resumed if it holds this spec)")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None,
                       help="worker processes of the embedded cluster (default: cores / 4); threads = cores / workers")
    where.add_argument("--scheduler", default=None,
                       help="address of a running Dask scheduler (tcp://host:8786) or a scheduler JSON file")
    run.add_argument("--chunk-size", type=int, default=None, help="particles per task (default 4096)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    status = sub.add_parser("status", help="cells and tasks done, particle-steps, wall time")
    status.add_argument("dir", type=Path)
    plot = sub.add_parser("plot", help="PNG: estimate against each axis with the theory, or a heatmap for two axes")
    plot.add_argument("dir", type=Path)
    plot.add_argument("--out", type=Path, default=None, help="PNG path (default DIR/sweep.png)")


def _client(address: str):
    from distributed import Client

    if address.endswith(".json"):
        return Client(scheduler_file=address)
    return Client(address)


def main(args: argparse.Namespace) -> int:
    """Run one ``htsgd sweep`` sub-command; returns the exit status."""
    from .execution import run
    from .results import load
    from .spec import Sweep

    if args.sweep_command == "run":
        spec = Sweep.load(args.spec)
        client = _client(args.scheduler) if args.scheduler else None
        try:
            res = run(spec, args.out, client=client, workers=args.workers, chunk_size=args.chunk_size,
                      progress=not args.no_progress)
        finally:
            if client is not None:
                client.close()
        print(f"{len(res.cells)} of {res.n_cells} cells in {args.out}")
        return 0
    if args.sweep_command == "status":
        res = load(args.dir)
        tasks = sum(1 for _ in (args.dir / "tasks").glob("*/*.npz")) if (args.dir / "tasks").exists() else 0
        steps = sum(r.get("particle_steps", 0) for r in res.provenance)
        wall = sum(r.get("wall_seconds", 0.0) for r in res.provenance)
        print(f"{args.dir}: {res.spec.measure['type']}, {len(res.spec.axes)} axes ({', '.join(res.spec.axes)})")
        print(f"cells done {len(res.cells)} / {res.n_cells}; tasks of unfinished cells stored: {tasks}")
        print(f"runs {len(res.provenance)}, wall {wall:.1f} s, particle-steps {steps:.4g}"
              + (f" ({steps / wall:.3g}/s)" if wall > 0 else ""))
        if res.provenance:
            last = res.provenance[-1]
            print(f"last run: {last['status']}, htsgd {last['htsgd_version']}, ISA {last['isa']}, "
                  f"dask {last['dask_version']}, {len(last['workers'])} workers")
        return 0
    from .plotting import plot

    res = load(args.dir)
    path = plot(res, args.out or args.dir / "sweep.png")
    print(f"wrote {path}", file=sys.stdout)
    return 0
