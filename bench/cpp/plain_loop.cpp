// The "hardware line" of bench/run.py: W1 and W2 written as the plainest fast C++ loop, with no
// reproducibility machinery (no counter-based addressing: one xoshiro256+ stream per SIMD lane, seeded once).
//
// Same law and dynamics as htsgd's benchmark workloads: x <- x + clip(lr * (Z - f'(x)), -b, b) on the double
// well f'(x) = (x + 1) x (x - 1), Z = S * scale * (U^(-1/alpha) - 1) (symmetric Lomax; sign S and U from one
// 64-bit draw), U^(-1/alpha) - 1 = expm1(-log(U) / alpha) with polynomial log and expm1 kernels (relative
// error about 1e-16 each: log by the atanh series to s^9, expm1 by Taylor to r^13 on |r| <= ln2/2).
// 16 lanes as GCC/Clang vector extensions (2 zmm registers per variable with -march=native on AVX-512, 4 ymm
// with -march=x86-64-v3), OpenMP over particle blocks.
//
//   c++ -O3 -march=native -fopenmp bench/cpp/plain_loop.cpp -o build/bench/plain_loop   (bench/hardware_line.py)
//   plain_loop w1 N STEPS THREADS REPEAT [dump.f64]   -> one JSON line (best-of-REPEAT rates)
//   plain_loop w2 N THREADS REPEAT [dump.i64]          -> one JSON line; dump: exit steps in particle order
//   plain_loop accuracy                                -> largest relative errors of the kernels (long double)
#include <omp.h>
#include <time.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

// 16 lanes as L / W native vectors (W doubles per register); GCC scalarises comparisons of wider vectors
constexpr int L = 16;
#if defined(__AVX512F__)
constexpr int W = 8;
#elif defined(__AVX__)
constexpr int W = 4;
#else
constexpr int W = 2;
#endif
constexpr int P = L / W;
typedef double vd __attribute__((vector_size(W * sizeof(double))));
typedef uint64_t vu __attribute__((vector_size(W * sizeof(uint64_t))));
typedef int64_t vi __attribute__((vector_size(W * sizeof(int64_t))));

constexpr double ALPHA = 1.5, SCALE = 0.2, LR = 0.05, B = 0.6;

inline vd as_d(vu u) { return (vd)u; }
inline vu as_u(vd d) { return (vu)d; }
inline vd splat(double a) { return vd{} + a; }
inline vu splatu(uint64_t a) { return vu{} + a; }
// mask ? a : b, as bit operations (GCC scalarises ?: on double vectors); mask lanes are all ones or zeros
inline vd select(vi mask, vd a, vd b) { return as_d((as_u(a) & (vu)mask) | (as_u(b) & ~(vu)mask)); }

uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

struct Lanes {  // xoshiro256+ in each of the W lanes of a vector
  vu s0, s1, s2, s3;
  void seed(uint64_t seed, uint64_t stream) {
    for (int i = 0; i < W; ++i) {
      uint64_t s = seed * 0x100000001B3ull + stream * W + i;
      s0[i] = splitmix64(s); s1[i] = splitmix64(s); s2[i] = splitmix64(s); s3[i] = splitmix64(s);
    }
  }
  vu next() {
    vu r = s0 + s3, t = s1 << 17;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t;
    s3 = (s3 << 45) | (s3 >> 19);
    return r;
  }
};

// log(v) for v in (0, 1]: v = 2^e m, m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(f), f = (m - 1) / (m + 1).
inline vd log_kernel(vd v) {
  const vu bits = as_u(v);
  vi e = (vi)(bits >> 52) - 1023;
  vd m = as_d((bits & splatu(0x000FFFFFFFFFFFFFull)) | splatu(0x3FF0000000000000ull));
  const vi big = (vi)(m > splat(1.4142135623730951));
  m = select(big, m * 0.5, m);
  e -= big;  // big is -1 where true
  const vd ed = as_d((vu)(e + 0x4338000000000000ll)) - 6755399441055744.0;  // exact int64 -> double
  const vd f = (m - 1.0) / (m + 1.0), s = f * f;
  vd p = splat(1.0 / 19);
  p = p * s + 1.0 / 17; p = p * s + 1.0 / 15; p = p * s + 1.0 / 13; p = p * s + 1.0 / 11;
  p = p * s + 1.0 / 9;  p = p * s + 1.0 / 7;  p = p * s + 1.0 / 5;  p = p * s + 1.0 / 3;
  const vd logm = 2.0 * f + 2.0 * f * s * p;
  return ed * 6.93147180369123816490e-01 + (ed * 1.90821492927058770002e-10 + logm);
}

