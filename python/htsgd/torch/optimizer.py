"""``HeavyTailedSGD``: SGD with injected heavy-tailed noise and a truncated step, as a ``torch.optim.Optimizer``."""
from __future__ import annotations

import math
import numbers
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.optim import Optimizer

from ._functional import (
    apply_truncated_step,
    default_foreach,
    heavy_tailed_directions,
    norm_clip,
)
from ._hyperparameters import check_hyperparameters
from .noise import check_core_sampler, law_name, law_parameters, sample_scalar
from .truncation import canonical_clip, check_truncation

__all__ = ["HeavyTailedSGD"]

_STATE_KEY = "htsgd"


def _device_seed(root: int, device: str) -> int:
    """A 64-bit seed for one device's generator, spawned from the root seed (never ``root + i``)."""
    ss = np.random.SeedSequence(root, spawn_key=(zlib.crc32(device.encode()),))
    return int(ss.generate_state(1, dtype=np.uint64)[0])


class HeavyTailedSGD(Optimizer):
    r"""Stochastic gradient descent with heavy-tailed noise and a truncated step (Wang, Oh & Rhee, ICLR 2022).

    One step, for the gradients ``g`` of all parameters with a gradient:

    .. code-block:: text

        g~ = g + noise_scale * Z                   noise_mode="additive":  Z i.i.d. per coordinate
        g~ = g_ref + Z * (g - g_ref)               noise_mode="multiplicative": one scalar Z per step
        d  = SGD direction of g~                   maximize, weight decay, momentum, dampening, Nesterov,
                                                   exactly as torch.optim.SGD
        p <- p - phi_b(lr * d)                     phi_b(w) = w / |w| * min(|w|, b),  b = truncation

    **Truncation and momentum.** The truncation applies to the step actually taken, ``lr * d`` (after
    momentum), so ``|p_new - p_old| <= truncation`` holds at every step whatever the momentum; the noise
    enters before momentum, and the momentum buffer keeps the untruncated noisy gradient. Consequence: with
    momentum ``mu`` a single large noise variate keeps pushing for about ``1 / (1 - mu)`` steps (each at most
    ``b`` long); the theory (and its jump counts ``l* = ceil(r / b)``) is for ``momentum=0``.

    **Truncation by norm across parameter groups.** ``clip="norm"`` (the simulator's name; ``"global"`` is
    an alias) uses the Euclidean norm of the whole step over every parameter group with ``clip="norm"`` and
    a truncation (the theory's norm, like ``clip_grad_norm_(model.parameters())``); those groups must share
    the same ``truncation``.
    ``clip="tensor"`` truncates each tensor by its own norm, ``clip="coordinate"`` each coordinate.
    The norm and the clipping coefficient stay on the device: a step never synchronises with the host (on
    CPU the coefficient is read back, a memory read, to skip the extreme-step repair when it is not needed).

    **Reference gradient (multiplicative mode).** ``g_ref`` is, for each parameter, the gradient stored by
    the last :meth:`set_reference_gradient` call since the previous step (the paper's large-batch gradient;
    it is used for one step, then dropped). Where none was stored, the optimizer uses its own estimate: an
    exponential moving average of past stochastic gradients, ``e <- decay * e + (1 - decay) * g`` with
    ``decay = reference_decay``, taken *before* the current gradient is folded in (so the noise
    ``Z * (g - e)`` is not shrunk by ``g`` itself); it starts at the first gradient (so the first such step
    is noiseless) and is updated only at the steps that use it.

    **Randomness.** All noise comes from a ``torch.Generator`` per device: the one given as ``generator``, or
    private generators seeded from ``seed`` (fresh OS entropy if None; see :attr:`seed`), one per device,
    spawned with numpy's ``SeedSequence``. The global RNG is never used. The generator states are part of
    :meth:`state_dict`, so a run resumed from a checkpoint continues the same trajectory bit for bit.
    On CPU, additive noise is drawn by htsgd's vectorised C++ sampler (``sampler="auto"``, keyed from the
    generator): float64 variates for float64 parameters, float32 ones for float32/float16/bfloat16
    parameters (see :mod:`htsgd.torch.noise`); ``sampler="torch"`` forces the device-side torch sampler
    (the two give the same law, not the same bits).

    With ``noise=None`` and ``truncation=None`` the step is ``torch.optim.SGD``'s, bit for bit.

    **Functional form.** :meth:`step` runs :func:`htsgd.torch.heavy_tailed_sgd`'s two halves
    (:func:`~htsgd.torch._functional.heavy_tailed_directions`, then
    :func:`~htsgd.torch._functional.apply_truncated_step`) on each param group, pooling the norm of the
    ``clip="norm"`` groups in between; there is no second implementation of the step.

    **Complex parameters** are optimized as pairs of real numbers, as ``torch.optim.SGD`` does: a complex
    parameter ``p`` gives exactly the step of the real parameter ``torch.view_as_real(p)`` (additive noise
    i.i.d. on the real and the imaginary part; the norm is the Euclidean norm of all real coordinates;
    ``clip="coordinate"`` clamps the real and the imaginary part separately).

    **Checks.** :meth:`step` validates every param group (values changed in ``param_groups`` after
    construction included; ``truncation=inf`` means none) before it changes any state: a step that raises
    leaves the parameters and the optimizer state as they were. After a step, :attr:`last_step_norm` is the
    norm of the proposed step ``|lr * d|`` of the ``clip="norm"`` truncated groups (a device tensor, float32
    at least; inf beyond the float range or with an infinite component, NaN with a NaN component), or None
    if that step had none.

    **Extreme steps.** ``|p_new - p_old| <= truncation`` (up to rounding) for every input, as in the
    simulator: a step with infinite components moves by ``truncation`` along them, one whose norm overflows
    is clipped in its own direction, and a NaN component makes the truncated step NaN (the whole step with
    ``clip="norm"``, that tensor with ``"tensor"``, that coordinate with ``"coordinate"``), so the parameters
    show it (:mod:`htsgd.torch.truncation`).

    **Memory.** With noise, one parameter-sized workspace holds the noisy gradient (reused at every step,
    not saved; with momentum on the single-tensor path, multiplicative noise needs only one buffer of the
    largest tensor's size instead); the moving-average reference adds one buffer per parameter, momentum
    another.

    Parameters
    ----------
    params : iterable of torch.Tensor or of dict
        Parameters to optimize, or parameter groups (any hyperparameter below except ``generator`` and
        ``seed`` can be set per group).
    lr : float
        Learning rate, ``>= 0``.
    noise : htsgd.Pareto, htsgd.Stable, htsgd.StudentT, htsgd.Gaussian, str or None
        Law of ``Z``: the simulator's law objects, or a name (``"pareto"``, ``"stable"``, ``"student_t"``,
        ``"gaussian"``; :mod:`htsgd.torch.noise`); None: no noise. A
        law object carries its tail index and scale; the param group stores its name, ``alpha`` and
        ``noise_scale``.
    alpha : float, optional
        Tail index of ``Z`` for a law name (``0 < alpha <= 2`` for "stable"; degrees of freedom for
        "student_t"); default 1.5. With a law object leave it out: a different value is a ``ValueError``.
    noise_scale : float, optional
        Scale of ``Z`` (``>= 0``) for a law name; default 1.0. With a law object, as ``alpha``.
    noise_mode : {"additive", "multiplicative"}
        See above.
    reference_decay : float
        Decay of the moving-average reference gradient, ``0 <= reference_decay < 1``.
    truncation : float or None
        ``b``, the largest step (``> 0``, parameter units); None or ``inf``: untruncated.
    clip : {"norm", "tensor", "coordinate"}
        How the step is truncated: by its Euclidean norm (``"norm"``, as the simulator; alias ``"global"``),
        per tensor, or per coordinate.
    momentum, dampening, weight_decay, nesterov, maximize, foreach :
        As in ``torch.optim.SGD`` (``foreach=None``: the foreach path when every parameter is on CUDA).
    generator : torch.Generator, optional
        Generator to draw all noise from (then every parameter must be on its device).
    seed : int, optional
        Root seed of the private generators (not together with ``generator``); None: fresh OS entropy.
    sampler : {"auto", "torch", "core"}
        Sampler of additive noise (see :func:`htsgd.torch.noise.fill_noise_`).

    Examples
    --------
    >>> opt = HeavyTailedSGD(model.parameters(), lr=0.1, noise=htsgd.Pareto(1.4, 1.0),
    ...                      noise_mode="multiplicative", truncation=0.5, seed=0)  # doctest: +SKIP
    >>> loss_fn(model(x_large), y_large).backward(); opt.set_reference_gradient(); opt.zero_grad()
    >>> loss_fn(model(x), y).backward(); opt.step(); opt.zero_grad()  # doctest: +SKIP
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        *,
        noise: Any = "pareto",
        alpha: float | None = None,
        noise_scale: float | None = None,
        noise_mode: str = "additive",
        reference_decay: float = 0.9,
        truncation: float | None = None,
        clip: str = "norm",
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        maximize: bool = False,
        foreach: bool | None = None,
        generator: torch.Generator | None = None,
        seed: int | None = None,
        sampler: str = "auto",
    ) -> None:
        noise, alpha, noise_scale = law_parameters(noise, alpha, noise_scale)
        defaults = {
            "lr": lr,
            "noise": noise,
            "alpha": alpha,
            "noise_scale": noise_scale,
            "noise_mode": noise_mode,
            "reference_decay": reference_decay,
            "truncation": truncation,
            "clip": clip,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "sampler": sampler,
        }
        check_hyperparameters(defaults)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"Invalid generator: expected a torch.Generator or None, got {type(generator).__name__}")
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
                raise TypeError(f"Invalid seed: expected an integer or None, got {type(seed).__name__}")
            if seed < 0:
                raise ValueError(f"Invalid seed: {seed}; expected an integer >= 0")
            if generator is not None:
                raise ValueError("Invalid seed: pass either a generator or a seed, not both")
        self._user_generator = generator
        self._seed = int(np.random.SeedSequence(None if seed is None else int(seed)).entropy)
        self._generators: dict[str, torch.Generator] = {}
        self._workspace: dict[Tensor, Tensor] = {}  # per parameter: its noisy gradient, reused
        self._scratch: dict[tuple, Tensor] = {}  # per device and dtype: a noisy gradient that momentum reads
        self._reference_pool: dict[Tensor, Tensor] = {}  # per parameter: the memory of its last used g_ref
        self.last_step_norm: Tensor | None = None
        super().__init__(params, defaults)

    # -- parameter groups ----------------------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group (hyperparameters missing from it are taken from the defaults); validated.

        ``noise`` may be a law object (``htsgd.Pareto(...)`` ...): it sets the group's ``alpha`` and
        ``noise_scale`` (given beside it, they must agree).
        """
        if isinstance(param_group, dict) and law_name(param_group.get("noise")) is not None:
            name, a, s = law_parameters(param_group["noise"], param_group.get("alpha"), param_group.get("noise_scale"))
            param_group = {**param_group, "noise": name, "alpha": a, "noise_scale": s}
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        try:
            check_hyperparameters(group)
            for p in group["params"]:
                self._check_parameter(group, p, always=True)
        except (TypeError, ValueError):
            self.param_groups.pop()
            raise
        if group["truncation"] is not None and math.isinf(group["truncation"]):
            group["truncation"] = None

    def _check_parameter(self, group: Mapping[str, Any], p: Tensor, always: bool) -> None:
        """Raise ``ValueError`` if a step could not draw ``p``'s noise: the user generator on another device,
        or ``sampler="core"`` for a parameter it cannot fill (not a float32/float64/float16/bfloat16 CPU tensor).

        ``always=False`` (in :meth:`step`): only what this step would use (noise drawn at all; the core sampler
        for additive noise); ``always=True`` (a new param group): whatever the noise settings.
        """
        noisy = always or group["noise"] is not None
        if noisy and self._user_generator is not None and not _same_device_str(self._user_generator.device, p.device):
            raise ValueError(f"Invalid generator: it lives on {self._user_generator.device} but a parameter "
                             f"is on {p.device}; expected a generator on the parameters' device")
        if group["sampler"] == "core" and (always or (noisy and group["noise_mode"] == "additive")):
            check_core_sampler(_real(p), contiguous=False)  # the noise goes to a contiguous workspace

    def _check_step(self) -> list[float | None]:
        """Every check of :meth:`step`, run before it changes anything; returns each group's truncation
        (``None`` for none or ``inf``)."""
        truncations = []
        for group in self.param_groups:
            if law_name(group["noise"]) is not None:  # a law object set in param_groups after construction
                group["noise"], group["alpha"], group["noise_scale"] = law_parameters(group["noise"])
            check_hyperparameters(group)  # values set in param_groups after construction too (a few us)
            b, _ = check_truncation(group["truncation"], group["clip"])
            truncations.append(b)
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("HeavyTailedSGD does not support sparse gradients")
                self._check_parameter(group, p, always=False)
        bs = {b for b, g in zip(truncations, self.param_groups, strict=True)
              if b is not None and canonical_clip(g["clip"]) == "norm"}
        if len(bs) > 1:
            raise ValueError("Invalid truncation: param groups with clip='norm' must share one truncation, "
                             f"got {sorted(bs)}")
        return truncations

    def __setstate__(self, state: dict[str, Any]) -> None:
        extra = state.pop("_htsgd", None)
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("noise", "pareto")
            group.setdefault("alpha", 1.5)
            group.setdefault("noise_scale", 1.0)
            group.setdefault("noise_mode", "additive")
            group.setdefault("reference_decay", 0.9)
            group.setdefault("truncation", None)
            group.setdefault("clip", "norm")
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("sampler", "auto")
        if not hasattr(self, "_workspace"):
            self._workspace = {}
        if not hasattr(self, "_scratch"):
            self._scratch = {}
        if not hasattr(self, "_reference_pool"):
            self._reference_pool = {}
        if not hasattr(self, "_generators"):
            self._generators = {}
            self._user_generator = None
            self._seed = int(np.random.SeedSequence().entropy)
            self.last_step_norm = None
        if extra is not None:
            self._load_extra(extra)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_htsgd"] = self._extra_state()
        return state

    # -- randomness --------------------------------------------------------------------------------------
    @property
    def seed(self) -> int:
        """Root seed of the private generators (repeat a run with ``HeavyTailedSGD(..., seed=opt.seed)``)."""
        return self._seed

    def generator_for(self, device: torch.device | str) -> torch.Generator:
        """The generator that draws the noise of parameters on ``device`` (created on first use)."""
        device = torch.device(device)
        if self._user_generator is not None:
            if not _same_device_str(self._user_generator.device, device):
                raise ValueError(f"Invalid generator: it lives on {self._user_generator.device}, not on {device}")
            return self._user_generator
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        key = str(device)
        g = self._generators.get(key)
        if g is None:
            g = torch.Generator(device=device)
            g.manual_seed(_device_seed(self._seed, key))
            self._generators[key] = g
        return g

    def _extra_state(self) -> dict[str, Any]:
        gens = {str(self._user_generator.device): self._user_generator} if self._user_generator is not None \
            else self._generators
        return {"seed": self._seed, "generators": {k: g.get_state() for k, g in gens.items()}}

    def _load_extra(self, extra: Mapping[str, Any]) -> None:
        self._seed = int(extra["seed"])
        for key, st in extra["generators"].items():
            if self._user_generator is not None:
                if _same_device_str(self._user_generator.device, torch.device(key)):
                    self._user_generator.set_state(st)
            else:
                self.generator_for(key).set_state(st)

    def state_dict(self) -> dict[str, Any]:
        """torch's optimizer state plus, under ``"htsgd"``, the root seed and the generator states."""
        sd = super().state_dict()
        sd[_STATE_KEY] = self._extra_state()
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state from :meth:`state_dict`, generator states included (the run then resumes exactly)."""
        state_dict = dict(state_dict)
        extra = state_dict.pop(_STATE_KEY, None)
        super().load_state_dict(state_dict)
        if extra is not None:
            self._load_extra(extra)

    # -- reference gradient ------------------------------------------------------------------------------
    @torch.no_grad()
    def set_reference_gradient(self, grads: Iterable[Tensor | None] | Mapping[Tensor, Tensor] | None = None) -> None:
        """Store ``g_ref`` for the next step of the multiplicative mode (used once, then dropped).

        Parameters
        ----------
        grads : None, iterable of torch.Tensor or None, or mapping from parameter to tensor
            None (the usual call): copy each parameter's current ``.grad``, e.g. right after a backward pass
            on a large batch. An iterable: one tensor (or None) per parameter, in the order of
            ``param_groups``. A mapping: ``{param: g_ref}``.

        Examples
        --------
        >>> loss_fn(model(x_large), y_large).backward()   # doctest: +SKIP
        >>> opt.set_reference_gradient(); opt.zero_grad()
        >>> loss_fn(model(x_small), y_small).backward(); opt.step()
        """
        if not any(g["noise_mode"] == "multiplicative" for g in self.param_groups):
            raise ValueError("set_reference_gradient() needs a param group with noise_mode='multiplicative'")
        params = [p for g in self.param_groups for p in g["params"]]
        if grads is None:
            pairs = [(p, p.grad) for p in params]
        elif isinstance(grads, Mapping):
            ids = {id(p) for p in params}
            for p in grads:
                if id(p) not in ids:
                    raise ValueError("Invalid grads: a key is not a parameter of this optimizer")
            pairs = [(p, grads.get(p)) for p in params]
        else:
            given = list(grads)
            if len(given) != len(params):
                raise ValueError(f"Invalid grads: expected {len(params)} tensors (one per parameter), got {len(given)}")
            pairs = list(zip(params, given, strict=True))
        for p, g in pairs:
            if g is None:
                self.state[p].pop("reference_grad", None)
                continue
            if not isinstance(g, Tensor) or g.shape != p.shape:
                raise ValueError(f"Invalid grads: expected a tensor of shape {tuple(p.shape)} for each parameter")
            if g.is_sparse:
                raise RuntimeError("HeavyTailedSGD does not support sparse gradients")
            # the buffer of this parameter's last used reference, when it fits: reading freshly allocated
            # memory made the step about 1.4x slower on CPU (bench/RESULTS.md)
            buf = self._reference_pool.pop(p, None)
            if buf is not None and buf.shape == p.shape and buf.dtype == p.dtype and buf.device == p.device:
                self.state[p]["reference_grad"] = buf.copy_(g.detach())
            else:
                self.state[p]["reference_grad"] = g.detach().to(device=p.device, dtype=p.dtype, copy=True)

    # -- the step ----------------------------------------------------------------------------------------
    def _init_group(self, group: dict[str, Any], owners: list[Tensor], params: list[Tensor], grads: list[Tensor],
                    momentum_buffer_list: list[Tensor | None], reference_grads: list[Tensor | None],
                    emas: list[tuple[Tensor, Tensor]], consumable: list[bool]) -> None:
        """Collect a group's tensors for the functional step: ``owners`` are the parameters (the keys of the
        state), the other lists their real views (a complex tensor is seen as pairs of real numbers)."""
        multiplicative = group["noise"] is not None and group["noise_mode"] == "multiplicative"
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError("HeavyTailedSGD does not support sparse gradients")
            owners.append(p)
            params.append(_real(p))
            grads.append(_real(p.grad))
            if group["momentum"] != 0:
                momentum_buffer_list.append(_real(self.state[p].get("momentum_buffer")))
            if multiplicative:
                state = self.state[p]
                ref = state.pop("reference_grad", None)
                consumable.append(ref is not None)  # a supplied g_ref is used once: overwrite it
                if ref is not None:
                    self._reference_pool[p] = ref  # its memory holds the next set_reference_gradient()
                if ref is None:
                    ema = state.get("reference_ema")
                    if ema is None:
                        ema = state["reference_ema"] = p.grad.detach().clone(memory_format=torch.preserve_format)
                    ref = ema
                    emas.append((_real(ema), _real(p.grad)))
                reference_grads.append(_real(ref))
            elif p in self.state:
                self.state[p].pop("reference_grad", None)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step.

        Parameters
        ----------
        closure : callable, optional
            Re-evaluates the model and returns the loss.
        """
        self.last_step_norm = None  # never a previous step's
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        truncations = self._check_step()  # all checks before any state changes

        multipliers: dict[tuple, Tensor] = {}
        pending = []
        for group, truncation in zip(self.param_groups, truncations, strict=True):
            owners: list[Tensor] = []
            params: list[Tensor] = []
            grads: list[Tensor] = []
            bufs: list[Tensor | None] = []
            refs: list[Tensor | None] = []
            emas: list[tuple[Tensor, Tensor]] = []
            consumable: list[bool] = []
            self._init_group(group, owners, params, grads, bufs, refs, emas, consumable)
            if not params:
                continue
            foreach = default_foreach(params) if group["foreach"] is None else group["foreach"]
            noise, mode = group["noise"], group["noise_mode"]
            multiplier = None
            if noise is not None and mode == "multiplicative":
                key = (noise, group["alpha"], group["noise_scale"])
                if key not in multipliers:
                    multipliers[key] = sample_scalar(noise, group["alpha"], group["noise_scale"],
                                                     self.generator_for(params[0].device))
                multiplier = multipliers[key]
            # the norm of each direction is taken while it is in cache (single-tensor path)
            norms: list[Tensor] | None = [] if truncation is not None and canonical_clip(group["clip"]) == "norm" \
                else None
            directions = heavy_tailed_directions(
                params, grads, bufs, refs, generator=self.generator_for, noise=noise, alpha=group["alpha"],
                noise_scale=group["noise_scale"], noise_mode=mode, multiplier=multiplier,
                weight_decay=group["weight_decay"], momentum=group["momentum"], dampening=group["dampening"],
                nesterov=group["nesterov"], maximize=group["maximize"], foreach=foreach, sampler=group["sampler"],
                consumable_references=consumable or None,
                out=_Workspaces(self, owners, consumable or None) if noise is not None else None,
                scratch=self._scratch, reference_updates=[not c for c in consumable] if emas else None,
                reference_weight=1.0 - group["reference_decay"], norms=norms)
            if group["momentum"] != 0:
                for p, b in zip(owners, bufs, strict=True):
                    self.state[p]["momentum_buffer"] = torch.view_as_complex(b) if p.is_complex() else b
            pending.append((group, truncation, params, directions, foreach, norms))

        coefficient = None
        pooled = [e for e in pending if e[1] is not None and canonical_clip(e[0]["clip"]) == "norm"]
        if pooled:
            coefficient = norm_clip([(d, g["lr"], fe) for g, _, _, d, fe, _ in pooled], pooled[0][1],
                                    [n for *_, n in pooled])
            self.last_step_norm = coefficient.norm
        for group, truncation, params, directions, foreach, _ in pending:
            apply_truncated_step(params, directions, lr=group["lr"], truncation=truncation, clip=group["clip"],
                                 coefficient=coefficient, foreach=foreach)
        return loss


