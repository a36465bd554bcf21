// synthetic/runtime.h -- a small reference-counted runtime that embeds the
// tricolor collector: objects with N pointer slots and atomic refcounts,
// mutated by several threads.  It is the embedder of the core's tests, of
// bench/core_pause and of stress/, and the worked example for anyone
// embedding tricolor in their own interpreter.
//
// Object model.  An Object has an atomic refcount, a spinlock that guards
// its slots, and `nslots` slots.  Every strong reference -- a slot, a
// global, a Mutator's locals, a C++ variable that owns one -- counts once.
// Reference counting frees acyclic garbage at once; the collector finds
// garbage cycles.
//
// Memory safety of concurrent marking.  The marker reads objects that
// mutators may free meanwhile.  While a collection is in progress (from
// on_collection_start to on_collection_end) the runtime defers the actual
// free of objects whose refcount dropped to zero, so every pointer the
// marker found stays readable; a dead object has refcount 0 and is not
// collectable, so the verification leaves it alone.  (CPython gets the
// same from QSBR, design.md.)
//
// Concurrency rules: slots change only under the object's spinlock;
// refcounts are atomic (acq_rel on the decrement that may free); a thread
// touches objects only while attached (a Mutator) or as a collector worker.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "tricolor/collector.h"
#include "tricolor/embedder.h"
#include "tricolor/mutator.h"
#include "tricolor/space.h"

namespace synthetic {

/// A heap object: a header followed by `nslots` pointer slots.
struct Object {
  std::atomic<std::intptr_t> refcount;  ///< strong references
  std::atomic<std::uint32_t> lock;      ///< spinlock over the slots
  std::uint32_t nslots;                 ///< number of slots
  std::uint64_t id;                     ///< unique per runtime, from 1; 0 once freed
  /// The slots, right after the header.
  std::atomic<Object*>* slots() { return reinterpret_cast<std::atomic<Object*>*>(this + 1); }
};

/// Settings of a Runtime.
struct RuntimeConfig {
  tricolor::SpaceConfig space;          ///< the heap
  tricolor::CollectorConfig collector;  ///< the collector
  std::size_t globals = 64;             ///< number of global root slots
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

  /// Objects allocated and not yet freed (includes deferred frees).
  std::size_t live_objects() const { return live_.load(std::memory_order_relaxed); }
  /// Objects freed so far.
  std::uint64_t freed_objects() const { return freed_.load(std::memory_order_relaxed); }

  tricolor::World& world() { return world_; }
  tricolor::Space& space() { return *space_; }
  tricolor::Collector& collector() { return *collector_; }

  /// Test hook: called with the garbage in finalize() (may resurrect by
  /// storing a reference somewhere).
  std::function<void(std::span<void* const>)> on_finalize;
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
  void hold(void* obj) override { incref(static_cast<Object*>(obj)); }
  void release(void* obj) override { decref(static_cast<Object*>(obj)); }
  bool finalize(std::span<void* const> garbage) override;
  void clear(std::span<void* const> garbage) override;
  void refcount_error(void* obj, std::int64_t excess) override;

  // tricolor::EventListener
  void on_collection_start(bool full_stw) override;
  void on_collection_end(const tricolor::CollectionStats& stats) override;

 private:
  friend class Mutator;
  void free_object(Object* o);
  void note_bytes(std::ptrdiff_t bytes);

  tricolor::World world_;
  std::unique_ptr<tricolor::Space> space_;
  std::vector<std::atomic<Object*>> globals_;
  std::mutex globals_mu_;   // guards writes of globals_
  std::mutex mutators_mu_;  // guards mutators_
  std::vector<Mutator*> mutators_;
  std::atomic<bool> collecting_{false};  // written by the collector's listener
  std::mutex deferred_mu_;               // guards deferred_
  std::vector<Object*> deferred_;
  std::atomic<std::uint64_t> next_id_{1};
  std::atomic<std::size_t> live_{0};
  std::atomic<std::uint64_t> freed_{0};
  std::unique_ptr<tricolor::Collector> collector_;  // last: stopped first
};

}  // namespace synthetic
