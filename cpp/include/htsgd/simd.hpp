// Runtime dispatch of the hot loops: the lane kernels (lanes.hpp) are written once as portable C++ that
// the compiler vectorises, and instantiated three times: for the baseline ISA (x86-64 SSE2 or whatever the
// build targets), for AVX2 and for AVX-512, chosen at run time from the CPU (cpuid). The default build stays
// portable (no -march=native). All three give the same bits: the kernels use only correctly rounded IEEE
// operations and the core is compiled with -ffp-contract=off.
//
// HTSGD_ISA=baseline|avx2|avx512 in the environment caps the choice (for tests and benchmarks).
#pragma once
#include <cstdlib>
#include <cstring>

namespace htsgd {

enum class Isa : int { Baseline = 0, Avx2 = 1, Avx512 = 2 };

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define HTSGD_X86_DISPATCH 1
#define HTSGD_TARGET_AVX2 __attribute__((target("avx2")))
#define HTSGD_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,prefer-vector-width=512")))
#else
#define HTSGD_X86_DISPATCH 0
#define HTSGD_TARGET_AVX2
#define HTSGD_TARGET_AVX512
#endif

inline Isa cpu_isa() {
#if HTSGD_X86_DISPATCH
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
    return Isa::Avx512;
  if (__builtin_cpu_supports("avx2")) return Isa::Avx2;
#endif
  return Isa::Baseline;
}

// The ISA the kernels use: the CPU's best, capped by HTSGD_ISA. Computed once.
inline Isa active_isa() {
  static const Isa isa = [] {
    Isa best = cpu_isa();
    if (const char* env = std::getenv("HTSGD_ISA")) {
      Isa cap = best;
      if (std::strcmp(env, "baseline") == 0) cap = Isa::Baseline;
      else if (std::strcmp(env, "avx2") == 0) cap = Isa::Avx2;
      else if (std::strcmp(env, "avx512") == 0) cap = Isa::Avx512;
      if (static_cast<int>(cap) < static_cast<int>(best)) best = cap;
    }
    return best;
  }();
  return isa;
}

// The kernel instantiation for `isa` among the three (each compiled with its HTSGD_TARGET_* attribute).
template <class Fn>
Fn select_isa(Isa isa, Fn baseline, Fn avx2, Fn avx512) {
#if HTSGD_X86_DISPATCH
  if (isa == Isa::Avx512) return avx512;
  if (isa == Isa::Avx2) return avx2;
#else
  (void)isa, (void)avx2, (void)avx512;
#endif
  return baseline;
}

inline const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "baseline";
  }
}

}  // namespace htsgd
