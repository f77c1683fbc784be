"""Functional form of truncated heavy-tailed SGD, as small named pieces: noise -> direction -> truncate -> step.

Mirrors ``torch/optim/sgd.py``: :func:`heavy_tailed_sgd` dispatches to a single-tensor reference path
(``_single_tensor_*``, a Python loop over tensors) or to a ``torch._foreach_*`` path (``_multi_tensor_*``,
tensors grouped by device and dtype). The noise is drawn by one shared stage, tensor by tensor in parameter
order, so both paths consume the generator identically; on CPU the two paths agree bit for bit.

One step, for each parameter ``p`` with gradient ``g``:

1. noise (:func:`noisy_gradients`): additive ``g + noise_scale * Z`` with ``Z`` i.i.d. per coordinate, or
   multiplicative ``g_ref + Z * (g - g_ref)`` with one scalar ``Z`` per step;
2. direction ``d`` exactly as ``torch.optim.SGD``: ``maximize`` (negate), weight decay (``+ weight_decay * p``),
   momentum/dampening/Nesterov on the noisy gradient;
3. truncation of the step actually applied, ``phi_b(lr * d)``, by its norm over all tensors (``clip="norm"``),
   per tensor or per coordinate;
4. ``p <- p - phi_b(lr * d)``.

With ``noise=None`` and ``truncation=None`` steps 2 and 4 are literally ``torch.optim.SGD``'s operations.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Union

import torch
from torch import Tensor

from .noise import cast_finite, fill_noise_batch_, sample_scalar
from .truncation import canonical_clip, clip_coefficient, global_norm, tensor_norms

__all__ = ["apply_truncated_step", "heavy_tailed_directions", "heavy_tailed_sgd", "noisy_gradients"]

GeneratorLike = Union[torch.Generator, Mapping[str, torch.Generator], Callable[[torch.device], torch.Generator]]


def _same_device(a: torch.device, b: torch.device) -> bool:
    if a.type != b.type:
        return False
    ia = 0 if a.index is None else a.index
    ib = 0 if b.index is None else b.index
    return a.type == "cpu" or ia == ib


def generator_for(generator: GeneratorLike | None, device: torch.device) -> torch.Generator:
    """The generator to use for tensors on ``device`` (``ValueError`` if there is none for it)."""
    if isinstance(generator, torch.Generator):
        if not _same_device(generator.device, device):
            raise ValueError(f"Invalid generator: it lives on {generator.device} but the tensors are on {device}; "
                             "expected a generator on the parameters' device")
        return generator
    if isinstance(generator, Mapping):
        try:
            return generator[str(device)]
        except KeyError:
            raise ValueError(f"Invalid generator: no generator for device {device}") from None
    if callable(generator):
        return generator(device)
    raise TypeError(f"Invalid generator: expected a torch.Generator, got {type(generator).__name__}")


def default_foreach(params: Sequence[Tensor]) -> bool:
    """``foreach=None`` resolves like torch's optimizers: the foreach path when every tensor is on CUDA."""
    if torch.jit.is_scripting() or len(params) == 0:
        return False
    return all(p.device.type == "cuda" and type(p) in (Tensor, torch.nn.Parameter) for p in params)


def _group_by_device_and_dtype(n: int, *lists: Sequence) -> dict[tuple, tuple[list[list], list[int]]]:
    """Group the entries of parallel lists by the device and dtype of the first list (order preserved)."""
    out: dict[tuple, tuple[list[list], list[int]]] = {}
    for i in range(n):
        t = lists[0][i]
        key = (t.device, t.dtype)
        if key not in out:
            out[key] = ([[] for _ in lists], [])
        for j, lst in enumerate(lists):
            out[key][0][j].append(lst[i])
        out[key][1].append(i)
    return out


