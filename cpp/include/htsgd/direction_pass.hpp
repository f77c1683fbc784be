// The first half of a step of htsgd.torch's optimizer for one float32 CPU tensor, fused into one sweep over
// memory (python/htsgd/torch/_single_tensor.py): the noisy gradient, torch.optim.SGD's direction and the
// moving-average reference. With g the gradient, p the parameter, for every element:
//   n = lerp(r, g, Z)   (multiplicative mode: r = g_ref)            torch.lerp(r, g, Z)
//     or n = noisy[i]   (additive mode: g + Z, filled before)
//   n = -n                                   if maximize
//   n = n + wd p                             if weight decay         n.add(p, alpha=wd)
//   buf = buf * m + (1 - dampening) n        if momentum             buf.mul_(m).add_(n, alpha=1 - dampening)
//   d = n + m buf  (Nesterov), else buf (momentum), else n           n.add(buf, alpha=m)
//   r = lerp(r, g, w)                        if asked (the moving average of the multiplicative mode)
// Stage by stage torch reads and writes every operand once per operation (and allocates the results of
// add and lerp); here each operand comes from memory once: momentum without Nesterov in one loop per
// element, the other cases as stages over blocks that stay in L1.
//
// The bits are torch's own. torch computes lerp(a, b, t) as t (b - a) + a for |t| < 0.5 and as
// (t - 1) (b - a) + b otherwise, and a.add(b, alpha) as alpha b + a, each product and sum rounded once (a
// fused multiply-add) in its AVX2 and AVX-512 CPU kernels and twice in its DEFAULT kernels; `fused` picks
// the form (the caller reads torch's CPU capability). Elementwise operations do not depend on the split
// into threads, blocks or vectors, so the result does not either; tests/test_torch_fused_passes.py
// compares it with torch's operations bit for bit on every instruction set.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "htsgd/parallel.hpp"
#include "htsgd/simd.hpp"
#include "htsgd/vecmath.hpp"  // HTSGD_INLINE

