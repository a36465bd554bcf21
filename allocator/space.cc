// allocator/space.cc -- tricolor::Space: exclusive mimalloc arenas with side
// bitmaps, one mimalloc heap per (thread, arena).
//
// Design
// ======
//
// Arenas. A Space owns up to config.max_arenas arenas (at most 64, see
// below). An arena is a range of address space reserved with
// mi_reserve_os_memory_ex(exclusive=true): only heaps made with
// mi_heap_new_in_arena(id) allocate in it, so every object of the Space
// lies in a known range and nothing else (not even plain malloc, which is
// mimalloc too when libmimalloc is linked) does.
// mimalloc 2.0.9 rounds an arena up to 32 MiB (MI_ARENA_BLOCK_SIZE) and
// aligns it to 32 MiB; we round arena_bytes up the same way, so every arena
// of a Space has the same size. The first arena is reserved by the
// constructor; more are added when a thread finds every arena full.
//
// Bitmaps. Each arena has two tc_bitmaps over exactly its range (the size is
// a multiple of 32 MiB, hence of TC_WORD_SPAN): `starts` and `marks`, one
// bit per 16-byte granule (tricolor/bitmap.h). Both live in one private
// anonymous mmap (MAP_NORESERVE, zero-filled, committed page by page on
// first write), 1/64 of the arena, munmapped by the destructor.
//
// Invariants.
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
//   I4 arenas[0, count_) are fully initialised and never change until the
//      destructor; an object never spans two arenas.
//
// Heaps and the thread cache. mimalloc heaps belong to the thread that made
// them: only that thread may allocate from, delete or destroy them (any
// thread may mi_free a block). Each thread keeps, per Space, a HeapSet
// {generation, current arena, heap per arena (made on first use)} in a
// thread_local list; `tl_last` points at the set used last, so the fast
// path is: compare tl_last->gen with the Space's, mi_heap_malloc on the
// current arena's heap, set the bits. A Space is identified by a
// process-unique generation number, never by its address, so a Space
// created at the address of a dead one never picks up the dead one's heaps.
// When mi_heap_malloc fails, the thread tries the other arenas (cur+1, ...,
// wrapping, so holes in old arenas are refilled before growing), then
// reserves a new arena under mu_ if every arena failed and max_arenas
// allows, and goes on doing so while another thread takes the new arena
// first; allocate() returns nullptr only once no arena can be added. (Each
// thread's heap needs a segment of its own: a 32 MiB arena holds one, so
// threads that start together race for new arenas -- measured, 16 threads
// used 16 arenas.) A request larger than an empty arena can hold (arena
// size - 4 MiB of huge-segment overhead, measured) fails at once instead
// of reserving arenas it cannot use.
//
// What mimalloc 2.0.9 allows, and the choices that follow (all measured
// with small programs against Debian's libmimalloc 2.0.9):
//   * An arena can never be released: there is no API for it, and the
//     process-wide arena table has 64 slots (the 65th reservation fails
//     with ENOMEM). So a dying Space retires its arenas to a process-wide
//     pool and a later Space with the same arena size and commit flag
//     reuses them; without this, 64 Space lifetimes would exhaust mimalloc.
//   * mi_heap_delete on a live thread moves the heap's pages into the
//     thread's backing heap, after which plain malloc allocates inside the
//     exclusive arena (measured). We therefore never call it.
//   * mi_heap_destroy (heaps from mi_heap_new_in_arena are no_reclaim, so
//     it really frees every page, whatever is still allocated) is legal only
//     on the owning thread.
//   * When a thread exits, mimalloc deletes its remaining heaps and abandons
//     their segments; the objects stay valid, other threads can still
//     mi_free them, and a heap of the same arena on another thread later
//     reclaims the segments (plain malloc heaps never do: the segments are
//     not "suitable" for them). So a thread exiting while its Space lives
//     leaves its heaps to mimalloc and the objects survive.
//   * After the last block of a segment is freed, mi_collect(true) returns
//     the memory to the OS at once (without it mimalloc purges after a
//     delay); the arena range stays mapped read-write, so reading mimalloc
//     metadata of freed memory (mi_usable_size in a racy object_start)
//     returns 0 rather than faulting.
//
// The destructor, on the destroying thread D (no other thread may use the
// Space concurrently; objects become invalid):
//   1. if any thread other than D ever allocated in the Space, mi_free every
//      object whose starts bit is set (D cannot destroy other threads'
//      heaps, and the blocks of exited threads sit in abandoned segments
//      that nobody would ever free otherwise);
//   2. mi_heap_destroy D's own heaps of this Space;
//   3. under the registry mutex, remove the generation from the live set
//      and put the arenas in the retired pool;
//   4. munmap the bitmaps and mi_collect(true) so the freed memory goes
//      back to the OS now.
// A retired arena may still hold a few pages of such stale heaps (below)
// when a new Space takes it over; they are invisible to the new Space,
// whose bitmaps start empty, and are freed when their threads get round to
// it.
// Other live threads still hold (now stale) heaps of the dead Space. They
// destroy them themselves: whenever a thread makes a new HeapSet, and when
// it exits (thread_local destructor, which runs before mimalloc's own
// thread teardown), it destroys the heaps of every generation no longer in
// the live set. Until then those heaps keep a few empty pages; their blocks
// were already freed in step 1. Step 1 happens before step 3, so no thread
// destroys a heap while D is still freeing blocks in it.
//
// Black allocation uses seq_cst for the starts-bit RMW and the flag load,
// and a seq_cst store to set the flag: stronger than the release/acquire
// the header promises, and free on x86-64 (the RMW is a locked instruction
// either way and a seq_cst load is a plain load), but it makes the
// Dekker-style pair "allocator sets starts then reads black / collector
// sets black then reads starts" safe for a collector that also uses
// seq_cst (or a full fence) on its side.
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
//   config_, slots_, arena_size_, max_request_, gen_: immutable after
//               construction.
//   arenas_[i]: written once under mu_ before count_ is raised past i;
//               read lock-free after an acquire load of count_.
//   count_:     atomic; written under mu_ only (release), read lock-free
//               (acquire).
//   mu_:        serialises adding an arena.
//   black_:     atomic; seq_cst store, seq_cst/acquire loads.
//   heap_sets_: atomic counter of HeapSets ever made; relaxed (read only
//               by the destructor, which is ordered after all use).
//   bitmaps:    atomic per word (bitmap.h).
// Process-wide (Registry, leaked so thread exit after static destruction
// is safe): live generations and retired arenas, guarded by Registry::mu.
// Thread-local: the HeapSet list, tl_last and tl_gone, touched only by
// their thread. Once the thread's HeapSet list is destroyed (thread exit),
// allocate() on that thread returns nullptr.
#include "tricolor/space.h"

