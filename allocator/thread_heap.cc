// allocator/thread_heap.cc -- allocator/thread_heap.h: each thread's heaps
// per Space, and the live generations that tell stale heaps from live ones.
// Invariants and concurrency rules: the header.
#include "allocator/thread_heap.h"

#include <algorithm>
#include <atomic>
#include <iterator>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <utility>

namespace tricolor {
namespace {

struct Generations {
  std::mutex mu;
  std::unordered_set<std::uint64_t> live;  // guarded by mu
  std::atomic<std::uint64_t> next{1};
};

Generations& generations() {
  static Generations* g = new Generations;  // never destroyed: see the header
  return *g;
}

void destroy_heaps(HeapSet& hs) {
  for (mi_heap_t*& h : hs.heaps) {
    if (h != nullptr) {
      mi_heap_destroy(h);
      h = nullptr;
    }
  }
}

thread_local bool tl_heap_sets_gone = false;  // ThreadHeaps already destroyed

struct ThreadHeaps {
  std::vector<std::unique_ptr<HeapSet>> sets;

  // Destroys (on this, the owning, thread) the heaps of dead Spaces.
  void reap_dead() {
    if (sets.empty()) return;
    std::vector<std::unique_ptr<HeapSet>> dead;
    {
      Generations& g = generations();
      std::lock_guard<std::mutex> l(g.mu);
      auto keep = std::stable_partition(sets.begin(), sets.end(), [&](const auto& s) {
        return g.live.count(s->gen) != 0;
      });
      std::move(keep, sets.end(), std::back_inserter(dead));
      sets.erase(keep, sets.end());
    }
    for (auto& s : dead) {
      if (tl_last_heap_set == s.get()) tl_last_heap_set = nullptr;
      destroy_heaps(*s);
    }
  }

  ~ThreadHeaps() {
    tl_heap_sets_gone = true;
    tl_last_heap_set = nullptr;
    reap_dead();
    // Heaps of live Spaces are left to mimalloc's thread teardown, which
    // runs after thread_local destructors: it deletes them and abandons
    // their segments, and the objects stay valid.
    sets.clear();
  }
};

thread_local ThreadHeaps tl_heaps;

}  // namespace

constinit thread_local HeapSet* tl_last_heap_set = nullptr;

std::uint64_t new_generation() { return generations().next.fetch_add(1, std::memory_order_relaxed); }

void generation_born(std::uint64_t gen) {
  Generations& g = generations();
  std::lock_guard<std::mutex> l(g.mu);
  g.live.insert(gen);
}

void generation_died(std::uint64_t gen) {
  Generations& g = generations();
  std::lock_guard<std::mutex> l(g.mu);
  g.live.erase(gen);
}

HeapSet* find_or_make_heap_set(std::uint64_t gen, std::size_t slots, bool* made) {
  *made = false;
  if (tl_heap_sets_gone) return nullptr;  // called from a thread_local destructor
  ThreadHeaps& th = tl_heaps;
  for (auto& s : th.sets) {
    if (s->gen == gen) return s.get();
  }
  th.reap_dead();
  auto s = std::make_unique<HeapSet>();
  s->gen = gen;
  s->heaps.assign(slots, nullptr);
  th.sets.push_back(std::move(s));
  *made = true;
  return th.sets.back().get();
}

void* heap_malloc_in(HeapSet& hs, std::size_t i, mi_arena_id_t id, std::size_t bytes) {
  mi_heap_t*& h = hs.heaps[i];
  if (h == nullptr) {
    h = mi_heap_new_in_arena(id);
    if (h == nullptr) return nullptr;
  }
  return mi_heap_malloc(h, bytes);
}

HeapSet* own_heap_set(std::uint64_t gen) {
  if (tl_heap_sets_gone) return nullptr;
  HeapSet* mine = nullptr;
  for (auto& s : tl_heaps.sets) {
    if (s->gen == gen) mine = s.get();
  }
  return mine;
}

void destroy_heap_set(HeapSet* hs) {
  destroy_heaps(*hs);
  if (tl_last_heap_set == hs) tl_last_heap_set = nullptr;
  auto& sets = tl_heaps.sets;
  sets.erase(std::find_if(sets.begin(), sets.end(), [&](const auto& s) { return s.get() == hs; }));
}

void reap_dead_heap_sets() {
  if (!tl_heap_sets_gone) tl_heaps.reap_dead();
}

}  // namespace tricolor
