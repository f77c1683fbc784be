"""Seeding: numpy's ``rng=`` conventions (SPEC 7) mapped onto the 64-bit key of the Philox streams.

``rng`` may be None (fresh OS entropy), an int, a ``numpy.random.SeedSequence`` or a
``numpy.random.Generator`` (a key is drawn from it, advancing it). The key is derived from a
SeedSequence, whose entropy is carried by every result so that a run can be repeated exactly.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

RNGLike = Union[None, int, np.random.SeedSequence, np.random.Generator]


@dataclass(frozen=True)
class Seed:
    """The key of a run and where it came from. ``SeedSequence(entropy, spawn_key=spawn_key)`` repeats it."""

    key: int
    entropy: Any
    spawn_key: tuple[int, ...]

    def seed_sequence(self) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.entropy, spawn_key=self.spawn_key)


def resolve_seed(rng: Any) -> Seed:
    """Turn an ``rng=`` argument into a :class:`Seed`; ``TypeError``/``ValueError`` on anything else."""
    if isinstance(rng, np.random.SeedSequence):
        ss = rng
    elif isinstance(rng, np.random.Generator):
        ss = np.random.SeedSequence(int(rng.integers(0, 2**63)))
    elif rng is None:
        ss = np.random.SeedSequence()
    elif isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if int(rng) < 0:
            raise ValueError(f"Invalid rng: {rng}; expected an integer >= 0, a SeedSequence, a Generator or None")
        ss = np.random.SeedSequence(int(rng))
    else:
        raise TypeError("Invalid rng: expected None, an int >= 0, a numpy.random.SeedSequence or a "
                        f"numpy.random.Generator, got {type(rng).__name__}")
    key = int(ss.generate_state(1, dtype=np.uint64)[0])
    return Seed(key=key, entropy=ss.entropy, spawn_key=tuple(ss.spawn_key))
