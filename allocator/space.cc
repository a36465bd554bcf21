// allocator/space.cc -- tricolor::Space, the facade: allocation, free, the
// bitmap queries and scans, and the order in which a Space is built and
// destroyed.  The parts live in their own files:
//   allocator/arena_pool.{h,cc}   a Space's arenas and their bitmaps, and
//                                 the process-wide pool of retired arenas;
//   allocator/thread_heap.{h,cc}  each thread's mimalloc heaps per Space,
//                                 and which Spaces are still live;
//   allocator/tsan_model.{h,cc}   mimalloc's order of frees and reuse, told
//                                 to ThreadSanitizer.
//
// Invariants (A1-A3 are allocator/arena_pool.h's, H1-H3
// allocator/thread_heap.h's, M1-M2 allocator/tsan_model.h's):
//   I1 starts bit set <=> a block returned by allocate() and not yet passed
//      to free() begins at that granule. allocate() sets it after
//      mi_heap_malloc returns, free() clears it before mi_free, so the bit
//      is never set on memory mimalloc considers free.
//   I2 every block allocate() returns is 16-aligned and lies in the arena
//      whose heap produced it: requests are rounded up to a multiple of 16
//      and to at least 16 (mimalloc's 8-byte bin is only 8-aligned; all
//      bins >= 16 are multiples of 16), and an exclusive heap only takes
//      segments from its own arena (it never falls back to the OS: on an
//      exhausted arena mi_heap_malloc returns NULL with errno = ENOMEM,
//      silently -- measured).
//   I3 while black allocation is on, allocate() sets the marks bit before
//      the starts bit, and the starts bit with release; a candidate scan
//      (CandidateSet::build_from_heap) loads a starts word with acquire
//      before the marks word.  So a scan that sees the starts bit of an
//      allocation made with black allocation on sees its marks bit too: an
//      object being born while the scan runs is never a candidate, so the
//      concurrent phases never inspect it under construction.  (The other
//      order let a scan see starts without marks, and the candidate filter
//      inspected a block the embedder had not yet initialised: stress
//      suite, issue 17; mutant starts-before-marks.)
//   I4 = A1: arenas[0, count) are fully initialised and never change until
//      the destructor; an object never spans two arenas.
//   I5 with config.world set, allocate() throws UsageError on a thread not
//      attached to it: on the slow path always (every thread's first
//      allocation in a Space takes it), on every call in Debug builds --
//      World::safepoint()'s convention.
//
// Allocation.  The fast path uses the thread's last HeapSet
// (allocator/thread_heap.h).  When mi_heap_malloc fails, alloc_slow() tries
// the thread's other arenas (cur+1, ..., wrapping, so holes in old arenas
// are refilled before growing), then adds a new arena if every arena failed
// and max_arenas allows, and goes on doing so while another thread takes
// the new arena first; allocate() returns nullptr only once no arena can be
// added.  A request larger than an empty arena can hold (arena size - 4 MiB
// of huge-segment overhead, measured) fails at once instead of reserving
// arenas it cannot use.
//
// Black allocation uses seq_cst for the starts-bit RMW and the flag load,
// and a seq_cst store to set the flag: stronger than the release/acquire
// the header promises, and free on x86-64 (the RMW is a locked instruction
// either way and a seq_cst load is a plain load), but it makes the
// Dekker-style pair "allocator sets starts then reads black / collector
// sets black then reads starts" safe for a collector that also uses
// seq_cst (or a full fence) on its side.
//
// The destructor, on the destroying thread D (no other thread may use the
// Space concurrently; objects become invalid):
//   1. if any thread other than D ever allocated in the Space, mi_free every
//      object whose starts bit is set (D cannot destroy other threads'
//      heaps, and the blocks of exited threads sit in abandoned segments
//      that nobody would ever free otherwise);
//   2. mi_heap_destroy D's own heaps of this Space;
//   3. remove the generation from the live set (the other threads' heaps of
//      it are stale from now on: allocator/thread_heap.h) and put the
//      arenas in the retired pool (allocator/arena_pool.h);
//   4. munmap the bitmaps, destroy D's stale heaps and mi_collect(true), so
//      the freed memory goes back to the OS now (without it mimalloc purges
//      after a delay; the arena range stays mapped read-write, so reading
//      mimalloc metadata of freed memory -- mi_usable_size in a racy
//      object_start -- returns 0 rather than faulting).
// Step 1 happens before step 3, so no thread destroys a heap while D is
// still freeing blocks in it.
//
// clear_marks. Measured on an 8 MiB marks array (one 1 GiB arena), one
// thread:
//   memset:             0.24 ms if every page is dirty; 4.6 ms if none is,
//                       and it commits all 8 MiB;
//   madvise(DONTNEED):  0.9 ms, plus 4 ms of page faults when the next cycle
//                       marks the same pages again;
//   load each word, store 0 if non-zero: 0.42 ms all dirty; pages never
//                       written map the shared zero page on the first pass
//                       (2 ms once), then cost ~0.3 ms; never commits.
// We use the last, with relaxed atomics (so no data race with concurrent
// relaxed readers), in parallel over 1024-word chunks like the scans.
//
// object_start scans the starts bitmap backwards without a bound (a huge
// object is one bit far below); in a region with no object below, that is
// up to one word per KiB of arena (~0.3 ms for a 1 GiB arena).
//
// Concurrency of the shared fields (Impl):
//   config_, gen_: immutable after construction.
//   arenas_:       allocator/arena_pool.h (append-only, published with a
//                  release store of the count; a mutex to add).
//   black_:        atomic; seq_cst store, seq_cst/acquire loads.
//   heap_sets_:    atomic counter of HeapSets ever made; relaxed (read only
//                  by the destructor, which is ordered after all use).
//   between_bits_hook_, added_arena_hook_: empty in production; set by
//                  SpaceTesting (allocator/testing.h) before any thread
//                  allocates (the threads that allocate are started after
//                  it, which orders the write before their reads);
//                  read-only afterwards.
//   bitmaps:       atomic per word (bitmap.h).
// Thread-local: the HeapSets (allocator/thread_heap.h).
#include "tricolor/space.h"

