// gc/candidate_set.cc -- the candidate set of gc/candidate_set.h: built
// from the Heap's bitmaps or from a list, stored by block, indexed by a
// count per word.  The phases that build and read it, and its concurrency
// rule, are in the header.
#include "gc/candidate_set.h"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <iterator>
#include <numeric>

#include "gc/mutants.h"
#include "tricolor/heap.h"

namespace tricolor {

// The heap's arenas sorted by address, so that a pointer finds its arena by
// binary search: a CPython heap has one arena per 32 MiB segment, hundreds
// of them, and every reference the verification reads is looked up.
static std::vector<ArenaBitmaps> sorted_arenas(const Heap& heap) {
  std::vector<ArenaBitmaps> out(heap.arena_count());
  for (std::size_t a = 0; a < out.size(); a++) out[a] = heap.arena_bitmaps(a);
  std::sort(out.begin(), out.end(),
            [](const ArenaBitmaps& x, const ArenaBitmaps& y) { return x.starts.base < y.starts.base; });
  return out;
}

std::size_t CandidateSet::find_arena(uintptr_t p, Interval& e) const {
  auto it = std::upper_bound(arenas_.begin(), arenas_.end(), p,
                             [](uintptr_t v, const Arena& ar) { return v < ar.base; });
  if (it != arenas_.begin() && p < std::prev(it)->limit) {
    e = {serial_, std::prev(it)->base, std::prev(it)->limit,
         static_cast<std::size_t>(std::prev(it) - arenas_.begin())};
  } else {
    e = {serial_, it == arenas_.begin() ? 0 : std::prev(it)->limit,
         it == arenas_.end() ? UINTPTR_MAX : it->base, npos};
  }
  return e.a;
}

void CandidateSet::reset(const std::vector<ArenaBitmaps>& bms) {
  static std::atomic<std::uint64_t> next_serial{1};
  serial_ = next_serial.fetch_add(1, std::memory_order_relaxed);
  arenas_.assign(bms.size(), Arena{});
  for (std::size_t a = 0; a < bms.size(); a++) {
    arenas_[a].base = bms[a].starts.base;
    arenas_[a].limit = bms[a].starts.base + bms[a].starts.words * TC_WORD_SPAN;
    arenas_[a].block.assign((bms[a].starts.words + kBlockWords - 1) / kBlockWords, kNoBlock);
  }
  blocks_.clear();
  words_.clear();
  objects_.clear();
}

std::uint32_t CandidateSet::add_block(std::size_t a, std::size_t b) {
  auto k = static_cast<std::uint32_t>(blocks_.size());
  blocks_.push_back(arenas_[a].base + b * kBlockWords * TC_WORD_SPAN);
  words_.resize(words_.size() + kBlockWords);
  arenas_[a].block[b] = k;
  return k;
}

// Two passes over the heap's bitmaps, world running: the first finds the
// blocks that hold a candidate (and counts the heap's objects), the second
// stores those blocks' words.  A bit the second pass reads that the first
// did not is one the scan read later -- as a one-pass scan may read any word
// at any moment, either read is a valid snapshot of that word.  The words
// only lose candidate bits meanwhile (an object freed; every object born
// while a concurrent collection scans is born marked, tricolor/heap.h),
// except in blocks the first pass found empty, which stay empty here.
void CandidateSet::build_from_heap(const Heap& heap, bool all) {
  std::vector<ArenaBitmaps> bms = sorted_arenas(heap);
  reset(bms);
  auto word = [&](const ArenaBitmaps& bm, std::size_t w, std::size_t* objects) {
    std::uint64_t s = __atomic_load_n(&bm.starts.bits[w], __ATOMIC_ACQUIRE);
    std::uint64_t m = all ? 0 : __atomic_load_n(&bm.marks.bits[w], __ATOMIC_RELAXED);
    if (objects) *objects += static_cast<std::size_t>(std::popcount(s));
    if (TC_MUTANT(CandidatesIgnoreLiveBit)) s = ~std::uint64_t{0};
    return s & ~m;
  };
  std::atomic<std::size_t> live{0};  // relaxed: summed once the loops joined
  for (std::size_t a = 0; a < bms.size(); a++) {
    const ArenaBitmaps& bm = bms[a];
    Arena& ar = arenas_[a];
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, ar.block.size(), 512),
                      [&](const tbb::blocked_range<std::size_t>& r) {
      std::size_t objects = 0;
      for (std::size_t b = r.begin(); b != r.end(); b++) {
        std::uint64_t any = 0;
        for (std::size_t w = b * kBlockWords; w < std::min((b + 1) * kBlockWords, bm.starts.words); w++) {
          any |= word(bm, w, &objects);
        }
        if (any) ar.block[b] = 0;  // numbered below
      }
      live.fetch_add(objects, std::memory_order_relaxed);
    });
  }
  heap_objects_ = live.load(std::memory_order_relaxed);
  for (std::size_t a = 0; a < arenas_.size(); a++) {
    for (std::size_t b = 0; b < arenas_[a].block.size(); b++) {
      if (arenas_[a].block[b] != kNoBlock) add_block(a, b);
    }
  }
  for (std::size_t a = 0; a < bms.size(); a++) {
    const ArenaBitmaps& bm = bms[a];
    Arena& ar = arenas_[a];
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, ar.block.size(), 512),
                      [&](const tbb::blocked_range<std::size_t>& r) {
      for (std::size_t b = r.begin(); b != r.end(); b++) {
        if (ar.block[b] == kNoBlock) continue;
        Word* out = &words_[ar.block[b] * kBlockWords];
        for (std::size_t w = b * kBlockWords; w < std::min((b + 1) * kBlockWords, bm.starts.words); w++) {
          out[w - b * kBlockWords].bits = word(bm, w, nullptr);
        }
      }
    });
  }
  index();
}

