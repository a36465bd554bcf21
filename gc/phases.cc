// gc/phases.cc -- the phase driver: one collection, step by step.
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
//      while mutators run.  No write barrier: what marking misses becomes a
//      candidate.
//   3. CANDIDATE SCAN (concurrent).  C = live & ~marked, read from the
//      bitmaps in parallel (gc/verify.h CandidateSet).  Black allocation is
//      turned off: later objects are not in C whatever their bits say.
//   3b. CANDIDATE FILTER (concurrent).  Without a write barrier, C holds
//      every subtree a mutator moved while marking ran (a third of the heap
//      under the core benchmark).  The verification's trial deletion runs
//      over C with the world running (guess_garbage): racy, so only a
//      guess, but garbage that was already unreachable is always guessed
//      garbage, and what is seen referenced from outside leaves C.  Passes
//      repeat over the shrinking guess until it settles.  C is then split into batches of whole connected components (a concurrent
//      union-find), at most CollectorConfig::verify_batch objects each.
//   4. VERIFY (STW, once per batch).  Verifier::find_garbage(batch):
//      refcounts, minus references within the batch, propagation; then
//      Verifier::held_only_by: what only that garbage holds (floating
//      garbage born black, hanging off it) is garbage too, so that the
//      embedder judges weak references over the whole set at once.  Each
//      garbage object is held (Embedder::hold) so that it survives
//      finalization.  A pause is O(batch + its references), not O(heap) --
//      nor O(|C|): the lemma holds for any subset, so a batch is as sound
//      as the whole.
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
// and arena are fixed at construction; collect_mu serialises collections;
// listeners is guarded by listeners_mu; collections is atomic; the
// background thread's state (trigger, stop, bg_alive) is guarded by bg_mu.
// shading is atomic, stored with the world stopped (on) or by the
// collecting thread (off); shaded is a concurrent vector that mutators push
// to while shading is on, cleared in the root-scan pause (no mutator is
// inside shade() then: it has no safepoint) and read in the verify pauses.
#include "tricolor/collector.h"

#include <oneapi/tbb/concurrent_vector.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_scheduler_observer.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <algorithm>
#include <optional>
#include <thread>

#include "gc/marker.h"
#include "gc/pacer.h"
#include "gc/verify.h"
#include "tricolor/mutator.h"
#include "tricolor/heap.h"
#include "tricolor/mutants.h"

namespace tricolor {

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
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

class VectorVisitor final : public Visitor {
 public:
  explicit VectorVisitor(std::vector<void*>& out) : out_(out) {}
  void visit(void* obj) override {
    if (obj) out_.push_back(obj);
  }

 private:
  std::vector<void*>& out_;
};

}  // namespace

// Candidate filter passes at most (see collect()).
constexpr int kFilterPasses = 4;

struct Collector::Impl {
  Impl(Heap& s, Embedder& e, World* w, const CollectorConfig& c)
      : config(c), heap(s), embedder(e), world(w),
        arena(c.mark_workers > 0 ? c.mark_workers : tbb::task_arena::automatic),
        pacer(c.growth_ratio, c.min_trigger_bytes) {
    // An explicit worker count also caps TBB's thread pool, which would
    // otherwise start a worker per core whatever the arena's size.
    if (c.mark_workers > 0) {
      limit.emplace(tbb::global_control::max_allowed_parallelism,
                    static_cast<std::size_t>(c.mark_workers));
    }
    arena.initialize();
    observer.emplace(arena, embedder);
  }

  CollectionStats collect(Mode mode);
  void background_loop();

  // One phase: runs fn, records its time; for a pause, stops the world
  // around fn and records the time-to-safepoint and the pause.
  template <class F>
  void phase(CollectionStats& st, Phase p, F&& fn) {
    std::int64_t t0 = now_ns();
    if (phase_is_pause(p)) {
      embedder.stop_world();
      std::int64_t stopped = now_ns();
      fn();
      // The pause ends when the world is let go.  start_world() returns
      // later: on a busy machine the woken mutators can preempt this thread
      // before it does, and that wait is this thread's, not the world's.
      std::int64_t end = now_ns();
      embedder.start_world();
      st.wait_ns.push_back(stopped - t0);
      st.pause_ns.push_back(end - stopped);
    } else {
      fn();
    }
    std::int64_t ns = now_ns() - t0;
    st.phase_ns[static_cast<int>(p)] += ns;
    std::lock_guard lk(listeners_mu);
    for (EventListener* l : listeners) l->on_phase(p, ns);
  }

