"""Empirical transition rates among the wide minima (time unit 1/lambda_b) beside the generator Q.

Truncated heavy-tailed SGD (Pareto alpha 1.5, scale 0.1, b = 0.8) on the default five-basin landscape
(:mod:`htsgd.reproduce._common`): the wide minima -1.5 and 1.7 need l* = 2 jumps to leave, the narrow ones
(-3, 0, 3.4) one. Theory (``theory.md`` section 3): on the time scale 1/lambda_b(lr) with l* = 2, SGD mapped
to its last wide minimum converges to a Markov chain with generator Q (``theory.markov_chain_generator``);
visits to narrow basins are instantaneous in the limit. Half of the particles start at each wide minimum and
run for ``horizon / lambda_b(lr)`` steps; positions are recorded 2000 times per particle; each record is mapped
to a basin, narrow visits are attributed to the last wide minimum, and the rate i -> j is (transitions i -> j)
/ (time spent at i), in units of 1/lambda_b(lr); the time fractions leave out the first ``BURN_IN`` units.

Why the simulated rates differ from Q at noise scale 0.1, and where they agree: ``Q_ij = (exit rate of i) x
(share of the exits of i that settle at j)`` (``theory.md`` section 3: the ``l*``-jump measure of landing in
each basin, narrow landings passed on by absorption probabilities). Panel (c) measures both factors down a
series of noise scales at ``lr = 0.04`` (:func:`generator_study`): the exit rate by the two-horizon importance
estimator (``mean_exit_time(method="importance")``), the settled shares by weighted exits of the big-jump
mixture (:mod:`.markov_landing`), both also by direct simulation at the largest scales (the overlap). At scale
0.1 the exit rate is about 2x ``q lambda_b`` (moderate jumps still help) and only about 3/4 of the theory's
share settles at the other wide minimum (landings just past a maximum fall back); both factors reach the
theory as ``asymptotic_regime_indicator`` falls, and so does the measured generator. Panel (d) sets the time
fractions beside the stationary laws of the measured generators and of Q.

Writes ``markov_chain.png`` (rates against lr beside Q; sojourn-time survival beside Exp(-Q_ii); measured
generator / Q against the indicator; time fractions beside stationary laws), ``markov_chain.csv`` (one row per
lr and transition), ``markov_chain_convergence.csv`` (one row per scale, method and transition of the
generator study) and ``markov_chain.json``.
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
from . import markov_landing as ML

LRS_FULL, LRS_QUICK = (0.08, 0.04, 0.02, 0.01), (0.08, 0.04)
PARTICLES_FULL, PARTICLES_QUICK = 400, 200
HORIZON = 2.0  # run length in units of 1/lambda_b(lr)
BURN_IN = 1.0  # chain time left out of the time fractions (from the uniform start toward the stationary law)
RECORDS = 2000  # recorded positions per particle: chain-time resolution HORIZON / RECORDS
CHUNK = 50
STUDY_LR = 0.04  # learning rate of the noise-scale series of the exit-rate study
SCALES_FULL, SCALES_QUICK = (0.1, 0.05, 0.03, 0.01, 0.003, 0.001), (0.1, 0.01, 0.001)
DIRECT_SCALES = ((0.1, 0.05), (0.1,))  # where the generator is also measured by direct simulation (full, quick)
STUDY_SAMPLES = (200_000, 30_000)  # importance samples of the exit rate per point (full, quick)
LANDING_SAMPLES = (40_000, 20_000)  # mixture paths for the settled shares of a wide minimum (full, quick)
NARROW_SAMPLES = (10_000, 4_000)  # mixture paths for the absorption probabilities of a narrow one
DIRECT_EXITS = (300, 200)  # directly simulated exits per wide basin (full, quick)
NARROW_EXITS = (1000, 400)  # per narrow basin, simulated directly where this costs <= NARROW_DIRECT_BUDGET steps
NARROW_DIRECT_BUDGET = 2e8
#: What the reader sees in panels (c) and (d), printed under the figure and in the output.
CAPTION = ("(c): each transition rate measured as exit rate x share of the exits that settle at the other wide minimum, "
           "over Q: off at noise scale 0.1 (the rates of (a)),\nwithin error bars of 1 once moderate jumps vanish; "
           "(d): the simulated time fractions beside the stationary laws of the measured generators and of Q.")


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
            # time fractions after a burn-in: the particles start half at each wide minimum, not at the
            # stationary law; the two-state chain forgets that at rate -Q_00 - Q_11 (about 3.5 per unit)
            late = path[1 + int(BURN_IN * (path.shape[0] - 1) / HORIZON):]
            occupancy = np.array([np.count_nonzero(late == s) for s in range(len(wide))]) / late.size
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


def generator_study(args: argparse.Namespace, chain) -> tuple[list[dict], dict]:
    """Measured generator ``Q_ij = (exit rate of i) x (share of the exits of i that settle at j)`` against the
    indicator, down a series of noise scales at ``lr = STUDY_LR``.

    Exit rates: ``1 / E tau`` by the two-horizon importance estimator (every scale) and by direct simulation
    (``DIRECT_SCALES``, the overlap). Settled shares (:mod:`.markov_landing`): weighted exits of the big-jump
    mixture and direct exits, each relaxed, narrow landings passed on by the measured absorption
    probabilities. Returns one record per (scale, method, transition) and, per (scale, method), the measured
    generator.
    """
    land = C.default_landscape()
    basins = land.basins()
    narrow, wide = C.narrow_wide(basins, C.GLOBAL_TRUNCATION)
    k = 1 if args.quick else 0
    grid = SCALES_QUICK if args.quick else SCALES_FULL
    direct_scales = DIRECT_SCALES[k]
    recs, generators = [], {}
    with C.progress(len(grid) + len(direct_scales), "generator study", args) as bar:
        for i, scale in enumerate(grid):
            noise = Pareto(C.ALPHA, scale)
            sgd = HeavyTailedSGD(land, STUDY_LR, noise, truncation=C.GLOBAL_TRUNCATION, bounds=C.default_bounds())
            unit = chain.rate_scale(noise, STUDY_LR)
            for method in ("importance", "direct") if scale in direct_scales else ("importance",):
                timer = C.Timer()
                seeds = np.random.SeedSequence(args.seed, spawn_key=(3_000 + 10 * i + (method == "direct"),)).spawn(
                    2 * len(basins))

                def landing(idx):
                    basin = basins[idx]
                    pred = theory.predicted_mean_exit_time(basin, noise, STUDY_LR, C.GLOBAL_TRUNCATION, grad=land)
                    n_direct = DIRECT_EXITS[k] if idx in wide else NARROW_EXITS[k]
                    # narrow basins: direct wherever cheap (the flat narrow minimum 0 makes the weights heavy)
                    if method == "importance" and (idx in wide or n_direct * pred > NARROW_DIRECT_BUDGET):
                        n = (LANDING_SAMPLES if idx in wide else NARROW_SAMPLES)[k]
                        return ML.importance_landing(sgd, basin, n, seeds[idx], args.threads), None
                    return ML.direct_landing(sgd, basin, n_direct, int(30 * pred) + 1000, seeds[idx], args.threads)
                theta, theta_se = ML.absorption({j: landing(j)[0] for j in narrow}, narrow, wide, len(basins))
                Q_emp = np.zeros((len(wide), len(wide)))
                for a, idx in enumerate(wide):
                    basin = basins[idx]
                    lan, et = landing(idx)
                    if method == "importance":
                        sgd_mean, sgd_se, caveat = V.importance_mean_exit_time(
                            sgd, basin, STUDY_SAMPLES[k], (5.0, 20.0), seeds[len(basins) + idx], args.threads)
                    else:
                        m = et.mean()
                        sgd_mean, sgd_se, caveat = float(m.value), float(m.stderr), (
                            f"{et.n_censored} censored" if et.n_censored else "")
                    rate, rate_se = 1.0 / (sgd_mean * unit), sgd_se / (sgd_mean ** 2 * unit)  # chain units
                    q = theory.exit_constant(basin, C.ALPHA, C.GLOBAL_TRUNCATION, grad=land)
                    ind = theory.asymptotic_regime_indicator(basin, noise, STUDY_LR, grad=land)
                    for b, jdx in enumerate(wide):
                        if b == a:
                            continue
                        g, g_se = ML.settled_share(lan, theta, theta_se, b)
                        Q_emp[a, b] = rate * g
                        Q_th = float(chain.Q[a, b])
                        ratio = rate * g / Q_th
                        recs.append({
                            "scale": scale, "lr": STUDY_LR, "method": method, "from": float(basin.minimum),
                            "to": float(basins[jdx].minimum), "indicator": ind, "exit_rate": rate,
                            "exit_rate_stderr": rate_se, "exit_factor": rate / q, "exit_factor_stderr": rate_se / q,
                            "settled_share": g, "settled_share_stderr": g_se, "settled_share_theory": Q_th / q,
                            "exits_counted": int(lan.basin.size), "Q_measured": rate * g, "Q": Q_th, "ratio": ratio,
                            "ratio_stderr": ratio * math.hypot(rate_se / rate, g_se / g) if g > 0 else math.nan,
                            "caveat": caveat, "seconds": timer()})
                np.fill_diagonal(Q_emp, -Q_emp.sum(axis=1))
                generators[(scale, method)] = Q_emp
                bar.update(1)
    return recs, generators


def stationary_laws(generators: dict, chain) -> dict[str, np.ndarray]:
    """Stationary law of ``Q`` and of the measured generators at the largest and the smallest noise scale."""
    scales = sorted({sc for sc, _ in generators})
    laws = {"theory Q": theory.stationary_distribution(chain.Q)}
    for sc in (scales[-1], scales[0]):
        for method in ("direct", "importance"):
            if (sc, method) in generators:
                laws[f"measured Q, scale {sc:g} ({method})"] = theory.stationary_distribution(generators[(sc, method)])
    return laws


def plot(path, records: list[dict], sojourns: dict, chain, study_pts: list[dict] | None = None,
         laws: dict | None = None) -> None:
    """Rates against lr beside Q; sojourn-time survival beside exp(Q_ii t); measured generator / Q against the
    indicator; time fractions beside stationary laws."""
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
            pts = [{**p, "group": f"{p['from']:g}>{p['to']:g}", "series": "scale"} for p in study_pts]
            pairs = sorted({(p["from"], p["to"]) for p in study_pts})
            V.ratio_panel(ax3, pts, [(f"{a:g}>{b:g}", f"{a:g} $\\to$ {b:g}", c) for c, (a, b) in zip(cols, pairs)],
                          title="(c) measured rate / $Q$ per transition", ylabel=r"measured $Q_{ij}$ / theory $Q_{ij}$")
            ax3.set_xlabel(f"asymptotic_regime_indicator of the minimum left (lr {STUDY_LR:g}, noise scale "
                           f"{min(p['scale'] for p in pts):g}-{max(p['scale'] for p in pts):g})", fontsize=7)
            ax3.legend(loc="upper right", fontsize=6, title="filled: importance, open: direct", title_fontsize=6)
            lrs = sorted({r["lr"] for r in records})
            bars = [(f"time fractions, lr {lr:g}, scale {C.NOISE_SCALE:g}",
                     [next(r["occupancy_from"] for r in records if r["lr"] == lr and r["from"] == m)
                      for m in chain.minima], str(0.3 + 0.4 * j / max(len(lrs) - 1, 1))) for j, lr in enumerate(lrs)]
            law_cols = ["#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#F0E442"]
            bars += [(name, law, c) for (name, law), c in zip((laws or {}).items(), law_cols)]
            width = 0.8 / len(bars)
            for j, (name, vals, c) in enumerate(bars):
                ax4.bar(np.arange(len(chain.minima)) + (j - (len(bars) - 1) / 2) * width, vals, width, color=c,
                        label=name.replace("theory Q", "stationary law of theory $Q$"))
            ax4.set_xticks(range(len(chain.minima)), [f"minimum {m:g}" for m in chain.minima])
            ax4.set(ylabel="fraction of time", ylim=(0, 1.35))
            ax4.legend(loc="upper left", fontsize=5.5, ncol=2)
            ax4.set_title("(d) time fractions beside stationary laws", loc="left")
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
    C.print_table(f"time fractions at the wide minima (after {BURN_IN:g} unit of chain time) beside the stationary "
                  "law of Q",
                  ["lr", *[f"at {m:g}" for m in chain.minima]],
                  [[f"{lr:g}", *[f"{occupancy[(lr, m)]:.3f}" for m in chain.minima]]
                   for lr in sorted({r["lr"] for r in records}, reverse=True)]
                  + [["stationary", *[f"{p:.3f}" for p in pi]]])
    grecs, generators = generator_study(args, chain)
    C.print_table(f"measured generator at lr {STUDY_LR:g}: exit rate (units of lambda_b) x share of the exits that "
                  "settle at the other wide minimum, against asymptotic_regime_indicator of the minimum left",
                  ["scale", "method", "from", "to", "indicator", "exit rate / q", "+-", "share", "+-", "theory share",
                   "exits", "Q measured", "Q", "ratio", "+-", "sec", "caveat"],
                  [[f"{r['scale']:g}", r["method"], f"{r['from']:g}", f"{r['to']:g}", f"{r['indicator']:.2e}",
                    f"{r['exit_factor']:.3f}", f"{r['exit_factor_stderr']:.3f}", f"{r['settled_share']:.3f}",
                    f"{r['settled_share_stderr']:.3f}", f"{r['settled_share_theory']:.3f}", str(r["exits_counted"]),
                    f"{r['Q_measured']:.4f}", f"{r['Q']:.4f}", f"{r['ratio']:.3f}", f"{r['ratio_stderr']:.3f}",
                    f"{r['seconds']:.1f}", r["caveat"]] for r in grecs])
    laws = stationary_laws(generators, chain)
    C.print_table("stationary laws: of the measured generators, of Q, and the time fractions of the simulated chain",
                  ["law", *[f"at {m:g}" for m in chain.minima]],
                  [[name, *[f"{p:.3f}" for p in law]] for name, law in laws.items()]
                  + [[f"time fractions, lr {lr:g}, scale {C.NOISE_SCALE:g}", *[f"{occupancy[(lr, m)]:.3f}"
                                                                               for m in chain.minima]]
                     for lr in sorted({r["lr"] for r in records}, reverse=True)])
    print(f"\n{CAPTION}")
    C.write_csv(out / "markov_chain_convergence.csv", grecs)
    C.write_csv(out / "markov_chain.csv", records)
    C.write_json(out / "markov_chain.json", {
        "command": "markov-chain", "quick": args.quick, "seed": args.seed, "landscape_points": C.POINTS,
        "landscape_scale": land.scale, "bounds": C.default_bounds(), "alpha": C.ALPHA, "noise_scale": C.NOISE_SCALE,
        "truncation": C.GLOBAL_TRUNCATION, "horizon": HORIZON, "wide_minima": chain.minima, "Q": chain.Q,
        "stationary": pi, "records": records,
        "generator_study": {"records": grecs, "caption": CAPTION, "lr": STUDY_LR,
                            "generators": [{"scale": sc, "method": m, "Q": g} for (sc, m), g in generators.items()],
                            "stationary_laws": laws},
        "seconds": timer()})
    plot(out / "markov_chain.png", records, sojourns, chain, grecs, laws)
    print(f"\nwrote {out / 'markov_chain.png'}, markov_chain.csv, markov_chain.json ({timer():.1f} s)")
    return 0
