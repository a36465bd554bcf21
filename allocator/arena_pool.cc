// allocator/arena_pool.cc -- allocator/arena_pool.h: adding a Space's
// arenas (from the pool of retired ones, else reserved from mimalloc),
// their bitmaps, and retiring them.  Invariants and concurrency rules: the
// header.
#include "allocator/arena_pool.h"

#include <sys/mman.h>  // mmap, munmap (the bitmaps)

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <vector>

namespace tricolor {
namespace {

// An arena of a dead Space, waiting for a Space with the same size and
// commit flag.
struct RetiredArena {
  mi_arena_id_t id;
  std::uintptr_t start;
  std::size_t size;
  bool commit;
};

struct Pool {
  std::mutex mu;
  std::vector<RetiredArena> retired;  // guarded by mu
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: see the header
  return *p;
}

}  // namespace

ArenaTable::ArenaTable(std::size_t max_arenas, std::size_t arena_bytes, bool commit)
    : slots_(std::min(max_arenas, kMimallocMaxArenas)),
      arena_size_(round_up(std::clamp<std::size_t>(arena_bytes, 1, kMaxArenaBytes), kArenaGranularity)),
      max_request_(arena_size_ - kHugeOverhead),
      commit_(commit),
      arenas_(std::make_unique<Arena[]>(slots_)) {}

bool ArenaTable::add_first(std::string* error) {
  std::lock_guard<std::mutex> g(mu_);
  return add_locked(error);
}

std::size_t ArenaTable::grow_past(std::size_t n, bool* added) {
  std::lock_guard<std::mutex> g(mu_);
  const std::size_t m = count_.load(std::memory_order_relaxed);
  *added = false;
  if (m != n) return m;  // another thread added arenas since the caller looked
  if (m >= slots_ || !add_locked(nullptr)) return n;
  *added = true;
  return n + 1;
}

bool ArenaTable::add_locked(std::string* error) {
  const std::size_t i = count_.load(std::memory_order_relaxed);
  assert(i < slots_);
  Arena& a = arenas_[i];

  bool have = false;
  {
    Pool& p = pool();
    std::lock_guard<std::mutex> g(p.mu);
    for (auto it = p.retired.begin(); it != p.retired.end(); ++it) {
      if (it->size == arena_size_ && it->commit == commit_) {
        a.id = it->id;
        a.start = it->start;
        a.size = it->size;
        p.retired.erase(it);
        have = true;
        break;
      }
    }
  }
  if (!have) {
    mi_arena_id_t id = 0;
    const int rc = mi_reserve_os_memory_ex(arena_size_, commit_, /*allow_large=*/false,
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
    {
      Pool& p = pool();
      std::lock_guard<std::mutex> g(p.mu);
      p.retired.push_back({a.id, a.start, a.size, commit_});
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

void ArenaTable::retire_all() {
  const std::size_t n = count();
  {
    Pool& p = pool();
    std::lock_guard<std::mutex> g(p.mu);
    for (std::size_t i = 0; i < n; ++i) {
      p.retired.push_back({arenas_[i].id, arenas_[i].start, arenas_[i].size, commit_});
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    munmap(arenas_[i].bits_mem, arenas_[i].bits_bytes);
  }
}

}  // namespace tricolor
