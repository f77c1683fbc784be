"""Fraction of time in narrow vs wide basins as lr decreases: truncated, untruncated, Gaussian noise.

Particles start in equal numbers at the five minima of the default landscape (narrow-wide-narrow-wide-
narrow, widths 0.4/1.1/0.4/1.3/0.4; see :mod:`htsgd.reproduce._common`) and run for
``T = horizon / lambda_b(lr)`` steps, the time scale of the Markov-chain limit of truncated SGD
(``lambda_b`` with ``l* = 2``, the wide basins' ``l*`` at ``b = 0.8``). Three noises: Pareto (alpha 1.5,
scale 0.1) truncated at ``b = 0.8`` (l* = 1 in the narrow basins, 2 in the wide ones), the same Pareto
untruncated, and Gaussian with the same scale. Theory (``theory.md`` section 3): the truncated fraction of
time in narrow basins goes to 0 as lr -> 0; untruncated SGD keeps a positive fraction (the narrow mass of
the stationary law of its one-jump chain); Gaussian SGD stays where it started.

Writes ``sharp_minima.png`` (landscape and position histograms, narrow fraction against lr, sample
trajectories), ``sharp_minima.csv`` (one row per noise and lr) and ``sharp_minima.json``.
"""
from __future__ import annotations

import argparse

import numpy as np

from .. import theory
from ..dynamics import HeavyTailedSGD
from ..noise import Gaussian
from . import _common as C

