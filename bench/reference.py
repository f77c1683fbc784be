"""Reference implementations of the two benchmark workloads, written the way a user would without htsgd.

W1: ``n`` particles x ``n_steps`` steps of truncated heavy-tailed SGD on the double well
``f(x) = (x^2 - 1)^2 / 4`` (gradient ``(x + 1) x (x - 1)``), symmetric Pareto noise (alpha 1.5, scale 0.2),
lr 0.05, b 0.6, from x = 1.
W2: first exits from (0, inf) started at x = 1, same parameters (mean about 1.8e4 steps).

``numpy_*``: vectorised over particles (W2 keeps the still-running particles in compacted arrays).
``numba_*``: ``parallel=True``, one particle per loop iteration, numba's per-thread generator; only when
numba is installed (``pip install 'htsgd[bench]'``).
"""
from __future__ import annotations

import numpy as np

ALPHA, SCALE, LR, B = 1.5, 0.2, 0.05, 0.6


def numpy_w1(n: int, n_steps: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.ones(n)
    z = np.empty(n)
    for _ in range(n_steps):
        u = rng.random(n)                       # [0, 1): 1 - u is in (0, 1]
        np.log1p(-u, out=z)
        z *= -1.0 / ALPHA
        np.expm1(z, out=z)
        z *= np.where(rng.random(n) < 0.5, -SCALE, SCALE)
        z -= (x + 1.0) * x * (x - 1.0)
        z *= LR
        np.clip(z, -B, B, out=z)
        x += z
    return x


def numpy_w2(n: int, seed: int = 0, max_steps: int = 10**8) -> np.ndarray:
    """Exit steps of ``n`` particles (all exit well before ``max_steps`` in this setting)."""
    rng = np.random.default_rng(seed)
    x = np.ones(n)
    ids = np.arange(n)
    steps = np.full(n, max_steps, dtype=np.int64)
    k = 0
    while x.size and k < max_steps:
        k += 1
        m = x.size
        z = SCALE * np.expm1(np.log1p(-rng.random(m)) * (-1.0 / ALPHA))
        z *= np.where(rng.random(m) < 0.5, -1.0, 1.0)
        w = LR * (z - (x + 1.0) * x * (x - 1.0))
        np.clip(w, -B, B, out=w)
        x += w
        out = ~(x > 0.0)
        if out.any():
            steps[ids[out]] = k
            keep = ~out
            x, ids = x[keep], ids[keep]
    return steps


try:
    import numba
except ImportError:  # optional: pip install 'htsgd[bench]'
    numba = None

if numba is not None:
    @numba.njit(parallel=True, cache=True)
    def _numba_w1(n, n_steps, seed):  # pragma: no cover - compiled
        np.random.seed(seed)
        out = np.empty(n)
        for i in numba.prange(n):
            x = 1.0
            for _ in range(n_steps):
                u = np.random.random()
                z = SCALE * np.expm1(np.log1p(-u) * (-1.0 / ALPHA))
                if np.random.random() < 0.5:
                    z = -z
                w = LR * (z - (x + 1.0) * x * (x - 1.0))
                w = min(max(w, -B), B)
                x += w
            out[i] = x
        return out

    @numba.njit(parallel=True, cache=True)
    def _numba_w2(n, seed, max_steps):  # pragma: no cover - compiled
        np.random.seed(seed)
        steps = np.empty(n, dtype=np.int64)
        for i in numba.prange(n):
            x = 1.0
            k = 0
            while k < max_steps:
                k += 1
                u = np.random.random()
                z = SCALE * np.expm1(np.log1p(-u) * (-1.0 / ALPHA))
                if np.random.random() < 0.5:
                    z = -z
                w = LR * (z - (x + 1.0) * x * (x - 1.0))
                w = min(max(w, -B), B)
                x += w
                if not x > 0.0:
                    break
            steps[i] = k
        return steps

    def numba_w1(n: int, n_steps: int, seed: int = 0) -> np.ndarray:
        return _numba_w1(n, n_steps, seed)

    def numba_w2(n: int, seed: int = 0, max_steps: int = 10**8) -> np.ndarray:
        return _numba_w2(n, seed, max_steps)

    def numba_warmup() -> None:
        _numba_w1(16, 2, 0)
        _numba_w2(4, 0, 10**8)
