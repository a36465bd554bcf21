// gc/phase_driver.h -- internal: the phase driver, one collection step by
// step.  Collector::Impl::collect() (phase_driver.cc) calls one method per
// phase below, in order; gc/collector.cc is the public Collector around it.
//
// The key idea (design.md §2): CPython's cycle detection needs no roots.
// For any set C of objects, with the world stopped and refcounts exact,
// gc_refs(x) = refcount(x) - (references to x from C) counts the references
// to x from outside C, and "alive" = reachable within C from an x with
// gc_refs(x) > 0.  Whatever C is, this never frees a live object.  So C can
// be chosen cheaply and imprecisely: the objects a concurrent mark did not
// reach.
//
// Phases of Collector::collect() in Mode::kConcurrent:
//   1. ROOT SCAN (STW).  Thread roots are collected; black allocation is
//      turned on, so every object allocated from here on is marked.
//   2. CONCURRENT MARK.  Global roots, then parallel marking (gc/marker.cc)
//      while mutators run.  Phases 2-3b and 8 run on mark_workers, or on
//      every core when the collecting thread waits with no mutator running
//      (Embedder::caller_runs_alone).  No write barrier: what marking
//      misses becomes a candidate.
//   3. CANDIDATE SCAN (concurrent).  C = live & ~marked, read from the
//      bitmaps in parallel (gc/candidate_set.h).  Black allocation is
//      turned off: later objects are not in C whatever their bits say.
//   3b. CANDIDATE FILTER (concurrent).  Without a write barrier, C holds
//      every subtree a mutator moved while marking ran (a third of the heap
//      under the core benchmark).  The verification's trial deletion runs
//      over C with the world running (guess_garbage, gc/verifier.h): racy,
//      so only a guess, but garbage that was already unreachable is always
//      guessed garbage, and what is seen referenced from outside leaves C.
//      Passes repeat over the shrinking guess until it settles.  C is then
//      split into batches of whole connected components (a concurrent
//      union-find, gc/component_batching.h), at most
//      CollectorConfig::verify_batch objects each.
//   4. VERIFY (STW, once per batch).  Verifier::find_garbage(batch):
//      refcounts, minus references within the batch, propagation; then
//      the garbage's dependents (on the same traces), what only that
//      garbage holds (floating garbage born black, hanging off it), are
//      garbage too, so that the embedder judges weak references over the
//      whole set at once.  Each garbage object is held (Embedder::hold) so
//      that it survives finalization.  A pause runs on pause_arena
//      (CollectorConfig::pause_workers: every core, the mutators being
//      stopped) and is O(batch + its references), not O(heap) -- nor O(|C|): the lemma holds for any
//      subset, so a batch is as sound as the whole.
//   5. FINALIZE (world running, per batch's garbage).  The embedder clears
//      weak references, runs callbacks and finalizers -- any of which may
//      resurrect garbage.
//   6. RESURRECTION CHECK (STW).  find_resurrected() over that garbage only;
//      skipped when the embedder says no code ran that could resurrect.
//   7. CLEAR (world running).  The embedder clears the confirmed garbage;
//      the collector releases every hold, which frees it.
//   8. CLEAR MARKS (world running).  Marks are reset for the next cycle.
// Mode::kFullStw skips 1-3b and builds C from every live object inside the
// pause of step 4: the in-run baseline, and the fallback when marking runs
// out of mark-stack memory.
//
// Invariants:
//   * marks are only read between steps 1 and 3 of one collection, and are
//     all clear when step 1 begins (step 8 of the previous one);
//   * black allocation is on exactly from step 1 to step 3;
//   * shading (Collector::shade) is on from step 1 to the end of the last
//     pause of step 4, and a shaded object is never garbage in that
//     collection: an object a mutator vouched for after the root scan
//     (e.g. the referent of a new weak reference with a callback, which
//     is black) is not judged by the verification, which cannot see the
//     black objects that hold it;
//   * one collection at a time (collect_mu); a caller attached to the
//     World waits for it in an inactive region, so it never blocks a stop.
//
// Concurrency of Collector::Impl's fields: config, heap, embedder, world
// and the arenas are fixed at construction; collect_mu serialises collections;
// listeners is guarded by listeners_mu; collections is atomic; the
// background thread's state (bg, trigger, bg_rounds) is guarded by bg_mu,
// which every thread takes only inside Embedder::enter_blocking() (so a
// thread waiting for it never holds up a stop) and never holds across a
// call that may wait for the world; bg_id is atomic, written by the
// background thread as it starts; self is fixed at construction; the
// pacer's fields are atomics (gc/pacer.h).
// shading is atomic, stored with the world stopped (on) or by the
// collecting thread (off); shaded is a concurrent vector that mutators push
// to while shading is on, cleared in the root-scan pause (no mutator is
// inside shade() then: it has no safepoint) and read in the verify pauses.
// A Collection (one collection's state, from phase to phase) belongs to
// the collecting thread alone.
#pragma once

