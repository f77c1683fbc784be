"""Asymptotic theory of truncated heavy-tailed SGD in 1-D (a package of small modules on numpy, scipy and
``htsgd._validation``; never imports ``htsgd._core``, so that it can check the simulator).

Dynamics ``X <- X + phi_b(-lr f'(X) + lr Z)``, ``phi_b(w) = sign(w) min(|w|, b)``, noise tail
``H(x) = P(|Z| > x)`` regularly varying with index ``-alpha`` (``alpha > 1``), tail balance ``p_plus``,
``p_minus`` (Wang, Oh & Rhee, ICLR 2022, and follow-ups). For the basin ``(s_-, s_+)`` of a minimum ``m``:

- width ``r = min(m - s_-, s_+ - m)``; jumps needed ``l* = ceil(r / b)`` (``b = inf``: ``l* = 1``);
- scales ``lambda(lr) = H(1/lr)/lr`` and ``lambda_b(lr) = lr * lambda(lr)**l*`` (per step);
- first exit time ``tau`` (steps): ``q * lambda_b(lr) * tau -> Exp(1)``, so ``E tau ~ 1/(q lambda_b(lr))``
  and ``E tau ~ lr**-(1 + l*(alpha - 1))`` for Pareto-type tails;
- ``q`` is the mass, under ``nu_alpha(dw_1)...nu_alpha(dw_l*) dt_2...dt_l*`` with
  ``nu_alpha(dw) = alpha p_+- |w|**(-alpha-1) dw``, of the paths that start at ``m``, jump by ``phi_b(w_1)``,
  follow the gradient flow ``dx/dt = -f'(x)`` for ``t_2``, jump by ``phi_b(w_2)``, ... and end outside
  the basin. For ``l* = 1``: ``q = p_+ (s_+ - m)**-alpha 1{s_+ - m < b} + p_- (m - s_-)**-alpha 1{m - s_- < b}``.

How ``q`` is computed for ``l* >= 2`` (exactly, by deterministic quadrature, no time cut-off): in 1-D the flow
never crosses the minimum and only shrinks ``|x - m|``, so an exit on one side needs all ``l*`` jumps on
that side, each at least ``delta = R - (l* - 1) b`` (``R``: distance to that boundary). In the distance
``y = |x - m|`` the flow speed is ``g(y) = |f'(m +- y)|`` and ``dt = dy / g(y)`` turns every waiting-time
integral into a space integral. With ``E_a`` the measure of ending beyond distance ``a``::

    J_1(u) = p (a - u)**-alpha                         for a - b < u   (one jump from u reaches past a)
    J_{n+1}(u) = p * int_{a-nb}^{u+b} J_n(v) (v - u)**-alpha / g(v) dv
    E_a = J_l*(0),   q = E_{s_+ - m} (right) + E_{m - s_-} (left)

(``J_{n+1}`` follows from ``int nu(dw) int_0^inf J_n(flow_t(u + phi_b(w))) dt`` by ``dt = dv/g(v)`` and an
exchange of the two integrals; the atom of ``phi_b`` at ``b`` is included.) ``l* = 2`` is a single integral,
``q_side = p**2 int_{R-b}^{b} dv / ((R - v)**alpha v**alpha g(v))``; for ``l* >= 3`` the intermediate ``J_n``
are piecewise Chebyshev interpolants (degree 24) on panels graded toward the end where they vary on the
scale ``delta``; all integrals are adaptive (``quad_vec``, relative tolerance 1e-11). Accuracy: relative
error <~1e-9 (doubling the Chebyshev degree changes ``q`` by <1e-12 for ``l* = 3, 4``, <2e-7 at degree 12
with ``r/b`` within 1e-3 of an integer); ``tests/test_theory.py`` confirms ``q`` against a semi-analytic
``l* = 2`` value to 1e-8 and against brute-force Monte Carlo with explicit flows (``l* = 2, 3``).

Global dynamics (``markov_chain_generator``): on the time scale ``1/lambda_b(lr)`` with the largest ``l*``,
SGD mapped to basins converges to a Markov chain on the wide minima with generator
``Q_ij = sum_k mu_i(Omega_k) theta_k(j)``; untruncated: every minimum, ``l* = 1``, scale ``1/H(1/lr)``.

Modules: :mod:`htsgd.basins` (``Basin``, basin finding; re-exported here), :mod:`.scales` (``l*``, rates),
:mod:`.jump_measure` (the quadrature), :mod:`.exits` (``q``, exit sides, mean exit time), :mod:`.markov`
(the Markov-chain limit).
"""
from __future__ import annotations

from ..basins import Basin, basins_from_critical_points, find_basins
from .exits import (asymptotic_regime_indicator, exit_constant, exit_side_probabilities,
                    predicted_mean_exit_time)
from .jump_measure import landing_measure as _landing
from .markov import MarkovChain, markov_chain_generator, stationary_distribution
from .scales import exit_rate_scale, exit_time_exponent, jump_rate, jumps_needed

__all__ = [
    "Basin", "MarkovChain", "find_basins", "basins_from_critical_points", "jumps_needed",
    "exit_time_exponent", "jump_rate", "exit_rate_scale", "exit_constant", "exit_side_probabilities",
    "predicted_mean_exit_time", "asymptotic_regime_indicator", "markov_chain_generator",
    "stationary_distribution",
]
