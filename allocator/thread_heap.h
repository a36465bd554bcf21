// allocator/thread_heap.h -- internal: each thread's mimalloc heaps, one per
// (Space, arena), and the process-wide set of live Spaces that tells a
// thread which of its heaps are stale.
//
// mimalloc heaps belong to the thread that made them: only that thread may
// allocate from, delete or destroy them (any thread may mi_free a block).
// Each thread keeps, per Space, a HeapSet {generation, current arena, heap
// per arena (made on first use)} in a thread_local list; `tl_last_heap_set`
// points at the set used last, so the allocation fast path
// (allocator/space.cc) is: compare its generation with the Space's,
// mi_heap_malloc on the current arena's heap, set the bits.  A Space is
// identified by a process-unique generation number, never by its address,
// so a Space created at the address of a dead one never picks up the dead
// one's heaps.  Each thread's heap needs a segment of its own: a 32 MiB
// arena holds one, so threads that start together race for new arenas
// (measured, 16 threads used 16 arenas; the race loop is
// Space::Impl::alloc_slow's).
//
// What mimalloc 2.0.9 allows, and the choices that follow (measured with
// small programs against Debian's libmimalloc 2.0.9):
//   * mi_heap_delete on a live thread moves the heap's pages into the
//     thread's backing heap, after which plain malloc allocates inside the
//     exclusive arena (measured).  We therefore never call it.
//   * mi_heap_destroy (heaps from mi_heap_new_in_arena are no_reclaim, so
//     it really frees every page, whatever is still allocated) is legal
//     only on the owning thread.
//   * When a thread exits, mimalloc deletes its remaining heaps and
//     abandons their segments; the objects stay valid, other threads can
//     still mi_free them, and a heap of the same arena on another thread
//     later reclaims the segments (plain malloc heaps never do: the
//     segments are not "suitable" for them).  So a thread exiting while its
//     Space lives leaves its heaps to mimalloc and the objects survive.
//
// Stale heaps.  When a Space dies (generation_died()), other live threads
// still hold heaps of it.  They destroy them themselves: whenever a thread
// makes a new HeapSet, and when it exits (the thread_local destructor,
// which runs before mimalloc's own thread teardown), it destroys the heaps
// of every generation no longer live (reap_dead_heap_sets()).  Until then
// those heaps keep a few empty pages.  The dying Space frees the blocks in
// them before it calls generation_died() (allocator/space.cc, the
// destructor's steps 1 and 3), so no thread destroys a heap while the
// dying Space still frees blocks in it.
//
// Invariants:
//   H1 a thread has at most one HeapSet per generation; hs.heaps[i] is null
//      or a heap of arena i of that generation's Space, made by this thread;
//   H2 tl_last_heap_set is null or one of this thread's HeapSets;
//   H3 a heap is destroyed (mi_heap_destroy) only by its own thread: the
//      dying Space's thread destroys its heaps of that Space, every other
//      thread its heaps of dead generations; mi_heap_delete is never
//      called, and heaps of live Spaces on an exiting thread are left to
//      mimalloc's thread teardown.
//
// Concurrency of the shared fields:
//   the live set and the generation counter: process-wide (leaked, so a
//               thread exiting after static destruction is safe); the set
//               is guarded by its mutex, the counter is atomic (relaxed:
//               it only has to be unique).
//   HeapSet, the thread's list, tl_last_heap_set, tl_heap_sets_gone:
//               thread-local, touched only by their thread.  Once the list
//               is destroyed (thread exit), find_or_make_heap_set()
//               returns nullptr, and so allocate() on that thread.
#pragma once

#include <mimalloc.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tricolor {

/// One thread's heaps in one Space.
struct HeapSet {
  std::uint64_t gen = 0;
  std::size_t cur = 0;            // arena index this thread allocates from
  std::vector<mi_heap_t*> heaps;  // by arena index; null until first use
};

/// The set allocate() used last on this thread (H2), or nullptr.
extern constinit thread_local HeapSet* tl_last_heap_set;

/// A new, process-unique generation (not live yet).
std::uint64_t new_generation();
/// The Space of `gen` is built: its heaps are not stale.
void generation_born(std::uint64_t gen);
/// The Space of `gen` is dead: every thread's heaps of it are stale.
void generation_died(std::uint64_t gen);

/// This thread's HeapSet for `gen`, or nullptr once the thread's list is
/// gone (a thread_local destructor).  If the thread has none, destroys its
/// stale heaps, then makes one with `slots` empty heaps and cur = 0, and
/// sets *made.
HeapSet* find_or_make_heap_set(std::uint64_t gen, std::size_t slots, bool* made);
/// mi_heap_malloc from this thread's heap of arena i (made on first use in
/// the arena `id`), or nullptr if the arena is full.
void* heap_malloc_in(HeapSet& hs, std::size_t i, mi_arena_id_t id, std::size_t bytes);
/// This thread's HeapSet for `gen` if it has one (never makes one).
HeapSet* own_heap_set(std::uint64_t gen);
/// Destroys every heap of `hs` (one of this thread's sets) and drops it.
void destroy_heap_set(HeapSet* hs);
/// Destroys, on this thread, the heaps of every dead generation.
void reap_dead_heap_sets();

}  // namespace tricolor
