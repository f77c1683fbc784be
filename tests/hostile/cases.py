"""The hostile-input matrix: bad or extreme inputs over the public API, the CLI and the torch optimizer.

Each case is a snippet run in a child process (tests/hostile/runner.py) after ``PRELUDE``. It must end in
what ``expect`` says:

- ``("error", name)``: a ValueError/TypeError (or NotImplementedError) whose message names the argument
  (``Invalid name``) and its domain (``expected ...``);
- ``("ok",)``: no exception; the snippet's own asserts check that the result is right;
- ``("cli",)``: the CLI exits with code 2 and a one-line message on stderr, no traceback;
- ``("refuse", text)``: a NotImplementedError saying ``text`` (a feature that does not exist).

A crash (the child process dies) fails every expectation.
"""
from __future__ import annotations

from dataclasses import dataclass

PRELUDE = """
import math
import numpy as np
import htsgd
from htsgd import Gaussian, HeavyTailedSGD, Pareto, Stable, StudentT, theory, truncate
from htsgd.landscapes import CriticalPoints, DoubleWell, Polynomial, Quadratic, Separable, Tabulated
dw = DoubleWell()
sgd = HeavyTailedSGD(dw, lr=0.05, noise=Pareto(1.5, 0.2), truncation=1.5)
sgd2 = HeavyTailedSGD(Separable(dw, 2), lr=0.05, noise=Pareto(1.5, 0.2), truncation=1.5)
"""

TORCH_PRELUDE = """
import torch
from htsgd.torch import HeavyTailedSGD as TorchSGD
p = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
"""


@dataclass(frozen=True)
class Case:
    id: str
    code: str
    expect: tuple
    torch: bool = False


CASES: dict[str, Case] = {}


def _add(case_id: str, code: str, expect: tuple, *, torch: bool = False) -> None:
    assert case_id not in CASES, case_id
    CASES[case_id] = Case(case_id, code, expect, torch)


def _err(case_id: str, code: str, name: str, **kw) -> None:
    _add(case_id, code, ("error", name), **kw)


def _ok(case_id: str, code: str, **kw) -> None:
    _add(case_id, code, ("ok",), **kw)


# Values outside the domain of a finite positive real (and of any real where marked).
BAD_POSITIVE = {"neg": "-1.0", "zero": "0", "nan": "math.nan", "inf": "math.inf", "str": "'a'", "none": "None",
                "bool": "True", "list": "[1.0]", "complex": "1j", "array2": "np.ones(2)"}
BAD_POSITIVE_INF_OK = {k: v for k, v in BAD_POSITIVE.items() if k not in ("inf", "none")}
BAD_INT = {"neg": "-1", "float": "1.5", "str": "'3'", "bool": "True", "nan": "math.nan", "none_": "[2]"}
BAD_RNG = {"str": "'seed'", "neg": "-1", "float": "1.5", "obj": "object()", "list_neg": "[-1]"}

# ----------------------------------------------------------------------------------------------- noise laws
for law, params in (("Pareto", ("alpha", "scale")), ("Stable", ("alpha", "scale")), ("StudentT", ("df", "scale"))):
    for i, name in enumerate(params):
        for tag, bad in BAD_POSITIVE.items():
            args = ["1.5", "1.0"]
            args[i] = bad
            _err(f"{law}-{name}-{tag}", f"{law}({', '.join(args)})", name)
for tag, bad in BAD_POSITIVE.items():
    _err(f"Gaussian-scale-{tag}", f"Gaussian({bad})", "scale")
_err("Stable-alpha-above-2", "Stable(2.5)", "alpha")
# extreme parameters: refused where the sampler would produce inf or NaN
_err("Pareto-alpha-0.01", "Pareto(0.01)", "alpha")
_err("Stable-alpha-0.001", "Stable(0.001)", "alpha")
_err("StudentT-df-1e-300", "StudentT(1e-300, 5e-324)", "df")
_ok("StudentT-scale-subnormal", "z = StudentT(3.0, 5e-324).sample(1000, rng=1)\nassert np.all(np.isfinite(z)) and np.all(np.abs(z) < 1e-320)")
_err("Pareto-scale-1e300", "Pareto(1.5, 1e300)", "scale")
_err("Gaussian-scale-1e308", "Gaussian(1e308)", "scale")
_ok("Stable-scale-1e-300", "z = Stable(1.5, 1e-300).sample(1000, rng=1)\nassert np.all(np.isfinite(z))")
from htsgd._validation import _min_alpha  # noqa: E402  (the smallest accepted tail index of each law)

for law in (f"Pareto({_min_alpha('pareto')})", f"Stable({_min_alpha('stable')})", f"StudentT({_min_alpha('student_t')})", "Pareto(1.5, 5e-324)", "Gaussian(1e306)",
            "Stable(2.0, 1e290)", "Pareto(1e6)", "StudentT(1e300)"):
    _ok(f"extreme-ok-{law}", f"z = {law}.sample(20000, rng=1)\nassert np.all(np.isfinite(z)), z[~np.isfinite(z)]")
