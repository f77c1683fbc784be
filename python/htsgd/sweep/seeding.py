"""Per-cell seeds: a pure function of the root seed and the cell's canonical parameters.

The rule (stable across versions of this module; changing it changes every stored sweep):

1. The cell's canonical model (:func:`htsgd.sweep.spec.canonical_model`: defaults filled in, numbers as
   floats) and the measurement type form the document ``{"measure": TYPE, "model": MODEL}``.
2. It is written as JSON with sorted keys, no spaces, floats by Python's shortest round-trip ``repr``
   (``Infinity`` for inf), and hashed with SHA-256.
3. The first 16 bytes, read as four little-endian uint32 words, are the spawn key:
   ``numpy.random.SeedSequence(root_seed, spawn_key=(w0, w1, w2, w3))`` is the cell's seed.

So a cell's stream never depends on its position in the grid, the chunking or the scheduling, and the same
cell gives the same bits in every sweep with the same root seed that contains it. The measurement's sizes
(``n_particles``, ``max_steps``, ...) are not hashed: more particles of a cell extend its stream (particle
ids address it), they do not replace it. ``rng=SeedSequence(seed_entropy, spawn_key=seed_spawn_key)`` with
the stored columns replays a cell alone through the public API.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np


def canonical_json(obj: object) -> str:
    """JSON with sorted keys and no spaces (floats by shortest repr, inf as ``Infinity``)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)


def cell_digest(model: dict, measure_type: str) -> bytes:
    """SHA-256 of the cell's canonical document (see the module docstring)."""
    return hashlib.sha256(canonical_json({"measure": measure_type, "model": model}).encode("utf-8")).digest()


def cell_spawn_key(model: dict, measure_type: str) -> tuple[int, int, int, int]:
    """The four uint32 words of the spawn key of a cell."""
    d = cell_digest(model, measure_type)
    return tuple(int.from_bytes(d[4 * i:4 * i + 4], "little") for i in range(4))  # type: ignore[return-value]


def cell_id(model: dict, measure_type: str) -> str:
    """A stable name of the cell (32 hex digits of its digest): its directory in the sweep's storage."""
    return cell_digest(model, measure_type)[:16].hex()


def cell_seed(root_seed: int, model: dict, measure_type: str) -> np.random.SeedSequence:
    """The cell's ``SeedSequence``: ``SeedSequence(root_seed, spawn_key=cell_spawn_key(model, measure_type))``.

    Parameters
    ----------
    root_seed : int
        The sweep's ``seed``.
    model : dict
        The cell's canonical model (``Sweep.expand()[i].model``).
    measure_type : str
        ``"exit_times"``, ``"run"``, ``"exit_probability"`` or ``"mean_exit_time"``.

    Returns
    -------
    numpy.random.SeedSequence
    """
    return np.random.SeedSequence(int(root_seed), spawn_key=cell_spawn_key(model, measure_type))
