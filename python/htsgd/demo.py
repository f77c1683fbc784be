"""``htsgd demo``: mean exit times from the double well's right basin beside the theory.

Double well ``(x^2-1)^2/4``, start at the minimum ``x = 1``, exit from ``(0, inf)`` (the nearest
boundary, the maximum at 0, is at distance ``r = 1``), Pareto noise ``alpha = 1.5``, scale 0.2, and
truncation ``b = 1.5`` (so ``l* = 1``). Prints, per learning rate, the measured mean exit time with its
standard error beside ``1 / (q lambda_b(lr))``, then the fitted log-log slope beside ``-alpha``.
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

from . import theory
from .dynamics import HeavyTailedSGD
from .landscapes import DoubleWell
from ._validation import check_int
from .noise import Pareto
from .reproduce._common import _int_at_least


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--alpha", type=float, default=1.5, help="tail index (default 1.5)")
    parser.add_argument("--scale", type=float, default=0.2, help="noise scale (default 0.2)")
    parser.add_argument("--truncation", type=float, default=1.5, help="b (default 1.5: l* = 1)")
    parser.add_argument("--particles", type=int, default=2000, help="exits per learning rate (default 2000)")
    parser.add_argument("--seed", type=_int_at_least(0), default=2022)
    parser.add_argument("--lrs", type=float, nargs="+", default=[0.1, 0.05, 0.02, 0.01])


def main(args: argparse.Namespace) -> int:
    landscape, noise = DoubleWell(), Pareto(args.alpha, args.scale)
    check_int("particles", args.particles, minimum=1)
    sgds = [HeavyTailedSGD(landscape, lr, noise, truncation=args.truncation) for lr in args.lrs]  # validate first
    basin = landscape.basins(domain=(0.0, math.inf))[0]
    l_star = theory.jumps_needed(basin.width, args.truncation)
    print(f"double well, basin (0, inf) of x = 1 (r = {basin.width:g}), {noise}, b = {args.truncation:g}, "
          f"l* = {l_star}, {args.particles} exits per lr\n")
    print(f"{'lr':>8} {'mean exit (steps)':>22} {'theory 1/(q lambda_b)':>22} {'ratio':>7} {'censored':>9} "
          f"{'P(exit left)':>12} {'seconds':>8}")
    means = []
    for i, (lr, sgd) in enumerate(zip(args.lrs, sgds)):
        predicted = theory.predicted_mean_exit_time(basin, noise, lr, args.truncation, grad=landscape.grad)
        t0 = time.perf_counter()
        et = sgd.exit_times(1.0, (0.0, math.inf), args.particles, max_steps=int(50 * predicted) + 1000,
                            rng=np.random.SeedSequence(args.seed, spawn_key=(i,)))
        seconds = time.perf_counter() - t0
        m = et.mean()
        left, _ = et.side_fractions()
        means.append(m.value)
        print(f"{lr:>8g} {str(m):>22} {predicted:>22.6g} {m.value / predicted:>7.3f} {et.n_censored:>9d} "
              f"{left.value:>12.3f} {seconds:>8.2f}")
    if len(args.lrs) >= 2:
        slope = np.polyfit(np.log(args.lrs), np.log(means), 1)[0]
        print(f"\nfitted slope d log E[tau] / d log lr = {slope:.3f}; theory "
              f"-(1 + l*(alpha - 1)) = {-theory.exit_time_exponent(args.alpha, l_star):.3f}")
    return 0
