"""Type stubs of the compiled core (htsgd._core). Internal: use the validated Python API.

The model crosses the boundary as typed objects built once (NoiseLaw, Landscape1D / LandscapeND, Step,
Model, RareExitProblem); every size is checked when they are built and when a kernel is called.
"""
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

has_openmp: bool

F64 = npt.NDArray[np.float64]

def max_threads() -> int: ...
def active_isa() -> str: ...

# ------------------------------------------------------------------------------------------ noise
class NoiseKind:
    pareto: ClassVar[NoiseKind]
    stable: ClassVar[NoiseKind]
    student_t: ClassVar[NoiseKind]
    gaussian: ClassVar[NoiseKind]
    name: str
    value: int

class NoiseLaw:
    """Checked: alpha > 0 and scale > 0, finite; alpha <= 2 for stable (alpha is df for student_t)."""
    def __init__(self, kind: NoiseKind, alpha: float, scale: float) -> None: ...
    @staticmethod
    def from_name(name: str, alpha: float, scale: float) -> NoiseLaw: ...
    @property
    def kind(self) -> NoiseKind: ...
    @property
    def alpha(self) -> float: ...
    @property
    def scale(self) -> float: ...
    def fill(self, out: npt.NDArray[np.floating[Any]], seed: int, counter: int, n_threads: int = 0) -> None: ...

def fill_noise(out: npt.NDArray[np.floating[Any]], law: str, alpha: float, scale: float, seed: int, counter: int,
               n_threads: int = 0) -> None: ...
def fill_noise_many(outs: list[npt.NDArray[np.floating[Any]]], law: str, alpha: float, scale: float,
                    seeds: list[int], counters: list[int], n_threads: int = 0) -> None: ...
def fill_noise_f32(outs: list[npt.NDArray[np.float32]], law: str, alpha: float, scale: float, seeds: list[int],
                   counters: list[int], n_threads: int = 0,
                   addends: list[npt.NDArray[np.float32] | None] | None = None,
                   momenta: list[float | None] | None = None) -> None: ...

# ------------------------------------------------------------------------------------------- optimizer
def direction_pass_f32(grad: npt.NDArray[np.float32], *, ref: npt.NDArray[np.float32] | None = None,
                       noisy: npt.NDArray[np.float32] | None = None, param: npt.NDArray[np.float32] | None = None,
                       buf: npt.NDArray[np.float32] | None = None, out: npt.NDArray[np.float32] | None = None,
                       z: float = 0.0, weight: float = 0.0, update_ref: bool = False, decay: bool = False,
                       weight_decay: float = 0.0, maximize: bool = False, momentum: float = 0.0,
                       alpha: float = 1.0, nesterov: bool = False, fused: bool = True,
                       n_threads: int = 0) -> None: ...

# ------------------------------------------------------------------------------------------ landscapes
class Landscape1D:
    @staticmethod
    def polynomial(value_coef: F64, grad_coef: F64) -> Landscape1D: ...
    @staticmethod
    def critical_points(points: F64, value_coef: F64, scale: float) -> Landscape1D: ...
    @staticmethod
    def tabulated(x: F64, grad: F64, value: F64) -> Landscape1D: ...
    @staticmethod
    def periodic(amplitude: float, period: float, tilt: float) -> Landscape1D: ...
    @property
    def dim(self) -> int: ...
    def value(self, x: F64) -> F64: ...
    def grad(self, x: F64) -> F64: ...

class LandscapeND:
    @staticmethod
    def quadratic(hessian: F64, center: F64) -> LandscapeND: ...
    @staticmethod
    def separable(component: Landscape1D, dim: int) -> LandscapeND: ...
    @property
    def dim(self) -> int: ...
    def value(self, x: F64) -> F64: ...
    def grad(self, x: F64) -> F64: ...

# ------------------------------------------------------------------------------------------ model
class Clip:
    norm: ClassVar[Clip]
    coordinate: ClassVar[Clip]
    name: str
    value: int

class Step:
    def __init__(self, lr: float, truncation: float, lo: F64, hi: F64, clip: Clip = ...,
                 isotropic: bool = False) -> None: ...
    @property
    def dim(self) -> int: ...
    @property
    def lr(self) -> float: ...
    @property
    def truncation(self) -> float: ...

