// Self-timing C++ benchmark of the core kernels (no Python): items (variates or particle-steps) per second
// for the samplers of every law, one 1-D step, the run kernel (W1) and the exit-time loop (W2), per ISA variant
// and thread count. It checks that every variant gives the same bits as the scalar reference path.
//   cmake -S . -B build/bench -DHTSGD_BUILD_BENCH=ON && cmake --build build/bench -j2 --target htsgd_bench
//   build/bench/bench/cpp/htsgd_bench_harness [--quick] [--filter=SUBSTRING] [--reps=N]   (--help for more)
// When google/benchmark is found, build/bench/bench/cpp/htsgd_bench is bench_gbench.cpp instead.
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "htsgd/dynamics.hpp"
#include "htsgd/exit_times.hpp"
#include "htsgd/landscapes.hpp"
#include "htsgd/noise.hpp"
#include "htsgd/run.hpp"
#include "htsgd/sampling.hpp"
#include "htsgd/simd.hpp"

using namespace htsgd;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double cpu_now() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }  // all threads of the process

int fail(const char* what) {
  std::fprintf(stderr, "MISMATCH: %s\n", what);
  return 1;
}

CriticalPoints double_well() {
  CriticalPoints f;
  f.points = {-1.0, 0.0, 1.0};
  f.value_coef = {0.25, 0.0, -0.5, 0.0, 0.25};
  f.scale = 1.0;
  return f;
}

struct Args {
  std::size_t w1_particles = 1000000;
  std::int64_t w1_steps = 100;
  std::size_t w2_particles = 20000;
  int reps = 3;
};

// Where the time of a W1 step goes: the Pareto noise of 32 lanes built up stage by stage (one Philox block
// per two steps and the uniforms, then + log2, then + exp2m1 = the full variate), each stage timed alone on
// many steps; ns per variate. The full step's cost is W1's 1-thread rate.
template <int N, int Stage>
HTSGD_INLINE double stage_ns(const ParetoSampler& s, Key key) {
  using vd = typename Vec<N>::d;
  using vu = typename Vec<N>::u;
  constexpr int W = lanes::kLanes;
  constexpr std::int64_t kSteps = 2000000;
  alignas(64) std::uint64_t particle[W];
  for (int l = 0; l < W; ++l) particle[l] = static_cast<std::uint64_t>(l);
  vd acc{};
  const double t0 = now();
  for (std::int64_t m = 1; m <= kSteps / 2; ++m) {
    for (int v = 0; v < W; v += N) {
      vu pt;
      std::memcpy(&pt, particle + v, sizeof pt);
      const lanes::PhiloxLanes<N> b = lanes::philox_lanes<N>(key, splat_u<N>(0), pt, splat_u<N>(static_cast<std::uint64_t>(m)));
      vd u0 = lanes::u01_open_lanes<N>(b.w0, b.w1), u1 = lanes::u01_open_lanes<N>(b.w2, b.w3);
      if constexpr (Stage == 1) u0 = log2_kernel_v<N>(u0), u1 = log2_kernel_v<N>(u1);
      if constexpr (Stage == 2) lanes::LaneLaw<ParetoSampler>::pair<N>(s, b, u0, u1);
      acc += u0 + u1;
    }
  }
  const double dt = now() - t0;
  double sink = 0;
  for (int i = 0; i < N; ++i) sink += acc[i];
  if (sink == 42.0) std::printf(" ");  // keeps the work
  return 1e9 * dt / (static_cast<double>(W) * kSteps);
}
template <int N>
HTSGD_INLINE double stage_ns(const ParetoSampler& s, Key k, int stage) {
  return stage == 0 ? stage_ns<N, 0>(s, k) : stage == 1 ? stage_ns<N, 1>(s, k) : stage_ns<N, 2>(s, k);
}
double stage_ns_baseline(const ParetoSampler& s, Key k, int stage) { return stage_ns<2>(s, k, stage); }
HTSGD_TARGET_AVX2 double stage_ns_avx2(const ParetoSampler& s, Key k, int stage) { return stage_ns<4>(s, k, stage); }
HTSGD_TARGET_AVX512 double stage_ns_avx512(const ParetoSampler& s, Key k, int stage) { return stage_ns<8>(s, k, stage); }