# ----------------------------------------------------------------------------------------------------------
# 1. noise
# ----------------------------------------------------------------------------------------------------------
def noisy_gradients(
    grads: Sequence[Tensor],
    reference_grads: Sequence[Tensor | None] | None = None,
    *,
    noise: str | None,
    alpha: float,
    noise_scale: float,
    noise_mode: str,
    generator: GeneratorLike | None,
    multiplier: Tensor | None = None,
    sampler: str = "auto",
    consumable_references: Sequence[bool] | None = None,
    out: Sequence[Tensor | None] | None = None,
    foreach: bool = False,
) -> list[Tensor]:
    """The noisy gradients of one step (new tensors; ``grads`` themselves when ``noise`` is None).

    Parameters
    ----------
    grads : sequence of torch.Tensor
        The stochastic gradients ``g``.
    reference_grads : sequence of torch.Tensor or None
        Multiplicative mode only: ``g_ref`` for each gradient (an entry ``None``: ``g_ref = g``, no noise).
    noise, alpha, noise_scale : the law of ``Z`` (see :mod:`htsgd.torch.noise`); ``noise=None``: no noise.
    noise_mode : {"additive", "multiplicative"}
        ``"additive"``: ``g + Z`` with ``Z`` i.i.d. per coordinate, scale ``noise_scale``;
        ``"multiplicative"``: ``g_ref + Z * (g - g_ref)`` with one scalar ``Z`` for all tensors.
    generator : torch.Generator, mapping from device string to generator, or callable ``device -> generator``
        Source of all randomness; noise for a tensor is drawn on the tensor's device.
    multiplier : torch.Tensor, optional
        Multiplicative mode: the scalar ``Z`` to use (drawn from the generator of the first gradient's
        device if omitted).
    sampler : {"auto", "torch", "core"}
        Which sampler fills additive noise (see :func:`htsgd.torch.noise.fill_noise_`).
    consumable_references : sequence of bool, optional
        Multiplicative mode: ``True`` where ``reference_grads[i]`` is not needed afterwards, so the noisy
        gradient may overwrite it (saves an allocation; the bits are the same).
    out : sequence of torch.Tensor, optional
        Contiguous workspaces shaped like ``grads`` to write the noisy gradients into (reused from step to
        step, they spare the allocation and page faults of fresh tensors; the bits are the same).
    foreach : bool
        Combine with ``torch._foreach_*`` ops (one call for many tensors; the same bits on CPU).
    """
    if noise is None or len(grads) == 0:
        return list(grads)
    if noise_mode == "additive":
        noisy = []
        for i, g in enumerate(grads):
            z = out[i] if out is not None else None
            noisy.append(z if z is not None else torch.empty_like(g, memory_format=torch.contiguous_format))
        # sampled tensor by tensor, in order, on both paths (the C++ sampler's tensors in one call, the
        # gradient added in the same pass where it can)
        fill_noise_batch_(noisy, noise, alpha, noise_scale, [generator_for(generator, g.device) for g in grads],
                          sampler, addends=grads, foreach=foreach)
        return noisy
    if noise_mode != "multiplicative":
        raise ValueError(f"Invalid noise_mode: {noise_mode!r}; expected 'additive' or 'multiplicative'")
    if reference_grads is None:
        raise ValueError("noise_mode='multiplicative' needs reference_grads (g_ref for each gradient)")
    if multiplier is None:
        multiplier = sample_scalar(noise, alpha, noise_scale, generator_for(generator, grads[0].device))
    cache: dict[tuple, Tensor] = {}
    noisy: list[Tensor] = []
    consumable = consumable_references if consumable_references is not None else [False] * len(grads)
    in_place = [i for i, (r, own) in enumerate(zip(reference_grads, consumable, strict=True)) if own and r is not None]
    if foreach and in_place:  # the same lerp_ per tensor, one call per device and dtype
        sub_r = [reference_grads[i] for i in in_place]
        sub_g = [grads[i] for i in in_place]
        for (rs, gs), _ in _group_by_device_and_dtype(len(sub_r), sub_r, sub_g).values():
            z = cast_finite(multiplier.to(rs[0].device), rs[0].dtype)
            torch._foreach_lerp_(rs, gs, [z] * len(rs))
    done = set(in_place) if foreach else set()
    for i, (g, r, own) in enumerate(zip(grads, reference_grads, consumable, strict=True)):
        if r is None:
            noisy.append(g)
            continue
        if i in done:
            noisy.append(r)  # type: ignore[arg-type]
            continue
        key = (g.device, g.dtype)
        if key not in cache:
            cache[key] = cast_finite(multiplier.to(g.device), g.dtype)
        if own:  # r + Z * (g - r)
            noisy.append(r.lerp_(g, cache[key]))
        elif out is not None and out[i] is not None:
            noisy.append(torch.lerp(r, g, cache[key], out=out[i]))
        else:
            noisy.append(torch.lerp(r, g, cache[key]))
    return noisy


