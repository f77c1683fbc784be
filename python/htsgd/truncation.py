"""``phi_b``: the truncation of a step, as the engine applies it (exposed for checks and for users)."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import _core
from ._validation import check_array, check_choice, check_positive


def truncate(step: Any, b: float | None, clip: str = "norm") -> np.ndarray:
    """Clip steps: ``phi_b(w) = w / |w| * min(|w|, b)``.

    Parameters
    ----------
    step : array_like, shape (d,) or (n, d), or a scalar
        One step or a batch of steps (one per row).
    b : float or None
        Truncation threshold ``> 0``; None or inf returns the steps unchanged.
    clip : {"norm", "coordinate"}
        Clip each row by its Euclidean norm (the theory's ``phi_b``), or each coordinate to ``[-b, b]``.

    Returns
    -------
    ndarray
        The clipped steps, same shape as ``step``, each of length ``<= b`` (infinite components get length
        ``b`` shared among them, as the engine does). A NaN makes what its clip acts on NaN: the whole row
        with ``clip="norm"``, that coordinate with ``clip="coordinate"``; the engine flags such particles.
    """
    w = check_array("step", step, ndim=(0, 1, 2), allow_nonfinite=True, allow_nan=True)
    b = float("inf") if b is None else check_positive("b", b, allow_inf=True)
    clip = check_choice("clip", clip, ("norm", "coordinate"))
    rows = np.ascontiguousarray(w.reshape(-1, w.shape[-1] if w.ndim else 1))
    return _core.truncate(rows, b, clip == "coordinate").reshape(w.shape)