for law in ("Pareto(1.5)", "Stable(1.5)", "StudentT(3.0)", "Gaussian()"):
    for tag, bad in (("str", "'a'"), ("nan", "math.nan"), ("neg", "-1.0"), ("none", "None"), ("obj", "object()"),
                     ("ragged", "[[1], [1, 2]]")):
        _err(f"{law}-tail-{tag}", f"{law}.tail({bad})", "x")
    _ok(f"{law}-tail-inf", f"assert {law}.tail(math.inf) == 0 and {law}.tail(0.0) == 1")
    for tag, bad in (("neg", "-1"), ("str", "'a'"), ("float", "1.5"), ("tuple-neg", "(2, -1)"), ("none", "None"),
                     ("tuple-str", "(2, 'a')")):
        _err(f"{law}-sample-size-{tag}", f"{law}.sample({bad})", "size")
    for tag, bad in BAD_RNG.items():
        _err(f"{law}-sample-rng-{tag}", f"{law}.sample(3, rng={bad})", "rng")
    _ok(f"{law}-sample-empty", f"assert {law}.sample((0, 3), rng=1).shape == (0, 3)")

# ----------------------------------------------------------------------------------------------- landscapes
for tag, bad in (("empty", "[]"), ("nan", "[0, math.nan]"), ("inf", "[0, math.inf]"), ("str", "'abc'"),
                 ("2d", "[[1, 2]]"), ("none", "None"), ("overflow-grad", "[0, 0, 1e308]"), ("obj", "[object()]"),
                 ("complex", "[1j, 1]")):
    _err(f"Polynomial-{tag}", f"Polynomial({bad})", "coefficients")
for tag, bad in (("even", "[0, 1]"), ("unsorted", "[1, 0, 2]"), ("dup", "[0, 0, 1]"), ("nan", "[0, math.nan, 1]"),
                 ("empty", "[]"), ("str", "'abc'")):
    _err(f"CriticalPoints-points-{tag}", f"CriticalPoints({bad})", "points")
for tag, bad in BAD_POSITIVE.items():
    _err(f"CriticalPoints-scale-{tag}", f"CriticalPoints([-1, 0, 1], {bad})", "scale")
_err("Tabulated-x-short", "Tabulated([0.0], [1.0])", "x")
_err("Tabulated-x-decreasing", "Tabulated([1.0, 0.0], [1.0, 2.0])", "x")
_err("Tabulated-x-nan", "Tabulated([0.0, math.nan], [1.0, 2.0])", "x")
_err("Tabulated-grad-shape", "Tabulated([0.0, 1.0], [1.0])", "grad")
_err("Tabulated-grad-inf", "Tabulated([0.0, 1.0], [1.0, math.inf])", "grad")
_err("Tabulated-grad-str", "Tabulated([0.0, 1.0], 'ab')", "grad")
_err("Quadratic-hessian-rect", "Quadratic(np.ones((2, 3)))", "hessian")
_err("Quadratic-hessian-asym", "Quadratic([[1.0, 2.0], [0.0, 1.0]])", "hessian")
_err("Quadratic-hessian-nan", "Quadratic([[math.nan]])", "hessian")
_err("Quadratic-hessian-1d", "Quadratic([1.0, 2.0])", "hessian")
_err("Quadratic-hessian-empty", "Quadratic(np.zeros((0, 0)))", "hessian")
_err("Quadratic-center-shape", "Quadratic(np.eye(3), center=[0.0])", "center")
_err("Quadratic-center-nan", "Quadratic(np.eye(2), center=[0.0, math.nan])", "center")
_err("Separable-component", "Separable(Quadratic(np.eye(2)), 2)", "component")
_err("Separable-component-str", "Separable('dw', 2)", "component")
for tag, bad in (("zero", "0"), ("neg", "-1"), ("float", "1.5"), ("huge", "2**40"), ("str", "'2'")):
    _err(f"Separable-dim-{tag}", f"Separable(dw, {bad})", "dim")
for tag, bad in (("str", "'a'"), ("none", "None"), ("obj", "object()"), ("ragged", "[[1], [1, 2]]")):
    _err(f"grad-x-{tag}", f"dw.grad({bad})", "x")
    _err(f"value-x-{tag}", f"dw.value({bad})", "x")
