// Plain i.i.d. variates (Noise.sample, and the torch optimizer's CPU noise): variate i of a call keyed by
// (seed, counter) is a pure function of those three numbers, whatever the thread count.
#pragma once
#include <cstddef>
#include <cstdint>

#include "htsgd/noise.hpp"
#include "htsgd/parallel.hpp"

namespace htsgd {

// A fresh key per (seed, counter): Philox is a pseudo-random function, so hashing the counter through it
// gives independent streams for every counter value (all 64 bits of it).
inline Key derive_key(std::uint64_t seed, std::uint64_t counter) {
  const Counter h = philox4x32({static_cast<std::uint32_t>(counter), static_cast<std::uint32_t>(counter >> 32),
                                static_cast<std::uint32_t>(Stream::Sampling), 0x5A3Du},
                               make_key(seed));
  return {h[0], h[1]};
}

template <class T>
void fill_noise(const NoiseLaw& law, std::uint64_t seed, std::uint64_t counter, T* out, std::size_t n,
                int n_threads) {
  const Key key = derive_key(seed, counter);
  with_sampler(law, [&](const auto& sampler) {
#pragma omp parallel for schedule(static) num_threads(resolve_threads(n_threads))
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(n); ++i) {
      BlockSource src(key, Stream::Sampling, 0, static_cast<std::uint64_t>(i), 0);
      out[i] = static_cast<T>(sampler(src));
    }
  });
}

}  // namespace htsgd