class _Workspaces(Sequence):
    """One reusable buffer per parameter for the noisy gradient (not part of the saved state; real views for
    complex parameters), allocated when first used: noise that only the momentum buffer reads goes to the
    optimizer's scratch buffer instead (:mod:`htsgd.torch._single_tensor`)."""

    def __init__(self, opt: HeavyTailedSGD, owners: list[Tensor], skip: list[bool] | None) -> None:
        self._opt, self._owners, self._skip = opt, owners, skip

    def __len__(self) -> int:
        return len(self._owners)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if self._skip is not None and self._skip[i]:
            return None
        p = self._owners[i]
        w = self._opt._workspace.get(p)
        if w is None or w.shape != p.shape or w.dtype != p.dtype or w.device != p.device:
            w = self._opt._workspace[p] = torch.empty_like(p, memory_format=torch.contiguous_format)
        return _real(w)


def _real(t: Tensor | None) -> Tensor | None:
    """``t`` seen as real numbers: ``torch.view_as_real`` of a complex tensor (a view), else ``t`` itself."""
    return torch.view_as_real(t) if t is not None and t.is_complex() else t


def _same_device_str(a: torch.device, b: torch.device) -> bool:
    if a.type != b.type:
        return False
    return a.type == "cpu" or (a.index or 0) == (b.index or 0)
