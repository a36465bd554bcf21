/* Python/gc_tricolor_pacing.c -- when a collection is due, and when an
 * allocating thread waits for one (part of the binding, #included by
 * gc_tricolor.c; called by gc_free_threading.c's record_allocation and
 * gc_should_collect, and by gct_request_collection).
 *
 * Pacing (papers/design.md §6): a collection starts when the allocations
 * since the last one exceed max(threshold, live / 4), stock's trigger
 * (gc_should_collect: never quadratic, never starved by a small threshold).
 * While the program makes cyclic garbage (gct_reclaiming), the trigger is
 * live / GCT_LIVE_DIVISOR (8) and a thread that allocates GCT_ASSIST (1)
 * more trigger's worth while a collection runs waits for it (an assist, as
 * in Go), so floating garbage stays within about two triggers' worth; a
 * program that makes none never waits.
 *
 * Concurrency of gct_reclaiming: atomic (relaxed); written by the
 * collecting thread at the end of each collection (gct_collect), read by
 * allocating threads.  The counts it is compared with are stock's
 * (gcstate->generations, long_lived_total), read relaxed as well.
 */

#ifndef GCT_LIVE_DIVISOR
#  define GCT_LIVE_DIVISOR 8
#endif
#ifndef GCT_ASSIST
#  define GCT_ASSIST 1
#endif

/* Whether the last collection reclaimed much: at least a quarter of the
 * objects allocated since the one before were cyclic garbage. */
static int gct_reclaiming;  /* atomic (relaxed) */

static int
gct_live_divisor(GCState *gcstate)
{
    return gct.mode == GCT_CONCURRENT && gct.interp != NULL && gcstate == &gct.interp->gc &&
                   _Py_atomic_load_int_relaxed(&gct_reclaiming)
               ? GCT_LIVE_DIVISOR : 4;
}

static int
gct_behind(GCState *gcstate)
{
    if (!_Py_atomic_load_int_relaxed(&gct_reclaiming)) {
        return 0;
    }
    int count = _Py_atomic_load_int_relaxed(&gcstate->generations[0].count);
    Py_ssize_t trigger = gcstate->generations[0].threshold;
    Py_ssize_t live = _Py_atomic_load_ssize_relaxed(&gcstate->long_lived_total);
    if (live / GCT_LIVE_DIVISOR > trigger) {
        trigger = live / GCT_LIVE_DIVISOR;
    }
    return count > GCT_ASSIST * trigger && trigger > 0;
}
