/* Python/gc_tricolor_heap.c -- the starts bits on CPython's GC segments
 * (part of the binding, #included by gc_tricolor.c).
 *
 * The collector finds objects through a tc_segment_map over mimalloc's
 * 32 MiB segments: every GC object of the main interpreter has a starts
 * bit there.
 *
 * Invariants:
 *   - the bit is set by gc_alloc and _PyType_AllocNoTrack (and
 *     _PyObject_GC_Resize) through gct_on_alloc, and cleared by every path
 *     that frees GC memory: PyObject_GC_Del, _PyObject_GC_Resize (the old
 *     block), code_dealloc (code objects are GC-allocated but freed with
 *     PyObject_Free);
 *   - objects allocated before _PyGC_Init have none and are never
 *     candidates (they are never freed by this mode; they are the
 *     interpreter's first few objects);
 *   - free-list reuse keeps the bit;
 *   - a subinterpreter's objects have none (it collects with stw).
 *
 * Concurrency: the bits are the core's (tricolor/segment_map.h: set and
 * cleared by the allocating and freeing threads while the collector's
 * threads read them).  This file owns no field; gct.map is written only
 * while no other thread runs (gc_tricolor.c).
 */

static inline void
gct_on_alloc(PyObject *op)
{
    tc_segment_map *map = gct.map;
    if (map != NULL && _PyInterpreterState_GET() == gct.interp) {
        (void)tc_segment_map_on_alloc(map, op);  /* -1: out of memory, no bit */
    }
}

void
_PyGC_TricolorOnAlloc(PyObject *op)
{
    gct_on_alloc(op);
}

static inline void
gct_on_free(PyObject *op)
{
    if (gct.map != NULL) {
        tc_segment_map_on_free(gct.map, op);
    }
}

/* code_dealloc: code objects live in the GC heap but are freed with
 * PyObject_Free, not PyObject_GC_Del. */
void
_PyGC_TricolorOnFree(PyObject *op)
{
    gct_on_free(op);
}

/* Whether p starts a GC object of the main interpreter (its starts bit);
 * any thread, with the world running or stopped. */
static int
gct_is_heap_object(const void *p)
{
    return gct.map != NULL && tc_segment_map_heap_ops()->is_object(gct.map, p);
}
