"""The convergence studies of the reproductions, and the deep-learning report (smoke label, claim tests, digits)."""
import argparse
import json
import math

import numpy as np
import pytest

from htsgd.reproduce import convergence as V
from htsgd.reproduce import exit_times


def test_exit_time_study_reaches_the_constant_for_one_jump(tmp_path, monkeypatch, capsys):
    # a small study: l* = 1 only, scale 0.1 (direct and importance: the overlap) and scale 0.001
    monkeypatch.setattr(exit_times, "REGIMES", [("l*=1", 1.5, (0.04, 0.02), 50, (0.04, 0.02), 50)])
    monkeypatch.setattr(exit_times, "STUDY", [("l*=1", 1.5, (8000, 8000), (5.0, 20.0))])
    monkeypatch.setattr(exit_times, "LRS_QUICK", ())
    monkeypatch.setattr(exit_times, "SCALES_QUICK", (0.1, 0.001))
    parser = argparse.ArgumentParser()
    exit_times.add_arguments(parser)
    assert exit_times.main(parser.parse_args(["--quick", "--no-progress", "--out", str(tmp_path)])) == 0
    assert "ratio" in capsys.readouterr().out
    pts = json.loads((tmp_path / "exit_times.json").read_text())["convergence"]["points"]
    at = {(p["scale"], p["method"]): p for p in pts}
    assert set(at) == {(0.1, "importance"), (0.1, "direct"), (0.001, "importance")}
    # the overlap: the two estimators agree (z-test of two independent estimates)
    a, b = at[0.1, "importance"], at[0.1, "direct"]
    assert abs(a["ratio"] - b["ratio"]) <= 3 * math.hypot(a["ratio_stderr"], b["ratio_stderr"])
    # pre-asymptotic at scale 0.1 (ratio about 0.9), the constant at scale 0.001
    far, near = at[0.1, "importance"], at[0.001, "importance"]
    assert far["ratio"] < 1 - 3 * far["ratio_stderr"]
    assert abs(near["ratio"] - 1) <= 3 * near["ratio_stderr"]
    assert (tmp_path / "exit_times_convergence.csv").exists()


def test_fit_gap_recovers_a_known_exponent():
    rng = np.random.default_rng(0)
    ind = np.geomspace(1e-2, 1e-5, 8)
    gap = 3.0 * ind ** 0.4
    se = 0.01 * np.ones_like(ind)
    ratio = 1.0 - gap + se * rng.standard_normal(ind.size)
    f = V.fit_gap(ind, ratio, se)
    assert f["points"] >= 3
    assert abs(f["gamma"] - 0.4) <= 3 * f["gamma_stderr"], f


def test_fit_gap_needs_three_resolved_points():
    f = V.fit_gap([1e-2, 1e-3, 1e-4], [0.5, 0.99, 1.01], [0.02, 0.02, 0.02])
    assert f["points"] == 1 and math.isnan(f["gamma"])


torch = pytest.importorskip("torch")
dl = pytest.importorskip("htsgd.reproduce.deep_learning")


def _row(method, seed, acc, sharp, task="mnist1d"):
    return {"task": task, "method": method, "seed": seed, "test_accuracy": acc, "memorised": 0.1,
            "expected_sharpness": sharp, "hessian_trace": 10 * sharp, "top_eigenvalue": sharp, "failed": False,
            "diverged": False, "clipped_fraction": math.nan, "steps": 10, "train_seconds": 1.0,
            "train_cpu_seconds": 1.0}


def test_ordering_verdicts_follow_paired_differences():
    cfg = dl.Config()
    methods = dl.make_methods(cfg)
    rows = []
    for s in range(4):
        for m in methods:
            better = m.name == dl.CLAIMED
            # the claimed method: clearly higher accuracy; sharpness equal up to seed noise
            acc = 0.7 + 0.01 * s if better else 0.6 + 0.003 * s
            rows.append(_row(m.name, s, acc, 1.0 + 0.01 * ((s + better) % 3)))
    out = dl.ordering_tests(rows, methods)
    acc = [o for o in out if o["metric"] == "test_accuracy"]
    assert len(acc) == 4 and all(o["verdict"] == "as claimed" for o in acc)
    assert all(o["verdict"] == "not resolved" for o in out if o["metric"] == "expected_sharpness")
    flipped = [{**r, "test_accuracy": 1 - r["test_accuracy"]} for r in rows]
    assert all(o["verdict"] == "opposite" for o in dl.ordering_tests(flipped, methods)
               if o["metric"] == "test_accuracy")


def test_smoke_run_is_labelled(tmp_path, capsys):
    cfg = dl.Config(iterations=200, seeds=2)
    cfg.methods = dl.make_methods(cfg)
    rows = [_row(m.name, s, 0.3, 1.0 + 0.1 * s) for s in range(2) for m in cfg.methods]
    meta = {"jobs": 1, "seconds": 1.0, "smoke_run": True, "quick": True}
    dl.write_report(rows, cfg, meta, tmp_path)
    out = capsys.readouterr().out
    assert "too short to compare methods" in out and "claim verdicts" in out
    assert (tmp_path / "deep_learning.png").stat().st_size > 10_000


def test_digits_task():
    pytest.importorskip("sklearn")
    data = dl.make_digits(0, 0.1)
    assert data["x"].shape == (1297, 64) and data["x_test"].shape == (500, 64)
    bad = data["corrupted"]
    assert len(bad) == round(0.1 * 1297) and (data["y"][bad] != data["y_clean"][bad]).all()
    assert sum(p.numel() for p in dl.make_model(0, "digits").parameters()) == 8714
    cfg = dl.Config(iterations=30, sharpness_samples=2, trace_samples=2, eig_iterations=2, curvature_subset=100)
    row = dl.train_one(dl.make_methods(cfg)[-1], 0, 0, cfg, data)
    assert row["task"] == "digits" and 0.0 <= row["test_accuracy"] <= 1.0 and row["steps"] == 30
