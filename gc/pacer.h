// gc/pacer.h -- internal: when to collect (allocation-based trigger with a
// growth ratio, as in Go's GOGC and Boehm's free-space divisor).
//
// Trigger: bytes allocated since the last collection ended
//            >= max(min_trigger, growth_ratio * live bytes after it).
// So the heap may grow to (1 + growth_ratio) times what survived, the
// number of collections is O(total allocation / live heap) -- linear, not
// quadratic, in the allocation volume -- and floating garbage is bounded by
// one trigger's worth of allocation.
//
// Concurrency: the counters are relaxed atomics updated by every mutator
// (callers batch their notes, see Collector::note_allocation); `armed_`
// makes exactly one caller see each trigger.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace tricolor {

class Pacer {
 public:
  Pacer(double growth_ratio, std::size_t min_trigger)
      : ratio_(growth_ratio), min_trigger_(min_trigger) {}

  /// Records an allocation; true if this call crossed the trigger.
  bool allocated(std::size_t bytes) {
    live_.fetch_add(static_cast<std::ptrdiff_t>(bytes), std::memory_order_relaxed);
    std::size_t since = since_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    if (since < trigger_.load(std::memory_order_relaxed)) return false;
    return armed_.exchange(false, std::memory_order_relaxed);
  }
  /// Records a free.
  void freed(std::size_t bytes) {
    live_.fetch_sub(static_cast<std::ptrdiff_t>(bytes), std::memory_order_relaxed);
  }
  /// A collection ended: re-arm with a trigger computed from the live bytes.
  void collected() {
    std::size_t live = this->live();
    trigger_.store(std::max(min_trigger_, static_cast<std::size_t>(ratio_ * static_cast<double>(live))),
                   std::memory_order_relaxed);
    since_.store(0, std::memory_order_relaxed);
    armed_.store(true, std::memory_order_relaxed);
  }
  /// Current trigger, in bytes allocated since the last collection.
  std::size_t trigger() const { return trigger_.load(std::memory_order_relaxed); }
  /// Bytes live by the notes received (allocated minus freed; 0 if the
  /// frees noted so far outran the allocations, which callers batch).
  std::size_t live() const {
    return static_cast<std::size_t>(std::max<std::ptrdiff_t>(0, live_.load(std::memory_order_relaxed)));
  }

 private:
  const double ratio_;
  const std::size_t min_trigger_;
  // Signed: notes arrive in per-thread batches, so a free may be noted
  // before the allocation it undoes.
  std::atomic<std::ptrdiff_t> live_{0};
  std::atomic<std::size_t> since_{0};
  std::atomic<std::size_t> trigger_{min_trigger_};
  std::atomic<bool> armed_{true};
};

}  // namespace tricolor
