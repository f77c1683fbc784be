"""Heavy-tailed noise for torch tensors, sampled on the tensor's device with an explicit ``torch.Generator``.

Two samplers draw the same laws (the same laws as :mod:`htsgd.noise`, same parameter conventions):

- the **torch** sampler (:func:`sample_noise`): a few device-side torch ops per tensor, any device and
  dtype; the reference implementation;
- the **core** sampler: htsgd's vectorised C++ Philox sampler (``htsgd._core.fill_noise``, and
  ``htsgd._core.fill_noise_f32`` for float32/float16/bfloat16) writing straight into the memory of a
  contiguous CPU tensor (zero copy, GIL released). Its key and counter
  are drawn from the same ``torch.Generator``, so the generator stays the single source of randomness and
  restoring the generator state replays the noise bit for bit.

The two samplers give the same law, not the same bits.

Laws (all symmetric; ``alpha`` is the tail index, ``P(|Z| > x)`` regularly varying with index ``-alpha``):

=============  ===========================================================================================
``pareto``     symmetric Lomax ``Z = S * scale * (U^(-1/alpha) - 1)``, exact tail ``(1 + x/scale)^-alpha``
``stable``     symmetric alpha-stable, ``0 < alpha <= 2``, characteristic function ``exp(-|scale t|^alpha)``
               (Chambers-Mallows-Stuck); ``alpha = 2`` is ``N(0, 2 scale^2)``
``student_t``  Student t with ``alpha`` degrees of freedom, times ``scale`` (Bailey's polar form)
``gaussian``   ``N(0, scale^2)``; ``alpha`` is ignored
=============  ===========================================================================================

Uniforms are drawn on the open interval ``(0, 1)`` (``(2k + 1) 2^-b``), so no variate is ever infinite
because of ``U = 0``. The torch sampler computes variates in float64 for float64 tensors and in float32
otherwise; with float32, ``U >= 2^-24`` caps Pareto variates at ``scale * (2^(24/alpha) - 1)`` (a cut at tail
probability ``2^-23``).

**The core sampler's float32 path** (``htsgd._core.fill_noise_f32``, ``cpp/include/htsgd/law_lanes_f32.hpp``)
fills float32 tensors, and float16/bfloat16 tensors through a float32 scratch buffer, with variates computed
in float32 (16 SIMD lanes on AVX-512; the same bits on every ISA and thread count). Float64 tensors keep the
exact float64 variates. One 32-bit Philox word per variate: its bit 31 is the sign and its other 31 bits
``k`` give ``U = fl(fl(k) + 1/2) 2^-31`` (exactly ``(k + 1/2) 2^-31`` below ``2^-8``, rounded to float32
above), ``2^-32 <= U <= 1``.

- ``pareto``: ``|Z| = scale * expm1(-log(U) / alpha)``. The law is cut at ``x_max = scale * (2^(32/alpha) -
  1)`` (``U = 2^-32``, probability ``2^-31``), where the exact tail ``(1 + x/scale)^-alpha`` is ``2^-32``;
  below the cut ``P(|Z| > x)`` is the exact tail up to the discreteness of ``U`` (steps of ``2^-31`` in
  probability below ``U = 2^-8``, relative ``2^-24`` above) and the kernels' error. Relative error of a
  variate against the float64 value of the same ``U``: ``< (6 + 2 t) 2^-24`` with ``t = -log(U)/alpha <=
  22.2/alpha`` (float32 roundings of ``t`` and of ``1/alpha`` are amplified ``t`` times by the exponential):
  the bound is tested for ``alpha`` from 0.3 to 10 over the whole domain of ``U``; the largest errors
  measured are ``1.3e-6`` (21 ulp) for ``alpha = 1.5`` and ``1.9e-6`` for ``alpha = 0.5``, about 4 ulp
  where ``t < 1``. The tail is tested up to the cut: sampled frequencies at tail probabilities 0.5 to
  ``1e-5`` within binomial bands, and, as ``|Z|`` decreases with ``k``, exact frequencies from enumerating
  the words at tail probabilities ``2^-31`` to ``2^-20``. For ``alpha < 0.25`` the largest variates exceed
  float32's range and are ``inf`` (as float64 variates rounded to float32 were).
- ``gaussian``: Box-Muller on two words, ``scale sqrt(-2 log U1) (cos, sin)(2 pi U2)``; ``|Z| <=
  6.66 scale`` (a cut at tail probability ``~2.7e-11``); absolute error about ``2e-6 scale`` at most (from
  the kernels' bounds, not tested separately; the law's tail frequencies are).
- ``student_t`` and ``stable``: no float32 kernel; float64 variates rounded to float32, as before.

Variates for a float16 tensor are clamped to ``+-65504`` (float16's largest number) before the cast, never
``inf``; bfloat16 has float32's range.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np
import torch
from torch import Tensor

from .._validation import check_choice, check_interval, check_nonnegative, check_positive, check_real

__all__ = ["LAWS", "SAMPLERS", "cast_finite", "check_core_sampler", "check_law", "core_available", "fill_noise_",
           "fill_noise_batch_", "law_name", "law_parameters", "sample_noise", "sample_scalar"]

LAWS: tuple[str, ...] = ("pareto", "stable", "student_t", "gaussian")
SAMPLERS: tuple[str, ...] = ("auto", "torch", "core")
Law = Literal["pareto", "stable", "student_t", "gaussian"]

_CORE_DTYPES = (torch.float32, torch.float64)  # filled in place (float64: exact float64 variates)
_LOW_DTYPES = (torch.float16, torch.bfloat16)   # float32 path into a scratch buffer, then cast_finite
_SEED_BOUND = 2**62


def _core_fill(name: str = "fill_noise"):  # the C++ sampler, or None where htsgd was built without it
    try:
        from .. import _core  # noqa: PLC0415
    except ImportError:  # pragma: no cover - the package always ships _core
        return None
    return getattr(_core, name, None)


def core_available() -> bool:
    """Whether htsgd's C++ sampler (``htsgd._core.fill_noise``) can be used for CPU tensors."""
    return _core_fill() is not None


