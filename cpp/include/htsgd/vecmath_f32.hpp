// Branch-free float32 log, expm1 and sincospi for the float32 noise path (law_lanes_f32.hpp), written once
// for a scalar float and once for GCC/Clang vectors of M floats (M = 4: SSE2, 8: AVX2, 16: AVX-512) with
// the same IEEE operations in the same order. Like vecmath.hpp: only correctly rounded add/sub/mul/div,
// exact integer <-> float conversions and bit manipulation, no FMA (the core is compiled with
// -ffp-contract=off), so a lane's result has the bits of the scalar kernel on every ISA and thread count.
//
// Accuracy against float64 references (tests/test_torch_noise_f32.py, dense grids and random points):
//   log_f32(x), x positive normal float:  absolute error < 2^-24 + 2^-24 |log x|, i.e. relative < 1.5e-7
//                                        away from x = 1 and <= 2 ulp near it (fdlibm's e_logf.c scheme:
//                                        log(1+f) = f - hfsq + s (hfsq + R(s^2)), R Taylor to s^8,
//                                        truncation < 2e-9 relative)
//   expm1_f32(t), -17 <= t <= 88.7:      relative error < 2.5e-7 (t = k ln2 + r, |r| <= ln2/2, Taylor
//                                        polynomial to r^7, truncation < 1.5e-8; 2^k applied exactly);
//                                        +inf above 88.73 (the float32 overflow), -1 below -17.
//   sincospi_f32(a), |a| <= 2:           sin(pi a), cos(pi a) with absolute error < 1.2e-7 (2a = n + f
//                                        exactly, Taylor polynomials of sin and cos on |f pi / 2| <= pi/4)
#pragma once
#include <cstdint>
#include <cstring>

#include "htsgd/vecmath.hpp"  // HTSGD_INLINE, HTSGD_VECTOR_EXT

