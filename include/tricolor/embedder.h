// tricolor/embedder.h -- the contract between the collector and the runtime
// that embeds it.  The runtime implements it; the collector calls it.  The
// collector never looks inside an object: it learns the object graph from
// trace(), the external references from refcount(), and leaves every object
// operation (finalizers, weak references, breaking cycles) to the runtime.
//
// Legal call order within one collection (see gc/phase_driver.h):
//   stop_world
//     for_each_thread_root           world stopped
//   start_world
//   for_each_global_root, trace*     world running, on marker threads
//   collectable*, refcount*, trace*  world running: the candidate filter
//   stop_world
//     refcount*, trace*              world stopped, candidates only
//     hold*                          each garbage object, world stopped
//   start_world
//   finalize                         world running
//   stop_world                       only if finalize returned true
//     refcount*, trace*              world stopped, garbage only
//   start_world
//   clear, release*                  world running
//
// Objects are the pointers the runtime allocated from the collector's Heap
// (tricolor/heap.h; tricolor/space.h is one); the collector considers only
// those.
#pragma once

#include <cstdint>
#include <span>

namespace tricolor {

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
  /// not frozen). Objects that do not are treated as external roots.
  virtual bool collectable(void* obj) { (void)obj; return true; }

  /// Global roots (module tables, interned strings, ...), world running.
  virtual void for_each_global_root(Visitor& v) { (void)v; }
  /// Per-thread roots (stacks, frames), world stopped.
  virtual void for_each_thread_root(Visitor& v) { (void)v; }

  /// Stops the world. The default uses the collector's own World
  /// (tricolor/stop_the_world.h); a runtime with its own protocol
  /// overrides both.
  virtual void stop_world();
  /// Restarts the world stopped by stop_world().
  virtual void start_world();

  /// Takes a strong reference to a garbage object so that it survives until
  /// release() (world stopped).
  virtual void hold(void* obj) = 0;
  /// Drops the reference hold() took; may free the object.
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
