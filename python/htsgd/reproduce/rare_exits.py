"""Rare exits: P(tau <= T) against lr by big-jump importance sampling and by crude Monte Carlo.

Setting of ``shared/rare-event.md``: the double well ``(x^2-1)^2/4`` from its minimum ``x = 1`` out of
``(0, inf)`` (nearer boundary at distance ``r = 1``), Pareto noise (alpha 1.5, scale 0.1), horizon
``T = 5/lr`` (fixed ODE time), truncation ``b = 0.6`` (``l* = 2``) and ``b = 0.4`` (``l* = 3``), default
``gamma = min(b/2, r - (l* - 1) b)``, ``w = 0.1``, big jumps one-sided (toward 0). For each ``(l*, lr)``
importance sampling runs to a target relative error; crude Monte Carlo runs to its own target while its
projected cost ``T (1 - p) / (p target^2)`` steps stays within a budget, and is marked unaffordable
beyond (with its projected time). The relative error per sample of importance sampling stays bounded as
``lr -> 0`` (``l* = 2``: ``gamma = 0.3 < r - (l* - 1) b = 0.4``); crude Monte Carlo's grows like ``p^-1/2``.

Writes ``rare_exits.png`` (p and the relative error per sample against lr), ``rare_exits.csv`` (one row
per ``(l*, lr)``) and ``rare_exits.json`` (parameters and rows).
"""
from __future__ import annotations

import argparse
import math
import warnings

import numpy as np

from ..dynamics import HeavyTailedSGD
from ..landscapes import DoubleWell
from ..noise import Pareto
from . import _common as C

ALPHA, SCALE, ODE_HORIZON = 1.5, 0.1, 5.0
TRUNCATIONS = {2: 0.6, 3: 0.4}
LRS_FULL = (0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)
LRS_QUICK = (0.1, 0.05, 0.01)
# target relative errors of importance sampling and crude MC, and the crude budget in particle-steps, for
# the full (False) and the quick (True) mode
TARGET = {False: 0.05, True: 0.07}
CRUDE_TARGET = {False: 0.1, True: 0.2}
CRUDE_BUDGET = {False: 1.5e9, True: 5e7}
REPORT_ERROR = 0.1  # "seconds for 10% relative error" columns, as in the brief's table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``htsgd reproduce rare-exits``."""
    C.add_common_arguments(parser, "rare-exits")


def _crude_cost(p: float, horizon: int, target: float) -> float:
    """Particle-steps crude Monte Carlo needs for relative error ``target`` (at most T per sample)."""
    return math.inf if p <= 0 else horizon * (1 - p) / (p * target ** 2)


def simulate(args: argparse.Namespace) -> list[dict]:
    """Every (l*, lr) point: importance sampling, then crude Monte Carlo where affordable."""
    lrs = LRS_QUICK if args.quick else LRS_FULL
    target, crude_target, budget = TARGET[args.quick], CRUDE_TARGET[args.quick], CRUDE_BUDGET[args.quick]
    land, noise = DoubleWell(), Pareto(ALPHA, SCALE)
    configs = [(l_star, lr) for l_star in TRUNCATIONS for lr in lrs]
    rows = []
    with C.progress(len(configs), "rare exits", args) as bar:
        for i, (l_star, lr) in enumerate(configs):
            sgd = HeavyTailedSGD(land, lr, noise, truncation=TRUNCATIONS[l_star])
            T = max(1, round(ODE_HORIZON / lr))
            seeds = C.seed_for(args, i).spawn(2)
            imp = sgd.exit_probability(1.0, (0.0, math.inf), T, target_rel_error=target, rng=seeds[0],
                                       n_threads=args.threads)
            steps_per_second = imp.n_samples * T / max(imp.seconds, 1e-9)  # an upper bound on the steps run
            row = {"l_star": l_star, "truncation": TRUNCATIONS[l_star], "lr": lr, "horizon": T,
                   "gamma": imp.gamma, "weight": imp.weight, "p": imp.value, "p_stderr": imp.stderr,
                   "is_samples": imp.n_samples, "is_rel_error_per_sample": imp.rel_error_per_sample,
                   "is_seconds": imp.seconds, "is_seconds_10pct": imp.seconds * imp.samples_for(REPORT_ERROR)
                   / imp.n_samples, "p_big": imp.p_big, "branch_exit_rate": imp.branch_exit_rate,
                   "max_weight_share": imp.max_weight_share}
            cost = _crude_cost(imp.value, T, crude_target)
            row["crude_seconds_10pct_projected"] = _crude_cost(imp.value, T, REPORT_ERROR) / steps_per_second
            row.update(crude_affordable=cost <= budget, crude_p=math.nan, crude_stderr=math.nan, crude_samples=0,
                       crude_exits=0, crude_rel_error_per_sample=math.nan, crude_seconds=math.nan, z=math.nan)
            if cost <= budget:
                with warnings.catch_warnings():  # a target missed by a hair is still a fine comparison
                    warnings.simplefilter("ignore", RuntimeWarning)
                    crude = sgd.exit_probability(1.0, (0.0, math.inf), T, method="crude",
                                                 target_rel_error=crude_target,
                                                 n_samples=max(1000, int(1.5 * cost / T)), rng=seeds[1],
                                                 n_threads=args.threads)
                row.update(crude_p=crude.value, crude_stderr=crude.stderr, crude_samples=crude.n_samples,
                           crude_exits=crude.n_exits, crude_rel_error_per_sample=crude.rel_error_per_sample,
                           crude_seconds=crude.seconds)
                if crude.n_exits:
                    row["z"] = (imp.value - crude.value) / math.hypot(imp.stderr, crude.stderr)
                    row["crude_seconds_10pct_projected"] = crude.seconds * crude.samples_for(REPORT_ERROR) \
                        / crude.n_samples
            rows.append(row)
            bar.update(1)
    return rows


