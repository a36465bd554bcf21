// synthetic/runtime.h -- a small reference-counted runtime that embeds the
// tricolor collector: objects with N pointer slots and atomic refcounts,
// finalizers and weak references, mutated by several threads.  It is the
// embedder of the core's tests, of bench/core/core_pause and of stress/, and
// the worked example for anyone embedding tricolor in their own interpreter.
//
// Object model.  An Object has an atomic refcount, a spinlock that guards
// its slots, flags, and `nslots` slots.  Every strong reference -- a slot,
// a global, a Mutator's locals, a C++ variable that owns one -- counts
// once.  Reference counting frees acyclic garbage at once; the collector
// finds garbage cycles.
//
// Finalizers and weak references, with CPython's semantics (PEP 442):
//   * an object with a finalizer (set_finalizer) has it run at most once,
//     through the on_finalizer hook, before it is freed -- by refcounting
//     or by the collector -- and may resurrect it (store it somewhere);
//   * a weak reference (new_weakref) is an ordinary object that does not
//     count as a reference to its referent; weak_get() returns a strong
//     reference while the referent lives.  When the referent dies every
//     weak reference to it is cleared first, then the callbacks of those
//     that are themselves alive run (on_callback); the callback of a weak
//     reference that dies with its referent never runs;
//   * for cyclic garbage, the same over the whole garbage set in CPython's
//     order: every weak reference to it is cleared while the world is
//     still stopped (hold(), in the verification's pause), so no mutator
//     can fetch garbage through one; finalize() then runs the callbacks,
//     then the finalizers; the collector's resurrection check keeps
//     whatever they made reachable again.
//
// Memory safety of concurrent marking.  The marker reads objects that
// mutators may free meanwhile.  While a collection is in progress (from
// on_collection_start to on_collection_end) the runtime defers the actual
// free of objects whose refcount dropped to zero, so every pointer the
// marker found stays readable; a dead object has refcount 0 and is not
// collectable, so the verification leaves it alone.  (CPython gets the
// same from QSBR, design.md.)
//
// Checked mode (RuntimeConfig::checked, used by stress/): the runtime keeps
// a registry of its objects and checks, at every call the collector makes,
// the Embedder contract -- the collector inspects only objects (never a
// free block or the inside of one), never one under construction while
// the world runs, and no mutator runs while the world is stopped -- and
// that mutators never use a freed object.  Freed memory is overwritten
// (and poisoned under ASan).  Breaches go to violations().
//
// Concurrency rules: slots change only under the object's spinlock; flags
// and refcounts are atomic (acq_rel on the decrement that may free); the
// weak reference table is guarded by weak_mu_; a thread touches objects
// only while attached (a Mutator) or as a collector worker.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tricolor/collector.h"
#include "tricolor/embedder.h"
#include "tricolor/events.h"
#include "tricolor/space.h"
#include "tricolor/stop_the_world.h"

namespace synthetic {

/// A heap object: a header followed by `nslots` pointer slots.
struct Object {
  std::atomic<std::intptr_t> refcount;  ///< strong references
  std::atomic<std::uint16_t> lock;      ///< spinlock over the slots
  std::atomic<std::uint16_t> flags;     ///< Object::k* bits
  std::uint32_t nslots;                 ///< number of slots
  std::uint64_t id;                     ///< unique per runtime, from 1; 0 once freed
  /// The slots, right after the header.
  std::atomic<Object*>* slots() { return reinterpret_cast<std::atomic<Object*>*>(this + 1); }

