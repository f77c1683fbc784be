"""Mean first-exit time against lr for l* = 1, 2, 3 and untruncated noise, beside the theory.

SGD starts at the wide minimum -1.5 of the default five-basin landscape (basin (-2.6, -0.4), width
r = 1.1 on both sides; see :mod:`htsgd.reproduce._common`) with Pareto noise (alpha 1.5, scale 0.1).
Truncation thresholds b = 1.5, 0.8, 0.5 give l* = ceil(r / b) = 1, 2, 3; b = inf is untruncated. For each
regime and lr it measures the mean exit time (censoring-aware) and prints it beside 1/(q lambda_b(lr)),
then fits the log-log slope and prints it beside -(1 + l*(alpha - 1)) (untruncated: -alpha).

Convergence study (panel (c)): at noise scale 0.1 the runs above sit where moderate jumps still speed exits
up (``asymptotic_regime_indicator`` 1e-3 to 1e-2), and the measured constant is below ``q`` for l* >= 2.
For l* = 1, 2, 3 the study measures measured / ``1/(q lambda_b)`` over a series of learning rates (scale 0.1)
and a series of noise scales (lr 0.04) down to indicators of 1e-6, by importance sampling
(:func:`htsgd.reproduce.convergence.importance_mean_exit_time`) with direct simulation on the overlap
where it is cheap, and fits ``1 - ratio = c * indicator^gamma``.

Writes ``exit_times.png`` (mean exit time and its ratio to the theory against lr; the convergence study),
``exit_times.csv`` (one row per regime and lr), ``exit_times_convergence.csv`` (one row per study point) and
``exit_times.json`` (parameters, points, slopes, study points and fits).
"""
from __future__ import annotations

import argparse
import math

import numpy as np

from .. import theory
from ..dynamics import HeavyTailedSGD
from ..noise import Pareto
from . import _common as C
from . import convergence as V

# name, b, lr grid (full), exits per lr (full), lr grid (quick), exits per lr (quick).
# Cost per point ~ exits * E tau, E tau ~ lr^-(1 + l*(alpha-1)); l* = 3 at lr 0.02 is ~2e6 steps per exit.
REGIMES = [
    ("untruncated", None, (0.08, 0.04, 0.02, 0.01, 0.005), 2000, (0.04, 0.02, 0.01), 400),
    ("l*=1", 1.5, (0.08, 0.04, 0.02, 0.01, 0.005), 2000, (0.04, 0.02, 0.01), 400),
    ("l*=2", 0.8, (0.08, 0.04, 0.02, 0.01), 1000, (0.08, 0.04, 0.02), 400),
    ("l*=3", 0.5, (0.08, 0.04, 0.02), 500, (0.08, 0.04), 300),
]
CENSOR = 5.0  # max_steps = CENSOR * 1/(q lambda_b): measured means are at or below the prediction
CHUNK = 250  # particles per engine call (identical numbers in one call; chunks move the progress bar)

# Convergence study: name, b, importance samples (full, quick), horizons (units of 1/lr steps).
# l* = 3 with b = 0.5 needs three jumps within about one relaxation time: short horizons keep the big-jump
# proposals close together (the estimator is unbiased for any horizons past the relaxation).
STUDY = [("l*=1", 1.5, (40_000, 10_000), (5.0, 20.0)),
         ("l*=2", 0.8, (200_000, 40_000), (5.0, 20.0)),
         ("l*=3", 0.5, (1_000_000, 100_000), (2.0, 6.0))]