#include <mimalloc.h>
#include <sys/mman.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <utility>

#include "gc/mutants.h"

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
// mimalloc is not instrumented, so TSan cannot see that a free happens
// before a later allocation that reuses the memory.  The reuse need not be
// at the same address: once a page is empty mimalloc may carve it into
// blocks of another size, so a new block can cover the tails of several old
// ones freed by different threads.  mimalloc itself orders frees and reuse
// per page (the owner collects a page's cross-thread frees with an atomic
// exchange before reusing it), so we model it per 64 KiB slice, mimalloc
// 2.x's page granule (MI_SEGMENT_SLICE_SIZE): a free releases every slice
// its block overlaps, an allocation acquires every slice its block overlaps.
namespace {
constexpr std::uintptr_t kTsanSlice = std::uintptr_t{1} << 16;
template <typename F>
void tsan_each_slice(const void* p, F f) {
  const auto start = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t end = start + mi_usable_size(p);
  for (std::uintptr_t s = start & ~(kTsanSlice - 1); s < end; s += kTsanSlice) {
    f(reinterpret_cast<void*>(s));
  }
}
}  // namespace
#define TC_TSAN_RELEASE(p) tsan_each_slice(p, [](void* s) { __tsan_release(s); })
#define TC_TSAN_ACQUIRE(p) tsan_each_slice(p, [](void* s) { __tsan_acquire(s); })
// (mimalloc's own memset/memcpy calls are TSan's business: the test
// binaries ignore the interceptors it calls: tests/support/tsan_defaults.h.)
#else
#define TC_TSAN_RELEASE(p) ((void)0)
#define TC_TSAN_ACQUIRE(p) ((void)0)
#endif

