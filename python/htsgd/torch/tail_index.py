"""Tail index of a model's minibatch gradient noise: how heavy-tailed is SGD's noise on this problem?

The noise of one minibatch is ``g_i - g_bar``: its gradient minus the large-batch gradient ``g_bar``, the mean
of the gradients of all the minibatches drawn (``n_batches`` of them), all at the same parameters. Two
estimates come back (see :mod:`htsgd.tail_index`):

- ``vector``: Mohammadi et al.'s estimator on the ``n_batches`` noise vectors, as Simsekli, Sagun &
  Gurbuzbalaban (2019, ICML) measured it; about 2 when the noise has finite variance.
- ``coordinates``: the reduced-bias Hill estimator on the pooled coordinates of the noise (each coordinate
  divided by its median absolute value, so that scales do not mix), a random subset of at most
  ``max_coordinates`` coordinates; it tells how heavy the tail is beyond 2 as well.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._validation import check_int, check_interval
from ..tail_index import TailIndex, tail_index

__all__ = ["GradientNoiseTailIndex", "gradient_noise_tail_index"]


@dataclass(frozen=True)
class GradientNoiseTailIndex:
    """What :func:`gradient_noise_tail_index` returns.

    Attributes
    ----------
    vector : TailIndex
        Mohammadi's estimate on the noise vectors ``g_i - g_bar``.
    coordinates : TailIndex
        Reduced-bias Hill estimate on the pooled, scale-normalised noise coordinates.
    noise_norms : ndarray, shape (n_batches,)
        ``|g_i - g_bar|`` (Euclidean norm over all parameters).
    gradient_norm : float
        ``|g_bar|``, the large-batch gradient's norm.
    n_batches, dim : int
        Minibatches used and number of parameters.
    """

    vector: TailIndex
    coordinates: TailIndex
    noise_norms: np.ndarray
    gradient_norm: float
    n_batches: int
    dim: int

    def __str__(self) -> str:
        q50, q99 = np.quantile(self.noise_norms, [0.5, 0.99])
        return (f"gradient noise over {self.n_batches} minibatches, {self.dim} parameters\n"
                f"  vectors (Mohammadi):  {self.vector}\n  coordinates (Hill):   {self.coordinates}\n"
                f"  |noise| median {q50:.3g}, 99% {q99:.3g}; |large-batch gradient| {self.gradient_norm:.3g}")


def _flat_grad(model: torch.nn.Module, loss: Tensor) -> np.ndarray:
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for p, g in zip(params, grads)]
                     ).detach().to("cpu", torch.float64).numpy()


def gradient_noise_tail_index(model: torch.nn.Module, loss_fn: Callable[[Any, Any], Tensor],
                              loader: Iterable[Any], *, n_batches: int = 100, max_coordinates: int = 2000,
                              confidence: float = 0.9, n_bootstrap: int = 200, seed: int | None = 0
                              ) -> GradientNoiseTailIndex:
    """Estimate the tail index of the minibatch gradient noise of ``model`` over ``loader``.

    Parameters
    ----------
    model : torch.nn.Module
        The model at the parameters of interest (left unchanged; ``.grad`` is not touched). Put it in
        ``eval()`` mode if it has dropout or batch norm.
    loss_fn : callable
        ``loss_fn(model(inputs), targets) -> scalar Tensor`` (e.g. ``torch.nn.functional.cross_entropy``).
    loader : iterable of (inputs, targets)
        Minibatches, e.g. a shuffled ``torch.utils.data.DataLoader`` with the batch size of training.
        Iterated again from the start if it runs out before ``n_batches``.
    n_batches : int
        Minibatch gradients to draw (>= 50; their mean is the large-batch gradient).
    max_coordinates : int
        Coordinates (a random subset of the parameters) pooled by the Hill estimate (>= 1).
    confidence, n_bootstrap
        As in :func:`htsgd.tail_index`.
    seed : int, optional
        Seed of the coordinate subset and of the bootstraps.

    Returns
    -------
    GradientNoiseTailIndex
        ``vector`` and ``coordinates`` estimates (:class:`htsgd.TailIndex`), ``noise_norms``,
        ``gradient_norm``.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"Invalid model: expected a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"Invalid loss_fn: expected a callable, got {type(loss_fn).__name__}")
    n_batches = check_int("n_batches", n_batches, minimum=50)
    max_coordinates = check_int("max_coordinates", max_coordinates, minimum=1)
    check_interval("confidence", confidence, 0.0, 1.0, lo_open=True, hi_open=True)
    check_int("n_bootstrap", n_bootstrap, minimum=20)
    grads: list[np.ndarray] = []
    while len(grads) < n_batches:
        before = len(grads)
        for inputs, targets in loader:
            grads.append(_flat_grad(model, loss_fn(model(inputs), targets)))
            if len(grads) == n_batches:
                break
        if len(grads) == before:
            raise ValueError("Invalid loader: it yielded no minibatch")
    g = np.stack(grads)
    g_bar = g.mean(axis=0)
    noise = g - g_bar
    rng = np.random.default_rng(seed)
    vector = tail_index(noise, method="mohammadi", confidence=confidence, n_bootstrap=n_bootstrap, rng=rng)
    cols = rng.choice(noise.shape[1], size=min(max_coordinates, noise.shape[1]), replace=False)
    sub = noise[:, cols]
    scale = np.median(np.abs(sub), axis=0)
    live = scale > 0  # coordinates with a gradient on most minibatches
    pooled = (sub[:, live] / scale[live]).ravel()
    coordinates = tail_index(pooled, method="hill", confidence=confidence, n_bootstrap=n_bootstrap, rng=rng)
    return GradientNoiseTailIndex(vector, coordinates, np.linalg.norm(noise, axis=1), float(np.linalg.norm(g_bar)),
                                  n_batches, int(noise.shape[1]))
