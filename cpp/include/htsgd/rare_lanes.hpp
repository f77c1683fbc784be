// The rare-exit samples (rare_sample.hpp) in SIMD lanes: kLanes samples side by side per thread, with the
// engine's pieces (Vec<N>, log2_kernel_v / exp2m1_kernel_v of vecmath.hpp, philox_lanes / u01_open_lanes,
// grad_lanes / update_lanes of lanes.hpp), N = the native width of the ISA the kernel is compiled for (2 SSE2,
// 4 AVX2, 8 AVX-512). Every lane does the IEEE operations of rare_exit_sample for its sample in the same
// order (the core is built with -ffp-contract=off), so results depend on neither lane, thread nor ISA, and
// the plain branch draws exactly the noise of exit_times' lanes.
//
// As in the engine (exit_times.hpp), all lanes of a thread keep one step parity (LaneRefill), so that one
// Philox block per lane serves two steps: at odd steps k every lane draws its block (k + 1) / 2 and turns
// its word pairs into the noises of steps k and k + 1 (both branches address their blocks that way). The
// big positions, the count of big noises and the exit test are lane vectors too; scalar code runs only
// for a lane that reaches one of its big positions (a few times per sample) and when a sample ends.
#pragma once
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "htsgd/conditioned.hpp"
#include "htsgd/lane_refill.hpp"
#include "htsgd/lanes.hpp"
#include "htsgd/parallel.hpp"
#include "htsgd/philox_lanes.hpp"
#include "htsgd/rare_sample.hpp"
#include "htsgd/simd.hpp"
#include "htsgd/streams.hpp"
#include "htsgd/vecmath.hpp"