  static constexpr std::uint16_t kFinalizer = 1;  ///< has a finalizer
  static constexpr std::uint16_t kFinalized = 2;  ///< its finalizer has run
  static constexpr std::uint16_t kWeakref = 4;    ///< is a weak reference
  static constexpr std::uint16_t kCallback = 8;   ///< a weak reference with a callback
  bool has(std::uint16_t f) const { return (flags.load(std::memory_order_acquire) & f) != 0; }
};

/// Settings of a Runtime.
struct RuntimeConfig {
  tricolor::SpaceConfig space;          ///< the heap (its `world` is set to the runtime's)
  tricolor::CollectorConfig collector;  ///< the collector
  std::size_t globals = 64;             ///< number of global root slots
  /// Check the Embedder contract and poison freed memory (see the top).
  bool checked = false;
};

class Runtime;

/// A mutator thread of a Runtime: attaches the calling thread to the
/// Runtime's World for its lifetime. `locals` are strong references the
/// thread owns; they are its roots (read only while the thread is stopped).
class Mutator {
 public:
  /// Attaches the calling thread.
  explicit Mutator(Runtime& rt);
  /// Drops the locals and detaches.
  ~Mutator();
  Mutator(const Mutator&) = delete;
  Mutator& operator=(const Mutator&) = delete;
  /// Strong references owned by this thread (roots).
  std::vector<Object*> locals;
  /// The safepoint poll; call it regularly.
  void safepoint();

 private:
  Runtime& rt_;
};

/// The runtime: heap, world, collector, and the Embedder implementation.
class Runtime final : public tricolor::Embedder, public tricolor::EventListener {
 public:
  /// Creates the heap and the collector (which starts its background thread
  /// if config.collector.background).
  explicit Runtime(const RuntimeConfig& config = {});
  /// Stops the collector, drops the globals and frees the heap.
  ~Runtime() override;

  /// Allocates an object with `nslots` empty slots and refcount 1 (the
  /// caller owns that reference); nullptr when the heap is exhausted. The
  /// calling thread must be attached (a Mutator); debug builds throw
  /// tricolor::UsageError otherwise.
  Object* allocate(std::uint32_t nslots);
  /// Takes a reference.
  static void incref(Object* o) { o->refcount.fetch_add(1, std::memory_order_relaxed); }
  /// Drops a reference; at zero the object drops its slots and is freed.
  void decref(Object* o);
  /// o.slots[i] = v: takes a reference to v (may be nullptr), drops the old.
  void store(Object* o, std::uint32_t i, Object* v);
  /// A new reference to o.slots[i], or nullptr.
  Object* load(Object* o, std::uint32_t i);
  /// globals[i] = v (takes a reference to v).
  void set_global(std::size_t i, Object* v);
  /// A new reference to globals[i], or nullptr.
  Object* get_global(std::size_t i);

  /// Gives o a finalizer (the on_finalizer hook), run at most once.
  void set_finalizer(Object* o);
  /// A new weak reference to `referent` (not counted by it) with `nslots`
  /// ordinary slots, and a callback (on_callback) if `callback`; refcount 1.
  Object* new_weakref(Object* referent, std::uint32_t nslots, bool callback);
  /// A new strong reference to the referent of weak reference `wr`, or
  /// nullptr once it is cleared.
  Object* weak_get(Object* wr);

  /// Allocation in two steps, for tests that need an object whose
  /// constructor is still running: begin_allocate() returns the memory
  /// (registered, flagged as under construction in checked mode),
  /// finish_allocate() initialises it as allocate() would.
  Object* begin_allocate(std::uint32_t nslots);
  /// Completes begin_allocate(); returns o.
  Object* finish_allocate(Object* o, std::uint32_t nslots);

  /// Objects allocated and not yet freed (includes deferred frees).
  std::size_t live_objects() const { return live_.load(std::memory_order_relaxed); }
  /// Objects freed so far.
  std::uint64_t freed_objects() const { return freed_.load(std::memory_order_relaxed); }

  tricolor::World& world() { return world_; }
  tricolor::Space& space() { return *space_; }
  tricolor::Collector& collector() { return *collector_; }

  /// Test hook: called with the garbage first in finalize(), before the
  /// callbacks and finalizers (may resurrect by storing a reference
  /// somewhere).
  std::function<void(std::span<void* const>)> on_finalize;
  /// The finalizer of an object that has one (set_finalizer): runs once,
  /// with a strong reference to o held for it; `garbage` is the collector's
  /// garbage set, empty when o died by refcounting.
  std::function<void(Object* o, std::span<void* const> garbage)> on_finalizer;
  /// The callback of weak reference `wr`, already cleared, which the
  /// runtime holds a strong reference to for the call; `garbage` as above.
  std::function<void(Object* wr, std::span<void* const> garbage)> on_callback;
  /// Test hook: called on the collecting thread after each phase of a
  /// collection, with the world running (tricolor::EventListener::on_phase).
  std::function<void(tricolor::Phase)> on_phase_end;