#include <mimalloc.h>                 // mi_free, mi_heap_malloc, mi_usable_size, mi_collect
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "allocator/arena_pool.h"     // ArenaTable, Arena
#include "allocator/testing.h"        // SpaceTesting
#include "allocator/thread_heap.h"    // HeapSet, tl_last_heap_set
#include "allocator/tsan_model.h"     // tsan_model::freed / allocated
#include "gc/mutants.h"               // TC_MUTANT(StartsBeforeMarks)
#include "tricolor/stop_the_world.h"  // World::attached, UsageError

namespace tricolor {
namespace {

// Words of bitmap per unit of parallel work (1 MiB of heap).
constexpr std::size_t kChunkWords = 1024;

}  // namespace

struct Space::Impl {
  explicit Impl(const SpaceConfig& config);
  ~Impl();

  void check_attached() const {
    if (config_.world != nullptr && !config_.world->attached()) [[unlikely]] {
      throw UsageError("Space::allocate() called from a thread that is not attached to the "
                       "Space's World (SpaceConfig::world)");
    }
  }
  void* alloc_slow(std::size_t bytes, bool skip_cur, std::size_t* index);
  template <class PerWord>
  void parallel_words(const PerWord& per_word) const;
  template <class Fn>
  void each_set_bit(const Arena& a, std::size_t w, bool unmarked_only, const Fn& fn) const;