#: Default tail index and scale when the law is given by name.
DEFAULT_ALPHA, DEFAULT_SCALE = 1.5, 1.0


def law_name(noise: object) -> str | None:
    """The name in :data:`LAWS` of a law object of :mod:`htsgd.noise`, or None for anything else."""
    from ..noise import Gaussian, Pareto, Stable, StudentT  # noqa: PLC0415  (htsgd.noise needs the core)

    for cls, name in ((Pareto, "pareto"), (Stable, "stable"), (StudentT, "student_t"), (Gaussian, "gaussian")):
        if isinstance(noise, cls):
            return name
    return None


def law_parameters(noise: object, alpha: object = None, noise_scale: object = None) -> tuple[object, object, object]:
    """``(name, alpha, noise_scale)`` from a law name or a law object of :mod:`htsgd.noise` (not validated).

    Parameters
    ----------
    noise : str, None, or htsgd.Pareto / htsgd.Stable / htsgd.StudentT / htsgd.Gaussian
        A law object carries its tail index and scale (``StudentT``: ``alpha = df``; ``Gaussian``:
        ``alpha = inf``, unused).
    alpha, noise_scale : float or None
        With a name: the law's parameters (None: 1.5 and 1.0). With a law object: leave them None, or
        give the law's own values; anything else is a conflict.

    Returns
    -------
    tuple
        The name (or ``noise`` unchanged when it is not a law object), ``alpha`` and ``noise_scale``.

    Raises
    ------
    ValueError
        If ``alpha`` or ``noise_scale`` contradicts the law object.
    """
    name = law_name(noise)
    if name is None:
        return (noise, DEFAULT_ALPHA if alpha is None else alpha,
                DEFAULT_SCALE if noise_scale is None else noise_scale)
    own = {"alpha": float(noise.alpha), "noise_scale": float(noise.scale)}  # type: ignore[attr-defined]
    for key, given in (("alpha", alpha), ("noise_scale", noise_scale)):
        if given is not None and (isinstance(given, bool) or not isinstance(given, (int, float))
                                  or float(given) != own[key]):
            raise ValueError(f"Invalid {key}: {given!r}; the noise law {noise!r} already sets {key} = "
                             f"{own[key]!r}; expected {key} left out (or equal) when noise is a law object")
    return name, own["alpha"], own["noise_scale"]


