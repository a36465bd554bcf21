// tricolor/embedder.h -- the contract between the collector and the runtime
// that embeds it.  The runtime implements it; the collector calls it.  The
// collector never looks inside an object: it learns the object graph from
// trace(), the external references from refcount(), and leaves every object
// operation (finalizers, weak references, breaking cycles) to the runtime.
// Objects are the pointers the runtime allocated from the collector's Heap
// (tricolor/heap.h; tricolor/space.h is one); the collector considers only
// those.  docs/embedding.md walks through a complete embedder
// (examples/minimal/).
//
// Call order of one collection (gc/phase_driver.cc, which is the truth;
// gc/phase_driver.h numbers the phases).  Everything runs on the collecting
// thread (the caller of Collector::collect(), or the background thread)
// except where "workers" says: there the calls are spread over the
// collector's TBB worker threads and the collecting thread, in parallel.
// STW = between stop_world() and start_world(): no mutator runs.
//
//   [EventListener::on_collection_start]
//   1 root scan     stop_world
//                     for_each_thread_root       STW; the default calls
//                       for_each_mutator_root*   once per World::set_roots()
//                                                context of an attached thread
//                   start_world
//   2 mark          for_each_global_root         world running
//                   trace(concurrent=true)*      world running, workers
//   3 candidate     (the Heap's bitmaps only)
//     scan
//   3b filter       collectable*, refcount*,     world running, workers; each
//                   trace(concurrent=true)*      candidate, up to 4 passes
//                                                (CollectorConfig::filter_
//                                                candidates; refcount() and
//                                                trace() only if collectable)
//                   trace(concurrent=true)*      world running, workers: the
//                                                batching, every candidate
//                                                (collectable or not)
//   4 verify        once per batch:
//                   stop_world
//                     collectable*, trace*       STW: closing the batch over
//                                                what its opaque members reach
//                     collectable*, refcount*    STW, workers: every member;
//                                                refcount() only if collectable
//                     trace*                     STW, workers: every
//                                                collectable member, then the
//                                                propagation from the live ones
//                     refcount_error*            STW: a count found too small
//                     trace*, collectable*,      STW: the garbage's
//                     refcount*                  dependents (what only it holds)
//                     hold_all                   STW: the batch's garbage
//                                                (default: hold() on each)
//                   start_world
//   then for each batch that found garbage, in batch order:
//   5 finalize      finalize(garbage)            world running
//   6 resurrection  stop_world                   only if finalize() returned
//     check                                      true
//                     refcount*, trace*          STW, workers: that garbage
//                                                only (no collectable() call)
//                   start_world
//   7 clear         clear(confirmed)             world running: the garbage
//                                                not resurrected
//                   release*                     world running: every object
//                                                hold() took, resurrected too
//   8 clear marks   (the Heap only)
//   [EventListener::on_collection_end]
//
// Mode::kFullStw, and a concurrent collection whose marking gave up, skip
// 1-3b (a fallen-back one has run 1 and 2): step 4 is one pause over every
// object of the Heap, without the dependents step.  attach_worker() and
// detach_worker() run on a worker thread as it joins and leaves the
// collector's TBB arena: at any "workers" step, so possibly with the world
// stopped.  EventListener::on_phase() follows each phase, and on_pause()
// each pause once the world runs again (tricolor/events.h).
//
// Automatic collections (Collector::note_allocation(), or pace() and
// request_collection()): with CollectorConfig::background, start_thread()
// once, at the first trigger, then collect_automatically() on that thread
// for each trigger; without one (or if start_thread() returned false),
// collect_automatically() on the triggering thread.  enter_blocking() and
// leave_blocking() bracket every wait of the collector's outside a
// collection: the background thread between triggers, an assist,
// Collector::shutdown().
//
// Object lifetime: two rules the collector cannot check for the runtime.
//   1. Hold freed memory back during a collection.  The concurrent steps
//      read objects that mutators free meanwhile -- a pointer the marker
//      took from a slot, a candidate of the snapshot of step 3 -- so a
//      block must not go back to the Heap (its starts bit cleared, its
//      memory reused) while a collection may still read it.  From
//      EventListener::on_collection_start to on_collection_end, an object
//      whose refcount reaches zero is torn down (its references dropped)
//      but its block is kept, readable, with its starts bit; the blocks
//      kept are freed at on_collection_end.  trace() of such a dead object
//      must stay safe (it reports what it still holds, or nothing).
//   2. Report a dead-but-unfreed object as not collectable.  A block held
//      back is still an object to the Heap, hence a candidate: collectable()
//      must return false for it (refcount zero: not collectable).  If it
//      said true, the verification would find it garbage (nothing
//      references it), hold() and release() it, and the runtime would free
//      it a second time.
// Freeing at refcount zero as CPython's deallocators do, with neither rule,
// made the collector trace about 250 000 freed blocks per collection in
// the synthetic runtime, and reporting them collectable double-freed them.
// examples/minimal/ and examples/synthetic/ keep both rules; the CPython
// binding gets rule 1 from QSBR and mimalloc arenas that are never
// unmapped, and rule 2 from "tracked" (papers/design.md §6.2).
#pragma once

