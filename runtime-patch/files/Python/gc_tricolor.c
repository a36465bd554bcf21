/* Python/gc_tricolor.c -- the CPython binding of the tricolor collector.
 *
 * #included at the end of gc_free_threading.c: the binding drives stock's
 * own garbage path (worklists, clear_weakrefs, finalize_garbage,
 * handle_legacy_finalizers) so that the order and the semantics of what
 * happens to garbage stay stock's.  The collector itself -- marking, the
 * candidate scan, the candidate filter, the verification in batches, the
 * resurrection check -- is the core (tricolor/c_api.h), linked in as a
 * static library; the binding is its embedder.  Its own names start with
 * gct_ / GCT_ (tc_ / TC_ are the core's C API).
 *
 * Modes (one per process, chosen at _PyGC_Init of the main interpreter):
 *   stw         stock gc_free_threading.c, untouched: the in-run control;
 *   concurrent  (default) the core's mostly-concurrent mark-sweep.
 * Subinterpreters always use stw.  Selected by -X gc=concurrent|stw, or
 * PYTHON_GC=concurrent|stw (ignored under -E).
 *
 * Phases of one concurrent collection (gc_collect_main -> gct_collect):
 *   1. ROOT SCAN (pause "tricolor:root-scan").  Queued refcounts merged,
 *      delayed frees processed, free lists cleared; every thread's frames
 *      reported as roots; black allocation on.
 *   2. CONCURRENT MARK, 3. CANDIDATE SCAN, 3b. FILTER, with the world
 *      running and the collecting thread *detached*, so that it holds no
 *      other thread's stop-the-world request back.  Objects are read
 *      through gct_trace_concurrent() only (gc_tricolor_concurrent_trace.c).
 *   4. VERIFY (pause "tricolor:verify", per batch).  Exact refcounts
 *      (merged as stock merges them), exact tp_traverse, over the batch
 *      only, plus what only the batch's garbage holds.  Each garbage
 *      object is held as stock's scan_heap_visitor holds it (merged
 *      refcount + 1, deferred refcounting off, unreachable bit, legacy
 *      finalizers apart); before the world restarts, legacy-reachable
 *      objects are moved out and weakrefs are cleared (clear_weakrefs), as
 *      stock does in its one pause.
 *   5. FINALIZE (world running): weakref callbacks, then tp_finalize.
 *   6. RESURRECTION CHECK (pause "tricolor:resurrection-check") if any
 *      code ran in 5.
 *   7. CLEAR (world running): tp_clear or gc.garbage (DEBUG_SAVEALL), then
 *      the holds are dropped; then legacy finalizers go to gc.garbage.
 *
 * The binding is split by concern into the files #included at the end of
 * this one; what one of them defines for the others (or for the hooks in
 * gc_free_threading.c) is declared in Include/internal/
 * pycore_gc_tricolor_binding.h, with the legal call order, and each file
 * states at its top the rules of the shared fields it owns:
 *   gc_tricolor_heap.c              the starts bits on CPython's GC segments
 *   gc_tricolor_weakrefs.c          weak references with callbacks
 *   gc_tricolor_concurrent_trace.c  the reads made with the world running:
 *                                   the allowlist
 *   gc_tricolor_embedder.c          the core's callbacks (tc_embedder_ops)
 *                                   and one collection (gct_collect)
 *   gc_tricolor_thread.c            the collector thread and the pacing:
 *                                   the core's, through its thread hooks
 *                                   and CPython's object counts
 *   gc_tricolor_api.c               mode selection and set-up, fork,
 *                                   gc.get_tricolor_stats()
 * They are compiled inside gc_free_threading.c, not on their own, because
 * they call its static functions.
 *
 * The fields of `gct` (struct gct_binding), the binding's process-wide
 * state, are written only while no other thread can read them: mode,
 * interp, map and collector by _PyGC_TricolorInit() (the main
 * interpreter's _PyGC_Init, before there is a second thread) and by
 * _PyGC_TricolorAfterForkChild() (the child of fork(), one thread);
 * subtype_traverse by the first collection, before its marker threads
 * start (gct_collect).  Every thread reads them with plain loads.
 */

#include "pycore_gc_tricolor_binding.h"  // what the files share
#include "pycore_moduleobject.h"         // PyModuleObject
#include "pycore_namespace.h"            // _PyNamespace_Type
#include "pycore_unionobject.h"          // _PyUnion_Type
#include "pycore_frame.h"                // _PyInterpreterFrame
#include "pycore_pylifecycle.h"          // _PyThreadState_DeleteCurrent()

static struct gct_binding gct = {.mode = GCT_STW};

#include "gc_tricolor_heap.c"
#include "gc_tricolor_weakrefs.c"
#include "gc_tricolor_concurrent_trace.c"
#include "gc_tricolor_embedder.c"
#include "gc_tricolor_thread.c"
#include "gc_tricolor_api.c"