void CandidateSet::build_from_list(const Heap& heap, std::span<void* const> objects) {
  std::vector<void*> sorted;
  if (!std::is_sorted(objects.begin(), objects.end())) {
    sorted.assign(objects.begin(), objects.end());
    std::sort(sorted.begin(), sorted.end());
    objects = sorted;
  }
  reset(sorted_arenas(heap));
  std::size_t a = npos;
  for (void* obj : objects) {
    auto p = reinterpret_cast<uintptr_t>(obj);
    if (a == npos || p < arenas_[a].base || p >= arenas_[a].limit) a = arena_of(p);
    if (a == npos) continue;
    std::size_t g = (p - arenas_[a].base) / TC_GRANULE;
    std::size_t b = g / 64 / kBlockWords;
    std::uint32_t k = arenas_[a].block[b];
    if (k == kNoBlock) k = add_block(a, b);
    words_[k * kBlockWords + g / 64 % kBlockWords].bits |= std::uint64_t{1} << (g % 64);
  }
  index();
}

void CandidateSet::index() {
  std::size_t total = 0;
  for (Word& w : words_) {
    w.before = total;
    total += static_cast<std::size_t>(std::popcount(w.bits));
  }
  objects_.resize(total);
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, words_.size(), 4096),
                    [&](const tbb::blocked_range<std::size_t>& r) {
    for (std::size_t w = r.begin(); w != r.end(); w++) {
      uintptr_t base = blocks_[w / kBlockWords] + (w % kBlockWords) * TC_WORD_SPAN;
      std::size_t k = words_[w].before;
      for (std::uint64_t b = words_[w].bits; b; b &= b - 1) {
        objects_[k++] = reinterpret_cast<void*>(base + static_cast<std::size_t>(std::countr_zero(b)) * TC_GRANULE);
      }
    }
  });
}

std::vector<std::size_t> CandidateSet::indices() const {
  std::vector<std::size_t> all(size());
  std::iota(all.begin(), all.end(), std::size_t{0});
  return all;
}

}  // namespace tricolor
