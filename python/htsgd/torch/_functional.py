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
   per tensor or per coordinate; ``|phi_b(lr * d)| <= b`` for every input, infinite and overflowing steps
   included (:func:`htsgd.torch.truncation.repair_clip`), and a NaN component makes the truncated step NaN;
4. ``p <- p - phi_b(lr * d)``.

With ``noise=None`` and ``truncation=None`` steps 2 and 4 are literally ``torch.optim.SGD``'s operations.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple, Union

import torch
from torch import Tensor

from ._single_tensor import Scratch, _fused_pass, chained_directions, single_direction
from .noise import _fill_batch, _TakeIn, cast_finite, fill_noise_batch_, momentum_in_pass, sample_scalar
from .truncation import (
    Repair,
    canonical_clip,
    clip_coefficient,
    coordinate_bound,
    global_norm,
    ordinary_on_host,
    repair_clip,
    tensor_norms,
)

__all__ = ["NormClip", "apply_truncated_step", "heavy_tailed_directions", "heavy_tailed_sgd", "noisy_gradients",
           "norm_clip"]

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
        return _additive_noisy(grads, noise=noise, alpha=alpha, noise_scale=noise_scale, generator=generator,
                               sampler=sampler, out=out, foreach=foreach)
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


def _additive_noisy(grads: Sequence[Tensor], *, noise: str, alpha: float, noise_scale: float,
                    generator: GeneratorLike | None, sampler: str, out: Sequence[Tensor | None] | None,
                    foreach: bool, buffers: Sequence[Tensor | None] | None = None,
                    momentum: float = 0.0, take_in: _TakeIn | None = None) -> list[Tensor]:
    """``g + Z`` per tensor (:func:`noisy_gradients`' additive mode). Where ``buffers[i]`` is given, that
    momentum buffer takes in the noisy gradient instead (``buf.mul_(momentum).add_(g + Z)``, or SGD's whole
    update with ``take_in``, in the noise's pass on the C++ float32 path) and is returned in its place;
    ``out[i]`` is then not used."""
    noisy = []
    for i, g in enumerate(grads):
        if buffers is not None and buffers[i] is not None:
            noisy.append(buffers[i])
            continue
        z = out[i] if out is not None else None
        noisy.append(z if z is not None else torch.empty_like(g, memory_format=torch.contiguous_format))
    momenta = None if buffers is None else [None if b is None else momentum for b in buffers]
    # sampled tensor by tensor, in order, on both paths (the C++ sampler's tensors in one call, the
    # gradient added in the same pass where it can)
    _fill_batch(noisy, noise, alpha, noise_scale, [generator_for(generator, g.device) for g in grads], sampler,
                addends=grads, foreach=foreach, momenta=momenta, take_in=take_in)
    return noisy


# ----------------------------------------------------------------------------------------------------------
# 2. direction (torch.optim.SGD's arithmetic, unchanged)
# ----------------------------------------------------------------------------------------------------------
def _single_tensor_directions(params: list[Tensor], grads: list[Tensor], momentum_buffer_list: list[Tensor | None],
                              *, weight_decay: float, momentum: float, dampening: float, nesterov: bool,
                              maximize: bool) -> list[Tensor]:
    return [single_direction(i, param, grads[i], momentum_buffer_list, weight_decay=weight_decay,
                             momentum=momentum, dampening=dampening, nesterov=nesterov, maximize=maximize)
            for i, param in enumerate(params)]


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
def step_norm(directions: Sequence[Tensor], lr: float, foreach: bool = False,
              norms: Sequence[Tensor] | None = None) -> Tensor:
    """``|lr * d|``, the global Euclidean norm of the proposed (untruncated) step, on the device (``norms``:
    the norm of each direction, already computed as :func:`htsgd.torch.truncation.tensor_norms` does)."""
    if not norms:
        return global_norm(directions, foreach).mul_(lr)
    device = norms[0].device  # global_norm's combination of the tensor norms
    return torch.linalg.vector_norm(torch.stack([n.to(device) for n in norms])).mul_(lr)


def global_clip_coefficient(step_norms: Sequence[Tensor], b: float) -> Tensor:
    """``b / max(|w|, b)`` where ``|w|`` combines the step norms of several parameter groups."""
    if len(step_norms) == 1:
        return clip_coefficient(step_norms[0], b)
    device = step_norms[0].device
    return clip_coefficient(torch.linalg.vector_norm(torch.stack([n.to(device) for n in step_norms])), b)


