/* allocator/segment_map.c -- tricolor/segment_map.h.
 *
 * Layout: a segment's number is p >> shift; its top bits index a level-1
 * array (allocated with the map), its low bits a level-2 array of segment
 * pointers (allocated on the first add() under it).  A segment record holds
 * its two bitmaps, each (2^shift / 1024) words, calloc'ed (large callocs are
 * fresh zero pages: untouched words cost no memory).  Segments are also kept
 * in order of addition in chunks of kChunk pointers, for count()/at().
 *
 * Invariants: level-1 entries, level-2 entries and chunk slots go from NULL
 * to a final value once (release store, under `lock`); `count` is stored
 * (release) after the slot it covers, so a reader that loads count with
 * acquire sees every slot below it.
 */
#include "tricolor/segment_map.h"

/* The layering (tricolor/heap_ops.h): the C heap layer, which the CPython
 * build links, never includes the C API. */
#if defined(TRICOLOR_C_API_H)
#error "tricolor/segment_map.h must not include tricolor/c_api.h"
#endif

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ADDRESS_BITS 48
#define CHUNK 4096
#define MAX_CHUNKS 1024

typedef tc_segment_map_segment segment;
_Static_assert(sizeof(((tc_segment_map *)0)->chunks) / sizeof(segment **) == MAX_CHUNKS,
               "chunks[] in the header and MAX_CHUNKS disagree");

#define lookup tc_segment_map_lookup
#define LOCK(m) ((pthread_mutex_t *)(m)->lock)

tc_segment_map *
tc_segment_map_new(unsigned shift)
{
    if (shift < 16 || shift > 32) {
        return NULL;
    }
    tc_segment_map *m = calloc(1, sizeof *m);
    if (m == NULL) {
        return NULL;
    }
    unsigned seg_bits = ADDRESS_BITS - shift;
    m->shift = shift;
    m->l2_bits = seg_bits / 2;
    m->l1_size = (size_t)1 << (seg_bits - m->l2_bits);
    m->words = ((size_t)1 << shift) / TC_WORD_SPAN;
    m->l1 = calloc(m->l1_size, sizeof *m->l1);
    if (m->l1 == NULL) {
        free(m);
        return NULL;
    }
    m->lock = malloc(sizeof(pthread_mutex_t));
    if (m->lock == NULL) {
        free(m->l1);
        free(m);
        return NULL;
    }
    pthread_mutex_init(LOCK(m), NULL);
    return m;
}

void
tc_segment_map_free(tc_segment_map *m)
{
    if (m == NULL) {
        return;
    }
    for (size_t c = 0; c < MAX_CHUNKS && m->chunks[c]; c++) {
        for (size_t i = 0; i < CHUNK && m->chunks[c][i]; i++) {
            free(m->chunks[c][i]->starts.bits);
            free(m->chunks[c][i]->marks.bits);
            free(m->chunks[c][i]);
        }
        free(m->chunks[c]);
    }
    for (size_t i = 0; i < m->l1_size; i++) {
        free(m->l1[i]);
    }
    free(m->l1);
    pthread_mutex_destroy(LOCK(m));
    free(m->lock);
    free(m);
}

