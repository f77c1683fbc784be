"""Run a sweep on Dask: cells split into tasks, submitted as futures, stored as they complete.

Without ``client`` a ``LocalCluster`` of worker processes is started for the call (and stopped after it),
sized so that workers x OpenMP threads = cores. With ``client`` (or a scheduler address) that cluster is used
as it is; each task's OpenMP threads are the cores of its host over the Dask task slots on that host.
A worker that dies loses only its tasks in flight: the scheduler resubmits them elsewhere.
"""
from __future__ import annotations

import logging
import os
import platform
import time
import uuid
from collections import Counter
from typing import Any

from .. import __version__
from .results import SweepResults, build_frame, summarize
from .seeding import cell_id, cell_spawn_key
from .spec import Sweep
from .storage import SweepStore
from .tasks import CHUNKABLE, chunks, run_tasks

#: Particles per task for ``exit_times`` and ``run`` cells unless ``chunk_size`` says otherwise.
DEFAULT_CHUNK = 4096
_TABLE_EVERY = 2.0  # seconds between rewrites of cells.parquet while tasks finish


def machine_cores() -> int:
    """Cores this process may use (its CPU affinity where the OS reports it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (macOS, Windows)
        return os.cpu_count() or 1


def default_layout(workers: int | None = None, cores: int | None = None) -> tuple[int, int]:
    """``(workers, threads per worker)`` of the embedded cluster: workers x threads = cores.

    By default ``cores // 4`` workers (at least 1), so about 4 OpenMP threads each: the kernels scale linearly
    in threads, and fewer processes hold less memory.
    """
    cores = cores or machine_cores()
    if workers is None:
        workers = max(1, cores // 4)
        return workers, max(1, cores // workers)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"Invalid workers: {workers!r}; expected an integer >= 1")
    return workers, max(1, cores // workers)


def _thread_table(client: Any) -> dict:
    """Worker address -> OpenMP threads: the host's cores over the Dask task slots on that host."""
    try:
        info = client.scheduler_info(n_workers=-1)["workers"]
    except TypeError:  # older distributed: no n_workers argument
        info = client.scheduler_info()["workers"]
    cores = client.run(machine_cores)
    slots: dict[str, int] = {}
    for w in info.values():
        slots[w["host"]] = slots.get(w["host"], 0) + int(w["nthreads"])
    return {addr: max(1, int(cores.get(addr, 1)) // max(1, slots[w["host"]])) for addr, w in info.items()}


def _provenance(client: Any, threads: Any, started: float, tasks: int, particle_steps: int, status: str) -> dict:
    import dask
    import distributed

    from .. import _core

    isa = None
    for name in ("active_isa", "isa", "simd_isa"):
        if hasattr(_core, name):
            attr = getattr(_core, name)
            isa = attr() if callable(attr) else attr
            break
    try:
        workers = client.scheduler_info(n_workers=-1)["workers"]
    except TypeError:
        workers = client.scheduler_info()["workers"]
    except Exception:  # the cluster is gone (interrupted): record what we know
        workers = {}
    return {"status": status, "htsgd_version": __version__, "isa": isa, "HTSGD_ISA": os.environ.get("HTSGD_ISA"),
            "python": platform.python_version(), "platform": platform.platform(), "machine": platform.machine(),
            "dask_version": dask.__version__, "distributed_version": distributed.__version__,
            "scheduler": getattr(getattr(client, "scheduler", None), "address", None),
            "workers": {a: {"host": w.get("host"), "nthreads": w.get("nthreads")} for a, w in workers.items()},
            "omp_threads_per_task": threads, "driver_cores": machine_cores(),
            "started_unix": started, "wall_seconds": time.time() - started, "tasks_run": tasks,
            "particle_steps": particle_steps}


def run(sweep: Sweep, out: Any, *, client: Any = None, workers: int | None = None, chunk_size: int | None = None,
        progress: bool = False) -> SweepResults:
    """Run (or resume) a sweep into the directory ``out`` on Dask.

    Parameters
    ----------
    sweep : Sweep
        The spec; checked completely (values included) before anything runs.
    out : str or Path
        Output directory. Finished tasks and cells already there are skipped; a directory of a different
        spec is refused (``ValueError``).
    client : distributed.Client or str, optional
        A running cluster (a client, or a scheduler address such as ``"tcp://10.0.0.1:8786"``), used as it is.
        Default: a ``LocalCluster`` of worker processes on this machine, started and stopped with the call.
    workers : int, optional
        Embedded cluster only: worker processes (default: cores / 4, at least 1); each task then runs
        ``cores // workers`` OpenMP threads.
    chunk_size : int, optional
        Particles per task for ``exit_times`` and ``run`` (default 4096); small cells are packed
        together into tasks of about that many particles. Results do not depend on it.
    progress : bool
        Show a progress bar (tasks, cells, particle-steps/s, ETA) on stderr.

    Returns
    -------
    SweepResults
    """
    if not isinstance(sweep, Sweep):
        raise TypeError(f"Invalid sweep: expected an htsgd.sweep.Sweep, got {type(sweep).__name__}")
    chunk = DEFAULT_CHUNK if chunk_size is None else chunk_size
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"Invalid chunk_size: {chunk_size!r}; expected an integer >= 1")
    if client is not None and workers is not None:
        raise ValueError("Invalid workers: give workers (the embedded cluster) or client, not both")
    n_workers, omp = default_layout(workers)
    sweep.check()
    kind = sweep.measure["type"]
    cells = sweep.expand()
    ids = [cell_id(c.model, kind) for c in cells]
    store = SweepStore(out)
    store.open(sweep, ids)
    store.drop_stale_parts()
    started = time.time()

    # plan: the tasks still to run; cells whose tasks are all stored are assembled right away
    todo, plans = [], {}
    for cell, cid in zip(cells, ids):
        if store.cell_done(cid):
            continue
        plan = chunks(sweep.measure, chunk)
        plans[cid] = (cell, plan)
        missing = [(f, n) for f, n in plan if not store.task_done(cid, f, n)]
        if not missing:
            _finish_cell(store, sweep, cell, cid, plan)
        todo += [(cell, cid, f, n, f == 0) for f, n in missing]
    if not todo:
        store.write_table(build_frame(sweep, store, cells))
        return SweepResults(out)

    own_cluster = client_obj = None
    done_tasks, steps_done, status, threads = 0, 0, "interrupted", None
    futures: list = []
    try:
        from distributed import Client, LocalCluster, as_completed

        if client is None:
            import dask

            # every task goes to a worker at once (a queue per worker): with the scheduler's default queuing
            # (saturation 1.1) each small task waits for a round trip, measured 3.7x slower on a loaded machine
            with dask.config.set({"distributed.scheduler.worker-saturation": "inf"}):
                own_cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address="127.0.0.1:0", scheduler_port=0,
                                           silence_logs=logging.ERROR)
            client_obj, threads = Client(own_cluster), omp
        else:
            client_obj = Client(client) if isinstance(client, str) else client
            threads = _thread_table(client_obj)
        token = uuid.uuid4().hex[:8]
        seeds = {cid: cell_spawn_key(plans[cid][0].model, kind) for cid in plans}
        payloads = [{"cell_id": cid, "model": cell.model, "measure": sweep.measure, "seed_entropy": int(sweep.seed),
                     "seed_spawn_key": list(seeds[cid]), "first": first, "count": count, "threads": threads,
                     "theory": theory} for cell, cid, first, count, theory in todo]
        for i, group in enumerate(pack(payloads, chunk)):
            futures.append(client_obj.submit(run_tasks, group, key=f"htsgd-sweep-{token}-{i}", pure=False))
        remaining = Counter(t[1] for t in todo)
        bar = _bar(len(todo), len(cells), len(cells) - len(plans), progress)
        last_table = time.perf_counter()
        for result in _results(as_completed(futures)):
            done_tasks += 1
            steps_done += int(result["meta"].get("particle_steps", 0))
            cid = result["cell_id"]
            remaining[cid] -= 1
            if remaining[cid] == 0:  # the cell's last task: it goes straight into the cell's directory
                cell, plan = plans[cid]
                _finish_cell(store, sweep, cell, cid, plan, last=result)
                bar.cells_done += 1
            else:
                store.write_task(result)
            bar.step(steps_done, started)
            if time.perf_counter() - last_table > _TABLE_EVERY:
                store.write_table(build_frame(sweep, store, cells))
                last_table = time.perf_counter()
        bar.close()
        status = "complete"
    except KeyboardInterrupt:
        raise
    except BaseException:
        status = "failed"
        raise
    finally:
        if status != "complete":
            for f in futures:
                f.cancel()
        try:
            store.write_table(build_frame(sweep, store, cells))
            if client_obj is not None:
                store.append_provenance(_provenance(client_obj, threads, started, done_tasks, steps_done, status))
        finally:
            if client_obj is not None and (own_cluster is not None or isinstance(client, str)):
                client_obj.close()
            if own_cluster is not None:
                own_cluster.close()
    return SweepResults(out)


