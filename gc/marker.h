// gc/marker.h -- internal: the parallel concurrent marker (phase 2 of
// gc/phase_driver.h).  See marker.cc for the algorithm and its invariants.
#pragma once

#include <atomic>
#include <cstddef>
#include <vector>

namespace tricolor {

class Embedder;
class Heap;
struct DrainTask;

/// Marks, in the Heap's marks bitmaps, everything reachable from a set of
/// roots, while mutators run. Must be run inside the collector's TBB arena.
class Marker {
 public:
  /// `stack_limit` caps the mark-stack entries alive at once (0 = no cap).
  Marker(Heap& heap, Embedder& embedder, std::size_t stack_limit)
      : heap_(heap), embedder_(embedder), stack_limit_(stack_limit) {}

  /// Marks from `roots`; returns false if marking gave up (out of memory
  /// for mark stacks), in which case the marks are incomplete.
  bool run(std::vector<void*> roots);

  /// Objects this marker marked.
  std::size_t marked() const { return marked_.load(std::memory_order_relaxed); }
  /// Objects the embedder declined to trace concurrently.
  std::size_t opaque() const { return opaque_.load(std::memory_order_relaxed); }
  /// Why run() gave up (a static string), or nullptr.
  const char* failure() const { return failure_.load(std::memory_order_relaxed); }

 private:
  friend struct DrainTask;
  void drain(std::vector<void*> stack);
  void fail(const char* why);

  Heap& heap_;
  Embedder& embedder_;
  const std::size_t stack_limit_;
  std::atomic<std::size_t> stacked_{0};   // entries on all mark stacks, with a limit only; relaxed
  std::atomic<std::size_t> marked_{0};    // relaxed counters
  std::atomic<std::size_t> opaque_{0};
  std::atomic<const char*> failure_{nullptr};  // set once by fail(); relaxed
  class TaskGroup* group_ = nullptr;      // the running task group, during run()
};

}  // namespace tricolor
