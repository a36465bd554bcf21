// tricolor/space.h -- the GC space: exclusive mimalloc arenas with side
// bitmaps, and one mimalloc heap per (thread, arena).
//
// A Space owns up to Config::max_arenas arenas, each reserved with
// mi_reserve_os_memory_ex(exclusive) so that only the Space's heaps allocate
// in it and every object lies in a known address range.  Each arena has two
// tc_bitmaps (tricolor/bitmap.h): `starts` and `marks`.  A new arena is
// added when a heap's arena is full.  The Space knows nothing of collection
// policy: it allocates, frees, answers "is this an object, how big, is it
// marked", and scans the bitmaps.
//
// Invariants:
//   starts bit set  <=>  a block handed out by allocate() and not yet free()d
//                        starts at that granule;
//   while black allocation is on, allocate() sets the marks bit before the
//   starts bit (release), so a scan that reads a starts bit (acquire) and
//   then the marks word sees the marks bit of every black allocation --
//   an object born while the collector scans for candidates is never one;
//   marks bits are meaningful only between begin-of-cycle and clear_marks().
//
// Concurrency: allocate() and free() may run on any thread at any time
// (free() of an object allocated by another thread is fine; with
// SpaceConfig::world set, allocate() only on that World's mutators).  The bitmap
// queries are safe concurrently with them; their answers are racy by nature
// and the collector is built to tolerate that (design.md).  add-arena is
// serialised by a mutex; the arena table is append-only and published with
// release stores, so readers never lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "tricolor/bitmap.h"
#include "tricolor/heap.h"

namespace tricolor {

class World;  // tricolor/stop_the_world.h

/// Sizes and limits of a Space.
struct SpaceConfig {
  /// Bytes reserved per arena (rounded up to the arena granularity).
  std::size_t arena_bytes = std::size_t{1} << 30;
  /// Arenas the Space may reserve in total; allocate() returns nullptr after.
  std::size_t max_arenas = 64;
  /// Commit each arena's memory up front (faster first touch, more RSS).
  bool commit = false;
  /// The World whose mutators allocate from the Space, or nullptr (a
  /// runtime with a stop-the-world protocol of its own).  When set,
  /// allocate() throws UsageError on a thread that is not attached to it:
  /// always on its slow path (a thread's first allocation in the Space
  /// takes it), on every call in Debug builds -- World::safepoint()'s
  /// convention.  The World must outlive the Space.
  const World* world = nullptr;
};

/// The GC heap space: exclusive mimalloc arenas plus side bitmaps; the
/// collector's Heap for runtimes that allocate from it.
class Space final : public Heap {
 public:
  /// Reserves the first arena. Throws std::runtime_error (with the mimalloc
  /// error) if it cannot.
  explicit Space(const SpaceConfig& config = {});
  /// Releases every heap and arena; every object becomes invalid.
  ~Space() override;
  Space(const Space&) = delete;
  Space& operator=(const Space&) = delete;

  /// Allocates `bytes` (> 0) from the calling thread's heap, sets the starts
  /// bit (and the marks bit while black allocation is on). The memory is not
  /// zeroed. Returns nullptr when every arena is full and no more may be
  /// reserved.  Throws UsageError if SpaceConfig::world is set and the
  /// calling thread is not attached to it (see there for when it checks).
  void* allocate(std::size_t bytes);
  /// Clears the starts bit of `obj` (a pointer allocate() returned) and frees
  /// it. The marks bit is left alone: clear_marks() resets it.
  void free(void* obj);

  /// Whether `p` lies in one of the Space's arenas.
  bool contains(const void* p) const;
  /// Whether an object starts exactly at `p`.
  bool is_object(const void* p) const override;
  /// The start of the live object containing `p`, or nullptr.
  void* object_start(const void* p) const;
  /// The usable size of the object starting at `obj`.
  static std::size_t object_size(const void* obj);

  /// Whether `obj`'s marks bit is set.
  bool is_marked(const void* obj) const;
  /// Sets `obj`'s marks bit; true if this call set it.
  bool try_mark(const void* obj) override;
  /// is_object(p) && try_mark(p), with one arena lookup.
  bool mark_if_object(const void* p) override;
  /// Turns black allocation on or off (release store; allocate() reads it
  /// with an acquire load after setting the starts bit).
  void set_black_allocation(bool on) override;
  /// Whether black allocation is on.
  bool black_allocation() const;

  /// Calls `fn(obj)` for every object whose starts bit is set and marks bit
  /// clear, in parallel (TBB) over chunks of the bitmaps. `fn` must be
  /// thread-safe.
  void for_each_unmarked(const std::function<void(void*)>& fn) const;
  /// Calls `fn(obj)` for every object whose starts bit is set, in parallel.
  void for_each_object(const std::function<void(void*)>& fn) const;
  /// Clears every marks bit, in parallel. Run off the pause, between cycles.
  void clear_marks() override;

  /// The bitmaps of arena `i` (< arena_count()), for a collector's own side
  /// tables. Stable for the Space's lifetime.
  ArenaBitmaps arena_bitmaps(std::size_t i) const override;

  /// Number of arenas reserved so far.
  std::size_t arena_count() const override;
  /// Bytes reserved in all arenas.
  std::size_t reserved_bytes() const;

 private:
  friend class SpaceTesting;  // allocator/testing.h: test hooks, not installed
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tricolor