  /// Checked mode: the breaches of the contract seen so far, and whether
  /// there were any.
  std::vector<std::string> violations() const;
  bool violated() const { return violated_.load(std::memory_order_relaxed); }
  /// Checked mode: every object not yet freed, for a test's diagnosis
  /// (world quiescent).
  std::vector<Object*> objects();
  /// Records a breach (checked mode; also for the tests' own checks).
  void violation(std::string what);
  /// Test hook: called with each object just before its memory is freed.
  std::function<void(Object*)> on_free;
  /// Test hook: called for a refcount the verification found too small
  /// (default: the Embedder's line on stderr).
  std::function<void(Object*, std::int64_t)> on_refcount_error;

  // tricolor::Embedder
  bool trace(void* obj, tricolor::Visitor& v, bool concurrent) override;
  std::intptr_t refcount(void* obj) override;
  bool collectable(void* obj) override;
  void for_each_global_root(tricolor::Visitor& v) override;
  void for_each_thread_root(tricolor::Visitor& v) override;
  void hold(void* obj) override;
  void release(void* obj) override { decref(static_cast<Object*>(obj)); }
  bool finalize(std::span<void* const> garbage) override;
  void clear(std::span<void* const> garbage) override;
  void refcount_error(void* obj, std::int64_t excess) override;
  void stop_world() override;
  void start_world() override;

  // tricolor::EventListener
  void on_collection_start(bool full_stw) override;
  void on_phase(tricolor::Phase phase, std::int64_t ns) override;
  void on_collection_end(const tricolor::CollectionStats& stats) override;

 private:
  friend class Mutator;
  void free_object(Object* o);
  void release_block(Object* o);
  void note_bytes(std::ptrdiff_t bytes);
  void init_object(Object* o, std::uint32_t nslots);
  bool run_finalizer(Object* o, std::span<void* const> garbage);
  std::vector<Object*> clear_weakrefs(std::span<void* const> referents);
  bool run_callbacks(const std::vector<Object*>& wrs, std::span<void* const> garbage);
  // Checked mode.
  enum class State : std::uint8_t { kConstructing, kObject };
  bool check_inspected(const void* obj, const char* what);
  void check_mutator(const Object* o, const char* what);

  tricolor::World world_;
  std::unique_ptr<tricolor::Space> space_;
  std::vector<std::atomic<Object*>> globals_;
  std::mutex globals_mu_;   // guards writes of globals_
  std::mutex mutators_mu_;  // guards mutators_
  std::vector<Mutator*> mutators_;
  std::atomic<bool> collecting_{false};  // written by the collector's listener
  std::mutex deferred_mu_;               // guards deferred_
  std::vector<Object*> deferred_;
  std::mutex weak_mu_;  // guards the four below
  std::unordered_map<Object*, std::vector<Object*>> weakrefs_of_;  // referent -> its weakrefs
  std::unordered_map<Object*, Object*> referent_of_;               // live weakref -> referent
  std::vector<Object*> pending_callbacks_;  // cleared in a pause (hold), run by finalize
  std::unordered_set<const Object*> held_weakrefs_;  // garbage weakrefs of this collection
  const bool checked_;
  struct Shard {  // a part of the registry: every block not yet returned
    std::mutex mu;
    std::unordered_map<const void*, State> blocks;
  };
  Shard& shard(const void* p);
  std::unique_ptr<Shard[]> registry_;  // kShards of them (checked mode)
  mutable std::mutex violations_mu_;   // guards violations_
  std::vector<std::string> violations_;
  std::atomic<std::thread::id> stopper_{};  // the thread in stop_world()
  std::atomic<bool> violated_{false};
  std::atomic<bool> stopped_{false};  // between stop_world() and start_world()
  std::atomic<std::uint64_t> next_id_{1};
  std::atomic<std::size_t> live_{0};
  std::atomic<std::uint64_t> freed_{0};
  std::unique_ptr<tricolor::Collector> collector_;  // last: stopped first
};

}  // namespace synthetic