def check_law(noise: object, alpha: object, noise_scale: object) -> tuple[str | None, float, float]:
    """Validate a noise specification; returns ``(noise, alpha, noise_scale)`` as plain Python values.

    ``noise`` is ``None`` (no noise) or one of :data:`LAWS`; ``alpha`` must lie in the law's domain
    (``alpha > 0``; ``0 < alpha <= 2`` for ``"stable"``; any real number, ignored, for ``"gaussian"``);
    ``noise_scale`` is a finite number ``>= 0``.
    """
    if noise is not None:
        check_choice("noise", noise, LAWS)
    a = check_real("alpha", alpha)
    if noise == "stable":
        a = check_interval("alpha", alpha, 0.0, 2.0, lo_open=True, hi_open=False)
    elif noise in ("pareto", "student_t"):
        a = check_positive("alpha", alpha)
    elif math.isnan(a):
        raise ValueError(f"Invalid alpha: {alpha!r}; expected a number that is not NaN")
    return noise, a, check_nonnegative("noise_scale", noise_scale)


def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _bits(dtype: torch.dtype) -> int:
    return 53 if dtype == torch.float64 else 24


def _signed_open_uniform_(out: Tensor, generator: torch.Generator) -> Tensor:
    """Fill ``out`` with ``W``, uniform on the odd multiples of ``2^-b`` inside (-1, 1); returns ``out``.

    From one ``torch.rand``-style draw ``V = k 2^-b`` (``b`` = 24 bits for float32, 53 for float64 on CPU),
    ``W = 2V - (1 - 2^-b) = (2k + 1 - 2^b) 2^-b`` is exact and never 0: ``|W|`` is uniform on the open
    interval (0, 1) and the sign of ``W`` is an independent fair coin.
    """
    b = _bits(out.dtype)
    return out.uniform_(generator=generator).mul_(2.0).sub_(1.0 - 2.0**-b)


def _open_uniform(w: Tensor) -> Tensor:
    """``|W|``, kept ``>= 2^-b`` for generators of another resolution (CUDA), as a new tensor."""
    return w.abs().clamp_(min=2.0 ** -_bits(w.dtype))


def _below_half_pi(dtype: torch.dtype) -> float:
    """The largest number of ``dtype`` below pi/2 (its cosine is positive)."""
    if dtype == torch.float64:
        return math.nextafter(math.pi / 2, 0.0)
    return float(np.nextafter(np.float32(math.pi / 2), np.float32(0.0)))


# Each sampler fills a contiguous float32/float64 tensor in place (a few cache-friendly passes) and returns it.
def _pareto_(out: Tensor, generator: torch.Generator, alpha: float, scale: float) -> Tensor:
    w = _signed_open_uniform_(out, generator)
    z = _open_uniform(w).log_().mul_(-1.0 / alpha).expm1_().mul_(scale)  # scale (U^(-1/alpha) - 1)
    return torch.copysign(z, w, out=out)


def _stable_(out: Tensor, generator: torch.Generator, alpha: float, scale: float) -> Tensor:
    # Chambers-Mallows-Stuck with V uniform on (-pi/2, pi/2) (kept inside after rounding) and E ~ Exp(1).
    lim = _below_half_pi(out.dtype)
    v = _signed_open_uniform_(out, generator).mul_(math.pi / 2).clamp_(-lim, lim)
    e = _open_uniform(_signed_open_uniform_(torch.empty_like(out), generator)).log_().neg_()
    if alpha == 1.0:
        return v.tan_().mul_(scale)
    if alpha == 2.0:
        return v.sin_().mul_(e.sqrt_()).mul_(2.0 * scale)
    tiny = torch.finfo(out.dtype).tiny
    z = torch.sin(alpha * v).div_(torch.cos(v).pow_(1.0 / alpha))
    z.mul_(torch.cos((1.0 - alpha) * v).clamp_(min=tiny).div_(e).pow_((1.0 - alpha) / alpha))
    return out.copy_(z.mul_(scale))


def _student_t_(out: Tensor, generator: torch.Generator, df: float, scale: float) -> Tensor:
    # Bailey (1994), polar form without rejection: T = cos(2 pi U2) sqrt(df (U1^(-2/df) - 1)); here
    # cos(pi W2) with W2 uniform on (-1, 1) has the law of cos(2 pi U2).
    r = _open_uniform(_signed_open_uniform_(torch.empty_like(out), generator))
    r.log_().mul_(-2.0 / df).expm1_().mul_(df).sqrt_()
    return _signed_open_uniform_(out, generator).mul_(math.pi).cos_().mul_(r).mul_(scale)


