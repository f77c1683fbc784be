"""Sweeps on Dask (all traffic on 127.0.0.1): bits equal to direct calls, identical files for any worker count
and chunking, a killed worker, an interrupted driver, a grown grid, an external scheduler with two workers.

Every process a test starts (clusters, CLI runs, ``dask scheduler``/``dask worker``) is stopped in a
``finally``, by its own id or process group."""
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import htsgd
from htsgd.sweep import Sweep, load, run

distributed = pytest.importorskip("distributed")

# six cells of ~0.1-1 s of simulation each on one core: long enough to interrupt, short for CI
MID = {"seed": 11,
       "model": {"landscape": {"type": "DoubleWell"}, "noise": {"type": "Pareto", "alpha": 1.5, "scale": 0.2},
                 "lr": 0.05, "truncation": 1.5},
       "grid": {"lr": [0.05, 0.02, 0.01], "noise.alpha": [1.4, 1.6]},
       "measure": {"type": "exit_times", "x0": 1.0, "domain": [0.0, math.inf], "n_particles": 1500,
                   "max_steps": 10**6}}


def files_of(d: Path) -> dict:
    """The results' bytes: cells.parquet and every cell file (arrays and row; not provenance: wall times)."""
    out = {"cells.parquet": (d / "cells.parquet").read_bytes()}
    for p in sorted((d / "cells").rglob("*")):
        if p.is_file():
            out[str(p.relative_to(d))] = p.read_bytes()
    return out


def wait_for(predicate, timeout: float, what: str) -> None:
    end = time.time() + timeout
    while not predicate():
        if time.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def cells_done(d: Path) -> int:
    root = d / "cells"
    return len(list(root.glob("*.npz"))) if root.exists() else 0


