"""htsgd: truncated heavy-tailed SGD.

Simulate ``x <- x + phi_b(-lr * grad f(x) + lr * Z)`` with heavy-tailed noise ``Z`` for many particles
in C++ (thread-count-independent counter-based randomness), measure exit times and basin occupancy,
and compare with the theory in :mod:`htsgd.theory`.
"""
from . import landscapes, theory
from ._core import max_threads
from .dynamics import HeavyTailedSGD
from .noise import Gaussian, NoiseLaw, Pareto, Stable, StudentT
from .results import Estimate, ExitProbability, ExitTimes, ExponentialCheck, MeanExitTime, RunResult
from .tail_index import TailIndex, tail_index
from .truncation import truncate

__all__ = [
    "HeavyTailedSGD", "Pareto", "Stable", "StudentT", "Gaussian", "NoiseLaw", "RunResult", "ExitTimes",
    "Estimate", "ExponentialCheck", "ExitProbability", "MeanExitTime", "landscapes", "theory", "truncate",
    "max_threads", "tail_index", "TailIndex",
]
__version__ = "0.3.2"
