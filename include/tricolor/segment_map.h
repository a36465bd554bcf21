/* tricolor/segment_map.h -- side bitmaps for a heap made of aligned
 * segments, such as mimalloc's 32 MiB segments (CPython's GC heaps among
 * them).  Plain C.
 *
 * A runtime whose allocator hands out memory in 2^shift-aligned segments
 * registers each segment that holds collectable objects; the map gives
 * every segment a `starts` and a `marks` bitmap (tricolor/bitmap.h layout)
 * and finds them from any pointer in O(1), lock-free, through a two-level
 * table over the 48-bit address space.  The runtime's allocation and free
 * hooks call tc_segment_map_on_alloc / _on_free; the collector reaches the
 * map through tc_segment_map_heap_ops() (a tricolor/heap_ops.h table, to
 * give to tc_collector_new() of tricolor/c_api.h), with the map itself as
 * the context.  This header, like bitmap.h, never includes the C API: the
 * CPython build links this layer, and the C API may include it, never the
 * reverse.
 *
 * Invariants:
 *   a segment, once added, stays in the map (tricolor/heap.h: arenas are
 *   never removed); when the allocator releases it, the runtime calls
 *   tc_segment_map_reset_segment() so that it holds no stale bits;
 *   while black allocation is on, on_alloc sets the marks bit too, before
 *   the starts bit (release): a candidate scan, which loads a starts word
 *   (acquire) before its marks word, never takes an object born while it
 *   runs for a candidate (tricolor/space.h, the same rule).
 *
 * Concurrency: add() is serialised by a mutex and publishes the new
 * segment with release stores; find(), the bit operations and the
 * enumeration read with acquire loads and never lock.  Bits follow
 * tricolor/bitmap.h (atomic read-modify-write per word).
 */
#ifndef TRICOLOR_SEGMENT_MAP_H
#define TRICOLOR_SEGMENT_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tricolor/bitmap.h"   /* tc_bitmap and its bit operations */
#include "tricolor/heap_ops.h" /* tc_heap_ops, for tc_segment_map_heap_ops(); never c_api.h */

#ifdef __cplusplus
extern "C" {
#endif

/** The map.  Its fields are private to allocator/segment_map.c; they are in
 *  the header only so that the allocation and free hooks below can be
 *  inlined into a runtime's allocator (they run on every allocation). */
typedef struct tc_segment_map tc_segment_map;
/** One segment's bitmaps (private). */
typedef struct tc_segment_map_segment {
    tc_bitmap starts, marks;
} tc_segment_map_segment;
struct tc_segment_map {
    unsigned shift, l2_bits;
    size_t l1_size, words;
    tc_segment_map_segment ***l1;    /* l1[hi] -> l2 array of segment* */
    tc_segment_map_segment **chunks[1024];  /* segments in order of addition */
    size_t count;
    bool black;
    void *lock;                      /* a pthread mutex */
};

/** The segment that contains p, or NULL (lock-free). */
static inline tc_segment_map_segment *
tc_segment_map_lookup(const tc_segment_map *m, const void *p)
{
    uintptr_t n = (uintptr_t)p >> m->shift;
    size_t hi = n >> m->l2_bits;
    if (hi >= m->l1_size) {
        return NULL;
    }
    tc_segment_map_segment **l2 = __atomic_load_n(&m->l1[hi], __ATOMIC_ACQUIRE);
    if (l2 == NULL) {
        return NULL;
    }
    return __atomic_load_n(&l2[n & (((size_t)1 << m->l2_bits) - 1)], __ATOMIC_ACQUIRE);
}

/** A map for segments of 2^segment_shift bytes (16 <= shift <= 32; 25 for
 *  mimalloc's 32 MiB). NULL if the shift is out of range or memory is out. */
tc_segment_map *tc_segment_map_new(unsigned segment_shift);
/** Frees the map and every bitmap. */
void tc_segment_map_free(tc_segment_map *map);

/** Registers the segment that contains p (idempotent; lock-free when it is
 *  already there). 0, or -1 if memory is out or p lies above the 48-bit
 *  address space. */
int tc_segment_map_add(tc_segment_map *map, const void *p);
/** The bitmaps of the segment that contains p; false if it was never
 *  added. */
bool tc_segment_map_find(const tc_segment_map *map, const void *p, tc_bitmap *starts,
                         tc_bitmap *marks);
/** Number of segments added so far; they are numbered in order of addition. */
size_t tc_segment_map_count(const tc_segment_map *map);
/** The bitmaps of segment i (< count). */
void tc_segment_map_at(const tc_segment_map *map, size_t i, tc_bitmap *starts, tc_bitmap *marks);

/** An object now starts at p: sets its starts bit, and its marks bit while
 *  black allocation is on.  Adds p's segment first if needed; -1 (and no
 *  bit) only if that fails (see tc_segment_map_add). */
static inline int
tc_segment_map_on_alloc(tc_segment_map *map, const void *p)
{
    tc_segment_map_segment *s = tc_segment_map_lookup(map, p);
    if (s == NULL) {
        if (tc_segment_map_add(map, p) < 0) {
            return -1;
        }
        s = tc_segment_map_lookup(map, p);
    }
    if (__atomic_load_n(&map->black, __ATOMIC_ACQUIRE)) {
        tc_bitmap_set(&s->marks, p, __ATOMIC_RELAXED);
    }
    tc_bitmap_set(&s->starts, p, __ATOMIC_RELEASE);
    return 0;
}
/** The object at p is freed: clears its starts bit (nothing if p's segment
 *  was never added: an object allocated before the map existed). */
static inline void
tc_segment_map_on_free(tc_segment_map *map, const void *p)
{
    tc_segment_map_segment *s = tc_segment_map_lookup(map, p);
    if (s != NULL) {
        tc_bitmap_clear(&s->starts, p, __ATOMIC_RELEASE);
    }
}
/** Clears both bitmaps of the segment that contains p (the allocator
 *  releases the segment). */
void tc_segment_map_reset_segment(tc_segment_map *map, const void *p);

/** The collector's view: a tc_heap_ops whose context is the map. */
const tc_heap_ops *tc_segment_map_heap_ops(void);

#ifdef __cplusplus
}
#endif

#endif /* TRICOLOR_SEGMENT_MAP_H */