namespace htsgd {
namespace f32 {

HTSGD_INLINE std::uint32_t bits_of(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

HTSGD_INLINE float float_of(std::uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

namespace detail {
// log: ln 2 = kLogLn2Hi + kLogLn2Lo, kLogLn2Hi with 17 significant bits (k * kLogLn2Hi exact for |k| < 128).
constexpr float kLogLn2Hi = 6.9313812256e-01f, kLogLn2Lo = 9.0580006145e-06f;
constexpr std::uint32_t kSqrtHalfBits = 0x3F3504F3u;  // sqrt(1/2)
// R(z) = 2/3 z + 2/5 z^2 + 2/7 z^3 + 2/9 z^4 (2 atanh(s) = 2 s + s R(s^2)), Horner in z = s^2.
constexpr float kR1 = 2.0f / 3.0f, kR2 = 2.0f / 5.0f, kR3 = 2.0f / 7.0f, kR4 = 2.0f / 9.0f;
// exp: ln 2 = kExpLn2Hi + kExpLn2Lo, kExpLn2Hi with 15 significant bits (k * kExpLn2Hi exact, |k| <= 129).
constexpr float kExpLn2Hi = 6.9314575195e-01f, kExpLn2Lo = 1.4286067653e-06f;
constexpr float kInvLn2 = 1.4426950216e+00f;
constexpr float kRound = 0x1.8p23f;  // adding it rounds |x| < 2^22 to the nearest integer
constexpr float kPio2 = 1.5707963268e+00f;
// Taylor coefficients: expm1(r) = r + r^2 (1/2 + r/6 + ... + r^5/5040); sin, cos to r^9, r^8 (|r| <= pi/4:
// truncation < 3e-9 and 2.5e-8).
constexpr float kE2 = 1.0f / 2.0f, kE3 = 1.0f / 6.0f, kE4 = 1.0f / 24.0f, kE5 = 1.0f / 120.0f,
                kE6 = 1.0f / 720.0f, kE7 = 1.0f / 5040.0f;
constexpr float kS3 = -1.0f / 6.0f, kS5 = 1.0f / 120.0f, kS7 = -1.0f / 5040.0f, kS9 = 1.0f / 362880.0f;
constexpr float kC2 = -1.0f / 2.0f, kC4 = 1.0f / 24.0f, kC6 = -1.0f / 720.0f, kC8 = 1.0f / 40320.0f;

template <class T>
HTSGD_INLINE T expm1_poly(T r) {  // expm1(r), |r| <= ln2/2
  return r + (r * r) * (kE2 + r * (kE3 + r * (kE4 + r * (kE5 + r * (kE6 + r * kE7)))));
}
template <class T>
HTSGD_INLINE T sin_poly(T r) {  // sin(r), |r| <= pi/4
  const T z = r * r;
  return r + (r * z) * (kS3 + z * (kS5 + z * (kS7 + z * kS9)));
}
template <class T>
HTSGD_INLINE T cos_poly(T r) {  // cos(r), |r| <= pi/4
  const T z = r * r;
  return 1.0f + z * (kC2 + z * (kC4 + z * (kC6 + z * kC8)));
}
// The polynomial parts of the scalar kernels (the vector kernels spell out the same operations).
}  // namespace detail

// Natural log of a positive normal float (the samplers pass uniforms in (0, 1]): x = m 2^k with m in
// [sqrt(1/2), sqrt(2)), log x = k ln2 + log(1 + f), f = m - 1 exact.
HTSGD_INLINE float log_f32(float x) {
  using namespace detail;
  const std::uint32_t ix = bits_of(x);
  const std::uint32_t ek = (ix + (0x3F800000u - kSqrtHalfBits)) >> 23;  // k + 127
  const float m = float_of(ix - ((ek - 127u) << 23));
  const float dk = static_cast<float>(static_cast<std::int32_t>(ek) - 127);
  const float f = m - 1.0f;
  const float hfsq = 0.5f * f * f;
  const float s = f / (2.0f + f);
  const float z = s * s;
  const float r = z * (kR1 + z * (kR2 + z * (kR3 + z * kR4)));
  return dk * kLogLn2Hi - ((hfsq - (s * (hfsq + r) + dk * kLogLn2Lo)) - f);
}

// exp(t) - 1: t = k ln2 + r, expm1(t) = 2 (2^(k-1) expm1(r) + (2^(k-1) - 1/2)) (exact scaling, as
// vecmath.hpp's expm1_kernel). t is clamped to [-17, 89] first (NaN passes through).
HTSGD_INLINE float expm1_f32(float t) {
  using namespace detail;
  t = t < -17.0f ? -17.0f : t;
  t = t > 89.0f ? 89.0f : t;
  const float shifted = t * kInvLn2 + kRound;
  const float kd = shifted - kRound;
  const std::uint32_t km1 = bits_of(shifted) - bits_of(kRound) - 1u;  // k - 1 (mod 2^32), in [-26, 128]
  const float r = (t - kd * kExpLn2Hi) - kd * kExpLn2Lo;
  const float p = expm1_poly(r);
  const float half_scale = float_of((km1 + 127u) << 23);  // 2^(k-1); k = 129 (t = 89) gives +inf
  return 2.0f * (half_scale * p + (half_scale - 0.5f));
}

// sin(pi a) and cos(pi a), |a| <= 2: 2a = n + f exactly, r = f pi/2, quadrant n mod 4.
HTSGD_INLINE void sincospi_f32(float a, float& sin_out, float& cos_out) {
  using namespace detail;
  const float t = 2.0f * a;
  const float shifted = t + kRound;
  const std::uint32_t q = bits_of(shifted);
  const float r = (t - (shifted - kRound)) * kPio2;
  const float sr = sin_poly(r), cr = cos_poly(r);
  const float s = (q & 1u) ? cr : sr, c = (q & 1u) ? sr : cr;
  sin_out = float_of(bits_of(s) ^ ((q & 2u) << 30));
  cos_out = float_of(bits_of(c) ^ (((q + 1u) & 2u) << 30));
}

#if HTSGD_VECTOR_EXT
// M floats per vector: 4 (SSE2), 8 (AVX2), 16 (AVX-512); M must be the native width of the caller's ISA.
template <int M>
struct VecF {
  typedef float f __attribute__((vector_size(4 * M)));
  typedef std::uint32_t u __attribute__((vector_size(4 * M)));
  typedef std::int32_t i __attribute__((vector_size(4 * M)));
};

template <int M>
HTSGD_INLINE typename VecF<M>::u as_u(typename VecF<M>::f x) {
  return reinterpret_cast<typename VecF<M>::u>(x);
}
template <int M>
HTSGD_INLINE typename VecF<M>::f as_f(typename VecF<M>::u x) {
  return reinterpret_cast<typename VecF<M>::f>(x);
}
template <int M>
HTSGD_INLINE typename VecF<M>::f splat_f(float x) {
  return typename VecF<M>::f{} + x;
}

template <int M>
HTSGD_INLINE typename VecF<M>::f log_f32_v(typename VecF<M>::f x) {
  using namespace detail;
  using vf = typename VecF<M>::f;
  using vu = typename VecF<M>::u;
  using vi = typename VecF<M>::i;
  const vu ix = as_u<M>(x);
  const vu ek = (ix + (0x3F800000u - kSqrtHalfBits)) >> 23;
  const vf m = as_f<M>(ix - ((ek - 127u) << 23));
  const vf dk = __builtin_convertvector(reinterpret_cast<vi>(ek) - 127, vf);
  const vf f = m - 1.0f;
  const vf hfsq = 0.5f * f * f;
  const vf s = f / (2.0f + f);
  const vf z = s * s;
  const vf r = z * (kR1 + z * (kR2 + z * (kR3 + z * kR4)));
  return dk * kLogLn2Hi - ((hfsq - (s * (hfsq + r) + dk * kLogLn2Lo)) - f);
}

template <int M>
HTSGD_INLINE typename VecF<M>::f expm1_f32_v(typename VecF<M>::f t) {
  using namespace detail;
  using vf = typename VecF<M>::f;
  using vu = typename VecF<M>::u;
  t = t < -17.0f ? splat_f<M>(-17.0f) : t;
  t = t > 89.0f ? splat_f<M>(89.0f) : t;
  const vf shifted = t * kInvLn2 + kRound;
  const vf kd = shifted - kRound;
  const vu km1 = as_u<M>(shifted) - bits_of(kRound) - 1u;
  const vf r = (t - kd * kExpLn2Hi) - kd * kExpLn2Lo;
  const vf p = r + (r * r) * (kE2 + r * (kE3 + r * (kE4 + r * (kE5 + r * (kE6 + r * kE7)))));
  const vf half_scale = as_f<M>((km1 + 127u) << 23);
  return 2.0f * (half_scale * p + (half_scale - 0.5f));
}

template <int M>
HTSGD_INLINE void sincospi_f32_v(typename VecF<M>::f a, typename VecF<M>::f& sin_out, typename VecF<M>::f& cos_out) {
  using namespace detail;
  using vf = typename VecF<M>::f;
  using vu = typename VecF<M>::u;
  using vi = typename VecF<M>::i;
  const vf t = 2.0f * a;
  const vf shifted = t + kRound;
  const vu q = as_u<M>(shifted);
  const vf r = (t - (shifted - kRound)) * kPio2;
  const vf z = r * r;
  const vf sr = r + (r * z) * (kS3 + z * (kS5 + z * (kS7 + z * kS9)));
  const vf cr = 1.0f + z * (kC2 + z * (kC4 + z * (kC6 + z * kC8)));
  const vi odd = reinterpret_cast<vi>(q & 1u);
  const vf s = odd != 0 ? cr : sr, c = odd != 0 ? sr : cr;
  sin_out = as_f<M>(as_u<M>(s) ^ ((q & 2u) << 30));
  cos_out = as_f<M>(as_u<M>(c) ^ (((q + 1u) & 2u) << 30));
}
#endif

}  // namespace f32
}  // namespace htsgd