namespace tricolor {
namespace {

// mimalloc 2.0.9's arena granularity (MI_ARENA_BLOCK_SIZE, measured).
constexpr std::size_t kArenaGranularity = std::size_t{32} << 20;
// An empty arena of N bytes holds one block of at most N - 4 MiB (measured
// for 64 MiB arenas: the largest block is 60 MiB).
constexpr std::size_t kHugeOverhead = std::size_t{4} << 20;
// mimalloc 2.0.9's process-wide arena table (MI_MAX_ARENAS, measured): a
// Space never needs more slots than this, whatever max_arenas says.
constexpr std::size_t kMimallocMaxArenas = 64;
// Sanity bound on arena_bytes (keeps the rounding from overflowing; far
// beyond what a machine can back).
constexpr std::size_t kMaxArenaBytes = std::size_t{1} << 44;
// Words of bitmap per unit of parallel work (1 MiB of heap).
constexpr std::size_t kChunkWords = 1024;

struct RetiredArena {
  mi_arena_id_t id;
  std::uintptr_t start;
  std::size_t size;
  bool commit;
};

struct Registry {
  std::mutex mu;
  std::unordered_set<std::uint64_t> live;  // guarded by mu
  std::vector<RetiredArena> retired;       // guarded by mu
  std::atomic<std::uint64_t> next_gen{1};
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed, see above
  return *r;
}

// One thread's heaps in one Space.
struct HeapSet {
  std::uint64_t gen = 0;
  std::size_t cur = 0;              // arena index this thread allocates from
  std::vector<mi_heap_t*> heaps;    // by arena index; null until first use
};

void destroy_heaps(HeapSet& hs) {
  for (mi_heap_t*& h : hs.heaps) {
    if (h != nullptr) {
      mi_heap_destroy(h);
      h = nullptr;
    }
  }
}

thread_local HeapSet* tl_last = nullptr;  // the set allocate() used last
thread_local bool tl_gone = false;        // ThreadHeaps already destroyed

struct ThreadHeaps {
  std::vector<std::unique_ptr<HeapSet>> sets;

  // Destroys (on this, the owning, thread) the heaps of dead Spaces.
  void reap_dead() {
    if (sets.empty()) return;
    std::vector<std::unique_ptr<HeapSet>> dead;
    {
      Registry& reg = registry();
      std::lock_guard<std::mutex> g(reg.mu);
      auto keep = std::stable_partition(sets.begin(), sets.end(), [&](const auto& s) {
        return reg.live.count(s->gen) != 0;
      });
      std::move(keep, sets.end(), std::back_inserter(dead));
      sets.erase(keep, sets.end());
    }
    for (auto& s : dead) {
      if (tl_last == s.get()) tl_last = nullptr;
      destroy_heaps(*s);
    }
  }

  ~ThreadHeaps() {
    tl_gone = true;
    tl_last = nullptr;
    reap_dead();
    // Heaps of live Spaces are left to mimalloc's thread teardown, which
    // runs after thread_local destructors: it deletes them and abandons
    // their segments, and the objects stay valid.
    sets.clear();
  }
};

thread_local ThreadHeaps tl_heaps;

std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

// One arena of a Space (slot of Impl::arenas_).
struct Arena {
  mi_arena_id_t id = 0;
  std::uintptr_t start = 0;
  std::size_t size = 0;
  tc_bitmap starts{};
  tc_bitmap marks{};
  void* bits_mem = nullptr;  // one mmap: starts words, then marks words
  std::size_t bits_bytes = 0;
};

}  // namespace

struct Space::Impl {
  explicit Impl(const SpaceConfig& config);
  ~Impl();

  const Arena* find(const void* p) const {
    const std::size_t n = count_.load(std::memory_order_acquire);
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    for (std::size_t i = 0; i < n; ++i) {
      if (a - arenas_[i].start < arenas_[i].size) return &arenas_[i];
    }
    return nullptr;
  }

