// stress/core/harness.h -- runs a program (program.h) on a fresh synthetic
// runtime in checked mode, against a reference model, and returns every
// invariant it saw broken.
//
// Two harnesses, one per file: interleaved_harness.cc (run_interleaved,
// with its model) and concurrent_harness.cc (run_concurrent); what both
// use (the runtime's configuration, the mutator threads, the messages) is
// declared at the end of this header, in stress::detail, and defined in
// harness.cc.
//
// Threads.  Each model thread is a real thread with its own
// synthetic::Mutator; between operations it waits in an inactive region,
// so the world can stop without it.  The collector runs on the calling
// thread (not a mutator).
//
// run_interleaved(): the operations run one at a time, in program order,
// each on its thread; a collect's `during` operations run from the
// collector's phase hook (Runtime::on_phase_end), after their phase, with
// the collector waiting.  Deterministic, so rapidcheck can shrink.  The
// model mirrors every strong reference (slots, locals, globals) and checks
// the rules below.  Each names the lines of CPython 3.13.5 it models
// (Python/gc_free_threading.c unless another file is named; the stock
// collector, whose results the concurrent one must match):
//   I1 nothing reachable from a local or a global is freed, and every slot
//      of a reachable object still holds what the program stored.
//      deduce_unreachable_heap (601-644): only objects no reference from
//      outside the heap's cycles reaches are moved to `unreachable`, and
//      delete_garbage (819-864) tp_clears only those;
//   I2 an object unreachable when collection s starts (or while it runs) is
//      freed by the end of collection s+1: within 2 collections.  Stock
//      frees every unreachable cycle in the collection that finds it
//      (gc_collect_internal, 1109-1181); a concurrent collection may leave
//      what dies while it marks for the next one -- the one allowance the
//      model makes over stock;
//   I3 the garbage handed to finalization was unreachable at the
//      verification; each finalizer runs exactly once, before its object
//      is freed.  finalize_garbage (800-816) runs tp_finalize only if
//      _PyGC_FINALIZED is clear and sets it (PEP 442); a refcount death
//      goes through PyObject_CallFinalizerFromDealloc (Objects/object.c
//      573-) with the same flag;
//   I4 weak references.  clear_weakrefs (673-722), in the stop-the-world
//      pause, before call_weakref_callbacks (725-748) and finalize_garbage:
//      a. every weak reference to the garbage is cleared before any
//         callback or finalizer runs (a finalizer that dereferences one
//         gets nothing) -- lines 697-703;
//      b. a weak reference that is itself garbage is cleared (678-684,
//         bpo-38006) and reads None from then on, even once a finalizer
//         resurrects it; its callback never runs, in that collection
//         (707-713: not queued) or later (it left its referent's list);
//      c. a callback runs at most once (queued once, 716-719), and exactly
//         once for a live weak reference that outlives its referent
//         (PyObject_ClearWeakRefs, Objects/weakrefobject.c 985-1061, for a
//         refcount death: a weak reference whose own count is 0 gets none,
//         1039 _Py_TryIncref); a callback the collection runs needs a
//         moment when its weak reference was reachable and its referent
//         was not (else both died together: 707-713);
//      d. a weak reference that was never garbage, to a referent that is
//         reachable and was never garbage, is never cleared: clear_weakrefs
//         touches only the weak references of `unreachable` objects and
//         the unreachable weak references themselves;
//   I5 what a finalizer resurrects survives, with its contents.
//      handle_resurrected_objects (906-993): an object with outside
//      references after the finalizers, and all it reaches, leaves
//      `unreachable` (962-985), so delete_garbage never tp_clears it;
//   I6 the checked runtime's own checks (synthetic/runtime.h): the
//      collector inspects only objects, never one under construction with
//      the world running; no mutator runs while the world is stopped; no
//      mutator uses a freed object.  The embedder contract of a concurrent
//      collector, which stock needs no rule for: it inspects objects only
//      with the world stopped (gc_visit_heaps under _PyEval_StopTheWorld,
//      1111);
//   and at the end, with every root dropped, collections free everything.
//
// run_concurrent(): each thread runs its own operations at full speed,
// polling between them, while the calling thread collects in a loop
// (alternating modes).  No model -- the interleaving is the machine's --
// so it checks I6, finalizers at most once, callbacks after clearing, and
// that everything is freed at the end; under ASan, any use of freed
// memory.  The shape's timing plan (program.h) makes races show in every
// build, not only under one build's speed: the collector waits after
// chosen phases (world running), and allocations pause between their two
// bitmap stores -- the window of the race issue 17 found, where a
// candidate scan took a block being allocated for a candidate.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "stress/core/program.h"
#include "synthetic/runtime.h"

namespace stress {

/// Runs `program` deterministically; returns the violations (empty: passed).
std::vector<std::string> run_interleaved(const std::vector<Op>& program, const Shape& shape);

/// Runs `per_thread[t]` on thread t, all at once, while collecting.
std::vector<std::string> run_concurrent(const std::vector<std::vector<Op>>& per_thread,
                                        const Shape& shape);

// ---------------------------------------------------------------------------
// Shared by the two harnesses (harness.cc).

namespace detail {

using synthetic::Mutator;
using synthetic::Object;
using synthetic::Runtime;

// An object's name in messages: #<id>.
std::string id(std::uint64_t rid);

// The survivors of a run, for the failure message: each with its refcount,
// the references it gets from the other survivors, its flags and slots.
std::string describe(const std::vector<Object*>& objs);

// A wait of the timing plan: 1 is a yield.
void wait_us(int us);

// A failed allocation is a finding, not a crash: the Space returns
// nullptr only when it can add no arena (a spurious nullptr once crashed
// the concurrent property: issue 17).
std::string allocation_failed(Runtime& rt, int slots);

// The checked runtime a case runs on: only the program collects, with the
// case's verification batch size.
synthetic::RuntimeConfig config(const Shape& shape);

// The timing plan's allocation pause (program.h), set on the Space before
// any mutator thread starts (allocator/testing.h).
void set_alloc_pause(const Shape& shape, tricolor::Space& space);

// A mutator thread that runs jobs handed to it, one at a time; idle (and
// so stopped, for the world) in between.
class Worker {
 public:
  using Job = std::function<void(Mutator&)>;
  explicit Worker(Runtime& rt) : rt_(rt), thread_([this] { loop(); }) {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return m_ != nullptr; });  // attached and ready
  }
  ~Worker() {
    post({}, /*wait=*/false);
    thread_.join();
  }
  // Runs job on this thread; with `wait`, returns when it is done.
  void post(Job job, bool wait = true) {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return !pending_; });
    job_ = std::move(job);
    pending_ = true;
    quit_ = !job_;
    cv_.notify_all();
    if (wait) cv_.wait(lk, [&] { return !pending_; });
  }
  Mutator& mutator() { return *m_; }

 private:
  void loop() {
    Mutator m(rt_);
    {
      std::lock_guard lk(mu_);
      m_ = &m;
      cv_.notify_all();
    }
    for (;;) {
      Job job;
      {
        tricolor::InactiveScope idle(rt_.world());
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return pending_; });
        if (quit_) break;
        job = std::move(job_);
      }
      job(m);
      m.safepoint();
      std::lock_guard lk(mu_);
      pending_ = false;
      cv_.notify_all();
    }
  }
  Runtime& rt_;
  std::mutex mu_;
  std::condition_variable cv_;
  Job job_;
  bool pending_ = false, quit_ = false;
  Mutator* m_ = nullptr;
  std::thread thread_;
};

}  // namespace detail

}  // namespace stress
