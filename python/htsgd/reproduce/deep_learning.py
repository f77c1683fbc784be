"""Deep learning with corrupted labels: truncated heavy-tailed SGD against SGD baselines (MNIST-1D, CPU).

A small version of section 4 of Wang, Oh & Rhee (ICLR 2022). Data: MNIST-1D (Greydanus 2020), generated
locally by the PyPI package ``mnist1d`` (4000 training and 1000 test sequences of length 40, nothing is
downloaded); a fraction of the training labels (10% by default) is changed to another class. Model: a 1-D
CNN with about 8k parameters. Methods (all plain SGD steps with ``lr`` 0.1, no momentum):

- ``SGD small batch``: batch 20;
- ``SGD large batch``: batch 200;
- ``SGD + clipping``: batch 20, the step truncated at ``b`` (global norm), no noise;
- ``heavy-tailed, no truncation``: the paper's multiplicative noise ``g_LB + Z (g_SB - g_LB)`` with a
  symmetric Lomax multiplier ``Z`` (alpha 1.4, scale 1), ``g_LB`` a batch-200 gradient at every step;
- ``heavy-tailed + truncation``: the same, the step truncated at ``b``.

For each method and seed: test accuracy, how many corrupted training labels were memorised, and the
sharpness of the final weights on the training set (the paper's expected sharpness
``E |L(theta + nu) - L(theta)|``, ``nu ~ N(0, delta^2 I)``; also the Hessian trace and top eigenvalue on a
training subset). Writes ``runs.csv``, ``table.csv``, ``summary.json`` and ``deep_learning.png``.
Needs ``pip install "htsgd[torch]"`` (torch and mnist1d).
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

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


# ---------------------------------------------------------------------------------------------------- data
def make_data(seed: int, corrupt_fraction: float, num_samples: int = 5000) -> dict[str, np.ndarray]:
    """MNIST-1D generated locally (the package's own seed 42 template), labels corrupted with ``seed``."""
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as exc:  # pragma: no cover - the torch extra installs it
        raise SystemExit("htsgd reproduce deep-learning needs mnist1d: pip install 'htsgd[torch]'") from exc
    np_state, py_state = np.random.get_state(), random.getstate()  # mnist1d reseeds the global RNGs
    try:
        args = get_dataset_args()
        args.num_samples = num_samples
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    x, y = data["x"].astype(np.float32), data["y"].astype(np.int64)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xDA7A,)))
    n_bad = int(round(corrupt_fraction * len(y)))
    bad = np.sort(rng.choice(len(y), size=n_bad, replace=False))
    y_noisy = y.copy()
    y_noisy[bad] = (y[bad] + rng.integers(1, 10, size=n_bad)) % 10  # always another class
    return {"x": x, "y": y_noisy, "y_clean": y, "corrupted": bad,
            "x_test": data["x_test"].astype(np.float32), "y_test": data["y_test"].astype(np.int64)}


# --------------------------------------------------------------------------------------------------- model
def make_model(seed: int):
    """1-D CNN, 8,242 parameters, initialised from its own generator."""
    import torch
    from torch import nn

    model = nn.Sequential(
        nn.Unflatten(1, (1, 40)),
        nn.Conv1d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(16, 16, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
        nn.Flatten(), nn.Linear(160, 40), nn.ReLU(), nn.Linear(40, 10),
    )
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv1d, nn.Linear)):
                bound = 1.0 / math.sqrt(m.weight[0].numel())  # torch's default init, from our generator
                m.weight.uniform_(-bound, bound, generator=g)
                m.bias.uniform_(-bound, bound, generator=g)
    return model


def _seed(root: int, *ids: int) -> int:
    return int(np.random.SeedSequence(root, spawn_key=ids).generate_state(1, dtype=np.uint64)[0] >> 1)


