// Runtime dispatch of the hot loops: the lane kernels (lanes.hpp) are written once as portable C++ that
// the compiler vectorises, and instantiated three times: for the baseline ISA (x86-64 SSE2 or whatever the
// build targets), for AVX2 and for AVX-512, chosen at run time from the CPU (cpuid). The default build stays
// portable (no -march=native). All three give the same bits: the kernels use only correctly rounded IEEE
// operations (explicit fused multiply-adds included, vecmath.hpp) and the core is compiled with
// -ffp-contract=off. The AVX2 and AVX-512 targets include FMA.
//
// HTSGD_ISA=baseline|avx2|avx512 in the environment caps the choice (for tests and benchmarks); any other
// value is reported once on stderr and ignored.
//
// isa_entry<Kernel, Args...>(isa) is the one place that instantiates a lane kernel per ISA: `Kernel` is a
// struct with a static member template `run<N>(args...)` (always inlined; N doubles per SIMD register).
#pragma once
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace htsgd {

enum class Isa : int { Baseline = 0, Avx2 = 1, Avx512 = 2 };

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define HTSGD_X86_DISPATCH 1
#define HTSGD_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define HTSGD_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,fma,prefer-vector-width=512")))
#else
#define HTSGD_X86_DISPATCH 0
#define HTSGD_TARGET_AVX2
#define HTSGD_TARGET_AVX512
#endif

inline Isa cpu_isa() {
#if HTSGD_X86_DISPATCH
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
    return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
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
      else if (*env != '\0')  // once: this initialiser runs once per process
        std::fprintf(stderr, "htsgd: ignoring HTSGD_ISA=%s; expected one of baseline, avx2, avx512\n", env);
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

// The instantiations of Kernel::run<N> behind isa_entry: 2 doubles per register for the baseline (SSE2), 4
// for AVX2, 8 for AVX-512. Kernel::run is always inlined, so it is compiled for the target of its caller.
template <class Kernel, class... Args>
void isa_baseline(Args... args) {
  Kernel::template run<2>(args...);
}
template <class Kernel, class... Args>
HTSGD_TARGET_AVX2 void isa_avx2(Args... args) {
  Kernel::template run<4>(args...);
}
template <class Kernel, class... Args>
HTSGD_TARGET_AVX512 void isa_avx512(Args... args) {
  Kernel::template run<8>(args...);
}

template <class... Args>
using IsaEntry = void (*)(Args...);

// The entry point of Kernel compiled for `isa`; Args: the exact parameter types of Kernel::run.
template <class Kernel, class... Args>
IsaEntry<Args...> isa_entry(Isa isa) {
  return select_isa<IsaEntry<Args...>>(isa, &isa_baseline<Kernel, Args...>, &isa_avx2<Kernel, Args...>,
                                       &isa_avx512<Kernel, Args...>);
}

inline const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "baseline";
  }
}

}  // namespace htsgd
