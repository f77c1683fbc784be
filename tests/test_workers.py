"""The long-lived worker threads behind every C++ call (cpp/bindings/workers.hpp): reused from call to call
(their OpenMP teams end with each call), one per concurrent caller, and recreated in a forked child."""
import os
import sys
import threading
import warnings

import numpy as np
import pytest

import htsgd
from htsgd import _core

SGD = htsgd.HeavyTailedSGD(htsgd.landscapes.DoubleWell(), 0.05, htsgd.Pareto(1.5, 0.2), truncation=0.6)


def _os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
def test_calls_reuse_the_worker_threads():
    out = np.empty(200_000)
    _core.fill_noise(out, "pareto", 1.5, 1.0, 1, 0, 2)
    before = _os_threads()
    for i in range(100):
        _core.fill_noise(out, "pareto", 1.5, 1.0, 1, i, 2)
        SGD.run(1.0, 3, n_particles=1000, n_threads=2)
    assert _os_threads() == before


def test_concurrent_callers_get_their_own_worker_and_the_same_results():
    expected = SGD.exit_times(1.0, (0.0, np.inf), 64, 10**6, rng=3).steps
    results = [None] * 4

    def job(i):
        results[i] = SGD.exit_times(1.0, (0.0, np.inf), 64, 10**6, rng=3).steps

    threads = [threading.Thread(target=job, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(r, expected) for r in results)


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="needs fork")
def test_a_forked_child_runs_kernels():
    expected = SGD.run(1.0, 50, n_particles=500, rng=4, n_threads=2).final
    r, w = os.pipe()
    with warnings.catch_warnings():  # Python >= 3.12 warns about fork in a multi-threaded process
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # child: the parent's workers do not exist here
        try:
            got = SGD.run(1.0, 50, n_particles=500, rng=4, n_threads=2).final
            os.write(w, b"1" if np.array_equal(got, expected) else b"0")
        finally:
            os._exit(0)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    assert os.read(r, 1) == b"1" and status == 0
