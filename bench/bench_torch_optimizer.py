"""Step time of htsgd.torch.HeavyTailedSGD against torch.optim.SGD + clip_grad_norm_ (the same parameters).

    python bench/bench_torch_optimizer.py                 # CPU, 5M parameters in 50 tensors
    python bench/bench_torch_optimizer.py --device cuda --sync-debug error --kernels   # where a GPU is available
    python bench/bench_torch_optimizer.py --threads 2 --profile   # plus a per-stage profile of one step

Every optimizer uses momentum 0.9 (``--momentum``) and no weight decay (``--weight-decay``). "float64 variates
(0.2.0 path)" is the additive step with the core sampler's float32 path hidden: float64 variates rounded to
float32 and a separate add of the gradient, as htsgd 0.2.0 did (the "before" of the float32 path, in the
same run).

All variants are timed side by side, interleaved round by round (the machine is shared and noisy), and
every ratio is taken within a round against "SGD + clip_grad_norm_" of the same round; the table shows
medians. Nothing asserts on time. Before timing, the benchmarked results are checked against plain ones:
noise-free HeavyTailedSGD equals torch.optim.SGD bit for bit, the foreach path equals the single-tensor
path, and the C++-sampled step equals the same step written out by hand with the same noise.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from htsgd.torch import HeavyTailedSGD
from htsgd.torch import noise as tnoise


def make_params(n_tensors: int, numel: int, device: str, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ps = []
    for _ in range(n_tensors):
        p = torch.randn(numel, generator=g).to(device).requires_grad_()
        p.grad = torch.randn(numel, generator=g).to(device).mul_(1e-2)
        ps.append(p)
    return ps


def clone_params(ps: list[torch.Tensor]) -> list[torch.Tensor]:
    out = []
    for p in ps:
        q = p.detach().clone().requires_grad_()
        q.grad = p.grad.clone()
        out.append(q)
    return out


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


class sync_debug:
    """``torch.cuda.set_sync_debug_mode(mode)`` while active (on a CUDA device; a no-op otherwise)."""

    def __init__(self, device: str, mode: str):
        self.on = device.startswith("cuda") and mode != "default"
        self.mode = mode

    def __enter__(self):
        if self.on:
            torch.cuda.set_sync_debug_mode(self.mode)

    def __exit__(self, *exc):
        if self.on:
            torch.cuda.set_sync_debug_mode("default")


# -------------------------------------------------------------------------------------------- correctness
def check_results(ps: list[torch.Tensor], lr: float, b: float) -> None:
    # 1. noise off, no truncation: torch.optim.SGD bit for bit
    a, c = clone_params(ps), clone_params(ps)
    torch.optim.SGD(a, lr=lr, momentum=0.9).step()
    HeavyTailedSGD(c, lr=lr, momentum=0.9, noise=None).step()
    assert all(torch.equal(x, y) for x, y in zip(a, c)), "HeavyTailedSGD(noise=None) != torch.optim.SGD"
    # 2. foreach == single tensor, for every benchmarked configuration
    for kw in VARIANT_KWARGS.values():
        outs = []
        for foreach in (False, True):
            q = clone_params(ps)
            opt = HeavyTailedSGD(q, lr=lr, truncation=b, seed=1, foreach=foreach, **kw)
            opt.step()
            outs.append(q)
        assert all(torch.equal(x, y) for x, y in zip(*outs)), f"foreach != single tensor for {kw}"
    # 3. the step with the C++ (or torch) sampler equals the step written out by hand with the same noise
    q = clone_params(ps)
    opt = HeavyTailedSGD(q, lr=lr, truncation=b, seed=2)
    gen = torch.Generator(device=q[0].device)
    gen.set_state(opt.generator_for(q[0].device).get_state())
    opt.step()
    noisy = [tnoise.fill_noise_(torch.empty_like(p), "pareto", 1.5, 1.0, gen).add_(p.grad) for p in ps]
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(d) for d in noisy])) * lr
    scale = (b / torch.clamp(norm, min=b)) * -lr
    assert all(torch.equal(x, p.detach().addcmul(d, scale)) for x, p, d in zip(q, ps, noisy)), "hand-written step"


# --------------------------------------------------------------------------------------------------- timing
VARIANT_KWARGS = {
    "htsgd: no noise, truncated": {"noise": None},
    "htsgd: multiplicative, given g_ref": {"noise_mode": "multiplicative"},
    "htsgd: multiplicative, EMA g_ref": {"noise_mode": "multiplicative"},
    "htsgd: additive, C++ sampler": {"sampler": "auto"},
    "htsgd: additive, float64 variates (0.2.0 path)": {"sampler": "auto"},
    "htsgd: additive, torch sampler": {"sampler": "torch"},
}


class _Float64Variates:
    """Hides the float32 path of the core sampler (``htsgd._core.fill_noise_f32``) while active."""

    def __enter__(self):
        self.saved = tnoise._core_fill
        tnoise._core_fill = lambda name="fill_noise": None if name == "fill_noise_f32" else self.saved(name)

    def __exit__(self, *exc):
        tnoise._core_fill = self.saved


def without_float32_path(fn):
    def step():
        with _Float64Variates():
            fn()
    return step


def _time_step_and_baseline(ps: list[torch.Tensor], d: list[torch.Tensor], coef, saved: list[torch.Tensor],
                            sgd: torch.optim.SGD, lr: float, b: float) -> tuple[float, float]:
    """Seconds of htsgd's clip + step (directions ``d``, clip coefficient ``coef``) and of SGD +
    clip_grad_norm_ from the same parameters (``saved``) and gradients; both are restored after each."""
    from htsgd.torch._functional import _single_tensor_apply  # noqa: PLC0415
    with torch.no_grad():
        t0 = time.perf_counter()
        _single_tensor_apply(ps, d, lr=lr, truncation=b, clip="norm", coefficient=coef)
        step = time.perf_counter() - t0
        for p, s0 in zip(ps, saved):
            p.copy_(s0)
        gs = [p.grad.clone() for p in ps]
        t0 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(ps, max_norm=b / lr)
        sgd.step()
        baseline = time.perf_counter() - t0
        for p, s0, g0 in zip(ps, saved, gs):
            p.copy_(s0)
            p.grad.copy_(g0)
    return step, baseline


def _print_stages(title: str, stages: dict[str, list[float]], baseline: str) -> None:
    """Each stage's median time and its median ratio to the baseline stage of the same round."""
    print(title)
    for name, ts in stages.items():
        ratio = statistics.median([x / y for x, y in zip(ts, stages[baseline])])
        print(f"  {name:34s} {statistics.median(ts) * 1e3:8.2f} ms {ratio:6.2f}x")


