"""TOML reading (the standard library's ``tomllib``, ``tomli`` before Python 3.11) and a writer for the subset
a sweep spec uses: scalars (``inf`` included), lists, inline tables and tables, ``[[cells]]`` arrays of tables."""
from __future__ import annotations

import math
import re
import sys
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def loads(text: str) -> dict:
    """Parse TOML; a syntax error becomes ``ValueError("Invalid sweep TOML: ...")``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"Invalid sweep TOML: {exc}") from None


def _key(name: str) -> str:
    if _BARE.match(name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    if hasattr(v, "item"):  # numpy scalars
        return _value(v.item())
    raise TypeError(f"Invalid sweep value: {v!r} cannot be written as TOML")


def dumps(data: dict) -> str:
    """Write a dict whose values are scalars/lists/inline tables, tables of those, or lists of such tables."""
    head, tables, arrays = [], [], []
    for k, v in data.items():
        if isinstance(v, dict):
            tables.append((k, v))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            arrays.append((k, v))
        elif v is not None:
            head.append(f"{_key(k)} = {_value(v)}")
    lines = head
    for k, table in tables:
        lines += ["", f"[{_key(k)}]"] + [f"{_key(n)} = {_value(x)}" for n, x in table.items() if x is not None]
    for k, items in arrays:
        for item in items:
            lines += ["", f"[[{_key(k)}]]"] + [f"{_key(n)} = {_value(x)}" for n, x in item.items() if x is not None]
    return "\n".join(lines) + "\n"