#include <oneapi/tbb/concurrent_vector.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_scheduler_observer.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <type_traits>
#include <unordered_set>
#include <vector>

#include "gc/candidate_set.h"
#include "gc/pacer.h"
#include "gc/verifier.h"
#include "tricolor/collector.h"
#include "tricolor/embedder.h"
#include "tricolor/events.h"

namespace tricolor {

struct Collector::Impl {
  Impl(Heap& s, Embedder& e, World* w, const CollectorConfig& c)
      : config(c), heap(s), embedder(e), world(w),
        arena(c.mark_workers > 0 ? c.mark_workers : tbb::task_arena::automatic),
        pause_arena(c.pause_workers > 0 ? c.pause_workers : tbb::task_arena::automatic),
        pacer(Pacer::Settings{.growth_ratio = c.growth_ratio,
                              .reclaiming_growth_ratio = c.reclaiming_growth_ratio,
                              .reclaiming_fraction = c.reclaiming_fraction,
                              .min_trigger = c.min_trigger_bytes,
                              .assist = c.assist}) {
    // An explicit worker count also caps TBB's thread pool, which would
    // otherwise start a worker per core whatever the arena's size.
    if (c.mark_workers > 0) {
      int pause = c.pause_workers > 0 ? c.pause_workers : tbb::info::default_concurrency();
      limit.emplace(tbb::global_control::max_allowed_parallelism,
                    static_cast<std::size_t>(std::max(c.mark_workers, pause)));
    }
    arena.initialize();
    pause_arena.initialize();
    observer.emplace(arena, embedder);
    pause_observer.emplace(pause_arena, embedder);
  }

  /// One whole collection: the phases below, in order (phase_driver.cc).
  CollectionStats collect(Mode mode);
  /// The background collector thread's body (gc/collector.cc).
  void background_loop();

  /// One collection's state, handed from phase to phase.
  struct Collection {
    CollectionStats st;
    std::vector<void*> roots;     // 1-2: thread and global roots
    CandidateSet cands;
    CandidateSet domain;          // the candidates before filtering
    std::vector<void*> opaque;    // candidates no concurrent pass could trace
    std::vector<std::uint8_t> opaque_at;  // by candidate index: opaque (empty: none)
    std::vector<std::vector<std::size_t>> batches;
    std::optional<Verifier> verifier;
    std::vector<std::vector<void*>> garbage;  // per batch
    std::unordered_set<const void*> shaded_set;
    std::size_t shaded_seen = 0;
    // The concurrent phases' arena: `arena`, or `pause_arena` when the
    // caller runs alone (Embedder::caller_runs_alone).
    tbb::task_arena* work = nullptr;
  };