def _gaussian_(out: Tensor, generator: torch.Generator, alpha: float, scale: float) -> Tensor:
    return out.normal_(generator=generator).mul_(scale)


_TORCH_SAMPLERS = {"pareto": _pareto_, "stable": _stable_, "student_t": _student_t_, "gaussian": _gaussian_}


@torch.no_grad()
def sample_noise(shape: tuple[int, ...] | torch.Size, law: Law, alpha: float, scale: float,
                 generator: torch.Generator, dtype: torch.dtype = torch.float32) -> Tensor:
    """Draw i.i.d. variates of ``law`` with the torch sampler, on ``generator.device``.

    Parameters
    ----------
    shape : tuple of int
        Output shape.
    law : {"pareto", "stable", "student_t", "gaussian"}
        The noise law (see the module docstring).
    alpha : float
        Tail index (degrees of freedom for ``"student_t"``; ignored for ``"gaussian"``).
    scale : float
        Scale of the law (``noise_scale``).
    generator : torch.Generator
        The only source of randomness; the variates live on its device.
    dtype : torch.dtype
        Output dtype. The arithmetic is float64 for float64 and float32 otherwise.

    Returns
    -------
    torch.Tensor
        A new tensor of the requested shape and dtype on ``generator.device``.
    """
    check_law(law, alpha, scale)
    if law is None:
        raise ValueError("Invalid law: None; expected one of " + ", ".join(map(repr, LAWS)))
    z = torch.empty(tuple(shape), dtype=_work_dtype(dtype), device=generator.device)
    _TORCH_SAMPLERS[law](z, generator, float(alpha), float(scale))
    return cast_finite(z, dtype)


def cast_finite(z: Tensor, dtype: torch.dtype) -> Tensor:
    """``z`` cast to ``dtype``, its finite values clamped to ``+-finfo(dtype).max`` first (sign kept).

    A float32 Pareto variate can reach about ``2^20`` for ``alpha = 1.2``, past float16's largest number
    (65504): a plain cast would turn it into ``inf``. ``z`` itself is returned when it already has ``dtype``.
    """
    if z.dtype == dtype:
        return z
    if dtype.is_floating_point and torch.finfo(dtype).max < torch.finfo(z.dtype).max:
        big = torch.finfo(dtype).max
        z = z.clamp(-big, big)
    return z.to(dtype)


def _core_dtypes() -> tuple[torch.dtype, ...]:
    """The dtypes the core sampler fills: float32/float64, and float16/bfloat16 with the float32 path."""
    return _CORE_DTYPES + _LOW_DTYPES if _core_fill("fill_noise_f32") is not None else _CORE_DTYPES


def check_core_sampler(t: Tensor, contiguous: bool = True) -> None:
    """Raise ``ValueError`` unless ``sampler="core"`` can fill ``t`` (a float32/float64/float16/bfloat16 CPU
    tensor, contiguous unless ``contiguous=False``, and htsgd built with the C++ sampler)."""
    ok = t.device.type == "cpu" and t.dtype in _core_dtypes() and (not contiguous or t.is_contiguous())
    if not ok or _core_fill() is None:
        raise ValueError("sampler='core' needs htsgd's C++ sampler and a contiguous float32, float64, float16 or "
                         f"bfloat16 CPU tensor, got a {t.dtype} tensor on {t.device}")


def _use_core(out: Tensor, sampler: str, dtypes: tuple[torch.dtype, ...] | None = None) -> bool:
    if sampler == "torch":
        return False
    if sampler == "core":
        check_core_sampler(out)
        return True
    if dtypes is None:
        dtypes = _core_dtypes() if _core_fill() is not None else ()
    return out.is_cpu and out.dtype in dtypes and out.is_contiguous()


def _core_seeds(generator: torch.Generator) -> tuple[int, int]:
    """The 62-bit key and counter of one core fill, drawn from ``generator``."""
    key, counter = torch.randint(0, _SEED_BOUND, (2,), generator=generator, dtype=torch.int64).tolist()
    return key, counter


def _fusable_addend(add: Tensor | None, out: Tensor) -> bool:
    """Whether the float32 core path adds ``add`` to ``out`` in the fill's pass."""
    return (add is not None and add.dtype == torch.float32 and add.is_cpu and add.shape == out.shape
            and add.is_contiguous() and not add.requires_grad)