namespace htsgd {

#if HTSGD_VECTOR_EXT
#define HTSGD_RARE_LANES 1
// GCC notes that vector arguments change the ABI across ISAs: irrelevant for always-inlined helpers, and the
// note is emitted at the end of the translation unit, so it is silenced for the rest of it.
#pragma GCC diagnostic ignored "-Wpsabi"
namespace rare_lanes {

constexpr int kLanes = 32;                               // samples advanced together by one thread
constexpr std::uint64_t kNoBig = ~std::uint64_t{0};      // "no big position left" (never a step)

// Everything a thread's lanes need to run the samples of one chunk (Pareto noise).
template <class L>
struct RareTask {
  const L& f;
  const ParetoConditioned& cond;  // also the plain law: q = U, hinv(q) = scale (U^(-1/alpha) - 1)
  const BinomialTail* tail;
  const ConditionedCount* count;
  double p_big;
  const RareExitParams& p;
  Key key;
  std::uint64_t first;
  std::size_t n;
  double* y;
  std::uint8_t* flags;
  std::int64_t* end_step;
  double* end_x;
  std::atomic<std::size_t>& next;
  const StopFlag& stop;
};

// mask ? a : b lane by lane, mask all-ones or zero (a ?: on vectors of another element type than the
// condition's would be lowered lane by lane).
template <int N>
HTSGD_INLINE typename Vec<N>::d blend(typename Vec<N>::u mask, typename Vec<N>::d a, typename Vec<N>::d b) {
  return as_d<N>((mask & as_u<N>(a)) | (~mask & as_u<N>(b)));
}

// The noise of one word pair (hi, lo) of the lanes' blocks. Plain lanes (cond zero): ParetoSampler, q = U
// and the sign from bit 0 of lo; conditioned lanes (cond all-ones): (q, sign) of ParetoConditioned::big_q
// where big is all-ones, else small_q. Then sign * (scale * exp2m1(-log2(q) / alpha)), the scalar operations in their order.
// `unclamped`: -log2(q) / alpha <= 1010 for every q these laws produce (exp2m1 without its clamp: same bits).
template <int N>
HTSGD_INLINE typename Vec<N>::d pair_noise(const ParetoConditioned& cd, double side, typename Vec<N>::u hi,
                                           typename Vec<N>::u lo, typename Vec<N>::u cond, typename Vec<N>::u big,
                                           bool unclamped) {
  using D = typename Vec<N>::d;
  using U = typename Vec<N>::u;
  const D v = lanes::u01_open_lanes<N>(hi, lo);
  const D plus = splat<N>(1.0), minus = splat<N>(-1.0), zero{}, ones = as_d<N>(U{} + ~std::uint64_t{0});
  const D sign_plain = as_d<N>((lo << 63) | 0x3FF0000000000000ull);  // detail::sign_from(lo)
  // each comparison feeds one ?: only (a comparison used twice is materialised and lowered lane by lane)
  D q_big, sign_big, u;
  if (side != 0.0) {
    q_big = cd.pg * v;
    sign_big = splat<N>(side);
    u = v * (1.0 - 0.5 * cd.pg);
  } else {
    const U low = as_u<N>(v < 0.5 ? ones : zero);
    q_big = cd.pg * blend<N>(low, 2.0 * v, 2.0 * (1.0 - v));
    sign_big = blend<N>(low, minus, plus);
    u = 0.5 * cd.pg + v * (1.0 - cd.pg);
  }
  const U low = as_u<N>(u < 0.5 ? ones : zero);
  const D q_small = blend<N>(low, 2.0 * u, 2.0 * (1.0 - u));
  const D sign_small = (side != 0.0 ? side : 1.0) * blend<N>(low, minus, plus);
  const D q = blend<N>(cond, blend<N>(big, q_big, q_small), v);
  const D sign = blend<N>(cond, blend<N>(big, sign_big, sign_small), sign_plain);
  const D t = cd.neg_inv_alpha * log2_kernel_v<N>(q);
  return sign * (cd.scale * (unclamped ? exp2m1_kernel_v<N, false>(t) : exp2m1_kernel_v<N, true>(t)));
}

// W samples side by side, one step at a time; a lane whose sample ends takes the next one at the next odd
// step (LaneRefill). Each lane computes the operations of rare_exit_sample for its sample (Pareto noise).
template <int N, class L>
HTSGD_INLINE void run_lanes(const RareTask<L>& t) {
  using D = typename Vec<N>::d;
  using U = typename Vec<N>::u;
  using lanes::load;
  using lanes::store;
  constexpr int W = kLanes;
  static_assert(W % N == 0, "lanes come in whole vectors");
  const RareExitParams& p = t.p;
  const ParetoConditioned& cd = t.cond;
  // per lane: position, gradient, the noises of the odd and even step of the current block
  alignas(64) double x[W], g[W], z_odd[W], z_even[W];
  // per lane: step k, sample id, its stream (Importance: conditioned branch; Dynamics: plain), all-ones if
  // conditioned, its next big position (kNoBig: none left), all-ones if the odd / even step of the block is
  // big, 1 if each of these two steps counts as a big noise, big noises so far, all-ones if the sample ended
  alignas(64) std::uint64_t k[W], particle[W], stream[W], is_cond[W], next_big[W], big_odd[W], big_even[W],
      count_odd[W], count_even[W], cnt[W], done[W];
  std::size_t nextpos[W];
  // The iteration (of LaneRefill::run's loop) at which each lane reaches its next big position, and a
  // lower bound of their minimum: at most iterations no lane is at a big position, which one scalar test
  // then tells.
  std::uint64_t big_iter[W], first_big_iter = kNoBig, next_iter = 0;
  std::vector<std::int64_t> pos[W];
  LaneRefill<W> assign;
  const std::uint64_t T = static_cast<std::uint64_t>(p.horizon);
  const auto imp = static_cast<std::uint64_t>(Stream::Importance), dyn = static_cast<std::uint64_t>(Stream::Dynamics);
  auto start = [&](int l, std::size_t j) {
    const auto id = static_cast<std::uint32_t>(t.first + static_cast<std::uint64_t>(j));
    particle[l] = id;
    const bool conditioned = start_sample(p, t.count, t.key, id, pos[l]);
    is_cond[l] = conditioned ? ~std::uint64_t{0} : 0;
    stream[l] = conditioned ? imp : dyn;
    nextpos[l] = 0;
    next_big[l] = pos[l].empty() ? kNoBig : static_cast<std::uint64_t>(pos[l][0]);
    big_iter[l] = pos[l].empty() ? kNoBig : next_iter + next_big[l] - 1;  // step 1 runs at next_iter
    first_big_iter = std::min(first_big_iter, big_iter[l]);
    x[l] = p.x0;
    k[l] = 0;
    cnt[l] = 0;
  };
  for (int l = 0; l < W; ++l) {  // idle lanes compute on this state, never reported
    x[l] = p.x0;
    k[l] = 0;
    particle[l] = 0;
    stream[l] = dyn;
    is_cond[l] = 0;
    next_big[l] = kNoBig;
    big_iter[l] = kNoBig;
    nextpos[l] = 0;
    cnt[l] = 0;
  }
  auto pass_big = [&](int l) {
    ++nextpos[l];
    if (nextpos[l] < pos[l].size()) {
      const auto nb = static_cast<std::uint64_t>(pos[l][nextpos[l]]);
      big_iter[l] += nb - next_big[l];
      next_big[l] = nb;
    } else {
      next_big[l] = big_iter[l] = kNoBig;
    }
  };
  const double side = static_cast<double>(p.side), lr = p.step.lr, gamma = p.gamma;
  const double lo = p.domain_lo, hi = p.domain_hi;
  // -log(q) <= 38 - log(pg) for every q of the plain and conditioned laws (U >= 2^-53)
  const bool unclamped = (38.0 - std::log(cd.pg)) * -cd.neg_inv_alpha < 700.0;
  const U zero_u{}, ones_u = zero_u + ~std::uint64_t{0};
  const D zero_d{}, ones_d = as_d<N>(ones_u);
  // At odd steps k: which lanes' steps k and k + 1 are big, then one block per lane for both noises.
  auto draw_pair = [&](std::uint64_t iter) HTSGD_INLINE_LAMBDA {
    for (int o = 0; o < W; o += N) {
      store(big_odd + o, zero_u);
      store(big_even + o, zero_u);
    }
    if (first_big_iter <= iter + 1) {  // a lane may be at a big position at this step or the next
      for (int l = 0; l < W; ++l) {
        if (k[l] == next_big[l]) {
          big_odd[l] = ~std::uint64_t{0};
          pass_big(l);
        }
        if (k[l] + 1 == next_big[l]) {
          big_even[l] = ~std::uint64_t{0};
          pass_big(l);
        }
      }
      first_big_iter = kNoBig;
      for (int l = 0; l < W; ++l) first_big_iter = std::min(first_big_iter, big_iter[l]);
    }
    for (int o = 0; o < W; o += N) {
      const U ic = load<U>(is_cond + o), bo = load<U>(big_odd + o), be = load<U>(big_even + o);
      const lanes::PhiloxLanes<N> blk =
          lanes::philox_lanes<N>(t.key, load<U>(stream + o), load<U>(particle + o), (load<U>(k + o) + 1u) >> 1);
      const D zo = pair_noise<N>(cd, side, blk.w0, blk.w1, ic, bo, unclamped);
      const D ze = pair_noise<N>(cd, side, blk.w2, blk.w3, ic, be, unclamped);
      store(z_odd + o, zo);
      store(z_even + o, ze);
      if (p.crude) continue;
      // plain lanes count big noises by their size (rare_exit_sample's test), conditioned ones by position
      const D lzo = lr * zo, lze = lr * ze;
      const D mo = side != 0.0 ? side * lzo : as_d<N>(as_u<N>(lzo) & 0x7FFFFFFFFFFFFFFFull);
      const D me = side != 0.0 ? side * lze : as_d<N>(as_u<N>(lze) & 0x7FFFFFFFFFFFFFFFull);
      const U plain_o = as_u<N>(mo > gamma ? ones_d : zero_d), plain_e = as_u<N>(me > gamma ? ones_d : zero_d);
      store(count_odd + o, ((ic & bo) | (~ic & plain_o)) & 1u);
      store(count_even + o, ((ic & be) | (~ic & plain_e)) & 1u);
    }
  };
  auto advance = [&](std::uint64_t iter) HTSGD_INLINE_LAMBDA {
    const bool odd = (iter & 1) == 0;  // every lane's step k is odd at even iteration counts
    for (int o = 0; o < W; o += N) store(k + o, load<U>(k + o) + 1u);
    if (odd) draw_pair(iter);
    next_iter = iter + 1;
    const double* z = odd ? z_odd : z_even;
    if (!p.crude) {
      const std::uint64_t* c = odd ? count_odd : count_even;
      for (int o = 0; o < W; o += N) store(cnt + o, load<U>(cnt + o) + load<U>(c + o));
    }
    // gradient and truncated, projected update: exit_times' lane helpers (the operations of step_1d)
    lanes::grad_lanes<W, N>(t.f, x, g);
    lanes::update_lanes<W, N>(p.step, z, g, x);
    U any_v{};
    for (int o = 0; o < W; o += N) {
      const D xv = load<D>(x + o);
      // comparisons only as ?: conditions (materialised vector booleans would be lowered lane by lane)
      const U out = as_u<N>(xv > lo ? zero_d : ones_d) | as_u<N>(xv < hi ? zero_d : ones_d);
      const U dv = (out | (load<U>(k + o) >= T ? ones_u : zero_u)) & load<U>(assign.active + o);
      store(done + o, dv);
      any_v |= dv;
    }
    return any_lane<N>(reinterpret_cast<typename Vec<N>::i>(any_v));
  };
  auto report = [&](int l) {
    const std::size_t j = assign.index[l];
    const bool outside = !(x[l] > lo && x[l] < hi);
    t.end_step[j] = static_cast<std::int64_t>(k[l]);
    t.end_x[j] = x[l];
    t.y[j] = finish_sample(p, t.tail, t.p_big, is_cond[l] != 0, outside ? static_cast<std::int64_t>(k[l]) : 0,
                           static_cast<std::int64_t>(cnt[l]), x[l], t.flags[j]);
  };
  assign.run(t.next, t.n, t.stop, detail::kRareStopCheckMask, false, start, advance,
             [&](int l) { return done[l] != 0; }, report);
}

struct RareLanes {
  template <int N, class L>
  static HTSGD_INLINE void run(const RareTask<L>& t) {
    run_lanes<N>(t);
  }
};

template <class L>
IsaEntry<const RareTask<L>&> kernel_for(Isa isa) {
  return isa_entry<RareLanes, const RareTask<L>&>(isa);
}

}  // namespace rare_lanes
#else
#define HTSGD_RARE_LANES 0
#endif

}  // namespace htsgd
