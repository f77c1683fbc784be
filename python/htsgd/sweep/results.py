"""A sweep's results: one row per cell (estimate, error, counts, seed, theory), raw arrays, an xarray view."""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..results import ExitTimes
from .seeding import cell_id, cell_spawn_key
from .spec import Cell, Sweep
from .storage import SweepStore

#: Columns after the axis columns, in order (``cells.parquet`` holds the same).
RESULT_COLUMNS = ("estimate", "stderr", "theory", "n", "n_censored", "n_nonfinite", "l_star", "theory_exponent",
                  "seed_entropy", "seed_spawn_key", "particle_steps", "cell_id")


def _concat(parts: list[dict], name: str) -> np.ndarray:
    return np.concatenate([p["arrays"][name] for p in parts])


def summarize(cell: Cell, sweep: Sweep, parts: list[dict]) -> tuple[dict, dict]:
    """The row and the raw arrays of a finished cell from its task parts (sorted by first particle).

    Estimates: ``exit_times``: the censoring-aware mean exit time (:meth:`htsgd.ExitTimes.mean`); ``run``: the
    fraction of particle-steps in the measured basin (standard error over particles); ``exit_probability`` and
    ``mean_exit_time``: the method's value and standard error.
    """
    measure, kind = sweep.measure, sweep.measure["type"]
    parts = sorted(parts, key=lambda p: p["first"])
    names = list(parts[0]["arrays"])
    arrays = {name: _concat(parts, name) for name in names}
    metas = [p["meta"] for p in parts]
    row: dict[str, Any] = {"estimate": math.nan, "stderr": math.nan, "n_nonfinite": 0}
    if kind == "exit_times":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            et = ExitTimes(steps=arrays["steps"], position=arrays["position"], exited=arrays["exited"],
                           nonfinite=arrays["nonfinite"], domain=tuple(measure["domain"]),
                           max_steps=int(measure["max_steps"]), lr=cell.model["lr"])
        if et.exited.any():
            row["estimate"], row["stderr"] = et.mean()
        row.update(n=len(et.steps), n_censored=et.n_censored, n_nonfinite=et.n_nonfinite)
    elif kind == "run":
        n_steps, k = int(measure["n_steps"]), metas[0].get("basin")
        if "occupancy" in arrays and k is not None and n_steps > 0:
            frac = arrays["occupancy"][:, k] / n_steps
            row["estimate"] = float(frac.mean())
            row["stderr"] = float(frac.std(ddof=1) / math.sqrt(len(frac))) if len(frac) > 1 else math.inf
        row.update(n=len(arrays["final"]), n_censored=0, n_nonfinite=int(arrays["nonfinite"].sum()))
    elif kind == "exit_probability":
        m = metas[0]
        row.update(estimate=m["value"], stderr=m["stderr"], n=m["n_samples"], n_censored=m["n_samples"] - m["n_exits"])
    else:
        m = metas[0]
        row.update(estimate=m["value"], stderr=m["stderr"], n=m["n_samples"], n_censored=m.get("n_censored", 0))
        if "nonfinite" in arrays:
            row["n_nonfinite"] = int(arrays["nonfinite"].sum())
    theory = next((p["theory"] for p in parts if p.get("theory")), None) or {}
    row.update(theory=theory.get("theory", math.nan), l_star=theory.get("l_star", math.nan),
               theory_exponent=theory.get("theory_exponent", math.nan))
    row.update(seed_entropy=int(sweep.seed), seed_spawn_key=list(cell_spawn_key(cell.model, kind)),
               particle_steps=int(sum(m.get("particle_steps", 0) for m in metas)), cell_id=cell_id(cell.model, kind))
    row["measure_details"] = {k: v for k, v in metas[0].items() if k not in ("particle_steps",)} \
        if kind in ("exit_probability", "mean_exit_time") else {}
    return {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in row.items()}, arrays


def _column_value(v: Any) -> Any:
    """Axis values as table cells: numbers, strings and bools as they are, anything else as JSON text."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return json.dumps(v, sort_keys=True)


def build_frame(sweep: Sweep, store: SweepStore, cells: list[Cell] | None = None):
    """The cells table: one row per finished cell in the spec's order; axis columns first."""
    import pandas as pd

    records, kind = [], sweep.measure["type"]
    for cell in sweep.expand() if cells is None else cells:
        cid = cell_id(cell.model, kind)
        if not store.cell_done(cid):
            continue
        row = store.read_row(cid)
        records.append({**{k: _column_value(v) for k, v in cell.label.items()},
                        **{c: row[c] for c in RESULT_COLUMNS}})
    columns = list(sweep.axes) + list(RESULT_COLUMNS)
    frame = pd.DataFrame.from_records(records, columns=columns)
    for c in ("n", "n_censored", "n_nonfinite", "seed_entropy", "particle_steps"):
        frame[c] = frame[c].astype("int64")
    return frame


