"""The sweep spec: a base model, grid axes over its fields, extra cells, one measurement and a root seed.

A spec is plain data (dicts, lists, numbers, strings), so it travels to Dask workers as it is and round-trips
through TOML (:mod:`htsgd.sweep.toml_io`). Every value is checked before anything runs: structure here (unknown
keys and types, empty axes), values by the model's own constructors and a probe call of the measurement
(:mod:`htsgd.sweep.tasks`), each error prefixed with the spec key that holds the value.
"""
from __future__ import annotations

import copy
import itertools
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

#: Landscape types: required and optional parameters (the constructors of :mod:`htsgd.landscapes`).
LANDSCAPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "DoubleWell": ((), ()),
    "Polynomial": (("coefficients",), ()),
    "CriticalPoints": (("points",), ("scale",)),
    "Tabulated": (("x", "grad"), ()),
    "Quadratic": (("hessian",), ("center",)),
    "Separable": (("component", "dim"), ()),
}
#: Noise laws: required and optional parameters (the constructors of :mod:`htsgd.noise`).
NOISES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Pareto": (("alpha",), ("scale",)),
    "Stable": (("alpha",), ("scale",)),
    "StudentT": (("df",), ("scale",)),
    "Gaussian": ((), ("scale",)),
}
#: Fields of the model (the arguments of :class:`htsgd.HeavyTailedSGD`) and their defaults.
MODEL_DEFAULTS: dict[str, Any] = {"truncation": math.inf, "bounds": None, "clip": "norm", "isotropic": False}
MODEL_REQUIRED = ("landscape", "noise", "lr")
MODEL_KEYS = MODEL_REQUIRED + tuple(MODEL_DEFAULTS)
#: Measurements: required and optional arguments (keyword arguments of the HeavyTailedSGD method).
MEASURES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "exit_times": (("x0", "domain", "n_particles", "max_steps"), ()),
    "run": (("x0", "n_steps", "n_particles"), ("basin",)),
    "exit_probability": (("x0", "domain", "horizon"),
                         ("method", "n_samples", "target_rel_error", "gamma", "weight", "side")),
    "mean_exit_time": (("x0", "domain"), ("method", "n_samples", "target_rel_error", "horizons", "max_steps",
                                          "gamma", "weight", "side")),
}
TOP_KEYS = ("seed", "model", "grid", "cells", "measure")
_INT_FIELDS = {"dim"}  # landscape parameters that stay integers in the canonical form


def _fail(key: str, value: Any, expected: str) -> ValueError:
    return ValueError(f"Invalid {key}: {value!r}; expected {expected}")


def _names(options: Any) -> str:
    return ", ".join(repr(o) for o in options)


def _check_table(key: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise TypeError(f"Invalid {key}: expected a table (dict), got {type(value).__name__}")
    return value


def _check_typed(key: str, value: Any, kinds: dict) -> None:
    """A ``{type = ..., params...}`` table (landscape or noise law) with known type and parameter names."""
    table = _check_table(key, value)
    kind = table.get("type")
    if kind not in kinds:
        raise _fail(f"{key}.type", kind, f"one of {_names(kinds)}")
    required, optional = kinds[kind]
    for name in table:
        if name != "type" and name not in required + optional:
            raise _fail(f"{key} key", name, f"one of {_names(required + optional)} for type {kind!r}")
    for name in required:
        if name not in table:
            raise ValueError(f"Invalid {key}: type {kind!r} needs the key {name!r}")
    if kind == "Separable":
        _check_typed(f"{key}.component", table["component"], LANDSCAPES)


def check_model(key: str, model: Any) -> None:
    """Structure of a model table: known keys, the required ones, typed landscape and noise tables."""
    _check_table(key, model)
    for name in model:
        if name not in MODEL_KEYS:
            raise _fail(f"{key} key", name, f"one of {_names(MODEL_KEYS)}")
    for name in MODEL_REQUIRED:
        if name not in model:
            raise ValueError(f"Invalid {key}: the key {name!r} is required")
    _check_typed(f"{key}.landscape", model["landscape"], LANDSCAPES)
    _check_typed(f"{key}.noise", model["noise"], NOISES)


def _check_measure(measure: Any) -> dict:
    _check_table("measure", measure)
    kind = measure.get("type")
    if kind not in MEASURES:
        raise _fail("measure.type", kind, f"one of {_names(MEASURES)}")
    required, optional = MEASURES[kind]
    for name in measure:
        if name != "type" and name not in required + optional:
            raise _fail("measure key", name, f"one of {_names(required + optional)} for type {kind!r}")
    for name in required:
        if name not in measure:
            raise ValueError(f"Invalid measure: type {kind!r} needs the key {name!r}")
    return measure


def _check_path(key: str, path: str) -> None:
    head = path.split(".")[0]
    if head not in MODEL_KEYS:
        raise _fail(key, path, f"a model field ({_names(MODEL_KEYS)}) or a nested field such as 'noise.alpha'")
    if "." in path and head not in ("landscape", "noise"):
        raise _fail(key, path, "a nested field of 'landscape' or 'noise' only")


def set_path(model: dict, path: str, value: Any) -> None:
    """Set the field ``path`` ("lr", "noise.alpha", "landscape.component.points") of a model table in place."""
    parts = path.split(".")
    target = model
    for p in parts[:-1]:
        target = target[p]
    target[parts[-1]] = copy.deepcopy(value)


def get_path(model: dict, path: str) -> Any:
    target = model
    for p in path.split("."):
        target = target[p]
    return target


def _canonical_number(value: Any, integer: bool = False) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral) and integer:
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, dict):
        return {k: _canonical_number(v, k in _INT_FIELDS) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical_number(v, integer) for v in value]
    return value


