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
    """
    temporary = momentum != 0 and scratch is not None  # the noisy gradient is read by the momentum only
    largest = max((g.numel() for g in grads), default=0)
    cast: dict[tuple, Tensor] = {}
    directions = []
    for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
        if multiplicative is not None:
            refs, z, consumable = multiplicative
            ref = refs[i]
            if ref is None:
                noisy = grad
            else:
                key = (grad.device, grad.dtype)
                if key not in cast:
                    cast[key] = cast_finite(z.to(grad.device), grad.dtype)
                if temporary:
                    noisy = torch.lerp(ref, grad, cast[key], out=_scratch_like(scratch, grad, largest))
                elif consumable[i]:
                    noisy = ref.lerp_(grad, cast[key])
                elif out is not None and out[i] is not None:
                    noisy = torch.lerp(ref, grad, cast[key], out=out[i])
                else:
                    noisy = torch.lerp(ref, grad, cast[key])
        else:
            noisy = grad if noisy_of is None else noisy_of(i)
        d = single_direction(i, param, noisy, momentum_buffer_list, weight_decay=weight_decay,
                             momentum=momentum, dampening=dampening, nesterov=nesterov, maximize=maximize)
        if update_references is not None and update_references[1][i]:
            update_references[0][i].lerp_(grad, update_references[2])  # type: ignore[union-attr]
        if norms is not None:
            norms.append(tensor_norms([d])[0])
        directions.append(d)
    return directions