_err("grad-nd-shape", "Separable(dw, 2).grad(np.zeros(3))", "x")
_err("grad-nd-scalar", "Quadratic(np.eye(2)).grad(1.0)", "x")
_ok("grad-inf", "g = dw.grad(np.array([math.inf, -math.inf]))\nassert g[0] == math.inf and g[1] == -math.inf")
_err("grad-nan", "dw.grad(np.array([0.0, math.nan]))", "x")
_err("basins-domain-order", "dw.basins((1.0, 0.0))", "domain")
# landscape analysis on every valid landscape (minima, maxima, basins)
_ok("analysis-concave", "l = Polynomial([0, 0, -1])\nassert len(l.minima) == 0 and np.allclose(l.maxima, [0])")
_ok("analysis-x2-x4", "l = Polynomial([0, 0, 1, 0, -1])\nassert np.allclose(l.minima, [0]) and np.allclose(l.maxima, [-0.5**0.5, 0.5**0.5])\n"
    "(b,) = l.basins()\nassert np.isclose(b.lo, -0.5**0.5) and np.isclose(b.hi, 0.5**0.5)")
_ok("analysis-flat-bottom", "l = Tabulated([-2, -1, 0, 1, 2], [-1, 0, 0, 0, 1])\nassert np.allclose(l.minima, [0]) and len(l.maxima) == 0")
_ok("analysis-flat-top", "l = Tabulated([-2, -1, 0, 1, 2], [1, 0, 0, 0, -1])\nassert np.allclose(l.maxima, [0]) and len(l.minima) == 0")
_ok("analysis-two-maxima", "l = CriticalPoints([-1, 0, 1])\nl = Polynomial([0, 0, 0.5, 0, 0, 0, -1/6])  # f' = x - x^5\n"
    "assert np.allclose(l.minima, [0]) and np.allclose(l.maxima, [-1, 1])")
_ok("analysis-tiny-leading", "l = Polynomial([0, 0, 1, 0, 1e-300])\nassert np.allclose(l.minima, [0]) and len(l.maxima) == 0")
_ok("analysis-tiny-all", "l = Polynomial([0, 0, 1e-300, 0, -1e-300])\nassert np.allclose(l.minima, [0]) and len(l.maxima) == 2")
_ok("analysis-huge", "l = Polynomial([0, -1e300, 0, 1e300 / 3])\nassert np.allclose(l.minima, [1]) and np.allclose(l.maxima, [-1])")
_ok("analysis-flat-min-x4", "l = Polynomial([0, 0, 0, 0, 1])\nassert np.allclose(l.minima, [0], atol=1e-4) and len(l.maxima) == 0")
_ok("analysis-linear", "l = Polynomial([0, 1])\nassert len(l.critical_points) == 0")
_ok("analysis-constant", "l = Polynomial([3.0])\nassert len(l.critical_points) == 0\nr = HeavyTailedSGD(l, 0.1, Pareto(1.5), 1.0).run(0.0, 5, 3, rng=1)\nassert r.occupancy is None")
_ok("analysis-random-polys", """
rng = np.random.default_rng(7)
for deg in range(3, 7):
    for _ in range(30):
        l = Polynomial(rng.normal(size=deg + 1))
        mins, maxs = l.minima, l.maxima
        for m in mins:
            g = l.grad(np.array([m - 1e-4, m + 1e-4]))
            assert g[0] < 0 < g[1], (l, m, g)
        for m in maxs:
            g = l.grad(np.array([m - 1e-4, m + 1e-4]))
            assert g[0] > 0 > g[1], (l, m, g)
        r = HeavyTailedSGD(l, 0.01, Pareto(1.5, 0.1), 0.5).run(0.0, 20, 8, rng=1)
        if r.occupancy is not None:
            assert r.occupancy.shape[1] == len(r.basins) == len(mins)
            assert np.all(r.occupancy.sum(axis=1)[~r.nonfinite] == 20)
        else:
            assert r.occupancy_note or len(l.critical_points) == 0
""")

# ----------------------------------------------------------------------------------------------- HeavyTailedSGD
for tag, bad in BAD_POSITIVE.items():
    _err(f"SGD-lr-{tag}", f"HeavyTailedSGD(dw, {bad}, Pareto(1.5))", "lr")
for tag, bad in BAD_POSITIVE_INF_OK.items():
    _err(f"SGD-truncation-{tag}", f"HeavyTailedSGD(dw, 0.1, Pareto(1.5), truncation={bad})", "truncation")
for tag, bad in (("str", "'pareto'"), ("none", "None"), ("class", "Pareto"), ("num", "1.5")):
    _err(f"SGD-noise-{tag}", f"HeavyTailedSGD(dw, 0.1, {bad})", "noise")
for tag, bad in (("str", "'dw'"), ("none", "None"), ("class", "DoubleWell"), ("func", "lambda x: x")):
    _err(f"SGD-landscape-{tag}", f"HeavyTailedSGD({bad}, 0.1, Pareto(1.5))", "landscape")