def momentum_in_pass(buf: Tensor, add: Tensor | None, sampler: str, param: Tensor | None = None) -> bool:
    """Whether :func:`fill_noise_batch_` takes the noisy gradient into the momentum buffer ``buf`` in the
    float32 fill's pass (``momenta``), with no temporary: a contiguous float32 CPU buffer, the C++ float32
    path, and an addend it adds in the same pass (or none); ``param``: the parameter that weight decay
    reads there (the same conditions)."""
    return (sampler != "torch" and buf.dtype == torch.float32 and buf.is_cpu and buf.is_contiguous()
            and _core_fill("fill_noise_f32") is not None and _core_fill("fill_noise_many") is not None
            and (add is None or _fusable_addend(add, buf))
            and (param is None or (param.dtype == torch.float32 and param.is_cpu and param.shape == buf.shape
                                   and param.is_contiguous())))  # read through a detached view


class _TakeIn(NamedTuple):
    """torch.optim.SGD's options for buffers that take in the noisy gradient in the fill's pass beyond plain
    momentum: ``params[i]`` for weight decay (None where no buffer), the rounding of torch's add (``fused``,
    htsgd/torch/_single_tensor.py)."""
    params: Sequence[Tensor | None]
    weight_decay: float
    maximize: bool
    dampening: float
    fused: bool


def _fill_core_f32(outs: Sequence[Tensor], law: str, alpha: float, scale: float, seeds: Sequence[int],
                   counters: Sequence[int], addends: Sequence[Tensor | None], n_threads: int,
                   momenta: Sequence[float | None] | None = None, take_in: _TakeIn | None = None) -> None:
    """The float32 path for contiguous float32/float16/bfloat16 CPU tensors: ``outs[i] = Z + addends[i]``
    (``addends[i]`` None: ``Z``). Float32 outputs are written in place (an addend that is a contiguous
    float32 tensor of the same size is added in the same pass, the bits of ``Z`` then ``add_``); float16 and
    bfloat16 ones through a float32 scratch buffer, cast with :func:`cast_finite` and then added. Where
    ``momenta[i]`` is a number (a float32 out, its addend fusable or None), ``outs[i] = outs[i] * momenta[i]
    + (Z + addends[i])`` in the same pass (SGD's whole update with ``take_in``, its params aligned with
    ``outs``)."""
    arrays, adds, late = [], [], []
    f32 = torch.float32
    moms = list(momenta) if momenta is not None else [None] * len(outs)
    for out, add, m in zip(outs, addends, moms, strict=True):
        if m is not None and (out.dtype != f32 or (add is not None and not _fusable_addend(add, out))):
            raise ValueError("a momentum buffer takes in the noise in the fill's pass only as a float32 tensor "
                             "with a fusable addend")
        if out.dtype == f32:
            arrays.append(out.numpy())  # C-contiguous, any shape: the C++ side reads it flat
            fused = _fusable_addend(add, out)
            adds.append(add.numpy() if fused else None)
            if not fused and add is not None:
                late.append((out, add, None))
        else:
            scratch = torch.empty(out.numel(), dtype=torch.float32)
            arrays.append(scratch.numpy())
            adds.append(None)
            late.append((out, add, scratch))
    options: dict = {}
    if take_in is not None:
        decay = take_in.weight_decay != 0
        options = {"decay": decay, "weight_decay": float(take_in.weight_decay), "maximize": take_in.maximize,
                   "one_minus_dampening": float(1 - take_in.dampening), "fused": take_in.fused,
                   "params": [None if q is None else q.detach().numpy() for q in take_in.params] if decay else None}
    _core_fill("fill_noise_f32")(arrays, law, alpha, scale, list(seeds), list(counters), n_threads,
                                 adds if any(a is not None for a in adds) else None,
                                 moms if any(m is not None for m in moms) else None, **options)
    for out, add, scratch in late:
        if scratch is not None:
            out.copy_(cast_finite(scratch, out.dtype).view(out.shape))
        if add is not None:
            out.add_(add)