def profile_step(ps: list[torch.Tensor], lr: float, b: float, momentum: float, rounds: int) -> None:
    """Median time of each stage of one additive step (foreach=False, as the CPU default), interleaved with
    SGD + clip_grad_norm_ for the ratio: noise (+ gradient) into workspaces, then momentum (before 0.3.2),
    against noise + gradient taken into the momentum buffers in the fill's pass (what the step runs); norm;
    clip + step."""
    from htsgd.torch._functional import _single_tensor_directions, global_clip_coefficient, step_norm  # noqa: PLC0415
    gen = torch.Generator().manual_seed(7)
    work = [torch.empty_like(p) for p in ps]
    bufs = [p.grad.clone() for p in ps]
    grads = [p.grad for p in ps]
    sgd = torch.optim.SGD(ps, lr=lr, momentum=momentum)
    sgd.step()
    saved = [p.detach().clone() for p in ps]
    stages: dict[str, list[float]] = {k: [] for k in ("noise + g (f32 path)", "noise, then + g (0.2.0 path)",
                                                       "momentum", "noise + g into the buffers", "norm",
                                                       "clip + step", "SGD + clip_grad_norm_")}
    bufs_fused = [b.clone() for b in bufs]
    for r in range(rounds + 1):
        t: dict[str, float] = {}
        t0 = time.perf_counter()
        tnoise.fill_noise_batch_(work, "pareto", 1.5, 1.0, [gen] * len(ps), addends=grads)
        t["noise + g (f32 path)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        with _Float64Variates():
            tnoise.fill_noise_batch_(work, "pareto", 1.5, 1.0, [gen] * len(ps))
        for z, g in zip(work, grads):
            z.add_(g)
        t["noise, then + g (0.2.0 path)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        d = _single_tensor_directions(ps, work, bufs, weight_decay=0.0, momentum=momentum, dampening=0.0,
                                      nesterov=False, maximize=False)
        t["momentum"] = time.perf_counter() - t0
        t0 = time.perf_counter()  # what the step runs: the noise and gradient taken into the buffers in one pass
        tnoise.fill_noise_batch_(bufs_fused, "pareto", 1.5, 1.0, [gen] * len(ps), addends=grads,
                                 momenta=[momentum] * len(ps))
        t["noise + g into the buffers"] = time.perf_counter() - t0
        for bb in bufs_fused:
            bb.clamp_(-10, 10)
        t0 = time.perf_counter()
        coef = global_clip_coefficient([step_norm(d, lr)], b)
        t["norm"] = time.perf_counter() - t0
        t["clip + step"], t["SGD + clip_grad_norm_"] = _time_step_and_baseline(ps, d, coef, saved, sgd, lr, b)
        if r:
            for k, v in t.items():
                stages[k].append(v)
    _print_stages(f"profile of one additive step ({rounds} rounds, medians; x: ratio to SGD + clip in the same "
                  "round)", stages, "SGD + clip_grad_norm_")


def profile_multiplicative(ps: list[torch.Tensor], lr: float, b: float, momentum: float, rounds: int) -> None:
    """Median time of each stage of one multiplicative step with the EMA g_ref, stage by stage over all
    tensors (as before 0.3.0) against the same operations tensor by tensor as the single-tensor path runs
    them (since 0.3.2 one C++ pass for noise, momentum and EMA, then the norm), interleaved with
    SGD + clip_grad_norm_ for the ratio."""
    from htsgd.torch._functional import global_clip_coefficient, step_norm  # noqa: PLC0415
    from htsgd.torch._single_tensor import chained_directions  # noqa: PLC0415
    grads = [p.grad for p in ps]
    work = [torch.empty_like(p) for p in ps]
    emas = [g.clone() for g in grads]
    bufs: list = [g.clone() for g in grads]
    z = torch.tensor(0.7)
    sgd = torch.optim.SGD(ps, lr=lr, momentum=momentum)
    sgd.step()
    names = ("noise into workspaces", "momentum", "EMA update", "norm", "the four per tensor (fused pass)",
             "clip + step", "SGD + clip_grad_norm_")
    stages: dict[str, list[float]] = {k: [] for k in names}
    scratch: dict = {}
    with torch.no_grad():
        saved = [p.detach().clone() for p in ps]
        for r in range(rounds + 1):
            t: dict[str, float] = {}
            t0 = time.perf_counter()
            noisy = [torch.lerp(e, g, z, out=w) for e, g, w in zip(emas, grads, work)]
            t[names[0]] = time.perf_counter() - t0
            t0 = time.perf_counter()
            for bb, n in zip(bufs, noisy):
                bb.mul_(momentum).add_(n)
            t[names[1]] = time.perf_counter() - t0
            t0 = time.perf_counter()
            for e, g in zip(emas, grads):
                e.lerp_(g, 0.1)
            t[names[2]] = time.perf_counter() - t0
            t0 = time.perf_counter()
            global_clip_coefficient([step_norm(bufs, lr)], b).item()
            t[names[3]] = time.perf_counter() - t0
            t0 = time.perf_counter()
            norms: list = []
            d = chained_directions(ps, None, grads, bufs, multiplicative=(emas, z, [False] * len(ps)),
                                   scratch=scratch, update_references=(emas, [True] * len(ps), 0.1), norms=norms,
                                   weight_decay=0.0, momentum=momentum, dampening=0.0, nesterov=False,
                                   maximize=False)
            coef = global_clip_coefficient([step_norm(d, lr, norms=norms)], b)
            coef.item()
            t[names[4]] = time.perf_counter() - t0
            t[names[5]], t[names[6]] = _time_step_and_baseline(ps, d, coef, saved, sgd, lr, b)
            for bb in bufs:
                bb.clamp_(-10, 10)
            if r:
                for k, v in t.items():
                    stages[k].append(v)
    _print_stages(f"profile of one multiplicative step, EMA g_ref ({rounds} rounds, medians; x: ratio to SGD + "
                  "clip in the same round); the first four stages over all tensors, then the same chained",
                  stages, names[-1])


def count_kernels(steps: dict, prepare, device: str) -> None:
    """Kernels launched by one call of each step and their time on the GPU, from torch.profiler: on a GPU a
    5M-parameter step is bound by the host's launches, not by memory traffic."""
    from torch.profiler import ProfilerActivity, profile  # noqa: PLC0415
    print("kernels per step (torch.profiler, one step each after the timed rounds)")
    for name, fn in steps.items():
        prepare(name)
        sync(device)
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            fn()
            sync(device)
        kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
        gpu_us = sum(e.time_range.elapsed_us() for e in kernels)
        print(f"  {name:46s} {len(kernels):5d} kernels, {gpu_us / 1e3:7.3f} ms on the GPU")


def naive_heavy_tailed_step(ps, lr, b, alpha, gen):
    """The obvious per-tensor heavy-tailed noise in torch (rand, pow, sign, add), then clip and SGD."""
    noisy = []
    for p in ps:
        u = torch.rand(p.shape, generator=gen, device=p.device)
        z = u.pow_(-1.0 / alpha).sub_(1.0)
        sign = torch.rand(p.shape, generator=gen, device=p.device) < 0.5
        noisy.append(torch.where(sign, z, -z).add_(p.grad))
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(d) for d in noisy])) * lr
    scale = (b / torch.clamp(norm, min=b)) * -lr
    with torch.no_grad():
        for p, d in zip(ps, noisy):
            p.addcmul_(d, scale)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--tensors", type=int, default=50)
    ap.add_argument("--numel", type=int, default=100_000, help="elements per tensor")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--foreach", choices=["auto", "true", "false"], default="auto",
                    help="HeavyTailedSGD's foreach (auto: its default for the device)")
    ap.add_argument("--naive", action="store_true", help="also time the obvious torch noise (slow)")
    ap.add_argument("--momentum", type=float, default=0.9, help="momentum of every optimizer (default 0.9)")
    ap.add_argument("--weight-decay", type=float, default=0.0, help="weight decay of every optimizer (default 0)")
    ap.add_argument("--profile", action="store_true", help="also print a per-stage profile of the step")
    ap.add_argument("--sync-debug", choices=["default", "warn", "error"], default="default",
                    help="CUDA: torch.cuda.set_sync_debug_mode during every timed step ('error': a step that "
                         "synchronises the host with the GPU raises)")
    ap.add_argument("--kernels", action="store_true", help="CUDA: also count the kernels each step launches")
    ap.add_argument("--before", default=None, metavar="COMMIT",
                    help="also time the optimizer as it was at COMMIT (its optimizer.py and _functional.py "
                         "from git), in the same rounds")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    lr, b = 0.01, 1.0
    ps = make_params(args.tensors, args.numel, args.device)
    check_results(make_params(args.tensors, min(args.numel, 20_000), args.device, seed=1), lr, b)
    print("checks passed: results equal the plain implementations")

    sgd = torch.optim.SGD(ps, lr=lr, momentum=args.momentum, weight_decay=args.weight_decay)
    foreach = {"auto": None, "true": True, "false": False}[args.foreach]
    opts = {name: HeavyTailedSGD(ps, lr=lr, truncation=b, seed=3, foreach=foreach, momentum=args.momentum,
                                 weight_decay=args.weight_decay, **kw)
            for name, kw in VARIANT_KWARGS.items()}
    if args.before:
        from bench_torch_truncation import optimizer_before  # noqa: PLC0415  (loads a commit's optimizer)
        old = optimizer_before(args.before)
        for name in ("htsgd: multiplicative, given g_ref", "htsgd: multiplicative, EMA g_ref",
                     "htsgd: additive, C++ sampler"):
            opts[f"{args.before}: {name[7:]}"] = old(ps, lr=lr, truncation=b, seed=3, foreach=foreach,
                                                     momentum=args.momentum, weight_decay=args.weight_decay,
                                                     **VARIANT_KWARGS[name])
    refs = [p.grad.clone() for p in ps]
    gen = torch.Generator(device=args.device).manual_seed(4)

    def sgd_clip():
        torch.nn.utils.clip_grad_norm_(ps, max_norm=b / lr)
        sgd.step()

    steps = {"torch: SGD + clip_grad_norm_": sgd_clip}
    for name, opt in opts.items():
        if name.endswith("given g_ref"):
            def step(opt=opt):  # g_ref stored outside the timed region (the user computes it anyway)
                opt.step()
            steps[name] = step
        elif "0.2.0 path" in name:
            steps[name] = without_float32_path(opt.step)
        else:
            steps[name] = opt.step
    if args.naive:
        steps["naive torch noise + clip + SGD"] = lambda: naive_heavy_tailed_step(ps, lr, b, 1.5, gen)

    grads = [p.grad.clone() for p in ps]

    def prepare(name: str) -> None:
        for p, g in zip(ps, grads):
            p.grad.copy_(g)  # clip_grad_norm_ scales the gradients in place
        if name.endswith("given g_ref"):
            opts[name].set_reference_gradient(refs)

    times: dict[str, list[float]] = {k: [] for k in steps}
    cpu: dict[str, list[float]] = {k: [] for k in steps}  # process CPU time: robust to a shared machine
    for r in range(args.rounds + 1):  # round 0 warms up
        for name, fn in steps.items():
            prepare(name)
            sync(args.device)
            c, t = time.process_time(), time.perf_counter()
            with sync_debug(args.device, args.sync_debug):
                fn()
            sync(args.device)
            if r:
                times[name].append(time.perf_counter() - t)
                cpu[name].append(time.process_time() - c)
        with torch.no_grad():
            for p in ps:
                p.clamp_(-10, 10)

    base = times["torch: SGD + clip_grad_norm_"]
    n = sum(p.numel() for p in ps)
    print(f"{n / 1e6:.1f}M parameters in {len(ps)} tensors, {args.device}, float32, momentum {args.momentum}, "
          f"weight decay {args.weight_decay}, torch threads "
          f"{torch.get_num_threads()}, C++ sampler {'available' if tnoise.core_available() else 'missing'}, "
          f"{args.rounds} rounds")
    print(f"{'variant':46s} {'ms/step: median':>15s} {'IQR':>15s} {'best':>7s} {'x SGD+clip':>11s} {'(best)':>7s} "
          f"{'(CPU)':>7s}")
    base_cpu = cpu["torch: SGD + clip_grad_norm_"]
    for name, ts in times.items():
        q = statistics.quantiles([t * 1e3 for t in ts], n=4)
        ratio = statistics.median([t / b0 for t, b0 in zip(ts, base)])
        cpu_ratio = statistics.median(cpu[name]) / max(statistics.median(base_cpu), 1e-9)
        print(f"{name:46s} {statistics.median(ts) * 1e3:15.2f} {q[0]:7.2f}-{q[2]:<7.2f} {min(ts) * 1e3:7.2f} "
              f"{ratio:11.2f} {min(ts) / min(base):7.2f} {cpu_ratio:7.2f}")
    print("x SGD+clip: median over rounds of the ratio within a round; (best): ratio of the best times; (CPU):"
          " ratio of the median process CPU times (all threads; less sensitive to a shared machine)")
    spread = statistics.median(base) / min(base)
    if spread > 1.3:
        # seen on the project's 2-core VM in pure torch processes too: some processes run torch's in-place
        # elementwise operations on these tensors about 2x slower throughout (clip_grad_norm_'s mul_,
        # SGD's mul_/add_), their read-only norms not
        print(f"warning: the SGD + clip baseline's median is {spread:.2f}x its best time: it ran slow in most "
              "rounds, so the medians understate every ratio; compare the (best) column or run again")
    if args.sync_debug != "default" and args.device.startswith("cuda"):
        print(f"every timed step ran under torch.cuda.set_sync_debug_mode({args.sync_debug!r})")
    if args.kernels and args.device.startswith("cuda"):
        count_kernels(steps, prepare, args.device)
    if args.profile and args.device == "cpu":
        profile_step(ps, lr, b, args.momentum, args.rounds)
        profile_multiplicative(ps, lr, b, args.momentum, args.rounds)


if __name__ == "__main__":
    main()