  const SpaceConfig config_;
  ArenaTable arenas_;
  const std::uint64_t gen_;
  std::atomic<bool> black_{false};
  std::atomic<std::size_t> heap_sets_{0};
  std::function<void(void*)> between_bits_hook_;
  std::function<void()> added_arena_hook_;
};

Space::Impl::Impl(const SpaceConfig& config)
    : config_(config),
      arenas_(config.max_arenas, config.arena_bytes, config.commit),
      gen_(new_generation()) {
  if (config.max_arenas == 0) {
    throw std::runtime_error("tricolor::Space: max_arenas must be at least 1");
  }
  if (config.arena_bytes > kMaxArenaBytes) {
    throw std::runtime_error("tricolor::Space: arena_bytes above " +
                             std::to_string(kMaxArenaBytes) + " bytes");
  }
  std::string error;
  if (!arenas_.add_first(&error)) throw std::runtime_error("tricolor::Space: " + error);
  generation_born(gen_);
}

Space::Impl::~Impl() {
  const std::size_t n = arenas_.count();

  HeapSet* mine = own_heap_set(gen_);
  // 1. Free every object unless all of them are in this thread's heaps.
  if (heap_sets_.load(std::memory_order_relaxed) != (mine != nullptr ? 1u : 0u)) {
    for (std::size_t i = 0; i < n; ++i) {
      const Arena& a = arenas_[i];
      for (std::size_t w = 0; w < a.starts.words; ++w) {
        each_set_bit(a, w, false, [](void* obj) {
          tsan_model::freed(obj);
          mi_free(obj);
        });
      }
    }
  }
  // 2. Destroy this thread's heaps.
  if (mine != nullptr) destroy_heap_set(mine);
  // 3. Dead from now on; the arenas go back to the pool.  4. Release the
  // bitmaps (retire_all), this thread's stale heaps and, now, the freed
  // pages.
  generation_died(gen_);
  arenas_.retire_all();
  reap_dead_heap_sets();
  mi_collect(true);
}

void* Space::Impl::alloc_slow(std::size_t bytes, bool skip_cur, std::size_t* index) {
  check_attached();  // I5: always on the slow path
  bool made = false;
  HeapSet* hs = find_or_make_heap_set(gen_, arenas_.slots(), &made);
  if (hs == nullptr) return nullptr;
  if (made) {
    // Start in the newest arena: the older ones are the likelier to be full.
    hs->cur = arenas_.count() - 1;
    heap_sets_.fetch_add(1, std::memory_order_relaxed);
  }
  auto found = [&](std::size_t i, void* p) {
    hs->cur = i;
    tl_last_heap_set = hs;
    *index = i;
    return p;
  };
  std::size_t n = arenas_.count();
  for (std::size_t k = skip_cur ? 1 : 0; k < n; ++k) {
    const std::size_t i = (hs->cur + k) % n;
    if (void* p = heap_malloc_in(*hs, i, arenas_[i].id, bytes)) return found(i, p);
  }
  // Every arena failed: try the arenas other threads added meanwhile, or
  // add one. Another thread may take an arena we added before we get to it
  // (in a small arena a thread's heap takes the whole arena), so failing
  // in it is no reason to give up: a request of at most max_request() fits
  // an empty arena. Only running out of arenas ends the search; every
  // round raises n, so it ends. (It used to give up after two lost races,
  // long before max_arenas: issue 17, test ThreadsRacingForNewArenas.)
  for (;;) {
    bool added = false;
    const std::size_t m = arenas_.grow_past(n, &added);
    if (m == n) return nullptr;  // no arena can be added
    if (added && added_arena_hook_) [[unlikely]] added_arena_hook_();
    for (std::size_t i = n; i < m; ++i) {
      if (void* p = heap_malloc_in(*hs, i, arenas_[i].id, bytes)) return found(i, p);
    }
    n = m;
  }
}

template <class Fn>
void Space::Impl::each_set_bit(const Arena& a, std::size_t w, bool unmarked_only,
                               const Fn& fn) const {
  std::uint64_t bits = __atomic_load_n(&a.starts.bits[w], __ATOMIC_RELAXED);
  if (bits == 0) return;
  if (unmarked_only) bits &= ~__atomic_load_n(&a.marks.bits[w], __ATOMIC_RELAXED);
  while (bits != 0) {
    const std::size_t b = static_cast<std::size_t>(__builtin_ctzll(bits));
    bits &= bits - 1;
    fn(tc_bitmap_address(&a.starts, w * 64 + b));
  }
}

// Calls per_word(arena, word index) for every bitmap word of every arena,
// in parallel over chunks of kChunkWords words.
template <class PerWord>
void Space::Impl::parallel_words(const PerWord& per_word) const {
  const std::size_t n = arenas_.count();
  if (n == 0) return;
  std::vector<std::size_t> first(n + 1, 0);  // first chunk of arena i
  for (std::size_t i = 0; i < n; ++i) {
    first[i + 1] = first[i] + (arenas_[i].starts.words + kChunkWords - 1) / kChunkWords;
  }
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, first[n]),
                    [&](const tbb::blocked_range<std::size_t>& r) {
                      std::size_t i = static_cast<std::size_t>(
                          std::upper_bound(first.begin(), first.end(), r.begin()) - first.begin() - 1);
                      for (std::size_t c = r.begin(); c != r.end(); ++c) {
                        while (c >= first[i + 1]) ++i;
                        const Arena& a = arenas_[i];
                        const std::size_t w0 = (c - first[i]) * kChunkWords;
                        const std::size_t w1 = std::min(w0 + kChunkWords, a.starts.words);
                        for (std::size_t w = w0; w < w1; ++w) per_word(a, w);
                      }
                    });
}

