"""Ctrl-C during a long C++ call: KeyboardInterrupt within about a second, no crash, no leaked threads
(the kernels run on long-lived worker threads, reused by the next call: the thread count does not grow)."""
import os
import signal
import subprocess
import sys
import textwrap
import time

SCRIPT = textwrap.dedent("""
    import math, os, signal, sys, threading, time
    # Python only installs its Ctrl-C handler if SIGINT is not ignored, and a job started in the background
    # by a non-interactive shell inherits SIGINT ignored: install it here, as an interactive session has it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import htsgd
    sgd = htsgd.HeavyTailedSGD(htsgd.landscapes.DoubleWell(), 1e-4, htsgd.Pareto(1.5, 0.2), truncation=0.6)
    sgd.run(1.0, 10, n_particles=100_000)  # starts the worker and its OpenMP team
    os_threads = lambda: len(os.listdir("/proc/self/task"))
    before = os_threads()
    print("ready", flush=True)
    t0 = time.perf_counter()
    try:
        sgd.{call}
    except KeyboardInterrupt:
        dt = time.perf_counter() - t0
        # the interpreter still works and can run again, on the same threads
        sgd.run(1.0, 10, n_particles=100_000)
        print(f"interrupted {{threading.active_count()}} {{os_threads() - before}} {{dt:.3f}}", flush=True)
        sys.exit(0)
    print("finished", flush=True)
""")


def _interrupt(call: str) -> str:
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT.format(call=call)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    t_sent = time.perf_counter()
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    elapsed = time.perf_counter() - t_sent
    assert proc.returncode == 0, err
    assert out.startswith("interrupted"), out + err
    assert elapsed < 10.0
    return out


def test_ctrl_c_stops_exit_times():
    out = _interrupt("exit_times(1.0, (0.0, math.inf), 100_000, 10**12)")
    assert out.split()[1:3] == ["1", "0"]  # one Python thread; no more OS threads than before the call


def test_ctrl_c_stops_run():
    out = _interrupt("run(1.0, 10**9, n_particles=100_000)")
    assert out.split()[1:3] == ["1", "0"]