// expm1(y) for 0 <= y < 700: y = k ln2 + r, expm1(y) = 2^k expm1(r) + (2^k - 1).
inline vd expm1_kernel(vd y) {
  const double shifter = 6755399441055744.0;  // 1.5 * 2^52
  const vd t = y * 1.4426950408889634 + shifter;
  const vd k = t - shifter;
  const vd r = (y - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10;
  vd p = splat(1.0 / 6227020800.0);  // 1/13!
  p = p * r + 1.0 / 479001600; p = p * r + 1.0 / 39916800; p = p * r + 1.0 / 3628800; p = p * r + 1.0 / 362880;
  p = p * r + 1.0 / 40320; p = p * r + 1.0 / 5040; p = p * r + 1.0 / 720; p = p * r + 1.0 / 120;
  p = p * r + 1.0 / 24; p = p * r + 1.0 / 6; p = p * r + 0.5;
  const vd em1r = r + r * r * p;
  const vd two_k = as_d((as_u(t) << 52) + splatu(0x3FF0000000000000ull));
  return two_k * em1r + (two_k - 1.0);
}

// One Pareto variate per lane: the top 52 bits give U in (0, 1), bit 11 the sign.
inline vd pareto(Lanes& g) {
  const vu r = g.next();
  const vd d = as_d((r >> 12) | splatu(0x3FF0000000000000ull));  // [1, 2)
  const vd u = (2.0 - d) - 0x1p-53;                                 // (0, 1), exact
  const vd mag = expm1_kernel(log_kernel(u) * (-1.0 / ALPHA)) * SCALE;
  return as_d(as_u(mag) | ((r << 52) & splatu(0x8000000000000000ull)));
}

inline vd step(vd x, Lanes& g) {
  const vd z = pareto(g);
  vd w = LR * (z - (x + 1.0) * x * (x - 1.0));
  w = select(w < -B, splat(-B), w);
  w = select(w > B, splat(B), w);
  return x + w;
}

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

void w1(int64_t n, int steps, std::vector<double>& out, uint64_t seed) {
  const int64_t groups = (n + L - 1) / L;
#pragma omp parallel for schedule(dynamic, 256)
  for (int64_t gi = 0; gi < groups; ++gi) {
    Lanes g[P];
    vd x[P];
    for (int j = 0; j < P; ++j) g[j].seed(seed, gi * P + j), x[j] = splat(1.0);
    for (int s = 0; s < steps; ++s)
      for (int j = 0; j < P; ++j) x[j] = step(x[j], g[j]);
    for (int i = 0; i < L && gi * L + i < n; ++i) out[gi * L + i] = x[i / W][i % W];
  }
}

// W2: every thread runs 16 lanes; a lane whose particle exits takes the next particle id from a shared
// counter. The exit step is latched in the step loop and looked at every 8 steps (a lane runs at most 7
// steps past its exit; those are not counted). Idle lanes hold x = +inf, which never exits.
void w2(int64_t n, std::vector<int64_t>& exit_steps, uint64_t seed) {
  std::atomic<int64_t> next_id{0};
#pragma omp parallel
  {
    Lanes g[P];
    vd x[P], kd[P], exit_k[P];
    int64_t id[L];
    for (int j = 0; j < P; ++j) {
      g[j].seed(seed, (1000003 + omp_get_thread_num()) * P + j);
      x[j] = splat(1.0), kd[j] = exit_k[j] = splat(0.0);
    }
    for (int i = 0; i < L; ++i) {
      id[i] = next_id.fetch_add(1);
      if (id[i] >= n) x[i / W][i % W] = INFINITY;
    }
    for (;;) {
      for (int s = 0; s < 8; ++s)
        for (int j = 0; j < P; ++j) {
          x[j] = step(x[j], g[j]);
          kd[j] += 1.0;
          exit_k[j] = select((x[j] > 0.0) | (exit_k[j] != 0.0), exit_k[j], kd[j]);
        }
      bool any = false, active = false;
      for (int i = 0; i < L; ++i) any |= exit_k[i / W][i % W] != 0.0;
      if (!any) continue;
      for (int i = 0; i < L; ++i) {
        const int j = i / W, k = i % W;
        if (exit_k[j][k] != 0.0) {
          exit_steps[id[i]] = (int64_t)exit_k[j][k];
          id[i] = next_id.fetch_add(1);
          x[j][k] = id[i] < n ? 1.0 : INFINITY;
          kd[j][k] = 0.0;
          exit_k[j][k] = 0.0;
        }
        active |= id[i] < n;
      }
      if (!active) break;
    }
  }
}

template <class T>
void dump(const char* path, const std::vector<T>& v) {
  if (!path) return;
  FILE* f = std::fopen(path, "wb");
  if (!f || std::fwrite(v.data(), sizeof(T), v.size(), f) != v.size()) {
    std::fprintf(stderr, "cannot write %s\n", path);
    std::exit(2);
  }
  std::fclose(f);
}

// Largest relative error of the two kernels against long double libm over 2^20 points each.
void accuracy() {
  Lanes g;
  g.seed(7, 0);
  long double worst_log = 0, worst_expm1 = 0;
  for (int it = 0; it < (1 << 20) / W; ++it) {
    const vu r = g.next();
    const vd u = (2.0 - as_d((r >> 12) | splatu(0x3FF0000000000000ull))) - 0x1p-53;
    const vd y = u * 30.0 + (it & 1 ? 0.0 : -29.99);  // [0, 30) and small arguments
    const vd yy = select(y < 0.0, u * 1e-3, y);
    const vd lg = log_kernel(u), em = expm1_kernel(yy);
    for (int i = 0; i < W; ++i) {
      const long double el = logl((long double)u[i]), ee = expm1l((long double)yy[i]);
      if (el != 0) worst_log = std::fmax(worst_log, fabsl((lg[i] - el) / el));
      if (ee != 0) worst_expm1 = std::fmax(worst_expm1, fabsl((em[i] - ee) / ee));
    }
  }
  std::printf("{\"log_max_rel_error\": %.3g, \"expm1_max_rel_error\": %.3g, \"points\": %d}\n",
              (double)worst_log, (double)worst_expm1, 1 << 20);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && !std::strcmp(argv[1], "accuracy")) {
    accuracy();
    return 0;
  }
  if (argc < 5 || (std::strcmp(argv[1], "w1") && std::strcmp(argv[1], "w2"))) {
    std::fprintf(stderr, "usage: %s w1 N STEPS THREADS REPEAT [dump.f64] | w2 N THREADS REPEAT [dump.i64]\n",
                 argv[0]);
    return 2;
  }
  const bool is_w1 = !std::strcmp(argv[1], "w1");
  const int64_t n = std::atoll(argv[2]);
  const int steps = is_w1 ? std::atoi(argv[3]) : 0;
  const int a = is_w1 ? 4 : 3;
  const int threads = std::atoi(argv[a]), repeat = std::atoi(argv[a + 1]);
  const char* path = argc > a + 2 ? argv[a + 2] : nullptr;
  omp_set_num_threads(threads);
  double best = 1e300, best_cpu = 0, items = 0, mean = 0;
  std::vector<double> fin(is_w1 ? n : 0);
  std::vector<int64_t> ex(is_w1 ? 0 : n);
  for (int r = 0; r < repeat; ++r) {
    const double t0 = omp_get_wtime(), c0 = cpu_seconds();
    if (is_w1) w1(n, steps, fin, 1 + r); else w2(n, ex, 1 + r);
    const double t = omp_get_wtime() - t0, c = cpu_seconds() - c0;
    if (t < best) {
      best = t; best_cpu = c;
      double sum = 0;
      if (is_w1) { for (double v : fin) sum += v; items = double(n) * steps; }
      else { for (int64_t v : ex) sum += double(v); items = sum; }
      mean = sum / double(n);
      if (is_w1) dump(path, fin); else dump(path, ex);
    }
  }
  std::printf("{\"workload\": \"%s\", \"threads\": %d, \"items\": %.17g, \"seconds\": %.6g, \"cpu_seconds\": %.6g, "
              "\"rate\": %.6g, \"rate_per_cpu_s\": %.6g, \"mean\": %.10g}\n",
              argv[1], threads, items, best, best_cpu, items / best, items / best_cpu, mean);
  return 0;
}