// ---------------------------------------------------------------------------

Space::Space(const SpaceConfig& config) : impl_(std::make_unique<Impl>(config)) {}

Space::~Space() = default;

void* Space::allocate(std::size_t bytes) {
  Impl& s = *impl_;
#ifndef NDEBUG
  s.check_attached();  // I5: on every call in Debug builds
#endif
  assert(bytes > 0);
  if (bytes > s.arenas_.max_request()) return nullptr;
  const std::size_t req = bytes <= TC_GRANULE ? TC_GRANULE : round_up(bytes, TC_GRANULE);

  std::size_t index = 0;
  void* p;
  HeapSet* hs = tl_last_heap_set;
  if (hs != nullptr && hs->gen == s.gen_) [[likely]] {
    index = hs->cur;
    p = mi_heap_malloc(hs->heaps[index], req);
    if (p == nullptr) p = s.alloc_slow(req, /*skip_cur=*/true, &index);
  } else {
    p = s.alloc_slow(req, /*skip_cur=*/false, &index);
  }
  if (p == nullptr) return nullptr;
  tsan_model::allocated(p);

  assert(reinterpret_cast<std::uintptr_t>(p) % TC_GRANULE == 0);
  const Arena& a = s.arenas_[index];
  assert(tc_bitmap_covers(&a.starts, p));
  // I3: the marks bit first.
  auto mark_if_black = [&] {
    if (s.black_.load(std::memory_order_seq_cst)) tc_bitmap_set(&a.marks, p, __ATOMIC_RELAXED);
  };
  bool fresh;
  if (TC_MUTANT(StartsBeforeMarks)) [[unlikely]] {
    fresh = tc_bitmap_set(&a.starts, p, __ATOMIC_SEQ_CST);
    if (s.between_bits_hook_) s.between_bits_hook_(p);
    mark_if_black();
  } else {
    mark_if_black();
    if (s.between_bits_hook_) [[unlikely]] s.between_bits_hook_(p);
    fresh = tc_bitmap_set(&a.starts, p, __ATOMIC_SEQ_CST);
  }
  assert(fresh);
  (void)fresh;
  return p;
}