def stop_group(proc: subprocess.Popen) -> None:
    """Stop a process started with start_new_session=True and everything it started."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def client():
    """A two-worker cluster shared by the tests of this module (one OpenMP thread per task)."""
    import logging

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address="127.0.0.1:0", scheduler_port=0, silence_logs=logging.ERROR)
    c = distributed.Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """MID on the embedded default cluster (one worker), chunks of 400 particles."""
    d = tmp_path_factory.mktemp("ref") / "out"
    run(Sweep.from_dict(MID), d, workers=1, chunk_size=400)
    return d


def test_cells_equal_direct_calls_bit_for_bit(client, tmp_path):
    spec = Sweep(model={"landscape": {"type": "DoubleWell"}, "noise": {"type": "Pareto", "alpha": 1.5, "scale": 0.2},
                        "lr": 0.1, "truncation": 1.5},
                 grid={"lr": [0.1, 0.05], "truncation": [math.inf, 0.6]},
                 measure={"type": "exit_times", "x0": 1.0, "domain": [0.0, math.inf], "n_particles": 300,
                          "max_steps": 20000}, seed=5)
    res = run(spec, tmp_path / "et", client=client, chunk_size=128)
    cells = res.cells
    assert list(cells.columns[:2]) == ["lr", "truncation"] and len(cells) == 4
    for i, row in cells.iterrows():
        b = None if row["truncation"] == math.inf else row["truncation"]
        sgd = htsgd.HeavyTailedSGD(htsgd.landscapes.DoubleWell(), lr=row["lr"], noise=htsgd.Pareto(1.5, 0.2),
                                   truncation=b)
        rng = np.random.SeedSequence(row["seed_entropy"], spawn_key=tuple(row["seed_spawn_key"]))
        et = sgd.exit_times(x0=1.0, domain=(0.0, math.inf), n_particles=300, max_steps=20000, rng=rng)
        raw = res.arrays(i)
        for name in ("steps", "position", "exited", "nonfinite"):
            np.testing.assert_array_equal(raw[name], getattr(et, name))
        assert row["estimate"] == et.mean().value and row["stderr"] == et.mean().stderr
        assert row["n"] == 300 and row["n_censored"] == et.n_censored
    truncated = cells[cells["truncation"] == 0.6]
    assert (truncated["l_star"] == 2).all() and np.isfinite(truncated["theory"]).all()
    assert np.allclose(truncated["theory_exponent"], -2.0)
    ds = res.to_xarray()
    assert ds["estimate"].dims == ("lr", "truncation") and ds["estimate"].shape == (2, 2)
    assert float(ds["estimate"].sel(lr=0.05, truncation=0.6)) == float(
        cells[(cells["lr"] == 0.05) & (cells["truncation"] == 0.6)]["estimate"].iloc[0])

    # the run measurement, chunked, against one direct call; occupancy fraction of the start basin
    spec = Sweep(model=spec.model, grid={"lr": [0.1]}, seed=5,
                 measure={"type": "run", "x0": 1.0, "n_steps": 200, "n_particles": 250})
    res = run(spec, tmp_path / "run", client=client, chunk_size=100)
    row = res.cells.iloc[0]
    sgd = htsgd.HeavyTailedSGD(htsgd.landscapes.DoubleWell(), lr=0.1, noise=htsgd.Pareto(1.5, 0.2), truncation=1.5)
    r = sgd.run(x0=1.0, n_steps=200, n_particles=250,
                rng=np.random.SeedSequence(row["seed_entropy"], spawn_key=tuple(row["seed_spawn_key"])))
    np.testing.assert_array_equal(res.arrays(0)["final"], r.final)
    np.testing.assert_array_equal(res.arrays(0)["occupancy"], r.occupancy)
    assert row["estimate"] == pytest.approx(r.occupancy[:, 1].mean() / 200, rel=1e-12)


def test_one_vs_two_workers_and_two_chunk_sizes_give_identical_files(client, reference, tmp_path):
    run(Sweep.from_dict(MID), tmp_path / "two", client=client, chunk_size=700)
    assert files_of(tmp_path / "two") == files_of(reference)
    cells = load(reference).cells
    assert len(cells) == 6 and cells["cell_id"].is_unique
    prov = load(reference).provenance[-1]
    assert prov["status"] == "complete" and prov["omp_threads_per_task"] >= 1 and prov["particle_steps"] > 0
    assert prov["htsgd_version"] == htsgd.__version__ and prov["dask_version"]


def test_a_killed_worker_loses_only_its_tasks(client, reference, tmp_path):
    out = tmp_path / "killed"
    errors = []

    def go():
        try:
            run(Sweep.from_dict(MID), out, client=client, chunk_size=250)
        except BaseException as exc:  # reported below
            errors.append(exc)

    t = threading.Thread(target=go)
    t.start()
    try:
        wait_for(lambda: cells_done(out) >= 1, 120, "a first cell")
        assert cells_done(out) < 6, "the sweep finished before a worker could be killed"
        pids = client.run(os.getpid)
        os.kill(sorted(pids.values())[0], signal.SIGKILL)  # a worker process this test's cluster started
    finally:
        t.join(timeout=240)
    assert not t.is_alive() and not errors, errors
    assert files_of(out) == files_of(reference)
    wait_for(lambda: len(client.scheduler_info()["workers"]) == 2, 60, "the nanny to restart the worker")


def test_interrupted_driver_resumes_with_identical_results(client, reference, tmp_path, capsys):
    spec_file = tmp_path / "mid.toml"
    Sweep.from_dict(MID).save(spec_file)
    out = tmp_path / "interrupted"
    cmd = [sys.executable, "-m", "htsgd.cli", "sweep", "run", str(spec_file), "--out", str(out), "--workers", "1",
           "--chunk-size", "250", "--no-progress"]
    # one core for the driver and its cluster: the run then lasts ~2 s on any machine, time to interrupt it
    if shutil.which("taskset") and hasattr(os, "sched_getaffinity"):
        cmd = ["taskset", "-c", str(min(os.sched_getaffinity(0)))] + cmd
    # SIGINT at its default in the child (a background job of a non-interactive shell inherits it ignored, and
    # Python then installs no Ctrl-C handler): the driver sees Ctrl-C as a user's terminal delivers it.
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        wait_for(lambda: cells_done(out) >= 1 or proc.poll() is not None, 120, "a first cell")
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        _, err = proc.communicate(timeout=60)
    finally:
        stop_group(proc)
    assert proc.returncode == 130, err.decode()
    done = cells_done(out)
    assert 1 <= done < 6
    assert json.loads((out / "provenance.json").read_text())["runs"][-1]["status"] == "interrupted"
    assert len(load(out).cells) == done  # the index of what finished, readable at once
    # rerun into the same directory (here on the shared cluster): the same files and no duplicate rows
    res = run(Sweep.load(spec_file), out, client=client, chunk_size=250)
    assert res.provenance[-1]["tasks_run"] < 6 * 6
    assert files_of(out) == files_of(reference)
    cells = load(out).cells
    assert len(cells) == 6 and cells["cell_id"].is_unique
    assert not any((out / "tasks").glob("*/*")) and not any((out / ".tmp").glob("*"))
    from htsgd.cli import main

    assert main(["sweep", "status", str(out)]) == 0
    assert "cells done 6 / 6" in capsys.readouterr().out
    assert main(["sweep", "plot", str(out)]) == 0 and (out / "sweep.png").stat().st_size > 1000


def test_grown_grid_computes_only_new_cells_and_other_specs_are_refused(client, tmp_path):
    small = {**MID, "grid": {"lr": [0.05], "noise.alpha": [1.4, 1.6]},
             "measure": {**MID["measure"], "n_particles": 200}}
    out = tmp_path / "grow"
    run(Sweep.from_dict(small), out, client=client)
    before = {p: p.stat().st_mtime_ns for p in (out / "cells").glob("*.npz")}
    grown = {**small, "grid": {"lr": [0.1, 0.05], "noise.alpha": [1.4, 1.6]}}
    res = run(Sweep.from_dict(grown), out, client=client)
    assert len(res.cells) == 4 and res.provenance[-1]["tasks_run"] == 2
    assert {p: p.stat().st_mtime_ns for p in before} == before  # old cells untouched
    fresh = run(Sweep.from_dict(grown), tmp_path / "fresh", client=client)
    assert fresh.cells.equals(res.cells)
    again = run(Sweep.from_dict(grown), out, client=client)  # nothing left: no task runs
    assert again.provenance[-1]["tasks_run"] == 2 and len(again.provenance) == 2
    with pytest.raises(ValueError, match=r"Invalid out: .* holds results of a different sweep \(seed 11 != 12"):
        run(Sweep.from_dict({**grown, "seed": 12}), out, client=client)
    with pytest.raises(ValueError, match=r"cell\(s\) of the stored spec are not in the new one"):
        run(Sweep.from_dict(small | {"grid": {"lr": [0.1], "noise.alpha": [1.4]}}), out, client=client)
    assert Sweep.load(out / "spec.toml") == Sweep.from_dict(grown)


def test_external_scheduler_and_two_workers(reference, tmp_path):
    sched_file = tmp_path / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    procs = []
    try:
        procs.append(subprocess.Popen(dask + ["--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--dashboard-address", "127.0.0.1:0",
                                              "--scheduler-file", str(sched_file)], start_new_session=True, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for(sched_file.exists, 60, "the scheduler file")
        for _ in range(2):
            procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
                                           str(sched_file), "--host", "127.0.0.1", "--nthreads", "1",
                                           "--no-dashboard", "--no-nanny"], start_new_session=True, env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        address = json.loads(sched_file.read_text())["address"]
        with distributed.Client(address) as c:
            c.wait_for_workers(2, timeout=60)
        spec_file = tmp_path / "mid.toml"
        Sweep.from_dict(MID).save(spec_file)
        out = tmp_path / "external"
        from htsgd.cli import main

        assert main(["sweep", "run", str(spec_file), "--out", str(out), "--scheduler", address, "--no-progress"]) == 0
        assert files_of(out) == files_of(reference)
        prov = load(out).provenance[-1]
        assert prov["scheduler"] == address and len(prov["workers"]) == 2
    finally:
        for p in procs:
            stop_group(p)


def test_phase_diagram_quick_through_a_scheduler(client, tmp_path):
    from htsgd.cli import main

    out = tmp_path / "pd"
    assert main(["reproduce", "phase-diagram", "--quick", "--out", str(out), "--no-progress",
                 "--scheduler", client.scheduler.address]) == 0
    records = json.loads((out / "phase_diagram.json").read_text())["records"]
    assert len(records) == 4 and (out / "phase_diagram.png").stat().st_size > 1000
    for r in records:  # the staircase: l* = ceil(r/b); fitted slopes near it (quick: ~0.15 standard error)
        assert r["slope_theory"] == pytest.approx(-(1 + math.ceil(r["r_over_b"]) * (r["alpha"] - 1)))
        assert abs(r["slope"] - r["slope_theory"]) < 6 * r["slope_stderr"] + 0.35
    shutil.rmtree(out)