class NormClip(NamedTuple):
    """``phi_b`` by one Euclidean norm over the steps ``lr_g * d_g`` of one or several parameter groups."""
    norm: Tensor | None  # |lr d| (inf beyond the float range or with an infinite component, NaN); None: unknown
    coefficient: Tensor  # the ordinary factor b / max(|lr d|, b)
    repair: Repair | None  # the replacement for extreme steps; None: the ordinary step is right (known on CPU)
    directions: list[Tensor]  # the tensors of the unit, in the order of repair.steps

    def steps_of(self, directions: Sequence[Tensor]) -> list[Tensor]:
        """The tensors to multiply by :meth:`scale` in place of ``directions`` (themselves when ordinary)."""
        if self.repair is None:
            return list(directions)
        index = {id(d): i for i, d in enumerate(self.directions)}
        return [self.repair.steps[index[id(d)]] for d in directions]

    def scale(self, device: torch.device, dtype: torch.dtype, lr: float) -> Tensor:
        """The factor of a group with learning rate ``lr``: ``-lr * coefficient`` (as ever) for an ordinary
        step, ``-b / |steps|`` (on the steps of :meth:`steps_of`) for an extreme one."""
        ordinary = self.coefficient.to(device=device, dtype=dtype).mul(-lr)
        if self.repair is None:
            return ordinary
        return torch.where(self.repair.ordinary.to(device), ordinary,
                           self.repair.scale.to(device=device, dtype=dtype).neg())


def norm_clip(groups: Sequence[tuple[Sequence[Tensor], float, bool]], b: float,
              tensor_norms_of: Sequence[Sequence[Tensor] | None] | None = None) -> NormClip:
    """Prepare ``phi_b`` of the step ``lr_g * d_g`` of several groups ``(directions, lr, foreach)`` by its
    global norm (the norm and the factor exactly as ever; the repair of extreme steps on top).
    ``tensor_norms_of``: per group, the norms of its directions where already computed (or None)."""
    known = tensor_norms_of if tensor_norms_of is not None else [None] * len(groups)
    norms = [step_norm(d, lr, fe, tn) for (d, lr, fe), tn in zip(groups, known, strict=True)]
    norm = norms[0] if len(norms) == 1 else torch.linalg.vector_norm(
        torch.stack([n.to(norms[0].device) for n in norms]))
    coefficient = clip_coefficient(norm, b)
    directions = [d for ds, _, _ in groups for d in ds]
    repair = repair_clip(directions, [lr for ds, lr, _ in groups for _ in ds], coefficient, b, norm,
                         foreach=any(fe for _, _, fe in groups))
    return NormClip(norm if repair is None else repair.norm, coefficient, repair, directions)


def _plan(directions: list[Tensor], lr: float, b: float, coefficient: Tensor | NormClip | None,
          foreach: bool) -> NormClip:
    if isinstance(coefficient, NormClip):
        return coefficient
    if coefficient is None:
        return norm_clip([(directions, lr, foreach)], b)
    # a factor computed elsewhere (from a norm over more tensors): repaired from these tensors alone
    repair = repair_clip(directions, [lr] * len(directions), coefficient, b, foreach=foreach)
    return NormClip(None, coefficient, repair, directions)


def _tensor_clip(directions: list[Tensor], norms: list[Tensor], lr: float, b: float) -> list[tuple[Tensor, Tensor]]:
    """``clip="tensor"``: per tensor, what to multiply and by what (``norms``: ``|lr d|`` of each tensor)."""
    coefs = [clip_coefficient(n, b) for n in norms]
    if ordinary_on_host(directions, coefs):
        return [(d, c.mul_(-lr)) for d, c in zip(directions, coefs, strict=True)]  # as ever
    out = []
    for d, c in zip(directions, coefs, strict=True):
        rep = repair_clip([d], [lr], c, b)
        scale = c.mul(-lr)
        out.append((d, scale) if rep is None else
                   (rep.steps[0], torch.where(rep.ordinary, scale, rep.scale.to(scale.dtype).neg())))
    return out


