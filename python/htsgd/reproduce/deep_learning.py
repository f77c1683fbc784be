"""Deep learning with corrupted labels: truncated heavy-tailed SGD against SGD baselines (CPU).

A small version of section 4 of Wang, Oh & Rhee (ICLR 2022), on two tasks (``--task``):

- ``mnist1d``: MNIST-1D (Greydanus 2020), generated locally by the PyPI package ``mnist1d`` (4000 training
  and 1000 test sequences of length 40); model: a 1-D CNN with 8,242 parameters;
- ``digits``: scikit-learn's ``load_digits`` (1797 real 8x8 images of handwritten digits that ship with the
  package; 1297 for training, 500 for testing); model: a 2-D CNN with 8,714 parameters.

Nothing is downloaded. A fraction of the training labels (10% by default) is changed to another class.
Methods (all plain SGD steps with ``lr`` 0.1, no momentum):

- ``SGD small batch``: batch 20;
- ``SGD large batch``: batch 200;
- ``SGD + clipping``: batch 20, the step truncated at ``b`` (global norm), no noise;
- ``heavy-tailed, no truncation``: the paper's multiplicative noise ``g_LB + Z (g_SB - g_LB)`` with a
  symmetric Lomax multiplier ``Z`` (alpha 1.4, scale 1), ``g_LB`` a batch-200 gradient at every step;
- ``heavy-tailed + truncation``: the same, the step truncated at ``b``.

For each method and seed: test accuracy, how many corrupted training labels were memorised, and the
sharpness of the final weights on the training set (the paper's expected sharpness
``E |L(theta + nu) - L(theta)|``, ``nu ~ N(0, delta^2 I)``; also the Hessian trace and top eigenvalue on a
training subset). The table gives mean +- standard error over seeds; the paper's claim (the truncated
heavy-tailed method reaches higher test accuracy at flatter minima than each baseline) is tested by paired
t-tests over seeds (every method of a seed starts from the same weights and sees the same batches) and
reported whichever way it comes out. ``--quick`` is a smoke run (200 steps): too short to compare methods,
and labelled so on the plot and in the output.

Writes ``runs.csv``, ``table.csv``, ``ordering.csv``, ``summary.json`` and ``deep_learning.png``.
Needs ``pip install "htsgd[torch]"`` (torch, mnist1d, scikit-learn).
"""
from __future__ import annotations

import argparse
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import _common as C
from .deep_learning_tasks import TASKS, load_task, make_data, make_digits, make_model  # noqa: F401 (public names)

__all__ = ["METHODS", "add_arguments", "main"]


@dataclass(frozen=True)
class Method:
    """One training recipe."""

    name: str
    batch: int = 20
    noise: bool = False            # the multiplicative heavy-tailed noise with a large-batch reference
    truncation: float | None = None


@dataclass
class Config:
    iterations: int = 10_000
    seeds: int = 3
    lr: float = 0.1
    small_batch: int = 20
    large_batch: int = 200
    truncation: float = 0.5
    alpha: float = 1.4
    noise_scale: float = 1.0
    corrupt_fraction: float = 0.1
    delta: float = 0.01
    sharpness_samples: int = 100
    trace_samples: int = 20
    eig_iterations: int = 30
    curvature_subset: int = 1000
    check_every: int = 100
    task: str = "mnist1d"
    methods: list[Method] = field(default_factory=list)


def make_methods(cfg: Config) -> list[Method]:
    b = cfg.truncation
    return [
        Method("SGD small batch", batch=cfg.small_batch),
        Method("SGD large batch", batch=cfg.large_batch),
        Method("SGD + clipping", batch=cfg.small_batch, truncation=b),
        Method("heavy-tailed, no truncation", batch=cfg.small_batch, noise=True),
        Method("heavy-tailed + truncation", batch=cfg.small_batch, noise=True, truncation=b),
    ]


METHODS = [m.name for m in make_methods(Config())]
#: The method the paper's claim is about, compared with each of the others.
CLAIMED = "heavy-tailed + truncation"
#: Printed and drawn on every --quick result.
SMOKE = "SMOKE RUN (--quick): too short to compare methods"