class Model:
    """Landscape, noise law and step; the step's bounds have the landscape's dimension."""
    def __init__(self, landscape: Landscape1D | LandscapeND, noise: NoiseLaw, step: Step) -> None: ...
    @property
    def dim(self) -> int: ...
    @property
    def is_1d(self) -> bool: ...

# ------------------------------------------------------------------------------------------ simulation
class RunOutput:
    final: F64
    trajectory: F64 | None
    occupancy: npt.NDArray[np.int64] | None
    nonfinite_index: npt.NDArray[np.int64]
    nonfinite_at: npt.NDArray[np.int64]

class ExitOutput:
    steps: npt.NDArray[np.int64]
    position: F64
    exited: npt.NDArray[np.bool_]
    nonfinite: npt.NDArray[np.bool_]

def run(model: Model, state: F64, n_steps: int, *, seed: int, first_particle: int = 0, record_every: int = 0,
        basin_edges: F64 | None = None, n_threads: int = 0) -> RunOutput: ...
def exit_times(model: Model, x0: F64, domain_lo: F64, domain_hi: F64, max_steps: int, *, seed: int,
               first_particle: int = 0, n_threads: int = 0) -> ExitOutput: ...
def truncate(rows: F64, b: float, per_coordinate: bool) -> F64: ...

# ------------------------------------------------------------------------------------------ rare events
class RareExitProblem:
    def __init__(self, x0: float, domain_lo: float, domain_hi: float, horizon: int, l_star: int, gamma: float,
                 weight: float, side: int, crude: bool) -> None: ...
    @property
    def horizon(self) -> int: ...

class RareExitTally:
    def __init__(self) -> None: ...
    sum: float
    sum_c: float
    sum2: float
    sum2_c: float
    max_y: float
    n: int
    exits: int
    branch: int
    branch_exits: int
    nonfinite: int

def rare_exit(model: Model, problem: RareExitProblem, *, seed: int, first_sample: int, n_samples: int,
              tally: RareExitTally, n_threads: int = 0) -> tuple[RareExitTally, float]: ...

# ------------------------------------------------------------------------------------------ _testing
class _RareExitSamples:
    y: F64
    flags: npt.NDArray[np.uint8]
    steps: npt.NDArray[np.int64]
    position: F64

class _testing:  # the submodule htsgd._core._testing (test-only hooks), written as a namespace
    RareExitSamples = _RareExitSamples
    @staticmethod
    def philox4x32(counter: list[int], key: list[int]) -> list[int]: ...
    @staticmethod
    def eval_kernel(name: str, x: F64) -> F64: ...
    @staticmethod
    def fill_noise_reference(out: F64, law: NoiseLaw, seed: int, counter: int) -> None: ...
    @staticmethod
    def eval_kernel_f32(name: str, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]: ...
    @staticmethod
    def uniform_f32(words: npt.NDArray[np.uint32]) -> npt.NDArray[np.float32]: ...
    @staticmethod
    def pareto_f32_words(words: npt.NDArray[np.uint32], alpha: float, scale: float) -> npt.NDArray[np.float32]: ...
    @staticmethod
    def fill_noise_f32_reference(out: npt.NDArray[np.float32], law: str, alpha: float, scale: float, seed: int,
                                 counter: int) -> None: ...
    @staticmethod
    def run_reference(model: Model, state: F64, n_steps: int, *, seed: int, first_particle: int = 0,
                      record_every: int = 0, basin_edges: F64 | None = None, n_threads: int = 0) -> RunOutput: ...
    @staticmethod
    def exit_times_reference(model: Model, x0: F64, domain_lo: F64, domain_hi: F64, max_steps: int, *, seed: int,
                             first_particle: int = 0, n_threads: int = 0) -> ExitOutput: ...
    @staticmethod
    def rare_exit_samples(model: Model, problem: RareExitProblem, *, seed: int, first_sample: int, n_samples: int,
                          n_threads: int = 0, scalar_reference: bool = False) -> _RareExitSamples: ...
    @staticmethod
    def binomial_tail_table(pe: float, l_star: int, horizon: int) -> F64: ...
    @staticmethod
    def conditioned_count_cdf(pe: float, l_star: int, horizon: int) -> list[float]: ...
    @staticmethod
    def pareto_conditioned(alpha: float, scale: float, threshold: float, side: int, uniforms: list[float],
                           big: bool) -> list[float]: ...