void Space::free(void* obj) {
  const Arena* a = impl_->arenas_.find(obj);
  assert(a != nullptr && "Space::free of a pointer outside the Space");
  if (a == nullptr) return;
  const bool was_set = tc_bitmap_clear(&a->starts, obj, __ATOMIC_RELEASE);
  assert(was_set && "Space::free of a non-object or double free");
  if (!was_set) return;  // never hand mimalloc a block twice
  tsan_model::freed(obj);
  mi_free(obj);
}

bool Space::contains(const void* p) const { return impl_->arenas_.find(p) != nullptr; }

bool Space::is_object(const void* p) const {
  if (reinterpret_cast<std::uintptr_t>(p) % TC_GRANULE != 0) return false;
  const Arena* a = impl_->arenas_.find(p);
  return a != nullptr && tc_bitmap_test(&a->starts, p);
}

void* Space::object_start(const void* p) const {
  const Arena* a = impl_->arenas_.find(p);
  if (a == nullptr) return nullptr;
  void* start = tc_bitmap_find_prev(&a->starts, p);
  if (start == nullptr) return nullptr;
  const std::size_t size = mi_usable_size(start);
  return reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(start) < size
             ? start
             : nullptr;
}

std::size_t Space::object_size(const void* obj) { return mi_usable_size(obj); }

bool Space::is_marked(const void* obj) const {
  const Arena* a = impl_->arenas_.find(obj);
  return a != nullptr && tc_bitmap_test(&a->marks, obj);
}

bool Space::try_mark(const void* obj) {
  const Arena* a = impl_->arenas_.find(obj);
  return a != nullptr && tc_bitmap_set(&a->marks, obj, __ATOMIC_RELAXED);
}

bool Space::mark_if_object(const void* p) {
  if (reinterpret_cast<std::uintptr_t>(p) % TC_GRANULE != 0) return false;
  const Arena* a = impl_->arenas_.find(p);
  return a != nullptr && tc_bitmap_test(&a->starts, p) && tc_bitmap_set(&a->marks, p, __ATOMIC_RELAXED);
}

void Space::set_black_allocation(bool on) { impl_->black_.store(on, std::memory_order_seq_cst); }

bool Space::black_allocation() const { return impl_->black_.load(std::memory_order_acquire); }

void Space::for_each_unmarked(const std::function<void(void*)>& fn) const {
  const Impl& s = *impl_;
  s.parallel_words([&](const Arena& a, std::size_t w) { s.each_set_bit(a, w, true, fn); });
}

void Space::for_each_object(const std::function<void(void*)>& fn) const {
  const Impl& s = *impl_;
  s.parallel_words([&](const Arena& a, std::size_t w) { s.each_set_bit(a, w, false, fn); });
}

void Space::clear_marks() {
  impl_->parallel_words([](const Arena& a, std::size_t w) {
    std::uint64_t* word = &a.marks.bits[w];
    if (__atomic_load_n(word, __ATOMIC_RELAXED) != 0) __atomic_store_n(word, 0, __ATOMIC_RELAXED);
  });
}

std::size_t Space::arena_count() const { return impl_->arenas_.count(); }

ArenaBitmaps Space::arena_bitmaps(std::size_t i) const {
  if (i >= arena_count()) throw std::out_of_range("Space::arena_bitmaps: no such arena");
  return {impl_->arenas_[i].starts, impl_->arenas_[i].marks};
}

std::size_t Space::reserved_bytes() const {
  const std::size_t n = impl_->arenas_.count();
  std::size_t total = 0;
  for (std::size_t i = 0; i < n; ++i) total += impl_->arenas_[i].size;
  return total;
}

// ---------------------------------------------------------------------------
// allocator/testing.h

void SpaceTesting::set_between_bits_hook(Space& space, std::function<void(void*)> hook) {
  space.impl_->between_bits_hook_ = std::move(hook);
}

void SpaceTesting::set_added_arena_hook(Space& space, std::function<void()> hook) {
  space.impl_->added_arena_hook_ = std::move(hook);
}

}  // namespace tricolor
