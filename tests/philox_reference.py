"""A numpy reimplementation of the engine's Philox4x32-10 and of the Sampling stream's addressing, so that
tests can rebuild the uniforms behind ``fill_noise`` and check the transforms in extended precision."""
from __future__ import annotations

import numpy as np

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK = np.uint64(0xFFFFFFFF)
SAMPLING = 1  # Stream::Sampling


def philox(c0, c1, c2, c3, k0: int, k1: int):
    """Philox4x32-10 on uint64 arrays holding 32-bit words."""
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint64) for c in (c0, c1, c2, c3))
    for _ in range(10):
        p0, p1 = c0 * M0, c2 * M1
        c0, c1, c2, c3 = (p1 >> np.uint64(32)) ^ c1 ^ np.uint64(k0), p1 & MASK, (p0 >> np.uint64(32)) ^ c3 ^ np.uint64(k1), p0 & MASK
        k0, k1 = (k0 + W0) & 0xFFFFFFFF, (k1 + W1) & 0xFFFFFFFF
    return c0, c1, c2, c3


def sampling_blocks(seed: int, step, attempt: int = 0):
    """Block ``attempt`` of (particle 0, ``step``, slot 0) of the Sampling stream of fill_noise(seed, counter=0)."""
    h = philox([0], [0], [SAMPLING], [0x5A3D], seed & 0xFFFFFFFF, seed >> 32)
    k0, k1 = int(h[0][0]), int(h[1][0])
    step = np.asarray(step, dtype=np.uint64)
    c0 = np.full(step.shape, attempt, dtype=np.uint64)
    return philox(c0, step & MASK, (step >> np.uint64(32)) | np.uint64(SAMPLING << 24), np.zeros_like(step), k0, k1)


def u01_open(hi, lo):
    """The engine's uniform on (0, 1): (2j + 1) 2^-53 from the top 52 bits of (hi, lo)."""
    bits = ((hi << np.uint64(32)) | lo) >> np.uint64(12)
    return (bits.astype(np.float64) + 0.5) * 2.0**-52


def half_block_uniforms(seed: int, n: int):
    """Variates 0..n-1 of a half-block law: variate i is step s = i + 1, reading block (s + 1) // 2, words
    0-1 for odd s and 2-3 for even s. Returns (hi, lo) of each variate's word pair and the whole blocks."""
    step = np.arange(n, dtype=np.uint64) + np.uint64(1)
    b0, b1, b2, b3 = sampling_blocks(seed, (step + np.uint64(1)) >> np.uint64(1))
    odd = (step & np.uint64(1)).astype(bool)
    return np.where(odd, b0, b2), np.where(odd, b1, b3), (b0, b1, b2, b3), odd