namespace htsgd {

struct DirectionPass {
  std::size_t n = 0;
  const float* grad = nullptr;   // g
  float* ref = nullptr;          // multiplicative: g_ref, overwritten by the moving average if update_ref
  const float* noisy = nullptr;  // additive (ref null): the noisy gradient; may be `out`
  const float* param = nullptr;  // read when weight_decay != 0
  float* buf = nullptr;          // momentum buffer (momentum != 0), updated in place
  float* out = nullptr;          // the direction where it is not buf: no momentum, or Nesterov; may be ref/noisy
  float z = 0, weight = 0;       // multiplier Z; weight of the moving-average update
  // torch's scalars as it casts them to float32: weight_decay, momentum, alpha = 1 - dampening (computed in
  // double by the caller, as torch.optim.SGD does); decay: weight_decay != 0 in double (torch's test)
  float weight_decay = 0, momentum = 0, alpha = 1;
  bool decay = false, maximize = false, nesterov = false, update_ref = false, fused = true;
};

// SGD's update of the momentum buffer `buf` (n elements) from the noisy gradient `noisy`, with the options
// of `sgd` (a buffer taking in the additive noise in the fill's pass, law_lanes_f32.hpp).
inline DirectionPass take_in_pass(const DirectionPass& sgd, const float* noisy, float* buf, const float* param,
                                  std::size_t n) {
  DirectionPass p = sgd;
  p.n = n, p.noisy = noisy, p.buf = buf, p.param = param, p.ref = nullptr, p.out = nullptr;
  return p;
}

namespace detail {
// The loop-invariant scalars of a pass, formed as torch forms them: each lerp's coefficient and base choice
// (|t| < 0.5: t and the start, else t - 1 and the end) and the sign of maximize.
struct PassScalars {
  bool z_small, w_small;
  float cz, cw, sign;
  explicit PassScalars(const DirectionPass& p)
      : z_small(std::fabs(p.z) < 0.5f), w_small(std::fabs(p.weight) < 0.5f),
        cz(z_small ? p.z : p.z - 1.0f), cw(w_small ? p.weight : p.weight - 1.0f), sign(p.maximize ? -1.0f : 1.0f) {}
};

// a * b + c as torch rounds it: once (Fused: the FMA instruction on AVX2/AVX-512, glibc's correctly rounded
// fmaf on the baseline; every ISA the same bits) or twice (the core is compiled with -ffp-contract=off).
template <bool Fused>
HTSGD_INLINE float mul_add_torch(float a, float b, float c) {
  if constexpr (Fused) return __builtin_fmaf(a, b, c);
  else return a * b + c;
}

// The common case, momentum without Nesterov, in one loop (one load and store per operand and element: 14%
// faster than the staged form below, which moves the noisy gradient through L1).
template <bool Fused, bool Ref, bool Decay, bool Update>
HTSGD_INLINE void momentum_range(const DirectionPass& p, std::size_t begin, std::size_t end) {
  const PassScalars k(p);
  const bool z_small = k.z_small, w_small = k.w_small;
  const float cz = k.cz, cw = k.cw, sign = k.sign, alpha = p.alpha, m = p.momentum, wd = p.weight_decay;
  const float* g = p.grad;
  float* bb = p.buf;
  for (std::size_t i = begin; i < end; ++i) {
    float n, r = 0.0f;
    if constexpr (Ref) {
      r = p.ref[i];
      n = mul_add_torch<Fused>(cz, g[i] - r, z_small ? r : g[i]);
    } else {
      n = p.noisy[i];
    }
    n = sign * n;  // exact negation, or exact
    if constexpr (Decay) n = mul_add_torch<Fused>(p.param[i], wd, n);
    const float scaled = bb[i] * m;  // mul_, then add_ with alpha
    bb[i] = mul_add_torch<Fused>(n, alpha, scaled);
    if constexpr (Update) p.ref[i] = mul_add_torch<Fused>(cw, g[i] - r, w_small ? r : g[i]);
  }
}

// Elements [begin, end) of the pass, `kBlock` at a time: each stage is a plain loop the compiler vectorises
// for the caller's target, over a block that stays in L1.
template <bool Fused>
HTSGD_INLINE void direction_range(const DirectionPass& p, std::size_t begin, std::size_t end) {
  if (p.buf && !p.nesterov) {
    if (p.ref) {
      if (p.decay) p.update_ref ? momentum_range<Fused, true, true, true>(p, begin, end)
                                : momentum_range<Fused, true, true, false>(p, begin, end);
      else p.update_ref ? momentum_range<Fused, true, false, true>(p, begin, end)
                        : momentum_range<Fused, true, false, false>(p, begin, end);
    } else {
      p.decay ? momentum_range<Fused, false, true, false>(p, begin, end)
              : momentum_range<Fused, false, false, false>(p, begin, end);
    }
    return;
  }
  constexpr std::size_t kBlock = 1024;
  alignas(64) float n[kBlock];
  const PassScalars k(p);
  const bool z_small = k.z_small, w_small = k.w_small;
  const float cz = k.cz, cw = k.cw, sign = k.sign, alpha = p.alpha, m = p.momentum, wd = p.weight_decay;
  for (std::size_t b0 = begin; b0 < end; b0 += kBlock) {
    const std::size_t len = std::min(kBlock, end - b0);
    const float* g = p.grad + b0;
    if (p.ref) {
      const float* r = p.ref + b0;
      if (z_small)
        for (std::size_t i = 0; i < len; ++i) n[i] = mul_add_torch<Fused>(cz, g[i] - r[i], r[i]);
      else
        for (std::size_t i = 0; i < len; ++i) n[i] = mul_add_torch<Fused>(cz, g[i] - r[i], g[i]);
    } else {
      const float* v = p.noisy + b0;
      for (std::size_t i = 0; i < len; ++i) n[i] = v[i];
    }
    if (p.maximize)
      for (std::size_t i = 0; i < len; ++i) n[i] = sign * n[i];  // exact negation
    if (p.decay) {
      const float* x = p.param + b0;
      for (std::size_t i = 0; i < len; ++i) n[i] = mul_add_torch<Fused>(x[i], wd, n[i]);
    }
    if (p.buf) {
      float* bb = p.buf + b0;
      for (std::size_t i = 0; i < len; ++i) {
        const float scaled = bb[i] * m;  // mul_, then add_ with alpha
        bb[i] = mul_add_torch<Fused>(n[i], alpha, scaled);
      }
      if (p.nesterov) {
        float* o = p.out + b0;
        for (std::size_t i = 0; i < len; ++i) o[i] = mul_add_torch<Fused>(bb[i], m, n[i]);
      }
    } else {
      float* o = p.out + b0;
      for (std::size_t i = 0; i < len; ++i) o[i] = n[i];
    }
    if (p.update_ref) {  // from the old reference, which the stages above only read
      float* r = p.ref + b0;
      if (w_small)
        for (std::size_t i = 0; i < len; ++i) r[i] = mul_add_torch<Fused>(cw, g[i] - r[i], r[i]);
      else
        for (std::size_t i = 0; i < len; ++i) r[i] = mul_add_torch<Fused>(cw, g[i] - r[i], g[i]);
    }
  }
}

struct DirectionRange {
  template <int N>  // unused: the loops are scalar code the compiler vectorises for the caller's target
  static HTSGD_INLINE void run(const DirectionPass* p, std::size_t begin, std::size_t end) {
    if (p->fused) direction_range<true>(*p, begin, end);
    else direction_range<false>(*p, begin, end);
  }
};
}  // namespace detail

// Below this many elements one thread does the pass (torch's own grain size: an OpenMP team costs more).
constexpr std::size_t kDirectionGrain = 32768;

inline void direction_pass(const DirectionPass& p, int n_threads) {
  const auto kernel =
      isa_entry<detail::DirectionRange, const DirectionPass*, std::size_t, std::size_t>(active_isa());
  const int threads = resolve_threads(n_threads);
  if (threads <= 1 || p.n < 2 * kDirectionGrain) {
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
