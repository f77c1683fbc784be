"""``htsgd demo``: mean exit times from the double well's right basin beside the theory.

Double well ``(x^2-1)^2/4``, start at the minimum ``x = 1``, exit from ``(0, inf)`` (the nearest
boundary, the maximum at 0, is at distance ``r = 1``), Pareto noise ``alpha = 1.5``, scale 0.2, and
truncation ``b = 1.5`` (so ``l* = 1``). Prints, per learning rate, the measured mean exit time with its
standard error beside ``1 / (q lambda_b(lr))``, then the fitted log-log slope beside ``-alpha``. With
``--out DIR`` it also writes ``demo.csv`` and ``demo.json`` there (with the run's provenance).
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from . import theory
from ._validation import check_int
from .dynamics import HeavyTailedSGD
from .landscapes import DoubleWell
from .noise import Pareto
from .reproduce._common import _int_at_least, output_dir, write_csv, write_json

#: Largest predicted mean exit time (steps) the demo simulates (2000 exits at 1e6 steps: ~30 s on 2 cores).
MAX_PREDICTED_STEPS = 1e6


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``htsgd demo``."""
    parser.add_argument("--alpha", type=float, default=1.5, help="tail index (default 1.5)")
    parser.add_argument("--scale", type=float, default=0.2, help="noise scale (default 0.2)")
    parser.add_argument("--truncation", type=float, default=1.5, help="b (default 1.5: l* = 1)")
    parser.add_argument("--particles", type=int, default=2000, help="exits per learning rate (default 2000)")
    parser.add_argument("--seed", type=_int_at_least(0), default=2022)
    parser.add_argument("--lrs", type=float, nargs="+", default=[0.1, 0.05, 0.02, 0.01])
    parser.add_argument("--out", type=Path, default=None,
                        help="also write demo.csv and demo.json to this directory (default: print only)")


def _l_star(width: float, truncation: float) -> int:
    try:
        return theory.jumps_needed(width, truncation)
    except ValueError:  # r/b an integer: name the option the user typed
        raise ValueError(f"Invalid truncation: {truncation!r}; expected r/truncation not an integer "
                         f"(r = {width:g}, the distance from the minimum 1 to the maximum 0)") from None


def _predictions(args: argparse.Namespace, basin, noise, landscape) -> list[float]:
    """Theory for every lr, checked before anything is simulated."""
    out = []
    for lr in args.lrs:
        predicted = theory.predicted_mean_exit_time(basin, noise, lr, args.truncation, grad=landscape.grad)
        if not predicted <= MAX_PREDICTED_STEPS:
            raise ValueError(f"Invalid lrs: {lr!r}; expected learning rates whose predicted mean exit time is "
                             f"at most {MAX_PREDICTED_STEPS:g} steps (here {predicted:.3g})")
        out.append(predicted)
    return out


def main(args: argparse.Namespace) -> int:
    """Run the demo; returns the exit code."""
    landscape, noise = DoubleWell(), Pareto(args.alpha, args.scale)
    check_int("particles", args.particles, minimum=1)
    sgds = [HeavyTailedSGD(landscape, lr, noise, truncation=args.truncation) for lr in args.lrs]  # validate first
    basin = landscape.basins(domain=(0.0, math.inf))[0]
    l_star = _l_star(basin.width, args.truncation)
    predictions = _predictions(args, basin, noise, landscape)
    out = output_dir(args) if args.out is not None else None
    print(f"double well, basin (0, inf) of x = 1 (r = {basin.width:g}), {noise}, b = {args.truncation:g}, "
          f"l* = {l_star}, {args.particles} exits per lr\n")
    print(f"{'lr':>8} {'mean exit (steps)':>22} {'theory 1/(q lambda_b)':>22} {'ratio':>7} {'censored':>9} "
          f"{'P(exit left)':>12} {'seconds':>8}")
    records = []
    for i, (lr, sgd, predicted) in enumerate(zip(args.lrs, sgds, predictions)):
        t0 = time.perf_counter()
        et = sgd.exit_times(1.0, (0.0, math.inf), args.particles, max_steps=int(50 * predicted) + 1000,
                            rng=np.random.SeedSequence(args.seed, spawn_key=(i,)))
        seconds = time.perf_counter() - t0
        m = et.mean()
        left, _ = et.side_fractions()
        records.append({"lr": lr, "mean_exit_steps": m.value, "stderr": m.stderr, "theory": predicted,
                        "ratio": m.value / predicted, "censored": et.n_censored, "p_exit_left": left.value,
                        "seconds": seconds})
        print(f"{lr:>8g} {str(m):>22} {predicted:>22.6g} {m.value / predicted:>7.3f} {et.n_censored:>9d} "
              f"{left.value:>12.3f} {seconds:>8.2f}")
    slope = theory_slope = None
    if len(args.lrs) >= 2:
        slope = float(np.polyfit(np.log(args.lrs), np.log([r["mean_exit_steps"] for r in records]), 1)[0])
        theory_slope = -theory.exit_time_exponent(args.alpha, l_star)
        print(f"\nfitted slope d log E[tau] / d log lr = {slope:.3f}; theory "
              f"-(1 + l*(alpha - 1)) = {theory_slope:.3f}")
    if out is not None:
        write_csv(out / "demo.csv", records)
        write_json(out / "demo.json", {"alpha": args.alpha, "scale": args.scale, "truncation": args.truncation,
                                       "l_star": l_star, "particles": args.particles, "records": records,
                                       "slope": slope, "slope_theory": theory_slope})
        print(f"wrote {out}/demo.csv, demo.json")
    return 0
