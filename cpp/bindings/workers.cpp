#include "workers.hpp"

#include "htsgd/parallel.hpp"

#include <pthread.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace htsgd::bindings {
namespace {

struct Worker {
  std::mutex mutex;
  std::condition_variable cv;
  std::function<void()> job, done;
  bool has_job = false;
};

// Never destroyed (threads may still wait on it at exit); replaced in a forked child, where the workers of
// the parent do not exist and the old mutex may be held.
struct Registry {
  std::mutex mutex;
  std::vector<Worker*> idle;
};
Registry* g_registry = nullptr;
std::once_flag g_atfork_once;

void reset_after_fork() { g_registry = new Registry; }

Registry& registry() {
  std::call_once(g_atfork_once, [] {
    g_registry = new Registry;
    pthread_atfork(nullptr, nullptr, &reset_after_fork);
  });
  return *g_registry;
}

void worker_loop(Worker* w) {
  for (;;) {
    std::function<void()> job, done;
    {
      std::unique_lock<std::mutex> lock(w->mutex);
      w->cv.wait(lock, [w] { return w->has_job; });
      job = std::move(w->job);
      done = std::move(w->done);
      w->has_job = false;
    }
    job();
    release_threads();  // parallel.hpp: keep no OpenMP team between calls
    {
      Registry& r = registry();
      std::lock_guard<std::mutex> lock(r.mutex);
      r.idle.push_back(w);  // idle before done(): the caller's next call finds this worker (and its team)
    }
    done();
  }
}

}  // namespace

void submit_to_worker(std::function<void()> job, std::function<void()> done) {
  Worker* w = nullptr;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    if (!r.idle.empty()) {
      w = r.idle.back();
      r.idle.pop_back();
    }
  }
  if (w == nullptr) {
    w = new Worker;  // lives as long as its thread, i.e. the process
    std::thread(worker_loop, w).detach();
  }
  {
    std::lock_guard<std::mutex> lock(w->mutex);
    w->job = std::move(job);
    w->done = std::move(done);
    w->has_job = true;
  }
  w->cv.notify_one();
}

}  // namespace htsgd::bindings