def _seed(root: int, *ids: int) -> int:
    return int(np.random.SeedSequence(root, spawn_key=ids).generate_state(1, dtype=np.uint64)[0] >> 1)


# --------------------------------------------------------------------------------------------------- a run
def train_one(method: Method, seed_index: int, root_seed: int, cfg: Config, data: dict[str, np.ndarray]) -> dict:
    """Train one model with one method and evaluate it; returns a row of the runs table."""
    import torch
    import torch.nn.functional as F

    from htsgd.torch import HeavyTailedSGD, expected_sharpness, hessian_trace, top_hessian_eigenvalue

    start, cpu_start = time.perf_counter(), time.process_time()
    x, y = torch.from_numpy(data["x"]), torch.from_numpy(data["y"])
    x_test, y_test = torch.from_numpy(data["x_test"]), torch.from_numpy(data["y_test"])
    task = str(data.get("task", "mnist1d"))
    model = make_model(_seed(root_seed, seed_index, 1), task)  # the same initial weights for every method
    batches = torch.Generator().manual_seed(_seed(root_seed, seed_index, 2))  # and the same batch order
    reference_batches = torch.Generator().manual_seed(_seed(root_seed, seed_index, 3))
    method_id = METHODS.index(method.name) if method.name in METHODS else 99
    opt = HeavyTailedSGD(
        model.parameters(), lr=cfg.lr, noise="pareto" if method.noise else None, alpha=cfg.alpha,
        noise_scale=cfg.noise_scale, noise_mode="multiplicative", truncation=method.truncation,
        seed=_seed(root_seed, seed_index, 4, method_id))
    n = len(y)
    clipped = torch.zeros((), dtype=torch.int64)
    diverged_at = None
    steps = 0
    for it in range(cfg.iterations):
        if method.noise:  # the paper's g_LB: a large-batch gradient at the current weights
            idx = torch.randint(0, n, (cfg.large_batch,), generator=reference_batches)
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.set_reference_gradient()
        idx = torch.randint(0, n, (method.batch,), generator=batches)
        opt.zero_grad()
        loss = F.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        steps = it + 1
        if method.truncation is not None and opt.last_step_norm is not None:  # None: b = inf, nothing clipped
            clipped += opt.last_step_norm > method.truncation
        if (it + 1) % cfg.check_every == 0 and not all(torch.isfinite(p).all() for p in model.parameters()):
            diverged_at = it + 1
            break
    train_seconds = time.perf_counter() - start
    train_cpu_seconds = time.process_time() - cpu_start  # the cost on a dedicated core (one torch thread)

    model.eval()
    with torch.no_grad():
        finite = all(torch.isfinite(p).all() for p in model.parameters())
        pred_test = model(x_test).argmax(1)
        pred_train = model(x).argmax(1)
    corrupted = torch.from_numpy(data["corrupted"])
    clean = torch.ones(n, dtype=torch.bool)
    clean[corrupted] = False
    row: dict[str, Any] = {
        "task": task, "method": method.name, "seed": seed_index,
        "test_accuracy": float((pred_test == y_test).double().mean()),
        "train_accuracy_clean": float((pred_train[clean] == y[clean]).double().mean()),
        "memorised": float((pred_train[corrupted] == y[corrupted]).double().mean()),
        "diverged": not finite or diverged_at is not None,
        "failed": True,
        "clipped_fraction": (float(clipped) / steps) if method.truncation is not None else math.nan,
        "steps": steps,  # fewer than cfg.iterations if the weights diverged
        "train_seconds": train_seconds,
        "train_cpu_seconds": train_cpu_seconds,
    }
    if row["diverged"]:
        row.update(train_loss=math.nan, expected_sharpness=math.nan, expected_sharpness_se=math.nan,
                   hessian_trace=math.nan, hessian_trace_se=math.nan, top_eigenvalue=math.nan)
        return row
    full_loss = lambda: F.cross_entropy(model(x), y)  # noqa: E731
    sub = torch.arange(min(cfg.curvature_subset, n))
    sub_loss = lambda: F.cross_entropy(model(x[sub]), y[sub])  # noqa: E731
    with torch.no_grad():
        row["train_loss"] = float(full_loss())
    row["failed"] = not row["train_loss"] < CHANCE_LOSS
    es = expected_sharpness(model, full_loss, delta=cfg.delta, n_samples=cfg.sharpness_samples,
                            seed=_seed(root_seed, seed_index, 5))
    tr = hessian_trace(model, sub_loss, n_samples=cfg.trace_samples, seed=_seed(root_seed, seed_index, 6))
    eig = top_hessian_eigenvalue(model, sub_loss, max_iter=cfg.eig_iterations, tol=1e-3,
                                 seed=_seed(root_seed, seed_index, 7))
    row.update(expected_sharpness=es.value, expected_sharpness_se=es.stderr, hessian_trace=tr.value,
               hessian_trace_se=tr.stderr, top_eigenvalue=eig.value)
    return row


