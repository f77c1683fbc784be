"""Build and run the plain C++ loop of ``bench/cpp/plain_loop.cpp`` (the "hardware line" of bench/run.py).

The source is compiled on demand with the system's C++ compiler (``$CXX`` or ``c++``) into
``build/bench/plain_loop_<isa>`` and rebuilt when the source is newer; ``native`` uses ``-march=native``,
``avx2`` ``-march=x86-64-v3`` (AVX2 + FMA, 16 lanes in four ymm registers). Without a compiler, OpenMP or
the ISA, ``build`` returns None and says why.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "bench", "cpp", "plain_loop.cpp")
FLAGS = {"native": ["-march=native"], "avx2": ["-march=x86-64-v3", "-mtune=native"]}


def build(isa: str = "native") -> tuple[str | None, str]:
    """Compile (if needed) and return ``(path of the binary, message)``; the path is None on failure."""
    if isa not in FLAGS:
        return None, f"no build flags for ISA {isa!r} (expected one of {sorted(FLAGS)})"
    cxx = shutil.which(os.environ.get("CXX", "c++"))
    exe = os.path.join(ROOT, "build", "bench", f"plain_loop_{isa}")
    if os.path.exists(exe) and os.path.getmtime(exe) >= os.path.getmtime(SOURCE):
        return exe, f"{os.path.relpath(exe, ROOT)} (up to date)"
    if cxx is None:
        return None, "no C++ compiler found (set CXX): the plain-loop line is skipped"
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    cmd = [cxx, "-O3", *FLAGS[isa], "-fopenmp", "-std=c++17", "-Wno-psabi", SOURCE, "-o", exe]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return None, f"'{' '.join(cmd)}' failed: {proc.stderr.strip()[-400:]}; the plain-loop line is skipped"
    return exe, f"built {os.path.relpath(exe, ROOT)} with '{' '.join(cmd[:-3])} ...'"


def accuracy(exe: str) -> dict:
    """Largest relative errors of the loop's log and expm1 kernels against long double libm."""
    return json.loads(subprocess.run([exe, "accuracy"], capture_output=True, text=True, check=True).stdout)


def run(exe: str, workload: str, n: int, threads: int, repeat: int, n_steps: int = 100) -> tuple[dict, np.ndarray]:
    """Run W1 (``workload='w1'``) or W2 (``'w2'``); returns the JSON figures of the best of ``repeat`` runs
    (rate, rate_per_cpu_s, items, seconds, cpu_seconds, mean) and its result (final positions, or exit steps)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "result.bin")
        args = [str(n), str(n_steps)] if workload == "w1" else [str(n)]
        proc = subprocess.run([exe, workload, *args, str(threads), str(repeat), path], capture_output=True,
                              text=True, check=True)
        result = np.fromfile(path, dtype=np.float64 if workload == "w1" else np.int64)
    return json.loads(proc.stdout.strip().splitlines()[-1]), result