  bool add_arena_locked(std::string* error);
  HeapSet* thread_set();
  void* try_arena(HeapSet& hs, std::size_t i, std::size_t bytes);
  void* alloc_slow(std::size_t bytes, bool skip_cur, std::size_t* index);
  template <class PerWord>
  void parallel_words(const PerWord& per_word) const;
  template <class Fn>
  void each_set_bit(const Arena& a, std::size_t w, bool unmarked_only, const Fn& fn) const;

  const SpaceConfig config_;
  const std::size_t slots_;  // min(max_arenas, kMimallocMaxArenas)
  const std::size_t arena_size_;
  const std::size_t max_request_;
  const std::uint64_t gen_;
  std::unique_ptr<Arena[]> arenas_;
  std::atomic<std::size_t> count_{0};
  std::mutex mu_;
  std::atomic<bool> black_{false};
  std::atomic<std::size_t> heap_sets_{0};
};

Space::Impl::Impl(const SpaceConfig& config)
    : config_(config),
      slots_(std::min(config.max_arenas, kMimallocMaxArenas)),
      arena_size_(round_up(std::clamp<std::size_t>(config.arena_bytes, 1, kMaxArenaBytes),
                           kArenaGranularity)),
      max_request_(arena_size_ - kHugeOverhead),
      gen_(registry().next_gen.fetch_add(1, std::memory_order_relaxed)) {
  if (config.max_arenas == 0) {
    throw std::runtime_error("tricolor::Space: max_arenas must be at least 1");
  }
  if (config.arena_bytes > kMaxArenaBytes) {
    throw std::runtime_error("tricolor::Space: arena_bytes above " +
                             std::to_string(kMaxArenaBytes) + " bytes");
  }
  arenas_ = std::make_unique<Arena[]>(slots_);
  std::string error;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (!add_arena_locked(&error)) throw std::runtime_error("tricolor::Space: " + error);
  }
  Registry& reg = registry();
  std::lock_guard<std::mutex> g(reg.mu);
  reg.live.insert(gen_);
}

bool Space::Impl::add_arena_locked(std::string* error) {
  const std::size_t i = count_.load(std::memory_order_relaxed);
  assert(i < slots_);
  Arena& a = arenas_[i];

  bool have = false;
  {
    Registry& reg = registry();
    std::lock_guard<std::mutex> g(reg.mu);
    for (auto it = reg.retired.begin(); it != reg.retired.end(); ++it) {
      if (it->size == arena_size_ && it->commit == config_.commit) {
        a.id = it->id;
        a.start = it->start;
        a.size = it->size;
        reg.retired.erase(it);
        have = true;
        break;
      }
    }
  }
  if (!have) {
    mi_arena_id_t id = 0;
    const int rc = mi_reserve_os_memory_ex(arena_size_, config_.commit, /*allow_large=*/false,
                                           /*exclusive=*/true, &id);
    if (rc != 0) {
      if (error != nullptr) {
        *error = "mi_reserve_os_memory_ex(" + std::to_string(arena_size_) + " bytes) failed: " +
                 std::strerror(rc) + " (error " + std::to_string(rc) +
                 "; mimalloc 2.0.9 has 64 arena slots per process and never frees one)";
      }
      return false;
    }
    std::size_t size = 0;
    void* start = mi_arena_area(id, &size);
    if (start == nullptr || size < TC_WORD_SPAN) {
      if (error != nullptr) *error = "mi_arena_area gave no usable range for a new arena";
      return false;  // the arena slot is lost; mimalloc cannot give it back
    }
    a.id = id;
    a.start = reinterpret_cast<std::uintptr_t>(start);
    a.size = size / TC_WORD_SPAN * TC_WORD_SPAN;
  }
  assert(a.start % TC_GRANULE == 0);

  const std::size_t words = a.size / TC_WORD_SPAN;
  const std::size_t bytes = 2 * words * sizeof(std::uint64_t);
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) {
    const int err = errno;
    Registry& reg = registry();
    {
      std::lock_guard<std::mutex> g(reg.mu);
      reg.retired.push_back({a.id, a.start, a.size, config_.commit});
    }
    if (error != nullptr) *error = std::string("mmap of the arena bitmaps failed: ") + std::strerror(err);
    a = Arena{};
    return false;
  }
  a.bits_mem = mem;
  a.bits_bytes = bytes;
  auto* bits = static_cast<std::uint64_t*>(mem);
  a.starts = tc_bitmap{a.start, words, bits};
  a.marks = tc_bitmap{a.start, words, bits + words};
  count_.store(i + 1, std::memory_order_release);
  return true;
}