#include <cstdint>
#include <span>

namespace tricolor {

class Collector;
class World;

/// Receives the references an object or a root set holds.
class Visitor {
 public:
  virtual ~Visitor() = default;
  /// One reference; `obj` may be nullptr or point outside the Heap, and the
  /// collector ignores those.
  virtual void visit(void* obj) = 0;
};

/// What a runtime implements to use the collector.
class Embedder {
 public:
  virtual ~Embedder() = default;

  /// Reports every reference `obj` holds. With `concurrent` true the world
  /// is running: the embedder must make that safe (locks, a consistent
  /// snapshot, a type allowlist) or return false to leave the object opaque
  /// (its referents then become candidates, which costs pause time, never
  /// soundness). With the world stopped (`concurrent` false) it must report
  /// every reference and return true.
  virtual bool trace(void* obj, Visitor& v, bool concurrent) = 0;

  /// The object's reference count, every thread's share merged. With the
  /// world stopped it must be exact and count every reference from outside
  /// the heap (stacks, globals, other runtimes) -- the soundness of the
  /// collector rests on it. The candidate filter also calls it (and
  /// collectable()) with the world running, on candidates only: it must then
  /// be safe to call, and may be stale.
  virtual std::intptr_t refcount(void* obj) = 0;

  /// Whether the object takes part in collection at all (CPython: tracked,
  /// not frozen). Objects that do not are treated as external roots: never
  /// garbage, and alive with everything they reference.  A dead object
  /// whose block the runtime holds back must answer false (the lifetime
  /// rules above).  Called with the world running (step 3b) and stopped
  /// (steps 4, with refcount()).
  virtual bool collectable(void* obj) { (void)obj; return true; }

  /// Global roots (module tables, interned strings, ...), world running,
  /// on the collecting thread.  Racy reads are fine: roots only make
  /// marking more productive; soundness rests on refcount().
  virtual void for_each_global_root(Visitor& v) { (void)v; }
  /// Per-thread roots (stacks, frames), world stopped, on the collecting
  /// thread.  The default calls for_each_mutator_root() with each context
  /// an attached thread of the collector's World gave World::set_roots();
  /// a runtime that keeps its own thread list overrides this instead.
  virtual void for_each_thread_root(Visitor& v);
  /// One mutator's roots, world stopped, on the collecting thread: `roots`
  /// is what that thread passed to World::set_roots().  Called by the
  /// default for_each_thread_root(), once per such thread and root scan
  /// (compare Whippet's gc_trace_mutator_roots, MMTk's
  /// scan_roots_in_mutator_thread).
  virtual void for_each_mutator_root(void* roots, Visitor& v) { (void)roots; (void)v; }

  /// Stops the world. The default uses the collector's own World
  /// (tricolor/stop_the_world.h); a runtime with its own protocol
  /// overrides both.
  virtual void stop_world();
  /// Restarts the world stopped by stop_world().
  virtual void start_world();

