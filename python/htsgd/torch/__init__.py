"""htsgd for PyTorch: the truncated heavy-tailed SGD optimizer and sharpness metrics.

Needs the optional extra: ``pip install "htsgd[torch]"``.

- :class:`HeavyTailedSGD`: ``torch.optim.SGD`` plus heavy-tailed noise (additive or the paper's
  multiplicative form) and truncation of the step ``phi_b(lr * d)``; functional form
  :func:`heavy_tailed_sgd`. Noise laws are the simulator's objects (``htsgd.Pareto(...)`` ...) or their
  names; clipping modes are named as in the simulator (``"norm"``, alias ``"global"``).
- :class:`Estimate` is :class:`htsgd.Estimate` (``value``, ``stderr``, sample size ``n``).
- :mod:`htsgd.torch.noise`: device-side samplers (Pareto, stable, Student t, Gaussian) on a
  ``torch.Generator``; :mod:`htsgd.torch.truncation`: ``phi_b`` for lists of tensors.
- :func:`expected_sharpness`, :func:`hessian_trace`, :func:`top_hessian_eigenvalue`.
"""
from __future__ import annotations

try:
    import torch as _torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError("htsgd.torch needs PyTorch: pip install 'htsgd[torch]'") from exc

from ._functional import heavy_tailed_sgd, noisy_gradients
from .noise import fill_noise_, fill_noise_batch_, sample_noise
from .optimizer import HeavyTailedSGD
from .tail_index import GradientNoiseTailIndex, gradient_noise_tail_index
from .sharpness import EigenEstimate, Estimate, expected_sharpness, hessian_trace, top_hessian_eigenvalue
from .truncation import phi_b

__all__ = [
    "EigenEstimate",
    "Estimate",
    "HeavyTailedSGD",
    "expected_sharpness",
    "fill_noise_",
    "fill_noise_batch_",
    "GradientNoiseTailIndex",
    "gradient_noise_tail_index",
    "heavy_tailed_sgd",
    "hessian_trace",
    "noisy_gradients",
    "phi_b",
    "sample_noise",
    "top_hessian_eigenvalue",
]