  const CollectorConfig config;
  std::optional<tbb::global_control> limit;
  Heap& heap;
  Embedder& embedder;
  World* world;
  tbb::task_arena arena;
  std::optional<WorkerObserver> observer;
  Pacer pacer;
  std::mutex collect_mu;
  std::atomic<std::uint64_t> collections{0};
  std::atomic<bool> shading{false};
  tbb::concurrent_vector<void*> shaded;
  std::mutex listeners_mu;
  std::vector<EventListener*> listeners;
  // Background collector thread.
  std::mutex bg_mu;
  std::condition_variable bg_cv;
  bool trigger = false, stop = false, bg_alive = false;
  std::thread bg;
};

CollectionStats Collector::Impl::collect(Mode mode) {
  std::unique_lock lk(collect_mu, std::defer_lock);
  if (world && world->attached()) {
    InactiveScope waiting(*world);  // a caller that waits must not block a stop
    lk.lock();
  } else {
    lk.lock();
  }
  CollectionStats st;
  st.full_stw = mode == Mode::kFullStw;
  st.mark_workers = arena.max_concurrency();
  {
    std::lock_guard g(listeners_mu);
    for (EventListener* l : listeners) l->on_collection_start(st.full_stw);
  }
  CandidateSet cands;
  CandidateSet domain;          // the candidates before filtering
  std::vector<void*> opaque;    // candidates no concurrent pass could trace
  std::vector<std::vector<std::size_t>> batches;
  if (!st.full_stw) {
    std::vector<void*> roots;
    phase(st, Phase::kRootScan, [&] {
      VectorVisitor v(roots);
      embedder.for_each_thread_root(v);
      if (!TC_MUTANT(NoBlackAllocation)) heap.set_black_allocation(true);
      shaded.clear();
      shading.store(true, std::memory_order_seq_cst);
    });
    phase(st, Phase::kConcurrentMark, [&] {
      VectorVisitor v(roots);
      embedder.for_each_global_root(v);
      Marker marker(heap, embedder, config.mark_stack_limit_for_testing);
      bool ok = arena.execute([&] { return marker.run(std::move(roots)); });
      st.marked = marker.marked();
      st.opaque_marked = marker.opaque();
      if (!ok) {
        st.fell_back = true;
        st.fallback_reason = marker.failure();
        std::fprintf(stderr, "tricolor: concurrent marking gave up (%s after %zu objects); "
                     "falling back to a full stop-the-world collection\n",
                     st.fallback_reason, st.marked);
      }
    });
    phase(st, Phase::kCandidateScan, [&] {
      if (!st.fell_back) arena.execute([&] { cands.build_from_heap(heap, /*all=*/false); });
      heap.set_black_allocation(false);
    });
    st.candidates = cands.size();
    if (!st.fell_back) {
      phase(st, Phase::kCandidateFilter, [&] {
        // Each pass runs over the previous pass's guess only, with fresh
        // refcounts: a live object that a mutator's move made look like
        // garbage once (design.md §4.6) is unlikely to again.  Stop when a
        // pass keeps 7/8 of its input or more (what is left is mostly
        // garbage), or after kFilterPasses.  Opaque candidates always stay:
        // their batch is closed over what they reference, inside `domain`.
        for (int pass = 0; config.filter_candidates && pass < kFilterPasses; pass++) {
          std::size_t before = cands.size();
          std::vector<void*> guessed =
              arena.execute([&] { return guess_garbage(embedder, cands, &opaque); });
          if (pass == 0) domain = cands;
          cands.build_from_list(heap, guessed);
          if (cands.size() * 8 >= before * 7) break;
        }
        arena.execute([&] { batches = batch_by_component(embedder, cands, config.verify_batch, &opaque); });
        std::sort(opaque.begin(), opaque.end());
        opaque.erase(std::unique(opaque.begin(), opaque.end()), opaque.end());
      });
    }
    st.full_stw = st.fell_back;
  }
  // 4. Verify, one pause per batch of whole components; full-STW mode
  // builds C inside the pause and verifies it in one go.
  std::optional<Verifier> verifier;
  std::vector<std::vector<void*>> garbage;  // per batch
  std::unordered_set<const void*> shaded_set;
  std::size_t shaded_seen = 0;
  auto verify = [&](std::span<const std::size_t> members) {
    // World stopped: nobody pushes; take what was shaded since the last
    // pause -- only if this collection turned shading on (a full-STW one
    // does not; the vector then holds an earlier collection's entries).
    if (shading.load(std::memory_order_relaxed)) {
      for (; shaded_seen < shaded.size(); shaded_seen++) shaded_set.insert(shaded[shaded_seen]);
      verifier->set_shaded(&shaded_set);
    }
    std::vector<void*> expand;
    for (std::size_t i : members) {
      if (std::binary_search(opaque.begin(), opaque.end(), cands.object(i))) expand.push_back(cands.object(i));
    }
    VerifyResult vr = arena.execute([&] { return verifier->find_garbage(members, expand); });
    // (Nothing to add in full-STW mode: every live object was a candidate.)
    std::vector<void*> dependent = st.full_stw || TC_MUTANT(NoDependents)
                                       ? std::vector<void*>{}
                                       : verifier->held_only_by(vr.garbage);
    st.dependent += dependent.size();
    vr.garbage.insert(vr.garbage.end(), dependent.begin(), dependent.end());
    for (void* g : vr.garbage) embedder.hold(g);
    st.garbage += vr.garbage.size();
    st.expanded += vr.expanded;
    if (!vr.garbage.empty()) garbage.push_back(std::move(vr.garbage));
  };
  if (st.full_stw) {
    phase(st, Phase::kVerify, [&] {
      arena.execute([&] { cands.build_from_heap(heap, /*all=*/true); });
      verifier.emplace(embedder, cands, nullptr, &heap);
      verify(cands.indices());
    });
  } else {
    verifier.emplace(embedder, cands, config.filter_candidates ? &domain : &cands, &heap);
    for (const auto& b : batches) phase(st, Phase::kVerify, [&] { verify(b); });
  }
  st.shaded = shading.load(std::memory_order_relaxed) ? shaded.size() : 0;
  shading.store(false, std::memory_order_relaxed);
  st.opaque_candidates = opaque.size();
  if (st.full_stw) st.candidates = cands.size();
  st.verified = cands.size();
  // 5.-7. Finalize, check for resurrection (per batch), clear, release.
  for (const auto& g : garbage) {
    bool may_resurrect = false;
    phase(st, Phase::kFinalize, [&] { may_resurrect = embedder.finalize(g); });
    std::vector<bool> resurrected(g.size(), false);
    if (may_resurrect && !TC_MUTANT(NoResurrectionCheck)) {
      phase(st, Phase::kResurrectionCheck, [&] {
        resurrected = arena.execute([&] { return verifier->find_resurrected(g); });
      });
    }
    std::vector<void*> confirmed;
    for (std::size_t k = 0; k < g.size(); k++) {
      if (resurrected[k]) st.resurrected++;
      else confirmed.push_back(g[k]);
    }
    phase(st, Phase::kClear, [&] {
      embedder.clear(confirmed);
      for (void* o : g) embedder.release(o);
    });
  }
  phase(st, Phase::kClearMarks, [&] { arena.execute([&] { heap.clear_marks(); }); });
  pacer.collected();
  collections.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard g(listeners_mu);
  for (EventListener* l : listeners) l->on_collection_end(st);
  return st;
}

