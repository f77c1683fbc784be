"""Cells as tasks: build the model from plain spec data, check a cell's values, run one chunk of particles.

Everything a worker receives is plain data (dicts, lists, numbers); the model is built inside the worker
with the public constructors. Chunks of ``exit_times`` and ``run`` cells go through ``first_particle``, so a
chunked cell gives exactly the bits of one call; ``exit_probability`` and ``mean_exit_time`` have no
``first_particle`` and run as one task per cell.
"""
from __future__ import annotations

import math
import os
import time
import warnings
from typing import Any

import numpy as np

from .. import landscapes as L
from .. import theory
from ..dynamics import HeavyTailedSGD
from ..noise import Gaussian, Pareto, Stable, StudentT
from .._validation import check_int, check_interval

CHUNKABLE = ("exit_times", "run")
_NOISES = {"Pareto": Pareto, "Stable": Stable, "StudentT": StudentT, "Gaussian": Gaussian}


# ------------------------------------------------------------------------------------------ models
def build_landscape(table: dict) -> L.Landscape:
    """A landscape from its spec table (``{"type": "CriticalPoints", "points": [...], "scale": 1.0}``)."""
    params = {k: v for k, v in table.items() if k != "type"}
    kind = table["type"]
    if kind == "Separable":
        params["component"] = build_landscape(params["component"])
    return getattr(L, kind)(**params)


def build_noise(table: dict):
    """A noise law from its spec table (``{"type": "Pareto", "alpha": 1.5, "scale": 0.2}``)."""
    return _NOISES[table["type"]](**{k: v for k, v in table.items() if k != "type"})


def build_model(model: dict) -> HeavyTailedSGD:
    """The :class:`htsgd.HeavyTailedSGD` of a (canonical) model table."""
    b = model.get("truncation", math.inf)
    bounds = model.get("bounds")
    return HeavyTailedSGD(build_landscape(model["landscape"]), model["lr"], build_noise(model["noise"]),
                          truncation=None if b is None or b == math.inf else b,
                          bounds=None if bounds is None else tuple(bounds),
                          clip=model.get("clip", "norm"), isotropic=model.get("isotropic", False))


def _x0_per_particle(sgd: HeavyTailedSGD, x0: Any) -> bool:
    point_ndim = 0 if isinstance(sgd.landscape, L.Landscape1D) else 1
    return np.ndim(x0) > point_ndim


def _domain(domain: Any) -> tuple:
    return tuple(domain) if isinstance(domain, (list, tuple)) else domain


# ------------------------------------------------------------------------------------------ checks
def _probe_x0(sgd: HeavyTailedSGD, x0: Any, n: int) -> Any:
    """``x0`` for a one-particle probe call: its first particle where it holds one per particle (then exactly
    ``n`` of them)."""
    if not _x0_per_particle(sgd, x0):
        return x0
    if len(x0) != n:
        raise ValueError(f"Invalid n_particles: {n}; expected {len(x0)}, the number of particles in x0")
    return x0[:1]


def check_measure_values(sgd: HeavyTailedSGD, measure: dict) -> None:
    """Check the measurement's values against this model: sizes by the house validators, the rest by a tiny
    probe call of the method itself (one particle, one step), so its own errors reach the user."""
    kind, m = measure["type"], measure
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "exit_times":
            n = check_int("n_particles", m["n_particles"], minimum=1, maximum=2**32 - 1)
            check_int("max_steps", m["max_steps"], minimum=1)
            x0 = _probe_x0(sgd, m["x0"], n)
            sgd.exit_times(x0=x0, domain=_domain(m["domain"]), n_particles=1, max_steps=1, rng=0, n_threads=1)
        elif kind == "run":
            n = check_int("n_particles", m["n_particles"], minimum=1, maximum=2**32 - 1)
            check_int("n_steps", m["n_steps"], minimum=0)
            x0 = _probe_x0(sgd, m["x0"], n)
            r = sgd.run(x0=x0, n_steps=0, n_particles=1, rng=0, n_threads=1)
            if "basin" in m:
                check_int("basin", m["basin"], minimum=0, maximum=max(len(r.basins) - 1, 0))
                if not r.basins:
                    raise ValueError("Invalid basin: this landscape reports no basins")
        elif kind == "exit_probability":
            if m.get("n_samples") is not None:
                check_int("n_samples", m["n_samples"], minimum=2)
            args = {k: m[k] for k in ("method", "target_rel_error", "gamma", "weight", "side") if k in m}
            sgd.exit_probability(x0=m["x0"], domain=_domain(m["domain"]), horizon=m["horizon"], n_samples=2,
                                 rng=0, n_threads=1, **args)
        else:  # mean_exit_time
            method = m.get("method", "auto")
            if method not in ("auto", "direct", "importance"):
                raise ValueError(f"Invalid method: {method!r}; expected one of 'auto', 'direct', 'importance'")
            if m.get("n_samples") is not None:
                check_int("n_samples", m["n_samples"], minimum=1)
            if m.get("max_steps") is not None:
                check_int("max_steps", m["max_steps"], minimum=1)
            if m.get("target_rel_error") is not None:
                check_interval("target_rel_error", m["target_rel_error"], 0.0, 1.0, lo_open=True, hi_open=True)
            horizons = m.get("horizons")
            if horizons is not None and (not isinstance(horizons, (list, tuple)) or len(horizons) != 2):
                raise ValueError(f"Invalid horizons: {horizons!r}; expected a pair (T1, T2) with T1 < T2")
            args = {k: m[k] for k in ("gamma", "weight", "side") if k in m}
            sgd.exit_probability(x0=m["x0"], domain=_domain(m["domain"]), n_samples=2, rng=0, n_threads=1,
                                 horizon=horizons[0] if horizons else max(1, round(5 / sgd.lr)),  # the default T1
                                 method="importance" if method == "importance" else "crude", **args)