def _worker(job: tuple) -> dict:
    import torch

    torch.set_num_threads(1)  # small ops: more threads are much slower (theory.md section 4)
    return train_one(*job)


# --------------------------------------------------------------------------------------------- reporting
CHANCE_LOSS = math.log(10.0)  # the training loss of a uniform prediction over the 10 classes
CURVATURE = ("expected_sharpness", "hessian_trace", "top_eigenvalue")
COLUMNS = [("test_accuracy", "test acc %", 100.0, "{:.1f}"), ("memorised", "memorised %", 100.0, "{:.1f}"),
           ("expected_sharpness", "exp. sharpness x1e3", 1e3, "{:.2f}"),
           ("hessian_trace", "Hessian trace", 1.0, "{:.1f}"), ("top_eigenvalue", "top eig.", 1.0, "{:.2f}")]
#: The paper's claim for the truncated heavy-tailed method, per metric: +1 higher than every baseline, -1 lower.
CLAIM = {"test_accuracy": +1, "expected_sharpness": -1, "hessian_trace": -1, "top_eigenvalue": -1}


def _metric(rows: list[dict], key: str) -> np.ndarray:
    """Finite values of ``key`` (sharpness metrics leave failed runs out)."""
    v = np.array([r[key] for r in rows if not (key in CURVATURE and r["failed"])], dtype=float)
    return v[np.isfinite(v)]


def summarise(rows: list[dict], methods: list[Method]) -> list[dict]:
    """Mean, standard deviation and standard error over seeds of every metric, per task and method.

    A run has *failed* if its weights diverged (non-finite) or its final training loss is no better than
    chance (``>= ln 10``). Accuracies include failed runs; sharpness metrics leave them out (the sharpness of
    a point that is not a minimum means nothing).
    """
    out = []
    for task in dict.fromkeys(r.get("task", "mnist1d") for r in rows):
        for m in methods:
            rs = [r for r in rows if r["method"] == m.name and r.get("task", "mnist1d") == task]
            s: dict[str, Any] = {"task": task, "method": m.name, "runs": len(rs),
                                 "failed": sum(r["failed"] for r in rs), "diverged": sum(r["diverged"] for r in rs)}
            for key in ("test_accuracy", "memorised", *CURVATURE, "clipped_fraction", "train_seconds"):
                v = _metric(rs, key)
                s[key + "_mean"] = float(v.mean()) if v.size else math.nan
                s[key + "_std"] = float(v.std(ddof=1)) if v.size > 1 else (0.0 if v.size else math.nan)
                s[key + "_se"] = s[key + "_std"] / math.sqrt(v.size) if v.size else math.nan
            out.append(s)
    return out


