// Branch-free log and expm1 written with plain double/uint64 arithmetic, so that a loop over SIMD lanes
// vectorises (libm's scalar calls cap a loop near 1.5e8 variates/s) and the scalar and vector paths give
// the same bits: every operation is an IEEE add/sub/mul/div/fused multiply-add or a bit manipulation, and
// the core is compiled with -ffp-contract=off (no implicit FMA contraction: a fused multiply-add is written
// out, detail::fmadd, and rounds once on every ISA), so the result does not depend on the ISA (SSE2, AVX2,
// AVX-512), on the lane a value sits in, or on the thread count.
//
// Accuracy (measured against numpy / mpmath on dense grids by tests/test_vecmath.py):
//   log_kernel(x), x positive normal:          max relative error < 2.5e-16 (about 1 ulp; fdlibm's scheme)
//   expm1_kernel(t), -40 <= t <= 709.78:       max relative error < 4e-16 (argument reduction by ln 2,
//                                              Taylor polynomial of degree 13 on |r| <= ln2/2, Estrin)
//   exp_kernel(t), -745 <= t <= 709.78:        max relative error < 4e-16 for normal results (the same
//                                              reduction and polynomial, 2^k applied in two exact halves)
//   sincospi_kernel(a), |a| <= 4:              sin(pi a), cos(pi a); max absolute error < 2.5e-16 and
//                                              relative < 4e-16 away from their zeros (2a = n + f exactly,
//                                              fdlibm's sin/cos polynomials on f pi/2)
//   log2_kernel, exp2m1_kernel (the Pareto transform, table-driven, below): < 4e-16 on (0, 1) and < 3.5e-16
// All are far inside a relative budget of 1e-12. Inputs outside those ranges: log_kernel is only
// called on uniforms in (0, 1) and other positive normals; expm1_kernel returns -1 below -40 (exact to double
// precision), +inf above 709.78, and NaN for NaN; exp_kernel returns 0 below -746 and +inf above 709.78.
#pragma once
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HTSGD_X86_SQRT_BUILTINS 1
#include <immintrin.h>  // declares the x86 builtins used by sqrt_v
#else
#define HTSGD_X86_SQRT_BUILTINS 0
#endif

#if defined(__GNUC__)
#define HTSGD_INLINE inline __attribute__((always_inline))
#define HTSGD_INLINE_LAMBDA __attribute__((always_inline))  // after a lambda's parameters: inlined into the
                                                            // kernel, so compiled for the kernel's ISA
#else
#define HTSGD_INLINE inline
#define HTSGD_INLINE_LAMBDA
#endif

