"""The command line's outputs and errors: --version, python -m htsgd, provenance in every file, strict JSON,
a bad --out refused before any computation, one-line errors with exit code 2."""
from __future__ import annotations

import csv
import json
import math
import subprocess
import sys

import pytest

import htsgd
from htsgd import _core, cli
from htsgd.reproduce import _common

FAST_DEMO = ["demo", "--lrs", "0.1", "0.05", "--particles", "50", "--seed", "3"]


def test_version_and_python_dash_m(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"htsgd {htsgd.__version__}"
    done = subprocess.run([sys.executable, "-m", "htsgd", "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == f"htsgd {htsgd.__version__}"


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("argv, message", [
    (["demo", "--truncation", "1.0"], "htsgd: error: Invalid truncation: 1.0; expected r/truncation not an integer"),
    (["demo", "--lrs", "1e-300"], "htsgd: error: Invalid lrs: 1e-300; expected learning rates whose predicted"),
    (["demo", "--lrs", "5e-324"], "htsgd: error: Invalid lrs: 5e-324"),
    (["demo", "--alpha", "1.0"], "htsgd: error: Invalid alpha: 1.0; expected 1 < alpha"),
    (["demo", "--particles", "0"], "htsgd: error: Invalid particles: 0"),
])
def test_demo_errors_name_the_option(argv, message, capsys):
    assert cli.main(argv) == 2
    assert _error_line(capsys).startswith(message)


def test_unusable_out_is_refused_before_any_compute(tmp_path, capsys, monkeypatch):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    ran = []
    monkeypatch.setattr("htsgd.demo.HeavyTailedSGD", lambda *a, **k: ran.append(1))
    for out, reason in ((a_file, "is a file, not a directory"), (a_file / "sub", "cannot be used")):
        for argv in (["demo", "--out", str(out)], ["reproduce", "exit-times", "--quick", "--out", str(out)],
                     ["reproduce", "sharp-minima", "--quick", "--out", str(out)]):
            assert cli.main(argv) == 2, argv
            line = _error_line(capsys)
            assert line.startswith(f"htsgd: error: Invalid --out: {str(out)!r} {reason}"), line
    assert not ran


def test_unexpected_failures_are_one_line_too(capsys, monkeypatch):
    def boom(args):
        raise ZeroDivisionError("float division by zero")
    monkeypatch.setattr("htsgd.demo.main", boom)
    assert cli.main(["demo"]) == 2
    assert _error_line(capsys) == "htsgd: error: ZeroDivisionError: float division by zero"
    monkeypatch.setenv("HTSGD_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        cli.main(["demo"])


def _check_provenance(prov, argv):
    assert prov["htsgd_version"] == htsgd.__version__
    assert prov["isa"] == _core.active_isa()
    assert str(prov["seed"]) == "3"
    assert prov["command"] == "htsgd " + " ".join(argv)


def test_demo_out_writes_files_with_provenance(tmp_path, capsys):
    argv = FAST_DEMO + ["--out", str(tmp_path / "d")]
    assert cli.main(argv) == 0
    data = json.loads((tmp_path / "d" / "demo.json").read_text())
    _check_provenance(data["provenance"], argv)
    assert [r["lr"] for r in data["records"]] == [0.1, 0.05] and data["slope_theory"] == -1.5
    with open(tmp_path / "d" / "demo.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 and list(rows[0])[:4] == ["htsgd_version", "isa", "seed", "command"]
    for row in rows:
        _check_provenance(row, argv)
        assert float(row["mean_exit_steps"]) > 0


def test_json_is_strict(tmp_path):
    _common.write_json(tmp_path / "x.json", {"nan": math.nan, "inf": [math.inf, -math.inf], "ok": 1.5})
    text = (tmp_path / "x.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert data["nan"] is None and data["inf"] == ["inf", "-inf"] and data["ok"] == 1.5
    assert set(data["provenance"]) >= {"htsgd_version", "isa", "seed", "command"}


def test_reproduce_files_record_provenance(tmp_path, monkeypatch, capsys):
    from htsgd.reproduce import exit_times

    monkeypatch.setattr(exit_times, "REGIMES", [("l*=1", 1.5, (0.04, 0.02), 50, (0.04, 0.02), 50)])
    argv = ["reproduce", "exit-times", "--quick", "--no-progress", "--seed", "3", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    _check_provenance(json.loads((tmp_path / "exit_times.json").read_text())["provenance"], argv)
    with open(tmp_path / "exit_times.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all(_check_provenance(r, argv) is None for r in rows)


@pytest.mark.parametrize("argv, message", [
    (["demo", "--lrs", "1e-300"], "htsgd: error: Invalid lrs: 1e-300"),
    (["demo", "--truncation", "1.0"], "htsgd: error: Invalid truncation: 1.0"),
    (["demo", "--out", "/dev/null"], "htsgd: error: Invalid --out: '/dev/null' is a file"),
])
def test_python_dash_m_errors_are_one_line_exit_2(argv, message):
    done = subprocess.run([sys.executable, "-m", "htsgd", *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and done.stderr.startswith(message)