def ordering_tests(rows: list[dict], methods: list[Method]) -> list[dict]:
    """Paired t-tests over seeds of the claimed method against each other method, per task and metric.

    The difference ``claimed - other`` is taken seed by seed (same initial weights and batch order), signed so
    that positive means "as the paper claims"; ``verdict`` is "as claimed" / "opposite" when the two-sided
    95% t-test rejects no difference, else "not resolved".
    """
    from scipy import stats

    out = []
    for task in dict.fromkeys(r.get("task", "mnist1d") for r in rows):
        by = {(r["method"], r["seed"]): r for r in rows if r.get("task", "mnist1d") == task}
        for other in (m.name for m in methods if m.name != CLAIMED):
            for key, sign in CLAIM.items():
                d = []
                for (name, seed), r in by.items():
                    o = by.get((other, seed))
                    if name != CLAIMED or o is None or (key in CURVATURE and (r["failed"] or o["failed"])):
                        continue
                    if math.isfinite(r[key]) and math.isfinite(o[key]):
                        d.append(sign * (r[key] - o[key]))
                d = np.asarray(d)
                n = d.size
                mean = float(d.mean()) if n else math.nan
                se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
                t = mean / se if n > 1 and se > 0 else math.nan
                crit = float(stats.t.ppf(0.975, n - 1)) if n > 1 else math.nan
                verdict = ("as claimed" if t > crit else "opposite" if t < -crit else "not resolved") \
                    if math.isfinite(t) else "not resolved"
                out.append({"task": task, "versus": other, "metric": key,
                            "claim": "higher" if sign > 0 else "lower", "seeds": n, "difference": sign * mean,
                            "stderr": se, "t": t, "t_critical": crit, "verdict": verdict})
    return out


def _table_rows(summary: list[dict], task: str) -> list[list[str]]:
    rows = []
    for s in (s for s in summary if s["task"] == task):
        cells = [s["method"]]
        for key, _, factor, fmt in COLUMNS:
            mu, se = s[key + "_mean"], s[key + "_se"]
            cells.append("-" if not math.isfinite(mu) else f"{fmt.format(mu * factor)} ± {fmt.format(se * factor)}")
        cf = s["clipped_fraction_mean"]
        cells += ["-" if not math.isfinite(cf) else f"{100 * cf:.0f}", f"{s['failed']}/{s['runs']}",
                  f"{s['train_seconds_mean']:.1f}"]
        rows.append(cells)
    return rows


def format_table(summary: list[dict], task: str | None = None) -> str:
    """The summary of one task as a plain-text table (mean ± standard error over seeds)."""
    task = summary[0]["task"] if task is None else task
    head = ["method", *(c[1] for c in COLUMNS), "clipped %", "failed", "sec/model"]
    return C.format_table(head, _table_rows(summary, task))


def _tick(name: str) -> str:
    label = name.replace(", ", ",\n").replace(" + ", "\n+ ")
    return label if "\n" in label else label.replace(" ", "\n", 1)


def plot(rows: list[dict], methods: list[Method], path: Path, title: str, smoke: bool = False) -> None:
    """Per task, three panels: test accuracy, expected sharpness, memorised labels (seeds and mean ± s.e.)."""
    plt = C.pyplot()
    tasks = list(dict.fromkeys(r.get("task", "mnist1d") for r in rows))
    panels = [("test_accuracy", "test accuracy (%)", 100.0), ("expected_sharpness", "expected sharpness", 1.0),
              ("memorised", "corrupted labels memorised (%)", 100.0)]
    with plt.rc_context(C.RC):
        fig, axes = plt.subplots(len(tasks), 3, figsize=(13, 3.9 * len(tasks)), squeeze=False)
        for row_axes, task in zip(axes, tasks):
            trs = [r for r in rows if r.get("task", "mnist1d") == task]
            for ax, (key, label, factor) in zip(row_axes, panels):
                for i, m in enumerate(methods):
                    ok = _metric([r for r in trs if r["method"] == m.name], key) * factor
                    ax.scatter(np.full(ok.size, i) + np.linspace(-0.12, 0.12, ok.size) if ok.size else [], ok,
                               s=14, alpha=0.6, color=f"C{i}")
                    if ok.size:
                        ax.errorbar(i + 0.25, ok.mean(), yerr=ok.std(ddof=1) / math.sqrt(ok.size) if ok.size > 1
                                    else 0, fmt="o", color=f"C{i}")
                    n_fail = sum(r["failed"] for r in trs if r["method"] == m.name)
                    if n_fail:
                        ax.annotate(f"{n_fail} failed", (i, 0.02), xycoords=("data", "axes fraction"), ha="center",
                                    fontsize=7, color="red")
                ax.set_xticks(range(len(methods)))
                ax.set_xticklabels([_tick(m.name) for m in methods], fontsize=7)
                ax.set_ylabel(label)
                ax.set_title(f"{task}: {label}", loc="left")
                if smoke:
                    ax.text(0.5, 0.5, "SMOKE RUN\ntoo short to\ncompare methods", transform=ax.transAxes,
                            ha="center", va="center", fontsize=15, color="red", alpha=0.25, rotation=20)
        fig.suptitle(("SMOKE RUN (--quick), too short to compare methods. " if smoke else "") + title
                     + "\nseeds as dots; mean ± standard error beside them", fontsize=10,
                     color="red" if smoke else "black")
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)


