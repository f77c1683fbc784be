"""Empirical transition rates among the wide minima (time unit 1/lambda_b) beside the generator Q.

Truncated heavy-tailed SGD (Pareto alpha 1.5, scale 0.1, b = 0.8) on the default five-basin landscape
(:mod:`htsgd.reproduce._common`): the wide minima -1.5 and 1.7 need l* = 2 jumps to leave, the narrow ones
(-3, 0, 3.4) one. Theory (``theory.md`` section 3): on the time scale 1/lambda_b(lr) with l* = 2, SGD mapped
to its last wide minimum converges to a Markov chain with generator Q (``theory.markov_chain_generator``);
visits to narrow basins are instantaneous in the limit. Half of the particles start at each wide minimum and
run for ``horizon / lambda_b(lr)`` steps; positions are recorded 2000 times per particle; each record is mapped
to a basin, narrow visits are attributed to the last wide minimum, and the rate i -> j is (transitions i -> j)
/ (time spent at i), in units of 1/lambda_b(lr).

Why the simulated rates exceed Q at noise scale 0.1: Q_ij = (exit rate of i toward j) x (share of the landings
that end at j), and the exit rate of a wide minimum (l* = 2) is 1.9-2.1x its limit q lambda_b at scale 0.1,
where moderate jumps still help (see ``htsgd reproduce exit-times``, panel (c)). Panel (c) here measures, for
both wide minima, the exit rate over ``q lambda_b`` against ``asymptotic_regime_indicator``: over the learning
rates simulated (direct) and down a series of noise scales (importance sampling), where it reaches 1, and
lists the chain's rates with that factor divided out. Panel (d) sets the time fractions beside the stationary
law of Q.

Writes ``markov_chain.png`` (rates against lr beside Q; sojourn-time survival beside Exp(-Q_ii); exit-rate
convergence; time fractions beside the stationary law), ``markov_chain.csv`` (one row per lr and transition),
``markov_chain_convergence.csv`` and ``markov_chain.json``.
"""
from __future__ import annotations

import argparse

import numpy as np

from .. import theory
from ..dynamics import HeavyTailedSGD
from ..noise import Pareto
from . import _common as C
from . import convergence as V

