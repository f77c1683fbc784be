// The per-tensor pass of htsgd.torch's multiplicative noise mode (python/htsgd/torch/_single_tensor.py), fused
// into one sweep over memory. With g the gradient, r the reference gradient g_ref (the moving average in the
// EMA mode) and Z the step's scalar multiplier, for every element:
//   n = lerp(r, g, Z)                         the noisy gradient g_ref + Z (g - g_ref)      torch.lerp(r, g, Z)
//   buf = buf * momentum + n    or   out = n  torch.optim.SGD's momentum buffer             buf.mul_(m).add_(n)
//   r = lerp(r, g, w)                         the moving-average reference (if asked)      r.lerp_(g, w)
// Stage by stage torch reads and writes every operand four times; here each is read once and written once
// (bench/bench_torch_optimizer.py --profile).
//
// The bits are torch's own. torch computes lerp(a, b, t) as t (b - a) + a for |t| < 0.5 and as
// (t - 1) (b - a) + b otherwise, each product and sum rounded once (a fused multiply-add) in its AVX2 and
// AVX-512 CPU kernels and twice in its DEFAULT kernels; `fused` picks the form (the caller reads torch's CPU
// capability). Elementwise operations do not depend on the split into threads or vectors, so the result
// does not either; tests/test_torch_optimizer.py compares it with torch's operations bit for bit.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "htsgd/parallel.hpp"
#include "htsgd/simd.hpp"
#include "htsgd/vecmath.hpp"  // HTSGD_INLINE

namespace htsgd {

struct MultiplicativePass {
  const float* grad;
  float* ref;            // g_ref; overwritten by the moving average when update_ref
  float* buf;            // momentum buffer, or null: then `out` receives the noisy gradient
  float* out;            // may be `ref` itself (a consumed reference)
  std::size_t n;
  float z, momentum, weight;  // weight: of the moving-average update
  bool update_ref, fused;
};

namespace detail {
// One lerp(a, b, t) in torch's form; `small` is |t| < 0.5, decided once per call. The compiler vectorises
// the loops below for each target; __builtin_fmaf is the FMA instruction on AVX2/AVX-512 and glibc's
// correctly rounded fmaf on the baseline, so every ISA gives the same bits.
template <bool Fused>
HTSGD_INLINE float lerp_torch(float a, float b, float coeff, bool small) {
  const float base = small ? a : b;
  if constexpr (Fused) return __builtin_fmaf(coeff, b - a, base);
  else return coeff * (b - a) + base;  // two roundings: the core is compiled with -ffp-contract=off
}

template <bool Fused, bool Momentum, bool Update>
HTSGD_INLINE void multiplicative_range(const MultiplicativePass& p, std::size_t begin, std::size_t end) {
  const bool z_small = std::fabs(p.z) < 0.5f, w_small = std::fabs(p.weight) < 0.5f;
  const float cz = z_small ? p.z : p.z - 1.0f, cw = w_small ? p.weight : p.weight - 1.0f;
  const float m = p.momentum;
  for (std::size_t i = begin; i < end; ++i) {
    const float r = p.ref[i], g = p.grad[i];
    const float noisy = lerp_torch<Fused>(r, g, cz, z_small);
    if constexpr (Update) p.ref[i] = lerp_torch<Fused>(r, g, cw, w_small);
    if constexpr (Momentum) {
      const float scaled = p.buf[i] * m;  // mul_, then add_: two roundings, as torch
      p.buf[i] = scaled + noisy;
    } else {
      p.out[i] = noisy;
    }
  }
}

struct MultiplicativeRange {
  template <int N>  // unused: the loops are scalar code the compiler vectorises for the caller's target
  static HTSGD_INLINE void run(const MultiplicativePass* p, std::size_t begin, std::size_t end) {
    const bool momentum = p->buf != nullptr;
    if (p->fused) {
      if (momentum) p->update_ref ? multiplicative_range<true, true, true>(*p, begin, end)
                                  : multiplicative_range<true, true, false>(*p, begin, end);
      else p->update_ref ? multiplicative_range<true, false, true>(*p, begin, end)
                         : multiplicative_range<true, false, false>(*p, begin, end);
    } else {
      if (momentum) p->update_ref ? multiplicative_range<false, true, true>(*p, begin, end)
                                  : multiplicative_range<false, true, false>(*p, begin, end);
      else p->update_ref ? multiplicative_range<false, false, true>(*p, begin, end)
                         : multiplicative_range<false, false, false>(*p, begin, end);
    }
  }
};
}  // namespace detail

// Below this many elements one thread does the pass (torch's own grain size: an OpenMP team costs more).
constexpr std::size_t kMultiplicativeGrain = 32768;

inline void multiplicative_pass(const MultiplicativePass& p, int n_threads) {
  const auto kernel = isa_entry<detail::MultiplicativeRange, const MultiplicativePass*, std::size_t, std::size_t>(
      active_isa());
  const int threads = resolve_threads(n_threads);
  if (threads <= 1 || p.n < 2 * kMultiplicativeGrain) {
    kernel(&p, 0, p.n);
    return;
  }
  // one contiguous share per thread, boundaries on 64-byte lines (no false sharing)
  const std::size_t share = ((p.n + static_cast<std::size_t>(threads) - 1) / threads + 15) / 16 * 16;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int t = 0; t < threads; ++t) {
    const std::size_t begin = std::min(p.n, static_cast<std::size_t>(t) * share);
    const std::size_t end = std::min(p.n, begin + share);
    if (begin < end) kernel(&p, begin, end);
  }
}

}  // namespace htsgd
