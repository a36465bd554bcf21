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
// the batching's and the verification's TBB tasks read it.  arena_of()
// keeps a small cache per thread, keyed by the set's serial.
#pragma once

#include <bit>
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
  /// The index of `obj`, or npos if it is not a candidate.  Inline: the
  /// verification asks it of every reference it reads.
  std::size_t index_of(const void* obj) const {
    auto p = reinterpret_cast<uintptr_t>(obj);
    const std::size_t a = arena_of(p);
    if (a == npos) return npos;
    const Arena& ar = arenas_[a];
    if ((p - ar.base) % TC_GRANULE) return npos;
    std::size_t g = (p - ar.base) / TC_GRANULE;
    std::uint32_t k = ar.block[g / 64 / kBlockWords];
    if (k == kNoBlock) return npos;
    const Word& w = words_[k * kBlockWords + g / 64 % kBlockWords];
    std::uint64_t bit = std::uint64_t{1} << (g % 64);
    if (!(w.bits & bit)) return npos;
    return w.before + static_cast<std::size_t>(std::popcount(w.bits & (bit - 1)));
  }
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
  // An address interval this thread looked up: an arena, or the gap
  // between two (a = npos).
  struct Interval {
    std::uint64_t serial = 0;  // the set's serial_ when it was read
    uintptr_t lo = 0, hi = 0;  // [lo, hi)
    std::size_t a = npos;
  };
  // The arena of p, or npos.  The intervals this thread found last in any
  // set are kept, direct-mapped by 32 MiB of address: a structure's
  // objects share an arena or a few, but their references alternate among
  // them, their type's arena and objects outside every arena (a CPython
  // int's block, a static type), and the binary search was a tenth of a
  // verify pause (perf, a dying 1 M-object structure).  Keyed by serial_,
  // which reset() renews, so an entry never outlives the arenas it was
  // read from.
  std::size_t arena_of(uintptr_t p) const {
    thread_local Interval cache[16];
    Interval& e = cache[(p >> 25) & 15];
    if (e.serial == serial_ && p - e.lo < e.hi - e.lo) return e.a;
    return find_arena(p, e);
  }
  std::size_t find_arena(uintptr_t p, Interval& e) const;  // binary search, filling e
  std::vector<Arena> arenas_;        // sorted by base
  std::vector<uintptr_t> blocks_;    // each stored block's first address, in address order
  std::vector<Word> words_;          // kBlockWords per stored block
  std::vector<void*> objects_;
  std::size_t heap_objects_ = 0;  // see heap_objects()
  std::uint64_t serial_ = 0;      // renewed by reset(): arena_of()'s cache key (a copy shares it)
};

}  // namespace tricolor
