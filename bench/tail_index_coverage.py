"""Coverage and bias of htsgd.tail_index over seeds, on every law of htsgd with a known alpha.

Run: ``PYTHONPATH=python python bench/tail_index_coverage.py [n_samples] [seeds] [alphas]`` (defaults 5000,
100, "1.1,1.3,1.5,1.7,1.9").
Prints, per law, alpha and method, the fraction of 90% intervals that cover the truth (with its binomial
standard error), the mean estimate minus alpha (bias) and the standard deviation of the estimates.
"""
import math
import sys
import time

import numpy as np

import htsgd


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    print(f"n = {n}, {seeds} seeds, 90% percentile-bootstrap intervals (200 resamples)")
    print(f"{'law':>9} {'alpha':>5} {'method':>9} {'coverage':>13} {'bias':>7} {'sd':>6}")
    t0 = time.perf_counter()
    alphas = [float(a) for a in (sys.argv[3] if len(sys.argv) > 3 else "1.1,1.3,1.5,1.7,1.9").split(",")]
    for alpha in alphas:
        for law in (htsgd.Pareto(alpha, 1.0), htsgd.StudentT(alpha, 1.0), htsgd.Stable(alpha, 1.0)):
            for method in ("hill", "mohammadi"):
                est, hits = [], 0
                for s in range(seeds):
                    r = htsgd.tail_index(law.sample(n, rng=10_000 + s), method=method, rng=s)
                    est.append(r.alpha)
                    hits += r.covers(alpha)
                cov = hits / seeds
                print(f"{type(law).__name__:>9} {alpha:5.1f} {method:>9} {cov:6.2f} +- {math.sqrt(cov * (1 - cov) / seeds):.2f} "
                      f"{np.mean(est) - alpha:+7.3f} {np.std(est, ddof=1):6.3f}", flush=True)
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