for tag, bad in (("order", "(1.0, 0.0)"), ("equal", "(0.0, 0.0)"), ("nan", "(math.nan, 1.0)"), ("str", "'ab'"),
                 ("short", "(0.0,)"), ("len3", "([0, 0, 0], [1, 1, 1])"), ("none-lo", "(None, 1.0)")):
    _err(f"SGD-bounds-{tag}", f"HeavyTailedSGD(Separable(dw, 2), 0.1, Pareto(1.5), bounds={bad})", "bounds")
_err("SGD-clip-str", "HeavyTailedSGD(dw, 0.1, Pareto(1.5), clip='l2')", "clip")
_err("SGD-clip-int", "HeavyTailedSGD(dw, 0.1, Pareto(1.5), clip=2)", "clip")
_err("SGD-isotropic-str", "HeavyTailedSGD(dw, 0.1, Pareto(1.5), isotropic='yes')", "isotropic")
_err("SGD-isotropic-int", "HeavyTailedSGD(dw, 0.1, Pareto(1.5), isotropic=1)", "isotropic")
_ok("SGD-lr-tiny", "r = HeavyTailedSGD(dw, 1e-300, Pareto(1.5), 1.0).run(1.0, 10, 4, rng=1)\nassert np.all(np.isfinite(r.final))")
_ok("SGD-lr-huge", "r = HeavyTailedSGD(dw, 1e300, Pareto(1.5), 1.0).run(1.0, 10, 4, rng=1)\nassert np.all(np.abs(r.final - 1.0) <= 10.0 + 1e-9) or r.n_nonfinite > 0")

# ----------------------------------------------------------------------------------------------- run
RUN = "sgd.run({x0}, {n_steps}, {n_particles}, rng={rng}, record_every={record_every}, n_threads={n_threads}, first_particle={fp}, occupancy={occ})"
RUN_DEFAULTS = dict(x0="1.0", n_steps="10", n_particles="4", rng="1", record_every="None", n_threads="1", fp="0", occ="True")


def _run(case_id: str, name: str, key: str, bad: str, obj: str = "sgd") -> None:
    kw = dict(RUN_DEFAULTS, **{key: bad})
    _err(case_id, RUN.format(**kw).replace("sgd.run", f"{obj}.run"), name)


for tag, bad in (("nan", "math.nan"), ("inf", "math.inf"), ("str", "'a'"), ("2d", "np.ones((2, 2))"),
                 ("none", "None"), ("empty", "np.zeros(0)"), ("ragged", "[[1], [1, 2]]")):
    _run(f"run-x0-{tag}", "n_particles" if tag == "empty" else "x0", "x0", bad)
_err("run-x0-empty-alone", "sgd.run(np.zeros(0), 5)", "x0")
_run("run-x0-nd-shape", "x0", "x0", "np.zeros(3)", "sgd2")
_run("run-x0-nd-scalar", "x0", "x0", "1.0", "sgd2")
_err("run-x0-outside-bounds", "HeavyTailedSGD(dw, 0.1, Pareto(1.5), bounds=(0, 2)).run(-1.0, 5)", "x0")
_err("run-n_particles-mismatch", "sgd.run(np.zeros(3), 5, 4)", "n_particles")
for tag, bad in BAD_INT.items():
    _run(f"run-n_steps-{tag}", "n_steps", "n_steps", bad)
    _run(f"run-n_particles-{tag}", "n_particles", "n_particles", bad)
    _run(f"run-record_every-{tag}", "record_every", "record_every", bad)
    _run(f"run-n_threads-{tag}", "n_threads", "n_threads", bad)
    _run(f"run-first_particle-{tag}", "first_particle", "fp", bad)
_run("run-n_steps-huge", "n_steps", "n_steps", "2**60")
_run("run-n_particles-zero", "n_particles", "n_particles", "0")
_run("run-n_particles-huge", "n_particles", "n_particles", "2**33")
_run("run-record_every-zero", "record_every", "record_every", "0")
_err("run-record_every-too-much", "sgd.run(1.0, 10**9, 10**6, rng=1, record_every=1)", "record_every")
_run("run-n_threads-zero", "n_threads", "n_threads", "0")
_run("run-n_threads-1000", "n_threads", "n_threads", "1000")
_run("run-n_threads-4096", "n_threads", "n_threads", "4096")
_run("run-n_threads-2**31", "n_threads", "n_threads", "2**31")
_run("run-first_particle-2**32", "first_particle", "fp", "2**32")
for tag, bad in BAD_RNG.items():
    _run(f"run-rng-{tag}", "rng", "rng", bad)
_run("run-occupancy-str", "occupancy", "occ", "'yes'")
_ok("run-n_threads-max", "r = sgd.run(1.0, 10, 2000, rng=1, n_threads=htsgd._validation.thread_limit())\n"
    "assert np.array_equal(r.final, sgd.run(1.0, 10, 2000, rng=1, n_threads=1).final)")
