// tricolor/events.h -- what a collection reports: per-phase times, pause
// histograms, and a listener interface for embedders (compare Whippet's
// event listener).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

namespace tricolor {

/// The phases of one collection, in order (see gc/phase_driver.h).
enum class Phase : int {
  kRootScan,         ///< STW: thread roots, black allocation on
  kConcurrentMark,   ///< mutators run; parallel marking from the roots
  kCandidateScan,    ///< mutators run; live & ~marked -> candidates
  kCandidateFilter,  ///< mutators run; concurrent trial deletion drops
                     ///< candidates seen referenced from outside
  kVerify,           ///< STW: refcount verification over the candidates
  kFinalize,         ///< mutators run; embedder finalizes the garbage
  kResurrectionCheck,///< STW: which garbage was resurrected
  kClear,            ///< mutators run; embedder clears the garbage
  kClearMarks,       ///< mutators run; mark bitmaps reset
  kCount
};

/// The phase's name, e.g. "concurrent-mark".
std::string_view phase_name(Phase phase);

/// Whether the phase runs with the world stopped.
bool phase_is_pause(Phase phase);

/// What one collection did.
struct CollectionStats {
  bool full_stw = false;       ///< ran in (or fell back to) the full-STW mode
  bool fell_back = false;      ///< concurrent marking gave up (see reason)
  const char* fallback_reason = nullptr;  ///< static string, or nullptr
  /// Objects of the Heap (starts bits set) when the collection read its
  /// bitmaps to find the candidates: at the candidate scan in concurrent
  /// mode (marked or not, so objects born black while marking count, and
  /// objects freed meanwhile do not), in the verify pause in full-STW mode
  /// (there every one is a candidate: objects == candidates).  Dead
  /// objects whose blocks the runtime holds back (tricolor/embedder.h, the
  /// lifetime rules) count too.
  std::size_t objects = 0;
  std::size_t marked = 0;      ///< marked by the concurrent marker
  std::size_t opaque_marked = 0;  ///< of those, left untraced (trace() returned false)
  std::size_t candidates = 0;  ///< unmarked live objects (all live in full-STW mode)
  std::size_t verified = 0;    ///< candidates left for the STW verification
  std::size_t opaque_candidates = 0;  ///< candidates no concurrent pass could trace
  std::size_t expanded = 0;    ///< objects the pauses added behind opaque candidates
  std::size_t garbage = 0;     ///< handed to the embedder
  std::size_t dependent = 0;   ///< of those, the garbage's dependents: held only by it (Verifier::find_garbage, with_dependents)
  std::size_t resurrected = 0; ///< garbage found alive again
  std::size_t shaded = 0;      ///< Collector::shade() calls during the collection
  int mark_workers = 0;        ///< marker threads used
  /// Per-phase wall time, in ns, indexed by Phase.
  std::array<std::int64_t, static_cast<int>(Phase::kCount)> phase_ns{};
  /// Time-to-safepoint of each pause, in ns, in order.
  std::vector<std::int64_t> wait_ns;
  /// Each pause, stopped to restarted, in ns, in order.
  std::vector<std::int64_t> pause_ns;
  /// The longest pause of this collection.
  std::int64_t max_pause_ns() const;
};

/// Log-bucketed histogram of durations (ns) with percentiles. Thread-safe.
class Histogram {
 public:
  /// Records one duration.
  void record(std::int64_t ns);
  /// The q-quantile (0 <= q <= 1), within a bucket's resolution (about 3 %);
  /// 0 when empty.
  std::int64_t percentile(double q) const;
  /// The largest recorded value (exact).
  std::int64_t max() const;
  /// Number of recorded values.
  std::size_t count() const;
  /// Forgets every value.
  void reset();

 private:
  static constexpr int kBuckets = 64 * 32;  // 32 sub-buckets per power of two
  mutable std::mutex mu_;
  std::array<std::uint64_t, kBuckets> buckets_{};
  std::int64_t max_ = 0;
  std::size_t count_ = 0;
};

/// One stop-the-world pause of a collection (EventListener::on_pause).
struct PauseEvent {
  Phase phase = Phase::kRootScan;  ///< kRootScan, kVerify or kResurrectionCheck
  std::int64_t wait_ns = 0;        ///< stop requested -> world stopped (time-to-safepoint)
  std::int64_t pause_ns = 0;       ///< world stopped -> world let go
  /// What the pause processed: the roots for_each_thread_root() reported
  /// (root scan); the objects the verification judged, batch members plus
  /// those added behind opaque ones (verify; in full-STW mode every object
  /// of the Heap); the garbage rechecked (resurrection check).
  std::size_t objects = 0;
};

/// Receives the collector's events.  Every callback runs on the collecting
/// thread, with the world running (a pause is reported once it is over),
/// under the collector's listener lock: it must not call back into the
/// Collector (collect(), add_listener()).
class EventListener {
 public:
  virtual ~EventListener() = default;
  /// A collection starts.
  virtual void on_collection_start(bool full_stw) { (void)full_stw; }
  /// A stop-the-world pause ended: one call per pause, in order, right
  /// before the on_phase() of the phase it belongs to (a verify phase
  /// with several batches has one pause and one on_phase() per batch).
  /// The same wait_ns and pause_ns end up in CollectionStats.
  virtual void on_pause(const PauseEvent& pause) { (void)pause; }
  /// A phase ends after `ns` nanoseconds.
  virtual void on_phase(Phase phase, std::int64_t ns) { (void)phase; (void)ns; }
  /// A collection ended.
  virtual void on_collection_end(const CollectionStats& stats) { (void)stats; }
};

/// An EventListener that keeps histograms of pauses, time-to-safepoint and
/// per-phase times over many collections.
class StatsListener : public EventListener {
 public:
  /// Records the phase's time in its histogram.
  void on_phase(Phase phase, std::int64_t ns) override;
  /// Records the collection's pauses and times-to-safepoint.
  void on_collection_end(const CollectionStats& stats) override;
  /// Every pause of every collection.
  const Histogram& pauses() const { return pauses_; }
  /// Every time-to-safepoint.
  const Histogram& waits() const { return waits_; }
  /// Times of one phase.
  const Histogram& phase(Phase p) const { return phases_[static_cast<int>(p)]; }
  /// Collections seen.
  std::size_t collections() const;

 private:
  Histogram pauses_, waits_;
  std::array<Histogram, static_cast<int>(Phase::kCount)> phases_;
  mutable std::mutex mu_;
  std::size_t collections_ = 0;
};

}  // namespace tricolor
