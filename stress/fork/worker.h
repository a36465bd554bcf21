// stress/fork/worker.h -- the program's threads: each a real thread with
// its own PyThreadState, running the jobs the main thread posts.
#pragma once

#include "interpreter.h"

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace stressfork {

// A thread with its own PyThreadState, created detached; runs jobs (which
// attach and detach themselves) posted by the main thread.
class Worker {
 public:
  explicit Worker(int id) : id_(id), th_([this] { main(); }) {}
  ~Worker();
  void post(std::function<void()> job);
  // Called by the main thread, detached.
  void wait();
  void attach() { PyEval_RestoreThread(ts_); }
  void detach() { ts_ = PyEval_SaveThread(); }
  int id() const { return id_; }

 private:
  void main();

  int id_;
  PyThreadState* ts_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> job_;
  bool has_job_ = false, done_ = true, stop_ = false;
  std::thread th_;  // last: started once the rest is initialized
};

// Made by main once the interpreter runs, destroyed before it finalizes.
extern std::vector<std::unique_ptr<Worker>> g_workers;  // the program's threads
extern std::unique_ptr<Worker> g_collector;             // the concurrent variant's collecting thread

}  // namespace stressfork