int
tc_segment_map_add(tc_segment_map *m, const void *p)
{
    uintptr_t n = (uintptr_t)p >> m->shift;
    size_t hi = n >> m->l2_bits;
    if (hi >= m->l1_size) {
        return -1;
    }
    if (lookup(m, p) != NULL) {
        return 0;  /* the common case, without the lock */
    }
    int rc = 0;
    pthread_mutex_lock(LOCK(m));
    if (lookup(m, p) != NULL) {
        goto done;
    }
    size_t k = m->count;
    if (k / CHUNK >= MAX_CHUNKS) {
        rc = -1;
        goto done;
    }
    if (m->chunks[k / CHUNK] == NULL) {
        m->chunks[k / CHUNK] = calloc(CHUNK, sizeof(segment *));
    }
    segment **l2 = m->l1[hi];
    if (l2 == NULL) {
        l2 = calloc((size_t)1 << m->l2_bits, sizeof *l2);
    }
    segment *s = calloc(1, sizeof *s);
    uint64_t *sb = calloc(m->words, sizeof(uint64_t));
    uint64_t *mb = calloc(m->words, sizeof(uint64_t));
    if (m->chunks[k / CHUNK] == NULL || l2 == NULL || s == NULL || sb == NULL || mb == NULL) {
        if (l2 != m->l1[hi]) {
            free(l2);
        }
        free(s);
        free(sb);
        free(mb);
        rc = -1;
        goto done;
    }
    uintptr_t base = n << m->shift;
    s->starts = (tc_bitmap){base, m->words, sb};
    s->marks = (tc_bitmap){base, m->words, mb};
    __atomic_store_n(&l2[n & (((size_t)1 << m->l2_bits) - 1)], s, __ATOMIC_RELEASE);
    __atomic_store_n(&m->l1[hi], l2, __ATOMIC_RELEASE);
    __atomic_store_n(&m->chunks[k / CHUNK][k % CHUNK], s, __ATOMIC_RELEASE);
    __atomic_store_n(&m->count, k + 1, __ATOMIC_RELEASE);
done:
    pthread_mutex_unlock(LOCK(m));
    return rc;
}

bool
tc_segment_map_find(const tc_segment_map *m, const void *p, tc_bitmap *starts, tc_bitmap *marks)
{
    segment *s = lookup(m, p);
    if (s == NULL) {
        return false;
    }
    *starts = s->starts;
    *marks = s->marks;
    return true;
}

size_t
tc_segment_map_count(const tc_segment_map *m)
{
    return __atomic_load_n(&m->count, __ATOMIC_ACQUIRE);
}

void
tc_segment_map_at(const tc_segment_map *m, size_t i, tc_bitmap *starts, tc_bitmap *marks)
{
    segment *s = __atomic_load_n(&m->chunks[i / CHUNK][i % CHUNK], __ATOMIC_ACQUIRE);
    *starts = s->starts;
    *marks = s->marks;
}

void
tc_segment_map_reset_segment(tc_segment_map *m, const void *p)
{
    segment *s = lookup(m, p);
    if (s == NULL) {
        return;
    }
    for (size_t w = 0; w < m->words; w++) {
        __atomic_store_n(&s->starts.bits[w], 0, __ATOMIC_RELAXED);
        __atomic_store_n(&s->marks.bits[w], 0, __ATOMIC_RELAXED);
    }
}

/* tc_heap_ops over the map (ctx = the map). */

static size_t
h_count(void *ctx)
{
    return tc_segment_map_count(ctx);
}

static void
h_at(void *ctx, size_t i, tc_bitmap *starts, tc_bitmap *marks)
{
    tc_segment_map_at(ctx, i, starts, marks);
}

static bool
h_is_object(void *ctx, const void *p)
{
    segment *s = lookup(ctx, p);
    return s != NULL && (uintptr_t)p % TC_GRANULE == 0 && tc_bitmap_test(&s->starts, p);
}

static bool
h_try_mark(void *ctx, const void *p)
{
    segment *s = lookup(ctx, p);
    return s != NULL && tc_bitmap_set(&s->marks, p, __ATOMIC_RELAXED);
}

static void
h_set_black(void *ctx, bool on)
{
    __atomic_store_n(&((tc_segment_map *)ctx)->black, on, __ATOMIC_SEQ_CST);
}

static void
h_clear_marks(void *ctx)
{
    tc_segment_map *m = ctx;
    size_t n = tc_segment_map_count(m);
    for (size_t i = 0; i < n; i++) {
        tc_bitmap starts, marks;
        tc_segment_map_at(m, i, &starts, &marks);
        for (size_t w = 0; w < marks.words; w++) {
            if (__atomic_load_n(&marks.bits[w], __ATOMIC_RELAXED) != 0) {
                __atomic_store_n(&marks.bits[w], 0, __ATOMIC_RELAXED);
            }
        }
    }
}

static const tc_heap_ops heap_ops = {h_count, h_at, h_is_object, h_try_mark, h_set_black, h_clear_marks};

const tc_heap_ops *
tc_segment_map_heap_ops(void)
{
    return &heap_ops;
}