namespace htsgd {

HTSGD_INLINE std::uint64_t bits_of(double x) {
  std::uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

HTSGD_INLINE double double_of(std::uint64_t u) {
  double x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// Exact conversion of an integer 0 <= j < 2^52 to double without a (non-vectorisable before AVX-512)
// uint64 -> double instruction: 2^52 + j has j as its mantissa.
HTSGD_INLINE double small_u64_to_double(std::uint64_t j) {
  return double_of(j | 0x4330000000000000ull) - 0x1.0p52;
}

namespace detail {
// fdlibm e_log.c: log(1+f) = f - f^2/2 + s*(f^2/2 + R(s^2)), s = f / (2 + f), R a minimax polynomial.
constexpr double kLg1 = 6.666666666666735130e-01, kLg2 = 3.999999999940941908e-01,
                 kLg3 = 2.857142874366239149e-01, kLg4 = 2.222219843214978396e-01,
                 kLg5 = 1.818357216161805012e-01, kLg6 = 1.531383769920937332e-01,
                 kLg7 = 1.479819860511658591e-01;
constexpr double kLn2Hi = 6.93147180369123816490e-01;  // 32 significant bits: k * kLn2Hi is exact
constexpr double kLn2Lo = 1.90821492927058770002e-10;
constexpr double kInvLn2 = 1.44269504088896338700e+00;
constexpr std::uint64_t kSqrtHalfBits = 0x3FE6A09E667F3BCDull;  // sqrt(1/2)
// fdlibm k_sin.c / k_cos.c: minimax polynomials for sin and cos on |r| <= pi/4.
constexpr double kS1 = -1.66666666666666324348e-01, kS2 = 8.33333333332248946124e-03,
                 kS3 = -1.98412698298579493134e-04, kS4 = 2.75573137070700676789e-06,
                 kS5 = -2.50507602534068634195e-08, kS6 = 1.58969099521155010221e-10;
constexpr double kC1 = 4.16666666666666019037e-02, kC2 = -1.38888888888741095749e-03,
                 kC3 = 2.48015872894767294178e-05, kC4 = -2.75573143513906633035e-07,
                 kC5 = 2.08757232129817482790e-09, kC6 = -1.13596475577881948265e-11;
constexpr double kPio2 = 1.57079632679489655800e+00;

// expm1(r) for |r| <= ln2/2: r + r^2 q(r), q(r) = sum_{k=2..13} r^(k-2) / k! by Estrin's scheme (short
// dependency chains for SIMD lanes). T is double or a vector of doubles: the same operations either way.
template <class T>
HTSGD_INLINE T expm1_poly(T r) {
  const T r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
  const T a0 = 0.5 + r * (1.0 / 6.0), a1 = 1.0 / 24.0 + r * (1.0 / 120.0);
  const T a2 = 1.0 / 720.0 + r * (1.0 / 5040.0), a3 = 1.0 / 40320.0 + r * (1.0 / 362880.0);
  const T a4 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0), a5 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0);
  const T q = (a0 + r2 * a1) + r4 * (a2 + r2 * a3) + r8 * (a4 + r2 * a5);
  return r + r2 * q;
}
}  // namespace detail

// Natural log of a positive normal double (no special cases: the samplers only pass uniforms in (0,1)).
HTSGD_INLINE double log_kernel(double x) {
  using namespace detail;
  const std::uint64_t ix = bits_of(x);
  // x = z * 2^k with z in [sqrt(1/2), sqrt(2)); the bias keeps the shift logical (no 64-bit sra in AVX2).
  const std::uint64_t biased = ix + (0x3FF0000000000000ull - kSqrtHalfBits);
  const std::uint64_t ek = biased >> 52;  // k + 1023
  const double z = double_of(ix - ((ek - 1023u) << 52));
  const double dk = double_of(0x4330000000000000ull | ek) - (0x1.0p52 + 1023.0);
  const double f = z - 1.0;
  const double hfsq = 0.5 * f * f;
  const double s = f / (2.0 + f);
  const double s2 = s * s, s4 = s2 * s2;
  const double t1 = s4 * (kLg2 + s4 * (kLg4 + s4 * kLg6));
  const double t2 = s2 * (kLg1 + s4 * (kLg3 + s4 * (kLg5 + s4 * kLg7)));
  const double r = t2 + t1;
  return dk * kLn2Hi - ((hfsq - (s * (hfsq + r) + dk * kLn2Lo)) - f);
}

// exp(t) - 1 with full relative accuracy near 0. t = k ln2 + r, |r| <= ln2/2; expm1(r) by its Taylor
// polynomial (truncation error < 1.2e-17 relative); expm1(t) = 2 * (2^(k-1) * expm1(r) + (2^(k-1) - 1/2)), exact scaling, one rounding.
HTSGD_INLINE double expm1_kernel(double t) {
  using namespace detail;
  t = t < -40.0 ? -40.0 : t;  // comparisons are false for NaN: NaN passes through
  t = t > 710.0 ? 710.0 : t;
  const double shifted = t * kInvLn2 + 0x1.8p52;  // round to nearest integer, |k| <= 1025
  const double kd = shifted - 0x1.8p52;
  const std::uint64_t km1 = bits_of(shifted) - 0x4338000000000000ull - 1u;  // k - 1 (mod 2^64)
  const double r = (t - kd * kLn2Hi) - kd * kLn2Lo;
  const double p = detail::expm1_poly(r);
  const double half_scale = double_of((km1 + 1023u) << 52);  // 2^(k-1), k-1 in [-59, 1023]
  return 2.0 * (half_scale * p + (half_scale - 0.5));
}

// exp(t) = 2^k (1 + expm1(r)), expm1_kernel's reduction and polynomial. 2^k is applied as 2^k1 * 2^k2,
// k1 = floor(k / 2): both factors are normal for |k| <= 1076, so a subnormal result is rounded once.
HTSGD_INLINE double exp_kernel(double t) {
  using namespace detail;
  t = t < -746.0 ? -746.0 : t;  // NaN passes through
  t = t > 710.0 ? 710.0 : t;
  const double shifted = t * kInvLn2 + 0x1.8p52;
  const double kd = shifted - 0x1.8p52;
  const std::uint64_t kb = bits_of(shifted) - 0x4338000000000000ull + 2048u;  // k + 2048 > 0
  const std::uint64_t k1b = kb >> 1;                                          // floor(k / 2) + 1024
  const std::uint64_t k2b = kb - k1b;                                         // k - floor(k / 2) + 1024
  const double r = (t - kd * kLn2Hi) - kd * kLn2Lo;
  const double p = detail::expm1_poly(r);
  return ((1.0 + p) * double_of((k1b - 1u) << 52)) * double_of((k2b - 1u) << 52);  // biases: 1024 - 1023
}

namespace detail {
// fdlibm's kernels with no tail (y = 0): sin and cos of |r| <= pi/4.
HTSGD_INLINE double sin_poly(double r) {
  const double z = r * r, v = z * r;
  const double p = kS2 + z * (kS3 + z * (kS4 + z * (kS5 + z * kS6)));
  return r + v * (kS1 + z * p);
}
HTSGD_INLINE double cos_poly(double r) {
  const double z = r * r;
  const double p = z * (kC1 + z * (kC2 + z * (kC3 + z * (kC4 + z * (kC5 + z * kC6)))));
  // |r| >= 0.3: 1 - z/2 as (1 - qx) - (z/2 - qx), qx ~ r^2/4 with a short mantissa, so that 1 - qx is exact
  const std::uint64_t ar = bits_of(r) & 0x7FFFFFFFFFFFFFFFull;
  const double qx = ar >= 0x3FE9000100000000ull ? 0.28125 : double_of((ar - 0x0020000000000000ull) & 0xFFFFFFFF00000000ull);
  const double small = 1.0 - (0.5 * z - z * p);
  const double large = (1.0 - qx) - ((0.5 * z - qx) - z * p);
  return ar < 0x3FD3333300000000ull ? small : large;
}
}  // namespace detail

// sin(pi a) and cos(pi a), |a| <= 4: 2a = n + f exactly (n the nearest integer), r = f pi/2 (one rounding),
// then the quadrant n mod 4 swaps and negates fdlibm's sin/cos of r.
HTSGD_INLINE void sincospi_kernel(double a, double& sin_out, double& cos_out) {
  using namespace detail;
  const double t = 2.0 * a;
  const double shifted = t + 0x1.8p52;
  const std::uint64_t q = bits_of(shifted);  // n mod 4 in its low bits
  const double r = (t - (shifted - 0x1.8p52)) * kPio2;
  const double sr = sin_poly(r), cr = cos_poly(r);
  const double s = (q & 1u) ? cr : sr, c = (q & 1u) ? sr : cr;
  sin_out = double_of(bits_of(s) ^ ((q & 2u) << 62));
  cos_out = double_of(bits_of(c) ^ (((q + 1u) & 2u) << 62));
}

// ------------------------------------------------------------------------------ table-driven log2, exp2m1
// The Pareto transform U^(-1/alpha) - 1 = exp2m1(-log2(U) / alpha) on 16-entry tables (one VPERMI2PD per
// lookup on AVX-512, a plain indexed load elsewhere: the same value) and short polynomials evaluated with
// fused multiply-adds (detail::fmadd: the FMA instruction on AVX2 and AVX-512, an exact emulation from plain
// operations on SSE2 and in the scalar path): fewer operations
// of log_kernel + expm1_kernel, and no division. Coefficients: near-minimax (Chebyshev) fits in
// 200-bit arithmetic, then rounded to double.
//   log2_kernel(x), x positive normal: x = 2^k m, m in [0.698, 1.396) split in 16 intervals of centre c
//     (c = 1 on the interval around 1, so log2 keeps full relative accuracy near x = 1); r = (m - c) (1/c),
//     |r| < 0.0298; log2(m) = log2(c) + r q(r), q of degree 8 (fit error < 3e-17). The table holds
//     -log2(1/c) corrected for the rounding of 1/c to first order. Max relative error < 4e-16 on (0, 1) (the
//     uniforms), < 7e-16 above 1 (log2(c) and r q(r) cancel partly on (1.02, 1.1)) (tests/test_noise_kernels.py).
//   exp2m1_kernel(y) = 2^y - 1, 0 <= y: y = k + j/16 + r, |r| <= 1/32 (exact reduction), 2^r - 1 = r p(r), p
//     of degree 6 (fit error < 1e-18); 2^y - 1 = 2^k ((2^(j/16) - 1) + 2^(j/16) r p(r)) + (2^k - 1), both
//     table entries rounded once, so small results keep full relative accuracy. Max relative error < 3.5e-16
//     (tests/test_noise_kernels.py); +inf for y > 1023.96875 - 2^-30 (results above 1.774e308), NaN for NaN.
namespace detail {
// a * b + c rounded once, from correctly rounded double operations only: Dekker's exact product, Knuth's
// TwoSum and a sum rounded to odd (Boldo & Melquiond, "Emulation of FMA and correctly rounded sums: proved
// algorithms using rounding to odd", IEEE Trans. Computers 57(4), 2008, algorithm 5.4). Exact when |a|, |b|
// < 2^995 and the error terms stay normal (|a b| > 2^-960): the kernels' operands are far inside. T: double
// (U: uint64) or a vector of doubles (U: the vector of uint64). About 25 operations, no branch, no libm call
// (glibc's software fma, used where the CPU has no FMA instruction, costs ~100 ns).
template <class T, class U>
HTSGD_INLINE T fma_emulated(T a, T b, T c) {
  const T ca = a * 134217729.0, cb = b * 134217729.0;  // Veltkamp's split: 2^27 + 1
  const T ah = ca - (ca - a), al = a - ah, bh = cb - (cb - b), bl = b - bh;
  const T uh = a * b;
  const T ul = (((ah * bh - uh) + ah * bl) + al * bh) + al * bl;  // uh + ul = a b exactly
  const T th = c + uh, tz = th - c;
  const T tl = (c - (th - tz)) + (uh - tz);  // th + tl = c + uh exactly
  const T s = tl + ul, sz = s - tl;
  const T e = (tl - (s - sz)) + (ul - sz);  // s + e = tl + ul exactly
  // tl + ul rounded to odd: if inexact (e != 0) and s's last bit is even, the neighbour of s on e's side
  U sb, eb;
  std::memcpy(&sb, &s, sizeof sb);
  std::memcpy(&eb, &e, sizeof eb);
  const U toward_zero = (eb ^ sb) >> 63;  // e and s of opposite signs
  const U mag = eb << 1;
  const U nonzero = (mag | (0 - mag)) >> 63;
  const U need = ~sb & nonzero & 1u;
  const U vb = sb + need - ((need & toward_zero) << 1);  // +1 ulp, or -1 toward zero
  T v;
  std::memcpy(&v, &vb, sizeof v);
  return th + v;
}

// a * b + c rounded once (IEEE 754 fusedMultiplyAdd), so every ISA gives the same bits. T: double or a
// vector of doubles. AVX2 and AVX-512: the FMA instruction (the kernels are inlined into functions compiled
// with those targets, simd.hpp). SSE2 and the scalar path: fma_emulated (the instruction itself in a build
// for a CPU with FMA, e.g. -march=native).
template <class T>
HTSGD_INLINE T fmadd(T a, T b, T c) {
  if constexpr (sizeof(T) == sizeof(double)) {
#if defined(__FMA__)
    return __builtin_fma(a, b, c);
#else
    return fma_emulated<T, std::uint64_t>(a, b, c);
#endif
  } else {
#if HTSGD_X86_SQRT_BUILTINS
    if constexpr (sizeof(T) == 32) return __builtin_ia32_vfmaddpd256(a, b, c);
    if constexpr (sizeof(T) == 64) return __builtin_ia32_vfmaddpd512_mask(a, b, c, static_cast<unsigned char>(0xFF), 4);
#endif
#if defined(__FMA__)
    T d;
    for (unsigned l = 0; l < sizeof(T) / sizeof(double); ++l) d[l] = __builtin_fma(a[l], b[l], c[l]);
    return d;
#else
    typedef std::uint64_t U __attribute__((vector_size(sizeof(T))));
    return fma_emulated<T, U>(a, b, c);
#endif
  }
}
// a * b + c where the caller knows a * b to be exact: the same bits fused or not, so fused only where that
// is one instruction (AVX2, AVX-512), and two plain operations on SSE2 and in the scalar path.
template <class T>
HTSGD_INLINE T fmadd_exact(T a, T b, T c) {
  if constexpr (sizeof(T) == 32 || sizeof(T) == 64) return fmadd(a, b, c);
  else return a * b + c;
}
// x broadcast to T (double or a vector of doubles)
template <class T>
HTSGD_INLINE T bc(double x) {
  return T{} + x;
}

constexpr std::uint64_t kLog2Off = 0x3FE6555550000000ull;  // bits of the lowest m, 0.69792
alignas(64) constexpr double kLog2C[16] = {0x1.6d6p-1, 0x1.7d6p-1, 0x1.8d6p-1, 0x1.9d6p-1, 0x1.ad6p-1, 0x1.bd6p-1,
                                           0x1.cd6p-1, 0x1.dd6p-1, 0x1.ed6p-1, 0x1p+0, 0x1.0d5p+0, 0x1.1d5p+0,
                                           0x1.2d5p+0, 0x1.3d5p+0, 0x1.4d5p+0, 0x1.5d5p+0};
alignas(64) constexpr double kLog2InvC[16] = {
    0x1.66bb995ad25ecp+0, 0x1.57aec731ecb39p+0, 0x1.49d8380c3d861p+0, 0x1.3d13e50f8f49fp+0,
    0x1.3143261550905p+0, 0x1.264bbabcad4d2p+0, 0x1.1c1706ddce7a8p+0, 0x1.129176504e4b8p+0,
    0x1.09a9ff178b40dp+0, 0x1.0000000000000p+0, 0x1.e6b0ecb10b1c2p-1, 0x1.cb65e531bdf07p-1,
    0x1.b300e7187ac50p-1, 0x1.9d11b2da21c8ap-1, 0x1.893d967d49af4p-1, 0x1.773a7df632a8dp-1};
alignas(64) constexpr double kLog2LogC[16] = {
    -0x1.f272c1a80bbc9p-2, -0x1.b321c6d66eeddp-2, -0x1.766b0a2688c66p-2, -0x1.3c19ee656058cp-2,
    -0x1.03ffd57905e6dp-2, -0x1.9be67f3aaa9b5p-3, -0x1.339e24a17949bp-3, -0x1.9dc7fb45cb9c9p-4,
    -0x1.b5f00f5e62e3dp-5, 0x0.0p+0, 0x1.2b921ac92f947p-4, 0x1.404e31e2c43dcp-3,
    0x1.e184df3899535p-3, 0x1.3d31de44d1ca6p-2, 0x1.85de82041b712p-2, 0x1.cb22aca274176p-2};
constexpr double kLog2Q0 = 0x1.71547652b82fep+0,
                 kLog2Q1 = -0x1.71547652b82e2p-1,
                 kLog2Q2 = 0x1.ec709dc3a03d3p-2,
                 kLog2Q3 = -0x1.7154765388d03p-2,
                 kLog2Q4 = 0x1.2776c50faac63p-2,
                 kLog2Q5 = -0x1.ec7083f5387d3p-3,
                 kLog2Q6 = 0x1.a6174be3a54fap-3,
                 kLog2Q7 = -0x1.71ebc34c6ca42p-3,
                 kLog2Q8 = 0x1.48d318ebcd087p-3;
alignas(64) constexpr double kExp2T[16] = {
    0x1.0000000000000p+0, 0x1.0b5586cf9890fp+0, 0x1.172b83c7d517bp+0, 0x1.2387a6e756238p+0,
    0x1.306fe0a31b715p+0, 0x1.3dea64c123422p+0, 0x1.4bfdad5362a27p+0, 0x1.5ab07dd485429p+0,
    0x1.6a09e667f3bcdp+0, 0x1.7a11473eb0187p+0, 0x1.8ace5422aa0dbp+0, 0x1.9c49182a3f090p+0,
    0x1.ae89f995ad3adp+0, 0x1.c199bdd85529cp+0, 0x1.d5818dcfba487p+0, 0x1.ea4afa2a490dap+0};
alignas(64) constexpr double kExp2Tm1[16] = {
    0x0.0p+0, 0x1.6ab0d9f3121ecp-5, 0x1.72b83c7d517aep-4, 0x1.1c3d373ab11c3p-3,
    0x1.837f0518db8a9p-3, 0x1.ef5326091a112p-3, 0x1.2ff6b54d8a89cp-2, 0x1.6ac1f752150a5p-2,
    0x1.a827999fcef32p-2, 0x1.e8451cfac061bp-2, 0x1.159ca845541b7p-1, 0x1.389230547e120p-1,
    0x1.5d13f32b5a75bp-1, 0x1.83337bb0aa538p-1, 0x1.ab031b9f7490ep-1, 0x1.d495f454921b3p-1};
constexpr double kExp2P0 = 0x1.62e42fefa39efp-1, kExp2P1 = 0x1.ebfbdff82c594p-3, kExp2P2 = 0x1.c6b08d704a0c1p-5,
                 kExp2P3 = 0x1.3b2ab6fb0913ep-7, kExp2P4 = 0x1.5d87fe784670bp-10, kExp2P5 = 0x1.430a4a00117cdp-13,
                 kExp2P6 = 0x1.ffcd7b9d97376p-17;
constexpr double kExp2Max = 1023.96875 - 0x1p-30;  // the largest y whose 2^k is normal after rounding 16 y

// q(r) = log2(1 + r) / r and p(r) = (2^r - 1) / r by Estrin's scheme. T: double or a vector of doubles.
template <class T>
HTSGD_INLINE T log2_q(T r) {
  const T r2 = r * r, r4 = r2 * r2;
  const T a0 = fmadd(r, bc<T>(kLog2Q1), bc<T>(kLog2Q0)), a1 = fmadd(r, bc<T>(kLog2Q3), bc<T>(kLog2Q2));
  const T a2 = fmadd(r, bc<T>(kLog2Q5), bc<T>(kLog2Q4)), a3 = fmadd(r, bc<T>(kLog2Q7), bc<T>(kLog2Q6));
  return fmadd(r4, fmadd(r4, bc<T>(kLog2Q8), fmadd(r2, a3, a2)), fmadd(r2, a1, a0));
}
template <class T>
HTSGD_INLINE T exp2_p(T r) {
  const T r2 = r * r, r4 = r2 * r2;
  const T b0 = fmadd(r, bc<T>(kExp2P1), bc<T>(kExp2P0)), b1 = fmadd(r, bc<T>(kExp2P3), bc<T>(kExp2P2));
  const T b2 = fmadd(r, bc<T>(kExp2P5), bc<T>(kExp2P4));
  return fmadd(r4, fmadd(r2, bc<T>(kExp2P6), b2), fmadd(r2, b1, b0));
}
}  // namespace detail

// log2(x * 2^-e): the scaling folded into the exponent (exact), so log2_kernel_scaled(v, 52) has the bits of
// log2_kernel(v * 2^-52) (for the uniforms: v = j + 1/2 without the multiply).
HTSGD_INLINE double log2_kernel_scaled(double x, double e) {
  using namespace detail;
  const std::uint64_t ix = bits_of(x);
  const std::uint64_t biased = ix + (0x3FF0000000000000ull - kLog2Off);  // interval index in bits 48-51
  const std::uint64_t ek = biased >> 52;                                 // k + 1023
  const double m = double_of((biased & 0x000FFFFFFFFFFFFFull) + kLog2Off);  // x 2^-k
  const unsigned i = static_cast<unsigned>(biased >> 48) & 15u;
  const double r = (m - kLog2C[i]) * kLog2InvC[i];  // m - c exact (Sterbenz)
  const double dk = double_of(0x4330000000000000ull | ek) - (0x1.0p52 + 1023.0 + e);  // exact for 0 <= e < 2^20
  return fmadd(r, log2_q(r), dk + kLog2LogC[i]);
}
HTSGD_INLINE double log2_kernel(double x) { return log2_kernel_scaled(x, 0.0); }

HTSGD_INLINE double exp2m1_kernel(double y) {
  using namespace detail;
  const double yc = y > kExp2Max ? kExp2Max : y;  // NaN passes through
  const double shifted = fmadd_exact(yc, 16.0, 0x1.8p52);
  const double kd = shifted - 0x1.8p52;
  const double r = fmadd_exact(kd, -0.0625, yc);  // exact
  const std::uint64_t n = bits_of(shifted) - 0x4338000000000000ull;  // 16 k + j
  const unsigned j = static_cast<unsigned>(n) & 15u;
  const double s = double_of(((n >> 4) + 1023u) << 52);  // 2^k
  const double e = fmadd_exact(s, fmadd(kExp2T[j], r * exp2_p(r), kExp2Tm1[j]), s - 1.0);  // s = 2^k, k >= 0
  return y > kExp2Max ? __builtin_inf() : e;
}

// ------------------------------------------------------------------------------ SIMD vector versions
// The same kernels on GCC/Clang generic vectors of N doubles. N must be the native width of the function
// they are inlined into (2: SSE2, 4: AVX2, 8: AVX-512): wider generic vectors are split by the compiler,
// and their comparisons/selects fall back to scalar code. Each lane performs exactly the operations of
// the scalar version, in the same order, so a lane's result has the same bits.
#if defined(__GNUC__)
#define HTSGD_VECTOR_EXT 1
template <int N>
struct Vec {
  typedef double d __attribute__((vector_size(8 * N)));
  typedef std::uint64_t u __attribute__((vector_size(8 * N)));
  typedef std::int64_t i __attribute__((vector_size(8 * N)));
  typedef int i32 __attribute__((vector_size(8 * N)));       // the same bytes as 2N 32-bit words
  typedef long long ll __attribute__((vector_size(8 * N)));  // the type of the x86 builtins
};

template <int N>
HTSGD_INLINE typename Vec<N>::d splat(double x) {
  return typename Vec<N>::d{} + x;
}
template <int N>
HTSGD_INLINE typename Vec<N>::u splat_u(std::uint64_t x) {
  return typename Vec<N>::u{} + x;
}
template <int N>
HTSGD_INLINE typename Vec<N>::u as_u(typename Vec<N>::d x) {
  return reinterpret_cast<typename Vec<N>::u>(x);
}
template <int N>
HTSGD_INLINE typename Vec<N>::d as_d(typename Vec<N>::u x) {
  return reinterpret_cast<typename Vec<N>::d>(x);
}

template <int N>
HTSGD_INLINE typename Vec<N>::d log_kernel_v(typename Vec<N>::d x) {
  using namespace detail;
  using vd = typename Vec<N>::d;
  using vu = typename Vec<N>::u;
  const vu ix = as_u<N>(x);
  const vu biased = ix + (0x3FF0000000000000ull - kSqrtHalfBits);
  const vu ek = biased >> 52;
  const vd z = as_d<N>(ix - ((ek - 1023u) << 52));
  const vd dk = as_d<N>(ek | 0x4330000000000000ull) - (0x1.0p52 + 1023.0);
  const vd f = z - 1.0;
  const vd hfsq = 0.5 * f * f;
  const vd s = f / (2.0 + f);
  const vd s2 = s * s, s4 = s2 * s2;
  const vd t1 = s4 * (kLg2 + s4 * (kLg4 + s4 * kLg6));
  const vd t2 = s2 * (kLg1 + s4 * (kLg3 + s4 * (kLg5 + s4 * kLg7)));
  const vd r = t2 + t1;
  return dk * kLn2Hi - ((hfsq - (s * (hfsq + r) + dk * kLn2Lo)) - f);
}

// clamp = false: the caller guarantees -40 <= t <= 710 or NaN (same result, two selects fewer).
template <int N, bool clamp = true>
HTSGD_INLINE typename Vec<N>::d expm1_kernel_v(typename Vec<N>::d t) {
  using namespace detail;
  using vd = typename Vec<N>::d;
  using vu = typename Vec<N>::u;
  if (clamp) {
    t = t < -40.0 ? splat<N>(-40.0) : t;  // NaN compares false: passes through
    t = t > 710.0 ? splat<N>(710.0) : t;
  }
  const vd shifted = t * kInvLn2 + 0x1.8p52;
  const vd kd = shifted - 0x1.8p52;
  const vu km1 = as_u<N>(shifted) - 0x4338000000000000ull - 1u;
  const vd r = (t - kd * kLn2Hi) - kd * kLn2Lo;
  const vd p = detail::expm1_poly(r);
  const vd half_scale = as_d<N>((km1 + 1023u) << 52);
  return 2.0 * (half_scale * p + (half_scale - 0.5));
}

template <int N>
HTSGD_INLINE typename Vec<N>::d exp_kernel_v(typename Vec<N>::d t) {
  using namespace detail;
  using vd = typename Vec<N>::d;
  using vu = typename Vec<N>::u;
  t = t < -746.0 ? splat<N>(-746.0) : t;
  t = t > 710.0 ? splat<N>(710.0) : t;
  const vd shifted = t * kInvLn2 + 0x1.8p52;
  const vd kd = shifted - 0x1.8p52;
  const vu kb = as_u<N>(shifted) - 0x4338000000000000ull + 2048u;
  const vu k1b = kb >> 1;
  const vu k2b = kb - k1b;
  const vd r = (t - kd * kLn2Hi) - kd * kLn2Lo;
  const vd p = detail::expm1_poly(r);
  return ((1.0 + p) * as_d<N>((k1b - 1u) << 52)) * as_d<N>((k2b - 1u) << 52);
}

template <int N>
HTSGD_INLINE void sincospi_kernel_v(typename Vec<N>::d a, typename Vec<N>::d& sin_out, typename Vec<N>::d& cos_out) {
  using namespace detail;
  using vd = typename Vec<N>::d;
  using vu = typename Vec<N>::u;
  const vd t = 2.0 * a;
  const vd shifted = t + 0x1.8p52;
  const vu q = as_u<N>(shifted);
  const vd r = (t - (shifted - 0x1.8p52)) * kPio2;
  const vd z = r * r, v = z * r;
  const vd sp = kS2 + z * (kS3 + z * (kS4 + z * (kS5 + z * kS6)));
  const vd sr = r + v * (kS1 + z * sp);
  const vd cp = z * (kC1 + z * (kC2 + z * (kC3 + z * (kC4 + z * (kC5 + z * kC6)))));
  using vi = typename Vec<N>::i;  // signed compares: the only 64-bit ones before AVX-512
  const vu ar = as_u<N>(r) & 0x7FFFFFFFFFFFFFFFull;
  const vi ari = reinterpret_cast<vi>(ar);
  const vd qx_mid = as_d<N>((ar - 0x0020000000000000ull) & 0xFFFFFFFF00000000ull);
  const vd qx = ari >= 0x3FE9000100000000ll ? splat<N>(0.28125) : qx_mid;
  const vd small = 1.0 - (0.5 * z - z * cp);
  const vd large = (1.0 - qx) - ((0.5 * z - qx) - z * cp);
  const vd cr = ari < 0x3FD3333300000000ll ? small : large;
  const vi odd = reinterpret_cast<vi>(q & 1u);
  const vd s = odd != 0 ? cr : sr, c = odd != 0 ? sr : cr;
  sin_out = as_d<N>(as_u<N>(s) ^ ((q & 2u) << 62));
  cos_out = as_d<N>(as_u<N>(c) ^ (((q + 1u) & 2u) << 62));
}

// One entry of a 16-entry table per lane (the low 4 bits of idx; AVX-512: one VPERMI2PD, no gather).
template <int N>
HTSGD_INLINE typename Vec<N>::d lookup16(const double* table, typename Vec<N>::u idx) {
  using vd = typename Vec<N>::d;
#if HTSGD_X86_SQRT_BUILTINS
  if constexpr (N == 8) {
    vd lo, hi;
    std::memcpy(&lo, table, sizeof lo);
    std::memcpy(&hi, table + 8, sizeof hi);
    return __builtin_ia32_vpermt2varpd512_mask(reinterpret_cast<typename Vec<N>::ll>(idx), lo, hi, static_cast<unsigned char>(0xFF));
  }
#endif
  vd r;
  for (int l = 0; l < N; ++l) r[l] = table[idx[l] & 15u];
  return r;
}

template <int N>
HTSGD_INLINE typename Vec<N>::d log2_kernel_scaled_v(typename Vec<N>::d x, double e) {
  using namespace detail;
  using vd = typename Vec<N>::d;
  using vu = typename Vec<N>::u;
  const vu biased = as_u<N>(x) + (0x3FF0000000000000ull - kLog2Off);
  const vu ek = biased >> 52;
  const vd m = as_d<N>((biased & 0x000FFFFFFFFFFFFFull) + kLog2Off);
  const vu idx = biased >> 48;
  const vd r = (m - lookup16<N>(kLog2C, idx)) * lookup16<N>(kLog2InvC, idx);
  const vd dk = as_d<N>(ek | 0x4330000000000000ull) - (0x1.0p52 + 1023.0 + e);
  return fmadd(r, log2_q(r), dk + lookup16<N>(kLog2LogC, idx));
}
template <int N>
HTSGD_INLINE typename Vec<N>::d log2_kernel_v(typename Vec<N>::d x) {
  return log2_kernel_scaled_v<N>(x, 0.0);
}

// clamp = false: the caller guarantees 0 <= y <= kExp2Max (same result, two selects fewer).
template <int N, bool clamp = true>
HTSGD_INLINE typename Vec<N>::d exp2m1_kernel_v(typename Vec<N>::d y) {
  using namespace detail;
  using vd = typename Vec<N>::d;
  using vu = typename Vec<N>::u;
  const vd yc = clamp ? (y > kExp2Max ? splat<N>(kExp2Max) : y) : y;
  const vd shifted = fmadd_exact(yc, splat<N>(16.0), splat<N>(0x1.8p52));
  const vd kd = shifted - 0x1.8p52;
  const vd r = fmadd_exact(kd, splat<N>(-0.0625), yc);
  const vu n = as_u<N>(shifted) - 0x4338000000000000ull;
  const vd s = as_d<N>(((n >> 4) + 1023u) << 52);
  const vd e = fmadd_exact(s, fmadd(lookup16<N>(kExp2T, n), r * exp2_p(r), lookup16<N>(kExp2Tm1, n)), s - 1.0);
  if (clamp) return y > kExp2Max ? splat<N>(__builtin_inf()) : e;
  return e;
}

// Whether any lane of a comparison mask (all-ones or zero lanes) is set: one MOVMSKPD / VPTESTMQ on x86
// (a lane-by-lane loop is extracted lane by lane).
template <int N>
HTSGD_INLINE bool any_lane(typename Vec<N>::i mask) {
#if HTSGD_X86_SQRT_BUILTINS
  using vd = typename Vec<N>::d;
  if constexpr (N == 2) return __builtin_ia32_movmskpd(reinterpret_cast<vd>(mask)) != 0;
  if constexpr (N == 4) return __builtin_ia32_movmskpd256(reinterpret_cast<vd>(mask)) != 0;
  if constexpr (N == 8) {
    using ll = typename Vec<N>::ll;
    const ll m = reinterpret_cast<ll>(mask);
    return __builtin_ia32_ptestmq512(m, m, static_cast<unsigned char>(0xFF)) != 0;
  }
#endif
  bool any = false;
  for (int l = 0; l < N; ++l) any |= mask[l] != 0;
  return any;
}

// Correctly rounded square root (IEEE), in the ISA of the kernel this is inlined into.
template <int N>
HTSGD_INLINE typename Vec<N>::d sqrt_v(typename Vec<N>::d x) {
#if HTSGD_X86_SQRT_BUILTINS
  if constexpr (N == 2) return __builtin_ia32_sqrtpd(x);
  if constexpr (N == 4) return __builtin_ia32_sqrtpd256(x);
  if constexpr (N == 8) return __builtin_ia32_sqrtpd512_mask(x, x, static_cast<unsigned char>(0xFF), 4);
#endif
  typename Vec<N>::d r;
  for (int i = 0; i < N; ++i) r[i] = __builtin_sqrt(x[i]);
  return r;
}
#else
#define HTSGD_VECTOR_EXT 0
#endif

}  // namespace htsgd