# lr halves along the grid: the truncated narrow fraction falls like lambda(lr) ~ lr^(alpha-1), ~30% per step
LRS_FULL, LRS_QUICK = (0.08, 0.04, 0.02, 0.01, 0.005), (0.08, 0.04, 0.02)
PARTICLES_FULL, PARTICLES_QUICK = 250, 150  # total, split equally over the five minima
GAUSSIAN_SHARE = 5  # Gaussian runs use 1/5 of the particles: they stay put, and cost ~4x more per step
CHUNK = 50  # particles per engine call (identical numbers in one call; chunks move the progress bar)
HORIZON = 0.5  # run length in units of 1/lambda_b(lr): ~7 exits from the wide minimum -1.5
SNAPSHOTS = 100  # recorded positions per particle (for the histogram)
LAWS = ("truncated", "untruncated", "gaussian")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``htsgd reproduce sharp-minima``."""
    C.add_common_arguments(parser, "sharp-minima")


def _sgd(law: str, lr: float) -> HeavyTailedSGD:
    noise = C.default_noise() if law != "gaussian" else Gaussian(C.NOISE_SCALE)
    b = C.GLOBAL_TRUNCATION if law == "truncated" else None
    return HeavyTailedSGD(C.default_landscape(), lr, noise, truncation=b, bounds=C.default_bounds())


def horizon_steps(lr: float) -> int:
    """Run length (steps): ``HORIZON / lambda_b(lr)`` with ``l* = 2``."""
    return int(HORIZON / theory.exit_rate_scale(C.default_noise(), lr, 2))


def simulate(args: argparse.Namespace) -> tuple[list[dict], dict, dict]:
    """Run every (noise, lr); return the records, the positions at the smallest lr (per noise) and the
    sample trajectories (per noise)."""
    land = C.default_landscape()
    basins = land.basins()
    narrow, _ = C.narrow_wide(basins, C.GLOBAL_TRUNCATION)
    lrs = LRS_QUICK if args.quick else LRS_FULL
    n = PARTICLES_QUICK if args.quick else PARTICLES_FULL
    chain = theory.markov_chain_generator(basins, C.ALPHA, None, grad=land)
    pi_untruncated = float(theory.stationary_distribution(chain.Q)[narrow].sum())
    records, positions, samples = [], {}, {}
    configs = [(law, lr) for lr in lrs for law in LAWS]
    n_of = {law: n if law != "gaussian" else n // GAUSSIAN_SHARE // len(basins) * len(basins) for law in LAWS}
    with C.progress(sum(horizon_steps(lr) * n_of[law] for law, lr in configs), "sharp minima", args) as bar:
        for i, (law, lr) in enumerate(configs):
            T, timer, sgd = horizon_steps(lr), C.Timer(), _sgd(law, lr)
            x0 = np.repeat(land.minima, n_of[law] // len(basins))
            occ_parts, traj_parts = [], []
            for first, count in C.chunks(len(x0), CHUNK):
                res = sgd.run(x0[first:first + count], T, rng=C.seed_for(args, i), n_threads=args.threads,
                              record_every=max(T // SNAPSHOTS, 1), first_particle=first)
                occ_parts.append(res.occupancy), traj_parts.append(res.trajectory)
                bar.update(T * count)
            occ = np.concatenate(occ_parts).astype(np.float64)
            per_particle = occ[:, narrow].sum(axis=1) / occ.sum(axis=1)
            frac = occ.sum(axis=0) / occ.sum()
            records.append({
                "noise": law, "lr": lr, "steps": T, "particles": len(x0), "narrow_fraction": float(frac[narrow].sum()),
                "narrow_stderr": float(per_particle.std(ddof=1) / np.sqrt(len(x0))),
                "theory_limit": 0.0 if law == "truncated" else (pi_untruncated if law == "untruncated" else None),
                **{f"basin_{k}": float(f) for k, f in enumerate(frac)}, "seconds": timer()})
            if lr == min(lrs):
                positions[law] = np.concatenate(traj_parts, axis=1).reshape(-1)
    # one particle per noise from the middle (narrow, flat) minimum, recorded finely, at the middle lr
    lr_s = lrs[len(lrs) // 2]
    T = horizon_steps(lr_s)
    for j, law in enumerate(LAWS):
        res = _sgd(law, lr_s).run(0.0, T, rng=C.seed_for(args, len(configs) + j), record_every=max(T // 4000, 1))
        samples[law] = {"lr": lr_s, "t": np.arange(1, res.trajectory.shape[0] + 1) / res.trajectory.shape[0]
                        * HORIZON, "x": res.trajectory[:, 0]}
    return records, positions, samples


LABELS = {"truncated": "truncated heavy-tailed ($b=0.8$)", "untruncated": "untruncated heavy-tailed",
          "gaussian": "Gaussian"}


def plot(path, records: list[dict], positions: dict, samples: dict) -> None:
    """Three panels: landscape with position histograms, narrow fraction vs lr, sample trajectories."""
    plt = C.pyplot()
    land = C.default_landscape()
    narrow, _ = C.narrow_wide(land.basins(), C.GLOBAL_TRUNCATION)
    lo, hi = C.default_bounds()
    with plt.rc_context(C.RC):
        fig = plt.figure(figsize=(7.2, 6.0))
        gs = fig.add_gridspec(2, 2, height_ratios=[1, 0.9], hspace=0.75, wspace=0.28)
        ax_h, ax_f, ax_t = fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[0, 1]), fig.add_subplot(gs[1, :])
        # (a) histogram of positions at the smallest lr, landscape on a twin axis
        C.shade_basins(ax_h, land, narrow, "x")
        bins = np.linspace(lo, hi, 161)
        for law in LAWS:
            ax_h.hist(positions[law], bins=bins, density=True, histtype="step", color=C.COLORS[law], lw=1.1,
                      label=LABELS[law])
        ax_h.set(yscale="log", xlabel="position x", ylabel="density of positions", xlim=(lo, hi))
        ax_h.set_ylim(1e-3, None)
        twin = ax_h.twinx()  # the loss, for orientation only (no scale)
        xs = np.linspace(lo, hi, 400)
        twin.plot(xs, land.value(xs), color="black", lw=0.8, alpha=0.45)
        twin.set_yticks([])
        twin.grid(False)
        ax_h.plot([], [], color="black", lw=0.8, alpha=0.45, label="loss f(x) (no scale)")
        ax_h.legend(loc="upper center", fontsize=6, ncol=2, bbox_to_anchor=(0.5, -0.22), columnspacing=1.0)
        ax_h.set_title(f"(a) positions, lr = {min(r['lr'] for r in records):g}", loc="left")
        # (b) fraction of time in narrow basins
        for law in LAWS:
            sel = [r for r in records if r["noise"] == law]
            lr = np.array([r["lr"] for r in sel])
            ax_f.errorbar(lr, [r["narrow_fraction"] for r in sel], yerr=[r["narrow_stderr"] for r in sel],
                          fmt="o-", color=C.COLORS[law], lw=0.9, label=LABELS[law])
        pi = next(r["theory_limit"] for r in records if r["noise"] == "untruncated")
        ax_f.axhline(pi, color=C.COLORS["untruncated"], ls="--", lw=0.9,
                     label=f"untruncated theory (stationary law): {pi:.3f}")
        ax_f.axhline(0.6, color=C.COLORS["gaussian"], ls=":", lw=0.9, label="initial fraction (3 of 5 minima)")
        lrs = sorted({r["lr"] for r in records})
        ax_f.set(xscale="log", yscale="log", xlabel="learning rate lr", ylabel="fraction of time in narrow basins")
        ax_f.set_xticks(lrs, [f"{v:g}" for v in lrs])
        ax_f.minorticks_off()
        ax_f.set_ylim(1e-3, 1.5)
        ax_f.invert_xaxis()  # lr decreases to the right
        ax_f.set_title("(b) time in narrow basins", loc="left")
        ax_f.legend(loc="lower left", fontsize=6.5, handlelength=1.8)
        # (c) sample trajectories
        C.shade_basins(ax_t, land, narrow, "y")
        for law in ("untruncated", "gaussian", "truncated"):
            s = samples[law]
            ax_t.plot(s["t"], s["x"], color=C.COLORS[law], lw=0.6, label=LABELS[law], alpha=0.9)
        ax_t.set(xlabel=r"time (units of $1/\lambda_b(\mathrm{lr})$, $l^*=2$)", ylabel="position x",
                 ylim=(lo - 0.1, hi + 0.1), xlim=(0, HORIZON))
        ax_t.set_yticks(land.minima, [f"{m:g}" for m in land.minima])
        ax_t.set_title(f"(c) sample trajectories from the narrow minimum 0, lr = {samples['truncated']['lr']:g}",
                       loc="left")
        ax_t.legend(loc="upper center", ncol=3, fontsize=7, bbox_to_anchor=(0.5, -0.3))
        fig.suptitle("Truncated heavy-tailed SGD leaves the narrow basins (shaded); untruncated and Gaussian\n"
                     r"SGD do not (Pareto noise $\alpha=1.5$, scale 0.1; run length $0.5/\lambda_b(\mathrm{lr})$ steps)",
                     fontsize=9.5)
        fig.savefig(path)
        plt.close(fig)


def main(args: argparse.Namespace) -> int:
    """Run ``htsgd reproduce sharp-minima``; returns the exit status."""
    out = C.output_dir(args)
    land = C.default_landscape()
    basins = land.basins()
    narrow, wide = C.narrow_wide(basins, C.GLOBAL_TRUNCATION)
    print(f"{land!r}, iterates projected onto {C.default_bounds()}\nbasins (minimum: width): "
          + ", ".join(f"{b.minimum:g}: {b.width:.2g}" for b in basins)
          + f"; narrow (l* = 1 at b = {C.GLOBAL_TRUNCATION:g}): minima {[float(basins[k].minimum) for k in narrow]}, "
          f"wide (l* = 2): {[float(basins[k].minimum) for k in wide]}\n"
          f"run length {HORIZON:g} / lambda_b(lr) steps, {'quick' if args.quick else 'full'} mode, seed {args.seed}",
          flush=True)
    timer = C.Timer()
    records, positions, samples = simulate(args)
    C.print_table("fraction of time in narrow basins (per noise and lr)",
                  ["noise", "lr", "steps", "particles", "narrow", "+-", "theory (lr -> 0)",
                   *[f"{b.minimum:g}" for b in basins], "sec"],
                  [[r["noise"], f"{r['lr']:g}", f"{r['steps']:.3g}", str(r["particles"]), f"{r['narrow_fraction']:.4f}",
                    f"{r['narrow_stderr']:.4f}", "-" if r["theory_limit"] is None else f"{r['theory_limit']:.3f}",
                    *[f"{r[f'basin_{k}']:.3f}" for k in range(len(basins))], f"{r['seconds']:.1f}"]
                   for r in records])
    C.write_csv(out / "sharp_minima.csv", records)
    C.write_json(out / "sharp_minima.json", {
        "command": "sharp-minima", "quick": args.quick, "seed": args.seed, "landscape_points": C.POINTS,
        "landscape_scale": land.scale, "bounds": C.default_bounds(), "alpha": C.ALPHA, "noise_scale": C.NOISE_SCALE,
        "truncation": C.GLOBAL_TRUNCATION, "horizon": HORIZON, "narrow_basins": narrow, "records": records,
        "seconds": timer()})
    plot(out / "sharp_minima.png", records, positions, samples)
    print(f"\nwrote {out / 'sharp_minima.png'}, sharp_minima.csv, sharp_minima.json ({timer():.1f} s)")
    return 0
