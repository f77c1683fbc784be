"""The first half of a step on the single-tensor path, tensor by tensor while each tensor is in cache.

The single-tensor path (``foreach=False``, the CPU default) computes, for each tensor in turn, everything
that reads it before the global norm is known: the noisy gradient, ``torch.optim.SGD``'s direction
(momentum), the update of the moving-average reference and the tensor's norm. The operations and their
order within a tensor are exactly those of the stage-by-stage form (noise for all tensors, then directions
for all, then norms for all), so the bits are the same; only the order across tensors changes, which no
result depends on. A tensor of 1e5 float32 numbers (400 KB per operand) then stays in the core's cache
from one operation to the next, where stage by stage every operation streams all parameters through
memory again (``bench/bench_torch_optimizer.py --profile`` times both).

A noisy gradient that only feeds the momentum buffer (``momentum != 0``) is written to one scratch buffer
per device and dtype, reused for every tensor and every step, instead of a parameter-sized workspace.

A float32 CPU tensor goes through one C++ pass instead of torch's operations
(``htsgd._core.direction_pass_f32``, cpp/include/htsgd/direction_pass.hpp): the multiplicative noisy
gradient, ``torch.optim.SGD``'s direction (maximize, weight decay, momentum, dampening, Nesterov) and the
moving-average update read and write each operand once, with torch's rounding (its CPU kernels' form of
lerp and add, read from ``torch.backends.cpu.get_cpu_capability()``), so the bits are again those of the
stage-by-stage form. A momentum buffer's first step and the noise-free step keep torch's operations.
"""
from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence

import torch
from torch import Tensor

from .noise import cast_finite
from .truncation import tensor_norms

__all__ = ["chained_directions", "single_direction"]

Scratch = MutableMapping[tuple, Tensor]


def single_direction(i: int, param: Tensor, grad: Tensor, momentum_buffer_list: list[Tensor | None], *,
                     weight_decay: float, momentum: float, dampening: float, nesterov: bool,
                     maximize: bool) -> Tensor:
    """``torch.optim.SGD``'s direction of tensor ``i`` (the body of its ``_single_tensor_sgd`` loop, up to
    the update); a new momentum buffer is written into ``momentum_buffer_list[i]``."""
    grad = grad if not maximize else -grad
    if weight_decay != 0:
        grad = grad.add(param, alpha=weight_decay)
    if momentum != 0:
        buf = momentum_buffer_list[i]
        if buf is None:
            buf = grad.detach().clone()
            momentum_buffer_list[i] = buf
        else:
            buf.mul_(momentum).add_(grad, alpha=1 - dampening)
        grad = grad.add(buf, alpha=momentum) if nesterov else buf
    return grad


# torch's CPU capabilities whose lerp and add the fused pass reproduces: True where they round once (a fused
# multiply-add), False where twice; any other capability keeps torch's own operations.
_LERP_FUSED = {"AVX512": True, "AVX2": True, "DEFAULT": False}


def _fused_pass():
    """``htsgd._core.direction_pass_f32`` and whether torch's lerp and add are fused, or None where the pass
    cannot reproduce torch's bits (no core, or a CPU capability not in ``_LERP_FUSED``)."""
    try:
        from .. import _core  # noqa: PLC0415
        kernel = _core.direction_pass_f32
    except (ImportError, AttributeError):  # pragma: no cover - the package always ships _core
        return None
    fused = _LERP_FUSED.get(torch.backends.cpu.get_cpu_capability())
    return None if fused is None else (kernel, fused)


def _plain_f32(*ts: Tensor | None) -> bool:
    return all(t is not None and t.device.type == "cpu" and t.dtype == torch.float32 and t.is_contiguous()
               for t in ts)


def _array(t: Tensor | None):
    return None if t is None else t.detach().numpy()


