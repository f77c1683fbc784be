// Philox4x32-10 for N SIMD lanes at once (one counter per lane, streams.hpp's addressing) and the uniforms
// of its words: the random source of every lane kernel. Each lane computes exactly the bits of philox4x32,
// u01_open and u11_open (philox.hpp) for its counter, on every ISA.
#pragma once
#include <cstdint>
#include <cstring>

#include "htsgd/philox.hpp"
#include "htsgd/simd.hpp"
#include "htsgd/streams.hpp"
#include "htsgd/vecmath.hpp"

#if HTSGD_X86_DISPATCH
#include <immintrin.h>  // declares the x86 builtins used by mul_lo32
#endif

namespace htsgd {
namespace lanes {

// Unaligned loads and stores of a lane vector (or of one double) from arrays of lanes.
template <class V, class T>
HTSGD_INLINE V load(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class V, class T>
HTSGD_INLINE void store(T* p, const V& v) {
  std::memcpy(p, &v, sizeof v);
}

#if HTSGD_VECTOR_EXT
// (a mod 2^32) * m for 64-bit lanes, m < 2^32: one (V)PMULUDQ on x86 (the generic a * m would be a full
// 64x64 multiply: three PMULUDQ without AVX-512DQ). The builtin is expanded in the ISA of the kernel it is
// inlined into: N = 2 (SSE2, baseline x86-64), 4 (AVX2), 8 (AVX-512F).
template <int N>
HTSGD_INLINE typename Vec<N>::u mul_lo32(typename Vec<N>::u a, typename Vec<N>::u m) {
#if HTSGD_X86_DISPATCH
  using v32 = typename Vec<N>::i32;
  using v64 = typename Vec<N>::ll;
  if constexpr (N == 2) return reinterpret_cast<typename Vec<N>::u>(__builtin_ia32_pmuludq128(reinterpret_cast<v32>(a), reinterpret_cast<v32>(m)));
  if constexpr (N == 4) return reinterpret_cast<typename Vec<N>::u>(__builtin_ia32_pmuludq256(reinterpret_cast<v32>(a), reinterpret_cast<v32>(m)));
  if constexpr (N == 8)
    return reinterpret_cast<typename Vec<N>::u>(
        __builtin_ia32_pmuludq512_mask(reinterpret_cast<v32>(a), reinterpret_cast<v32>(m), v64{}, static_cast<unsigned char>(0xFF)));
#endif
  return (a & 0xFFFFFFFFull) * m;
}

// Philox4x32-10 of the counters {slot << 12 | attempt[l], step bits 0-31, step bits 32-55 | stream << 24,
// particle} (streams.hpp's addressing) for N lanes at once: block number attempt[l] (0: the first) of
// BlockSource(key, stream[l], particle[l], step[l], slot) for every lane. Words are held in 64-bit lanes so
// that the 32x32->64 products are lane products; only the low 32 bits of each returned word are meaningful
// (the multiplies read only those, and the high halves left by the products are for the caller to drop).
// `stream` holds Stream values per lane (a splat when all lanes read the same stream).
template <int N>
struct PhiloxLanes {
  typename Vec<N>::u w0, w1, w2, w3;
};

template <int N>
HTSGD_INLINE PhiloxLanes<N> philox_lanes(Key key, typename Vec<N>::u stream, typename Vec<N>::u particle,
                                         typename Vec<N>::u step, std::uint32_t slot = 0,
                                         typename Vec<N>::u attempt = typename Vec<N>::u{}) {
  using vu = typename Vec<N>::u;
  constexpr std::uint64_t kLo32 = 0xFFFFFFFFull;
  vu c0 = (static_cast<std::uint64_t>(slot) << 12) | attempt, c1 = step & kLo32;
  vu c2 = (step >> 32) | (stream << 24), c3 = particle;
  std::uint64_t k0 = key[0], k1 = key[1];
  const vu m0 = splat_u<N>(detail::kPhiloxM0), m1 = splat_u<N>(detail::kPhiloxM1);
  for (int r = 0; r < 10; ++r) {
    const vu p0 = mul_lo32<N>(c0, m0);
    const vu p1 = mul_lo32<N>(c2, m1);
    c0 = (p1 >> 32) ^ c1 ^ k0;
    c1 = p1;
    c2 = (p0 >> 32) ^ c3 ^ k1;
    c3 = p0;
    k0 = (k0 + detail::kPhiloxW0) & kLo32;
    k1 = (k1 + detail::kPhiloxW1) & kLo32;
  }
  return {c0, c1, c2, c3};
}

// 2^52 u01_open(hi, lo) of two Philox words in lanes (low 32 bits meaningful): (2^52 + bits) - (2^52 - 1/2) =
// bits + 1/2 exactly (for kernels that fold the 2^-52 into their own arithmetic); u01_open_lanes: times 2^-52.
template <int N>
HTSGD_INLINE typename Vec<N>::d u01_scaled_lanes(typename Vec<N>::u hi, typename Vec<N>::u lo) {
  const typename Vec<N>::u bits = ((hi << 32) | (lo & 0xFFFFFFFFull)) >> 12;
  return as_d<N>(bits | 0x4330000000000000ull) - (0x1.0p52 - 0.5);
}

template <int N>
HTSGD_INLINE typename Vec<N>::d u01_open_lanes(typename Vec<N>::u hi, typename Vec<N>::u lo) {
  return u01_scaled_lanes<N>(hi, lo) * 0x1.0p-52;
}

template <int N>
HTSGD_INLINE typename Vec<N>::d u11_open_lanes(typename Vec<N>::u hi, typename Vec<N>::u lo) {
  return 2.0 * u01_open_lanes<N>(hi, lo) - 1.0;
}
#endif

}  // namespace lanes
}  // namespace htsgd
