/* allocator/bitmap.c -- the out-of-line part of tricolor/bitmap.h.
 *
 * Design
 * ------
 * A tc_bitmap is a flat array of 64-bit words over [base, base + words*1024);
 * bit i of word w stands for the 16-byte granule at base + 16*(64*w + i).
 * Everything that touches one bit (test/set/clear) is inline in the header;
 * this file holds only tc_bitmap_find_prev, the backwards scan that maps an
 * interior pointer to the closest object start at or below it.
 *
 * Invariants (checked with assert() in debug builds):
 *   base % TC_GRANULE == 0;
 *   bits != NULL whenever words > 0.
 *
 * Concurrency: the scan reads each word once with a relaxed __atomic load.
 * Words may change under it (allocate()/free() on other threads), so the
 * answer is a snapshot of each word at the moment it was read, not of the
 * bitmap as a whole; callers (Space::object_start) validate it against the
 * object size and tolerate the race (design.md).
 *
 * Out-of-range pointers: a pointer below base has no bit at or below it and
 * gives NULL; a pointer at or above the end is clamped to the last bit (so
 * the answer is "the last set bit").  An empty bitmap (words == 0) gives
 * NULL.
 *
 * Cost: O(distance to the previous set bit / 64) word loads.  There is no
 * bound: a starts bitmap may legitimately have a huge object (one bit) far
 * below p, so bounding the scan would give wrong answers.
 */
#include "tricolor/bitmap.h"

#include <assert.h>

void *
tc_bitmap_find_prev(const tc_bitmap *bm, const void *p)
{
    assert(bm != NULL);
    assert(bm->base % TC_GRANULE == 0);
    assert(bm->words == 0 || bm->bits != NULL);

    uintptr_t a = (uintptr_t)p;
    if (bm->words == 0 || a < bm->base) {
        return NULL;
    }
    size_t nbits = bm->words * 64u;
    size_t i = (a - bm->base) / TC_GRANULE;
    if (i >= nbits) {
        i = nbits - 1;
    }

    size_t w = i / 64u;
    /* Keep bits 0..(i % 64) of the first word: shifting right by 63 - b
     * never shifts by 64, so there is no undefined shift. */
    uint64_t word = __atomic_load_n(&bm->bits[w], __ATOMIC_RELAXED)
                    & (~(uint64_t)0 >> (63u - (unsigned)(i % 64u)));
    for (;;) {
        if (word != 0) {
            size_t bit = 63u - (size_t)__builtin_clzll(word);
            return tc_bitmap_address(bm, w * 64u + bit);
        }
        if (w == 0) {
            return NULL;
        }
        --w;
        word = __atomic_load_n(&bm->bits[w], __ATOMIC_RELAXED);
    }
}