def _fused_direction(i: int, param: Tensor, grad: Tensor, momentum_buffer_list: list[Tensor | None],
                     found: tuple[Callable, bool] | None, *,
                     ref: Tensor | None = None, z: Tensor | None = None, noisy: Tensor | None = None,
                     consumable: bool = False, out: Callable[[], Tensor | None] | None = None,
                     update_weight: float | None = None, weight_decay: float, momentum: float, dampening: float,
                     nesterov: bool, maximize: bool) -> Tensor | None:
    """The direction of tensor ``i`` by the fused pass (module docstring), from the multiplicative mode's
    ``ref`` and ``z`` (with the moving-average update of ``ref`` when ``update_weight`` is given) or from
    the additive mode's ``noisy`` gradient; None where the pass does not apply and torch's operations run:
    another dtype or device, the first step of a momentum buffer, a consumed reference that is also a
    moving average. ``out``: a workspace for a direction that is not the momentum buffer (called only then:
    it allocates). ``found``: :func:`_fused_pass`'s answer."""
    if found is None:
        return None
    buf = momentum_buffer_list[i] if momentum != 0 else None
    if (momentum != 0 and buf is None) or (update_weight is not None and consumable):
        return None
    source = ref if ref is not None else noisy
    if source is None or source.shape != grad.shape or not _plain_f32(grad, source):
        return None
    if buf is not None and (buf.shape != grad.shape or not _plain_f32(buf)):
        return None
    if weight_decay != 0 and (param.shape != grad.shape or not _plain_f32(param)):
        return None
    kernel, fused = found
    target = None
    if buf is None or nesterov:  # the direction is not the buffer: where torch's operations would not alias
        if noisy is not None:
            target = noisy  # the additive workspace (never the gradient: the caller sees to it)
        elif consumable:
            target = ref
        else:
            workspace = out() if out is not None else None
            target = workspace if workspace is not None and _plain_f32(workspace) else torch.empty_like(grad)
    kernel(_array(grad), ref=_array(ref), noisy=_array(noisy), param=_array(param) if weight_decay != 0 else None,
           buf=_array(buf), out=_array(target), z=0.0 if z is None else float(z),
           weight=0.0 if update_weight is None else float(update_weight), update_ref=update_weight is not None,
           decay=weight_decay != 0, weight_decay=float(weight_decay), maximize=maximize, momentum=float(momentum),
           alpha=float(1 - dampening), nesterov=nesterov, fused=fused, n_threads=torch.get_num_threads())
    return target if target is not None else buf


def _scratch_like(scratch: Scratch, t: Tensor, numel: int) -> Tensor:
    """A contiguous tensor shaped like ``t`` inside the scratch buffer of its device and dtype (``numel``:
    the size the buffer should have, the largest tensor of the step)."""
    key = (t.device, t.dtype)
    buf = scratch.get(key)
    if buf is None or buf.numel() < t.numel():
        buf = scratch[key] = torch.empty(max(numel, t.numel()), dtype=t.dtype, device=t.device)
    return buf[: t.numel()].view(t.shape)