void Collector::shade(void* obj) {
  if (TC_MUTANT(NoShade)) return;
  if (obj != nullptr && impl_->shading.load(std::memory_order_acquire)) impl_->shaded.push_back(obj);
}

void Collector::Impl::background_loop() {
  std::unique_lock lk(bg_mu);
  for (;;) {
    bg_cv.wait(lk, [&] { return trigger || stop; });
    if (stop) return;
    trigger = false;
    lk.unlock();
    collect(config.mode);
    lk.lock();
  }
}

Collector::Collector(Heap& heap, Embedder& embedder, World* world, const CollectorConfig& config)
    : impl_(std::make_unique<Impl>(heap, embedder, world, config)) {
  if (embedder.world_ != nullptr && embedder.world_ != world) {
    throw UsageError("Collector: this Embedder already belongs to a Collector with another World");
  }
  embedder.world_ = world;
  if (config.background) {
    impl_->bg_alive = true;
    impl_->bg = std::thread([this] { impl_->background_loop(); });
  }
}

Collector::~Collector() {
  shutdown();
  impl_->embedder.world_ = nullptr;
}

void Collector::shutdown() {
  {
    std::lock_guard lk(impl_->bg_mu);
    if (!impl_->bg_alive) return;
    impl_->bg_alive = false;
    impl_->stop = true;
  }
  impl_->bg_cv.notify_all();
  impl_->bg.join();
}

CollectionStats Collector::collect() { return impl_->collect(impl_->config.mode); }
CollectionStats Collector::collect(Mode mode) { return impl_->collect(mode); }

void Collector::note_allocation(std::size_t bytes) {
  if (!impl_->pacer.allocated(bytes)) return;
  {
    std::lock_guard lk(impl_->bg_mu);
    if (impl_->bg_alive) {
      impl_->trigger = true;
      impl_->bg_cv.notify_one();
      return;
    }
  }
  impl_->collect(impl_->config.mode);
}

void Collector::note_free(std::size_t bytes) { impl_->pacer.freed(bytes); }

void Collector::add_listener(EventListener* listener) {
  std::lock_guard lk(impl_->listeners_mu);
  impl_->listeners.push_back(listener);
}

std::uint64_t Collector::collections() const {
  return impl_->collections.load(std::memory_order_relaxed);
}

const CollectorConfig& Collector::config() const { return impl_->config; }

}  // namespace tricolor
