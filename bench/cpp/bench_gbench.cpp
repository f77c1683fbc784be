// google/benchmark version of the core benchmark: items (variates or particle-steps) per second.
//   build/bench/bench/cpp/htsgd_bench --benchmark_filter=BM_Run --benchmark_format=json
// Arguments: law (0 Pareto, 1 Gaussian, 2 StudentT, 3 Stable), isa (0 baseline, 1 AVX2, 2 AVX-512; skipped
// where the CPU lacks it), threads. W1: run_1d of 1e5 particles x 100 steps on the double well (Pareto 1.5,
// scale 0.2, lr 0.05, b 0.6, from x = 1); W2: exit_times_1d of 2000 first exits from (0, inf). The bits of
// every variant are checked by htsgd_bench_harness and the test suite.
#include <benchmark/benchmark.h>

#include <cstdint>
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

const NoiseLaw kLaws[] = {{NoiseKind::Pareto, 1.5, 0.2}, {NoiseKind::Gaussian, 2.0, 0.2},
                          {NoiseKind::StudentT, 1.5, 0.2}, {NoiseKind::Stable, 1.5, 0.2}};
const char* kLawNames[] = {"Pareto", "Gaussian", "StudentT", "Stable"};
const Isa kIsas[] = {Isa::Baseline, Isa::Avx2, Isa::Avx512};

CriticalPoints double_well() {
  CriticalPoints f;
  f.points = {-1.0, 0.0, 1.0};
  f.value_coef = {0.25, 0.0, -0.5, 0.0, 0.25};
  return f;
}

Step1D w_step() {
  Step1D p;
  p.lr = 0.05;
  p.truncation = 0.6;
  return p;
}

bool isa_available(benchmark::State& state, Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(cpu_isa())) {
    state.SkipWithError("ISA not supported by this CPU");
    return false;
  }
  return true;
}

// one variate per call of the scalar path (draw)
void BM_SamplerScalar(benchmark::State& state) {
  const NoiseLaw law = kLaws[state.range(0)];
  const Key key = make_key(12345);
  std::uint64_t i = 0;
  with_sampler(law, [&](const auto& sampler) {
    for (auto _ : state) benchmark::DoNotOptimize(draw(sampler, key, Stream::Sampling, 0, ++i, 0));
  });
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(kLawNames[state.range(0)]);
}
BENCHMARK(BM_SamplerScalar)->ArgName("law")->DenseRange(0, 3);

// the fill kernel in SIMD lanes, one thread, 2^16 variates per iteration
void BM_SamplerLanes(benchmark::State& state) {
  const NoiseLaw law = kLaws[state.range(0)];
  const Isa isa = kIsas[state.range(1)];
  if (!isa_available(state, isa)) return;
  const Key key = make_key(12345);
  const std::size_t n = std::size_t{1} << 16;
  std::vector<double> out(n);
  with_sampler(law, [&](const auto& sampler) {
    using S = std::decay_t<decltype(sampler)>;
    const auto kernel = lanes::fill_chunk_for<S, double>(isa);
    for (auto _ : state) {
      for (std::size_t b = 0; b < n; b += kFillChunk) kernel(sampler, key, b, std::min(kFillChunk, n - b), out.data() + b);
      benchmark::DoNotOptimize(out.data());
    }
  });
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
  state.SetLabel(std::string(kLawNames[state.range(0)]) + "/" + isa_name(isa));
}
BENCHMARK(BM_SamplerLanes)->ArgNames({"law", "isa"})->ArgsProduct({{0, 1, 2, 3}, {0, 1, 2}});

// one scalar step (step_1d), particle-steps per second
void BM_Step1D(benchmark::State& state) {
  const CriticalPoints well = double_well();
  const ParetoSampler pareto(kLaws[0]);
  const Step1D p = w_step();
  const Key key = make_key(12345);
  double x = 1.0;
  std::uint64_t k = 0;
  for (auto _ : state) {
    x = step_1d(well, pareto, p, key, 0, ++k, x);
    benchmark::DoNotOptimize(x);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Step1D);

// W1: run_1d with occupancy, particle-steps per second
void BM_RunW1(benchmark::State& state) {
  const Isa isa = kIsas[state.range(0)];
  if (!isa_available(state, isa)) return;
  const int threads = static_cast<int>(state.range(1));
  const std::size_t n = 100000;
  const std::int64_t steps = 100;
  const CriticalPoints well = double_well();
  const ParetoSampler pareto(kLaws[0]);
  const Key key = make_key(12345);
  const std::vector<double> edges{0.0};
  std::vector<double> x0(n, 1.0), fin(n);
  std::vector<std::int64_t> occ(n * 2);
  StopFlag stop{false};
  for (auto _ : state) {
    NonfiniteLog nf;
    RunOutputs out;
    out.final = fin.data();
    out.nonfinite = &nf;
    out.occupancy = occ.data();
    run_1d(well, pareto, w_step(), key, 0, x0.data(), n, steps, edges, out, threads, stop, isa);
    benchmark::DoNotOptimize(fin.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n) * steps);
  state.SetLabel(isa_name(isa));
}
BENCHMARK(BM_RunW1)->ArgNames({"isa", "threads"})->ArgsProduct({{0, 1, 2}, {1, 2}})->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// W2: exit_times_1d from (0, inf), particle-steps per second
void BM_ExitW2(benchmark::State& state) {
  const Isa isa = kIsas[state.range(0)];
  if (!isa_available(state, isa)) return;
  const int threads = static_cast<int>(state.range(1));
  const std::size_t n = 2000;
  const CriticalPoints well = double_well();
  const ParetoSampler pareto(kLaws[0]);
  const Key key = make_key(12345);
  std::vector<double> y0(n, 1.0), pos(n);
  std::vector<std::int64_t> steps(n);
  std::vector<std::uint8_t> ex(n), nfe(n);
  const ExitOutputs eo{steps.data(), pos.data(), ex.data(), nfe.data()};
  StopFlag stop{false};
  std::int64_t total = 0;
  for (auto _ : state) {
    exit_times_1d(well, pareto, w_step(), key, 0, y0.data(), n, 0.0, kInf, std::int64_t{1} << 40, eo, threads, stop, isa);
    for (auto s : steps) total += s;
  }
  state.SetItemsProcessed(total);
  state.SetLabel(isa_name(isa));
}
BENCHMARK(BM_ExitW2)->ArgNames({"isa", "threads"})->ArgsProduct({{0, 1, 2}, {1, 2}})->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
