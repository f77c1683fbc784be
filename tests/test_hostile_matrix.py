"""The hostile-input matrix (tests/hostile/cases.py): every case in a child process, so that a crash is
counted, not fatal. Cases run in batches, one process per batch; when a batch process dies, the cases it
did not report are re-run one process each, to name the one that kills the interpreter."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.cases import CASES, PRELUDE

ROOT = Path(__file__).resolve().parents[1]
BATCH = 60
CLEAR_TYPES = {"ValueError", "TypeError", "NotImplementedError"}


def _spawn(ids: list[str]) -> tuple[dict[str, dict], int, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), env_path]) if (env_path := os.environ.get("PYTHONPATH")) else str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "tests.hostile.runner", *ids], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    out = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            rec = json.loads(line)
            out[rec["id"]] = rec
    return out, proc.returncode, proc.stderr[-2000:]


def run_matrix(ids: list[str]) -> dict[str, dict]:
    """Results of every case; a case whose process died is {"outcome": "crash", ...}."""
    results: dict[str, dict] = {}
    for start in range(0, len(ids), BATCH):
        batch = ids[start:start + BATCH]
        got, rc, _ = _spawn(batch)
        results.update(got)
        if rc != 0:  # the batch died: re-run what it did not report, one case per process
            for case_id in batch:
                if case_id in got:
                    continue
                one, rc1, err1 = _spawn([case_id])
                results[case_id] = one.get(case_id) or {"outcome": "crash", "type": f"exit code {rc1}",
                                                        "message": err1}
    return results


def judge(case_id: str, rec: dict) -> str | None:
    """None if the case ended as its expectation says, else why not."""
    expect = CASES[case_id].expect
    outcome, typ, msg = rec["outcome"], rec["type"], rec["message"]
    if outcome == "crash":
        return f"crash ({typ}): {msg[-300:]}"
    if expect[0] == "ok":
        return None if outcome == "ok" else f"expected a result, got {typ}: {msg}"
    if expect[0] == "refuse":  # a feature that does not exist: NotImplementedError that says so
        ok = outcome == "raised" and typ == "NotImplementedError" and expect[1] in msg
        return None if ok else f"expected NotImplementedError ({expect[1]!r}), got {outcome} {typ}: {msg}"
    if expect[0] == "error":
        name = expect[1]
        if outcome != "raised" or typ not in CLEAR_TYPES:
            return f"expected a ValueError/TypeError naming {name!r}, got {outcome} {typ}: {msg}"
        names = "|".join(map(re.escape, name.split("|")))  # "a|b": either spelling names the argument
        if not re.search(rf"Invalid ({names})\b", msg) or "expected" not in msg:
            return f"unclear error (must name {name!r} and its domain): {typ}: {msg}"
        return None
    # cli: exit code 2, a one-line message, no traceback
    stderr = rec.get("stderr", "")
    if outcome != "exit" or msg != "2":
        return f"expected exit code 2, got {outcome} {typ}: {msg}"
    if "Traceback" in stderr or not stderr.strip():
        return f"expected a one-line error on stderr, got: {stderr[-500:]!r}"
    return None


@pytest.fixture(scope="module")
def matrix() -> dict[str, dict]:
    ids = [i for i, c in CASES.items() if not c.torch]
    try:
        import torch  # noqa: F401
        ids += [i for i, c in CASES.items() if c.torch]
    except ImportError:
        pass
    return run_matrix(ids)


def test_matrix_size():
    assert len(CASES) >= 300
    assert compile(PRELUDE, "<prelude>", "exec")


@pytest.mark.parametrize("case_id", list(CASES))
def test_case(matrix, case_id):
    if case_id not in matrix:
        pytest.skip("needs torch")  # the torch extra is not installed
    problem = judge(case_id, matrix[case_id])
    assert problem is None, f"{case_id}: {CASES[case_id].code.strip()[-300:]}\n-> {problem}"
