"""Phase diagram: the fitted exponent of the mean exit time over a grid of alpha and r/b, beside the staircase.

SGD leaves the right basin (0, inf) of the double well (r = 1: the distance from the minimum 1 to the
boundary 0) under Pareto noise (scale 0.2). For every tail index ``alpha`` and truncation ``b = r / (r/b)``
the mean exit time is measured at several learning rates (``mean_exit_time``: direct simulation, or the
importance sampler where that would cost more than 2e8 steps) and the log-log slope against ``lr`` fitted.
The theory predicts the staircase ``-(1 + ceil(r/b)(alpha - 1))``: a step each time ``r/b`` crosses an
integer, as one more jump is needed. The grid ``noise.alpha x truncation x lr`` runs through the sweep engine
(:mod:`htsgd.sweep`): resumable in ``--out``/sweep, on the embedded cluster or ``--scheduler ADDRESS``.

Writes ``phase_diagram.png`` (fitted exponent and theory as heatmaps), ``phase_diagram.csv`` (one row per
alpha and r/b) and ``phase_diagram.json``.
"""
from __future__ import annotations

import argparse
import math

import numpy as np

from .. import theory
from . import _common as C

R = 1.0  # distance from the minimum 1 of the double well to the boundary 0
NOISE_SCALE = 0.2
FULL = {"alpha": (1.2, 1.4, 1.6, 1.8), "r_over_b": (0.5, 0.9, 1.3, 1.7, 2.3, 2.7),
        "lr": (0.1, 0.05, 0.025, 0.0125), "target_rel_error": 0.05}
QUICK = {"alpha": (1.3, 1.6), "r_over_b": (0.8, 1.6), "lr": (0.1, 0.05, 0.025), "target_rel_error": 0.15}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``htsgd reproduce phase-diagram``."""
    C.add_common_arguments(parser, "phase-diagram")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", default=None, help="address of a running Dask scheduler (default: a "
                       "local cluster started for the run)")
    where.add_argument("--workers", type=int, default=None, help="worker processes of the local cluster")


def sweep_spec(quick: bool, seed: int):
    """The sweep of this reproduction: ``noise.alpha x truncation x lr``, ``mean_exit_time`` from x = 1."""
    from ..sweep import Sweep

    p = QUICK if quick else FULL
    return Sweep(model={"landscape": {"type": "DoubleWell"}, "noise": {"type": "Pareto", "alpha": p["alpha"][0],
                                                                        "scale": NOISE_SCALE},
                        "lr": p["lr"][0]},
                 grid={"noise.alpha": list(p["alpha"]), "truncation": [R / x for x in p["r_over_b"]],
                       "lr": list(p["lr"])},
                 measure={"type": "mean_exit_time", "x0": 1.0, "domain": [0.0, math.inf], "method": "auto",
                          "target_rel_error": p["target_rel_error"]},
                 seed=seed)


def fit_exponents(cells) -> list[dict]:
    """One record per (alpha, b): the fitted slope of log E tau against log lr beside the theory's."""
    out = []
    for (alpha, b), g in cells.groupby(["noise.alpha", "truncation"], sort=True):
        slope, se = C.fit_slope(g["lr"].to_numpy(), g["estimate"].to_numpy(), g["stderr"].to_numpy())
        l_star = theory.jumps_needed(R, b)
        out.append({"alpha": alpha, "r_over_b": R / b, "truncation": b, "l_star": l_star, "slope": slope,
                    "slope_stderr": se, "slope_theory": -theory.exit_time_exponent(alpha, l_star),
                    "points": len(g)})
    return sorted(out, key=lambda r: (r["alpha"], r["r_over_b"]))


def plot(records: list[dict], path) -> None:
    """Heatmaps of the fitted exponent and the theory's staircase over (r/b, alpha)."""
    plt = C.pyplot()
    alphas = sorted({r["alpha"] for r in records})
    ratios = sorted({r["r_over_b"] for r in records})
    fitted = np.full((len(alphas), len(ratios)), np.nan)
    predicted = np.full_like(fitted, np.nan)
    for r in records:
        i, j = alphas.index(r["alpha"]), ratios.index(r["r_over_b"])
        fitted[i, j], predicted[i, j] = r["slope"], r["slope_theory"]
    lo, hi = np.nanmin([fitted, predicted]), np.nanmax([fitted, predicted])
    with plt.rc_context(C.RC):
        fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.8), sharey=True)
        for ax, data, title in ((axes[0], fitted, "fitted d log E[tau] / d log lr"),
                                (axes[1], predicted, "theory -(1 + ceil(r/b)(alpha - 1))")):
            im = ax.imshow(data, origin="lower", aspect="auto", cmap="magma", vmin=lo, vmax=hi)
            for i in range(len(alphas)):
                for j in range(len(ratios)):
                    ax.text(j, i, f"{data[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if data[i, j] < (lo + hi) / 2 else "black")
            ax.set_xticks(range(len(ratios)), [f"{x:g}" for x in ratios])
            ax.set_yticks(range(len(alphas)), [f"{a:g}" for a in alphas])
            ax.set_xlabel("r / b"), ax.set_title(title), ax.grid(False)
        axes[0].set_ylabel("alpha")
        fig.colorbar(im, ax=axes, label="exponent of the mean exit time in lr")
        fig.savefig(path)
        plt.close(fig)


def main(args: argparse.Namespace) -> int:
    """Run ``htsgd reproduce phase-diagram``."""
    from ..sweep import run
    from ..sweep.cli import _client

    out = C.output_dir(args)
    spec = sweep_spec(args.quick, args.seed)
    timer = C.Timer()
    client = _client(args.scheduler) if args.scheduler else None
    try:
        res = run(spec, out / "sweep", client=client, workers=args.workers, progress=not args.no_progress)
    finally:
        if client is not None:
            client.close()
    records = fit_exponents(res.cells)
    C.print_table(f"phase diagram: double well, basin (0, inf), r = {R:g}, Pareto scale {NOISE_SCALE:g}, "
                  f"lr in {sorted(set(res.cells['lr']))}",
                  ["alpha", "r/b", "l*", "fitted slope", "theory"],
                  [[r["alpha"], r["r_over_b"], str(r["l_star"]), f"{r['slope']:.3f} +- {r['slope_stderr']:.2f}",
                    f"{r['slope_theory']:.3f}"] for r in records])
    plot(records, out / "phase_diagram.png")
    C.write_csv(out / "phase_diagram.csv", records)
    C.write_json(out / "phase_diagram.json", {"r": R, "noise_scale": NOISE_SCALE, "quick": args.quick,
                                              "seed": args.seed, "seconds": timer(), "records": records})
    print(f"\nwrote {out}/phase_diagram.png, .csv, .json and the sweep in {out}/sweep ({timer():.1f} s)")
    return 0
