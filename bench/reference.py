"""Reference implementations of the benchmark workloads, written the way a careful user would without htsgd.

W1: ``n`` particles x ``n_steps`` steps of truncated heavy-tailed SGD on the double well
``f(x) = (x^2 - 1)^2 / 4`` (gradient ``(x + 1) x (x - 1)``), symmetric Pareto (Lomax) noise
``Z = S * scale * (U^(-1/alpha) - 1)`` (alpha 1.5, scale 0.2), lr 0.05, b 0.6, from x = 1:
``x <- x + clip(lr * (Z - f'(x)), -b, b)``, the update of ``htsgd.HeavyTailedSGD``.
W2: first exits from (0, inf) started at x = 1, same parameters (mean about 1.8e4 steps).

numpy (``numpy_*``): blocks of 2^16 particles (their work arrays stay in L2 cache), every step in place
(``out=``, no temporaries), sign and magnitude of Z from one uniform, one ``SFC64`` generator per block
(``SeedSequence.spawn``: the result does not depend on the thread count), blocks spread over a thread pool
(numpy's ufuncs and generators release the GIL). W2 freezes an exited particle at +inf (where it never
exits again) and compacts the block when fewer than half of its particles still run.
numba (``numba_*``): ``prange`` over particles, one xoshiro256+ state per particle held in registers over
its steps, sign and 52-bit uniform from one draw, ``U ** (-1 / alpha) - 1`` by scalar libm ``pow`` (no
fastmath: within 1 ulp before the subtraction, the fastest accurate form in numba); only when numba is installed (``pip install 'htsgd[bench]'``).
``numpy_law_w1`` / ``numpy_nd_w1``: the same numpy technique for the Gaussian, Student t and stable laws
(exact samplers: ziggurat normals, normal over the root of a gamma variate, Chambers-Mallows-Stuck) and for
d-dimensional runs on ``Separable(DoubleWell(), d)`` with Euclidean-norm clipping of the step.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

ALPHA, SCALE, LR, B = 1.5, 0.2, 0.05, 0.6
BLOCK = 1 << 16
_HALF_ULP_BELOW_1 = 1.0 - 2.0**-53


# ---------------------------------------------------------------------------------------------- numpy: helpers
def _blocks(n: int, size: int) -> list[slice]:
    return [slice(i, min(n, i + size)) for i in range(0, n, size)]


def _parallel(fn: Callable, n_items: int, threads: int) -> list:
    if threads <= 1 or n_items <= 1:
        return [fn(i) for i in range(n_items)]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(fn, range(n_items)))


def _generators(seed: int, count: int) -> list[np.random.Generator]:
    return [np.random.Generator(np.random.SFC64(s)) for s in np.random.SeedSequence(seed).spawn(count)]


def _pareto_step_noise(rng: np.random.Generator, z: np.ndarray, t: np.ndarray, factor: float,
                       alpha: float = ALPHA) -> None:
    """z <- factor * S * (U^(-1/alpha) - 1) in place; t is scratch. One uniform k 2^-53 gives
    t = 2u - 1 + 2^-53 = (2k + 1 - 2^53) 2^-53 exactly: never 0, |t| uniform on (0, 1), sign(t) independent."""
    rng.random(out=t)
    t *= 2.0
    t -= _HALF_ULP_BELOW_1
    np.abs(t, out=z)
    np.log(z, out=z)
    z *= -1.0 / alpha
    np.expm1(z, out=z)                      # U^(-1/alpha) - 1 without cancellation near U = 1
    z *= factor
    np.copysign(z, t, out=z)


def _drift_step(x: np.ndarray, z: np.ndarray, t: np.ndarray) -> None:
    """x <- x + clip(z - lr f'(x), -b, b), with z = lr * noise; t is scratch."""
    np.multiply(x, x, out=t)
    t -= 1.0
    t *= x
    t *= LR                                 # lr (x + 1) x (x - 1)
    z -= t
    np.clip(z, -B, B, out=z)
    x += z


# ---------------------------------------------------------------------------------------------- numpy: W1, W2
def numpy_w1(n: int, n_steps: int, seed: int = 0, threads: int = 2) -> np.ndarray:
    """Final positions of W1 (Pareto noise: :func:`numpy_law_w1` with ``law="pareto"``)."""
    return numpy_law_w1("pareto", n, n_steps, seed=seed, threads=threads)


def numpy_w2(n: int, seed: int = 0, max_steps: int = 10**8, threads: int = 2) -> np.ndarray:
    """Exit steps of W2 (all particles exit well before ``max_steps`` in this setting)."""
    steps = np.full(n, max_steps, dtype=np.int64)
    parts = _blocks(n, max(1, min(BLOCK, -(-n // threads))))
    gens = _generators(seed, len(parts))

    def block(i: int) -> None:
        ids = np.arange(parts[i].start, parts[i].stop)
        x = np.ones(ids.size)
        z, t = np.empty_like(x), np.empty_like(x)
        out = np.empty(x.size, dtype=bool)
        running, k = ids.size, 0
        while running and k < max_steps:
            k += 1
            _pareto_step_noise(gens[i], z, t, LR * SCALE)
            _drift_step(x, z, t)
            np.less_equal(x, 0.0, out=out)  # +inf (exited) never is
            if out.any():
                hit = np.flatnonzero(out)
                steps[ids[hit]] = k
                x[hit] = np.inf
                running -= hit.size
                if 2 * running < x.size:    # compact: drop the exited particles
                    keep = np.isfinite(x)
                    x, ids = x[keep], ids[keep]
                    z, t, out = z[:x.size], t[:x.size], out[:x.size]

    _parallel(block, len(parts), threads)
    return steps


# ---------------------------------------------------------------------------------------------- numpy: laws, d-D
def _law_noise(law: str, alpha: float) -> Callable[[np.random.Generator, np.ndarray, np.ndarray, float], None]:
    """In-place sampler z <- factor * Z of a standard law (scale 1); t is scratch."""
    if law == "pareto":
        return lambda rng, z, t, factor: _pareto_step_noise(rng, z, t, factor, alpha)
    if law == "gaussian":
        def gaussian(rng, z, t, factor):
            rng.standard_normal(out=z)
            z *= factor
        return gaussian
    if law == "student_t":  # N / sqrt(chi2_df / df), chi2_df = 2 Gamma(df / 2)
        def student_t(rng, z, t, factor):
            rng.standard_normal(out=z)
            rng.standard_gamma(alpha / 2.0, out=t)
            t *= 2.0 / alpha
            np.sqrt(t, out=t)
            z /= t
            z *= factor
        return student_t
    if law == "stable":  # Chambers-Mallows-Stuck, symmetric, characteristic function exp(-|t|^alpha)
        def stable(rng, z, t, factor):
            w = np.empty_like(z)            # one more work array per call (a few % of the step)
            rng.random(out=z)
            z -= 0.5
            z *= math.pi                    # V uniform on [-pi/2, pi/2)
            rng.standard_exponential(out=w)
            np.multiply(z, 1.0 - alpha, out=t)
            np.cos(t, out=t)
            t /= w
            np.log(t, out=t)
            t *= (1.0 - alpha) / alpha      # log of (cos((1 - alpha) V) / W)^((1 - alpha) / alpha)
            np.cos(z, out=w)
            np.log(w, out=w)
            w *= 1.0 / alpha
            t -= w                          # - log(cos V) / alpha
            np.exp(t, out=t)
            z *= alpha
            np.sin(z, out=z)
            z *= t
            z *= factor
        return stable
    raise ValueError(f"Invalid law: {law!r}; expected 'pareto', 'gaussian', 'student_t' or 'stable'")


def numpy_law_w1(law: str, n: int, n_steps: int, alpha: float = ALPHA, seed: int = 0,
                 threads: int = 2) -> np.ndarray:
    """W1 with another noise law (same scale, lr, b): final positions."""
    noise = _law_noise(law, alpha)
    x = np.ones(n)
    parts = _blocks(n, BLOCK)
    gens = _generators(seed, len(parts))

    def block(i: int) -> None:
        xb = x[parts[i]]
        z, t = np.empty_like(xb), np.empty_like(xb)
        for _ in range(n_steps):
            noise(gens[i], z, t, LR * SCALE)
            _drift_step(xb, z, t)

    _parallel(block, len(parts), threads)
    return x


def numpy_nd_w1(d: int, n: int, n_steps: int, isotropic: bool = False, seed: int = 0,
                threads: int = 2) -> np.ndarray:
    """W1 on ``Separable(DoubleWell(), d)`` from (1, ..., 1), Pareto noise (i.i.d. coordinates, or radius |Z|
    and a uniform direction), the whole step clipped to Euclidean norm b. Coordinates are rows (structure of
    arrays, shape (d, particles) per block) so that every operation runs over long contiguous rows.
    Returns the final positions, shape (n, d)."""
    x = np.ones((d, n))
    parts = _blocks(n, max(64, BLOCK // d))
    gens = _generators(seed, len(parts))

    def block(i: int) -> None:
        xb = x[:, parts[i]]
        xc = np.ascontiguousarray(xb)
        z, t = np.empty_like(xc), np.empty_like(xc)
        norm, aux = np.empty(xc.shape[1]), np.empty(xc.shape[1])
        rng = gens[i]
        for _ in range(n_steps):
            if isotropic:  # |Z| along a normalised Gaussian direction
                _pareto_step_noise(rng, norm, aux, LR * SCALE)
                rng.standard_normal(out=z)
                np.square(z, out=t)
                t.sum(axis=0, out=aux)
                np.sqrt(aux, out=aux)
                np.divide(norm, aux, out=norm)
                z *= norm
            else:
                _pareto_step_noise(rng, z.reshape(-1), t.reshape(-1), LR * SCALE)
            np.multiply(xc, xc, out=t)
            t -= 1.0
            t *= xc
            t *= LR
            z -= t                          # the step w = lr (Z - grad f(x))
            np.square(z, out=t)
            t.sum(axis=0, out=norm)
            np.sqrt(norm, out=norm)
            np.maximum(norm, B, out=norm)
            np.divide(B, norm, out=norm)    # phi_b(w) = w min(1, b / |w|)
            z *= norm
            xc += z
        xb[...] = xc

    _parallel(block, len(parts), threads)
    return x.T


# ---------------------------------------------------------------------------------------------- numba
try:
    import numba
except ImportError:  # optional: pip install 'htsgd[bench]'
    numba = None

if numba is not None:
    _U = numba.uint64

    @numba.njit(inline="always")
    def _splitmix(z):  # pragma: no cover - compiled
        z = z + _U(0x9E3779B97F4A7C15)
        z = (z ^ (z >> _U(30))) * _U(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> _U(27))) * _U(0x94D049BB133111EB)
        return z ^ (z >> _U(31))

    @numba.njit(inline="always")
    def _seed(seed, i):  # pragma: no cover - compiled
        z = _splitmix(_U(seed) * _U(0x100000001B3) + _U(i))
        a = _splitmix(z)
        b = _splitmix(a)
        c = _splitmix(b)
        return z, a, b, c

    @numba.njit(inline="always")
    def _step(x, s0, s1, s2, s3):  # pragma: no cover - compiled
        """One W1 step with xoshiro256+: bits 12-63 give U in (0, 1), bit 11 the sign."""
        r = s0 + s3
        t = s1 << _U(17)
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = (s3 << _U(45)) | (s3 >> _U(19))
        u = (float(r >> _U(12)) + 0.5) * (1.0 / 4503599627370496.0)
        z = SCALE * (u ** (-1.0 / ALPHA) - 1.0)  # libm pow (< 1 ulp); 1.4x faster than expm1(log)
        if r & _U(2048):
            z = -z
        w = LR * (z - (x + 1.0) * x * (x - 1.0))
        w = min(max(w, -B), B)
        return x + w, s0, s1, s2, s3

    @numba.njit(parallel=True, cache=True)
    def _numba_w1(n, n_steps, seed):  # pragma: no cover - compiled
        out = np.empty(n)
        for i in numba.prange(n):
            s0, s1, s2, s3 = _seed(seed, i)
            x = 1.0
            for _ in range(n_steps):
                x, s0, s1, s2, s3 = _step(x, s0, s1, s2, s3)
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
                x, s0, s1, s2, s3 = _step(x, s0, s1, s2, s3)
                if not x > 0.0:
                    break
            steps[i] = k
        return steps

    def numba_w1(n: int, n_steps: int, seed: int = 0) -> np.ndarray:
        """Final positions of W1 (numba's thread count: ``numba.set_num_threads``)."""
        return _numba_w1(n, n_steps, seed)

    def numba_w2(n: int, seed: int = 0, max_steps: int = 10**8) -> np.ndarray:
        """Exit steps of W2."""
        return _numba_w2(n, seed, max_steps)

    def numba_warmup() -> None:
        _numba_w1(16, 2, 0)
        _numba_w2(4, 0, 10**8)
