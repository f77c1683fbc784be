// The float32 noise path of the torch optimizer's C++ sampler: i.i.d. float32 variates computed in float32,
// 16 lanes per AVX-512 register (8 on AVX2, 4 on the SSE2 baseline), bit-identical on every ISA and for
// every thread count (vecmath_f32.hpp's kernels; Philox4x32-10 in 32-bit lanes computes philox4x32's bits).
//
// Addressing. Variate i of a call keyed by (seed, counter) uses the key derive_key(seed, counter)
// (sampling.hpp) and the Philox block J = 16 floor(i / 64) + (i mod 16) with counter
// {J mod 2^32, J div 2^32, kF32Tag, kF32Tag2} (disjoint from every float64 Sampling block, whose last word is
// particle 0); it is word (i mod 64) div 16 of that block. So 16 blocks give 64 consecutive variates, the
// same on every ISA (a narrower ISA computes the 16 blocks in 2 or 4 vectors).
//
// Uniforms. A word w gives k = w mod 2^31 and U = fl(fl(k) + 1/2) 2^-31: U = (k + 1/2) 2^-31 exactly for
// k < 2^23 (U < 2^-8), rounded to float32 (relative 2^-24) above; 2^-32 <= U <= 1. Bit 31 of w is the
// sign of a symmetric variate.
//   Pareto:   Z = sign * scale * expm1(-log(U) / alpha), one word per variate. Largest |Z|: U = 2^-32, i.e.
//             scale (2^(32/alpha) - 1), taken with probability 2^-31; the law is cut there (the exact tail
//             at that point is 2^-32).
//   Gaussian: Box-Muller on two words, (Z_2m, Z_2m+1) = scale sqrt(-2 log U1) (cos, sin)(2 pi U2); the
//             radius is at most sqrt(64 ln 2) = 6.66 (a cut at tail probability 2^-32).
// Student t and stable have no float32 kernel: their float32 variates are float64 ones rounded (sampling.hpp).
#pragma once
#include <cstddef>
#include <cstdint>

#include <algorithm>
#include <vector>

#include "htsgd/direction_pass.hpp"
#include "htsgd/noise.hpp"
#include "htsgd/parallel.hpp"
#include "htsgd/philox.hpp"
#include "htsgd/sampling.hpp"
#include "htsgd/simd.hpp"
#include "htsgd/vecmath_f32.hpp"

#if HTSGD_X86_DISPATCH
#include <immintrin.h>  // declares the x86 builtins used below
#endif

