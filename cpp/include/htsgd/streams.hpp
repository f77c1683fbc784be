// Addressing of random numbers: every variate is located by (seed, stream, particle, step, slot, attempt).
//   key     = seed (64 bits)
//   counter = { slot << 12 | attempt, step bits 0-31, step bits 32-55 | stream << 24, particle }
// `slot` numbers the independent draws of one step (one per coordinate, plus extras); `attempt` lets a
// rejection sampler consume further blocks without touching the next slot. Because nothing depends on
// the order of evaluation, any particle can be replayed alone and any thread count gives the same bits.
//
// Half-block laws (Pareto: a variate needs two of a block's four words) let two consecutive steps share
// one block, which halves the Philox work of the hot loops: step s reads block (s + 1) / 2 of the counter's
// step field, words 0-1 if s is odd and words 2-3 if s is even (steps start at 1). Whole-block laws read
// block s.
#pragma once
#include <cstdint>

#include "htsgd/philox.hpp"

namespace htsgd {

enum class Stream : std::uint32_t {
  Dynamics = 0,    // the noise Z of the SGD update
  Sampling = 1,    // Noise.sample / fill_noise: plain i.i.d. variates
  Importance = 2,  // decisions of the rare-event importance sampler
};

constexpr std::uint32_t kMaxAttempts = 1u << 12;  // per slot, for rejection samplers
constexpr std::uint64_t kMaxSlots = 1u << 20;     // draws per step (coordinates + extras)
constexpr std::uint64_t kMaxStep = (std::uint64_t{1} << 56) - 1;

// The random blocks of one (particle, step, slot). Cheap to construct; `next()` returns successive blocks.
// The counter step field and the word pair (0: words 0-1, 1: words 2-3) of step s for a half-block law.
constexpr std::uint64_t half_block_index(std::uint64_t step) { return (step + 1) >> 1; }
constexpr unsigned half_block_pair(std::uint64_t step) { return (step & 1u) ? 0u : 1u; }

class BlockSource {
 public:
  BlockSource(Key key, Stream stream, std::uint32_t particle, std::uint64_t step, std::uint32_t slot)
      : key_(key),
        ctr_{slot << 12, static_cast<std::uint32_t>(step),
             static_cast<std::uint32_t>(step >> 32) | (static_cast<std::uint32_t>(stream) << 24), particle} {}

  Counter next() {
    const Counter out = philox4x32(ctr_, key_);
    ++ctr_[0];  // the attempt field; samplers stop long before kMaxAttempts
    return out;
  }

 private:
  Key key_;
  Counter ctr_;
};

}  // namespace htsgd