Space::Impl::~Impl() {
  const std::size_t n = count_.load(std::memory_order_acquire);

  HeapSet* mine = nullptr;
  if (!tl_gone) {
    for (auto& s : tl_heaps.sets) {
      if (s->gen == gen_) mine = s.get();
    }
  }
  // 1. Free every object unless all of them are in this thread's heaps.
  if (heap_sets_.load(std::memory_order_relaxed) != (mine != nullptr ? 1u : 0u)) {
    for (std::size_t i = 0; i < n; ++i) {
      const Arena& a = arenas_[i];
      for (std::size_t w = 0; w < a.starts.words; ++w) {
        each_set_bit(a, w, false, [](void* obj) {
          TC_TSAN_RELEASE(obj);
          mi_free(obj);
        });
      }
    }
  }
  // 2. Destroy this thread's heaps.
  if (mine != nullptr) {
    destroy_heaps(*mine);
    if (tl_last == mine) tl_last = nullptr;
    auto& sets = tl_heaps.sets;
    sets.erase(std::find_if(sets.begin(), sets.end(), [&](const auto& s) { return s.get() == mine; }));
  }
  // 3. Dead from now on; the arenas go back to the pool.
  {
    Registry& reg = registry();
    std::lock_guard<std::mutex> g(reg.mu);
    reg.live.erase(gen_);
    for (std::size_t i = 0; i < n; ++i) {
      reg.retired.push_back({arenas_[i].id, arenas_[i].start, arenas_[i].size, config_.commit});
    }
  }
  // 4. Release the bitmaps and, now, the freed pages.
  for (std::size_t i = 0; i < n; ++i) {
    munmap(arenas_[i].bits_mem, arenas_[i].bits_bytes);
  }
  if (!tl_gone) tl_heaps.reap_dead();
  mi_collect(true);
}

HeapSet* Space::Impl::thread_set() {
  if (tl_gone) return nullptr;  // called from a thread_local destructor
  ThreadHeaps& th = tl_heaps;
  for (auto& s : th.sets) {
    if (s->gen == gen_) return s.get();
  }
  th.reap_dead();
  auto s = std::make_unique<HeapSet>();
  s->gen = gen_;
  s->heaps.assign(slots_, nullptr);
  // Start in the newest arena: the older ones are the likelier to be full.
  s->cur = count_.load(std::memory_order_acquire) - 1;
  heap_sets_.fetch_add(1, std::memory_order_relaxed);
  th.sets.push_back(std::move(s));
  return th.sets.back().get();
}

void* Space::Impl::try_arena(HeapSet& hs, std::size_t i, std::size_t bytes) {
  mi_heap_t*& h = hs.heaps[i];
  if (h == nullptr) {
    h = mi_heap_new_in_arena(arenas_[i].id);
    if (h == nullptr) return nullptr;
  }
  return mi_heap_malloc(h, bytes);
}

