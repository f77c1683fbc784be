"""htsgd performance report: every ratio of the project's performance goals from one run.

W1 (fixed-horizon run) and W2 (exit times) through the public API beside the strongest references a user
would write (bench/reference.py: blocked in-place numpy, numba with a generator per particle) and a plain
C++ SIMD loop (bench/cpp/plain_loop.cpp, the "hardware line"), all measured in the same run; the same W1 for
d = 2, 8, 32 and for the Gaussian, Student t and stable laws beside numpy; the rare-event and torch-optimizer
benchmarks; and W1/W2 again with the kernels capped at AVX2 (a subprocess with HTSGD_ISA=avx2, numpy and
numba capped likewise). Prints wall-clock rates and rates per CPU-second (steadier on a shared machine), then
every ratio beside its goal. Never asserts on time; checks that benchmarked results equal plain ones (thread
counts, single-particle replay) and that every reference samples the same law as htsgd (z-tests of the mean
and of the fractions below htsgd's quantiles).

    python bench/run.py                 # everything: about 3-5 minutes on 2 idle cores
    python bench/run.py --quick         # 10x smaller workloads
    python bench/run.py --isa avx2      # W1 and W2 as on an AVX2-only machine
    python bench/run.py --sections w1,w2,laws
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import companions  # noqa: E402
import hardware_line  # noqa: E402
import reference  # noqa: E402

import htsgd  # noqa: E402
from htsgd.landscapes import DoubleWell, Separable  # noqa: E402

SECTIONS = ("w1", "w2", "laws", "nd", "scaling", "memory", "companions", "avx2")
GOALS = {"plain": 0.8, "numba": 3.0, "numpy": 2.0, "threads": 1.8}
# AVX2-only machines: numpy without its AVX-512 loops, numba code generated for Haswell
AVX2_ENV = {"HTSGD_ISA": "avx2", "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
            "NUMBA_CPU_NAME": "haswell"}
Z_LIMIT = 4.5  # |z| of the same-law checks (about 20 tests per run: a false alarm in ~1e-4 runs)


def model(noise=None, landscape=None, **kw) -> htsgd.HeavyTailedSGD:
    return htsgd.HeavyTailedSGD(landscape or DoubleWell(), lr=reference.LR,
                                noise=noise or htsgd.Pareto(reference.ALPHA, reference.SCALE),
                                truncation=reference.B, **kw)


def best_time(fn, repeat: int):
    """(best wall seconds, CPU seconds of that call, its result) of ``repeat`` calls."""
    best, cpu, out = float("inf"), 0.0, None
    for _ in range(max(1, repeat)):
        t0, c0 = time.perf_counter(), time.process_time()
        res = fn()
        t, c = time.perf_counter() - t0, time.process_time() - c0
        if t < best:
            best, cpu, out = t, c, res
    return best, cpu, out


class Report:
    """Rates by key (wall, per CPU-second), printed as they come; ratio rows for the summary."""

    def __init__(self) -> None:
        self.rates: dict[str, tuple[float, float]] = {}
        self.rows: list[tuple] = []  # (name, wall value, CPU value or None, goal, ">=" | "<=")
        self.ok = True

    def line(self, key: str, label: str, items: float, seconds: float, cpu: float, extra: str = "") -> None:
        cpu = cpu if cpu > 0 else seconds
        self.rates[key] = (items / seconds, items / cpu)
        print(f"  {label:<46s} {items / seconds:10.3g} /s  ({seconds:7.3f} s; {items / cpu:9.3g} per CPU-s){extra}",
              flush=True)

    def ratio(self, name: str, num: str, den: str, goal: float | None, cpu: bool = True) -> None:
        if num in self.rates and den in self.rates:
            a, b = self.rates[num], self.rates[den]
            self.rows.append((name, a[0] / b[0], a[1] / b[1] if cpu else None, goal, ">="))

    def check(self, label: str, passed: bool, detail: str = "") -> None:
        print(f"  check: {label}: {passed}{detail}", flush=True)
        self.ok &= bool(passed)


def same_law(ref: np.ndarray, other: np.ndarray) -> tuple[bool, str]:
    """Two-sample z-tests: the means, and the fractions of ``other`` below ref's 1/10/50/90/99% quantiles."""
    ref, other = np.asarray(ref, float), np.asarray(other, float)
    zs = [(ref.mean() - other.mean()) / np.sqrt(ref.var() / ref.size + other.var() / other.size)]
    for p in (0.01, 0.1, 0.5, 0.9, 0.99):
        q = np.quantile(ref, p)
        f = np.mean(other <= q)
        zs.append((f - p) / np.sqrt(p * (1 - p) * (1 / ref.size + 1 / other.size)))
    worst = float(np.max(np.abs(zs)))
    return worst < Z_LIMIT, f" (max |z| {worst:.2f} < {Z_LIMIT} over the mean and 5 quantile fractions; " \
                            f"means {ref.mean():.5g} vs {other.mean():.5g})"