const char* kUsage =
    "usage: htsgd_bench_harness [--quick] [--filter=SUBSTRING] [--reps=N] [--help]\n"
    "  Self-timing benchmark of the htsgd core: items (variates or particle-steps) per second of every law's\n"
    "  sampler, one scalar step, run_1d (W1: 1e6 particles x 100 steps) and exit_times_1d (W2: 2e4 exits)\n"
    "  per ISA and thread count, and a profile of the Pareto step. Every variant is checked against the scalar\n"
    "  reference; the exit code is 1 if any bits differ.\n"
    "  --quick            10x smaller workloads, one repetition\n"
    "  --filter=S         only the sections whose name contains S: sampler, step, W1, W2, check, profile\n"
    "  --reps=N           repetitions of W1 and W2 (the best is reported; default 3)\n";

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress visible when redirected
  Args a;
  std::string filter;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--quick") {
      a.w1_particles = 100000;
      a.w2_particles = 2000;
      a.reps = 1;
    } else if (arg.rfind("--filter=", 0) == 0) {
      filter = arg.substr(9);
    } else if (arg.rfind("--reps=", 0) == 0 && std::atoi(arg.c_str() + 7) >= 1) {
      a.reps = std::atoi(arg.c_str() + 7);
    } else {
      std::fprintf(stderr, "unknown argument: %s\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }
  const auto want = [&](const char* section) { return filter.empty() || std::string(section).find(filter) != std::string::npos; };
  const NoiseLaw law{NoiseKind::Pareto, 1.5, 0.2};
  const ParetoSampler pareto(law);
  const CriticalPoints well = double_well();
  Step1D p;
  p.lr = 0.05;
  p.truncation = 0.6;
  const Key key = make_key(12345);
  const std::vector<double> edges{0.0};
  StopFlag stop{false};
  int bad = 0;
  std::printf("cpu ISA: %s (active: %s)\n", isa_name(cpu_isa()), isa_name(active_isa()));

  // --- samplers, every law: scalar path (draw, one variate per call) and the fill kernel in SIMD lanes per
  // ISA (one thread), variates per second, and equality of the two
  const std::size_t n_var = a.w1_particles * 20;
  const NoiseLaw laws[] = {law, {NoiseKind::Gaussian, 2.0, 0.2}, {NoiseKind::StudentT, 1.5, 0.2}, {NoiseKind::Stable, 1.5, 0.2}};
  const char* law_names[] = {"Pareto", "Gaussian", "StudentT", "Stable"};
  for (int li = 0; li < 4 && want("sampler"); ++li) {
    with_sampler(laws[li], [&](const auto& sampler) {
      using S = std::decay_t<decltype(sampler)>;
      std::vector<double> ref_var(n_var), out(n_var);
      double t0 = now();
      for (std::size_t i = 0; i < n_var; ++i) ref_var[i] = draw(sampler, key, Stream::Sampling, 0, i + 1, 0);
      std::printf("sampler  %-8s scalar                  %10.3g variates/s\n", law_names[li], n_var / (now() - t0));
      for (const Isa isa : {Isa::Baseline, Isa::Avx2, Isa::Avx512}) {
        if (static_cast<int>(isa) > static_cast<int>(cpu_isa())) continue;
        const auto kernel = lanes::fill_chunk_for<S, double>(isa);
        t0 = now();
        for (std::size_t b = 0; b < n_var; b += kFillChunk)
          kernel(sampler, key, b, std::min(kFillChunk, n_var - b), out.data() + b);
        std::printf("sampler  %-8s lanes %-8s 1 thread %10.3g variates/s\n", law_names[li], isa_name(isa),
                    n_var / (now() - t0));
        if (std::memcmp(out.data(), ref_var.data(), n_var * 8) != 0) bad |= fail("sampler lanes vs scalar");
      }
    });
  }

  // --- one step: scalar step_1d reference for a small run, then the run kernel per ISA / threads
  const std::size_t nref = 4096;
  const std::int64_t ref_steps = 50;
  std::vector<double> ref(nref);
  std::vector<std::int64_t> ref_occ(nref * 2, 0);
  {  // always: the reference of the checks
    const double t0 = now();
    for (std::size_t i = 0; i < nref; ++i) {
      double x = 1.0;
      for (std::int64_t k = 1; k <= ref_steps; ++k) {
        x = step_1d(well, pareto, p, key, static_cast<std::uint32_t>(i), k, x);
        ++ref_occ[i * 2 + basin_index(x, edges)];
      }
      ref[i] = x;
    }
    const double dt = now() - t0;
    if (want("step")) std::printf("step     scalar step_1d              %10.3g particle-steps/s\n", nref * ref_steps / dt);
  }
  const Isa isas[] = {Isa::Baseline, Isa::Avx2, Isa::Avx512};
  for (const Isa isa : isas) {
    if (static_cast<int>(isa) > static_cast<int>(cpu_isa())) continue;
    // equality of the run kernel with the scalar reference
    if (want("check")) {
      std::vector<double> x0(nref, 1.0), fin(nref);
      std::vector<std::int64_t> occ(nref * 2, 0);
      NonfiniteLog nf;
      RunOutputs out;
      out.final = fin.data();
      out.nonfinite = &nf;
      out.occupancy = occ.data();
      const lanes::RunTask<CriticalPoints, ParetoSampler> task{well, pareto, p, key, 0, x0.data(), nref, ref_steps,
                                                               edges, out, stop};
      const auto kernel = lanes::run_chunk_for<CriticalPoints, ParetoSampler>(isa);
      for (std::size_t b = 0; b < nref; b += kBlock) kernel(task, b, std::min(kBlock, nref - b));
      if (std::memcmp(fin.data(), ref.data(), nref * 8) != 0) bad |= fail("run kernel vs step_1d");
      if (occ != ref_occ) bad |= fail("run kernel occupancy vs step_1d + basin_index");
      if (!nf.sorted().empty()) bad |= fail("run kernel non-finite step");
    }
    for (int threads : {1, 2}) {
      if (!want("W1") && !want("W2")) break;
      // W1: run_1d with occupancy on (as the Python API does)
      std::vector<double> x0(a.w1_particles, 1.0), fin(a.w1_particles);
      std::vector<std::int64_t> occ(a.w1_particles * 2);
      NonfiniteLog nf;
      RunOutputs out;
      out.final = fin.data();
      out.nonfinite = &nf;
      out.occupancy = occ.data();
      double best = 1e300, best_cpu = 1e300;
      for (int r = 0; r < a.reps && want("W1"); ++r) {
        const double t0 = now(), c0 = cpu_now();
        run_1d(well, pareto, p, key, 0, x0.data(), a.w1_particles, a.w1_steps, edges, out, threads, stop, isa);
        best = std::min(best, now() - t0);
        best_cpu = std::min(best_cpu, cpu_now() - c0);
      }
      if (want("W1"))
        std::printf("W1 run   %-8s %d thread(s)          %10.3g particle-steps/s  (%.3g per CPU-second)\n",
                  isa_name(isa), threads, a.w1_particles * a.w1_steps / best, a.w1_particles * a.w1_steps / best_cpu);
      // W2: exit times from (0, inf)
      std::vector<double> y0(a.w2_particles, 1.0), pos(a.w2_particles);
      std::vector<std::int64_t> steps(a.w2_particles);
      std::vector<std::uint8_t> ex(a.w2_particles), nfe(a.w2_particles);
      ExitOutputs eo{steps.data(), pos.data(), ex.data(), nfe.data()};
      best = 1e300;
      best_cpu = 1e300;
      double total = 0;
      for (int r = 0; r < a.reps && want("W2"); ++r) {
        const double t0 = now(), c0 = cpu_now();
        exit_times_1d(well, pareto, p, key, 0, y0.data(), a.w2_particles, 0.0, kInf, std::int64_t{1} << 40, eo, threads,
                      stop, isa);
        best = std::min(best, now() - t0);
        best_cpu = std::min(best_cpu, cpu_now() - c0);
        total = 0;
        for (auto s : steps) total += static_cast<double>(s);
      }
      if (want("W2"))
        std::printf("W2 exit  %-8s %d thread(s)          %10.3g particle-steps/s  (%.3g per CPU-second; mean exit %.4g)\n",
                  isa_name(isa), threads, total / best, total / best_cpu, total / a.w2_particles);
    }
  }
  // W2 equality, every ISA: particles replayed with scalar step_1d (more particles than lanes: lanes refill)
  for (const Isa isa : isas) {
    if (static_cast<int>(isa) > static_cast<int>(cpu_isa()) || !want("check")) continue;
    const std::size_t m = 256;
    std::vector<double> y0(m, 1.0), pos(m);
    std::vector<std::int64_t> steps(m);
    std::vector<std::uint8_t> ex(m), nfe(m);
    ExitOutputs eo{steps.data(), pos.data(), ex.data(), nfe.data()};
    exit_times_1d(well, pareto, p, key, 0, y0.data(), m, 0.0, kInf, std::int64_t{1} << 40, eo, 2, stop, isa);
    for (std::size_t i = 0; i < m; ++i) {
      double x = 1.0;
      std::int64_t k = 0;
      while (true) {
        ++k;
        x = step_1d(well, pareto, p, key, static_cast<std::uint32_t>(i), k, x);
        if (!(x > 0.0)) break;
      }
      if (k != steps[i] || std::memcmp(&x, &pos[i], 8) != 0) bad |= fail("exit kernel vs step_1d");
    }
  }
  // --- profile of a W1 step (active ISA, one thread)
  if (want("profile")) {
    const auto stage = select_isa<double (*)(const ParetoSampler&, Key, int)>(active_isa(), &stage_ns_baseline,
                                                                              &stage_ns_avx2, &stage_ns_avx512);
    const double philox = stage(pareto, key, 0), with_log = stage(pareto, key, 1), full = stage(pareto, key, 2);
    std::printf("profile  (%s, 1 thread, ns per variate) Philox (1 block per 2 steps) + uniforms %.2f, + log2 %.2f, "
                "+ exp2m1 (full Pareto variate) %.2f\n", isa_name(active_isa()), philox, with_log, full);
  }
  std::printf(bad ? "RESULT CHECKS FAILED\n" : "all results equal the scalar reference\n");
  return bad;
}
