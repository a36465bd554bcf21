/* tricolor/heap_ops.h -- tc_heap_ops: a GC heap as a table of C function
 * pointers (tricolor/heap.h's Heap, for runtimes and heaps written in C).
 * Plain C.
 *
 * The collector's C API (tricolor/c_api.h) takes one with its context;
 * tricolor/segment_map.h provides one over a segment map.  This header
 * sits below both, so that the C heap layer (bitmap.h, segment_map.h),
 * which the CPython build links, never includes the C API: c_api.h may
 * include segment_map.h's layer, never the reverse.
 *
 * The contracts (which callback may run concurrently with the mutators,
 * the invariants on the bits) are tricolor/heap.h's; read them there.
 */
#ifndef TRICOLOR_HEAP_OPS_H
#define TRICOLOR_HEAP_OPS_H

#include <stdbool.h>
#include <stddef.h>

#include "tricolor/bitmap.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A GC heap over the runtime's memory (tricolor/heap.h::Heap). All
 *  required; each callback gets the context given with the table. */
typedef struct tc_heap_ops {
    /** Number of arenas so far (only grows). */
    size_t (*arena_count)(void *ctx);
    /** Fills the two bitmaps of arena i. */
    void (*arena_bitmaps)(void *ctx, size_t i, tc_bitmap *starts, tc_bitmap *marks);
    /** Whether an object starts exactly at p (any pointer allowed). */
    bool (*is_object)(void *ctx, const void *p);
    /** Sets obj's marks bit; true if this call set it. */
    bool (*try_mark)(void *ctx, const void *obj);
    /** Black allocation on or off for every later allocation. */
    void (*set_black_allocation)(void *ctx, bool on);
    /** Clears every marks bit (world running, between cycles). */
    void (*clear_marks)(void *ctx);
} tc_heap_ops;

#ifdef __cplusplus
}
#endif

#endif /* TRICOLOR_HEAP_OPS_H */