  // The phases (numbered as above).  5-7 run once per batch's garbage.
  void root_scan(Collection& c);         // 1
  void concurrent_mark(Collection& c);   // 2
  void candidate_scan(Collection& c);    // 3
  void candidate_filter(Collection& c);  // 3b
  void verify(Collection& c);            // 4
  // 4, one pause's work: `members`, closed over what `expand` (its opaque
  // members) reaches; returns the objects judged.
  std::size_t verify_batch(Collection& c, std::span<const std::size_t> members,
                           std::span<void* const> expand);
  bool finalize(Collection& c, const std::vector<void*>& garbage);         // 5; true: may resurrect
  std::vector<bool> resurrection_check(Collection& c, const std::vector<void*>& garbage);  // 6
  void clear(Collection& c, const std::vector<void*>& garbage,
             const std::vector<bool>& resurrected);                       // 7
  void clear_marks(Collection& c);       // 8

  static std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  // One phase: runs fn, records its time; for a pause, stops the world
  // around fn, records the time-to-safepoint and the pause, and reports it
  // to the listeners (on_pause, world running) with the number of objects
  // fn returns (a pause's fn returns one; see PauseEvent::objects).
  template <class F>
  void phase(CollectionStats& st, Phase p, F&& fn) {
    std::int64_t t0 = now_ns();
    std::optional<PauseEvent> pause;
    if (phase_is_pause(p)) {
      embedder.stop_world();
      std::int64_t stopped = now_ns();
      std::size_t objects = 0;
      if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
        fn();
      } else {
        objects = fn();
      }
      // The pause ends when the world is let go.  start_world() returns
      // later: on a busy machine the woken mutators can preempt this thread
      // before it does, and that wait is this thread's, not the world's.
      std::int64_t end = now_ns();
      embedder.start_world();
      st.wait_ns.push_back(stopped - t0);
      st.pause_ns.push_back(end - stopped);
      pause = PauseEvent{p, stopped - t0, end - stopped, objects};
    } else {
      fn();
    }
    std::int64_t ns = now_ns() - t0;
    st.phase_ns[static_cast<int>(p)] += ns;
    std::lock_guard lk(listeners_mu);
    if (pause) {
      for (EventListener* l : listeners) l->on_pause(*pause);
    }
    for (EventListener* l : listeners) l->on_phase(p, ns);
  }

  // Lets the embedder attach its thread state on every thread that works in
  // the collector's arena (TBB workers and the collecting thread).
  class WorkerObserver final : public tbb::task_scheduler_observer {
   public:
    WorkerObserver(tbb::task_arena& arena, Embedder& e) : tbb::task_scheduler_observer(arena), e_(e) {
      observe(true);
    }
    ~WorkerObserver() override { observe(false); }
    void on_scheduler_entry(bool) override { e_.attach_worker(); }
    void on_scheduler_exit(bool) override { e_.detach_worker(); }

   private:
    Embedder& e_;
  };

  // Candidate filter passes at most (see candidate_filter()).
  static constexpr int kFilterPasses = 4;

  const CollectorConfig config;
  std::optional<tbb::global_control> limit;
  Heap& heap;
  Embedder& embedder;
  World* world;
  tbb::task_arena arena;        // the concurrent phases' (mark_workers)
  tbb::task_arena pause_arena;  // the pauses' (pause_workers)
  std::optional<WorkerObserver> observer, pause_observer;
  Pacer pacer;
  std::mutex collect_mu;
  std::atomic<std::uint64_t> collections{0};
  std::atomic<bool> shading{false};
  tbb::concurrent_vector<void*> shaded;
  std::mutex listeners_mu;
  std::vector<EventListener*> listeners;
  // Background collector thread (gc/collector.cc): state, its thread id
  // (set by the thread itself), the triggers it has answered.
  Collector* self = nullptr;
  enum class Bg { kNone, kRunning, kStopping, kStopped };
  std::mutex bg_mu;
  std::condition_variable bg_cv;
  Bg bg = Bg::kNone;
  bool trigger = false;
  std::uint64_t bg_rounds = 0;
  std::atomic<std::thread::id> bg_id{};
};

}  // namespace tricolor
