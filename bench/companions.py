"""The rare-event and torch-optimizer benchmarks, run as subprocesses by bench/run.py (their own output is
shown, and the figures with goals are read from it).

``bench/bench_rare_event.py``: seconds of importance sampling to 10% relative error of p ~ 1e-12 (the
median CPU seconds per thread is the idle-machine figure; goal <= 0.4 s on 2 cores).
``bench/bench_torch_optimizer.py``: median ratio, within a round, of a ``htsgd.torch.HeavyTailedSGD`` step
to ``torch.optim.SGD`` + ``clip_grad_norm_`` (goals: additive <= 2.0x, multiplicative <= 1.3x).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RARE_EVENT_GOAL_S = 0.4
TORCH_GOALS = {"additive": 2.0, "multiplicative": 1.3}


def skipped(out: str) -> bool:
    """The companion could not run here (torch not installed)."""
    return "No module named 'torch'" in out


def _run(script: str, args: list[str], timeout: float) -> tuple[int, str]:
    try:
        proc = subprocess.run([sys.executable, os.path.join(HERE, script), *args], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, f"{script}: timed out after {timeout:.0f} s"
    return proc.returncode, proc.stdout + proc.stderr


def _median_after(marker: str, text: str) -> float | None:
    """The first 'median X' after ``marker`` (case-insensitive) on a line of ``text``."""
    for ln in text.splitlines():
        at = ln.lower().find(marker)
        if at >= 0:
            m = re.search(r"median\s+([0-9.]+)", ln[at:])
            if m:
                return float(m.group(1))
    return None


def rare_event(threads: int, repeat: int, timeout: float = 300) -> tuple[int, str, list[tuple]]:
    """Run bench_rare_event.py; returns its exit status, its output and rows (name, wall figure, CPU figure,
    goal, direction)."""
    rc, out = _run("bench_rare_event.py", ["--repeat", str(repeat), "--threads", str(threads)], timeout)
    wall, cpu = _median_after("wall seconds", out), _median_after("cpu seconds per thread", out)
    if rc != 0 or wall is None:
        out += f"\n(exit status {rc}; figures not read)"
    return rc, out, [("rare event s to 10% rel. error", wall, cpu, RARE_EVENT_GOAL_S, "<=")]


def torch_optimizer(rounds: int, timeout: float = 300) -> tuple[int, str, list[tuple]]:
    """Run bench_torch_optimizer.py; its exit status (0 when torch is missing: skipped), output and rows (name,
    median ratio to SGD + clip, or the ratio of best times where the baseline ran slow, None, goal, direction)
    for every additive (except the pure-torch sampler) and multiplicative variant of its table."""
    rc, out = _run("bench_torch_optimizer.py", ["--rounds", str(rounds)], timeout)
    rows = []
    # a baseline that ran slow in most rounds (its warning line) makes the medians understate: then the ratio
    # of the best times is the figure
    slow_baseline = "warning: the SGD + clip baseline" in out
    for ln in out.splitlines():
        name = ln[:38].strip()
        if not name.startswith("htsgd:") or "torch sampler" in name or "float64 variates" in name:  # references
            continue
        kind = next((k for k in TORCH_GOALS if k in name), None)
        numbers = re.findall(r"(?<![\w.])-?\d+\.\d+", ln[38:])
        if kind and len(numbers) >= 3:
            label = f"torch {name[7:]} / SGD+clip" + (" (best)" if slow_baseline else "")
            rows.append((label, float(numbers[-2 if slow_baseline else -3]), None, TORCH_GOALS[kind], "<="))
    if skipped(out):
        return 0, "torch is not installed: skipped (pip install 'htsgd[torch]')", rows
    if rc != 0 or not rows:
        out += f"\n(exit status {rc}; figures not read)"
        rows = rows or [("torch optimizer / SGD+clip", None, None, TORCH_GOALS["additive"], "<=")]
    return rc, out, rows