def chained_directions(
    params: list[Tensor],
    noisy_of: Callable[[int], Tensor] | None,
    grads: list[Tensor],
    momentum_buffer_list: list[Tensor | None],
    *,
    multiplicative: tuple[Sequence[Tensor | None], Tensor, Sequence[bool]] | None = None,
    out: Sequence[Tensor | None] | None = None,
    scratch: Scratch | None = None,
    update_references: tuple[Sequence[Tensor | None], Sequence[bool], float] | None = None,
    norms: list[Tensor] | None = None,
    taken_in: Sequence[bool] | None = None,
    weight_decay: float,
    momentum: float,
    dampening: float,
    nesterov: bool,
    maximize: bool,
) -> list[Tensor]:
    """Directions ``d`` tensor by tensor (see the module docstring); the same bits as stage by stage.

    Parameters
    ----------
    params, grads, momentum_buffer_list : as :func:`htsgd.torch._functional.heavy_tailed_directions`.
    noisy_of : callable, optional
        ``i -> noisy gradient`` of tensor ``i`` when it is already computed (additive noise); None with
        ``multiplicative`` or without noise (then ``grads[i]``).
    multiplicative : (reference_grads, multiplier, consumable), optional
        The multiplicative mode: ``g_ref + Z * (g - g_ref)`` as ``torch.lerp(g_ref, g, Z)`` (``Z`` cast to
        each dtype with :func:`htsgd.torch.noise.cast_finite`); a ``None`` reference means no noise; a
        consumable reference may be overwritten when there is no scratch.
    out : sequence of torch.Tensor, optional
        Workspaces for noisy gradients that outlive their tensor's turn (no momentum).
    scratch : mutable mapping, optional
        ``(device, dtype) -> flat tensor``, kept by the caller between steps (grown as needed): where the
        noisy gradient goes when only the momentum buffer reads it.
    update_references : (references, mask, weight), optional
        After tensor ``i`` is used, ``references[i].lerp_(grads[i], weight)`` where ``mask[i]`` (the
        moving-average reference of the multiplicative mode).
    norms : list, optional
        If given, the norm of each direction is appended to it (as
        :func:`htsgd.torch.truncation.tensor_norms` computes it).
    taken_in : sequence of bool, optional
        Where True, ``noisy_of(i)`` is the momentum buffer that has already taken in the noisy gradient
        (``buf.mul_(momentum).add_(noisy)``, in the noise's pass): it is the direction as it is.
    """
    sgd = {"weight_decay": weight_decay, "momentum": momentum, "dampening": dampening, "nesterov": nesterov,
           "maximize": maximize}
    temporary = momentum != 0 and scratch is not None  # the noisy gradient is read by the momentum only
    largest = max((g.numel() for g in grads), default=0)
    cast: dict[tuple, Tensor] = {}
    found = _fused_pass()  # once per call: the C++ pass and torch's rounding, or None
    directions = []
    for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
        update = update_references is not None and update_references[1][i]
        d = None  # the direction when a C++ pass (or the noise's fill) computed it, moving average included
        if multiplicative is not None:
            refs, z, consumable = multiplicative
            ref = refs[i]
            noisy = grad
            if ref is not None:
                key = (grad.device, grad.dtype)
                if key not in cast:
                    cast[key] = cast_finite(z.to(grad.device), grad.dtype)
                if not update or update_references[0][i] is ref:  # type: ignore[index]
                    d = _fused_direction(
                        i, param, grad, momentum_buffer_list, found, ref=ref, z=cast[key], consumable=consumable[i],
                        out=(lambda: out[i]) if out is not None else None,  # type: ignore[index,misc]
                        update_weight=update_references[2] if update else None,  # type: ignore[index]
                        **sgd)
                if d is None:
                    if temporary:
                        noisy = torch.lerp(ref, grad, cast[key], out=_scratch_like(scratch, grad, largest))
                    elif consumable[i]:
                        noisy = ref.lerp_(grad, cast[key])
                    elif out is not None and out[i] is not None:
                        noisy = torch.lerp(ref, grad, cast[key], out=out[i])
                    else:
                        noisy = torch.lerp(ref, grad, cast[key])
        elif taken_in is not None and taken_in[i]:
            d = noisy_of(i)  # type: ignore[misc]
        else:
            noisy = grad if noisy_of is None else noisy_of(i)
            if noisy is not grad and (momentum != 0 or weight_decay != 0 or maximize):  # additive noise
                d = _fused_direction(i, param, grad, momentum_buffer_list, found, noisy=noisy, **sgd)
        if d is None:  # torch's operations
            d = single_direction(i, param, noisy, momentum_buffer_list, weight_decay=weight_decay,
                                 momentum=momentum, dampening=dampening, nesterov=nesterov, maximize=maximize)
            if update:
                update_references[0][i].lerp_(grad, update_references[2])  # type: ignore[union-attr]
        if norms is not None:
            norms.append(tensor_norms([d])[0])
        directions.append(d)
    return directions
