// Long-lived threads that run the kernels of run_interruptible. Reusing a thread keeps its OpenMP team: a
// fresh thread per call starts a new team every time, and the abandoned team's threads keep spinning for
// milliseconds (OpenMP's active wait), starving the next call's threads on a small machine. Measured on 2
// cores: 50 fill_noise calls of 1e5 variates took 372 ms with a thread per call, 27 ms with reused ones.
#pragma once
#include <functional>

namespace htsgd::bindings {

// Runs job() on an idle worker thread (a new one if none is idle; concurrent callers get different
// workers) and returns at once. After job() returns, the worker is idle again, then calls done().
// Neither may throw. Workers live until the process exits; a forked child starts with none.
void submit_to_worker(std::function<void()> job, std::function<void()> done);

}  // namespace htsgd::bindings