def canonical_model(model: dict) -> dict:
    """The model with defaults filled in and numbers as floats (``dim`` stays an int): the identity of a cell.

    ``lr = 1`` and ``lr = 1.0``, a missing ``truncation`` and ``truncation = inf`` are the same cell.
    """
    out = {**MODEL_DEFAULTS, **copy.deepcopy(model)}
    if out["truncation"] is None:
        out["truncation"] = math.inf
    return _canonical_number(out)


@dataclass(frozen=True)
class Cell:
    """One point of the sweep: its label (the axis values) and its full canonical model."""

    label: dict  # spec key -> value, in column order
    model: dict  # canonical model table


@dataclass
class Sweep:
    """A parameter study: ``measure`` of the ``model`` at every cell of ``grid`` (cartesian product) and ``cells``.

    Parameters
    ----------
    model : dict
        The base model: ``landscape`` (``{"type": "DoubleWell"}``, ``{"type": "CriticalPoints", "points": [...]}``,
        ...), ``noise`` (``{"type": "Pareto", "alpha": 1.5, "scale": 0.2}``, ...), ``lr``, and optionally
        ``truncation`` (inf: none), ``bounds``, ``clip``, ``isotropic``: the arguments of
        :class:`htsgd.HeavyTailedSGD`.
    grid : dict
        Axis name -> non-empty list of values. Names are model fields (``"lr"``, ``"truncation"``) or nested
        fields (``"noise.alpha"``, ``"noise.scale"``, ``"landscape.points"``); a whole ``"noise"`` or
        ``"landscape"`` table may be an axis too.
    measure : dict
        ``type`` (``"exit_times"``, ``"run"``, ``"exit_probability"``, ``"mean_exit_time"``) and the keyword
        arguments of that method (sizes included; ``rng`` and ``n_threads`` are set by the sweep). ``run``
        takes ``basin`` (index in ``landscape.basins()``, default: the basin of ``x0``), whose occupancy
        fraction is the estimate.
    seed : int
        Root seed, ``>= 0``. A cell's stream derives from it and the cell's canonical parameters
        (:func:`htsgd.sweep.cell_seed`).
    cells : list of dict, optional
        Extra cells: each a dict of field -> value applied to the base model (outside the grid).
    """

    model: dict
    grid: dict = field(default_factory=dict)
    measure: dict = field(default_factory=dict)
    seed: int = 0
    cells: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.validate_structure()

    # ------------------------------------------------------------------ checks
    def validate_structure(self) -> None:
        """Unknown keys or types, missing keys, empty or repeated axes (no model is built here)."""
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral) or not 0 <= self.seed < 2**63:
            raise _fail("seed", self.seed, "an integer in [0, 2**63)")
        check_model("model", self.model)
        _check_table("grid", self.grid)
        for axis, values in self.grid.items():
            _check_path("grid key", axis)
            if not isinstance(values, (list, tuple)):
                raise TypeError(f"Invalid grid.{axis}: expected a list of values, got {type(values).__name__}")
            if len(values) == 0:
                raise _fail(f"grid.{axis}", list(values), "a non-empty list of values")
            seen = [canonical_model({"_": v})["_"] for v in values]
            for i, v in enumerate(seen):
                if v in seen[:i]:
                    raise _fail(f"grid.{axis}", list(values), f"distinct values ({values[i]!r} repeats)")
        if not isinstance(self.cells, (list, tuple)):
            raise TypeError(f"Invalid cells: expected a list of tables, got {type(self.cells).__name__}")
        for i, extra in enumerate(self.cells):
            _check_table(f"cells[{i}]", extra)
            if not extra:
                raise _fail(f"cells[{i}]", extra, "a table of at least one field -> value")
            for path in extra:
                _check_path(f"cells[{i}] key", path)
        _check_measure(self.measure)
        for cell in self.expand():
            check_model(_cell_key(cell), cell.model)

    def check(self) -> None:
        """Every rule, values included: structure, then each model built by its own constructors and a probe
        call of the measurement per cell (one particle, one step). Errors name the spec key."""
        self.validate_structure()
        from .tasks import check_values

        check_values(self)

    # ------------------------------------------------------------------ cells
    @property
    def axes(self) -> list[str]:
        """Column names: the grid axes in spec order, then fields set only by extra cells."""
        names = list(self.grid)
        for extra in self.cells:
            names += [k for k in extra if k not in names]
        return names

    def expand(self) -> list[Cell]:
        """Every cell in a fixed order: the grid's cartesian product (last axis fastest), then the extra cells.

        A cell listed twice (an extra cell on the grid) appears once.
        """
        axes, out, seen = self.axes, [], set()
        settings = [dict(zip(self.grid, combo)) for combo in itertools.product(*self.grid.values())]
        settings += [dict(extra) for extra in self.cells]
        for setting in settings:
            model = copy.deepcopy(self.model)
            for path, value in setting.items():
                try:
                    set_path(model, path, value)
                except (KeyError, TypeError):
                    raise ValueError(f"Invalid {path}: the base model has no field {path!r} to set") from None
            canonical = canonical_model(model)
            key = repr(canonical)
            if key in seen:
                continue
            seen.add(key)
            label = {name: get_path(canonical, name) if _has_path(canonical, name) else None for name in axes}
            out.append(Cell(label=label, model=canonical))
        return out

    # ------------------------------------------------------------------ data
    def to_dict(self) -> dict:
        """The spec as plain data (what the TOML file holds)."""
        out: dict[str, Any] = {"seed": int(self.seed), "model": copy.deepcopy(self.model)}
        if self.grid:
            out["grid"] = {k: list(copy.deepcopy(v)) for k, v in self.grid.items()}
        if self.cells:
            out["cells"] = copy.deepcopy(list(self.cells))
        out["measure"] = copy.deepcopy(self.measure)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> "Sweep":
        """Build a sweep from plain data (a parsed TOML document); unknown top-level keys are rejected."""
        _check_table("sweep", data)
        for name in data:
            if name not in TOP_KEYS:
                raise _fail("sweep key", name, f"one of {_names(TOP_KEYS)}")
        for name in ("seed", "model", "measure"):
            if name not in data:
                raise ValueError(f"Invalid sweep: the key {name!r} is required")
        return cls(model=data["model"], grid=data.get("grid", {}), measure=data["measure"], seed=data["seed"],
                   cells=data.get("cells", []))

    def to_toml(self) -> str:
        """The spec as TOML text; ``Sweep.from_toml(s.to_toml()) == s``."""
        from .toml_io import dumps

        return dumps(self.to_dict())

    @classmethod
    def from_toml(cls, text: str) -> "Sweep":
        """Parse TOML text (see :meth:`to_toml`)."""
        from .toml_io import loads

        return cls.from_dict(loads(text))

    @classmethod
    def load(cls, path: Any) -> "Sweep":
        """Read a TOML spec file."""
        with open(path, encoding="utf-8") as fh:
            return cls.from_toml(fh.read())

    def save(self, path: Any) -> None:
        """Write the spec as a TOML file."""
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(self.to_toml())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sweep):
            return NotImplemented
        return _plain(self.to_dict()) == _plain(other.to_dict())


def _plain(value: Any) -> Any:
    """Canonical numbers, None-valued keys dropped (TOML has no null): what a TOML round trip preserves."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return _canonical_number(value)


def _has_path(model: dict, path: str) -> bool:
    try:
        get_path(model, path)
        return True
    except (KeyError, TypeError):
        return False


def _cell_key(cell: Cell) -> str:
    inner = ", ".join(f"{k}={v!r}" for k, v in cell.label.items())
    return f"cell {{{inner}}}"