_ok("exit-n_threads-max", "kw = dict(x0=1.0, domain=(0.0, math.inf), n_particles=2000, max_steps=50, rng=1)\n"
    "assert np.array_equal(sgd.exit_times(**kw, n_threads=htsgd._validation.thread_limit()).steps, sgd.exit_times(**kw, n_threads=1).steps)")
_ok("run-omp-num-threads-4096", "import os, subprocess, sys\n"
    "code = 'import htsgd; from htsgd.landscapes import DoubleWell; s = htsgd.HeavyTailedSGD(DoubleWell(), 0.05, htsgd.Pareto(1.5, 0.2), 1.5); print(s.run(1.0, 5, 5000, rng=1).final.shape)'\n"
    "p = subprocess.run([sys.executable, '-c', code], env=dict(os.environ, OMP_NUM_THREADS='4096'), capture_output=True, text=True)\n"
    "assert p.returncode == 0 and '(5000,)' in p.stdout, p.stderr[-500:]")
_ok("run-zero-steps", "r = sgd.run(1.0, 0, 3, rng=1)\nassert np.all(r.final == 1.0)")
_ok("run-x0-huge", "r = sgd.run(1e150, 3, 3, rng=1)\nassert r.n_nonfinite == 3 or np.all(np.isfinite(r.final))")
# occupancy of landscapes the analysis cannot cut into basins: the run completes and says why
_ok("run-occ-concave", "r = HeavyTailedSGD(Polynomial([0, 0, -1]), 0.01, Pareto(1.5, 0.1), 1.0).run(0.5, 10, 4, rng=1)\n"
    "assert r.occupancy is None and 'no minimum' in r.occupancy_note or '0 minima' in r.occupancy_note, r.occupancy_note")
_ok("run-occ-x2-x4", "r = HeavyTailedSGD(Polynomial([0, 0, 1, 0, -1]), 0.01, Pareto(1.5, 0.1), 0.3).run(0.0, 10, 4, rng=1)\n"
    "assert r.occupancy is None and r.occupancy_note")
_ok("run-occ-flat-bottom", "r = HeavyTailedSGD(Tabulated([-2, -1, 0, 1, 2], [-1, 0, 0, 0, 1]), 0.01, Pareto(1.5, 0.1), 0.3).run(0.0, 10, 4, rng=1)\n"
    "assert r.occupancy.shape == (4, 1) and np.all(r.occupancy == 10)")
_ok("run-occ-two-maxima", "r = HeavyTailedSGD(Polynomial([0, 0, 0.5, 0, 0, 0, -1/6]), 0.01, Pareto(1.5, 0.1), 0.3).run(0.0, 10, 4, rng=1)\n"
    "assert r.occupancy is None and r.occupancy_note\ntry:\n    r.occupancy_fraction()\n    raise AssertionError('no error')\nexcept ValueError as e:\n    assert 'minim' in str(e)")
_ok("run-occ-separable-concave", "r = HeavyTailedSGD(Separable(Polynomial([0, 0, -1]), 2), 0.01, Pareto(1.5, 0.1), 0.3).run([0.5, 0.5], 10, 4, rng=1)\n"
    "assert r.occupancy is None and r.occupancy_note")
_ok("run-occ-tiny-leading", "r = HeavyTailedSGD(Polynomial([0, 0, 1, 0, 1e-300]), 0.01, Pareto(1.5, 0.1), 0.3).run(0.0, 10, 4, rng=1)\n"
    "assert r.occupancy.shape == (4, 1)")

# ----------------------------------------------------------------------------------------------- exit_times
ET = "sgd.exit_times({x0}, {domain}, {n}, {max_steps}, rng={rng}, n_threads={n_threads}, first_particle={fp})"
ET_DEFAULTS = dict(x0="1.0", domain="(0.0, math.inf)", n="4", max_steps="100", rng="1", n_threads="1", fp="0")


def _et(case_id: str, name: str, key: str, bad: str) -> None:
    _err(case_id, ET.format(**dict(ET_DEFAULTS, **{key: bad})), name)


for tag, bad in (("order", "(1.0, 0.0)"), ("nan", "(math.nan, 1.0)"), ("str", "'ab'"), ("none", "None"),
                 ("equal", "(1.0, 1.0)"), ("len3", "(0, 1, 2)")):
    _et(f"exit-domain-{tag}", "domain", "domain", bad)
_et("exit-x0-outside", "x0", "x0", "-1.0")
_et("exit-x0-on-edge", "x0", "x0", "0.0")
_et("exit-x0-nan", "x0", "x0", "math.nan")
for tag, bad in BAD_INT.items():
    _et(f"exit-n_particles-{tag}", "n_particles", "n", bad)
    _et(f"exit-max_steps-{tag}", "max_steps", "max_steps", bad)