# ----------------------------------------------------------------------------------------------------------
# 2. direction (torch.optim.SGD's arithmetic, unchanged)
# ----------------------------------------------------------------------------------------------------------
def _single_tensor_directions(params: list[Tensor], grads: list[Tensor], momentum_buffer_list: list[Tensor | None],
                              *, weight_decay: float, momentum: float, dampening: float, nesterov: bool,
                              maximize: bool) -> list[Tensor]:
    out = []
    for i, param in enumerate(params):
        grad = grads[i] if not maximize else -grads[i]
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
        out.append(grad)
    return out


def _multi_tensor_directions(params: list[Tensor], grads: list[Tensor], momentum_buffer_list: list[Tensor | None],
                             *, weight_decay: float, momentum: float, dampening: float, nesterov: bool,
                             maximize: bool) -> list[Tensor]:
    out: list[Tensor | None] = [None] * len(params)
    bufs_in = momentum_buffer_list if momentum != 0 else [None] * len(params)
    grouped = _group_by_device_and_dtype(len(params), params, grads, bufs_in)
    for (device_params, device_grads, device_bufs), indices in grouped.values():
        if maximize:
            device_grads = list(torch._foreach_neg(device_grads))
        if weight_decay != 0:
            if maximize:
                torch._foreach_add_(device_grads, device_params, alpha=weight_decay)
            else:
                device_grads = list(torch._foreach_add(device_grads, device_params, alpha=weight_decay))
        if momentum != 0:
            if all(b is not None for b in device_bufs):
                bufs = list(device_bufs)
                torch._foreach_mul_(bufs, momentum)
                torch._foreach_add_(bufs, device_grads, alpha=1 - dampening)
            else:
                bufs = []
                for j, b in enumerate(device_bufs):
                    if b is None:
                        b = momentum_buffer_list[indices[j]] = device_grads[j].detach().clone()
                    else:
                        b.mul_(momentum).add_(device_grads[j], alpha=1 - dampening)
                    bufs.append(b)
            if nesterov:
                device_grads = list(torch._foreach_add(device_grads, bufs, alpha=momentum))
            else:
                device_grads = bufs
        for j, i in enumerate(indices):
            out[i] = device_grads[j]
    return out  # type: ignore[return-value]


# ----------------------------------------------------------------------------------------------------------
# 3-4. truncate and step
# ----------------------------------------------------------------------------------------------------------
def step_norm(directions: Sequence[Tensor], lr: float, foreach: bool = False) -> Tensor:
    """``|lr * d|``, the global Euclidean norm of the proposed (untruncated) step, on the device."""
    return global_norm(directions, foreach).mul_(lr)


def global_clip_coefficient(step_norms: Sequence[Tensor], b: float) -> Tensor:
    """``b / max(|w|, b)`` where ``|w|`` combines the step norms of several parameter groups."""
    if len(step_norms) == 1:
        return clip_coefficient(step_norms[0], b)
    device = step_norms[0].device
    return clip_coefficient(torch.linalg.vector_norm(torch.stack([n.to(device) for n in step_norms])), b)


def _coordinate_bound(truncation: float, lr: float) -> float:
    return truncation / lr if lr > 0 else math.inf


def _single_tensor_apply(params: list[Tensor], directions: list[Tensor], *, lr: float, truncation: float | None,
                         clip: str, coefficient: Tensor | None = None) -> None:
    if truncation is None:
        for p, d in zip(params, directions, strict=True):
            p.add_(d, alpha=-lr)
    elif clip == "coordinate":
        bound = _coordinate_bound(truncation, lr)
        for p, d in zip(params, directions, strict=True):
            p.add_(d.clamp(-bound, bound), alpha=-lr)
    elif clip == "tensor":
        for p, d, n in zip(params, directions, tensor_norms(directions), strict=True):
            p.addcmul_(d, clip_coefficient(n.mul_(lr), truncation).mul_(-lr))
    else:
        if coefficient is None:
            coefficient = global_clip_coefficient([step_norm(directions, lr)], truncation)
        scales: dict[tuple, Tensor] = {}
        for p, d in zip(params, directions, strict=True):
            key = (p.device, p.dtype)
            if key not in scales:
                scales[key] = coefficient.to(device=p.device, dtype=p.dtype).mul(-lr)
            p.addcmul_(d, scales[key])