@torch.no_grad()
def fill_noise_(out: Tensor, law: Law, alpha: float, scale: float, generator: torch.Generator,
                sampler: str = "auto", *, n_threads: int = 0) -> Tensor:
    """Fill ``out`` in place with i.i.d. variates of ``law``; returns ``out``.

    Parameters
    ----------
    out : torch.Tensor
        The tensor to overwrite; on ``generator.device``.
    law, alpha, scale : see :func:`sample_noise`.
    generator : torch.Generator
        The only source of randomness. The core sampler draws one 62-bit key and counter from it per call.
    sampler : {"auto", "torch", "core"}
        ``"auto"`` uses the C++ sampler for contiguous float32/float64/float16/bfloat16 CPU tensors when it
        is available (float64: exact float64 variates; the others: the float32 path) and the torch sampler
        otherwise; ``"core"`` insists on the C++ sampler; ``"torch"`` never uses it.
    n_threads : int
        Threads of the C++ sampler (0: all; the result does not depend on it).
    """
    check_choice("sampler", sampler, SAMPLERS)
    if _use_core(out, sampler):
        check_law(law, alpha, scale)
        key, counter = _core_seeds(generator)
        if out.dtype == torch.float64 or _core_fill("fill_noise_f32") is None:
            _core_fill()(out.view(-1).numpy(), law, float(alpha), float(scale), key, counter, n_threads)
        else:
            _fill_core_f32([out], law, float(alpha), float(scale), [key], [counter], [None], n_threads)
        return out
    if out.dtype in _CORE_DTYPES and out.is_contiguous():
        check_law(law, alpha, scale)
        return _TORCH_SAMPLERS[law](out, generator, float(alpha), float(scale))
    return out.copy_(sample_noise(out.shape, law, alpha, scale, generator, out.dtype))


@torch.no_grad()
def fill_noise_batch_(outs: Sequence[Tensor], law: Law, alpha: float, scale: float,
                      generators: Sequence[torch.Generator], sampler: str = "auto", *,
                      n_threads: int = 0, addends: Sequence[Tensor | None] | None = None,
                      foreach: bool = False, momenta: Sequence[float | None] | None = None) -> list[Tensor]:
    """:func:`fill_noise_` on every ``(outs[i], generators[i])``, in order, with the C++ sampler's tensors
    filled in one call (its threads then share the whole batch instead of one tensor at a time).

    The generators are drawn from in the same order and the results have the same bits as one
    :func:`fill_noise_` call per tensor.

    Parameters
    ----------
    outs, law, alpha, scale, sampler, n_threads : as :func:`fill_noise_`.
    generators : sequence of torch.Generator
        One per tensor.
    addends : sequence of torch.Tensor or None, optional
        ``outs[i] += addends[i]`` after the fill (None entries: nothing added); the core sampler adds
        float32 addends in the same pass as the noise (the same bits as a separate ``add_``).
    foreach : bool
        Add the remaining addends with ``torch._foreach_add_`` (the same bits on CPU).
    momenta : sequence of float or None, optional
        Where ``momenta[i]`` is a number, ``outs[i]`` is a momentum buffer and takes in the noisy gradient:
        ``outs[i].mul_(momenta[i]).add_(noise + addends[i])``, ``torch.optim.SGD``'s update with the same
        bits. The core sampler does it in the fill's pass for float32 tensors (no workspace); other tensors
        get a temporary.

    Returns
    -------
    list of torch.Tensor
        ``outs``.
    """
    return _fill_batch(outs, law, alpha, scale, generators, sampler, n_threads=n_threads, addends=addends,
                       foreach=foreach, momenta=momenta)


