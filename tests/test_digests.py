"""The random streams and kernels do not change within a version: digests of tests/digest_workload.py.

The workload runs in a subprocess per ISA (``HTSGD_ISA`` caps the dispatch), so every SIMD variant this
machine has is compared with the stored digests; an ISA the CPU lacks falls back to the best it has.
"""
import json
import os
import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).parent
STORED = json.loads((HERE / "data" / "digests.json").read_text())


@pytest.mark.parametrize("isa", ["baseline", "avx2", "avx512"])
def test_digests_hold(isa):
    env = dict(os.environ, HTSGD_ISA=isa)
    proc = subprocess.run([sys.executable, str(HERE / "digest_workload.py")], env=env, capture_output=True,
                          text=True, timeout=600, check=True)
    got = json.loads(proc.stdout)["digests"]
    assert set(got) == set(STORED), f"workloads differ: {sorted(set(got) ^ set(STORED))}"
    changed = sorted(k for k in STORED if got[k] != STORED[k])
    assert not changed, f"bits changed under HTSGD_ISA={isa}: {changed}"
