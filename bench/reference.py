"""Reference implementations of the two benchmark workloads, written the way a user would without htsgd.

W1: ``n`` particles x ``n_steps`` steps of truncated heavy-tailed SGD on the double well
``f(x) = (x^2 - 1)^2 / 4`` (gradient ``(x + 1) x (x - 1)``), symmetric Pareto noise (alpha 1.5, scale 0.2),
lr 0.05, b 0.6, from x = 1.
W2: first exits from (0, inf) started at x = 1, same parameters (mean about 1.8e4 steps).

``numpy_*``: vectorised over particles (W2 keeps the still-running particles in compacted arrays).
``numba_*``: ``parallel=True``, one particle per loop iteration with its own xoshiro256** generator
(seeded by splitmix64 from the particle id), scalar libm log/expm1; only when numba is installed
(``pip install 'htsgd[bench]'``).
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
    _U = numba.uint64

    @numba.njit(inline="always")
    def _rotl(x, k):  # pragma: no cover - compiled
        return (x << _U(k)) | (x >> _U(64 - k))

    @numba.njit(inline="always")
    def _splitmix(z):  # pragma: no cover - compiled
        z = z + _U(0x9E3779B97F4A7C15)
        z = (z ^ (z >> _U(30))) * _U(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> _U(27))) * _U(0x94D049BB133111EB)
        return z ^ (z >> _U(31))

    @numba.njit(inline="always")
    def _noise(s0, s1, s2, s3):  # pragma: no cover - compiled
        """xoshiro256** step -> (Pareto variate, new state): 53 bits for U in (0, 1), the lowest bit for the sign."""
        r = _rotl(s1 * _U(5), 7) * _U(9)
        t = s1 << _U(17)
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = _rotl(s3, 45)
        u = (float(r >> _U(11)) + 0.5) * (1.0 / 9007199254740992.0)
        z = SCALE * np.expm1(np.log(u) * (-1.0 / ALPHA))
        if r & _U(1):
            z = -z
        return z, s0, s1, s2, s3

    @numba.njit(inline="always")
    def _seed(seed, i):  # pragma: no cover - compiled
        z = _splitmix(_U(seed) * _U(0x100000001B3) + _U(i))
        a = _splitmix(z)
        b = _splitmix(a)
        c = _splitmix(b)
        return z, a, b, c

    @numba.njit(parallel=True, cache=True)
    def _numba_w1(n, n_steps, seed):  # pragma: no cover - compiled
        out = np.empty(n)
        for i in numba.prange(n):
            s0, s1, s2, s3 = _seed(seed, i)
            x = 1.0
            for _ in range(n_steps):
                z, s0, s1, s2, s3 = _noise(s0, s1, s2, s3)
                w = LR * (z - (x + 1.0) * x * (x - 1.0))
                w = min(max(w, -B), B)
                x += w
            out[i] = x
        return out

    @numba.njit(parallel=True, cache=True)
    def _numba_w2(n, seed, max_steps):  # pragma: no cover - compiled
        steps = np.empty(n, dtype=np.int64)
        for i in numba.prange(n):
            s0, s1, s2, s3 = _seed(seed, i)
            x = 1.0
            k = 0
            while k < max_steps:
                k += 1
                z, s0, s1, s2, s3 = _noise(s0, s1, s2, s3)
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
