/* Python/gc_tricolor_weakrefs.c -- weak references with callbacks (part of
 * the binding, #included by gc_tricolor.c).
 *
 * Stock never runs the callback of a weak reference that is garbage
 * together with its referent (clear_weakrefs: bpo-38006).  Three things
 * would make this collector run it (stress/known_bugs.md, fixed #1):
 *   - a weak reference allocated during a collection is black: alive for
 *     that collection whatever holds it.  So its referent is shaded when
 *     it is made (below): the referent survives that collection, and the
 *     next one judges both.
 *   - black objects that only the garbage holds (a chain born during the
 *     collection, hanging off a white cycle) would die by reference
 *     counting in tp_clear, running the callbacks of the weak references
 *     among them; the core adds them to the garbage in the verify pause
 *     (Verifier::find_dependents), so clear_weakrefs() judges them too.
 *   - garbage is found in batches, one pause each; the weak references to
 *     a batch's garbage are cleared at the end of its pause and the live
 *     ones queued, with a reference, for their callbacks -- but a queued
 *     weak reference may be garbage of a later batch (weak references do
 *     not join components).  Its verification must not count the queue's
 *     reference (gct_wrcb, gct_refcount), and gct_finalize drops it from
 *     the queue if it was found garbage.
 *
 * Invariant: between a verify pause's end and finalize(), gct_wrcb holds
 * exactly the weak references state->wrcb_to_call held at that pause's end
 * (unless it could not grow: then it holds fewer, and their callbacks run
 * as before the fix), sorted by address; otherwise it is empty.
 *
 * Concurrency of gct_wrcb (pycore_gc_tricolor_binding.h): written by the collecting thread only,
 * while the core runs no thread of its own -- in a verify pause
 * (gct_note_wrcb), in finalize() and when a collection starts (n = 0,
 * gct_collect); read by refcount() on the core's threads.
 */

static struct gct_objs gct_wrcb;

/* Objects/weakrefobject.c: a weak reference with a callback to op was just
 * made (while op is alive: the caller holds it). */
void
_PyGC_TricolorOnWeakCallback(PyObject *op)
{
    if (gct_active(_PyInterpreterState_GET())) {
        (void)tc_collector_shade(gct.collector, op);  /* -1: out of memory; floats */
    }
}

static int
gct_ptr_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(PyObject *const *)a, y = (uintptr_t)*(PyObject *const *)b;
    return (x > y) - (x < y);
}

/* World stopped, after clear_weakrefs(): note what the queue holds. */
static void
gct_note_wrcb(struct collection_state *state)
{
    PyObject *op;
    gct_wrcb.n = 0;
    WORKSTACK_FOR_EACH(&state->wrcb_to_call, op) {
        if (gct_objs_push(&gct_wrcb, op) < 0) {
            /* Out of memory: the queue's references count, so those weak
             * references stay alive for this collection and their
             * callbacks run -- the behaviour before this fix. */
            break;
        }
    }
    qsort(gct_wrcb.items, gct_wrcb.n, sizeof(PyObject *), gct_ptr_cmp);
}

static inline int
gct_is_queued(PyObject *op)
{
    return bsearch(&op, gct_wrcb.items, gct_wrcb.n, sizeof(PyObject *), gct_ptr_cmp) != NULL;
}
