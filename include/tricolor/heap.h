// tricolor/heap.h -- what the collector needs of a GC heap.
//
// The collector marks and finds candidates on side bitmaps
// (tricolor/bitmap.h), one "starts" and one "marks" bitmap per address
// range ("arena") that holds collectable objects.  A Heap hands it those
// bitmaps and the few operations on them.  tricolor::Space (tricolor/
// space.h) is a complete Heap on the system mimalloc; a runtime with an
// allocator of its own -- CPython's mimalloc GC heaps -- implements Heap over
// its own ranges with the same C bitmap layout.  A heap written in C gives
// the collector a tc_heap_ops instead (tricolor/heap_ops.h, the same
// contract as a table of function pointers).
//
// Invariants the collector relies on:
//   * every object the Embedder reports lies in some arena, and its starts
//     bit is set from allocation until it is freed;
//   * while black allocation is on, an object's marks bit is set before the
//     allocator hands it out;
//   * arenas are only added, never moved or removed while a Collector uses
//     the Heap; an arena added after black allocation was turned on holds
//     only marked objects.
//
// Concurrency: every method may be called from any thread while mutators
// allocate and free; answers about bits are racy by nature (design.md §2).
#pragma once

#include <cstddef>

#include "tricolor/bitmap.h"

namespace tricolor {

/// The two bitmaps of one arena; they cover the same address range.
struct ArenaBitmaps {
  tc_bitmap starts;  ///< object-start bits
  tc_bitmap marks;   ///< mark bits
};

/// A GC heap as the collector sees it: arenas with side bitmaps.
class Heap {
 public:
  virtual ~Heap() = default;

  /// Number of arenas so far; it only grows.
  virtual std::size_t arena_count() const = 0;
  /// The bitmaps of arena `i` (< arena_count()); stable for the Heap's life.
  virtual ArenaBitmaps arena_bitmaps(std::size_t i) const = 0;

  /// Whether an object starts exactly at `p` (any pointer is allowed).
  virtual bool is_object(const void* p) const = 0;
  /// Sets `obj`'s marks bit; true if this call set it.
  virtual bool try_mark(const void* obj) = 0;
  /// is_object(p) && try_mark(p): what the marker asks of every reference
  /// it reads.  A heap that finds both bits with one lookup overrides it.
  virtual bool mark_if_object(const void* p) { return is_object(p) && try_mark(p); }
  /// Turns black allocation on or off; on must be visible to every
  /// allocation that starts after the call returns.
  virtual void set_black_allocation(bool on) = 0;
  /// Clears every marks bit (world running, between cycles).
  virtual void clear_marks() = 0;
};

}  // namespace tricolor