_et("exit-n_particles-zero", "n_particles", "n", "0")
_et("exit-max_steps-zero", "max_steps", "max_steps", "0")
_et("exit-n_threads-1000", "n_threads", "n_threads", "1000")
_et("exit-rng-str", "rng", "rng", "'x'")
# honest exits: untruncated overflow out of a finite domain is an exit on that side, not censoring
# lr 1e308 and scale 1e10: the first step overflows (lr * Z = +-inf) for every particle
_ok("exit-overflow-finite-end", """
big = HeavyTailedSGD(dw, 1e308, Pareto(1.5, 1e10))
et = big.exit_times(1.0, (0.0, 2.0), 64, 10, rng=1)
assert np.all(et.exited) and not np.any(et.nonfinite) and np.all(et.steps == 1)
assert np.all(np.isinf(et.position))
lo, hi = et.side_fractions()
assert abs(lo.value - np.mean(et.position < 0)) < 1e-12 and 0 < lo.value < 1
assert et.mean().value == 1.0
""")
_ok("exit-overflow-infinite-end", """
big = HeavyTailedSGD(dw, 1e308, Pareto(1.5, 1e10))
et = big.exit_times(1.0, (0.0, math.inf), 64, 10, rng=1)
up = et.position == math.inf
assert 0 < up.sum() < 64 and np.all(et.nonfinite[up]) and not np.any(et.exited[up])
assert np.all(et.exited[~up]) and np.all(et.position[~up] == -math.inf)
""")
_ok("exit-overflow-nd", """
big = HeavyTailedSGD(Separable(dw, 2), 1e308, Pareto(1.5, 1e10))
et = big.exit_times([1.0, 1.0], ([0.0, 0.0], [2.0, 2.0]), 64, 10, rng=1)
assert np.all(et.exited) and not np.any(et.nonfinite) and np.all(et.steps == 1)
half = HeavyTailedSGD(Separable(dw, 2), 1e308, Pareto(1.5, 1e10))
et = half.exit_times([1.0, 1.0], ([0.0, 0.0], [math.inf, math.inf]), 64, 10, rng=1)
up = np.all(et.position == math.inf, axis=1)
assert up.any() and np.all(et.nonfinite[up]) and not np.any(et.exited[up])
assert np.all(et.exited[~up] == np.any(et.position[~up] == -math.inf, axis=1))
""")
_ok("exit-overflow-nd-truncated", """
t = HeavyTailedSGD(Separable(dw, 2), 1e308, Pareto(1.5, 1e10), truncation=1.0)
et = t.exit_times([1.0, 1.0], ([0.0, 0.0], [2.0, 2.0]), 64, 10, rng=1)
assert np.all(et.exited) and np.all(np.isfinite(et.position))
assert np.all(np.linalg.norm(et.position - 1.0, axis=1) <= et.steps * (1.0 + 1e-12))
""")

# ----------------------------------------------------------------------------------------------- rare events
EP = "sgd.exit_probability(1.0, (0.0, math.inf), {horizon}, method={method}, n_samples={n}, target_rel_error={t}, gamma={gamma}, weight={w}, side={side}, rng=1, n_threads=1)"
EP_DEFAULTS = dict(horizon="20", method="'importance'", n="200", t="None", gamma="None", w="None", side="None")


def _ep(case_id: str, name: str, key: str, bad: str) -> None:
    _err(case_id, EP.format(**dict(EP_DEFAULTS, **{key: bad})), name)


for tag, bad in (("zero", "0"), ("neg", "-5"), ("float", "2.5"), ("str", "'10'")):
    _ep(f"ep-horizon-{tag}", "horizon", "horizon", bad)
for tag, bad in (("str", "'magic'"), ("none", "None"), ("int", "1")):
    _ep(f"ep-method-{tag}", "method", "method", bad)
for tag, bad in (("one", "1"), ("neg", "-1"), ("float", "10.5")):
    _ep(f"ep-n_samples-{tag}", "n_samples", "n", bad)
for tag, bad in (("zero", "0"), ("one", "1.0"), ("nan", "math.nan"), ("str", "'x'")):
    _ep(f"ep-target-{tag}", "target_rel_error", "t", bad)
for tag, bad in (("zero", "0"), ("neg", "-0.1"), ("b", "1.5"), ("nan", "math.nan"), ("str", "'x'")):
    _ep(f"ep-gamma-{tag}", "gamma", "gamma", bad)
for tag, bad in (("zero", "0"), ("one", "1"), ("nan", "math.nan"), ("str", "'x'")):
    _ep(f"ep-weight-{tag}", "weight", "w", bad)
for tag, bad in (("str", "'up'"), ("left-inf", "'right'")):
    _ep(f"ep-side-{tag}", "side", "side", bad)
