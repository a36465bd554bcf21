// tricolor/collector.h -- the collector: a mostly-concurrent mark and a
// refcount-verified sweep over a Heap, driven through an Embedder.
//
// One collection (gc/phase_driver.h has the details and the proof sketch):
//   1. root scan (STW): thread roots marked, black allocation on;
//   2. concurrent mark: parallel marking from the roots while mutators run;
//   3. candidate scan (concurrent): candidates = live & ~marked;
//   4. verify (STW): stock CPython's cycle detection restricted to the
//      candidates -- refcount minus internal references; anything with an
//      outside reference is alive with all it reaches; the rest is garbage;
//      one short pause per batch of whole connected components;
//   5. finalize: the garbage goes to the embedder;
//   6. resurrection check (STW): over the garbage only;
//   7. clear: confirmed garbage is cleared and released; marks reset.
// Mode::kFullStw runs the same driver with every live object a candidate and
// no concurrent marking: the in-run baseline.  If concurrent marking cannot
// proceed (out of memory for mark stacks) the collection falls back to
// kFullStw and says so in its stats and on stderr.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "tricolor/embedder.h"
#include "tricolor/events.h"

namespace tricolor {

class Heap;
class World;

/// The pacer's answer (Collector::pace()).
enum class Pace {
  kNone,     ///< no collection due
  kCollect,  ///< a collection is due: request_collection(false)
  kAssist,   ///< due, and the caller should wait for it: request_collection(true)
};

/// How a collection finds its candidates.
enum class Mode {
  kConcurrent,  ///< mark concurrently; verify only the unmarked
  kFullStw,     ///< no marking; verify every object with the world stopped
};

/// Settings of a Collector.
struct CollectorConfig {
  /// The mode of automatic collections and of collect() without a mode.
  Mode mode = Mode::kConcurrent;
  /// Marker threads (TBB task_arena concurrency); 0 = hardware threads.
  /// A positive value also caps TBB's worker pool process-wide (a
  /// tbb::global_control held by the Collector), so that no idle worker
  /// threads are started beyond it.
  int mark_workers = 0;
  /// Threads that work inside a pause (the verification, the resurrection
  /// check); 0 = hardware threads.  The mutators are stopped then, so every
  /// core is free, even where marking leaves cores to the program.  With a
  /// positive mark_workers, TBB's pool is capped at the larger of the two.
  int pause_workers = 0;
  /// Pacing (gc/pacer.h): collect when what was allocated since the last
  /// collection exceeds growth_ratio * (what was live after it), and at
  /// least min_trigger_bytes.  The unit is bytes for note_allocation(),
  /// the embedder's own for pace().
  double growth_ratio = 1.0;
  /// The smallest trigger, in bytes allocated since the last collection
  /// (pace(): in the embedder's unit).
  std::size_t min_trigger_bytes = std::size_t{8} << 20;
  /// The growth ratio while the program makes cyclic garbage: the last
  /// collection's garbage was at least reclaiming_fraction of what was
  /// allocated before it (in objects: meaningful for an embedder that
  /// paces in objects).  0 = growth_ratio.
  double reclaiming_growth_ratio = 0;
  /// See reclaiming_growth_ratio.
  double reclaiming_fraction = 0.25;
  /// The assist: while reclaiming, pace() answers Pace::kAssist for a due
  /// collection, and the caller waits for it (request_collection(true)),
  /// so that allocation cannot outrun the collector.
  bool assist = false;
  /// Run automatic collections on a background thread, started through
  /// Embedder::start_thread() at the first trigger (otherwise a trigger
  /// collects on the calling thread).
  bool background = true;
  /// Candidates verified per pause at most, in whole connected components
  /// (a bigger component gets a pause of its own); 0 = all in one pause.
  std::size_t verify_batch = 2048;
  /// Before the STW verification, run it once with the world running over
  /// every candidate (racy refcounts, concurrent traces) and keep only the
  /// candidates it takes for garbage: candidates that marking merely
  /// missed then cost no pause.  A guess, never trusted: the STW
  /// verification still decides.  Garbage made while it runs waits for
  /// the next collection.
  bool filter_candidates = true;
  /// Testing: cap on mark-stack entries, to exercise the fallback.
  std::size_t mark_stack_limit_for_testing = 0;
};

/// A collector over one Heap (a tricolor::Space, or the runtime's own) and
/// one Embedder.
class Collector {
 public:
  /// `world` is the World whose stop/start Embedder::stop_world() uses by
  /// default (may be nullptr if the embedder overrides both).
  Collector(Heap& heap, Embedder& embedder, World* world, const CollectorConfig& config = {});
  /// Stops the background thread (waiting for a collection in progress).
  ~Collector();
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  /// Runs one whole collection on the calling thread and returns its stats.
  /// If another collection is in progress, waits for it and runs a new one.
  /// A caller attached to the World enters an inactive region around the
  /// concurrent phases so that it never stops itself.
  CollectionStats collect();
  /// Like collect() with a mode for this collection only.
  CollectionStats collect(Mode mode);

  /// Tells the pacer about `bytes` newly allocated; may trigger a
  /// collection (request_collection(false)).
  void note_allocation(std::size_t bytes);
  /// Tells the pacer about `bytes` freed.
  void note_free(std::size_t bytes);

  /// Pacing by the embedder's own counts (instead of note_allocation()):
  /// whether a collection is due with `since` units allocated since the
  /// embedder's last collection and `live` units alive after it
  /// (gc/pacer.h).  Any thread; cheap (relaxed atomics).
  Pace pace(std::size_t since, std::size_t live);
  /// An automatic collection is due: wakes the background thread (started
  /// through Embedder::start_thread() the first time) to run
  /// Embedder::collect_automatically().  With `assist`, waits until the
  /// background thread has run once more (between
  /// Embedder::enter_blocking() and leave_blocking()).  Called on the
  /// background thread itself (a finalizer's allocation), does nothing.
  /// Without a background thread (background off, or it could not be
  /// started) collects on the calling thread.
  void request_collection(bool assist);
  /// Whether the background thread runs.
  bool background_running() const;

  /// A mutator (attached, or the runtime's equivalent) tells the collection
  /// in progress, if any, that `obj` is alive now: it will not be in that
  /// collection's garbage (it floats to the next one if it dies).  Call it
  /// where the runtime's semantics hang on the collector seeing the object
  /// alive at this moment -- a new weak reference *with a callback* to
  /// `obj`: that weak reference is allocated black, so if `obj` were found
  /// garbage together with it, the collection could not tell it was garbage
  /// too and would run its callback (papers/design.md §7.5).  Cheap when no
  /// collection runs (one atomic load); any thread; never blocks.
  void shade(void* obj);

  /// Stops the background thread, waiting for a collection in progress
  /// (between Embedder::enter_blocking() and leave_blocking());
  /// afterwards a trigger collects on the allocating thread. Called by the
  /// destructor; an embedder calls it first if the collection's callbacks
  /// use state it is about to tear down.
  void shutdown();

  /// Adds a listener (not owned; must outlive the Collector).
  void add_listener(EventListener* listener);

  /// Collections finished so far.
  std::uint64_t collections() const;
  /// The settings.
  const CollectorConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tricolor
