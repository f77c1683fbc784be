"""The validated model of truncated heavy-tailed SGD and its conversion to the core.

:class:`Model` checks landscape, learning rate, noise, truncation, bounds, clipping and isotropy once and
builds the typed core model (``_core.Model``) once; the simulators (:mod:`htsgd._simulation`,
:mod:`htsgd.rare_event`) and :class:`htsgd.HeavyTailedSGD` take it from here. It is immutable, compares by
value and pickles (through its constructor arguments).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _core
from ._validation import check_array, check_choice, check_int, check_positive
from .landscapes import Landscape, Landscape1D, check_landscape
from .noise import NoiseLaw, check_noise

MAX_PARTICLES = 2**32 - 1  # particle ids index the 32-bit Philox counter word
MAX_STEPS = 2**56 - 1


def _readonly_pair(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = lo.copy(), hi.copy()
    lo.flags.writeable = hi.flags.writeable = False
    return lo, hi


class Model:
    """Landscape, ``lr``, noise law, truncation ``b``, projection bounds, clipping mode and isotropy, validated.

    Parameters are those of :class:`htsgd.HeavyTailedSGD`. Attributes are read-only; ``bounds`` is None or a
    pair of read-only arrays of length ``dim``.
    """

    __slots__ = ("_landscape", "_lr", "_noise", "_truncation", "_bounds", "_clip", "_isotropic", "_dim", "_core")

    def __init__(self, landscape: Landscape, lr: float, noise: NoiseLaw, truncation: float | None = None,
                 bounds: tuple[Any, Any] | None = None, *, clip: str = "norm", isotropic: bool = False) -> None:
        init = object.__setattr__
        init(self, "_landscape", check_landscape(landscape))
        init(self, "_lr", check_positive("lr", lr))
        init(self, "_noise", check_noise(noise))
        init(self, "_truncation", None if truncation is None else check_positive("truncation", truncation,
                                                                                 allow_inf=True))
        init(self, "_clip", check_choice("clip", clip, ("norm", "coordinate")))
        if not isinstance(isotropic, (bool, np.bool_)):
            raise TypeError(f"Invalid isotropic: expected a bool, got {type(isotropic).__name__}")
        init(self, "_isotropic", bool(isotropic))
        init(self, "_dim", 1 if isinstance(landscape, Landscape1D) else landscape.dim)
        init(self, "_bounds", None if bounds is None else _readonly_pair(*self.check_box("bounds", bounds)))
        lo, hi = self._bounds if self._bounds is not None else (np.full(self._dim, -np.inf), np.full(self._dim, np.inf))
        step = _core.Step(self._lr, self.b, lo, hi, getattr(_core.Clip, self._clip), self._isotropic)
        init(self, "_core", _core.Model(landscape._core_landscape, noise._core_law, step))

    # ------------------------------------------------------------------ read-only attributes
    landscape = property(lambda self: self._landscape, doc="The loss landscape.")
    lr = property(lambda self: self._lr, doc="The learning rate.")
    noise = property(lambda self: self._noise, doc="The noise law.")
    truncation = property(lambda self: self._truncation, doc="``b``, or None (untruncated).")
    clip = property(lambda self: self._clip, doc="'norm' or 'coordinate'.")
    isotropic = property(lambda self: self._isotropic, doc="d-D: isotropic noise.")
    dim = property(lambda self: self._dim, doc="Coordinates of the state (1 for a 1-D landscape).")
    core = property(lambda self: self._core, doc="The typed core model (``_core.Model``) the kernels take.")

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(lo, hi)``, read-only arrays of length ``dim``, or None."""
        return None if self._bounds is None else (self._bounds[0].view(), self._bounds[1].view())

    @property
    def is_1d(self) -> bool:
        return isinstance(self._landscape, Landscape1D)

    @property
    def b(self) -> float:
        """The truncation threshold, ``inf`` when untruncated."""
        return math.inf if self._truncation is None else self._truncation

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name!r} (build a new one)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name!r}")

    def arguments(self) -> tuple[tuple, dict]:
        """``(args, kwargs)`` that rebuild this model: equality and pickling go through them."""
        bounds = None if self._bounds is None else (self._bounds[0].copy(), self._bounds[1].copy())
        return ((self._landscape, self._lr, self._noise, self._truncation, bounds),
                {"clip": self._clip, "isotropic": self._isotropic})

    def __reduce__(self) -> tuple:
        args, kwargs = self.arguments()
        return _rebuild, (type(self), args, kwargs)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        (a, ka), (b, kb) = self.arguments(), other.arguments()  # type: ignore[attr-defined]
        same_bounds = (a[4] is None and b[4] is None) or (
            a[4] is not None and b[4] is not None and all(np.array_equal(x, y) for x, y in zip(a[4], b[4])))
        return a[:4] == b[:4] and same_bounds and ka == kb

    def __hash__(self) -> int:
        bounds = None if self._bounds is None else tuple(x.tobytes() for x in self._bounds)
        return hash((self._landscape, self._lr, self._noise, self._truncation, bounds, self._clip, self._isotropic))

    def describe(self) -> str:
        """The constructor arguments as text (the body of the reprs of Model and HeavyTailedSGD)."""
        extra = "" if self.is_1d else f", clip={self._clip!r}, isotropic={self._isotropic}"
        return (f"{self._landscape!r}, lr={self._lr:g}, noise={self._noise!r}, truncation={self._truncation}, "
                f"bounds={self.bounds}{extra}")

    def __repr__(self) -> str:
        return f"Model({self.describe()})"

    # ------------------------------------------------------------------ checks of call arguments
    def check_box(self, name: str, box: Any) -> tuple[np.ndarray, np.ndarray]:
        """A pair ``(lo, hi)`` of scalars or length-``dim`` sequences -> two arrays of length ``dim``, lo < hi."""
        if not isinstance(box, (tuple, list)) or len(box) != 2:
            raise TypeError(f"Invalid {name}: expected a pair (lo, hi)")
        lo = check_array(f"{name}[0]", box[0], ndim=(0, 1), allow_nonfinite=True)
        hi = check_array(f"{name}[1]", box[1], ndim=(0, 1), allow_nonfinite=True)
        if lo.size not in (1, self._dim) or hi.size not in (1, self._dim):
            raise ValueError(f"Invalid {name}: expected scalars or sequences of length {self._dim}")
        lo, hi = np.broadcast_to(lo, (self._dim,)).copy(), np.broadcast_to(hi, (self._dim,)).copy()
        if np.any(lo >= hi):
            raise ValueError(f"Invalid {name}: {box!r}; expected lo < hi")
        return lo, hi

    def initial_state(self, x0: Any, n_particles: int | None) -> np.ndarray:
        """``x0`` as ``(n,)`` (1-D) or ``(n, d)``: one point broadcast to ``n_particles`` or one per particle,
        inside ``bounds``. Possibly a broadcast view: callers copy it once, where they need to."""
        x = check_array("x0", x0, ndim=(0, 1, 2))
        if self.is_1d:
            if x.ndim == 2:
                raise ValueError(f"Invalid x0: expected a scalar or shape (n_particles,), got shape {x.shape}")
            per_particle = x.ndim == 1
            single_shape: tuple[int, ...] = ()
        else:
            if x.ndim == 0 or x.shape[-1] != self._dim:
                raise ValueError(f"Invalid x0: expected shape ({self._dim},) or (n_particles, {self._dim}), "
                                 f"got shape {x.shape}")
            per_particle = x.ndim == 2
            single_shape = (self._dim,)
        if per_particle:
            if n_particles is not None and n_particles != x.shape[0]:
                raise ValueError(f"Invalid n_particles: {n_particles}; expected None or {x.shape[0]}, the number "
                                 "of particles in x0")
            out = x
        else:
            out = np.broadcast_to(x, (1 if n_particles is None else n_particles, *single_shape))
        if out.shape[0] < 1:
            raise ValueError("Invalid x0: expected at least one particle")
        if out.shape[0] > MAX_PARTICLES:
            raise ValueError(f"Invalid n_particles: expected at most {MAX_PARTICLES}")
        if self._bounds is not None:
            lo, hi = self._bounds
            pts = out.reshape(out.shape[0], -1)
            if np.any(pts < lo) or np.any(pts > hi):
                raise ValueError(f"Invalid x0: expected points inside bounds {self.bounds}")
        return out

    @staticmethod
    def check_first_particle(first_particle: Any, n: int) -> int:
        fp = check_int("first_particle", first_particle, minimum=0)
        if fp + n > MAX_PARTICLES + 1:
            raise ValueError(f"Invalid first_particle: {fp}; expected first_particle + n_particles <= 2**32")
        return fp


def _rebuild(cls: type, args: tuple, kwargs: dict) -> Any:
    return cls(*args, **kwargs)