void* Space::Impl::alloc_slow(std::size_t bytes, bool skip_cur, std::size_t* index) {
  HeapSet* hs = thread_set();
  if (hs == nullptr) return nullptr;
  auto found = [&](std::size_t i, void* p) {
    hs->cur = i;
    tl_last = hs;
    *index = i;
    return p;
  };
  std::size_t n = count_.load(std::memory_order_acquire);
  for (std::size_t k = skip_cur ? 1 : 0; k < n; ++k) {
    const std::size_t i = (hs->cur + k) % n;
    if (void* p = try_arena(*hs, i, bytes)) return found(i, p);
  }
  // Every arena failed: try the arenas other threads added meanwhile, or
  // add one. Another thread may take an arena we added before we get to it
  // (in a small arena a thread's heap takes the whole arena), so failing
  // in it is no reason to give up: a request of at most max_request_ fits
  // an empty arena. Only running out of arenas ends the search; every
  // round raises n, so it ends. (It used to give up after two lost races,
  // long before max_arenas: issue 17, test ThreadsRacingForNewArenas.)
  for (;;) {
    std::size_t from;
    bool added = false;
    {
      std::lock_guard<std::mutex> g(mu_);
      std::size_t m = count_.load(std::memory_order_relaxed);
      if (m == n) {
        if (m >= slots_ || !add_arena_locked(nullptr)) return nullptr;
        m = n + 1;
        added = true;
      }
      from = n;
      n = m;
    }
    if (added && config_.added_arena_for_testing) [[unlikely]] config_.added_arena_for_testing();
    for (std::size_t i = from; i < n; ++i) {
      if (void* p = try_arena(*hs, i, bytes)) return found(i, p);
    }
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
  const std::size_t n = count_.load(std::memory_order_acquire);
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
  assert(bytes > 0);
  if (bytes > s.max_request_) return nullptr;
  const std::size_t req = bytes <= TC_GRANULE ? TC_GRANULE : round_up(bytes, TC_GRANULE);

  std::size_t index = 0;
  void* p;
  HeapSet* hs = tl_last;
  if (hs != nullptr && hs->gen == s.gen_) [[likely]] {
    index = hs->cur;
    p = mi_heap_malloc(hs->heaps[index], req);
    if (p == nullptr) p = s.alloc_slow(req, /*skip_cur=*/true, &index);
  } else {
    p = s.alloc_slow(req, /*skip_cur=*/false, &index);
  }
  if (p == nullptr) return nullptr;
  TC_TSAN_ACQUIRE(p);

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
    if (s.config_.between_bits_for_testing) s.config_.between_bits_for_testing(p);
    mark_if_black();
  } else {
    mark_if_black();
    if (s.config_.between_bits_for_testing) [[unlikely]] s.config_.between_bits_for_testing(p);
    fresh = tc_bitmap_set(&a.starts, p, __ATOMIC_SEQ_CST);
  }
  assert(fresh);
  (void)fresh;
  return p;
}

void Space::free(void* obj) {
  const Arena* a = impl_->find(obj);
  assert(a != nullptr && "Space::free of a pointer outside the Space");
  if (a == nullptr) return;
  const bool was_set = tc_bitmap_clear(&a->starts, obj, __ATOMIC_RELEASE);
  assert(was_set && "Space::free of a non-object or double free");
  if (!was_set) return;  // never hand mimalloc a block twice
  TC_TSAN_RELEASE(obj);
  mi_free(obj);
}

bool Space::contains(const void* p) const { return impl_->find(p) != nullptr; }

bool Space::is_object(const void* p) const {
  if (reinterpret_cast<std::uintptr_t>(p) % TC_GRANULE != 0) return false;
  const Arena* a = impl_->find(p);
  return a != nullptr && tc_bitmap_test(&a->starts, p);
}

void* Space::object_start(const void* p) const {
  const Arena* a = impl_->find(p);
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
  const Arena* a = impl_->find(obj);
  return a != nullptr && tc_bitmap_test(&a->marks, obj);
}

bool Space::try_mark(const void* obj) {
  const Arena* a = impl_->find(obj);
  return a != nullptr && tc_bitmap_set(&a->marks, obj, __ATOMIC_RELAXED);
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

std::size_t Space::arena_count() const { return impl_->count_.load(std::memory_order_acquire); }

ArenaBitmaps Space::arena_bitmaps(std::size_t i) const {
  if (i >= arena_count()) throw std::out_of_range("Space::arena_bitmaps: no such arena");
  return {impl_->arenas_[i].starts, impl_->arenas_[i].marks};
}

std::size_t Space::reserved_bytes() const {
  const std::size_t n = impl_->count_.load(std::memory_order_acquire);
  std::size_t total = 0;
  for (std::size_t i = 0; i < n; ++i) total += impl_->arenas_[i].size;
  return total;
}

}  // namespace tricolor