# ------------------------------------------------------------------------------------------------- sections
def section_w1(rep: Report, n: int, steps: int, threads: int, repeat: int, exe: str | None, use_numba: bool):
    print(f"\nW1: {n:.0e} particles x {steps} steps, double well, Pareto(1.5, 0.2), lr 0.05, b 0.6, from x = 1 "
          "(particle-steps/s)")
    sgd = model()
    sgd.run(1.0, 10, n_particles=1000, rng=1)
    # The references compute final positions only, so the compared htsgd runs do the same (occupancy=False);
    # the default run, which also counts the steps spent in each basin, is timed beside them.
    t, c, r = best_time(lambda: sgd.run(1.0, steps, n_particles=n, rng=1, occupancy=False), repeat)
    rep.line("W1 htsgd", f"htsgd run, occupancy=False ({threads} threads)", n * steps, t, c)
    t, c, r1 = best_time(lambda: sgd.run(1.0, steps, n_particles=n, rng=1, n_threads=1, occupancy=False),
                         max(1, repeat - 1))
    rep.line("W1 htsgd 1", "htsgd run, occupancy=False (1 thread)", n * steps, t, c)
    t, c, ro = best_time(lambda: sgd.run(1.0, steps, n_particles=n, rng=1), repeat)
    rep.line("W1 htsgd occupancy", f"htsgd run, with occupancy (the default; {threads} threads)", n * steps, t, c)
    t, c, ro1 = best_time(lambda: sgd.run(1.0, steps, n_particles=n, rng=1, n_threads=1), max(1, repeat - 1))
    same = np.array_equal(r.final, r1.final, equal_nan=True) and np.array_equal(ro.occupancy, ro1.occupancy)
    same &= np.array_equal(r.final, ro.final, equal_nan=True)
    for i in (0, n // 3, n - 1):
        same &= sgd.run(1.0, steps, rng=1, first_particle=i).final.tobytes() == r.final[i:i + 1].tobytes()
    rep.check(f"1 thread == {threads} threads == single-particle replay", same)
    t, c, x = best_time(lambda: reference.numpy_w1(n, steps, threads=threads), max(1, repeat - 1))
    rep.line("W1 numpy", f"numpy, blocked in place ({threads} threads)", n * steps, t, c)
    rep.check("numpy samples the same law", *same_law(r.final, x))
    if use_numba:
        reference.numba_warmup()
        t, c, x = best_time(lambda: reference.numba_w1(n, steps), 2)
        rep.line("W1 numba", f"numba prange, xoshiro256+ ({reference.numba.get_num_threads()} threads)", n * steps,
                 t, c)
        rep.check("numba samples the same law", *same_law(r.final, x))
    if exe:
        for th, key in ((threads, "W1 plain"), (1, "W1 plain 1")):
            fig, x = hardware_line.run(exe, "w1", n, th, 2 if th > 1 else 1, steps)
            rep.line(key, f"plain C++ loop ({th} thread{'s' if th > 1 else ''})", fig["items"], fig["seconds"],
                     fig["cpu_seconds"])
        rep.check("plain loop samples the same law", *same_law(r.final, x))
    rep.ratio("W1 htsgd / plain loop", "W1 htsgd", "W1 plain", GOALS["plain"])
    rep.ratio("W1 htsgd / plain loop, 1 thread", "W1 htsgd 1", "W1 plain 1", GOALS["plain"])
    rep.ratio("W1 htsgd / numba", "W1 htsgd", "W1 numba", GOALS["numba"])
    rep.ratio("W1 htsgd / numpy", "W1 htsgd", "W1 numpy", GOALS["numpy"])
    rep.ratio(f"W1 htsgd {threads} threads / 1", "W1 htsgd", "W1 htsgd 1", GOALS["threads"], cpu=False)
    rep.ratio("W1 htsgd with occupancy / without", "W1 htsgd occupancy", "W1 htsgd", None)
    rep.ratio(f"W1 plain loop {threads} threads / 1", "W1 plain", "W1 plain 1", None, cpu=False)


def section_w2(rep: Report, n: int, threads: int, repeat: int, exe: str | None, use_numba: bool):
    print(f"\nW2: {n:.0e} first exits from x = 1 out of (0, inf), same parameters (particle-steps/s)"
          + ("; numpy's blocks are small here, its per-call overhead dominates" if n < 10_000 else ""))
    sgd = model()

    def exits(th=None):
        return sgd.exit_times(1.0, (0.0, np.inf), n_particles=n, max_steps=10**9, rng=1, n_threads=th)

    t, c, e = best_time(exits, repeat)
    items = float(e.steps.sum())
    rep.line("W2 htsgd", f"htsgd exit_times ({threads} threads)", items, t, c, f"  mean exit {e.steps.mean():.4g}")
    t, c, e1 = best_time(lambda: exits(1), max(1, repeat - 1))
    rep.line("W2 htsgd 1", "htsgd exit_times (1 thread)", items, t, c)
    same = np.array_equal(e.steps, e1.steps) and np.array_equal(e.position, e1.position)
    for i in (0, n // 2, n - 1):
        ei = sgd.exit_times(1.0, (0.0, np.inf), n_particles=1, max_steps=10**9, rng=1, first_particle=i)
        same &= int(ei.steps[0]) == int(e.steps[i]) and ei.position.tobytes() == e.position[i:i + 1].tobytes()
    rep.check(f"1 thread == {threads} threads == single-particle replay", same)
    t, c, st = best_time(lambda: reference.numpy_w2(n, threads=threads), 1)
    rep.line("W2 numpy", f"numpy, in place, compacted ({threads} threads)", float(st.sum()), t, c,
             f"  mean exit {st.mean():.4g}")
    rep.check("numpy samples the same law", *same_law(e.steps, st))
    if use_numba:
        t, c, st = best_time(lambda: reference.numba_w2(n), 2)
        rep.line("W2 numba", f"numba prange, xoshiro256+ ({reference.numba.get_num_threads()} threads)",
                 float(st.sum()), t, c, f"  mean exit {st.mean():.4g}")
        rep.check("numba samples the same law", *same_law(e.steps, st))
    if exe:
        fig, st = hardware_line.run(exe, "w2", n, threads, 2)
        rep.line("W2 plain", f"plain C++ loop ({threads} threads)", fig["items"], fig["seconds"], fig["cpu_seconds"],
                 f"  mean exit {fig['mean']:.4g}")
        rep.check("plain loop samples the same law", *same_law(e.steps, st))
    rep.ratio("W2 htsgd / plain loop", "W2 htsgd", "W2 plain", GOALS["plain"])
    rep.ratio("W2 htsgd / numba", "W2 htsgd", "W2 numba", GOALS["numba"])
    rep.ratio("W2 htsgd / numpy", "W2 htsgd", "W2 numpy", GOALS["numpy"])
    rep.ratio(f"W2 htsgd {threads} threads / 1", "W2 htsgd", "W2 htsgd 1", GOALS["threads"], cpu=False)


def section_laws(rep: Report, n: int, steps: int, threads: int, repeat: int):
    print(f"\nW1 with the other noise laws (scale 0.2, alpha / df 1.5), htsgd beside numpy of the same quality "
          f"(exact samplers, blocked in place; particle-steps/s, {threads} threads)")
    for law, noise in (("gaussian", htsgd.Gaussian(reference.SCALE)),
                       ("student_t", htsgd.StudentT(reference.ALPHA, reference.SCALE)),
                       ("stable", htsgd.Stable(reference.ALPHA, reference.SCALE))):
        sgd = model(noise)
        t, c, r = best_time(lambda: sgd.run(1.0, steps, n_particles=n, rng=1), repeat)
        rep.line(f"law {law} htsgd", f"htsgd {noise!r}", n * steps, t, c)
        t, c, x = best_time(lambda: reference.numpy_law_w1(law, n, steps, threads=threads), 1)
        rep.line(f"law {law} numpy", f"numpy {law}", n * steps, t, c)
        rep.check(f"numpy {law} samples the same law", *same_law(r.final, x))
        rep.ratio(f"W1 {law} htsgd / numpy", f"law {law} htsgd", f"law {law} numpy", GOALS["numpy"])


def section_nd(rep: Report, n: int, steps: int, threads: int, repeat: int):
    print(f"\nd-dimensional W1: Separable(DoubleWell(), d) from (1, ..., 1), Pareto(1.5, 0.2) noise, the step "
          f"clipped to norm 0.6; {n:.0e} / d particles (coordinate-steps/s, {threads} threads; htsgd with "
          "occupancy=False, as numpy: the default counts 2^d basins per particle)")
    for d, iso in ((2, False), (8, False), (32, False), (8, True)):
        name = f"d = {d}{', isotropic' if iso else ''}"
        sgd = model(landscape=Separable(DoubleWell(), d), isotropic=iso)
        m = n // d
        t, c, r = best_time(lambda: sgd.run(np.ones(d), steps, n_particles=m, rng=1, occupancy=False), repeat)
        rep.line(f"nd {name} htsgd", f"htsgd {name}", m * d * steps, t, c)
        t, c, x = best_time(lambda: reference.numpy_nd_w1(d, m, steps, isotropic=iso, threads=threads), 1)
        rep.line(f"nd {name} numpy", f"numpy {name}", m * d * steps, t, c)
        ok0, msg0 = same_law(r.final[:, 0], x[:, 0])
        ok1, msg1 = same_law(np.linalg.norm(r.final, axis=1), np.linalg.norm(x, axis=1))
        rep.check(f"numpy {name}: same law (coordinate 0; norm)", ok0 and ok1, msg0 + ";" + msg1)
        rep.ratio(f"W1 {name} htsgd / numpy", f"nd {name} htsgd", f"nd {name} numpy", GOALS["numpy"])


def section_scaling(rep: Report, n: int, steps: int, repeat: int):
    print("\nScaling of W1 (time linear in n_particles and n_steps: the rate stays flat)")
    sgd = model()
    for m, s in ((n // 10, steps), (4 * n, steps // 4), (n // 10, 4 * steps), (n // 10, steps // 4)):
        t, c, _ = best_time(lambda: sgd.run(1.0, s, n_particles=m, rng=1, occupancy=False), repeat)
        rep.line(f"scaling {m} {s}", f"n_particles {m:.0e}, n_steps {s}", m * s, t, c)


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for ln in f:
            if ln.startswith(field + ":"):
                return int(ln.split()[1])
    raise KeyError(field)


def memory_child(n: int, steps: int) -> None:
    """Run in a subprocess: peak resident memory added by a W1 call with n particles (Linux /proc), without
    and with basin occupancy (2 int64 counts per particle on the double well)."""
    model().run(1.0, 2, n_particles=1000)  # import and warm up
    out = {"positions": 8 * n}
    for key, occupancy in (("state_only", False), ("with_occupancy", True)):
        with open("/proc/self/clear_refs", "w") as f:  # reset the peak (VmHWM) to the current RSS
            f.write("5")
        base = _status_kib("VmRSS") * 1024
        r = model().run(1.0, steps, n_particles=n, rng=1, occupancy=occupancy)
        out[key] = _status_kib("VmHWM") * 1024 - base
        out[key + "_result"] = sum(a.nbytes for a in (r.final, r.occupancy) if a is not None)
        del r
    print(json.dumps(out))


def section_memory(rep: Report, n: int):
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--memory-child", str(n), "10"],
                          capture_output=True, text=True, check=True)
    mem = json.loads(proc.stdout.strip().splitlines()[-1])
    mib = 2**20
    print(f"\nMemory, W1 with {n:.0e} particles x 10 steps (peak RSS added by the call): state alone "
          f"{mem['positions'] / mib:.0f} MiB; occupancy=False {mem['state_only'] / mib:.0f} MiB "
          f"({mem['state_only'] / mem['positions']:.2f}x the state); with occupancy "
          f"{mem['with_occupancy'] / mib:.0f} MiB ({mem['with_occupancy'] / mem['with_occupancy_result']:.2f}x "
          "final + occupancy arrays)")
    rep.rows.append(("peak memory / state (occupancy=False)", mem["state_only"] / mem["positions"], None, 1.2, "<="))


def section_companions(rep: Report, threads: int, quick: bool):
    """Their own result checks count (a non-zero exit); figures they print in another format show as n/a."""
    for title, (rc, out, rows) in (
            ("Rare events: bench/bench_rare_event.py", companions.rare_event(threads, 1 if quick else 3)),
            ("torch optimizer: bench/bench_torch_optimizer.py", companions.torch_optimizer(10 if quick else 30))):
        print(f"\n{title}")
        print("\n".join("  | " + ln for ln in out.strip().splitlines()), flush=True)
        rep.rows.extend(rows)
        rep.ok &= rc == 0


def section_avx2(rep: Report, argv: list[str]):
    """This script's W1 and W2 in a subprocess with the kernels capped at AVX2; its ratios join the summary."""
    print("\nAVX2-only machines: W1 and W2 again in a subprocess with " + " ".join(f"{k}={v!r}" for k, v in
                                                                               AVX2_ENV.items()), flush=True)
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), *argv, "--sections", "w1,w2",
                           "--isa", "avx2", "--rows-json"], capture_output=True, text=True,
                          env={**os.environ, **AVX2_ENV})
    rows = []
    for ln in proc.stdout.splitlines():
        if ln.startswith("ROWS_JSON "):
            rows = json.loads(ln[len("ROWS_JSON "):])
        else:
            print("  | " + ln)
    if proc.returncode != 0 or not rows:
        print(proc.stderr[-2000:])
        rep.ok = False
    rep.rows.extend((f"[AVX2] {r[0]}", *r[1:]) for r in rows)