def _multi_tensor_apply(params: list[Tensor], directions: list[Tensor], *, lr: float, truncation: float | None,
                        clip: str, coefficient: Tensor | None = None) -> None:
    if truncation is not None and clip == "norm" and coefficient is None:
        coefficient = global_clip_coefficient([step_norm(directions, lr, foreach=True)], truncation)
    grouped = _group_by_device_and_dtype(len(params), params, directions)
    for (device_params, device_dirs), _ in grouped.values():
        if truncation is None:
            torch._foreach_add_(device_params, device_dirs, alpha=-lr)
        elif clip == "coordinate":
            bound = _coordinate_bound(truncation, lr)
            clamped = torch._foreach_clamp_min(device_dirs, -bound)
            torch._foreach_clamp_max_(clamped, bound)
            torch._foreach_add_(device_params, clamped, alpha=-lr)
        elif clip == "tensor":
            norms = tensor_norms(device_dirs, foreach=True)  # float32 for float16/bfloat16
            torch._foreach_mul_(norms, lr)
            scales = [clip_coefficient(n, truncation).mul_(-lr) for n in norms]
            torch._foreach_addcmul_(device_params, device_dirs, scales)
        else:
            p0 = device_params[0]
            scale = coefficient.to(device=p0.device, dtype=p0.dtype).mul(-lr)  # type: ignore[union-attr]
            torch._foreach_addcmul_(device_params, device_dirs, [scale] * len(device_params))


# ----------------------------------------------------------------------------------------------------------
# the whole step: propose (noise + direction), then truncate and apply
# ----------------------------------------------------------------------------------------------------------
def heavy_tailed_directions(
    params: list[Tensor],
    grads: list[Tensor],
    momentum_buffer_list: list[Tensor | None],
    reference_grads: list[Tensor | None] | None = None,
    *,
    generator: GeneratorLike | None = None,
    noise: str | None = "pareto",
    alpha: float = 1.5,
    noise_scale: float = 1.0,
    noise_mode: str = "additive",
    multiplier: Tensor | None = None,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    dampening: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
    foreach: bool = False,
    sampler: str = "auto",
    consumable_references: Sequence[bool] | None = None,
    out: Sequence[Tensor | None] | None = None,
) -> list[Tensor]:
    """The first half of a step: noisy gradients, then ``torch.optim.SGD``'s direction ``d`` (untruncated).

    Arguments as :func:`heavy_tailed_sgd` (``consumable_references`` and ``out`` as in
    :func:`noisy_gradients`); new momentum buffers are written into ``momentum_buffer_list``.

    Returns
    -------
    list of torch.Tensor
        ``d`` per parameter; the step to take is ``phi_b(lr * d)`` (:func:`apply_truncated_step`).
    """
    noisy = noisy_gradients(grads, reference_grads, noise=noise, alpha=alpha, noise_scale=noise_scale,
                            noise_mode=noise_mode, generator=generator, multiplier=multiplier, sampler=sampler,
                            consumable_references=consumable_references, out=out, foreach=foreach)
    directions_fn = _multi_tensor_directions if foreach else _single_tensor_directions
    return directions_fn(params, noisy, momentum_buffer_list, weight_decay=weight_decay, momentum=momentum,
                         dampening=dampening, nesterov=nesterov, maximize=maximize)


def apply_truncated_step(params: list[Tensor], directions: list[Tensor], *, lr: float, truncation: float | None,
                         clip: str = "norm", coefficient: Tensor | None = None, foreach: bool = False) -> None:
    """The second half of a step: ``p <- p - phi_b(lr * d)`` in place.

    Parameters
    ----------
    params, directions : list of torch.Tensor
        Parameters and their directions ``d`` (:func:`heavy_tailed_directions`).
    lr : float
        Learning rate.
    truncation : float or None
        ``b``; None: untruncated.
    clip : {"norm", "tensor", "coordinate"}
        How to truncate (``"global"`` is accepted for ``"norm"``).
    coefficient : torch.Tensor, optional
        ``clip="norm"``: the factor ``b / max(|lr d|, b)`` when the norm spans more than these parameters
        (several param groups); computed from ``directions`` if omitted.
    foreach : bool
        Use the ``torch._foreach_*`` path.
    """
    apply_fn = _multi_tensor_apply if foreach else _single_tensor_apply
    apply_fn(params, directions, lr=lr, truncation=truncation, clip=canonical_clip(clip), coefficient=coefficient)