@torch.no_grad()
def _fill_batch(outs: Sequence[Tensor], law: Law, alpha: float, scale: float, generators: Sequence[torch.Generator],
                sampler: str = "auto", *, n_threads: int = 0, addends: Sequence[Tensor | None] | None = None,
                foreach: bool = False, momenta: Sequence[float | None] | None = None,
                take_in: _TakeIn | None = None) -> list[Tensor]:
    """:func:`fill_noise_batch_`; with ``take_in``, the buffers of ``momenta`` get torch.optim.SGD's whole
    update (weight decay, dampening, maximize) in the fill's pass, and every one of them must be able to
    (:func:`momentum_in_pass`)."""
    check_choice("sampler", sampler, SAMPLERS)
    if len(outs) != len(generators):
        raise ValueError(f"Invalid generators: expected one per tensor ({len(outs)}), got {len(generators)}")
    if addends is not None and len(addends) != len(outs):
        raise ValueError(f"Invalid addends: expected one per tensor ({len(outs)}), got {len(addends)}")
    if momenta is not None and len(momenta) != len(outs):
        raise ValueError(f"Invalid momenta: expected one per tensor ({len(outs)}), got {len(momenta)}")
    adds = list(addends) if addends is not None else [None] * len(outs)
    many, has_f32 = _core_fill("fill_noise_many"), _core_fill("fill_noise_f32") is not None
    dtypes = _core_dtypes() if many is not None else ()
    moms: list[float | None] = [None if m is None else check_interval("momenta", m, -math.inf, math.inf,
                                                                      lo_open=True, hi_open=True)
                                for m in momenta] if momenta is not None else [None] * len(outs)
    prms = list(take_in.params) if take_in is not None else [None] * len(outs)  # read by weight decay
    buffers: list[tuple[Tensor, Tensor, float]] = []  # (buffer, temporary noisy gradient, momentum)
    fill_outs = list(outs)
    for i, (out, add, m) in enumerate(zip(outs, adds, moms, strict=True)):
        if m is not None and not momentum_in_pass(out, add, sampler):
            if take_in is not None:
                raise ValueError("SGD options are taken in only where the fill's pass can (momentum_in_pass)")
            # the noisy gradient into a temporary, taken in after the fills
            fill_outs[i] = torch.empty_like(out, memory_format=torch.contiguous_format)
            buffers.append((out, fill_outs[i], float(m)))
            moms[i] = None
    f64: tuple[list, list, list] = ([], [], [])
    f32: tuple[list, list, list, list, list, list] = ([], [], [], [], [], [])
    late: list[tuple[Tensor, Tensor]] = []  # (out, addend) pairs added after the fills
    pending: list[tuple] = []  # (out, addend, momentum, param): core tensors of one generator, seeds not drawn
    pending_generator: list[torch.Generator] = []

    def draw_pending() -> None:
        # one randint for a run of tensors of one CPU generator: the same numbers, in the same order, as
        # one (2,)-draw per tensor (tests/test_torch_noise_f32.py checks this)
        if not pending:
            return
        seeds = torch.randint(0, _SEED_BOUND, (2 * len(pending),), generator=pending_generator[0],
                              dtype=torch.int64).tolist()
        for j, (out, add, m, q) in enumerate(pending):
            key, counter = seeds[2 * j], seeds[2 * j + 1]
            if out.dtype == torch.float64 or not has_f32:
                for lst, v in zip(f64, (out.view(-1).numpy(), key, counter), strict=True):
                    lst.append(v)
                if add is not None:
                    late.append((out, add))
            else:
                for lst, v in zip(f32, (out, key, counter, add, m, q), strict=True):
                    lst.append(v)
        pending.clear()
        pending_generator.clear()

    checked = False
    for out, generator, add, m, q in zip(fill_outs, generators, adds, moms, prms, strict=True):
        if many is not None and _use_core(out, sampler, dtypes):
            if not checked:
                check_law(law, alpha, scale)
                checked = True
            if pending_generator and pending_generator[0] is not generator:
                draw_pending()
            pending.append((out, add, m, q))
            pending_generator[:] = [generator]
        else:
            draw_pending()  # the draws stay in tensor order
            fill_noise_(out, law, alpha, scale, generator, sampler, n_threads=n_threads)
            if add is not None:
                late.append((out, add))
    draw_pending()
    if f64[0]:
        many(f64[0], law, float(alpha), float(scale), f64[1], f64[2], n_threads)
    if f32[0]:
        _fill_core_f32(f32[0], law, float(alpha), float(scale), f32[1], f32[2], f32[3], n_threads, f32[4],
                       None if take_in is None else take_in._replace(params=f32[5]))
    if foreach and late:
        groups: dict[tuple, tuple[list[Tensor], list[Tensor]]] = {}
        for out, add in late:
            zs, gs = groups.setdefault((out.device, out.dtype), ([], []))
            zs.append(out)
            gs.append(add)
        for zs, gs in groups.values():
            torch._foreach_add_(zs, gs)
    else:
        for out, add in late:
            out.add_(add)
    for buf, noisy, m in buffers:
        buf.mul_(m).add_(noisy)
    return list(outs)


@torch.no_grad()
def sample_scalar(law: Law, alpha: float, scale: float, generator: torch.Generator,
                  dtype: torch.dtype = torch.float64) -> Tensor:
    """One variate of ``law`` as a 0-dimensional tensor on ``generator.device`` (no host synchronisation).

    This is the scalar multiplier ``Z`` of the multiplicative noise mode.
    """
    return sample_noise((), law, alpha, scale, generator, dtype)
