"""Sharpness of a minimum: expected sharpness, Hessian trace (Hutchinson) and top Hessian eigenvalue.

Each function takes the parameters (a ``torch.nn.Module`` or an iterable of tensors) and a closure
``loss_fn() -> Tensor`` that evaluates the loss at the parameters' current values (e.g.
``lambda: F.cross_entropy(model(x_train), y_train)``). The parameters are left exactly as they were
found (perturbations are undone by copying the saved values back, never by subtracting), and ``.grad`` is
not touched (Hessian-vector products use ``torch.autograd.grad``). Put the model in ``eval()`` mode if it
has batch-norm or dropout layers: the closure runs the model several times.

Randomness comes from ``generator`` (a ``torch.Generator``) or, if it is None, from a private CPU
generator seeded with ``seed`` (fresh entropy if None; not both); never from the global RNG.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .._validation import check_int, check_positive
from ..results import Estimate  # the package's one estimate type: value, stderr and the sample size n

__all__ = ["EigenEstimate", "Estimate", "expected_sharpness", "hessian_trace", "top_hessian_eigenvalue"]

ParamsLike = torch.nn.Module | Iterable[Tensor]


@dataclass(frozen=True)
class EigenEstimate:
    """A Ritz value of the Hessian from power iteration.

    ``residual = |H v - value v|`` for the unit vector ``v`` found; since the Hessian is symmetric, it has an
    eigenvalue within ``residual`` of ``value`` (the dominant one once the iteration has converged).
    """

    value: float
    residual: float
    iterations: int
    converged: bool


def _params(params: ParamsLike) -> list[Tensor]:
    ps = [p for p in (params.parameters() if isinstance(params, torch.nn.Module) else params)]
    for p in ps:
        if not isinstance(p, Tensor):
            raise TypeError(f"Invalid params: expected a torch.nn.Module or tensors, got {type(p).__name__}")
    ps = [p for p in ps if p.requires_grad]
    if not ps:
        raise ValueError("Invalid params: expected at least one tensor with requires_grad=True")
    return ps


def _generator(generator: torch.Generator | None, seed: int | None) -> torch.Generator:
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"Invalid generator: expected a torch.Generator or None, got {type(generator).__name__}")
        if seed is not None:  # as HeavyTailedSGD: the seed would be silently ignored
            raise ValueError("Invalid seed: pass either a generator or a seed, not both")
        return generator
    if seed is not None:
        check_int("seed", seed, minimum=0)
    g = torch.Generator()
    g.manual_seed(int(np.random.SeedSequence(seed).generate_state(1, dtype=np.uint64)[0]))
    return g


def _like(p: Tensor, z: Tensor) -> Tensor:
    return z if z.device == p.device else z.to(p.device)


def _normal_like(p: Tensor, g: torch.Generator) -> Tensor:
    return _like(p, torch.randn(p.shape, generator=g, device=g.device, dtype=p.dtype))


def _rademacher_like(p: Tensor, g: torch.Generator) -> Tensor:
    z = torch.randint(0, 2, p.shape, generator=g, device=g.device, dtype=torch.int8)
    return _like(p, z.to(p.dtype).mul_(2).sub_(1))


def _mean_and_stderr(values: list[float]) -> Estimate:
    a = np.asarray(values, dtype=np.float64)
    stderr = float(a.std(ddof=1) / math.sqrt(a.size)) if a.size > 1 else math.nan
    return Estimate(float(a.mean()), stderr, int(a.size))


def _loss_value(loss_fn: Callable[[], Tensor]) -> float:
    loss = loss_fn()
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        raise TypeError("Invalid loss_fn: expected a callable returning a scalar tensor")
    return float(loss.detach())


@torch.no_grad()
def expected_sharpness(params: ParamsLike, loss_fn: Callable[[], Tensor], *, delta: float = 1e-2,
                       n_samples: int = 20, generator: torch.Generator | None = None,
                       seed: int | None = None) -> Estimate:
    """Expected sharpness ``E |L(theta + nu) - L(theta)|`` with ``nu ~ N(0, delta^2 I)`` (Wang et al., 2022).

    Parameters
    ----------
    params : torch.nn.Module or iterable of torch.Tensor
        The parameters ``theta`` (those with ``requires_grad``).
    loss_fn : callable
        ``loss_fn()`` returns the (training) loss at the current parameter values.
    delta : float
        Standard deviation of the perturbation (the paper: 1e-2 for small nets, 1e-3 for VGG).
    n_samples : int
        Number of perturbations (``>= 1``).
    generator, seed : randomness (see the module docstring).

    Returns
    -------
    Estimate
        The Monte Carlo mean and its standard error.
    """
    ps = _params(params)
    delta = check_positive("delta", delta)
    n = check_int("n_samples", n_samples, minimum=1)
    g = _generator(generator, seed)
    saved = [p.detach().clone() for p in ps]
    base = _loss_value(loss_fn)
    values = []
    try:
        for _ in range(n):
            for p in ps:
                p.add_(_normal_like(p, g), alpha=delta)
            values.append(abs(_loss_value(loss_fn) - base))
            for p, s in zip(ps, saved, strict=True):
                p.copy_(s)
    finally:
        for p, s in zip(ps, saved, strict=True):
            p.copy_(s)
    return _mean_and_stderr(values)


class _HVP:
    """Hessian-vector products of ``loss_fn`` at the current parameters (one graph, reused)."""

    def __init__(self, ps: list[Tensor], loss_fn: Callable[[], Tensor]) -> None:
        with torch.enable_grad():
            loss = loss_fn()
            if not isinstance(loss, Tensor) or loss.numel() != 1:
                raise TypeError("Invalid loss_fn: expected a callable returning a scalar tensor")
            grads = torch.autograd.grad(loss, ps, create_graph=True, allow_unused=True)
        self.ps = ps
        self.pairs = [(i, gr) for i, gr in enumerate(grads) if gr is not None and gr.requires_grad]

    def __call__(self, vs: list[Tensor]) -> list[Tensor]:
        out = [torch.zeros_like(p) for p in self.ps]
        if not self.pairs:
            return out
        with torch.enable_grad():
            hv = torch.autograd.grad([gr for _, gr in self.pairs], self.ps,
                                     grad_outputs=[vs[i] for i, _ in self.pairs], retain_graph=True,
                                     allow_unused=True)
        return [h.detach() if h is not None else o for h, o in zip(hv, out, strict=True)]


def _dot(a: list[Tensor], b: list[Tensor]) -> float:
    return float(sum(torch.sum(x.double() * y.double()) for x, y in zip(a, b, strict=True)))


def hessian_trace(params: ParamsLike, loss_fn: Callable[[], Tensor], *, n_samples: int = 20,
                  generator: torch.Generator | None = None, seed: int | None = None) -> Estimate:
    """Trace of the Hessian of the loss by Hutchinson's estimator ``E[v^T H v]``, ``v`` Rademacher.

    The standard error is the sample standard deviation over ``sqrt(n_samples)``; for a Hessian with
    off-diagonal entries ``H_ij`` the per-sample variance is ``2 sum_{i != j} H_ij^2`` (0 for a diagonal
    Hessian, which is then recovered exactly).

    Parameters
    ----------
    params, loss_fn, generator, seed : see :func:`expected_sharpness`.
    n_samples : int
        Number of probe vectors (``>= 2`` for a standard error).
    """
    ps = _params(params)
    n = check_int("n_samples", n_samples, minimum=1)
    g = _generator(generator, seed)
    hvp = _HVP(ps, loss_fn)
    values = []
    for _ in range(n):
        vs = [_rademacher_like(p, g) for p in ps]
        values.append(_dot(vs, hvp(vs)))
    return _mean_and_stderr(values)


def top_hessian_eigenvalue(params: ParamsLike, loss_fn: Callable[[], Tensor], *, max_iter: int = 100,
                           tol: float = 1e-4, generator: torch.Generator | None = None,
                           seed: int | None = None) -> EigenEstimate:
    """Dominant Hessian eigenvalue (largest in absolute value) by power iteration with Hessian-vector products.

    At a minimum the Hessian is (nearly) positive semi-definite and this is the top eigenvalue.

    Parameters
    ----------
    params, loss_fn, generator, seed : see :func:`expected_sharpness`.
    max_iter : int
        Most Hessian-vector products.
    tol : float
        Stop when ``|H v - lambda v| <= tol * |lambda|``.

    Returns
    -------
    EigenEstimate
        The Rayleigh quotient, the residual (an error bound), the iterations used, and whether it converged.
    """
    ps = _params(params)
    max_iter = check_int("max_iter", max_iter, minimum=1)
    tol = check_positive("tol", tol)
    g = _generator(generator, seed)
    hvp = _HVP(ps, loss_fn)
    v = [_normal_like(p, g) for p in ps]
    value, residual, it, converged = 0.0, math.inf, 0, False
    for it in range(1, max_iter + 1):
        norm = math.sqrt(_dot(v, v))
        if norm == 0.0:
            return EigenEstimate(0.0, 0.0, it, True)
        v = [x / norm for x in v]
        hv = hvp(v)
        value = _dot(v, hv)
        residual = math.sqrt(max(sum(float(torch.sum((h.double() - value * x.double()) ** 2))
                                     for h, x in zip(hv, v, strict=True)), 0.0))
        if residual <= tol * abs(value):
            converged = True
            break
        v = hv
    return EigenEstimate(value, residual, it, converged)
