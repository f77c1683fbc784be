"""Direct simulation of a :class:`htsgd._model.Model`: ``run`` (many particles for a number of steps) and
``exit_times`` (first exits from a domain). Validation of the call arguments, then one core call."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _core
from ._model import MAX_PARTICLES, MAX_STEPS, Model
from ._rng import RNGLike, resolve_seed
from ._validation import check_int, check_n_threads, check_optional_int
from .basins import basins_from_critical_points
from .landscapes import Landscape1D, LandscapeND, Separable
from .results import ExitTimes, RunResult

_MAX_BASINS_ND = 4096


def _occupancy_layout(model: Model) -> tuple[np.ndarray | None, list, str | None]:
    """The basin edges the core counts occupancy with (None: no occupancy), the basins they define, and why
    there is no occupancy where the landscape has critical points but no usable basins (else None).

    Occupancy columns are the regions between consecutive maxima; they are basins only when each holds exactly
    one minimum. Otherwise (concave ends, a landscape the analysis cannot classify) the run goes on without
    occupancy and says why.
    """
    land = model.landscape
    if isinstance(land, Landscape1D):
        try:
            return _occupancy_layout_1d(land.minima, land.maxima)
        except ValueError as exc:
            return None, [], f"no occupancy: {exc}"
    edges = land.basin_edges if isinstance(land, LandscapeND) else None
    if edges is None or (len(edges) + 1) ** model.dim > _MAX_BASINS_ND:
        return None, [], None
    if isinstance(land, Separable):
        try:
            _occupancy_layout_1d(land.component.minima, land.component.maxima)
        except ValueError as exc:
            return None, [], f"no occupancy: {exc}"
    return np.ascontiguousarray(edges, dtype=np.float64), list(land.minima), None


def _occupancy_layout_1d(minima: np.ndarray, maxima: np.ndarray) -> tuple[np.ndarray | None, list, None]:
    if len(minima) == 0 and len(maxima) == 0:
        return None, [], None
    ends = np.concatenate([[-math.inf], maxima, [math.inf]])
    per_region = np.bincount(np.searchsorted(maxima, minima), minlength=len(maxima) + 1)
    if np.any(per_region != 1):
        k = int(np.flatnonzero(per_region != 1)[0])
        raise ValueError(f"the region ({ends[k]:g}, {ends[k + 1]:g}) between maxima holds {per_region[k]} "
                         "minima, not one, so it is no basin (e.g. the landscape falls away at that end)")
    return np.ascontiguousarray(maxima, dtype=np.float64), basins_from_critical_points(minima, maxima), None


def run(model: Model, x0: Any, n_steps: Any, n_particles: Any = None, *, rng: RNGLike = None,
        record_every: Any = None, n_threads: Any = None, first_particle: Any = 0, occupancy: Any = True) -> RunResult:
    """:meth:`htsgd.HeavyTailedSGD.run` (the documented entry)."""
    n_particles = check_optional_int("n_particles", n_particles, minimum=1)
    n_steps = check_int("n_steps", n_steps, minimum=0, maximum=MAX_STEPS)
    record_every = check_optional_int("record_every", record_every, minimum=1)
    threads = check_n_threads(n_threads)
    if not isinstance(occupancy, (bool, np.bool_)):
        raise TypeError(f"Invalid occupancy: expected a bool, got {type(occupancy).__name__}")
    x = model.initial_state(x0, n_particles)
    fp = model.check_first_particle(first_particle, x.shape[0])
    seed = resolve_seed(rng)
    edges, basins, note = _occupancy_layout(model) if occupancy else (None, [], None)
    if record_every is not None and x.size * (n_steps // record_every) > 2**31:
        raise ValueError(f"Invalid record_every: {record_every}; expected a value that keeps the trajectory "
                         f"within 2**31 numbers (it would hold {x.size * (n_steps // record_every):.3g})")
    state = np.array(x, dtype=np.float64, order="C")  # the one copy: C++ turns it into the final state
    out = _core.run(model.core, state, n_steps, seed=seed.key, first_particle=fp, record_every=record_every or 0,
                    basin_edges=edges, n_threads=threads)
    return RunResult(final=out.final, trajectory=out.trajectory, record_every=record_every,
                     occupancy=out.occupancy, basins=basins, nonfinite_index=out.nonfinite_index,
                     nonfinite_at=out.nonfinite_at, n_steps=n_steps, first_particle=fp, seed_entropy=seed.entropy,
                     seed_spawn_key=seed.spawn_key, occupancy_note=note)


def exit_times(model: Model, x0: Any, domain: Any, n_particles: Any, max_steps: Any, *, rng: RNGLike = None,
               n_threads: Any = None, first_particle: Any = 0) -> ExitTimes:
    """:meth:`htsgd.HeavyTailedSGD.exit_times` (the documented entry)."""
    n_particles = check_int("n_particles", n_particles, minimum=1, maximum=MAX_PARTICLES)
    max_steps = check_int("max_steps", max_steps, minimum=1, maximum=MAX_STEPS)
    threads = check_n_threads(n_threads)
    lo, hi = model.check_box("domain", domain)
    x = model.initial_state(x0, n_particles)
    pts = x.reshape(x.shape[0], -1)
    if not (np.all(pts > lo) and np.all(pts < hi)):
        raise ValueError(f"Invalid x0: expected points strictly inside domain {domain!r}")
    fp = model.check_first_particle(first_particle, x.shape[0])
    seed = resolve_seed(rng)
    out = _core.exit_times(model.core, np.ascontiguousarray(x), lo, hi, max_steps, seed=seed.key, first_particle=fp,
                           n_threads=threads)
    dom = (float(lo[0]), float(hi[0])) if model.is_1d else (lo, hi)
    return ExitTimes(steps=out.steps, position=out.position, exited=out.exited, nonfinite=out.nonfinite, domain=dom,
                     max_steps=max_steps, lr=model.lr, first_particle=fp, seed_entropy=seed.entropy,
                     seed_spawn_key=seed.spawn_key)
