// gc/candidate_set.h -- internal: the candidate set C, an indexed snapshot
// of the objects a collection's verification judges (phases 3, 3b and 4 of
// gc/phase_driver.h).
//
// The candidate set is a snapshot of bitmap words (one bit per granule, as
// in the Heap) with a prefix count per word, so that "is obj a candidate,
// and which one" is O(1): index = prefix[word] + popcount(bits below obj).
// The arena of a pointer is found by binary search over the heap's arenas
// sorted by address (design.md §4.3).
//
// Phases: build_from_heap() in the candidate scan (3, world running: live &
// ~marked), or inside the verify pause (4) in full-STW mode (every live
// object); build_from_list() over the candidate filter's guess (3b, world
// running).  Then the filter (gc/verifier.h guess_garbage), the batching
// (gc/component_batching.h) and the verification (gc/verifier.h) read it.
//
// Concurrency: build*() run on the collecting thread, in parallel over the
// calling TBB arena; afterwards the set is read-only while the filter's,
// the batching's and the verification's TBB tasks read it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "tricolor/bitmap.h"

namespace tricolor {

class Heap;

/// An indexed snapshot of candidate objects.
class CandidateSet {
 public:
  static constexpr std::size_t npos = ~std::size_t{0};

  /// Candidates = live & ~marked (or every live object if `all`), read from
  /// the Heap's bitmaps in parallel.
  void build_from_heap(const Heap& heap, bool all);
  /// The objects of the Heap (starts bits set, marked or not) that the last
  /// build_from_heap() read: CollectionStats::objects.
  std::size_t heap_objects() const { return heap_objects_; }
  /// Candidates = exactly `objects` (each must be an object of `heap`).
  void build_from_list(const Heap& heap, std::span<void* const> objects);

  /// Number of candidates.
  std::size_t size() const { return objects_.size(); }
  /// The i-th candidate, in address order (arenas sorted by address).
  void* object(std::size_t i) const { return objects_[i]; }
  /// Every candidate, in index order.
  std::span<void* const> objects() const { return objects_; }
  /// The index of `obj`, or npos if it is not a candidate.
  std::size_t index_of(const void* obj) const;
  /// Every index, 0 .. size() - 1.
  std::vector<std::size_t> indices() const;

 private:
  struct Arena {
    uintptr_t base = 0, limit = 0;
    std::vector<std::uint64_t> bits;    // candidate bits, one per granule
    std::vector<std::uint32_t> prefix;  // candidates before each word, in this arena
    std::size_t first = 0;              // index of this arena's first candidate
  };
  void index();  // fills prefix, first and objects_ from bits
  std::size_t find_arena(uintptr_t p) const;  // binary search; npos if none
  std::vector<Arena> arenas_;  // sorted by base
  std::vector<void*> objects_;
  std::size_t heap_objects_ = 0;  // see heap_objects()
};

}  // namespace tricolor