def pack(payloads: list[dict], chunk: int) -> list[list[dict]]:
    """Group consecutive pieces of ``exit_times``/``run`` cells into tasks of at most ``chunk`` particles, so that
    many small cells do not pay the per-task cost each; other measurements run one per task."""
    groups: list[list[dict]] = []
    size = 0
    for p in payloads:
        n = p["count"] if p["measure"]["type"] in CHUNKABLE else chunk + 1
        if groups and size + n <= chunk:
            groups[-1].append(p)
            size += n
        else:
            groups.append([p])
            size = n
    return groups


def _results(completed: Any):
    for future in completed:
        results = future.result()
        future.release()
        yield from results


def _finish_cell(store: SweepStore, sweep: Sweep, cell: Any, cid: str, plan: list, last: dict | None = None) -> None:
    """Summarise a cell from its stored parts (and ``last``, the part just received) and record it."""
    held = {(last["first"], last["count"])} if last is not None else set()
    parts = [store.read_task(cid, f, n) for f, n in plan if (f, n) not in held] + ([last] if last else [])
    row, arrays = summarize(cell, sweep, parts)
    row["label"] = cell.label
    store.write_cell(cid, row, arrays)


class _bar:
    """tqdm over tasks, with cells done and particle-steps/s in its postfix (hidden unless asked)."""

    def __init__(self, tasks: int, cells: int, cells_done: int, show: bool) -> None:
        from tqdm.auto import tqdm

        self.cells, self.cells_done = cells, cells_done
        self.tqdm = tqdm(total=tasks, desc="sweep", unit="task", disable=not show, leave=False,
                         bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} tasks "
                                    "[{elapsed}<{remaining}]{postfix}")

    def step(self, particle_steps: int, started: float) -> None:
        rate = particle_steps / max(time.time() - started, 1e-9)
        self.tqdm.set_postfix_str(f"cells {self.cells_done}/{self.cells}, {rate:.3g} particle-steps/s", refresh=False)
        self.tqdm.update(1)

    def close(self) -> None:
        self.tqdm.close()
