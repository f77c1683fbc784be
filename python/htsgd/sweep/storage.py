"""The output directory of a sweep: everything written atomically, so no half-written file is ever visible.

Layout::

    DIR/spec.toml               the sweep (TOML, as Sweep.to_toml writes it)
    DIR/provenance.json         one record per run: htsgd version, ISA, threads, Dask versions, wall time, ...
    DIR/cells.parquet           one row per finished cell, in the spec's cell order
    DIR/cells/<cell_id>.npz     a finished cell: its per-particle arrays (<name>.npy) and row.json
    DIR/tasks/<cell_id>/<first>-<count>.npz   a finished task of an unfinished cell (arrays, task.json)

Every file is written under ``DIR/.tmp`` and renamed into place in one step (``os.replace``). The ``.npz``
files are uncompressed zips with fixed timestamps (``numpy.load`` reads them; equal results, equal bytes).
The cell files are the record; ``cells.parquet`` is their index, rewritten as cells finish.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .spec import Sweep, canonical_model


_EPOCH = (1980, 1, 1, 0, 0, 0)  # zip entries' timestamp: the files' bytes depend on their contents only


def _json_default(x: Any) -> Any:
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def dump_json(obj: Any) -> str:
    return json.dumps(obj, indent=1, sort_keys=True, default=_json_default, allow_nan=True) + "\n"


class SweepStore:
    """Reads and writes one sweep directory (see the module docstring)."""

    def __init__(self, path: Any) -> None:
        self.path = Path(path)
        self.tmp = self.path / ".tmp"
        self._rows: dict[str, dict] = {}  # rows written or read by this object (the table is rebuilt often)

    # ------------------------------------------------------------------ atomic primitives
    def _write_file(self, target: Path, data: bytes) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp / f"{target.name}.{uuid.uuid4().hex}"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)

    def _write_bundle(self, target: Path, arrays: dict, jsons: dict, *, replace: bool = True) -> None:
        """One file holding ``<name>.npy`` arrays and ``<name>.json`` documents (an uncompressed zip that
        ``numpy.load`` reads; fixed timestamps, so equal contents give equal bytes), renamed into place."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp / f"{target.name}.{uuid.uuid4().hex}"
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
            for name, arr in arrays.items():
                with zf.open(zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH), "w") as fh:
                    np.lib.format.write_array(fh, np.ascontiguousarray(arr), allow_pickle=False)
            for name, obj in jsons.items():
                zf.writestr(zipfile.ZipInfo(f"{name}.json", date_time=_EPOCH), dump_json(obj))
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)

    @staticmethod
    def _read_bundle(path: Path) -> tuple[dict, dict]:
        arrays, jsons = {}, {}
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                with zf.open(name) as fh:
                    if name.endswith(".npy"):
                        arrays[name[:-4]] = np.lib.format.read_array(fh, allow_pickle=False)
                    else:
                        jsons[name[:-5]] = json.loads(fh.read())
        return arrays, jsons

    # ------------------------------------------------------------------ spec
    @property
    def spec_path(self) -> Path:
        return self.path / "spec.toml"

    def read_spec(self) -> Sweep | None:
        return Sweep.load(self.spec_path) if self.spec_path.exists() else None

    def open(self, sweep: Sweep, cell_ids: list[str]) -> None:
        """Create the directory or check that it holds a compatible sweep, then record ``sweep`` as its spec.

        Compatible: the same root seed and measurement, and every cell of the stored spec is a cell of the new
        one (a grown grid). Anything else is refused: results of different specs are never mixed.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        old = self.read_spec()
        if old is not None:
            differ = []
            if old.seed != sweep.seed:
                differ.append(f"seed {old.seed} != {sweep.seed}")
            if canonical_model(old.measure) != canonical_model(sweep.measure):
                differ.append(f"measure {old.measure} != {sweep.measure}")
            if not differ:
                from .seeding import cell_id

                kind = sweep.measure["type"]
                missing = [c.label for c in old.expand() if cell_id(c.model, kind) not in set(cell_ids)]
                if missing:
                    differ.append(f"{len(missing)} cell(s) of the stored spec are not in the new one "
                                  f"(e.g. {missing[0]})")
            if differ:
                raise ValueError(f"Invalid out: {self.path} holds results of a different sweep ({'; '.join(differ)});"
                                 " expected the same seed and measure and a grid that contains the stored one. "
                                 "Use another directory.")
        if self.tmp.exists():  # leftovers of an interrupted write: never visible, safe to drop
            shutil.rmtree(self.tmp, ignore_errors=True)
        self._write_file(self.spec_path, sweep.to_toml().encode("utf-8"))

    # ------------------------------------------------------------------ tasks and cells
    def cell_file(self, cid: str) -> Path:
        return self.path / "cells" / f"{cid}.npz"

    def cell_done(self, cid: str) -> bool:
        return cid in self._rows or self.cell_file(cid).exists()

    def task_file(self, cid: str, first: int, count: int) -> Path:
        return self.path / "tasks" / cid / f"{first}-{count}.npz"

    def task_done(self, cid: str, first: int, count: int) -> bool:
        return self.task_file(cid, first, count).exists()

    def write_task(self, result: dict) -> None:
        meta = {"meta": result["meta"], "theory": result.get("theory"), "seconds": result["seconds"]}
        self._write_bundle(self.task_file(result["cell_id"], result["first"], result["count"]), result["arrays"],
                           {"task": meta})

    def read_task(self, cid: str, first: int, count: int) -> dict:
        arrays, jsons = self._read_bundle(self.task_file(cid, first, count))
        return {"cell_id": cid, "first": first, "count": count, "arrays": arrays, **jsons["task"]}

    def write_cell(self, cid: str, row: dict, arrays: dict) -> None:
        """Record a finished cell (its row and raw arrays in one file), then drop its task parts."""
        self._write_bundle(self.cell_file(cid), arrays, {"row": row})
        self._rows[cid] = json.loads(dump_json(row))  # as read back from the file
        parts = self.path / "tasks" / cid
        if parts.exists():
            shutil.rmtree(parts, ignore_errors=True)

    def read_row(self, cid: str) -> dict:
        if cid not in self._rows:
            self._rows[cid] = self._read_bundle(self.cell_file(cid))[1]["row"]
        return self._rows[cid]

    def read_arrays(self, cid: str) -> dict:
        return self._read_bundle(self.cell_file(cid))[0]

    def drop_stale_parts(self) -> None:
        """Remove task parts of cells already recorded (left by an interrupt between the two steps of
        :meth:`write_cell`)."""
        root = self.path / "tasks"
        if root.exists():
            for d in root.iterdir():
                if self.cell_done(d.name):
                    shutil.rmtree(d, ignore_errors=True)

    def finished_cells(self) -> list[str]:
        root = self.path / "cells"
        return sorted(p.stem for p in root.glob("*.npz")) if root.exists() else []

    # ------------------------------------------------------------------ table and provenance
    def write_table(self, frame: Any) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        self.tmp.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp / f"cells.parquet.{uuid.uuid4().hex}"
        pq.write_table(table, tmp)
        os.replace(tmp, self.path / "cells.parquet")

    def append_provenance(self, record: dict) -> None:
        path = self.path / "provenance.json"
        runs = json.loads(path.read_text())["runs"] if path.exists() else []
        runs.append(record)
        self._write_file(path, dump_json({"runs": runs}).encode("utf-8"))