# --------------------------------------------------------------------------------------------------- a run
def train_one(method: Method, seed_index: int, root_seed: int, cfg: Config, data: dict[str, np.ndarray]) -> dict:
    """Train one model with one method and evaluate it; returns a row of the runs table."""
    import torch
    import torch.nn.functional as F

    from htsgd.torch import HeavyTailedSGD, expected_sharpness, hessian_trace, top_hessian_eigenvalue

    start = time.perf_counter()
    x, y = torch.from_numpy(data["x"]), torch.from_numpy(data["y"])
    x_test, y_test = torch.from_numpy(data["x_test"]), torch.from_numpy(data["y_test"])
    model = make_model(_seed(root_seed, seed_index, 1))  # the same initial weights for every method
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

    model.eval()
    with torch.no_grad():
        finite = all(torch.isfinite(p).all() for p in model.parameters())
        pred_test = model(x_test).argmax(1)
        pred_train = model(x).argmax(1)
    corrupted = torch.from_numpy(data["corrupted"])
    clean = torch.ones(n, dtype=torch.bool)
    clean[corrupted] = False
    row: dict[str, Any] = {
        "method": method.name, "seed": seed_index,
        "test_accuracy": float((pred_test == y_test).double().mean()),
        "train_accuracy_clean": float((pred_train[clean] == y[clean]).double().mean()),
        "memorised": float((pred_train[corrupted] == y[corrupted]).double().mean()),
        "diverged": not finite or diverged_at is not None,
        "failed": True,
        "clipped_fraction": (float(clipped) / steps) if method.truncation is not None else math.nan,
        "steps": steps,  # fewer than cfg.iterations if the weights diverged
        "train_seconds": train_seconds,
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
COLUMNS = [("test_accuracy", "test acc", 100.0, "{:.1f}"), ("memorised", "memorised", 100.0, "{:.1f}"),
           ("expected_sharpness", "exp. sharpness", 1e3, "{:.2f}"), ("hessian_trace", "Hessian trace", 1.0, "{:.1f}"),
           ("top_eigenvalue", "top eig.", 1.0, "{:.2f}")]


def summarise(rows: list[dict], methods: list[Method]) -> list[dict]:
    """Mean and standard deviation over seeds of every metric, per method.

    A run has *failed* if its weights diverged (non-finite) or its final training loss is no better than
    chance (``>= ln 10``). Accuracies include failed runs; sharpness metrics leave them out (the sharpness of
    a point that is not a minimum means nothing).
    """
    out = []
    for m in methods:
        rs = [r for r in rows if r["method"] == m.name]
        s: dict[str, Any] = {"method": m.name, "runs": len(rs), "failed": sum(r["failed"] for r in rs),
                             "diverged": sum(r["diverged"] for r in rs)}
        for key in ("test_accuracy", "memorised", "expected_sharpness", "hessian_trace", "top_eigenvalue",
                    "clipped_fraction", "train_seconds"):
            v = np.array([r[key] for r in rs if not (key in CURVATURE and r["failed"])], dtype=float)
            v = v[np.isfinite(v)]
            s[key + "_mean"] = float(v.mean()) if v.size else math.nan
            s[key + "_std"] = float(v.std(ddof=1)) if v.size > 1 else (0.0 if v.size else math.nan)
        out.append(s)
    return out


def format_table(summary: list[dict]) -> str:
    head = ["method", "test acc %", "memorised %", "exp. sharpness x1e3", "Hessian trace", "top eig.",
            "clipped %", "failed"]
    lines = []
    for s in summary:
        cells = [s["method"]]
        for key, _, factor, fmt in COLUMNS:
            mu, sd = s[key + "_mean"], s[key + "_std"]
            cells.append("-" if not math.isfinite(mu) else f"{fmt.format(mu * factor)} ± {fmt.format(sd * factor)}")
        cf = s["clipped_fraction_mean"]
        cells.append("-" if not math.isfinite(cf) else f"{100 * cf:.0f}")
        cells.append(f"{s['failed']}/{s['runs']}")
        lines.append(cells)
    widths = [max(len(r[i]) for r in [head] + lines) for i in range(len(head))]
    fmt_row = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([fmt_row(head), "  ".join("-" * w for w in widths)] + [fmt_row(r) for r in lines])


def _tick(name: str) -> str:
    label = name.replace(", ", ",\n").replace(" + ", "\n+ ")
    return label if "\n" in label else label.replace(" ", "\n", 1)


def plot(rows: list[dict], methods: list[Method], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    panels = [("test_accuracy", "test accuracy (%)", 100.0), ("expected_sharpness", "expected sharpness", 1.0),
              ("memorised", "corrupted labels memorised (%)", 100.0)]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    for ax, (key, label, factor) in zip(axes, panels):
        for i, m in enumerate(methods):
            v = np.array([r[key] for r in rows if r["method"] == m.name and not (key in CURVATURE and r["failed"])],
                         dtype=float) * factor
            ok = v[np.isfinite(v)]
            ax.scatter(np.full(ok.size, i) + np.linspace(-0.12, 0.12, ok.size) if ok.size else [], ok,
                       s=14, alpha=0.6, color=f"C{i}")
            if ok.size:
                ax.errorbar(i + 0.25, ok.mean(), yerr=ok.std(ddof=1) if ok.size > 1 else 0, fmt="o",
                            color=f"C{i}", capsize=3)
            n_fail = sum(r["failed"] for r in rows if r["method"] == m.name)
            if n_fail:
                ax.annotate(f"{n_fail} failed", (i, 0.02), xycoords=("data", "axes fraction"), ha="center",
                            fontsize=7, color="red")
        ax.set_xticks(range(len(methods)))
        ax.set_xticklabels([_tick(m.name) for m in methods], fontsize=7)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# -------------------------------------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``htsgd reproduce deep-learning``."""
    parser.add_argument("--quick", action="store_true", help="a smoke run in seconds (CI): few iterations")
    parser.add_argument("--out", type=Path, default=Path("htsgd-out/deep-learning"), help="output folder")
    parser.add_argument("--seed", type=int, default=2022,
                        help="root seed (data corruption, weights, noise; default 2022)")
    parser.add_argument("--seeds", type=int, default=None, help="models per method (default 3; quick: 2)")
    parser.add_argument("--iterations", type=int, default=None, help="SGD steps per model (default 10000)")
    parser.add_argument("--truncation", type=float, default=0.5, help="step truncation b (default 0.5)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads: worker processes of one thread each, unless --jobs says otherwise "
                             "(default: all cores; quick: 1)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="worker processes, one thread each (default: --threads)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def config_from_args(args: argparse.Namespace) -> Config:
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


def main(args: argparse.Namespace) -> int:
    """Run the experiment; returns the process exit code."""
    from tqdm import tqdm

    cfg = config_from_args(args)
    threads = getattr(args, "threads", None)
    jobs = args.jobs if args.jobs is not None else threads if threads is not None else \
        (1 if args.quick else (os.cpu_count() or 1))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    data = make_data(args.seed, cfg.corrupt_fraction)
    tasks = [(m, s, args.seed, cfg, data) for s in range(cfg.seeds) for m in cfg.methods]
    rows: list[dict] = []
    bar = tqdm(total=len(tasks), desc="deep-learning", unit="model",
               disable=True if getattr(args, "no_progress", False) else None, file=sys.stderr)
    if jobs <= 1:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for t in tasks:
                rows.append(train_one(*t))
                bar.update()
        finally:
            torch.set_num_threads(threads)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
            for row in pool.map(_worker, tasks):
                rows.append(row)
                bar.update()
    bar.close()
    elapsed = time.perf_counter() - start

    cfg_dict = asdict(cfg)
    cfg_dict["methods"] = [asdict(m) for m in cfg.methods]
    meta = {"seed": args.seed, "quick": bool(args.quick), "jobs": jobs, "seconds": elapsed, "config": cfg_dict,
            "data": {"train": int(len(data["y"])), "test": int(len(data["y_test"])),
                     "corrupted": int(len(data["corrupted"]))}}
    write_report(rows, cfg, meta, out)
    return 0


def write_report(rows: list[dict], cfg: Config, meta: dict, out: Path) -> None:
    """Write runs.csv, table.csv, summary.json and the plot; print the table."""
    summary = summarise(rows, cfg.methods)
    fields = list(rows[0])
    with open(out / "runs.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    with open(out / "table.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(summary[0]))
        w.writeheader()
        w.writerows(summary)
    with open(out / "summary.json", "w") as f:
        json.dump({"meta": meta, "summary": summary, "runs": rows}, f, indent=1, default=float)
    title = (f"MNIST-1D, {int(100 * cfg.corrupt_fraction)}% corrupted labels, {cfg.iterations} steps, "
             f"lr {cfg.lr}, b = {cfg.truncation}, {cfg.seeds} seeds")
    plot(rows, cfg.methods, out / "deep_learning.png", title)
    print(title)
    print(format_table(summary))
    print(f"expected sharpness: delta = {cfg.delta}, {cfg.sharpness_samples} perturbations, full training set; "
          f"Hessian trace and top eigenvalue on {cfg.curvature_subset} training points")
    print("failed: weights diverged, or final training loss no better than chance (ln 10); failed runs count "
          "in the accuracies and are left out of the sharpness columns")
    jobs = meta["jobs"]
    print(f"{len(rows)} models in {meta['seconds']:.0f} s ({jobs} process{'es' if jobs > 1 else ''}); wrote {out}/")