_err("ep-domain-two-minima", "sgd.exit_probability(1.0, (-5.0, 5.0), 20, n_samples=100, rng=1)", "domain")
_err("ep-domain-infinite", "sgd.exit_probability(1.0, (-math.inf, math.inf), 20, n_samples=100, rng=1)", "domain")
_add("ep-nd", "sgd2.exit_probability([1.0, 1.0], (0.0, 2.0), 20, n_samples=100, rng=1)", ("refuse", "1-D landscapes only"))
_add("ep-stable", "HeavyTailedSGD(dw, 0.05, Stable(1.5, 0.2), 1.5).exit_probability(1.0, (0.0, math.inf), 20, n_samples=100, rng=1)",
     ("refuse", "needs Pareto noise"))
_ok("ep-untruncated-default", """
u = HeavyTailedSGD(dw, 0.05, Pareto(1.5, 0.2))
p = u.exit_probability(1.0, (0.0, math.inf), 200, n_samples=4000, rng=1)
c = u.exit_probability(1.0, (0.0, math.inf), 200, method='crude', n_samples=4000, rng=2)
assert 0 < p.value < 1 and math.isfinite(p.stderr)
assert abs(p.value - c.value) < 5 * math.hypot(p.stderr, c.stderr), (p, c)
""")
_ok("met-untruncated-auto", """
u = HeavyTailedSGD(dw, 0.05, Pareto(1.5, 0.2))
m = u.mean_exit_time(1.0, (0.0, math.inf), n_samples=500, rng=1)
assert math.isfinite(m.value) and m.value > 0
""")
for tag, bad in (("str", "'x'"), ("crude", "'crude'")):
    _err(f"met-method-{tag}", f"sgd.mean_exit_time(1.0, (0.0, math.inf), method={bad}, rng=1)", "method")
_err("met-horizons-order", "sgd.mean_exit_time(1.0, (0.0, math.inf), method='importance', horizons=(50, 10), rng=1)", "horizons")
_err("met-horizons-str", "sgd.mean_exit_time(1.0, (0.0, math.inf), method='importance', horizons='ab', rng=1)", "horizons")
_err("met-max_steps-zero", "sgd.mean_exit_time(1.0, (0.0, math.inf), method='direct', max_steps=0, rng=1)", "max_steps")
_err("met-direct-gamma", "sgd.mean_exit_time(1.0, (0.0, math.inf), method='direct', gamma=0.5, rng=1)", "gamma")
_err("met-n_samples-zero", "sgd.mean_exit_time(1.0, (0.0, math.inf), method='direct', n_samples=0, rng=1)", "n_samples")

# ----------------------------------------------------------------------------------------------- truncate
for tag, bad in BAD_POSITIVE_INF_OK.items():
    _err(f"truncate-b-{tag}", f"truncate(np.ones(3), {bad})", "b")
for tag, bad in (("str", "'a'"), ("3d", "np.ones((2, 2, 2))"), ("obj", "object()"), ("ragged", "[[1], [1, 2]]")):
    _err(f"truncate-step-{tag}", f"truncate({bad}, 1.0)", "step")
_err("truncate-clip", "truncate(np.ones(3), 1.0, clip='max')", "clip")
_ok("truncate-inf-scalar", "assert truncate(math.inf, 1.0) == 1.0 and truncate(-math.inf, 2.0) == -2.0")
_ok("truncate-inf-row", "w = truncate([math.inf, 1.0, -math.inf], 2.0)\nassert np.allclose(w, [2**0.5, 0, -2**0.5])")
_ok("truncate-nan-row", "w = truncate([[math.nan, 5.0], [3.0, 4.0]], 1.0)\nassert np.all(np.isnan(w[0])) and np.allclose(w[1], [0.6, 0.8])")
_ok("truncate-huge-row", "w = truncate([1e308, 1e308], 1.0)\nassert np.allclose(w, [0.5**0.5] * 2)")
_ok("truncate-tiny-row", "w = truncate([5e-324, 5e-324], 1.0)\nassert np.array_equal(w, [5e-324, 5e-324])")
_ok("truncate-coordinate-inf", "w = truncate([math.inf, -3.0, 0.5], 1.0, clip='coordinate')\nassert np.array_equal(w, [1.0, -1.0, 0.5])")
_ok("truncate-untruncated-inf", "w = truncate([math.inf, 1.0], None)\nassert w[0] == math.inf and w[1] == 1.0")

# ----------------------------------------------------------------------------------------------- theory
for tag, bad in (("zero", "0"), ("neg", "-1"), ("nan", "math.nan"), ("inf", "math.inf"), ("str", "'a'")):
    _err(f"jumps_needed-r-{tag}", f"theory.jumps_needed({bad}, 0.4)", "r")
for tag, bad in (("zero", "0"), ("neg", "-1"), ("nan", "math.nan"), ("str", "'a'")):
    _err(f"jumps_needed-b-{tag}", f"theory.jumps_needed(1.0, {bad})", "b")
