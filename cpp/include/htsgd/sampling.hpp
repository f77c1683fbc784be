// Plain i.i.d. variates (Noise.sample, and the torch optimizer's CPU noise): variate i of a call keyed by
// (seed, counter) is a pure function of those three numbers, whatever the thread count and ISA.
#pragma once
#include <cstddef>
#include <cstdint>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "htsgd/lanes.hpp"
#include "htsgd/noise.hpp"
#include "htsgd/parallel.hpp"
#include "htsgd/simd.hpp"

namespace htsgd {

// A fresh key per (seed, counter): Philox is a pseudo-random function, so hashing the counter through it
// gives independent streams for every counter value (all 64 bits of it).
inline Key derive_key(std::uint64_t seed, std::uint64_t counter) {
  const Counter h = philox4x32({static_cast<std::uint32_t>(counter), static_cast<std::uint32_t>(counter >> 32),
                                static_cast<std::uint32_t>(Stream::Sampling), 0x5A3Du},
                               make_key(seed));
  return {h[0], h[1]};
}

namespace lanes {

// Variates begin, ..., begin + count - 1 of the Sampling stream into out[0..count): variate i is step i + 1
// of particle 0 (streams.hpp). begin is even, so a half-block law (Pareto, Gaussian) fills 2 kLanes variates
// from kLanes blocks; other laws go kLanes variates at a time. Every law runs in SIMD lanes (lanes.hpp).
template <int N, class S, class T>
HTSGD_INLINE void fill_chunk(const S& sampler, Key key, std::uint64_t begin, std::size_t count, T* out) {
  constexpr int W = kLanes;
  alignas(64) std::uint64_t particle[W] = {}, index[W];
  alignas(64) double z[W], z2[W];
  if constexpr (S::kHalfBlock) {
    for (std::size_t g = 0; g < count; g += 2 * W) {
      for (int l = 0; l < W; ++l) index[l] = half_block_index(begin + g + 2 * static_cast<std::uint64_t>(l) + 1);
      noise_pair_lanes<W, N>(sampler, key, particle, index, z, z2, Stream::Sampling);
      const std::size_t m = std::min<std::size_t>(2 * W, count - g);
      for (std::size_t j = 0; j < m; ++j) out[g + j] = static_cast<T>((j & 1) ? z2[j / 2] : z[j / 2]);
    }
  } else {
    for (std::size_t g = 0; g < count; g += W) {
      for (int l = 0; l < W; ++l) index[l] = begin + g + static_cast<std::uint64_t>(l) + 1;
      noise_lanes<W, N>(sampler, key, particle, index, z, Stream::Sampling);
      const std::size_t m = std::min<std::size_t>(W, count - g);
      for (std::size_t l = 0; l < m; ++l) out[g + l] = static_cast<T>(z[l]);
    }
  }
}

struct FillChunk {
  template <int N, class S, class T>
  static HTSGD_INLINE void run(const S& sampler, Key key, std::uint64_t begin, std::size_t count, T* out) {
    fill_chunk<N>(sampler, key, begin, count, out);
  }
};

template <class S, class T>
IsaEntry<const S&, Key, std::uint64_t, std::size_t, T*> fill_chunk_for(Isa isa) {
  return isa_entry<FillChunk, const S&, Key, std::uint64_t, std::size_t, T*>(isa);
}

}  // namespace lanes

constexpr std::size_t kFillChunk = 4096;

// One fill_noise request: out[i] = variate i of (seed, counter), i < n.
template <class T>
struct FillTarget {
  T* out;
  std::size_t n;
  std::uint64_t seed, counter;
};

// Several requests at once, their chunks shared by the threads (a torch optimizer fills one tensor per
// request): every output is bit-identical to its own fill_noise call, for any thread count and ISA.
template <class T>
void fill_noise_many(const NoiseLaw& law, const std::vector<FillTarget<T>>& targets, int n_threads) {
  struct Chunk {
    std::size_t target, begin;
  };
  std::vector<Chunk> chunks;
  std::vector<Key> keys;
  for (std::size_t t = 0; t < targets.size(); ++t) {
    keys.push_back(derive_key(targets[t].seed, targets[t].counter));
    for (std::size_t b = 0; b < targets[t].n; b += kFillChunk) chunks.push_back({t, b});
  }
  with_sampler(law, [&](const auto& sampler) {
    const auto kernel = lanes::fill_chunk_for<std::decay_t<decltype(sampler)>, T>(active_isa());
    const auto n_chunks = static_cast<std::int64_t>(chunks.size());
    // Threads only pay off for large outputs (a torch parameter tensor can be tiny).
#pragma omp parallel for schedule(dynamic, 4) num_threads(resolve_threads(n_threads)) if (n_chunks > 8)
    for (std::int64_t c = 0; c < n_chunks; ++c) {
      const Chunk& ch = chunks[static_cast<std::size_t>(c)];
      const FillTarget<T>& t = targets[ch.target];
      kernel(sampler, keys[ch.target], ch.begin, std::min(kFillChunk, t.n - ch.begin), t.out + ch.begin);
    }
  });
}

// out[i] = variate i of (seed, counter), i < n; bit-identical for any thread count and ISA.
template <class T>
void fill_noise(const NoiseLaw& law, std::uint64_t seed, std::uint64_t counter, T* out, std::size_t n,
                int n_threads) {
  fill_noise_many<T>(law, {FillTarget<T>{out, n, seed, counter}}, n_threads);
}

// The same variates one at a time through the scalar samplers (draw): the reference the lanes are tested
// against.
inline void fill_noise_reference(const NoiseLaw& law, std::uint64_t seed, std::uint64_t counter, double* out,
                                 std::size_t n) {
  const Key key = derive_key(seed, counter);
  with_sampler(law, [&](const auto& sampler) {
    for (std::size_t i = 0; i < n; ++i) out[i] = draw(sampler, key, Stream::Sampling, 0, i + 1, 0);
  });
}

}  // namespace htsgd
