// stress/fork/worker.cc -- see worker.h.
#include "worker.h"

#include <string>

#include "context.h"  // hang, kHangTimeout

namespace stressfork {

std::vector<std::unique_ptr<Worker>> g_workers;
std::unique_ptr<Worker> g_collector;

Worker::~Worker() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  th_.join();
}

void Worker::post(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> l(mu_);
    job_ = std::move(job);
    has_job_ = true;
    done_ = false;
  }
  cv_.notify_all();
}

void Worker::wait() {
  std::unique_lock<std::mutex> l(mu_);
  if (!cv_.wait_for(l, kHangTimeout, [&] { return done_; })) {
    l.unlock();
    hang("waiting for thread " + std::to_string(id_));
  }
}

void Worker::main() {
  ts_ = PyThreadState_New(g_py.interp);  // bound to this thread, detached
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return has_job_ || stop_; });
      if (!has_job_) break;
      job = std::move(job_);
      has_job_ = false;
    }
    job();
    {
      std::lock_guard<std::mutex> l(mu_);
      done_ = true;
    }
    cv_.notify_all();
  }
  PyEval_RestoreThread(ts_);
  PyThreadState_Clear(ts_);
  PyThreadState_DeleteCurrent();
}

}  // namespace stressfork