namespace htsgd {
namespace f32 {

constexpr std::uint32_t kF32Tag = 0x46333221u, kF32Tag2 = 0x0F32F32Fu;  // counter words 2, 3
constexpr std::uint32_t kPhiloxM0 = 0xD2511F53u, kPhiloxM1 = 0xCD9E8D57u;
constexpr std::uint32_t kPhiloxW0 = 0x9E3779B9u, kPhiloxW1 = 0xBB67AE85u;
constexpr int kGroup = 64;   // variates per group of 16 blocks
constexpr int kBlocks = 16;  // blocks per group

// The law's float32 parameters. kind: Pareto or Gaussian (has_f32_kernel).
struct LawF32 {
  NoiseKind kind;
  float scale, neg_inv_alpha;
};

inline bool has_f32_kernel(const NoiseLaw& law) {
  return law.kind == NoiseKind::Pareto || law.kind == NoiseKind::Gaussian;
}

inline LawF32 law_f32(const NoiseLaw& law) {
  return {law.kind, static_cast<float>(law.scale), static_cast<float>(-1.0 / law.alpha)};
}

// ---------------------------------------------------------------------------------------- scalar reference
HTSGD_INLINE float uniform_f32(std::uint32_t w) {
  return (static_cast<float>(static_cast<std::int32_t>(w & 0x7FFFFFFFu)) + 0.5f) * 0x1.0p-31f;
}

HTSGD_INLINE float pareto_f32(const LawF32& law, std::uint32_t w) {
  const float m = law.scale * expm1_f32(law.neg_inv_alpha * log_f32(uniform_f32(w)));
  return float_of(bits_of(m) ^ (w & 0x80000000u));
}

HTSGD_INLINE void gaussian_f32(const LawF32& law, std::uint32_t w1, std::uint32_t w2, float& z_cos, float& z_sin) {
  const float r = law.scale * __builtin_sqrtf(-2.0f * log_f32(uniform_f32(w1)));
  float s, c;
  sincospi_f32(2.0f * uniform_f32(w2), s, c);
  z_cos = r * c;
  z_sin = r * s;
}

// Variate i of the call keyed by `key`, one at a time (the reference of the lanes; the fallback without
// vector extensions).
inline float variate_f32(const LawF32& law, Key key, std::uint64_t i) {
  const std::uint64_t block = (i / kGroup) * kBlocks + i % kBlocks;
  const unsigned word = static_cast<unsigned>((i % kGroup) / kBlocks);
  const Counter w = philox4x32({static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32), kF32Tag,
                                kF32Tag2}, key);
  if (law.kind == NoiseKind::Pareto) return pareto_f32(law, w[word]);
  float zc, zs;
  gaussian_f32(law, w[word & 2u], w[word | 1u], zc, zs);
  return (word & 1u) ? zs : zc;
}

#if HTSGD_VECTOR_EXT
// ------------------------------------------------------------------------------------------------ lanes
template <int M>
struct Wide {  // the same bytes as M 32-bit lanes, seen as M/2 64-bit lanes
  typedef std::uint64_t u __attribute__((vector_size(4 * M)));
  typedef int i32 __attribute__((vector_size(4 * M)));
  typedef long long ll __attribute__((vector_size(4 * M)));
};

// (a mod 2^32) * m in 64-bit lanes: one (V)PMULUDQ on x86 (M = 4: SSE2, 8: AVX2, 16: AVX-512F).
template <int M>
HTSGD_INLINE typename Wide<M>::u mul_u32(typename Wide<M>::u a, typename Wide<M>::u m) {
#if HTSGD_X86_DISPATCH
  using v32 = typename Wide<M>::i32;
  using v64 = typename Wide<M>::ll;
  if constexpr (M == 4) return reinterpret_cast<typename Wide<M>::u>(__builtin_ia32_pmuludq128(reinterpret_cast<v32>(a), reinterpret_cast<v32>(m)));
  if constexpr (M == 8) return reinterpret_cast<typename Wide<M>::u>(__builtin_ia32_pmuludq256(reinterpret_cast<v32>(a), reinterpret_cast<v32>(m)));
  if constexpr (M == 16)
    return reinterpret_cast<typename Wide<M>::u>(
        __builtin_ia32_pmuludq512_mask(reinterpret_cast<v32>(a), reinterpret_cast<v32>(m), v64{}, static_cast<unsigned char>(0xFF)));
#endif
  return (a & 0xFFFFFFFFull) * m;
}

// The 64-bit products m * a[l] of M 32-bit lanes, as their low and high words (lane order kept).
template <int M>
HTSGD_INLINE void mul_hilo(typename VecF<M>::u a, std::uint32_t m, typename VecF<M>::u& lo, typename VecF<M>::u& hi) {
  using wu = typename Wide<M>::u;
  const wu mm = wu{} + static_cast<std::uint64_t>(m);
  const wu aw = reinterpret_cast<wu>(a);
  const wu pe = mul_u32<M>(aw, mm);        // even lanes
  const wu po = mul_u32<M>(aw >> 32, mm);  // odd lanes
  lo = reinterpret_cast<typename VecF<M>::u>((pe & 0xFFFFFFFFull) | (po << 32));
  hi = reinterpret_cast<typename VecF<M>::u>((pe >> 32) | (po & 0xFFFFFFFF00000000ull));
}

// Philox4x32-10 of the blocks J0 + l, l < M (J0 a multiple of 16): the words of philox4x32 for each lane.
template <int M>
HTSGD_INLINE void philox_f32_lanes(Key key, std::uint64_t j0, typename VecF<M>::u& w0, typename VecF<M>::u& w1,
                                   typename VecF<M>::u& w2, typename VecF<M>::u& w3) {
  using vu = typename VecF<M>::u;
  vu lane;
  for (int l = 0; l < M; ++l) lane[l] = static_cast<std::uint32_t>(l);
  vu c0 = lane + static_cast<std::uint32_t>(j0), c1 = vu{} + static_cast<std::uint32_t>(j0 >> 32);
  vu c2 = vu{} + kF32Tag, c3 = vu{} + kF32Tag2;
  std::uint32_t k0 = key[0], k1 = key[1];
  for (int r = 0; r < 10; ++r) {
    vu lo0, hi0, lo1, hi1;
    mul_hilo<M>(c0, kPhiloxM0, lo0, hi0);
    mul_hilo<M>(c2, kPhiloxM1, lo1, hi1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  w0 = c0, w1 = c1, w2 = c2, w3 = c3;
}

template <int M>
HTSGD_INLINE typename VecF<M>::f uniform_f32_v(typename VecF<M>::u w) {
  using vf = typename VecF<M>::f;
  using vi = typename VecF<M>::i;
  return (__builtin_convertvector(reinterpret_cast<vi>(w & 0x7FFFFFFFu), vf) + 0.5f) * 0x1.0p-31f;
}

template <int M>
HTSGD_INLINE typename VecF<M>::f pareto_f32_v(const LawF32& law, typename VecF<M>::u w) {
  const typename VecF<M>::f m = law.scale * expm1_f32_v<M>(law.neg_inv_alpha * log_f32_v<M>(uniform_f32_v<M>(w)));
  return as_f<M>(as_u<M>(m) ^ (w & 0x80000000u));
}

// Correctly rounded square root, in the ISA of the kernel this is inlined into.
template <int M>
HTSGD_INLINE typename VecF<M>::f sqrt_f32_v(typename VecF<M>::f x) {
#if HTSGD_X86_SQRT_BUILTINS
  if constexpr (M == 4) return __builtin_ia32_sqrtps(x);
  if constexpr (M == 8) return __builtin_ia32_sqrtps256(x);
  if constexpr (M == 16) return __builtin_ia32_sqrtps512_mask(x, x, static_cast<unsigned short>(0xFFFF), 4);
#endif
  typename VecF<M>::f r;
  for (int i = 0; i < M; ++i) r[i] = __builtin_sqrtf(x[i]);
  return r;
}

template <int M>
HTSGD_INLINE void gaussian_f32_v(const LawF32& law, typename VecF<M>::u w1, typename VecF<M>::u w2,
                                 typename VecF<M>::f& z_cos, typename VecF<M>::f& z_sin) {
  using vf = typename VecF<M>::f;
  const vf r = law.scale * sqrt_f32_v<M>(-2.0f * log_f32_v<M>(uniform_f32_v<M>(w1)));
  vf s, c;
  sincospi_f32_v<M>(2.0f * uniform_f32_v<M>(w2), s, c);
  z_cos = r * c;
  z_sin = r * s;
}

template <class V, class T>
HTSGD_INLINE V load_v(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class V, class T>
HTSGD_INLINE void store_v(T* p, const V& v) {
  std::memcpy(p, &v, sizeof v);
}

// The 64 variates of group g (variates 64 g, ..., 64 g + 63) into dst[0..64), plus add[0..64) if kAdd; with
// kMomentum, dst[i] * momentum + that instead (torch.optim.SGD's buf.mul_(momentum).add_(noisy), rounded as
// those two operations).
template <int M, bool kAdd, bool kMomentum>
HTSGD_INLINE void group_f32(const LawF32& law, Key key, std::uint64_t g, float* dst, const float* add,
                            float momentum) {
  using vf = typename VecF<M>::f;
  using vu = typename VecF<M>::u;
  for (int sub = 0; sub < kBlocks; sub += M) {
    vu w[4];
    philox_f32_lanes<M>(key, g * kBlocks + static_cast<std::uint64_t>(sub), w[0], w[1], w[2], w[3]);
    vf z[4];
    if (law.kind == NoiseKind::Pareto) {
      for (int k = 0; k < 4; ++k) z[k] = pareto_f32_v<M>(law, w[k]);
    } else {
      gaussian_f32_v<M>(law, w[0], w[1], z[0], z[1]);
      gaussian_f32_v<M>(law, w[2], w[3], z[2], z[3]);
    }
    for (int k = 0; k < 4; ++k) {
      const int off = k * kBlocks + sub;
      if constexpr (kAdd) z[k] = load_v<vf>(add + off) + z[k];
      if constexpr (kMomentum) z[k] = load_v<vf>(dst + off) * momentum + z[k];
      store_v(dst + off, z[k]);
    }
  }
}

template <int M, bool kMomentum>
HTSGD_INLINE void fill_chunk_f32_as(const LawF32& law, Key key, std::uint64_t begin, std::size_t count, float* out,
                                    const float* add, float momentum) {
  std::size_t i = 0;
  for (; i + kGroup <= count; i += kGroup) {
    const std::uint64_t g = (begin + i) / kGroup;
    if (add) group_f32<M, true, kMomentum>(law, key, g, out + i, add + i, momentum);
    else group_f32<M, false, kMomentum>(law, key, g, out + i, nullptr, momentum);
  }
  if (i < count) {
    alignas(64) float tmp[kGroup];
    group_f32<M, false, false>(law, key, (begin + i) / kGroup, tmp, nullptr, 0.0f);
    for (std::size_t j = 0; i + j < count; ++j) {
      const float noisy = add ? add[i + j] + tmp[j] : tmp[j];
      out[i + j] = kMomentum ? out[i + j] * momentum + noisy : noisy;
    }
  }
}

// The same with torch.optim.SGD's whole update of the buffer `out` (weight decay with `param`, dampening,
// maximize: `sgd`, direction_pass.hpp's momentum loop), one group of 64 noisy gradients at a time in L1.
template <int M>
HTSGD_INLINE void fill_chunk_f32_sgd(const LawF32& law, Key key, std::uint64_t begin, std::size_t count, float* out,
                                     const float* add, const float* param, const DirectionPass& sgd) {
  for (std::size_t i = 0; i < count; i += kGroup) {
    const std::size_t len = std::min<std::size_t>(kGroup, count - i);
    alignas(64) float noisy[kGroup];
    if (add && len == kGroup) {
      group_f32<M, true, false>(law, key, (begin + i) / kGroup, noisy, add + i, 0.0f);
    } else {
      group_f32<M, false, false>(law, key, (begin + i) / kGroup, noisy, nullptr, 0.0f);
      if (add)
        for (std::size_t j = 0; j < len; ++j) noisy[j] = add[i + j] + noisy[j];
    }
    const DirectionPass p = take_in_pass(sgd, noisy, out + i, param ? param + i : nullptr, len);
    ::htsgd::detail::DirectionRange::run<M / 2>(&p, 0, len);
  }
}

// Variates begin, ..., begin + count - 1 (begin a multiple of 64), plus add[i] where add != null, into out;
// with accumulate, out[i] = out[i] * momentum + that, or SGD's update of out[i] from it when `sgd` is given.
template <int M>
HTSGD_INLINE void fill_chunk_f32(const LawF32& law, Key key, std::uint64_t begin, std::size_t count, float* out,
                                 const float* add, bool accumulate, float momentum, const float* param,
                                 const DirectionPass* sgd) {
  if (accumulate && sgd) fill_chunk_f32_sgd<M>(law, key, begin, count, out, add, param, *sgd);
  else if (accumulate) fill_chunk_f32_as<M, true>(law, key, begin, count, out, add, momentum);
  else fill_chunk_f32_as<M, false>(law, key, begin, count, out, add, momentum);
}

struct FillChunkF32 {
  template <int N>  // N doubles per register: 2N floats
  static HTSGD_INLINE void run(const LawF32& law, Key key, std::uint64_t begin, std::size_t count, float* out,
                               const float* add, bool accumulate, float momentum, const float* param,
                               const DirectionPass* sgd) {
    fill_chunk_f32<2 * N>(law, key, begin, count, out, add, accumulate, momentum, param, sgd);
  }
};
#endif

// One request: out[i] = variate i of (seed, counter) (+ add[i] where add is not null), i < n; with
// accumulate, out[i] = out[i] * momentum + that (a momentum buffer taking in the noisy gradient).
struct FillTargetF32 {
  float* out;
  const float* add;
  std::size_t n;
  std::uint64_t seed, counter;
  bool accumulate = false;
  float momentum = 0.0f;
  const float* param = nullptr;      // with sgd: the parameter, for weight decay
  const DirectionPass* sgd = nullptr;  // with accumulate: SGD's whole update instead of out * momentum + that
};

// out[i] = variate i (+ add[i]) for every target, the chunks shared by the threads; bit-identical for any
// thread count and ISA. Laws without a float32 kernel: float64 variates rounded to float32 (fill_noise_many),
// then the add.
inline void fill_noise_f32_many(const NoiseLaw& noise, const std::vector<FillTargetF32>& targets, int n_threads) {
  struct Chunk {
    std::size_t target, begin;
  };
  std::vector<Chunk> chunks;
  for (std::size_t t = 0; t < targets.size(); ++t)
    for (std::size_t b = 0; b < targets[t].n; b += kFillChunk) chunks.push_back({t, b});
  const auto n_chunks = static_cast<std::int64_t>(chunks.size());
  const int threads = resolve_threads(n_threads);
  if (!has_f32_kernel(noise)) {
    // an accumulating target's variates go to a scratch array first (its out holds the momentum buffer)
    std::vector<std::vector<float>> scratch(targets.size());
    std::vector<FillTarget<float>> plain;
    for (std::size_t t = 0; t < targets.size(); ++t) {
      float* dst = targets[t].out;
      if (targets[t].accumulate) {
        scratch[t].resize(targets[t].n);
        dst = scratch[t].data();
      }
      plain.push_back({dst, targets[t].n, targets[t].seed, targets[t].counter});
    }
    fill_noise_many<float>(noise, plain, n_threads);
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads) if (n_chunks > 8)
    for (std::int64_t c = 0; c < n_chunks; ++c) {
      const Chunk& ch = chunks[static_cast<std::size_t>(c)];
      const FillTargetF32& t = targets[ch.target];
      if (!t.add && !t.accumulate) continue;
      const std::size_t end = std::min(t.n, ch.begin + kFillChunk);
      if (t.accumulate && t.sgd) {  // the noisy gradient in the scratch array, then SGD's update
        float* v = scratch[ch.target].data();
        if (t.add)
          for (std::size_t i = ch.begin; i < end; ++i) v[i] = t.add[i] + v[i];
        direction_pass(take_in_pass(*t.sgd, v + ch.begin, t.out + ch.begin,
                                    t.param ? t.param + ch.begin : nullptr, end - ch.begin), 1);
        continue;
      }
      const float* z = t.accumulate ? scratch[ch.target].data() : t.out;
      for (std::size_t i = ch.begin; i < end; ++i) {
        const float noisy = t.add ? t.add[i] + z[i] : z[i];
        t.out[i] = t.accumulate ? t.out[i] * t.momentum + noisy : noisy;
      }
    }
    return;
  }
  const LawF32 law = law_f32(noise);
  std::vector<Key> keys;
  for (const auto& t : targets) keys.push_back(derive_key(t.seed, t.counter));
#if HTSGD_VECTOR_EXT
  const auto kernel = isa_entry<FillChunkF32, const LawF32&, Key, std::uint64_t, std::size_t, float*, const float*, bool,
                                float, const float*, const DirectionPass*>(active_isa());
#endif
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads) if (n_chunks > 8)
  for (std::int64_t c = 0; c < n_chunks; ++c) {
    const Chunk& ch = chunks[static_cast<std::size_t>(c)];
    const FillTargetF32& t = targets[ch.target];
    const std::size_t count = std::min(kFillChunk, t.n - ch.begin);
    const float* add = t.add ? t.add + ch.begin : nullptr;
#if HTSGD_VECTOR_EXT
    kernel(law, keys[ch.target], ch.begin, count, t.out + ch.begin, add, t.accumulate, t.momentum,
           t.param ? t.param + ch.begin : nullptr, t.sgd);
#else
    std::vector<float> noisy(count);
    for (std::size_t i = 0; i < count; ++i) {
      const float z = variate_f32(law, keys[ch.target], ch.begin + i);
      noisy[i] = add ? add[i] + z : z;
      float& o = t.out[ch.begin + i];
      if (!t.sgd) o = t.accumulate ? o * t.momentum + noisy[i] : noisy[i];
    }
    if (t.accumulate && t.sgd)
      direction_pass(take_in_pass(*t.sgd, noisy.data(), t.out + ch.begin, t.param ? t.param + ch.begin : nullptr,
                                  count), 1);
#endif
  }
}

// The same variates one at a time through the scalar kernels: the reference the lanes are tested against.
inline void fill_noise_f32_reference(const NoiseLaw& noise, std::uint64_t seed, std::uint64_t counter, float* out,
                                     std::size_t n) {
  const Key key = derive_key(seed, counter);
  const LawF32 law = law_f32(noise);
  for (std::size_t i = 0; i < n; ++i) out[i] = variate_f32(law, key, i);
}

}  // namespace f32
}  // namespace htsgd
