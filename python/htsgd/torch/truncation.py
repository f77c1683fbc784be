"""Truncation ``phi_b`` of a step, for lists of torch tensors: by global norm, per tensor, or per coordinate.

``phi_b(w) = w / |w| * min(|w|, b)``. Every function here stays on the device: the norm and the clipping
coefficient are tensors, never read back from a GPU (no ``.item()``), so a step never waits for the device
(CPU tensors are read back where that saves work: see below).

The coefficient is ``b / max(|w|, b)``: exactly 1 when ``|w| <= b`` (the step is left bit for bit as it was)
and ``b / |w|`` otherwise; a zero step stays zero, and nothing divides by zero.

Extreme steps keep ``|phi_b(w)| <= b`` as the simulator's ``truncate_norm`` does
(``cpp/include/htsgd/truncation.hpp``): when the ordinary coefficient fails (an infinite component, a norm
whose square overflows, or a subnormal ``b / |w|``), :func:`repair_clip` gives infinite components a step of
length ``b`` along them (equal shares, signs kept) and clips a huge finite step in its own direction (norm
taken on a copy scaled by a power of two). A NaN component makes the whole truncated step NaN (every
tensor clipped by that norm), so the parameters show it instead of moving by an unclipped part;
``clip="coordinate"`` turns only that coordinate into NaN. Ordinary steps are unchanged bit for bit and cost
no extra pass: on CPU the coefficient is read back (a memory read, there is no device to wait for) and the
repair runs only when needed; on every other device the repair is computed on the device and selected with
``torch.where``, so a step never synchronises with the host.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, NamedTuple

import torch
from torch import Tensor

from .._validation import check_choice, check_positive

__all__ = ["CLIPS", "CLIP_ALIASES", "Repair", "canonical_clip", "check_truncation", "clip_coefficient",
           "coordinate_bound", "global_norm", "norm_dtype", "ordinary_on_host", "phi_b", "repair_clip",
           "tensor_norms"]

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
        The truncated step, of the same structure as ``tensors``: of norm at most ``b`` (up to rounding)
        for every input; extreme and NaN steps as described in :mod:`htsgd.torch.truncation`.
    """
    b, clip = check_truncation(b, clip)
    single = isinstance(tensors, Tensor)
    ts = [tensors] if single else list(tensors)
    if b is None:
        out = [t.clone() for t in ts]
    elif clip == "coordinate":
        out = [t.clamp(-coordinate_bound(b, 1.0, t.dtype), coordinate_bound(b, 1.0, t.dtype)) for t in ts]
    elif clip == "tensor":
        out = [o for t in ts for o in _clip_unit([t], b)]
    else:
        out = _clip_unit(ts, b)
    return out[0] if single else out


def _clip_unit(ts: list[Tensor], b: float) -> list[Tensor]:
    """``phi_b`` of the tensors ``ts`` by their joint norm, out of place."""
    if not ts:
        return []
    coef = clip_coefficient(global_norm(ts), b)
    rep = repair_clip(ts, [1.0] * len(ts), coef, b)
    if rep is None:
        return [t * coef.to(t.device) for t in ts]
    return [u * torch.where(rep.ordinary, coef, rep.scale).to(u.device)
            for u in rep.steps]


def coordinate_bound(b: float, lr: float, dtype: torch.dtype) -> float:
    """The bound ``b / lr`` of ``clip="coordinate"`` on ``d`` (the step is ``lr * d``), capped at the largest
    finite ``dtype`` value: a bound that rounds to inf (tiny ``lr``) would let an infinite component through."""
    bound = b / lr if lr > 0 else math.inf
    return min(bound, torch.finfo(dtype).max)


# ----------------------------------------------------------------------------------------------------------
# extreme steps (what cpp/include/htsgd/truncation.hpp does in the simulator), on the device
# ----------------------------------------------------------------------------------------------------------
#: On CPU, read the coefficient back and run :func:`repair_clip`'s device computation only when the ordinary
#: clip fails (a memory read: CPU tensors have no device to synchronise with). False: always compute it on
#: the device and select with ``torch.where``, as on CUDA (the tests use this to check that path on CPU).
HOST_CHECK_ON_CPU = True


class Repair(NamedTuple):
    """What replaces the ordinary ``d * (-lr * coefficient)`` of a unit of tensors clipped by one norm.

    The step of tensor ``i`` is ``steps[i] * where(ordinary, ordinary factor, scale)``: ``steps[i]`` equals
    ``d_i`` bit for bit where ``ordinary`` holds, so the ordinary step is unchanged.
    """
    ordinary: Tensor  # 0-dim bool: the ordinary coefficient is right
    steps: list[Tensor]  # per tensor: d (ordinary), else lr d 2^-E (huge), else sign(d) on infinite components
    scale: Tensor  # b / |steps| (NaN with a NaN component), the factor of ``steps`` when not ordinary
    norm: Tensor  # |lr d|: as computed when ordinary, else inf (infinite components), NaN, or |steps| 2^E


def _max_abs(t: Tensor) -> Tensor:
    """``max |t|`` in the norm dtype (NaN if ``t`` has a NaN; 0 for an empty tensor)."""
    dtype = norm_dtype(t.dtype)
    if t.numel() == 0:
        return torch.zeros((), dtype=dtype, device=t.device)
    if t.device.type == "cpu":  # one pass, far faster on CPU than the inf-norm
        low, high = torch.aminmax(t)
        return torch.maximum(low.neg(), high).to(dtype)
    return torch.linalg.vector_norm(t, math.inf, dtype=dtype)