# ------------------------------------------------------------------------------------------ planning
def chunks(measure: dict, chunk_size: int) -> list[tuple[int, int]]:
    """``(first_particle, count)`` of the tasks of one cell (one task for the unchunkable measurements)."""
    if measure["type"] not in CHUNKABLE:
        return [(0, 0)]
    n = int(measure["n_particles"])
    return [(s, min(chunk_size, n - s)) for s in range(0, n, chunk_size)]


def _threads(table: Any) -> int | None:
    """OpenMP threads of this task: the driver's per-worker figure, else ``OMP_NUM_THREADS``, else all cores
    shared among the worker's own task slots."""
    if isinstance(table, int):
        return table
    try:
        from distributed import get_worker

        w = get_worker()
        if isinstance(table, dict) and w.address in table:
            return int(table[w.address])
        env = os.environ.get("OMP_NUM_THREADS")
        return int(env) if env else max(1, (os.cpu_count() or 1) // max(1, w.state.nthreads))
    except (ImportError, ValueError):  # not inside a Dask worker
        return None


# ------------------------------------------------------------------------------------------ running
def run_task(payload: dict) -> dict:
    """Run one task (a chunk of one cell) and return its raw arrays and scalars as plain data.

    ``payload``: ``cell_id``, ``model``, ``measure``, ``seed_entropy``, ``seed_spawn_key``, ``first``,
    ``count``, ``threads`` (an int, or worker address -> int) and ``theory`` (compute the cell's prediction).
    """
    start = time.perf_counter()
    sgd = build_model(payload["model"])
    m = dict(payload["measure"])
    kind = m.pop("type")
    rng = np.random.SeedSequence(payload["seed_entropy"], spawn_key=tuple(payload["seed_spawn_key"]))
    threads = _threads(payload.get("threads"))
    first, count = payload["first"], payload["count"]
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # non-finite particles are counted in the cell's row
        if kind in CHUNKABLE:
            x0 = m.pop("x0")
            if _x0_per_particle(sgd, x0):
                x0 = np.asarray(x0)[first:first + count]
            m.pop("n_particles")
            if kind == "exit_times":
                r = sgd.exit_times(x0=x0, domain=_domain(m["domain"]), n_particles=count, max_steps=m["max_steps"],
                                   rng=rng, n_threads=threads, first_particle=first)
                arrays = {"steps": r.steps, "position": r.position, "exited": r.exited, "nonfinite": r.nonfinite}
                meta["particle_steps"] = int(r.steps.sum())
            else:
                basin = m.pop("basin", None)
                r = sgd.run(x0=x0, n_steps=m["n_steps"], n_particles=count, rng=rng, n_threads=threads,
                            first_particle=first, occupancy=True)
                arrays = {"final": r.final, "nonfinite": r.nonfinite}
                if r.occupancy is not None:
                    arrays["occupancy"] = r.occupancy
                meta["particle_steps"] = int(count) * int(m["n_steps"])
                meta["basin"] = _home_basin(sgd, payload["measure"]["x0"], r.basins) if basin is None else basin
        elif kind == "exit_probability":
            p = sgd.exit_probability(rng=rng, n_threads=threads, **{**m, "domain": _domain(m["domain"])})
            meta.update(_probability_meta(p))
            meta["particle_steps"] = int(p.n_samples) * int(p.horizon)  # an upper bound: paths stop at the exit
        else:
            if m.get("horizons") is not None:
                m["horizons"] = tuple(m["horizons"])
            r = sgd.mean_exit_time(rng=rng, n_threads=threads, **{**m, "domain": _domain(m["domain"])})
            meta.update(value=r.value, stderr=r.stderr, method=r.method, n_samples=int(r.n_samples))
            if r.exit_times is not None:
                et = r.exit_times
                arrays = {"steps": et.steps, "position": et.position, "exited": et.exited, "nonfinite": et.nonfinite}
                meta["n_censored"] = et.n_censored
                meta["particle_steps"] = int(et.steps.sum())
            else:
                meta["probabilities"] = [_probability_meta(p) for p in r.probabilities]
                meta["particle_steps"] = sum(int(p.n_samples) * int(p.horizon) for p in r.probabilities)
    out = {"cell_id": payload["cell_id"], "first": first, "count": count, "arrays": arrays, "meta": meta}
    if payload.get("theory"):
        out["theory"] = cell_theory(sgd, payload["measure"])
    out["seconds"] = time.perf_counter() - start
    return out


def _home_basin(sgd: HeavyTailedSGD, x0: Any, basins: list) -> int | None:
    """Index of the basin that holds the start point (1-D), or of the nearest minimum (d-D)."""
    if not basins or _x0_per_particle(sgd, x0):
        return None
    if isinstance(sgd.landscape, L.Landscape1D):
        return next((k for k, b in enumerate(basins) if b.lo < x0 < b.hi), None)
    return int(np.argmin([np.linalg.norm(np.asarray(m) - np.asarray(x0)) for m in basins]))


def run_tasks(payloads: list[dict]) -> list[dict]:
    """Run several pieces (small cells packed into one Dask task) one after the other."""
    return [run_task(p) for p in payloads]


def _probability_meta(p: Any) -> dict:
    return {"value": p.value, "stderr": p.stderr, "n_samples": int(p.n_samples), "n_exits": int(p.n_exits),
            "horizon": int(p.horizon), "l_star": int(p.l_star), "p_big": p.p_big, "max_weight": p.max_weight,
            "max_weight_share": p.max_weight_share, "method": p.method}


def cell_theory(sgd: HeavyTailedSGD, measure: dict) -> dict:
    """The theory beside a cell, where :mod:`htsgd.theory` has one: for exit times from a 1-D basin, ``l_star``,
    the exponent slope ``-(1 + l*(alpha - 1))`` (``-alpha`` untruncated) and ``1/(q lambda_b(lr))``; NaN else."""
    out = {"l_star": math.nan, "theory_exponent": math.nan, "theory": math.nan}
    if measure["type"] not in ("exit_times", "mean_exit_time") or not isinstance(sgd.landscape, L.Landscape1D):
        return out
    x0 = measure["x0"]
    if np.ndim(x0) != 0 or not math.isfinite(sgd.noise.alpha):
        return out
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            basin = next(b for b in sgd.landscape.basins(domain=_domain(measure["domain"])) if b.lo < x0 < b.hi)
            b = sgd.truncation
            l_star = theory.jumps_needed(basin.width, b) if b is not None else 1
            out["l_star"] = float(l_star)
            out["theory_exponent"] = -(theory.exit_time_exponent(sgd.noise.alpha, l_star) if b is not None
                                       else sgd.noise.alpha)
            out["theory"] = theory.predicted_mean_exit_time(basin, sgd.noise, sgd.lr, b, grad=sgd.landscape)
    except (StopIteration, ValueError, TypeError, ArithmeticError):
        pass  # outside the theory's reach (no basin around x0, alpha <= 1, r/b an integer, ...)
    return out


def _prefixed(key: str, exc: Exception) -> Exception:
    return type(exc)(f"Invalid sweep {key}: {exc}")


def check_values(sweep: Any) -> None:
    """Build every model the sweep names and probe the measurement on each cell; the first error is raised
    with the spec key that holds the bad value (``model``, ``grid.<axis>[i]``, ``cells[i]``, ``measure`` or the
    cell). Nothing heavy runs: the probes are one particle for one step."""
    from .spec import canonical_model, set_path

    def attempt(key: str, model: dict, probe: bool) -> None:
        try:
            sgd = build_model(canonical_model(model))
        except (ValueError, TypeError) as exc:
            raise _prefixed(key, exc) from None
        if probe:
            try:
                check_measure_values(sgd, sweep.measure)
            except NotImplementedError as exc:  # e.g. importance sampling of a non-Pareto law: a bad spec here
                raise ValueError(f"Invalid sweep measure (at {key}): {exc}") from None
            except (ValueError, TypeError) as exc:
                raise _prefixed(f"measure (at {key})", exc) from None

    import copy

    attempt("model", sweep.model, probe=False)
    for axis, values in sweep.grid.items():
        for i, v in enumerate(values):
            model = copy.deepcopy(sweep.model)
            set_path(model, axis, v)
            attempt(f"grid.{axis}[{i}]", model, probe=False)
    for cell in sweep.expand():
        inner = ", ".join(f"{k}={v!r}" for k, v in cell.label.items())
        attempt(f"cell {{{inner}}}", cell.model, probe=True)