STUDY_LR = 0.04  # learning rate of the noise-scale series
SCALES_FULL, SCALES_QUICK = (0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0003), (0.1, 0.01, 0.001)
LRS_FULL, LRS_QUICK = (0.08, 0.04, 0.02, 0.01, 0.005), (0.08,)  # learning-rate series at scale 0.1
DIRECT_EXITS = (1000, 300)  # direct simulation on the overlap: exits per point (full, quick)
DIRECT_BUDGET = (3e8, 3e7)  # ... where exits * predicted mean exit time is at most this many steps
#: What the reader sees in panel (c), printed under the figure and in the output.
CAPTION = ("(c): measured / predicted mean exit time against the indicator of moderate jumps per relaxation time: "
           "along the noise scale (solid) the ratio\nrises to 1 for l* = 1, 2, 3; along lr at scale 0.1 (dotted) it "
           "closes slowly for l* >= 2. Panel (b)'s ratios below 1 are the pre-asymptotic regime, not a wrong constant.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``htsgd reproduce exit-times``."""
    C.add_common_arguments(parser, "exit-times")
    parser.add_argument("--quick-study", action="store_true",
                        help="run the convergence study at its --quick size (the full one takes ~10 min on 2 cores)")


def _points(args: argparse.Namespace) -> list[dict]:
    """Every (regime, lr) configuration with its theory, in a fixed order (the seed index)."""
    land, noise = C.default_landscape(), C.default_noise()
    basin = land.basins()[C.EXIT_BASIN]
    out = []
    for name, b, lrs_full, n_full, lrs_quick, n_quick in REGIMES:
        l_star = theory.jumps_needed(basin.width, b)
        q = theory.exit_constant(basin, noise.alpha, b, grad=land)
        for lr in (lrs_quick if args.quick else lrs_full):
            predicted = theory.predicted_mean_exit_time(basin, noise, lr, b, grad=land)
            out.append({"regime": name, "truncation": math.inf if b is None else b, "l_star": l_star,
                        "lr": lr, "n": n_quick if args.quick else n_full, "q": q, "predicted": predicted,
                        "slope_theory": -theory.exit_time_exponent(noise.alpha, l_star),
                        "indicator": theory.asymptotic_regime_indicator(basin, noise, lr, grad=land)})
    return out


def simulate(args: argparse.Namespace) -> tuple[list[dict], list[dict]]:
    """Run every configuration; return the per-point records and the per-regime slope records."""
    land, noise = C.default_landscape(), C.default_noise()
    basin = land.basins()[C.EXIT_BASIN]
    pts = _points(args)
    with C.progress(sum(p["n"] * p["predicted"] for p in pts), "exit times", args) as bar:
        for i, p in enumerate(pts):
            b = None if math.isinf(p["truncation"]) else p["truncation"]
            sgd = HeavyTailedSGD(land, p["lr"], noise, truncation=b, bounds=C.default_bounds())
            max_steps = int(CENSOR * p["predicted"]) + 1000
            steps, pos, exited, nonfinite, timer = [], [], [], [], C.Timer()
            for first, count in C.chunks(p["n"], CHUNK):
                et = sgd.exit_times(basin.minimum, (basin.lo, basin.hi), count, max_steps, rng=C.seed_for(args, i),
                                    n_threads=args.threads, first_particle=first)
                steps.append(et.steps), pos.append(et.position), exited.append(et.exited)
                nonfinite.append(et.nonfinite)
                bar.update(count * p["predicted"])
            et = type(et)(steps=np.concatenate(steps), position=np.concatenate(pos), exited=np.concatenate(exited),
                          nonfinite=np.concatenate(nonfinite), domain=et.domain, max_steps=max_steps, lr=p["lr"],
                          seed_entropy=et.seed_entropy, seed_spawn_key=et.seed_spawn_key)
            m = et.mean()
            _, right = et.side_fractions()
            p.update(mean=m.value, stderr=m.stderr, ratio=m.value / p["predicted"], censored=et.n_censored,
                     p_right=right.value, p_right_theory=theory.exit_side_probabilities(
                         basin, noise.alpha, b, grad=land)[1],
                     cv=et.exponential_check().coefficient_of_variation, seconds=timer())
    slopes = []
    for name, *_ in REGIMES:
        sel = [p for p in pts if p["regime"] == name]
        s, se = C.fit_slope([p["lr"] for p in sel], [p["mean"] for p in sel], [p["stderr"] for p in sel])
        slopes.append({"regime": name, "truncation": sel[0]["truncation"], "l_star": sel[0]["l_star"],
                       "slope": s, "slope_stderr": se, "slope_theory": sel[0]["slope_theory"],
                       "difference": s - sel[0]["slope_theory"], "lr_min": min(p["lr"] for p in sel),
                       "lr_max": max(p["lr"] for p in sel), "exits": sum(p["n"] for p in sel),
                       "particle_steps": float(sum(p["n"] * p["mean"] for p in sel)),
                       "seconds": sum(p["seconds"] for p in sel)})
    return pts, slopes


def study(args: argparse.Namespace) -> tuple[list[dict], list[dict]]:
    """The convergence study: measured / ``1/(q lambda_b)`` against the indicator, and the fitted gaps."""
    land = C.default_landscape()
    basin = land.basins()[C.EXIT_BASIN]
    quick = args.quick or getattr(args, "quick_study", False)
    k = 1 if quick else 0
    configs = [(name, b, n[k], hz, series, lr, scale) for name, b, n, hz in STUDY
               for series, grid in (("lr", LRS_QUICK if quick else LRS_FULL),
                                    ("scale", SCALES_QUICK if quick else SCALES_FULL))
               for lr, scale in ((g, C.NOISE_SCALE) if series == "lr" else (STUDY_LR, g) for g in grid)]
    pts = []
    with C.progress(len(configs), "convergence study", args) as bar:
        for i, (name, b, n, hz, series, lr, scale) in enumerate(configs):
            noise = Pareto(C.ALPHA, scale)
            sgd = HeavyTailedSGD(land, lr, noise, truncation=b, bounds=C.default_bounds())
            predicted = theory.predicted_mean_exit_time(basin, noise, lr, b, grad=land)
            base = {"group": name, "truncation": b, "l_star": theory.jumps_needed(basin.width, b), "series": series,
                    "lr": lr, "scale": scale, "predicted": predicted,
                    "indicator": theory.asymptotic_regime_indicator(basin, noise, lr, grad=land)}
            seed = np.random.SeedSequence(args.seed, spawn_key=(1_000 + i,))  # apart from the lr study's seeds
            runs = [("importance", n, lambda: V.importance_mean_exit_time(sgd, basin, n, hz, seed, args.threads))]
            if DIRECT_EXITS[k] * predicted <= DIRECT_BUDGET[k]:
                censor = int(20 * predicted) + 1000
                runs.append(("direct", DIRECT_EXITS[k],
                             lambda: V.direct_mean_exit_time(sgd, basin, DIRECT_EXITS[k], censor, seed, args.threads)))
            for method, size, run in runs:
                timer = C.Timer()
                mean, se, caveat = run()
                pts.append({**base, "method": method, "samples": size, "mean": mean, "stderr": se,
                            "ratio": mean / predicted, "ratio_stderr": se / predicted, "caveat": caveat,
                            "seconds": timer()})
            bar.update(1)
    fits = []
    for name, *_ in STUDY:
        for series in ("scale", "lr", "both"):
            sel = [p for p in pts if p["group"] == name and p["method"] == "importance"
                   and series in (p["series"], "both")]
            if not sel:
                continue
            f = V.fit_gap([p["indicator"] for p in sel], [p["ratio"] for p in sel], [p["ratio_stderr"] for p in sel])
            last = min(sel, key=lambda p: p["indicator"])
            fits.append({"regime": name, "series": series, **f, "smallest_indicator": last["indicator"],
                         "ratio_there": last["ratio"], "ratio_stderr_there": last["ratio_stderr"]})
    return pts, fits


def plot(path, pts: list[dict], slopes: list[dict], study_pts: list[dict] | None = None) -> None:
    """Mean exit time with the theory lines (log-log), measured / theory, and (with ``study_pts``) the study."""
    plt = C.pyplot()
    with plt.rc_context(C.RC):
        ncol = 3 if study_pts else 2
        fig, axes = plt.subplots(1, ncol, figsize=(3.6 * ncol + 0.4, 3.4),
                                 gridspec_kw={"width_ratios": [1.3, 1, 1.3][:ncol]})
        ax, ax2 = axes[0], axes[1]
        for sl in slopes:
            name = sl["regime"]
            sel = [p for p in pts if p["regime"] == name]
            lr = np.array([p["lr"] for p in sel])
            mean, se = np.array([p["mean"] for p in sel]), np.array([p["stderr"] for p in sel])
            pred = np.array([p["predicted"] for p in sel])
            col, mk, mfc = C.COLORS[name], ("s" if name == "untruncated" else "o"), (
                "white" if name == "untruncated" else C.COLORS[name])
            label = "untruncated" if name == "untruncated" else f"$l^*={sl['l_star']}$ ($b={sl['truncation']:g}$)"
            ax.errorbar(lr, mean, yerr=se, fmt=mk, color=col, mfc=mfc, zorder=3,
                        label=f"{label}: slope {sl['slope']:.2f} $\\pm$ {sl['slope_stderr']:.2f} "
                              f"(theory {sl['slope_theory']:.2f})")
            grid = np.geomspace(lr.min() / 1.2, lr.max() * 1.2, 50)
            ax.plot(grid, [1.0 / (sel[0]["q"] * _rate(g, sl["l_star"])) for g in grid], "--", color=col, lw=0.9,
                    zorder=2)
            # the theory slope through the data's weighted centre: checks the exponent alone
            w = (mean / se) ** 2
            x0, y0 = np.sum(w * np.log(lr)) / w.sum(), np.sum(w * np.log(mean)) / w.sum()
            ax.plot(grid, np.exp(y0 + sl["slope_theory"] * (np.log(grid) - x0)), "-", color=col, lw=2.5,
                    alpha=0.25, zorder=1)
            ax2.errorbar(lr, mean / pred, yerr=se / pred, fmt=mk + "-", color=col, mfc=mfc, lw=0.8)
        ax.plot([], [], "--", color="0.3", lw=0.9, label=r"theory $1/(q\,\lambda_b(\mathrm{lr}))$")
        ax.plot([], [], "-", color="0.3", lw=2.5, alpha=0.25, label="theory slope through the data")
        ax.set(xscale="log", yscale="log", xlabel="learning rate lr", ylabel="mean first-exit time (steps)")
        ax.set_title("(a) mean exit time from the wide basin $(-2.6,-0.4)$", loc="left")
        ax2.axhline(1.0, color="0.3", ls="--", lw=0.9)
        ax2.set(xscale="log", xlabel="learning rate lr", ylabel=r"measured / $1/(q\,\lambda_b)$", ylim=(0, 1.25))
        ax2.set_title("(b) constant at scale 0.1: measured / theory", loc="left")
        if study_pts:
            V.ratio_panel(axes[2], study_pts, [(name, f"$l^*={name[-1]}$ ($b={b:g}$)", C.COLORS[name])
                                               for name, b, *_ in STUDY],
                          title="(c) the constant converges as moderate jumps vanish",
                          ylabel=r"measured / $1/(q\,\lambda_b)$")
            axes[2].set_ylim(0, 1.3)
            axes[2].legend(loc="lower right", fontsize=6)
            axes[2].text(0.02, 0.03, "filled: importance sampling\nopen: direct simulation",
                         transform=axes[2].transAxes, fontsize=6.5, va="bottom")
        lrs = sorted({p["lr"] for p in pts})
        for a in (ax, ax2):
            a.set_xticks(lrs, [f"{v:g}" for v in lrs])
            a.minorticks_off()
        fig.suptitle(r"Truncated heavy-tailed SGD (Pareto noise, $\alpha=1.5$, scale 0.1): "
                     r"$E\,\tau \propto \mathrm{lr}^{-(1+l^*(\alpha-1))}$ steps, $l^*=\lceil r/b\rceil$, $r=1.1$",
                     fontsize=10)
        fig.tight_layout(rect=(0, 0.22 if study_pts else 0.17, 1, 1))
        if study_pts:
            fig.text(0.5, 0.005, CAPTION, ha="center", va="bottom", fontsize=7.5, style="italic", wrap=True)
        h, l = ax.get_legend_handles_labels()
        h, l = h[2:] + h[:2], l[2:] + l[:2]  # data first, then the two theory entries
        fig.legend(h, l, loc="lower center", ncol=2, bbox_to_anchor=(0.5, 0.06 if study_pts else 0.0),
                   columnspacing=1.5)
        fig.savefig(path)
        plt.close(fig)


def _rate(lr: float, l_star: int) -> float:
    return theory.exit_rate_scale(C.default_noise(), lr, l_star)


def main(args: argparse.Namespace) -> int:
    """Run ``htsgd reproduce exit-times``; returns the exit status."""
    out = C.output_dir(args)
    land, noise = C.default_landscape(), C.default_noise()
    basin = land.basins()[C.EXIT_BASIN]
    print(f"exit times from the basin ({basin.lo:g}, {basin.hi:g}) of the minimum {basin.minimum:g} "
          f"(r = {basin.width:g}) of {land!r}\n{noise}, iterates projected onto {C.default_bounds()}, "
          f"{'quick' if args.quick else 'full'} mode, seed {args.seed}", flush=True)
    timer = C.Timer()
    pts, slopes = simulate(args)
    print(f"asymptotic_regime_indicator at the wide minimum: {max(p['indicator'] for p in pts):.2g} "
          f"(largest lr) to {min(p['indicator'] for p in pts):.2g} (< 0.01: asymptotic regime)")
    C.print_table("mean first-exit time (steps) beside the theory 1/(q lambda_b(lr))",
                  ["regime", "b", "l*", "lr", "exits", "cens", "mean", "+-", "theory", "ratio", "P(right)",
                   "theory", "CV", "sec"],
                  [[p["regime"], f"{p['truncation']:g}", str(p["l_star"]), f"{p['lr']:g}", str(p["n"]),
                    str(p["censored"]), f"{p['mean']:.4g}", f"{p['stderr']:.2g}", f"{p['predicted']:.4g}",
                    f"{p['ratio']:.3f}", f"{p['p_right']:.3f}", f"{p['p_right_theory']:.3f}", f"{p['cv']:.2f}",
                    f"{p['seconds']:.1f}"] for p in pts])
    C.print_table("log-log slope of the mean exit time against lr",
                  ["regime", "b", "l*", "lr range", "fitted slope", "theory", "difference", "exits",
                   "particle-steps", "sec"],
                  [[s["regime"], f"{s['truncation']:g}", str(s["l_star"]), f"{s['lr_min']:g}-{s['lr_max']:g}",
                    f"{s['slope']:.3f} +- {s['slope_stderr']:.3f}", f"{s['slope_theory']:.2f}",
                    f"{s['difference']:+.3f}", str(s["exits"]), f"{s['particle_steps']:.2g}", f"{s['seconds']:.1f}"]
                   for s in slopes])
    spts, fits = study(args)
    C.print_table("convergence study: measured / 1/(q lambda_b) against asymptotic_regime_indicator",
                  ["regime", "series", "lr", "scale", "indicator", "method", "samples", "theory", "ratio", "+-",
                   "sec", "caveat"],
                  [[p["group"], p["series"], f"{p['lr']:g}", f"{p['scale']:g}", f"{p['indicator']:.2e}", p["method"],
                    str(p["samples"]), f"{p['predicted']:.3g}", f"{p['ratio']:.3f}", f"{p['ratio_stderr']:.3f}",
                    f"{p['seconds']:.1f}", p["caveat"]] for p in spts])
    C.print_table("gap 1 - ratio = c * indicator^gamma (weighted fit over points whose gap exceeds 2 s.e.)",
                  ["regime", "series", "points", "gamma", "+-", "c", "smallest indicator", "ratio there"],
                  [[f["regime"], f["series"], str(f["points"]), f"{f['gamma']:.3f}", f"{f['gamma_stderr']:.3f}",
                    f"{f['c']:.3g}", f"{f['smallest_indicator']:.2e}",
                    f"{f['ratio_there']:.3f} +- {f['ratio_stderr_there']:.3f}"] for f in fits])
    print(f"\n{CAPTION}")
    C.write_csv(out / "exit_times_convergence.csv", spts)
    C.write_csv(out / "exit_times.csv", pts)
    C.write_json(out / "exit_times.json", {
        "command": "exit-times", "quick": args.quick, "seed": args.seed, "landscape_points": C.POINTS,
        "landscape_scale": land.scale, "bounds": C.default_bounds(), "alpha": noise.alpha,
        "noise_scale": noise.scale, "basin": [basin.lo, basin.minimum, basin.hi], "points": pts, "slopes": slopes,
        "convergence": {"points": spts, "fits": fits, "caption": CAPTION}, "seconds": timer()})
    plot(out / "exit_times.png", pts, slopes, spts)
    print(f"\nwrote {out / 'exit_times.png'}, exit_times.csv, exit_times_convergence.csv, exit_times.json "
          f"({timer():.1f} s)")
    return 0