LRS_FULL, LRS_QUICK = (0.08, 0.04, 0.02, 0.01), (0.08, 0.04)
PARTICLES_FULL, PARTICLES_QUICK = 400, 200
HORIZON = 2.0  # run length in units of 1/lambda_b(lr)
RECORDS = 2000  # recorded positions per particle: chain-time resolution HORIZON / RECORDS
CHUNK = 50
STUDY_LR = 0.04  # learning rate of the noise-scale series of the exit-rate study
SCALES_FULL, SCALES_QUICK = (0.1, 0.03, 0.01, 0.003, 0.001), (0.1, 0.01, 0.001)
STUDY_SAMPLES = (200_000, 30_000)  # importance samples per point (full, quick)
#: What the reader sees in panels (c) and (d), printed under the figure and in the output.
CAPTION = ("(c): exit rate of each wide minimum over its limit q lambda_b against the indicator of moderate jumps: "
           "about 2 at scale 0.1 (hence rates above Q in (a)),\n1 once moderate jumps vanish; "
           "(d): time fractions beside the stationary law of Q.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``htsgd reproduce markov-chain``."""
    C.add_common_arguments(parser, "markov-chain")


def wide_state_path(traj: np.ndarray, start: np.ndarray, maxima: np.ndarray, wide: list[int]) -> np.ndarray:
    """Map recorded positions to the index (in ``wide``) of the last wide basin visited.

    Parameters
    ----------
    traj : ndarray, shape (n_records, n_particles)
        Recorded positions.
    start : ndarray of int, shape (n_particles,)
        Initial state (index in ``wide``) of each particle.
    maxima : ndarray
        Basin boundaries (basin ``k`` is ``(maxima[k-1], maxima[k])``).
    wide : list of int
        Basin indices of the wide minima.

    Returns
    -------
    ndarray of int, shape (n_records + 1, n_particles)
        Row 0 is ``start``; narrow records carry the previous wide state forward.
    """
    basin = np.searchsorted(maxima, traj)
    lookup = np.full(len(maxima) + 1, -1)
    lookup[wide] = np.arange(len(wide))
    s = np.vstack([start[None, :], lookup[basin]])
    rows = np.where(s >= 0, np.arange(s.shape[0])[:, None], 0)
    rows = np.maximum.accumulate(rows, axis=0)  # index of the last row with a wide state
    return np.take_along_axis(s, rows, axis=0)


def count(path: np.ndarray, n_states: int, dt: float) -> tuple[np.ndarray, np.ndarray, list, list]:
    """Transitions ``N[i, j]``, time ``T[i]`` per state, and the sojourns per state as (durations, completed)."""
    N = np.zeros((n_states, n_states))
    T = np.array([np.count_nonzero(path[1:] == i) * dt for i in range(n_states)])
    durations = [[] for _ in range(n_states)]
    completed = [[] for _ in range(n_states)]
    for col in path.T:
        change = np.flatnonzero(col[1:] != col[:-1]) + 1
        for a, b in zip(col[change - 1], col[change]):
            N[a, b] += 1
        edges = np.concatenate([[0], change, [len(col) - 1]])
        for k, (t0, t1) in enumerate(zip(edges[:-1], edges[1:])):
            durations[col[t0]].append((t1 - t0) * dt)
            completed[col[t0]].append(k < len(edges) - 2)  # the last sojourn is cut by the horizon
    return N, T, durations, completed


def kaplan_meier(t: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier survival ``P(sojourn > t)`` at the completed sojourn times (censored ones counted)."""
    order = np.argsort(t, kind="stable")
    t, event = np.asarray(t)[order], np.asarray(event)[order]
    at_risk = len(t) - np.arange(len(t))
    surv = np.cumprod(np.where(event, 1.0 - 1.0 / at_risk, 1.0))
    return t[event], surv[event]


def simulate(args: argparse.Namespace) -> tuple[list[dict], dict, "theory.MarkovChain"]:
    """Run every lr; return the per-transition records, the sojourns at the smallest lr, and the chain."""
    land, noise = C.default_landscape(), C.default_noise()
    basins = land.basins()
    _, wide = C.narrow_wide(basins, C.GLOBAL_TRUNCATION)
    chain = theory.markov_chain_generator(basins, C.ALPHA, C.GLOBAL_TRUNCATION, grad=land)
    pi = theory.stationary_distribution(chain.Q)
    lrs = LRS_QUICK if args.quick else LRS_FULL
    n = PARTICLES_QUICK if args.quick else PARTICLES_FULL
    start = np.arange(n) % len(wide)
    x0 = land.minima[np.asarray(wide)[start]]
    steps = {lr: int(HORIZON / chain.rate_scale(noise, lr)) for lr in lrs}
    records, sojourns = [], {}
    with C.progress(sum(steps[lr] * n for lr in lrs), "markov chain", args) as bar:
        for i, lr in enumerate(lrs):
            T, timer = steps[lr], C.Timer()
            every = max(T // RECORDS, 1)
            sgd = HeavyTailedSGD(land, lr, noise, truncation=C.GLOBAL_TRUNCATION, bounds=C.default_bounds())
            trajs, narrow_steps, total_steps = [], 0, 0
            for first, cnt in C.chunks(n, CHUNK):
                res = sgd.run(x0[first:first + cnt], T, rng=C.seed_for(args, i), record_every=every,
                              n_threads=args.threads, first_particle=first)
                trajs.append(res.trajectory)
                narrow_steps += int(res.occupancy.sum() - res.occupancy[:, wide].sum())
                total_steps += int(res.occupancy.sum())
                bar.update(T * cnt)
            path = wide_state_path(np.concatenate(trajs, axis=1), start, land.maxima, wide)
            dt = every * chain.rate_scale(noise, lr)  # chain time per record
            N, Tstate, durations, completed = count(path, len(wide), dt)
            occupancy = Tstate / Tstate.sum()
            for a in range(len(wide)):
                for b in range(len(wide)):
                    if a != b:
                        rate = N[a, b] / Tstate[a]
                        records.append({
                            "lr": lr, "from": float(chain.minima[a]), "to": float(chain.minima[b]),
                            "transitions": int(N[a, b]), "time_at_from": float(Tstate[a]), "rate": rate,
                            "rate_stderr": float(np.sqrt(max(N[a, b], 1)) / Tstate[a]), "Q": float(chain.Q[a, b]),
                            "ratio": rate / chain.Q[a, b], "occupancy_from": float(occupancy[a]),
                            "stationary_from": float(pi[a]), "narrow_fraction": narrow_steps / total_steps,
                            "steps": T, "particles": n, "seconds": timer()})
            if lr == min(lrs):
                sojourns = {"lr": lr, "durations": durations, "completed": completed}
    return records, sojourns, chain


def exit_rate_study(args: argparse.Namespace, chain) -> list[dict]:
    """Exit rate of each wide minimum over ``q lambda_b`` against the indicator.

    The noise-scale series at ``lr = STUDY_LR`` by importance sampling; at the default scale also by direct
    simulation (the overlap). The rate is ``1 / E tau``; ``q`` the wide basin's exit constant with ``b``.
    """
    land = C.default_landscape()
    basins = land.basins()
    k = 1 if args.quick else 0
    pts = []
    grid = SCALES_QUICK if args.quick else SCALES_FULL
    with C.progress(len(grid) * len(chain.wide), "exit-rate study", args) as bar:
        for w, idx in enumerate(chain.wide):
            basin = basins[int(idx)]
            for i, scale in enumerate(grid):
                noise = Pareto(C.ALPHA, scale)
                sgd = HeavyTailedSGD(land, STUDY_LR, noise, truncation=C.GLOBAL_TRUNCATION, bounds=C.default_bounds())
                predicted = theory.predicted_mean_exit_time(basin, noise, STUDY_LR, C.GLOBAL_TRUNCATION, grad=land)
                base = {"group": f"{basin.minimum:g}", "minimum": basin.minimum, "series": "scale", "lr": STUDY_LR,
                        "scale": scale, "predicted_mean_exit": predicted,
                        "indicator": theory.asymptotic_regime_indicator(basin, noise, STUDY_LR, grad=land)}
                seed = np.random.SeedSequence(args.seed, spawn_key=(2_000 + 100 * w + i,))
                runs = [("importance", STUDY_SAMPLES[k],
                         lambda: V.importance_mean_exit_time(sgd, basin, STUDY_SAMPLES[k], (5.0, 20.0), seed,
                                                             args.threads))]
                if scale == C.NOISE_SCALE:
                    n = 1000 if not args.quick else 300
                    runs.append(("direct", n, lambda: V.direct_mean_exit_time(sgd, basin, n, int(20 * predicted) + 1000,
                                                                              seed, args.threads)))
                for method, size, run in runs:
                    timer = C.Timer()
                    mean, se, caveat = run()
                    # rate / (q lambda_b) = predicted mean / measured mean; delta-method error
                    pts.append({**base, "method": method, "samples": size, "mean_exit": mean, "stderr": se,
                                "ratio": predicted / mean, "ratio_stderr": predicted * se / mean ** 2,
                                "caveat": caveat, "seconds": timer()})
                bar.update(1)
    return pts


def plot(path, records: list[dict], sojourns: dict, chain, study_pts: list[dict] | None = None) -> None:
    """Rates against lr beside Q; sojourn-time survival beside exp(Q_ii t); exit-rate convergence; occupancy."""
    plt = C.pyplot()
    cols = ["#0072B2", "#D55E00", "#009E73", "#CC79A7"]
    with plt.rc_context(C.RC):
        if study_pts:
            fig, grid = plt.subplots(2, 2, figsize=(7.6, 6.6))
            (ax, ax2), (ax3, ax4) = grid
        else:
            fig, (ax, ax2) = plt.subplots(1, 2, figsize=(7.2, 3.2))
        pairs = sorted({(r["from"], r["to"]) for r in records})
        for c, (a, b) in zip(cols, pairs):
            sel = [r for r in records if (r["from"], r["to"]) == (a, b)]
            ax.errorbar([r["lr"] for r in sel], [r["rate"] for r in sel], yerr=[r["rate_stderr"] for r in sel],
                        fmt="o-", color=c, lw=0.9, label=f"{a:g} $\\to$ {b:g}: simulated")
            ax.axhline(sel[0]["Q"], color=c, ls="--", lw=0.9, label=f"{a:g} $\\to$ {b:g}: theory $Q$ = {sel[0]['Q']:.3f}")
        lrs = sorted({r["lr"] for r in records})
        ax.set(xscale="log", yscale="log", xlabel="learning rate lr",
               ylabel=r"transition rate (per $1/\lambda_b(\mathrm{lr})$ steps)")
        ax.set_xticks(lrs, [f"{v:g}" for v in lrs])
        ax.minorticks_off()
        ax.invert_xaxis()
        lo = min(min(r["rate"] for r in records), chain.Q[~np.eye(len(chain.wide), dtype=bool)].min())
        hi = max(max(r["rate"] for r in records), chain.Q.max())
        ax.set_ylim(lo / 2.5, hi * 4)
        ax.legend(loc="upper left", fontsize=6.5, ncol=2, columnspacing=1.0)
        ax.set_title("(a) rates among the wide minima", loc="left")
        for c, (k, m) in zip(cols, enumerate(chain.minima)):
            t, s = kaplan_meier(np.array(sojourns["durations"][k]), np.array(sojourns["completed"][k]))
            ax2.step(t, s, where="post", color=c, lw=1.1, label=f"sojourn at {m:g}: simulated")
            rate_emp = np.sum(sojourns["completed"][k]) / np.sum(sojourns["durations"][k])
            grid = np.linspace(0, t.max() if t.size else 1.0, 100)
            ax2.plot(grid, np.exp(-rate_emp * grid), ":", color=c, lw=1.0, label=f"Exp(simulated rate {rate_emp:.2f})")
            ax2.plot(grid, np.exp(chain.Q[k, k] * grid), "--", color=c, lw=0.9, label=f"Exp(theory $-Q_{{ii}}$ = {-chain.Q[k, k]:.2f})")
        ax2.set(yscale="log", xlabel=r"sojourn time (units of $1/\lambda_b(\mathrm{lr})$)", ylabel="P(sojourn > t)")
        ax2.set_ylim(5e-3, 1.2)
        ax2.legend(loc="lower right", fontsize=6.5)
        ax2.set_title(f"(b) sojourn times, lr = {sojourns['lr']:g}", loc="left")
        if study_pts:
            V.ratio_panel(ax3, study_pts, [(f"{m:g}", f"from {m:g}", c) for c, m in zip(cols, chain.minima)],
                          title="(c) exit rate of each wide minimum / $q\\,\\lambda_b$",
                          ylabel=r"exit rate / $q\,\lambda_b$")
            ax3.set_xlabel("asymptotic_regime_indicator", fontsize=8)
            ax3.legend(loc="upper right", fontsize=6)
            lrs = sorted({r["lr"] for r in records})
            width = 0.8 / (len(lrs) + 1)
            for j, lr in enumerate(lrs):
                occ = [next(r["occupancy_from"] for r in records if r["lr"] == lr and r["from"] == m)
                       for m in chain.minima]
                ax4.bar(np.arange(len(chain.minima)) + (j - len(lrs) / 2) * width, occ, width,
                        color=str(0.3 + 0.5 * j / max(len(lrs) - 1, 1)), label=f"time fraction, lr {lr:g}")
            pi = theory.stationary_distribution(chain.Q)
            ax4.bar(np.arange(len(chain.minima)) + (len(lrs) / 2) * width, pi, width, color="#E69F00",
                    label="stationary law of $Q$")
            ax4.set_xticks(range(len(chain.minima)), [f"minimum {m:g}" for m in chain.minima])
            ax4.set(ylabel="fraction of time", ylim=(0, 1))
            ax4.legend(loc="upper right", fontsize=6.5)
            ax4.set_title("(d) time fractions beside the stationary law", loc="left")
        fig.suptitle(r"Truncated heavy-tailed SGD ($b=0.8$, Pareto $\alpha=1.5$, scale 0.1) as a Markov chain "
                     "on the wide minima", fontsize=9.5)
        if study_pts:
            fig.tight_layout(rect=(0, 0.05, 1, 1))
            fig.text(0.5, 0.005, CAPTION, ha="center", va="bottom", fontsize=7, style="italic", wrap=True)
        else:
            fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)


def main(args: argparse.Namespace) -> int:
    """Run ``htsgd reproduce markov-chain``; returns the exit status."""
    out = C.output_dir(args)
    land = C.default_landscape()
    timer = C.Timer()
    records, sojourns, chain = simulate(args)
    pi = theory.stationary_distribution(chain.Q)
    print(f"{land!r}, iterates projected onto {C.default_bounds()}, b = {C.GLOBAL_TRUNCATION:g}\n"
          f"wide minima {chain.minima.tolist()} (l* = {chain.l_star_large}); theory generator Q (per "
          f"1/lambda_b(lr) steps):\n{np.array2string(chain.Q, precision=4)}\nstationary law {np.round(pi, 4).tolist()}; "
          f"run length {HORIZON:g}/lambda_b(lr) steps, {'quick' if args.quick else 'full'} mode, seed {args.seed}")
    C.print_table("transition rates among wide minima (units of 1/lambda_b(lr))",
                  ["lr", "from", "to", "transitions", "time at from", "rate", "+-", "theory Q", "ratio",
                   "occupancy", "stationary", "narrow time", "sec"],
                  [[f"{r['lr']:g}", f"{r['from']:g}", f"{r['to']:g}", str(r["transitions"]), f"{r['time_at_from']:.4g}",
                    f"{r['rate']:.4f}", f"{r['rate_stderr']:.4f}", f"{r['Q']:.4f}", f"{r['ratio']:.3f}",
                    f"{r['occupancy_from']:.3f}", f"{r['stationary_from']:.3f}", f"{r['narrow_fraction']:.4f}",
                    f"{r['seconds']:.1f}"] for r in records])
    occupancy = {(r["lr"], r["from"]): r["occupancy_from"] for r in records}
    C.print_table("time fractions at the wide minima beside the stationary law of Q",
                  ["lr", *[f"at {m:g}" for m in chain.minima]],
                  [[f"{lr:g}", *[f"{occupancy[(lr, m)]:.3f}" for m in chain.minima]]
                   for lr in sorted({r["lr"] for r in records}, reverse=True)]
                  + [["stationary", *[f"{p:.3f}" for p in pi]]])
    spts = exit_rate_study(args, chain)
    C.print_table("exit rate of each wide minimum over q lambda_b against asymptotic_regime_indicator",
                  ["from", "lr", "scale", "indicator", "method", "samples", "rate / q lambda_b", "+-", "sec",
                   "caveat"],
                  [[p["group"], f"{p['lr']:g}", f"{p['scale']:g}", f"{p['indicator']:.2e}", p["method"],
                    str(p["samples"]), f"{p['ratio']:.3f}", f"{p['ratio_stderr']:.3f}", f"{p['seconds']:.1f}",
                    p["caveat"]] for p in spts])
    # the chain's simulated rates with the exit-rate factor at the same (lr, scale 0.1) divided out
    factor = {p["minimum"]: p["ratio"] for p in spts if p["method"] == "direct"}
    rows = []
    for r in (r for r in records if r["lr"] == STUDY_LR):
        f = factor.get(r["from"], float("nan"))
        rows.append([f"{r['lr']:g}", f"{r['from']:g}", f"{r['to']:g}", f"{r['ratio']:.3f}", f"{f:.3f}",
                     f"{r['ratio'] / f:.3f}"])
    if rows:
        C.print_table(f"simulated rate / Q, and divided by the exit-rate factor measured at lr {STUDY_LR:g}, scale "
                      f"{C.NOISE_SCALE:g} (what remains: exit sides and landings)",
                      ["lr", "from", "to", "rate / Q", "exit-rate factor", "remaining ratio"], rows)
    print(f"\n{CAPTION}")
    C.write_csv(out / "markov_chain_convergence.csv", spts)
    C.write_csv(out / "markov_chain.csv", records)
    C.write_json(out / "markov_chain.json", {
        "command": "markov-chain", "quick": args.quick, "seed": args.seed, "landscape_points": C.POINTS,
        "landscape_scale": land.scale, "bounds": C.default_bounds(), "alpha": C.ALPHA, "noise_scale": C.NOISE_SCALE,
        "truncation": C.GLOBAL_TRUNCATION, "horizon": HORIZON, "wide_minima": chain.minima, "Q": chain.Q,
        "stationary": pi, "records": records, "convergence": {"points": spts, "caption": CAPTION},
        "seconds": timer()})
    plot(out / "markov_chain.png", records, sojourns, chain, spts)
    print(f"\nwrote {out / 'markov_chain.png'}, markov_chain.csv, markov_chain.json ({timer():.1f} s)")
    return 0