class SweepResults:
    """The results of a sweep directory, as returned by :func:`load` and :func:`htsgd.sweep.run`.

    Attributes
    ----------
    cells : pandas.DataFrame
        One row per finished cell: one column per axis (named as in the spec, e.g. ``lr``, ``noise.alpha``),
        then ``estimate``, ``stderr``, ``theory`` (NaN where :mod:`htsgd.theory` has no prediction), ``n``,
        ``n_censored``, ``n_nonfinite``, ``l_star``, ``theory_exponent``, ``seed_entropy``, ``seed_spawn_key``,
        ``particle_steps``, ``cell_id``.
    spec : Sweep
    path : pathlib.Path
    provenance : list of dict
        One record per run into the directory.
    """

    def __init__(self, path: Any) -> None:
        self.path = Path(path)
        self._store = SweepStore(self.path)
        spec = self._store.read_spec()
        if spec is None:
            raise ValueError(f"Invalid path: {self.path}; expected a sweep directory (no spec.toml in it)")
        self.spec: Sweep = spec
        self.cells = self._read_cells()
        prov = self.path / "provenance.json"
        self.provenance: list = json.loads(prov.read_text())["runs"] if prov.exists() else []

    def _read_cells(self):
        import pandas as pd

        table = self.path / "cells.parquet"
        if table.exists():
            frame = pd.read_parquet(table)
            if set(frame["cell_id"]) == set(self._store.finished_cells()) & set(self._cell_ids()):
                return frame
        return build_frame(self.spec, self._store)  # the index lags the cell directories (an interrupted run)

    def _cell_ids(self) -> list[str]:
        kind = self.spec.measure["type"]
        return [cell_id(c.model, kind) for c in self.spec.expand()]

    @property
    def n_cells(self) -> int:
        """Cells of the spec (finished or not)."""
        return len(self._cell_ids())

    def arrays(self, cell: int | str) -> dict[str, np.ndarray]:
        """Raw per-particle arrays of a cell (by row of ``cells`` or by ``cell_id``): ``steps``, ``position``,
        ``exited``, ``nonfinite`` for exit times; ``final``, ``occupancy``, ``nonfinite`` for runs."""
        cid = self.cells["cell_id"].iloc[cell] if isinstance(cell, (int, np.integer)) else cell
        return self._store.read_arrays(cid)

    def details(self, cell: int | str) -> dict:
        """The stored row of a cell, with the method's diagnostics (importance sampling: ``p_big``, ...)."""
        cid = self.cells["cell_id"].iloc[cell] if isinstance(cell, (int, np.integer)) else cell
        return self._store.read_row(cid)

    def to_xarray(self):
        """An ``xarray.Dataset`` with the grid axes as dimensions (grid cells only; extra cells are left out)
        and ``estimate``, ``stderr``, ``theory``, ``n``, ``n_censored`` as variables (NaN where unfinished)."""
        import xarray as xr

        axes = list(self.spec.grid)
        frame = self.cells
        if not axes:
            raise ValueError("Invalid sweep for to_xarray: it has no grid axes")
        values = {a: [_column_value(v) for v in vals] for a, vals in self._grid_values().items()}
        mask = np.ones(len(frame), dtype=bool)
        for a in axes:
            mask &= frame[a].isin(values[a]).to_numpy()
        sub = frame[mask].set_index(axes)
        ds = xr.Dataset.from_dataframe(sub[["estimate", "stderr", "theory", "n", "n_censored"]])
        return ds.reindex({a: values[a] for a in axes})

    def _grid_values(self) -> dict:
        from .spec import _canonical_number

        return {a: [_canonical_number(v) for v in vals] for a, vals in self.spec.grid.items()}

    def __repr__(self) -> str:
        return f"SweepResults({str(self.path)!r}, {len(self.cells)} of {self.n_cells} cells)"


def load(path: Any) -> SweepResults:
    """Open a sweep directory written by :func:`htsgd.sweep.run` or ``htsgd sweep run``.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    SweepResults
        ``.cells`` (pandas DataFrame), ``.arrays(i)``, ``.to_xarray()``, ``.spec``, ``.provenance``.
    """
    return SweepResults(path)