def summary(rep: Report, load_before: float) -> None:
    print(f"\nSummary: every ratio beside its goal (wall-clock, and per CPU-second: each side's work over the "
          f"CPU time it used, the steadier figure on a shared machine). Load average {load_before:.2f} before "
          f"the run, {os.getloadavg()[0]:.2f} after ({os.cpu_count()} CPUs).")
    print("  (ratios: htsgd over the other; seconds: wall-clock, and CPU seconds per thread)")
    width = max([46] + [len(row[0]) for row in rep.rows])
    print(f"  {'ratio':<{width}s} {'wall':>8s} {'per CPU-s':>10s}  {'goal':>8s}")
    for name, wall, cpu, goal, how in rep.rows:
        def verdict(v):
            if v is None or goal is None:
                return ""
            return "ok" if (v >= goal if how == ">=" else v <= goal) else "BELOW" if how == ">=" else "ABOVE"
        w = "n/a" if wall is None else f"{wall:.2f}"
        c = "" if cpu is None else f"{cpu:.2f}"
        g = "" if goal is None else f"{how} {goal:g}"
        flags = "/".join(v for v in (verdict(wall), verdict(cpu)) if v)
        print(f"  {name:<{width}s} {w:>8s} {c:>10s}  {g:>8s}  {flags}")
    print("\nresult checks:", "passed" if rep.ok else "FAILED")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10x smaller workloads")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many timings for the htsgd runs")
    ap.add_argument("--no-numba", action="store_true")
    ap.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    ap.add_argument("--isa", choices=("native", "avx2"), default="native",
                    help="avx2: rerun in a subprocess as on an AVX2-only machine (HTSGD_ISA=avx2)")
    ap.add_argument("--rows-json", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--memory-child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_child:
        memory_child(*args.memory_child)
        return 0
    sections = set(args.sections.split(","))
    if not sections <= set(SECTIONS):
        ap.error(f"Invalid --sections: {args.sections!r}; expected a comma-separated subset of {','.join(SECTIONS)}")
    if args.isa == "avx2" and os.environ.get("HTSGD_ISA") != "avx2":  # re-run with the environment set
        child = [a for a in argv if a not in ("--isa", "avx2") and not a.startswith("--isa=")]
        if "--sections" not in " ".join(argv):
            child += ["--sections", "w1,w2"]
        return subprocess.run([sys.executable, os.path.abspath(__file__), *child, "--isa", "avx2"],
                              env={**os.environ, **AVX2_ENV}).returncode
    div = 10 if args.quick else 1
    n1, s1, n2 = 10**6 // div, 100, 20_000 // div
    threads = htsgd.max_threads()
    use_numba = reference.numba is not None and not args.no_numba
    if use_numba:
        reference.numba.set_num_threads(min(threads, reference.numba.config.NUMBA_NUM_THREADS))
    load_before = os.getloadavg()[0]
    print(f"htsgd {getattr(htsgd, '__version__', '?')}, numpy {np.__version__}, "
          f"numba {reference.numba.__version__ if reference.numba else 'not installed'}, threads {threads}, "
          f"ISA {htsgd._core.active_isa()}, load average {load_before:.2f} ({os.cpu_count()} CPUs)")
    exe = None
    if sections & {"w1", "w2"}:
        exe, msg = hardware_line.build(args.isa)
        print(f"plain C++ loop: {msg}")
        if exe:
            acc = hardware_line.accuracy(exe)
            print(f"  its kernels: log max relative error {acc['log_max_rel_error']:.2g}, expm1 "
                  f"{acc['expm1_max_rel_error']:.2g} ({acc['points']} points against long double)")
    rep = Report()
    if "w1" in sections:
        section_w1(rep, n1, s1, threads, args.repeat, exe, use_numba)
    if "w2" in sections:
        section_w2(rep, n2, threads, args.repeat, exe, use_numba)
    if "laws" in sections:
        section_laws(rep, n1, s1, threads, args.repeat)
    if "nd" in sections:
        section_nd(rep, n1, s1, threads, args.repeat)
    if "scaling" in sections:
        section_scaling(rep, n1, s1, args.repeat)
    if "memory" in sections:
        section_memory(rep, 10**7 // div)
    if "companions" in sections:
        section_companions(rep, threads, args.quick)
    if "avx2" in sections and args.isa == "native":
        section_avx2(rep, [a for a in argv if a in ("--quick", "--no-numba")] + ["--repeat", str(args.repeat)])
    summary(rep, load_before)
    if args.rows_json:
        print("ROWS_JSON " + json.dumps(rep.rows))
    return 0 if rep.ok else 1


if __name__ == "__main__":
    sys.exit(main())