def _single_tensor_apply(params: list[Tensor], directions: list[Tensor], *, lr: float, truncation: float | None,
                         clip: str, coefficient: Tensor | NormClip | None = None) -> None:
    if truncation is None:
        for p, d in zip(params, directions, strict=True):
            p.add_(d, alpha=-lr)
    elif clip == "coordinate":
        for p, d in zip(params, directions, strict=True):
            bound = coordinate_bound(truncation, lr, d.dtype)
            p.add_(d.clamp(-bound, bound), alpha=-lr)
    elif clip == "tensor":
        norms = [n.mul_(lr) for n in tensor_norms(directions)]
        for p, (u, s) in zip(params, _tensor_clip(directions, norms, lr, truncation), strict=True):
            p.addcmul_(u, s)
    else:
        plan = _plan(directions, lr, truncation, coefficient, foreach=False)
        scales: dict[tuple, Tensor] = {}
        # last tensor first: the directions computed last are the likeliest still in cache
        for p, u in reversed(list(zip(params, plan.steps_of(directions), strict=True))):
            key = (p.device, p.dtype)
            if key not in scales:
                scales[key] = plan.scale(p.device, p.dtype, lr)
            p.addcmul_(u, scales[key])


def _multi_tensor_apply(params: list[Tensor], directions: list[Tensor], *, lr: float, truncation: float | None,
                        clip: str, coefficient: Tensor | NormClip | None = None) -> None:
    plan = None
    if truncation is not None and clip == "norm":
        plan = _plan(directions, lr, truncation, coefficient, foreach=True)
        directions = plan.steps_of(directions)
    grouped = _group_by_device_and_dtype(len(params), params, directions)
    for (device_params, device_dirs), _ in grouped.values():
        if truncation is None:
            torch._foreach_add_(device_params, device_dirs, alpha=-lr)
        elif clip == "coordinate":
            bound = coordinate_bound(truncation, lr, device_dirs[0].dtype)
            clamped = torch._foreach_clamp_min(device_dirs, -bound)
            torch._foreach_clamp_max_(clamped, bound)
            torch._foreach_add_(device_params, clamped, alpha=-lr)
        elif clip == "tensor":
            norms = tensor_norms(device_dirs, foreach=True)  # float32 for float16/bfloat16
            torch._foreach_mul_(norms, lr)
            pairs = _tensor_clip(device_dirs, norms, lr, truncation)
            torch._foreach_addcmul_(device_params, [u for u, _ in pairs], [s for _, s in pairs])
        else:
            p0 = device_params[0]
            scale = plan.scale(p0.device, p0.dtype, lr)  # type: ignore[union-attr]
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
    scratch: Scratch | None = None,
    reference_updates: Sequence[bool] | None = None,
    reference_weight: float = 0.0,
    norms: list[Tensor] | None = None,
) -> list[Tensor]:
    """The first half of a step: noisy gradients, then ``torch.optim.SGD``'s direction ``d`` (untruncated).

    Arguments as :func:`heavy_tailed_sgd` (``consumable_references`` and ``out`` as in
    :func:`noisy_gradients`); new momentum buffers are written into ``momentum_buffer_list``. The
    single-tensor path runs tensor by tensor while each tensor is in cache
    (:mod:`htsgd.torch._single_tensor`; the same bits as stage by stage).

    Other Parameters
    ----------------
    scratch : mutable mapping, optional
        Single-tensor path: ``(device, dtype) -> flat tensor`` kept by the caller between steps, where a
        noisy gradient that only the momentum buffer reads is written (instead of ``out``).
    reference_updates : sequence of bool, optional
        Multiplicative mode: ``reference_grads[i].lerp_(grads[i], reference_weight)`` after use where True
        (the moving-average reference takes in this step's gradient).
    reference_weight : float
        The weight of that update, ``1 - reference_decay``.
    norms : list, optional
        Single-tensor path: the norm of each direction is appended (as
        :func:`htsgd.torch.truncation.tensor_norms` computes it; :func:`norm_clip` takes them); left empty
        on the foreach path.

    Returns
    -------
    list of torch.Tensor
        ``d`` per parameter; the step to take is ``phi_b(lr * d)`` (:func:`apply_truncated_step`).
    """
    sgd = {"weight_decay": weight_decay, "momentum": momentum, "dampening": dampening, "nesterov": nesterov,
           "maximize": maximize}
    if not foreach:
        updates = None
        if reference_updates is not None and reference_grads is not None and any(reference_updates):
            updates = (reference_grads, reference_updates, reference_weight)
        if noise is not None and noise_mode == "multiplicative" and len(grads) > 0:
            if reference_grads is None:
                raise ValueError("noise_mode='multiplicative' needs reference_grads (g_ref for each gradient)")
            if multiplier is None:
                multiplier = sample_scalar(noise, alpha, noise_scale, generator_for(generator, grads[0].device))
            consumable = consumable_references if consumable_references is not None else [False] * len(grads)
            return chained_directions(params, None, grads, momentum_buffer_list,
                                      multiplicative=(reference_grads, multiplier, consumable), out=out,
                                      scratch=scratch, update_references=updates, norms=norms, **sgd)
        if noise is not None and noise_mode == "additive" and len(grads) > 0:
            # momentum without Nesterov: an existing float32 CPU buffer takes in its noisy gradient in the
            # noise's pass (no workspace, one sweep less over memory), with SGD's bits; the rest as below.
            # Weight decay and dampening round as torch's add does, which the fill needs to know
            rounding = _fused_pass()
            options = weight_decay != 0 or dampening != 0 or maximize  # beyond plain momentum
            eligible = momentum != 0 and not nesterov and (not options or rounding is not None)
            buffers = [b if b is not None and b.shape == g.shape and momentum_in_pass(
                           b, g, sampler, p if weight_decay != 0 else None) else None
                       for b, g, p in zip(momentum_buffer_list, grads, params, strict=True)] if eligible \
                else [None] * len(grads)
            take_in = _TakeIn([p if b is not None else None for b, p in zip(buffers, params)], weight_decay,
                              maximize, dampening, rounding[1]) if eligible and options else None
            noisy = _additive_noisy(grads, noise=noise, alpha=alpha, noise_scale=noise_scale, generator=generator,
                                    sampler=sampler, out=out, foreach=False, buffers=buffers, momentum=momentum,
                                    take_in=take_in)
            return chained_directions(params, noisy.__getitem__, grads, momentum_buffer_list,
                                      update_references=updates, norms=norms,
                                      taken_in=[b is not None for b in buffers], **sgd)
        noisy = noisy_gradients(grads, reference_grads, noise=noise, alpha=alpha, noise_scale=noise_scale,
                                noise_mode=noise_mode, generator=generator, multiplier=multiplier, sampler=sampler,
                                consumable_references=consumable_references, out=out)
        return chained_directions(params, noisy.__getitem__, grads, momentum_buffer_list,
                                  update_references=updates, norms=norms, **sgd)
    noisy = noisy_gradients(grads, reference_grads, noise=noise, alpha=alpha, noise_scale=noise_scale,
                            noise_mode=noise_mode, generator=generator, multiplier=multiplier, sampler=sampler,
                            consumable_references=consumable_references, out=out, foreach=foreach)
    directions = _multi_tensor_directions(params, noisy, momentum_buffer_list, **sgd)
    if reference_updates is not None and reference_grads is not None and any(reference_updates):
        chosen = [i for i, u in enumerate(reference_updates) if u]
        torch._foreach_lerp_([reference_grads[i] for i in chosen], [grads[i] for i in chosen],  # type: ignore[misc]
                             reference_weight)
    return directions


def apply_truncated_step(params: list[Tensor], directions: list[Tensor], *, lr: float, truncation: float | None,
                         clip: str = "norm", coefficient: Tensor | NormClip | None = None,
                         foreach: bool = False) -> None:
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
    coefficient : NormClip or torch.Tensor, optional
        ``clip="norm"`` when the norm spans more than these parameters (several param groups): the
        :func:`norm_clip` of all of them (``directions`` must be among its tensors), or only the factor
        ``b / max(|lr d|, b)`` (then an extreme step is repaired from ``directions`` alone); computed from
        ``directions`` if omitted. Whatever the input, ``|phi_b(lr d)| <= b`` (up to rounding); a NaN
        component makes the step NaN (every tensor of the norm; per tensor with ``clip="tensor"``; per
        coordinate with ``clip="coordinate"``).
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
        tensor on the device, not read back; inf beyond the float range or with an infinite component, NaN
        with a NaN component); otherwise None.
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
    plan = None
    if truncation is not None and canonical_clip(clip) == "norm":
        plan = norm_clip([(directions, lr, foreach)], truncation)
    apply_truncated_step(params, directions, lr=lr, truncation=truncation, clip=clip, coefficient=plan,
                         foreach=foreach)
    return None if plan is None else plan.norm