# -------------------------------------------------------------------------------------------------- CLI
def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0 (inf: no truncation), got {text!r}")
    return v


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``htsgd reproduce deep-learning``: the common ones plus the training knobs."""
    C.add_common_arguments(parser, "deep-learning")
    parser.add_argument("--seeds", type=int, default=None, help="models per method (default 3; quick: 2)")
    parser.add_argument("--iterations", type=int, default=None, help="SGD steps per model (default 10000)")
    parser.add_argument("--truncation", type=_positive_float, default=0.5, help="step truncation b (default 0.5)")
    parser.add_argument("--task", choices=(*TASKS, "both"), default=None,
                        help="mnist1d, digits (scikit-learn's load_digits) or both (default: both; quick: mnist1d)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="worker processes, one thread each (default: --threads, else all cores; quick: 1)")


def config_from_args(args: argparse.Namespace) -> Config:
    """The training configuration of the parsed options (``SystemExit`` on an invalid one)."""
    cfg = Config(truncation=args.truncation)
    if args.quick:
        cfg.iterations, cfg.seeds = 200, 2
        cfg.sharpness_samples, cfg.trace_samples, cfg.eig_iterations, cfg.curvature_subset = 8, 4, 6, 500
    if args.iterations is not None:
        cfg.iterations = args.iterations
    if args.seeds is not None:
        cfg.seeds = args.seeds
    if cfg.iterations < 1 or cfg.seeds < 1 or args.seed < 0 or not cfg.truncation > 0:
        raise SystemExit("--iterations, --seeds and --truncation must be positive and --seed >= 0")
    for name in ("threads", "jobs"):
        if getattr(args, name, None) is not None and getattr(args, name) < 1:
            raise SystemExit(f"--{name} must be at least 1")
    cfg.check_every = min(cfg.check_every, cfg.iterations)
    cfg.methods = make_methods(cfg)
    return cfg


def _tasks(args: argparse.Namespace) -> list[str]:
    task = getattr(args, "task", None) or ("mnist1d" if args.quick else "both")
    return list(TASKS) if task == "both" else [task]


def main(args: argparse.Namespace) -> int:
    """Run the experiment; returns the process exit code."""
    cfg = config_from_args(args)
    threads = getattr(args, "threads", None)
    jobs = args.jobs if args.jobs is not None else threads if threads is not None else \
        (1 if args.quick else (os.cpu_count() or 1))
    out = C.output_dir(args)
    if args.quick:
        print(f"{SMOKE}: {cfg.iterations} steps per model (a full run takes {Config().iterations})", flush=True)
    start = time.perf_counter()
    tasks = []
    for task in _tasks(args):
        data = load_task(task, args.seed, cfg.corrupt_fraction)
        tasks += [(m, s, args.seed, cfg, data) for s in range(cfg.seeds) for m in cfg.methods]
    rows: list[dict] = []
    with C.progress(len(tasks), "deep-learning", args) as bar:
        if jobs <= 1:
            import torch

            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                for t in tasks:
                    rows.append(train_one(*t))
                    bar.update(1)
            finally:
                torch.set_num_threads(threads)
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
                for row in pool.map(_worker, tasks):
                    rows.append(row)
                    bar.update(1)
    elapsed = time.perf_counter() - start

    cfg_dict = asdict(cfg)
    cfg_dict["methods"] = [asdict(m) for m in cfg.methods]
    meta = {"seed": args.seed, "quick": bool(args.quick), "smoke_run": bool(args.quick), "jobs": jobs,
            "seconds": elapsed, "config": cfg_dict, "tasks": _tasks(args)}
    write_report(rows, cfg, meta, out)
    return 0


def full_run_estimate(rows: list[dict], cfg: Config, jobs: int) -> str:
    """Expected wall time of the default full run, from the measured cost per step of these runs."""
    full = Config()
    per_step = float(np.mean([r["train_cpu_seconds"] / max(r["steps"], 1) for r in rows]))
    n_models = len(TASKS) * len(full.methods or make_methods(full)) * full.seeds
    secs = per_step * full.iterations * n_models / max(jobs, 1)
    return (f"measured {1e3 * per_step:.2f} CPU-ms per training step (one torch thread, the large-batch reference "
            f"of the noisy methods included; evaluation not): the full run ({len(TASKS)} tasks x 5 methods x "
            f"{full.seeds} seeds x {full.iterations} steps) needs about {secs / 60:.0f} min of training on {jobs} "
            f"dedicated core(s), plus the sharpness evaluation")


def write_report(rows: list[dict], cfg: Config, meta: dict, out: Path) -> None:
    """Write runs.csv, table.csv, ordering.csv, summary.json and the plot; print the tables."""
    summary = summarise(rows, cfg.methods)
    ordering = ordering_tests(rows, cfg.methods) if cfg.seeds > 1 else []
    C.write_csv(out / "runs.csv", rows)
    C.write_csv(out / "table.csv", summary)
    if ordering:
        C.write_csv(out / "ordering.csv", ordering)
    estimate = full_run_estimate(rows, cfg, meta["jobs"])
    C.write_json(out / "summary.json", {"meta": {**meta, "full_run_estimate": estimate}, "summary": summary,
                                        "ordering": ordering, "runs": rows})
    smoke = bool(meta.get("smoke_run"))
    title = (f"{int(100 * cfg.corrupt_fraction)}% corrupted labels, {cfg.iterations} steps, "
             f"lr {cfg.lr}, b = {cfg.truncation}, {cfg.seeds} seeds")
    plot(rows, cfg.methods, out / "deep_learning.png", title, smoke=smoke)
    for task in dict.fromkeys(s["task"] for s in summary):
        print(f"\n{'[' + SMOKE + '] ' if smoke else ''}{task}: {title} (mean ± standard error over seeds)")
        print(format_table(summary, task))
    print(f"expected sharpness: delta = {cfg.delta}, {cfg.sharpness_samples} perturbations, full training set; "
          f"Hessian trace and top eigenvalue on {cfg.curvature_subset} training points")
    print("failed: weights diverged, or final training loss no better than chance (ln 10); failed runs count "
          "in the accuracies and are left out of the sharpness columns")
    if ordering:
        C.print_table(f"{'[' + SMOKE + '] ' if smoke else ''}the paper's claim, '{CLAIMED}' against each method: "
                      "paired t-test over seeds (difference = it - the other; t > 0 is the claimed direction; 95%)",
                      ["task", "versus", "metric", "claim", "seeds", "difference", "+-", "t", "verdict"],
                      [[o["task"], o["versus"], o["metric"], o["claim"], str(o["seeds"]), f"{o['difference']:.4g}",
                        f"{o['stderr']:.2g}", f"{o['t']:.2f}", o["verdict"]] for o in ordering])
        counts = {v: sum(o["verdict"] == v for o in ordering) for v in ("as claimed", "opposite", "not resolved")}
        print(f"claim verdicts: {counts['as claimed']} as claimed, {counts['opposite']} opposite, "
              f"{counts['not resolved']} not resolved (of {len(ordering)} comparisons)"
              + (f" -- {SMOKE}" if smoke else ""))
    print(estimate)
    jobs = meta["jobs"]
    print(f"{len(rows)} models in {meta['seconds']:.0f} s ({jobs} process{'es' if jobs > 1 else ''}); wrote {out}/")
