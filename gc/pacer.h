// gc/pacer.h -- internal: when to collect, and when an allocating thread
// waits for a collection (the assist).  The one pacer: the core's own
// counters (Collector::note_allocation, bytes) and an embedder's
// (Collector::pace, in its own unit; the CPython binding counts objects,
// as stock does) go through the same arithmetic.
//
// Trigger: allocated since the last collection
//            > max(min_trigger, ratio * live after it),
// ratio = growth_ratio, or reclaiming_growth_ratio while the program makes
// cyclic garbage (the last collection found at least reclaiming_fraction of
// what was allocated before it to be garbage; as in Go's GOGC and Boehm's
// free-space divisor, with a tighter goal while collecting pays).  So the
// heap may grow to (1 + ratio) times what survived, the number of
// collections is O(total allocation / live heap) -- linear, not quadratic,
// in the allocation volume -- and floating garbage is bounded by one
// trigger's worth of allocation.
//
// Assist (Go's pacer makes an allocating goroutine mark in proportion to
// what it allocates; here, a thread that allocates past the trigger while
// reclaiming waits for the background collection, with `assist` on): the
// caller of Collector::pace() gets Pace::kAssist instead of kCollect, and
// Collector::request_collection(true) waits.  A program that makes no
// cyclic garbage never waits.
//
// Concurrency: every field is a relaxed atomic.  allocated()/freed() are
// called by every mutator (callers batch their notes, see
// Collector::note_allocation), pace() by any thread; `armed_` makes exactly
// one caller of allocated() see each trigger.  started() and collected()
// are called by the collecting thread, under the collector's collect_mu.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "tricolor/collector.h"  // Pace

namespace tricolor {

class Pacer {
 public:
  struct Settings {
    double growth_ratio = 1.0;
    double reclaiming_growth_ratio = 0;  ///< 0: growth_ratio
    double reclaiming_fraction = 0.25;
    std::size_t min_trigger = 0;
    bool assist = false;
  };

  explicit Pacer(const Settings& s) : s_(s) {
    if (s_.reclaiming_growth_ratio <= 0) s_.reclaiming_growth_ratio = s_.growth_ratio;
  }
  Pacer(double growth_ratio, std::size_t min_trigger)
      : Pacer(Settings{.growth_ratio = growth_ratio, .min_trigger = min_trigger}) {}

  // --- the embedder's counts ---
  /// Whether a collection is due with `since` units allocated since the
  /// embedder's last collection and `live` units alive after it.
  Pace pace(std::size_t since, std::size_t live) {
    reported_.store(since, std::memory_order_relaxed);
    if (since <= trigger_for(live)) return Pace::kNone;
    return s_.assist && reclaiming() ? Pace::kAssist : Pace::kCollect;
  }

  // --- the core's own counts ---
  /// Records an allocation; true if this call crossed the trigger.
  bool allocated(std::size_t bytes) {
    live_.fetch_add(static_cast<std::ptrdiff_t>(bytes), std::memory_order_relaxed);
    std::size_t since = since_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    reported_.store(since, std::memory_order_relaxed);
    if (since < trigger_.load(std::memory_order_relaxed)) return false;
    return armed_.exchange(false, std::memory_order_relaxed);
  }
  /// Records a free.
  void freed(std::size_t bytes) {
    live_.fetch_sub(static_cast<std::ptrdiff_t>(bytes), std::memory_order_relaxed);
  }

  // --- the collecting thread ---
  /// A collection begins: it answers for what was allocated until now.
  void started() {
    allocated_ = reported_.exchange(0, std::memory_order_relaxed);
  }
  /// A collection ended having found `garbage` units of garbage: decide
  /// whether the program is reclaiming, re-arm the core's trigger from the
  /// live bytes.
  void collected(std::size_t garbage) {
    reclaiming_.store(allocated_ > 0 && static_cast<double>(garbage) >=
                                            s_.reclaiming_fraction * static_cast<double>(allocated_),
                      std::memory_order_relaxed);
    trigger_.store(trigger_for(live()), std::memory_order_relaxed);
    since_.store(0, std::memory_order_relaxed);
    armed_.store(true, std::memory_order_relaxed);
  }

  /// Current trigger of the core's counts, in bytes since the last collection.
  std::size_t trigger() const { return trigger_.load(std::memory_order_relaxed); }
  /// Bytes live by the notes received (allocated minus freed; 0 if the
  /// frees noted so far outran the allocations, which callers batch).
  std::size_t live() const {
    return static_cast<std::size_t>(std::max<std::ptrdiff_t>(0, live_.load(std::memory_order_relaxed)));
  }
  /// Whether the last collection found the program making cyclic garbage.
  bool reclaiming() const { return reclaiming_.load(std::memory_order_relaxed); }

 private:
  std::size_t trigger_for(std::size_t live) const {
    double r = reclaiming() ? s_.reclaiming_growth_ratio : s_.growth_ratio;
    return std::max(s_.min_trigger, static_cast<std::size_t>(r * static_cast<double>(live)));
  }

  Settings s_;
  // Signed: notes arrive in per-thread batches, so a free may be noted
  // before the allocation it undoes.
  std::atomic<std::ptrdiff_t> live_{0};
  std::atomic<std::size_t> since_{0};
  std::atomic<std::size_t> trigger_{s_.min_trigger};
  std::atomic<bool> armed_{true};
  std::atomic<bool> reclaiming_{false};
  // The last count reported (pace() or allocated()), and at started() the
  // allocation the collection in progress answers for (collecting thread).
  std::atomic<std::size_t> reported_{0};
  std::size_t allocated_ = 0;
};

}  // namespace tricolor
