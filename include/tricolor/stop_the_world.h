// tricolor/stop_the_world.h -- the stop-the-world protocol, for embedders
// that have none: a World of mutator threads, attach/detach, a safepoint
// poll, inactive regions, and stop/start with time-to-safepoint accounting
// (implemented in gc/stop_the_world.cc).
//
// States of an attached mutator (a thread registered with a World):
//   RUNNING   may touch the heap; must poll safepoint() regularly;
//   INACTIVE  inside an InactiveScope (a blocking native call): must not
//             touch the heap; counts as stopped;
//   PARKED    inside safepoint()'s slow path, waiting for the world to
//             restart.
// stop() sets `pending`, then waits until every other attached mutator is
// INACTIVE or PARKED.  A mutator leaving INACTIVE while the world is stopped
// waits for start().  A thread that calls stop() while attached counts as
// stopped for its own request.
//
// Concurrency: `pending` is read with one relaxed load by safepoint(); the
// slow path and every state change go through the World's mutex and
// condition variables.  Only one stop() is in progress at a time (later ones
// wait their turn).
//
// Misuse -- attaching an attached thread, detaching or polling from a thread
// that is not attached, leaving an inactive region that was not entered --
// throws tricolor::UsageError with a message saying which.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

namespace tricolor {

/// Thrown on misuse of the mutator or collector API.
class UsageError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

/// Timing of one stop-the-world pause, in nanoseconds.
struct PauseTiming {
  std::int64_t wait_ns = 0;   ///< stop requested -> every mutator stopped
  std::int64_t pause_ns = 0;  ///< every mutator stopped -> world restarted
};

/// A set of mutator threads that can be stopped together.
class World {
 public:
  World();
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  /// Registers the calling thread as a RUNNING mutator. Throws UsageError
  /// if it is already attached to this World.
  void attach();
  /// Unregisters the calling thread. Throws UsageError if it is not
  /// attached or is inside an inactive region.
  void detach();
  /// Whether the calling thread is attached to this World.
  bool attached() const;

  /// The poll: one relaxed load and a branch when no stop is pending; parks
  /// the calling mutator while one is. Throws UsageError (in the slow path,
  /// and on every call in debug builds) if the thread is not attached.
  void safepoint() {
#ifndef NDEBUG
    check_attached("safepoint()");
#endif
    if (pending_.load(std::memory_order_relaxed)) [[unlikely]] {
      park();
    }
  }

  /// Enters an inactive region (nestable): the thread counts as stopped
  /// until the matching leave_inactive(). It must not touch the heap.
  void enter_inactive();
  /// Leaves an inactive region; at the outermost level waits while the
  /// world is stopped. Throws UsageError if no region is open.
  void leave_inactive();

  /// Stops every other attached mutator and returns once they are all
  /// INACTIVE or PARKED. Starts the pause clock.
  void stop();
  /// Restarts the world; returns the timing of the pause that stop() began.
  PauseTiming start();
  /// Whether a stop is pending or in effect.
  bool stopping() const { return pending_.load(std::memory_order_relaxed) != 0; }

  /// Number of attached mutators.
  int mutator_count() const;

  /// Gives the calling mutator's roots to the collector: a context of the
  /// runtime's own (its thread state, its stack bounds, ...) that every
  /// later root scan, with the world stopped, passes to
  /// Embedder::for_each_mutator_root() while this thread stays attached
  /// (compare Whippet's gc_mutator_set_roots).  nullptr: none (the
  /// default).  Throws UsageError if the thread is not attached.
  void set_roots(void* roots);
  /// The contexts every attached mutator gave set_roots() (nullptr ones
  /// left out), in no particular order: what the default
  /// Embedder::for_each_thread_root() walks.  Exact with the world
  /// stopped; otherwise a snapshot.
  std::vector<void*> mutator_roots() const;

 private:
  void park();
  void check_attached(const char* what) const;
  struct Impl;
  // Non-zero while a stop is requested or in effect. Written under the
  // World's mutex (release), read by safepoint() (relaxed).
  std::atomic<int> pending_{0};
  std::unique_ptr<Impl> impl_;
};

/// RAII attach/detach of the calling thread.
class MutatorScope {
 public:
  /// Attaches the calling thread to `world`.
  explicit MutatorScope(World& world) : world_(world) { world_.attach(); }
  /// Detaches it.
  ~MutatorScope() { world_.detach(); }
  MutatorScope(const MutatorScope&) = delete;
  MutatorScope& operator=(const MutatorScope&) = delete;

 private:
  World& world_;
};

/// RAII inactive region around a blocking native call (compare Boehm's
/// GC_do_blocking and Whippet's gc_deactivate_for_call).
class InactiveScope {
 public:
  /// Enters an inactive region of `world`.
  explicit InactiveScope(World& world) : world_(world) { world_.enter_inactive(); }
  /// Leaves it, waiting if the world is stopped.
  ~InactiveScope() { world_.leave_inactive(); }
  InactiveScope(const InactiveScope&) = delete;
  InactiveScope& operator=(const InactiveScope&) = delete;

 private:
  World& world_;
};

}  // namespace tricolor
