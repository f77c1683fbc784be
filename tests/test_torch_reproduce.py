"""Smoke test of ``htsgd reproduce deep-learning --quick`` (via its ``main``)."""
import argparse
import csv
import json
import math

import pytest

pytest.importorskip("torch")
pytest.importorskip("mnist1d")

from htsgd.reproduce import deep_learning as dl  # noqa: E402
from stats_helpers import assert_above, binomial_sigma  # noqa: E402


def test_quick_run_writes_a_sane_table(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    dl.add_arguments(parser)
    args = parser.parse_args(["--quick", "--out", str(tmp_path), "--seed", "1"])
    assert dl.main(args) == 0

    printed = capsys.readouterr().out
    with open(tmp_path / "table.csv") as f:
        table = {row["method"]: row for row in csv.DictReader(f)}
    assert list(table) == dl.METHODS
    for name in dl.METHODS:
        assert name in printed
    for name, row in table.items():
        assert int(row["runs"]) == 2
        acc = float(row["test_accuracy_mean"])
        assert 0.0 <= acc <= 1.0
        if int(row["diverged"]) == 0:
            assert float(row["expected_sharpness_mean"]) >= 0.0
            assert math.isfinite(float(row["hessian_trace_mean"]))
    # both methods learn something in a few hundred steps: the test accuracy (1000 test sequences) is resolved
    # above chance, 10%, by the binomial band of a guessing classifier
    for name in ("SGD small batch", "heavy-tailed + truncation"):
        acc = float(table[name]["test_accuracy_mean"])
        assert_above(acc, binomial_sigma(0.1, 1000), 0.1, what=f"{name} test accuracy vs chance")
    with open(tmp_path / "summary.json") as f:
        summary = json.load(f)
    assert len(summary["runs"]) == 2 * len(dl.METHODS) and summary["meta"]["quick"] is True
    assert (tmp_path / "deep_learning.png").stat().st_size > 10_000


def test_corrupted_labels_are_always_wrong():
    data = dl.make_data(0, 0.1, num_samples=1000)
    bad = data["corrupted"]
    assert len(bad) == round(0.1 * len(data["y"]))
    assert (data["y"][bad] != data["y_clean"][bad]).all()
    keep = [i for i in range(len(data["y"])) if i not in set(bad.tolist())]
    assert (data["y"][keep] == data["y_clean"][keep]).all()


def test_model_size_and_options():
    assert sum(p.numel() for p in dl.make_model(0).parameters()) == 8242
    parser = argparse.ArgumentParser()
    dl.add_arguments(parser)
    with pytest.raises(SystemExit):
        dl.config_from_args(parser.parse_args(["--iterations", "0"]))


def _small_config(**kw):
    return dl.Config(sharpness_samples=2, trace_samples=2, eig_iterations=2, curvature_subset=100, **kw)


def test_clipped_fraction_counts_the_steps_taken_when_training_diverges():
    data = dl.make_data(0, 0.1, num_samples=1000)
    # a huge learning rate: the first step is clipped (|lr d| > b), then the weights overflow to NaN
    cfg = _small_config(iterations=20, lr=1e15, truncation=1e12, check_every=4)
    row = dl.train_one(dl.Method("clip", truncation=cfg.truncation), 0, 0, cfg, data)
    assert row["diverged"] and row["steps"] == 4 < cfg.iterations
    clipped = row["clipped_fraction"] * row["steps"]
    assert clipped >= 1 and clipped == pytest.approx(round(clipped))


@pytest.mark.parametrize("noise", [False, True])
def test_infinite_truncation_runs(noise):
    # HeavyTailedSGD treats b = inf as no truncation: last_step_norm is None, nothing is clipped
    data = dl.make_data(0, 0.1, num_samples=1000)
    cfg = _small_config(iterations=5, check_every=5)
    row = dl.train_one(dl.Method("inf", noise=noise, truncation=math.inf), 0, 0, cfg, data)
    assert row["clipped_fraction"] == 0.0 and row["steps"] == 5


def test_common_options(tmp_path):
    parser = argparse.ArgumentParser()
    dl.add_arguments(parser)
    args = parser.parse_args([])
    assert args.seed == 2022 and args.threads is None and args.no_progress is False  # as the other commands
    for bad in (["--threads", "0"], ["--jobs", "0"]):
        with pytest.raises(SystemExit):
            dl.config_from_args(parser.parse_args(bad))
    args = parser.parse_args(["--quick", "--iterations", "3", "--seeds", "1", "--threads", "1", "--no-progress",
                              "--truncation", "inf", "--out", str(tmp_path)])
    assert dl.main(args) == 0
    with open(tmp_path / "table.csv") as f:
        table = {row["method"]: row for row in csv.DictReader(f)}
    assert float(table["SGD + clipping"]["clipped_fraction_mean"]) == 0.0