_ok("jumps_needed-untruncated", "assert theory.jumps_needed(1.0, None) == 1 and theory.jumps_needed(1.0, math.inf) == 1")
_err("jumps_needed-multiple", "theory.jumps_needed(1.0, 0.5)", "b")
for tag, bad in (("zero", "0"), ("neg", "-1"), ("nan", "math.nan"), ("str", "'a'")):
    _err(f"predicted-lr-{tag}", f"theory.predicted_mean_exit_time(dw.basins((0, math.inf))[0], Pareto(1.5, 0.2), {bad}, 1.5)", "lr")
_err("predicted-basin-str", "theory.predicted_mean_exit_time('b', Pareto(1.5, 0.2), 0.1, 1.5)", "basin")
_err("predicted-noise-str", "theory.predicted_mean_exit_time(dw.basins((0, math.inf))[0], 'pareto', 0.1, 1.5)", "noise")
_err("basins_from-no-min", "theory.basins_from_critical_points([], [0.0])", "minima")
_err("basins_from-nan", "theory.basins_from_critical_points([math.nan], [])", "minima")
_err("basins_from-not-alternating", "theory.basins_from_critical_points([0.0, 1.0], [])", "critical points")
_err("exit_time_exponent-alpha", "theory.exit_time_exponent(-1.0, 1)", "alpha")
_err("exit_time_exponent-lstar", "theory.exit_time_exponent(1.5, 0)", "l_star")
_err("stationary-Q-str", "theory.stationary_distribution('Q')", "Q")
_err("stationary-Q-rect", "theory.stationary_distribution(np.ones((2, 3)))", "Q")

# ----------------------------------------------------------------------------------------------- CLI
CLI = "import sys\nfrom htsgd.cli import main\nsys.exit(main({argv!r}))"
for tag, argv in (("lrs-neg", ["demo", "--lrs", "-0.1"]), ("lrs-str", ["demo", "--lrs", "abc"]),
                  ("lrs-nan", ["demo", "--lrs", "nan"]), ("alpha-neg", ["demo", "--alpha", "-1"]),
                  ("alpha-zero", ["demo", "--alpha", "0"]), ("scale-inf", ["demo", "--scale", "inf"]),
                  ("truncation-neg", ["demo", "--truncation", "-1"]), ("particles-zero", ["demo", "--particles", "0"]),
                  ("seed-neg", ["demo", "--seed", "-1"]), ("seed-str", ["demo", "--seed", "x"]),
                  ("unknown-cmd", ["frobnicate"]), ("unknown-exp", ["reproduce", "nothing"]),
                  ("threads-zero", ["reproduce", "exit-times", "--threads", "0"]),
                  ("rep-seed-neg", ["reproduce", "exit-times", "--seed", "-3"]), ("unknown-flag", ["demo", "--fast"]),
                  ("no-args", [])):
    _add(f"cli-{tag}", CLI.format(argv=argv), ("cli",))

# ----------------------------------------------------------------------------------------------- torch optimizer
TOPT = "TorchSGD([p], {kw})"
for key, bads in (("lr|learning rate", {"neg": "-0.1", "nan": "math.nan", "str": "'a'", "inf": "math.inf"}),
                  ("alpha", {"neg": "-1.0", "zero": "0.0", "nan": "math.nan", "str": "'a'"}),
                  ("noise_scale", {"neg": "-1.0", "nan": "math.nan", "inf": "math.inf"}),
                  ("truncation", {"neg": "-1.0", "zero": "0.0", "nan": "math.nan", "str": "'a'"}),
                  ("momentum", {"neg": "-0.5", "nan": "math.nan"}),
                  ("weight_decay", {"neg": "-0.5", "nan": "math.nan"}),
                  ("noise", {"str": "'cauchy'", "int": "3"}),
                  ("noise_mode", {"str": "'both'"}),
                  ("clip", {"str": "'l2'"}),
                  ("reference_decay", {"neg": "-0.1", "above": "1.5"}),
                  ("seed", {"str": "'a'", "neg": "-1"}),
                  ("sampler", {"str": "'gpu'"})):
    for tag, bad in bads.items():
        kw = "lr" if key == "lr|learning rate" else key
        _err(f"torch-{kw}-{tag}", "import math\n" + TORCH_PRELUDE + TOPT.format(kw=f"{kw}={bad}"), key, torch=True)
_ok("torch-inf-grad-coordinate", "import math\n" + TORCH_PRELUDE + """
opt = TorchSGD([p], lr=0.1, noise=None, truncation=0.5, clip='coordinate')
p.grad = torch.tensor([math.inf, 1.0, -math.inf], dtype=torch.float64)
before = p.detach().clone()
opt.step()
step = p.detach() - before
assert torch.allclose(step, torch.tensor([-0.5, -0.1, 0.5], dtype=torch.float64)), step
""", torch=True)
