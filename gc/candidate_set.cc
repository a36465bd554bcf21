// gc/candidate_set.cc -- the candidate set of gc/candidate_set.h: built
// from the Heap's bitmaps or from a list, indexed by a prefix count per
// bitmap word.  The phases that build and read it, and its concurrency
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

std::size_t CandidateSet::find_arena(uintptr_t p) const {
  auto it = std::upper_bound(arenas_.begin(), arenas_.end(), p,
                             [](uintptr_t v, const Arena& ar) { return v < ar.base; });
  if (it == arenas_.begin() || p >= std::prev(it)->limit) return npos;
  return static_cast<std::size_t>(std::prev(it) - arenas_.begin());
}

void CandidateSet::build_from_heap(const Heap& heap, bool all) {
  std::vector<ArenaBitmaps> bms = sorted_arenas(heap);
  std::size_t n = bms.size();
  arenas_.assign(n, Arena{});
  std::atomic<std::size_t> live{0};  // relaxed: summed once the loops joined
  for (std::size_t a = 0; a < n; a++) {
    ArenaBitmaps bm = bms[a];
    Arena& ar = arenas_[a];
    ar.base = bm.starts.base;
    ar.limit = bm.starts.base + bm.starts.words * TC_WORD_SPAN;
    ar.bits.resize(bm.starts.words);
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, bm.starts.words, 4096),
                      [&](const tbb::blocked_range<std::size_t>& r) {
      std::size_t objects = 0;
      for (std::size_t w = r.begin(); w != r.end(); w++) {
        std::uint64_t s = __atomic_load_n(&bm.starts.bits[w], __ATOMIC_ACQUIRE);
        std::uint64_t m = all ? 0 : __atomic_load_n(&bm.marks.bits[w], __ATOMIC_RELAXED);
        objects += static_cast<std::size_t>(std::popcount(s));
        if (TC_MUTANT(CandidatesIgnoreLiveBit)) s = ~std::uint64_t{0};
        ar.bits[w] = s & ~m;
      }
      live.fetch_add(objects, std::memory_order_relaxed);
    });
  }
  heap_objects_ = live.load(std::memory_order_relaxed);
  index();
}

void CandidateSet::build_from_list(const Heap& heap, std::span<void* const> objects) {
  std::vector<ArenaBitmaps> bms = sorted_arenas(heap);
  std::size_t n = bms.size();
  arenas_.assign(n, Arena{});
  for (std::size_t a = 0; a < n; a++) {
    arenas_[a].base = bms[a].starts.base;
    arenas_[a].limit = bms[a].starts.base + bms[a].starts.words * TC_WORD_SPAN;
    arenas_[a].bits.assign(bms[a].starts.words, 0);
  }
  for (void* obj : objects) {
    auto p = reinterpret_cast<uintptr_t>(obj);
    if (std::size_t a = find_arena(p); a != npos) {
      std::size_t g = (p - arenas_[a].base) / TC_GRANULE;
      arenas_[a].bits[g / 64] |= std::uint64_t{1} << (g % 64);
    }
  }
  index();
}

void CandidateSet::index() {
  std::size_t total = 0;
  for (Arena& ar : arenas_) {
    ar.first = total;
    ar.prefix.resize(ar.bits.size());
    std::uint32_t count = 0;
    for (std::size_t w = 0; w < ar.bits.size(); w++) {
      ar.prefix[w] = count;
      count += static_cast<std::uint32_t>(std::popcount(ar.bits[w]));
    }
    total += count;
  }
  objects_.resize(total);
  for (Arena& ar : arenas_) {
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, ar.bits.size(), 4096),
                      [&](const tbb::blocked_range<std::size_t>& r) {
      for (std::size_t w = r.begin(); w != r.end(); w++) {
        std::size_t k = ar.first + ar.prefix[w];
        for (std::uint64_t b = ar.bits[w]; b; b &= b - 1) {
          std::size_t g = w * 64 + static_cast<std::size_t>(std::countr_zero(b));
          objects_[k++] = reinterpret_cast<void*>(ar.base + g * TC_GRANULE);
        }
      }
    });
  }
}

std::vector<std::size_t> CandidateSet::indices() const {
  std::vector<std::size_t> all(size());
  std::iota(all.begin(), all.end(), std::size_t{0});
  return all;
}

std::size_t CandidateSet::index_of(const void* obj) const {
  auto p = reinterpret_cast<uintptr_t>(obj);
  const std::size_t a = find_arena(p);
  if (a == npos) return npos;
  const Arena* ar = &arenas_[a];
  if ((p - ar->base) % TC_GRANULE) return npos;
  std::size_t g = (p - ar->base) / TC_GRANULE;
  std::uint64_t word = ar->bits[g / 64];
  std::uint64_t bit = std::uint64_t{1} << (g % 64);
  if (!(word & bit)) return npos;
  return ar->first + ar->prefix[g / 64] + static_cast<std::size_t>(std::popcount(word & (bit - 1)));
}

}  // namespace tricolor