def heavy_tailed_sgd(
    params: list[Tensor],
    grads: list[Tensor],
    momentum_buffer_list: list[Tensor | None],
    reference_grads: list[Tensor | None] | None = None,
    *,
    lr: float,
    generator: GeneratorLike | None = None,
    noise: str | None = "pareto",
    alpha: float = 1.5,
    noise_scale: float = 1.0,
    noise_mode: str = "additive",
    multiplier: Tensor | None = None,
    truncation: float | None = None,
    clip: str = "norm",
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    dampening: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
    foreach: bool | None = None,
    sampler: str = "auto",
) -> Tensor | None:
    """Functional API: one step of truncated heavy-tailed SGD on ``params`` (in place).

    See :class:`htsgd.torch.HeavyTailedSGD` for the algorithm and the meaning of the hyperparameters. The
    arguments are not validated here (the class validates them once). The step is
    :func:`heavy_tailed_directions` followed by :func:`apply_truncated_step`, the two halves that
    :meth:`HeavyTailedSGD.step` runs for its param groups (it pools the norm of ``clip="norm"`` groups
    between the halves).

    Parameters
    ----------
    params, grads : list of torch.Tensor
        Parameters (updated in place) and their gradients.
    momentum_buffer_list : list of torch.Tensor or None
        Momentum buffers, ``None`` where there is none yet; new buffers are written into the list.
    reference_grads : list of torch.Tensor or None, optional
        ``g_ref`` of the multiplicative mode.
    lr : float
        Learning rate.
    generator : torch.Generator or mapping or callable
        Source of the noise (required unless ``noise`` is None).
    noise, alpha, noise_scale, noise_mode :
        The law of ``Z`` (a name of :data:`htsgd.torch.noise.LAWS`) and how it enters.
    multiplier : torch.Tensor, optional
        The scalar ``Z`` of the multiplicative mode (drawn from ``generator`` if omitted).
    truncation : float or None
        ``b``; None or inf: untruncated.
    clip : {"norm", "tensor", "coordinate"}
        How to truncate (``"global"`` is accepted for ``"norm"``).
    weight_decay, momentum, dampening, nesterov, maximize :
        As in ``torch.optim.SGD``.
    foreach : bool, optional
        Use the ``torch._foreach_*`` path; ``None``: as torch (foreach when every tensor is on CUDA).
    sampler : {"auto", "torch", "core"}
        Sampler of additive noise.

    Returns
    -------
    torch.Tensor or None
        With ``clip="norm"`` and a truncation: the norm of the proposed step ``|lr * d|`` (a 0-dimensional
        tensor on the device, not read back); otherwise None.
    """
    if foreach is None:
        foreach = default_foreach(params)
    if foreach and torch.jit.is_scripting():
        raise RuntimeError("torch.jit.script is not supported with foreach optimizers")
    if len(params) == 0:
        return None
    if truncation is not None and math.isinf(truncation):
        truncation = None  # inf: no truncation (as the class does)
    directions = heavy_tailed_directions(
        params, grads, momentum_buffer_list, reference_grads, generator=generator, noise=noise, alpha=alpha,
        noise_scale=noise_scale, noise_mode=noise_mode, multiplier=multiplier, weight_decay=weight_decay,
        momentum=momentum, dampening=dampening, nesterov=nesterov, maximize=maximize, foreach=foreach,
        sampler=sampler)
    norm = coefficient = None
    if truncation is not None and canonical_clip(clip) == "norm":
        norm = step_norm(directions, lr, foreach)
        coefficient = global_clip_coefficient([norm], truncation)
    apply_truncated_step(params, directions, lr=lr, truncation=truncation, clip=clip, coefficient=coefficient,
                         foreach=foreach)
    return norm
