/* tricolor/bitmap.h -- side bitmaps over a contiguous address range, one bit
 * per 16-byte granule.  Plain C (usable from the CPython binding) and C++.
 *
 * A tc_bitmap covers [base, base + bytes).  Bit i stands for the granule at
 * base + 16*i.  The collector keeps two per arena:
 *   starts  "an object starts here": set on allocation, cleared on free;
 *   marks   "marked in this cycle": set by the marker or by black allocation,
 *           cleared between cycles.
 *
 * Invariants (asserted in debug builds):
 *   base % 16 == 0, bytes % (16 * 64) == 0, so words == bytes / 1024;
 *   a pointer p is covered iff base <= p < base + bytes.
 *
 * Concurrency: every bit update is an atomic read-modify-write of its 64-bit
 * word (relaxed unless stated), so updates of different bits never lose each
 * other; readers use relaxed loads.  Ordering between a bit and the object it
 * describes is the caller's business (see tricolor/space.h).
 */
#ifndef TRICOLOR_BITMAP_H
#define TRICOLOR_BITMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Bytes covered by one bit. */
#define TC_GRANULE 16u
/** Bytes covered by one 64-bit bitmap word. */
#define TC_WORD_SPAN (TC_GRANULE * 64u)

/** A side bitmap over [base, base + words * TC_WORD_SPAN). */
typedef struct tc_bitmap {
    uintptr_t base;   /**< first covered address, 16-byte aligned */
    size_t words;     /**< number of 64-bit words in `bits` */
    uint64_t *bits;   /**< the bits; owned by whoever initialised the bitmap */
} tc_bitmap;

/** Whether p lies in the range the bitmap covers. */
static inline bool
tc_bitmap_covers(const tc_bitmap *bm, const void *p)
{
    uintptr_t a = (uintptr_t)p;
    return a >= bm->base && a - bm->base < bm->words * TC_WORD_SPAN;
}

/** Index of the bit for address p (p must be covered). */
static inline size_t
tc_bitmap_index(const tc_bitmap *bm, const void *p)
{
    return ((uintptr_t)p - bm->base) / TC_GRANULE;
}

/** Address of the granule of bit i. */
static inline void *
tc_bitmap_address(const tc_bitmap *bm, size_t i)
{
    return (void *)(bm->base + i * TC_GRANULE);
}

/** Read the bit of p (relaxed). */
static inline bool
tc_bitmap_test(const tc_bitmap *bm, const void *p)
{
    size_t i = tc_bitmap_index(bm, p);
    return (__atomic_load_n(&bm->bits[i / 64], __ATOMIC_RELAXED) >> (i % 64)) & 1u;
}

/** Set the bit of p; return true if this call changed it from 0 to 1.
 *  `order` is a __ATOMIC_* constant. */
static inline bool
tc_bitmap_set(const tc_bitmap *bm, const void *p, int order)
{
    size_t i = tc_bitmap_index(bm, p);
    uint64_t m = (uint64_t)1 << (i % 64);
    /* Test first: marking finds most objects already marked, and a plain
     * load does not take the cache line exclusive. */
    if (__atomic_load_n(&bm->bits[i / 64], __ATOMIC_RELAXED) & m) {
        return false;
    }
    return !(__atomic_fetch_or(&bm->bits[i / 64], m, order) & m);
}

/** Clear the bit of p; return true if it was set. */
static inline bool
tc_bitmap_clear(const tc_bitmap *bm, const void *p, int order)
{
    size_t i = tc_bitmap_index(bm, p);
    uint64_t m = (uint64_t)1 << (i % 64);
    return (__atomic_fetch_and(&bm->bits[i / 64], ~m, order) & m) != 0;
}

/** The highest set bit at or below the bit of p, as an address; NULL if
 *  none.  With the starts bitmap this maps an interior pointer to the start
 *  of the object that may contain it (the caller checks the size). */
void *tc_bitmap_find_prev(const tc_bitmap *bm, const void *p);

#ifdef __cplusplus
}
#endif

#endif /* TRICOLOR_BITMAP_H */
