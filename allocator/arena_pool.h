// allocator/arena_pool.h -- internal: a Space's arenas (reserve, add,
// retire) and the process-wide pool of retired arenas they come back from.
//
// An arena is a range of address space reserved with
// mi_reserve_os_memory_ex(exclusive=true): only heaps made with
// mi_heap_new_in_arena(id) allocate in it (allocator/thread_heap.h), so
// every object of a Space lies in a known range and nothing else (not even
// plain malloc, which is mimalloc too when libmimalloc is linked) does.
// mimalloc 2.0.9 rounds an arena up to 32 MiB (MI_ARENA_BLOCK_SIZE) and
// aligns it to 32 MiB; we round arena_bytes up the same way, so every arena
// of a Space has the same size.  A Space owns up to max_arenas arenas (at
// most 64, mimalloc's table); the first is added by the Space's
// constructor, more when a thread finds every arena full (grow_past()).
//
// Bitmaps.  Each arena has two tc_bitmaps over exactly its range (the size
// is a multiple of 32 MiB, hence of TC_WORD_SPAN): `starts` and `marks`,
// one bit per 16-byte granule (tricolor/bitmap.h).  Both live in one
// private anonymous mmap (MAP_NORESERVE, zero-filled, committed page by
// page on first write), 1/64 of the arena, munmapped by retire_all().
//
// The pool.  An arena can never be released: mimalloc 2.0.9 has no API
// for it, and its process-wide arena table has 64 slots (the 65th
// reservation fails with ENOMEM, measured).  So a dying Space retires its
// arenas to a process-wide pool and a later Space with the same arena size
// and commit flag takes them before reserving new ones; without this, 64
// Space lifetimes would exhaust mimalloc.  A retired arena may still hold a
// few pages of stale heaps of the dead Space (allocator/thread_heap.h) when
// a new Space takes it over; they are invisible to the new Space, whose
// bitmaps start empty, and are freed when their threads get round to it.
//
// Invariants:
//   A1 arenas[0, count) are fully initialised (range and bitmaps) and never
//      change until retire_all(); an object never spans two arenas.
//   A2 every arena has the same size, a multiple of TC_WORD_SPAN, and
//      starts 16-aligned; an empty arena holds one block of at most
//      max_request() bytes.
//   A3 count only grows, by one per add, and never past slots(); an arena
//      is in at most one place at a time: a live Space's table or the
//      pool.
//
// Concurrency of the shared fields:
//   slots_, arena_size_, max_request_, commit_: immutable after
//               construction.
//   arenas_[i]: written once under mu_ before count_ is raised past i;
//               read lock-free after an acquire load of count_.
//   count_:     atomic; written under mu_ only (release), read lock-free
//               (acquire).
//   mu_:        serialises adding an arena.
//   the pool:   process-wide (leaked, so a thread exiting after static
//               destruction is safe), guarded by its own mutex; taken
//               inside mu_ (add), never the other way round.
//   bitmaps:    atomic per word (bitmap.h).
#pragma once

#include <mimalloc.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "tricolor/bitmap.h"

namespace tricolor {

// mimalloc 2.0.9's arena granularity (MI_ARENA_BLOCK_SIZE, measured).
inline constexpr std::size_t kArenaGranularity = std::size_t{32} << 20;
// An empty arena of N bytes holds one block of at most N - 4 MiB (measured
// for 64 MiB arenas: the largest block is 60 MiB).
inline constexpr std::size_t kHugeOverhead = std::size_t{4} << 20;
// mimalloc 2.0.9's process-wide arena table (MI_MAX_ARENAS, measured): a
// Space never needs more slots than this, whatever max_arenas says.
inline constexpr std::size_t kMimallocMaxArenas = 64;
// Sanity bound on arena_bytes (keeps the rounding from overflowing; far
// beyond what a machine can back).
inline constexpr std::size_t kMaxArenaBytes = std::size_t{1} << 44;

/// n rounded up to a multiple of `to`.
inline std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

/// One arena of a Space.
struct Arena {
  mi_arena_id_t id = 0;
  std::uintptr_t start = 0;
  std::size_t size = 0;
  tc_bitmap starts{};
  tc_bitmap marks{};
  void* bits_mem = nullptr;  // one mmap: starts words, then marks words
  std::size_t bits_bytes = 0;
};

/// A Space's arenas: an append-only table of at most slots() arenas.
class ArenaTable {
 public:
  /// A table for up to min(max_arenas, 64) arenas of arena_bytes each
  /// (clamped to [1, kMaxArenaBytes], rounded up to kArenaGranularity).
  /// Adds none: the Space checks its config first, then calls add_first().
  ArenaTable(std::size_t max_arenas, std::size_t arena_bytes, bool commit);
  ArenaTable(const ArenaTable&) = delete;
  ArenaTable& operator=(const ArenaTable&) = delete;

  /// Arenas the table may hold: min(max_arenas, kMimallocMaxArenas).
  std::size_t slots() const { return slots_; }
  /// The size of every arena.
  std::size_t arena_size() const { return arena_size_; }
  /// The largest request an empty arena can satisfy (A2).
  std::size_t max_request() const { return max_request_; }

  /// Arenas added so far (acquire: arenas [0, count) are readable).
  std::size_t count() const { return count_.load(std::memory_order_acquire); }
  /// Arena i (< a count() this thread loaded).
  const Arena& operator[](std::size_t i) const { return arenas_[i]; }
  /// The arena that contains p, or nullptr (lock-free).
  const Arena* find(const void* p) const {
    const std::size_t n = count();
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    for (std::size_t i = 0; i < n; ++i) {
      if (a - arenas_[i].start < arenas_[i].size) return &arenas_[i];
    }
    return nullptr;
  }

  /// Adds the first arena (the constructor's); false with *error set if it
  /// cannot.
  bool add_first(std::string* error);
  /// Called by a thread that found every one of the n arenas it saw full.
  /// Under mu_: if no other thread added an arena since, adds one (from the
  /// pool, else a new reservation).  Returns the count now: > n, or n if
  /// none could be added (slots() reached, mimalloc or mmap failed).
  /// *added says whether this call added the arena.
  std::size_t grow_past(std::size_t n, bool* added);
  /// Puts every arena in the pool and unmaps their bitmaps.  The Space's
  /// destructor, once no thread uses the arenas any more.
  void retire_all();

 private:
  bool add_locked(std::string* error);

  const std::size_t slots_;
  const std::size_t arena_size_;
  const std::size_t max_request_;
  const bool commit_;
  std::unique_ptr<Arena[]> arenas_;
  std::atomic<std::size_t> count_{0};
  std::mutex mu_;
};

}  // namespace tricolor
