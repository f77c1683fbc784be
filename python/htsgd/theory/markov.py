"""Global dynamics: the Markov chain on the wide minima that SGD, mapped to minima, converges to.

On the time scale ``1/lambda_b(lr)`` with the largest ``l*``, the chain has generator
``Q_ij = sum_k mu_i(Omega_k) theta_k(j)`` (``mu_i``: the ``l*``-jump measure from minimum ``i``; ``theta``:
absorption probabilities through the narrow basins); untruncated: every minimum, ``l* = 1``, scale ``1/H(1/lr)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..basins import Basin
from .._validation import check_array, check_probability, check_truncation_threshold
from ._inputs import check_heavy_alpha
from .jump_measure import landing_measure
from .scales import exit_rate_scale, jumps_needed

__all__ = ["MarkovChain", "markov_chain_generator", "stationary_distribution"]


@dataclass(frozen=True)
class MarkovChain:
    """Markov-chain limit of SGD mapped to minima.

    Attributes
    ----------
    Q : numpy.ndarray
        Generator on the states (rows sum to 0), in units of the time scale below.
    wide : numpy.ndarray
        Indices, in the ``basins`` given, of the states (the wide basins; all basins if untruncated).
    minima : numpy.ndarray
        Positions of the states' minima.
    l_star_large : int
        Largest ``l*`` (1 if untruncated).
    time_scale : str
        How chain time maps to SGD steps.
    """

    Q: np.ndarray
    wide: np.ndarray
    minima: np.ndarray
    l_star_large: int
    time_scale: str

    def rate_scale(self, tail, lr) -> float:
        """Per-step rate unit ``lambda_b(lr)`` with ``l* = l_star_large``: ``Q * rate_scale`` is per step."""
        return exit_rate_scale(tail, lr, self.l_star_large)


def markov_chain_generator(basins, alpha, truncation=None, *, grad=None, p_plus=0.5, p_minus=0.5) -> MarkovChain:
    """Generator of the Markov chain that SGD, mapped to minima, converges to.

    Parameters
    ----------
    basins : sequence of Basin
        Non-overlapping basins sorted left to right (e.g. from :func:`find_basins`).
    alpha : float
        Tail index, ``alpha > 1``.
    truncation : float or None
        ``b``. Truncated: states are the wide basins (largest ``l*``), ``Q_ij = sum_k mu_i(Omega_k)
        theta_k(j)`` with ``mu_i`` the ``l*_large``-jump measure from minimum ``i`` and ``theta`` the
        absorption probabilities in wide basins of the chain that jumps from each narrow basin ``k`` with
        its own normalised ``l*_k``-jump exit law. None: every minimum is a state, ``l* = 1``,
        ``Q_ij = mu_i(Omega_j)`` with the one-jump measure.
    grad : landscape or callable, optional
        Needed when some ``l* >= 2``.
    p_plus, p_minus : float
        Tail balance.

    Returns
    -------
    MarkovChain
        Exits landing outside every given basin (beyond a domain end) are dropped.
    """
    basins = list(basins) if isinstance(basins, (list, tuple)) else basins
    if not isinstance(basins, list) or not all(isinstance(x, Basin) for x in basins):
        raise TypeError("Invalid basins: expected a list of Basin")
    if not basins:
        raise ValueError("Invalid basins: []; expected at least one basin")
    if any(x.hi > y.lo or x.minimum >= y.minimum for x, y in zip(basins[:-1], basins[1:])):
        raise ValueError("Invalid basins: expected non-overlapping basins sorted left to right")
    alpha, b = check_heavy_alpha(alpha), check_truncation_threshold("truncation", truncation)
    p_plus, p_minus = check_probability("p_plus", p_plus), check_probability("p_minus", p_minus)
    n = len(basins)
    ls = np.array([jumps_needed(x.width, b) for x in basins]) if n > 1 else np.ones(1, int)
    l_large = int(ls.max())
    wide, narrow = np.flatnonzero(ls == l_large), np.flatnonzero(ls < l_large)
    mu = np.zeros((n, n))
    for i, x in enumerate(basins):
        others = [k for k in range(n) if k != i]
        mu[i, others] = landing_measure(x, int(ls[i]), b, alpha, grad, p_minus, p_plus,
                                 [(basins[k].lo, basins[k].hi) for k in others])
    theta = np.zeros((n, n))
    theta[wide, wide] = 1.0
    if narrow.size:
        tot = mu[narrow].sum(axis=1, keepdims=True)
        P = np.divide(mu[narrow], tot, out=np.zeros_like(mu[narrow]), where=tot > 0)
        try:
            theta[np.ix_(narrow, wide)] = np.linalg.solve(np.eye(narrow.size) - P[:, narrow], P[:, wide])
        except np.linalg.LinAlgError:
            raise ValueError("Invalid basins: some narrow basins form a closed class (no path to a wide basin); "
                             "the Markov-chain limit needs every narrow basin to lead to a wide one") from None
    Q = mu[wide] @ theta[:, wide]
    np.fill_diagonal(Q, 0.0)
    np.fill_diagonal(Q, -Q.sum(axis=1))
    unit = "H(1/lr)" if math.isinf(b) else f"lambda_b(lr) = lr*(H(1/lr)/lr)**{l_large}"
    return MarkovChain(Q, wide, np.array([basins[i].minimum for i in wide]), l_large,
                       f"one unit of chain time = 1/{unit} SGD steps; Q * rate_scale(tail, lr) is per step")


def stationary_distribution(Q) -> np.ndarray:
    """Stationary law ``pi`` of a generator: ``pi Q = 0``, ``sum(pi) = 1``, ``pi >= 0``.

    Parameters
    ----------
    Q : array_like
        Square generator: finite, off-diagonal entries >= 0, rows summing to 0 (to 1e-9 of the largest
        rate), with a single closed class.

    Returns
    -------
    numpy.ndarray
    """
    Q = check_array("Q", Q, allow_nonfinite=True, allow_nan=True)
    if Q.ndim != 2 or Q.shape[0] != Q.shape[1] or Q.shape[0] == 0:
        raise ValueError(f"Invalid Q: shape {Q.shape}; expected a non-empty square matrix")
    n = Q.shape[0]
    scale = max(float(np.max(np.abs(Q))) if np.all(np.isfinite(Q)) else 0.0, 1e-300)
    off = Q[~np.eye(n, dtype=bool)]
    if not np.all(np.isfinite(Q)) or np.any(off < 0) or np.any(np.abs(Q.sum(axis=1)) > 1e-9 * scale * n):
        raise ValueError("Invalid Q: expected a finite generator with off-diagonals >= 0 and rows summing to 0")
    A = np.vstack([Q.T / scale, np.ones((1, n))])
    rhs = np.zeros(n + 1)
    rhs[-1] = 1.0
    pi, _, rank, _ = np.linalg.lstsq(A, rhs, rcond=None)
    if rank < n:
        raise ValueError("Invalid Q: more than one closed class; expected a unique stationary law")
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum()
