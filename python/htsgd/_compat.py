"""Spellings of 0.2.0 that still work, with a ``DeprecationWarning``."""
from __future__ import annotations

import warnings
from typing import Any


def keyword_only(method: str, args: tuple, names: tuple[str, ...], given: dict[str, Any],
                 defaults: dict[str, Any]) -> dict[str, Any]:
    """Map the arguments passed by position beyond the new ``*`` onto their names (0.2.0's order).

    ``given`` holds the keyword values as received, ``defaults`` their defaults; a name passed both ways is a
    ``TypeError``, as Python would raise.
    """
    if not args:
        return given
    if len(args) > len(names):
        raise TypeError(f"{method}() takes at most {len(names)} optional positional arguments "
                        f"({', '.join(names)}), got {len(args)}")
    out = dict(given)
    for name, value in zip(names, args):
        if given[name] is not defaults[name]:
            raise TypeError(f"{method}() got multiple values for argument {name!r}")
        out[name] = value
    warnings.warn(f"{method}(): passing {', '.join(names[:len(args)])} by position is deprecated since 0.2.1; "
                  f"pass {'it' if len(args) == 1 else 'them'} by keyword", DeprecationWarning, stacklevel=3)
    return out
