// Long-lived threads that run the kernels of run_interruptible. A fresh thread per call left the team of
// each finished call spinning (OpenMP's active wait) while the next call started its own, starving it on a
// small machine. A worker is reused instead, and ends its OpenMP team after each job (release_threads,
// parallel.hpp), so that no team outlives a call to slow other OpenMP users of the process (torch). Measured
// on 2 cores, 50 calls of 1e5 variates each with 2 threads: 372 ms with a thread per call, 20 ms now.
#pragma once
#include <functional>

namespace htsgd::bindings {

// Runs job() on an idle worker thread (a new one if none is idle; concurrent callers get different
// workers) and returns at once. After job() returns, the worker is idle again, then calls done().
// Neither may throw. Workers live until the process exits; a forked child starts with none.
void submit_to_worker(std::function<void()> job, std::function<void()> done);

}  // namespace htsgd::bindings
