// allocator/tsan_model.h -- internal: what ThreadSanitizer must be told of
// mimalloc, which is not instrumented.
//
// TSan cannot see that a free happens before a later allocation that
// reuses the memory.  The reuse need not be at the same address: once a
// page is empty mimalloc may carve it into blocks of another size, so a new
// block can cover the tails of several old ones freed by different
// threads.  mimalloc itself orders frees and reuse per page (the owner
// collects a page's cross-thread frees with an atomic exchange before
// reusing it), so we model it per 64 KiB slice, mimalloc 2.x's page granule
// (MI_SEGMENT_SLICE_SIZE):
//
//   M1 freed(p), called just before mi_free(p), releases every slice the
//      block at p overlaps;
//   M2 allocated(p), called just after mimalloc returned p, acquires every
//      slice the block at p overlaps.
//
// So TSan orders every access to a block before its free with every access
// to a later block that reuses any of its memory.  (A per-address model
// missed the tails of blocks of another size: design.md §7.4.)  mimalloc's
// own memset/memcpy calls are TSan's business: the test binaries ignore the
// interceptors it calls (tests/support/tsan_defaults.h).  mimalloc's reuse
// of an exited thread's abandoned segments happens inside mi_heap_malloc,
// after any point where we could acquire, and is covered by that
// suppression too.
//
// In a build without TSan both calls are empty inline functions.
//
// Concurrency: no state of its own; the slices are TSan's synchronisation
// objects, and both calls may run on any thread.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define TRICOLOR_TSAN_MODEL 1
#else
#define TRICOLOR_TSAN_MODEL 0
#endif

namespace tricolor::tsan_model {

#if TRICOLOR_TSAN_MODEL
/// M1: the block at p (from mimalloc) is about to be freed.
void freed(const void* p);
/// M2: mimalloc has just handed out the block at p.
void allocated(const void* p);
#else
inline void freed(const void*) {}
inline void allocated(const void*) {}
#endif

}  // namespace tricolor::tsan_model
