"""Truncation ``phi_b`` of a step, for lists of torch tensors: by global norm, per tensor, or per coordinate.

``phi_b(w) = w / |w| * min(|w|, b)``. Every function here stays on the device: the norm and the clipping
coefficient are tensors, never read back to the host (no ``.item()``), so a step never waits for the device.

The coefficient is ``b / max(|w|, b)``: exactly 1 when ``|w| <= b`` (the step is left bit for bit as it was)
and ``b / |w|`` otherwise; a zero step stays zero, and nothing divides by zero.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor

from .._validation import check_choice, check_positive

__all__ = ["CLIPS", "CLIP_ALIASES", "canonical_clip", "check_truncation", "clip_coefficient", "global_norm",
           "norm_dtype", "phi_b", "tensor_norms"]

#: Clipping modes, named as the simulator (:class:`htsgd.HeavyTailedSGD`) names them, plus ``"tensor"``.
CLIPS: tuple[str, ...] = ("norm", "tensor", "coordinate")
#: Older names kept working: ``"global"`` is ``"norm"``.
CLIP_ALIASES: dict[str, str] = {"global": "norm"}
Clip = Literal["norm", "global", "tensor", "coordinate"]


def canonical_clip(clip: str) -> str:
    """The canonical name of a clipping mode (``"global"`` -> ``"norm"``); no validation."""
    return CLIP_ALIASES.get(clip, clip)


def check_truncation(truncation: object, clip: object) -> tuple[float | None, str]:
    """Validate ``truncation`` (``None`` or a number ``> 0``; ``inf`` means ``None``) and ``clip``.

    Returns
    -------
    (float or None, str)
        The threshold (None: untruncated) and the canonical clipping mode.
    """
    check_choice("clip", clip, CLIPS + tuple(CLIP_ALIASES))
    clip = canonical_clip(str(clip))
    if truncation is None:
        return None, clip
    b = check_positive("truncation", truncation, allow_inf=True)
    return (None if math.isinf(b) else b), clip


_LOW_PRECISION = (torch.float16, torch.bfloat16)


def norm_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype a norm of ``dtype`` tensors is computed in: float32 for float16/bfloat16 (whose range a sum
    of squares overflows: 300 over 1e5 coordinates is already ``inf`` in float16), ``dtype`` otherwise."""
    return torch.float32 if dtype in _LOW_PRECISION else dtype


def tensor_norms(tensors: Sequence[Tensor], foreach: bool = False) -> list[Tensor]:
    """Euclidean norm of each tensor, as 0-dimensional tensors on their devices.

    Norms of float16/bfloat16 tensors are computed and returned in float32 (see :func:`norm_dtype`); the
    others in their own dtype.
    """
    ts = list(tensors)
    if foreach:
        low = [i for i, t in enumerate(ts) if t.dtype in _LOW_PRECISION]
        if not low:
            return list(torch._foreach_norm(ts))
        out: list[Tensor | None] = [None] * len(ts)
        high = [i for i, t in enumerate(ts) if t.dtype not in _LOW_PRECISION]
        if high:
            for i, n in zip(high, torch._foreach_norm([ts[i] for i in high]), strict=True):
                out[i] = n
        for i, n in zip(low, torch._foreach_norm([ts[i] for i in low], 2, dtype=torch.float32), strict=True):
            out[i] = n
        return out  # type: ignore[return-value]
    return [torch.linalg.vector_norm(t, dtype=torch.float32) if t.dtype in _LOW_PRECISION
            else torch.linalg.vector_norm(t) for t in ts]


def global_norm(tensors: Sequence[Tensor], foreach: bool = False) -> Tensor:
    """Euclidean norm of the concatenation of ``tensors`` (0-dimensional, on the first tensor's device)."""
    if len(tensors) == 0:
        return torch.zeros(())
    norms = tensor_norms(tensors, foreach)
    device = norms[0].device
    return torch.linalg.vector_norm(torch.stack([n.to(device) for n in norms]))


def clip_coefficient(norm: Tensor, b: float | None) -> Tensor:
    """``b / max(norm, b)``: the factor that brings a step of length ``norm`` within ``b`` (1 if it is).

    ``b = inf`` (or None) means no truncation: the factor is exactly 1 (never ``0 * inf = NaN``).
    """
    if b is None or math.isinf(b):
        return torch.ones_like(norm)
    return torch.clamp(norm, min=b).reciprocal().mul_(b)


def phi_b(tensors: Tensor | Sequence[Tensor], b: float | None, clip: Clip = "norm") -> Tensor | list[Tensor]:
    """Truncate a step: ``phi_b(w) = w / |w| * min(|w|, b)`` (out of place).

    Parameters
    ----------
    tensors : torch.Tensor or sequence of torch.Tensor
        The step ``w`` (for a list: one tensor per parameter).
    b : float or None
        Truncation threshold, in the units of ``w``; ``None`` or ``inf``: no truncation.
    clip : {"norm", "tensor", "coordinate"}
        ``"norm"`` (alias ``"global"``): ``|w|`` is the Euclidean norm over all tensors (the theory's);
        ``"tensor"``: each tensor is truncated by its own norm; ``"coordinate"``: each coordinate is
        clamped to ``[-b, b]``.

    Returns
    -------
    torch.Tensor or list of torch.Tensor
        The truncated step, of the same structure as ``tensors``.
    """
    b, clip = check_truncation(b, clip)
    single = isinstance(tensors, Tensor)
    ts = [tensors] if single else list(tensors)
    if b is None:
        out = [t.clone() for t in ts]
    elif clip == "coordinate":
        out = [t.clamp(-b, b) for t in ts]
    elif clip == "tensor":
        out = [t * clip_coefficient(n, b) for t, n in zip(ts, tensor_norms(ts), strict=True)]
    else:
        coef = clip_coefficient(global_norm(ts), b)
        out = [t * coef.to(t.device) for t in ts]
    return out[0] if single else out