  /// Takes a strong reference to a garbage object so that it survives until
  /// release() (world stopped, on the collecting thread).
  virtual void hold(void* obj) = 0;
  /// hold() on each of one pause's garbage, in one call (world stopped, on
  /// the collecting thread, once per batch that found garbage).  A runtime
  /// with more to do per garbage object in that pause overrides it and does
  /// all of it in one pass over the array.
  virtual void hold_all(std::span<void* const> garbage) {
    for (void* obj : garbage) hold(obj);
  }
  /// Drops the reference hold() took; may free the object (world running,
  /// on the collecting thread; the lifetime rules apply: the collection is
  /// still in progress).
  virtual void release(void* obj) = 0;
  /// Runs finalization for the garbage, world running: clear weak
  /// references, run their callbacks, run finalizers. Objects may be
  /// resurrected here. Returns whether any code ran that could have
  /// resurrected one; if so the collector checks, with the world stopped,
  /// before it clears anything (if not, that pause is skipped).
  virtual bool finalize(std::span<void* const> garbage) { (void)garbage; return false; }
  /// Breaks the references among confirmed garbage (CPython: tp_clear), world
  /// running. The objects are freed when release() drops the last reference.
  virtual void clear(std::span<void* const> garbage) = 0;

  /// A marker thread starts working for the collector (TBB worker entry);
  /// the runtime may attach a thread state. Called on that thread.
  virtual void attach_worker() {}
  /// The marker thread stops working for the collector. Called on it.
  virtual void detach_worker() {}

  /// Starts the collector's background thread (CollectorConfig::background,
  /// at the first trigger): runs body(arg) once on a new thread and returns
  /// true, or returns false if no thread could be started (the collector
  /// then collects on the thread that asked, and tries again at the next
  /// trigger).  The thread may do the runtime's set-up around body (CPython:
  /// a thread state, attached while body runs; compare MMTk's
  /// spawn_gc_thread); body returns after Collector::shutdown() and touches
  /// nothing of the collector's afterwards.  Default: a detached std::thread.
  virtual bool start_thread(void (*body)(void*), void* arg);
  /// The calling thread is about to wait for the collector: the background
  /// thread between collections, an assist (Collector::request_collection),
  /// Collector::shutdown().  A runtime with its own stop-the-world lets the
  /// thread be stopped meanwhile (CPython: detaches its thread state) and
  /// returns what leave_blocking() needs.  The collector takes its own locks
  /// only inside such a region, so a thread waiting for one never holds up
  /// a stop.  Default: an inactive region of the collector's World if the
  /// thread is attached to it.
  virtual void* enter_blocking();
  /// Ends the region enter_blocking() began; `token` is what it returned.
  virtual void leave_blocking(void* token);
  /// An automatic collection (the background thread's, or the requesting
  /// thread's when there is none).  A runtime that wraps its collections
  /// (CPython: gc_collect_main, with the interpreter's collecting flag and
  /// gc.callbacks) overrides this and calls collector.collect() from its
  /// wrapper.  Default: collector.collect().
  virtual void collect_automatically(Collector& collector);
  /// Whether the thread calling Collector::collect() waits for it with no
  /// other mutator running (CPython: an explicit gc.collect() in a program
  /// with no other Python thread).  Then the collection's concurrent
  /// phases -- marking, the candidate scan and filter, clearing the marks
  /// -- run on the pauses' workers (CollectorConfig::pause_workers, every
  /// core by default) instead of mark_workers, which leave cores to
  /// running mutators: with none running, a core left idle is only time
  /// the caller waits.  Asked once per collection, on the collecting
  /// thread.  Default: false.
  virtual bool caller_runs_alone() { return false; }

  /// The verification found `excess` more references to obj from the
  /// objects it checked than refcount(obj) reports: the runtime's count is
  /// wrong. obj is kept alive. Called with the world stopped, on the
  /// collecting thread; the runtime may abort (CPython's debug build does).
  /// Default: one line on stderr.
  virtual void refcount_error(void* obj, std::int64_t excess);

 private:
  friend class Collector;
  World* world_ = nullptr;  // set by Collector when it owns the World
};

}  // namespace tricolor
