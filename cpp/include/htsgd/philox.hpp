// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), as in Random123.
// A counter-based generator: a block of four 32-bit words is a pure function of (counter, key), so a
// variate can be addressed by (seed, particle, step, draw) and results never depend on thread scheduling.
#pragma once
#include <array>
#include <cstdint>

namespace htsgd {

using Counter = std::array<std::uint32_t, 4>;
using Key = std::array<std::uint32_t, 2>;

namespace detail {
constexpr std::uint32_t kPhiloxM0 = 0xD2511F53u;
constexpr std::uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr std::uint32_t kPhiloxW0 = 0x9E3779B9u;  // golden ratio
constexpr std::uint32_t kPhiloxW1 = 0xBB67AE85u;  // sqrt(3) - 1

inline void philox_round(std::uint32_t& c0, std::uint32_t& c1, std::uint32_t& c2, std::uint32_t& c3,
                         std::uint32_t k0, std::uint32_t k1) {
  const std::uint64_t p0 = static_cast<std::uint64_t>(kPhiloxM0) * c0;
  const std::uint64_t p1 = static_cast<std::uint64_t>(kPhiloxM1) * c2;
  const auto hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
  const auto hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
  c0 = hi1 ^ c1 ^ k0;
  c1 = lo1;
  c2 = hi0 ^ c3 ^ k1;
  c3 = lo0;
}
}  // namespace detail

// Ten rounds: the Crush-resistant default of Random123. Written on scalars so that a loop over
// independent counters (particles in SIMD lanes) vectorises.
inline Counter philox4x32(Counter c, Key k) {
  std::uint32_t c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3], k0 = k[0], k1 = k[1];
  for (int r = 0; r < 10; ++r) {
    detail::philox_round(c0, c1, c2, c3, k0, k1);
    k0 += detail::kPhiloxW0;
    k1 += detail::kPhiloxW1;
  }
  return {c0, c1, c2, c3};
}

// Uniform on the open interval (0, 1) from 52 random bits: (2j + 1) * 2^-53, j < 2^52. Every value is
// exact, the smallest is 2^-53 and the largest 1 - 2^-53, so U^(-1/alpha) and log(U) are always finite.
inline double u01_open(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t bits = ((static_cast<std::uint64_t>(hi) << 32) | lo) >> 12;
  return (static_cast<double>(bits) + 0.5) * 0x1.0p-52;
}

// Uniform on the open interval (-1, 1), same resolution.
inline double u11_open(std::uint32_t hi, std::uint32_t lo) { return 2.0 * u01_open(hi, lo) - 1.0; }

inline Key make_key(std::uint64_t seed) {
  return {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)};
}

}  // namespace htsgd
