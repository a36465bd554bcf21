// gc/candidate_set.h -- internal: the candidate set C, an indexed snapshot
// of the objects a collection's verification judges (phases 3, 3b and 4 of
// gc/phase_driver.h).
//
// The candidate set is a sparse snapshot of bitmap words (one bit per
// granule, as in the Heap), each stored beside the number of candidates
// before it, so that "is obj a candidate, and which one" is O(1):
// index = before[word] + popcount(bits below obj), one cache line.  Only
// the blocks (kBlockWords words, 8 KiB of heap) that hold a candidate are
// stored; each arena keeps one 32-bit slot per block saying where its words
// are.  So building, copying and indexing a set costs what its candidates
// cost, not what the heap's address space does: a dense copy of the
// bitmaps (one word per 1 KiB of every arena, built three times per
// collection) made a small heap's collection pay for page faults and
// memset on memory it never used (issue 13 point 5).  The arena of a
// pointer is found by binary search over the heap's arenas sorted by
// address (design.md §4.3).
//
// Phases: build_from_heap() in the candidate scan (3, world running: live &
// ~marked), or inside the verify pause (4) in full-STW mode (every live
// object); build_from_list() over the candidate filter's guess (3b, world
// running).  Then the filter (gc/verifier.h guess_garbage), the batching
// (gc/component_batching.h) and the verification (gc/verifier.h) read it.
//
// Concurrency: build*() run on the collecting thread, in parallel over the
// calling TBB arena; afterwards the set is read-only while the filter's,
// the batching's and the verification's TBB tasks read it.  find_arena()
// keeps a one-entry cache per thread, keyed by the set's serial.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "tricolor/heap.h"

namespace tricolor {

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
  /// Candidates = exactly `objects` (each must be an object of `heap`; any
  /// order, though address order saves a sort).
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
  static constexpr std::size_t kBlockWords = 8;  // 512 granules: 8 KiB of heap
  static constexpr std::uint32_t kNoBlock = ~std::uint32_t{0};
  struct Word {
    std::uint64_t bits = 0;   // candidate bits, one per granule
    std::size_t before = 0;   // candidates in the words before this one
  };
  struct Arena {
    uintptr_t base = 0, limit = 0;
    std::vector<std::uint32_t> block;  // per block of the arena: its number in blocks_, or kNoBlock
  };
  // Arenas from the heap, every block kNoBlock.
  void reset(const std::vector<ArenaBitmaps>& arenas);
  // Appends a block of zero words for arena `a`'s block `b`.
  std::uint32_t add_block(std::size_t a, std::size_t b);
  void index();  // fills before and objects_ from the words' bits
  std::size_t find_arena(uintptr_t p) const;  // cached binary search; npos if none
  std::vector<Arena> arenas_;        // sorted by base
  std::vector<uintptr_t> blocks_;    // each stored block's first address, in address order
  std::vector<Word> words_;          // kBlockWords per stored block
  std::vector<void*> objects_;
  std::size_t heap_objects_ = 0;  // see heap_objects()
  std::uint64_t serial_ = 0;      // renewed by reset(): find_arena()'s cache key (a copy shares it)
};

}  // namespace tricolor