def _maxima(directions: Sequence[Tensor], foreach: bool) -> list[Tensor]:
    """``max |d|`` of each tensor (exact in any dtype: no rounding), by one multi-tensor kernel if ``foreach``."""
    if not foreach or any(d.numel() == 0 for d in directions):
        return [_max_abs(d) for d in directions]
    return list(torch._foreach_norm(list(directions), math.inf))


def ordinary_on_host(directions: Sequence[Tensor], coefficients: Sequence[Tensor]) -> bool:
    """True when every ordinary coefficient is known to be right without a device synchronisation: every
    tensor on CPU (read back: a memory read) and :data:`HOST_CHECK_ON_CPU`; False means "unknown" elsewhere."""
    if not HOST_CHECK_ON_CPU or not all(t.is_cpu for t in directions) or not all(c.is_cpu for c in coefficients):
        return False
    if len(coefficients) > 1 and len({c.dtype for c in coefficients}) == 1:
        coefficients = [torch.stack(list(coefficients)).amin()]  # NaN if any is NaN
    return all(c.item() >= _TINY[c.dtype] for c in coefficients)


_TINY = {t: torch.finfo(t).tiny for t in (torch.float64, torch.float32, torch.float16, torch.bfloat16)}


def repair_clip(directions: Sequence[Tensor], lrs: Sequence[float], coefficient: Tensor, b: float,
                norm: Tensor | None = None, foreach: bool = False) -> Repair | None:
    """Make ``phi_b`` of the step ``w = lrs[i] * directions[i]`` (one norm over all tensors) safe for every input.

    Parameters
    ----------
    directions : sequence of torch.Tensor
        The unit of tensors clipped by one norm (real floating dtypes).
    lrs : sequence of float
        The learning rate of each tensor (``>= 0``; several param groups may share one norm).
    coefficient : torch.Tensor
        The ordinary factor ``b / max(|w|, b)`` (0-dimensional): right when it is at least the smallest
        normal number of its dtype; NaN iff ``w`` has a NaN component; 0 when ``|w|`` overflowed.
    b : float
        The truncation threshold.
    norm : torch.Tensor, optional
        The ordinary ``|w|``, returned as :attr:`Repair.norm` where it is right.
    foreach : bool
        Reduce with ``torch._foreach_*`` ops (fewer kernels for many tensors on a GPU; the same result).

    Returns
    -------
    Repair or None
        None when the ordinary step is right and that is known on the host (every tensor on CPU, see
        :data:`HOST_CHECK_ON_CPU`); otherwise the replacement, computed without reading anything back:
        ``w`` with infinite components becomes ``b`` along them (``b / sqrt(k)`` on each of ``k`` infinite
        components, signs kept, 0 elsewhere); a finite ``w`` becomes ``b * w / |w|`` with ``|w|`` taken on
        ``w * 2^-E`` (``2^E`` just above ``max |w_i|``), which neither overflows nor leaves a subnormal
        factor; a NaN component makes the whole step NaN.
    """
    if ordinary_on_host(directions, [coefficient]):
        return None
    ordinary = coefficient >= torch.finfo(coefficient.dtype).tiny  # False for NaN, 0 and subnormal factors
    device = coefficient.device
    dtype = torch.float64 if any(d.dtype == torch.float64 for d in directions) else torch.float32
    maxima = [m.to(device=device, dtype=dtype) for m in _maxima(directions, foreach)]
    by_lr: dict[float, list[Tensor]] = {}
    for m, lr in zip(maxima, lrs, strict=True):
        by_lr.setdefault(lr, []).append(m)
    # E: the exponent of max_i lr_i max|d_i| (2^E above every |w_j|), added up from the exponents of lr and
    # of max|d| (their product may overflow)
    exponents = {lr: torch.frexp(torch.stack(ms).amax()).exponent + math.frexp(lr)[1] for lr, ms in by_lr.items()}
    top = next(iter(exponents.values())) if len(exponents) == 1 else torch.stack(list(exponents.values())).amax()
    has_nan = torch.isnan(coefficient)
    has_inf = torch.isinf(torch.stack(maxima).amax())
    one = torch.ones((), dtype=dtype, device=device)
    zero = torch.zeros((), dtype=dtype, device=device)
    # the factor of d: ordinary: 1 (d * 1 is d); huge: lr 2^-E (components at most 1 in absolute value);
    # infinite: 0 (inf * 0 is NaN -> 1 -> the sign of d; finite components +-0)
    factors = {lr: torch.where(ordinary, one, torch.where(has_inf, zero, torch.ldexp(one * math.frexp(lr)[0],
                                                                                    math.frexp(lr)[1] - top)))
               for lr in by_lr}
    cast: dict[tuple, Tensor] = {}
    steps = []
    for d, lr in zip(directions, lrs, strict=True):
        key = (lr, d.device, d.dtype)
        if key not in cast:
            cast[key] = factors[lr].to(device=d.device, dtype=d.dtype)
        steps.append(torch.mul(d, cast[key]).nan_to_num_(nan=1.0).copysign_(d))
    safe_norm = global_norm(steps, foreach).to(device)  # >= 1/4 when not ordinary (1 with infinite components)
    scale = torch.where(has_nan, torch.full_like(safe_norm, math.nan), b / safe_norm)
    if norm is None:
        return Repair(ordinary, steps, scale, safe_norm)
    half = top // 2  # |w| = |steps| 2^E, in two factors of 2 (2^E alone may overflow where |w| does not)
    big = torch.ldexp(torch.ldexp(safe_norm.to(norm.dtype), half), top - half)
    big = torch.where(has_inf, torch.full_like(big, math.inf), big)
    fixed = torch.where(ordinary, norm, torch.where(has_nan, torch.full_like(big, math.nan), big))
    return Repair(ordinary, steps, scale, fixed)