def plot(path, rows: list[dict]) -> None:
    """(a) p against lr, importance sampling with error bars and crude Monte Carlo where affordable;
    (b) relative error per sample against lr."""
    plt = C.pyplot()
    with plt.rc_context(C.RC):
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(7.2, 3.2))
        for l_star in TRUNCATIONS:
            sel = [r for r in rows if r["l_star"] == l_star]
            col, name = C.COLORS[f"l*={l_star}"], f"$l^*={l_star}$ ($b={TRUNCATIONS[l_star]:g}$)"
            lr = np.array([r["lr"] for r in sel])
            ax.errorbar(lr, [r["p"] for r in sel], yerr=[r["p_stderr"] for r in sel], fmt="o-", color=col,
                        label=f"{name}: importance")
            cr = [r for r in sel if r["crude_exits"] > 0]
            ax.errorbar([r["lr"] for r in cr], [r["crude_p"] for r in cr], yerr=[r["crude_stderr"] for r in cr],
                        fmt="s", mfc="white", color=col, label=f"{name}: crude MC")
            ax2.plot(lr, [r["is_rel_error_per_sample"] for r in sel], "o-", color=col, label=f"{name}: importance")
            ax2.plot(lr, [math.sqrt((1 - r["p"]) / r["p"]) for r in sel], ":", color=col, lw=0.9)
            ax2.plot([r["lr"] for r in cr], [r["crude_rel_error_per_sample"] for r in cr], "s", mfc="white",
                     color=col, label=f"{name}: crude MC")
        ax2.plot([], [], ":", color="0.3", lw=0.9, label=r"crude, projected $\sqrt{(1-p)/p}$")
        ax.set(xscale="log", yscale="log", xlabel="learning rate lr", ylabel=r"$p = P(\tau \leq 5/\mathrm{lr})$")
        ax.set_title("(a) exit probability within ODE time 5", loc="left")
        ax2.set(xscale="log", yscale="log", xlabel="learning rate lr", ylabel="relative error per sample")
        ax2.set_title("(b) relative error per sample", loc="left")
        ax.legend(loc="upper left")
        ax2.legend(loc="upper right")
        fig.suptitle(r"Rare exits of truncated heavy-tailed SGD: double well from $x=1$ out of $(0,\infty)$, "
                     r"Pareto $\alpha=1.5$, scale 0.1", fontsize=10)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)


def main(args: argparse.Namespace) -> int:
    """Run ``htsgd reproduce rare-exits``; returns the exit status."""
    out = C.output_dir(args)
    target, crude_target = TARGET[args.quick], CRUDE_TARGET[args.quick]
    print(f"P(tau <= 5/lr) from the double well's minimum x = 1 out of (0, inf), Pareto(alpha={ALPHA}, "
          f"scale={SCALE}); importance sampling (gamma = min(b/2, r - (l*-1) b), w = 0.1, one-sided) to "
          f"{target:.0%} relative error and crude Monte Carlo to {crude_target:.0%} (while its projected cost is <= "
          f"{CRUDE_BUDGET[args.quick]:.2g} steps); {'quick' if args.quick else 'full'} mode, seed {args.seed}",
          flush=True)
    timer = C.Timer()
    rows = simulate(args)

    def fmt(v, spec):
        return "-" if not math.isfinite(v) else format(v, spec)

    C.print_table("exit probability: importance sampling (IS) vs crude Monte Carlo (MC)",
                  ["l*", "lr", "T", "p (IS)", "+-", "p (MC)", "+-", "z", "RE/sample IS", "RE/sample MC",
                   "s for 10%: MC", "IS", "P(B)", "branch exits", "max share"],
                  [[str(r["l_star"]), f"{r['lr']:g}", str(r["horizon"]), f"{r['p']:.3g}", f"{r['p_stderr']:.2g}",
                    fmt(r["crude_p"], ".3g"), fmt(r["crude_stderr"], ".2g"), fmt(r["z"], "+.2f"),
                    f"{r['is_rel_error_per_sample']:.3g}", fmt(r["crude_rel_error_per_sample"], ".3g"),
                    ("" if r["crude_affordable"] else "~") + f"{r['crude_seconds_10pct_projected']:.3g}",
                    f"{r['is_seconds_10pct']:.3g}", f"{r['p_big']:.2g}", f"{r['branch_exit_rate']:.3f}",
                    f"{r['max_weight_share']:.3f}"] for r in rows])
    print("(~: crude MC unaffordable here; its seconds are projected from the importance run's step rate)")
    C.write_csv(out / "rare_exits.csv", rows)
    C.write_json(out / "rare_exits.json", {
        "command": "rare-exits", "quick": args.quick, "seed": args.seed, "alpha": ALPHA, "noise_scale": SCALE,
        "ode_horizon": ODE_HORIZON, "truncations": TRUNCATIONS, "target_rel_error": target,
        "crude_target_rel_error": crude_target,
        "crude_budget_steps": CRUDE_BUDGET[args.quick], "rows": rows, "seconds": timer()})
    plot(out / "rare_exits.png", rows)
    print(f"\nwrote {out / 'rare_exits.png'}, rare_exits.csv, rare_exits.json ({timer():.1f} s)")
    return 0
