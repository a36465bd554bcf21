#ifndef Py_INTERNAL_GC_TRICOLOR_BINDING_H
#define Py_INTERNAL_GC_TRICOLOR_BINDING_H

#ifndef Py_BUILD_CORE
#  error "this header requires Py_BUILD_CORE define"
#endif

/* The binding's internal declarations: the state and the functions that one
 * Python/gc_tricolor*.c file defines for the others and for the hooks in
 * gc_free_threading.c.  Included only by Python/gc_tricolor.c, which
 * gc_free_threading.c includes (after its struct collection_state and the
 * static helpers the binding calls): everything here belongs to that one
 * translation unit, so everything is static.  What other CPython files call
 * is in pycore_gc_tricolor.h.
 *
 * Legal call order (one process):
 *   1. _PyGC_TricolorInit, in the main interpreter's _PyGC_Init, before
 *      there is a second thread, sets gct.  Until then, and for good in stw
 *      mode, gct_active() is 0 and gct_on_alloc/gct_on_free do nothing.
 *   2. Any thread, at any time: gct_on_alloc, gct_on_free, gct_active,
 *      gct_pace, gct_assist (relaxed loads only).
 *   3. gct_request_collection: _Py_RunGC, attached, gct_active() true; the
 *      core then calls gct_start_thread (once), gct_enter_blocking and
 *      gct_leave_blocking, gct_collect_automatically.
 *   4. gct_collect: gc_collect_internal, attached, with gcstate->collecting
 *      held, gct_active() true; the core then calls gct_ops' callbacks in
 *      the order of tricolor/embedder.h (gc_tricolor_embedder.c).
 *   5. _PyGC_TricolorStopThread (Py_FinalizeEx) once; in the child of
 *      fork(), _PyGC_TricolorAfterForkChild before anything else.
 */

#include <signal.h>                // sigset_t: gct_block_signals()

#include "tricolor/segment_map.h"  // tc_segment_map: the starts bits
#include "tricolor/c_api.h"        // tc_collector, tc_visitor, tc_stats

enum { GCT_STW = 0, GCT_CONCURRENT = 1 };

/* ---- gc_tricolor.c: the binding's process-wide state ---- */

/* Written only while no other thread can read it: by _PyGC_TricolorInit
 * (mode, interp, map, collector), _PyGC_TricolorAfterForkChild (mode, map)
 * and the first collection before its marker threads start
 * (subtype_traverse); every thread reads it with plain loads. */
struct gct_binding {
    int mode;                       /* GCT_STW or GCT_CONCURRENT */
    PyInterpreterState *interp;     /* the main interpreter, once _PyGC_Init ran */
    tc_segment_map *map;            /* the starts bits (NULL: stw) */
    tc_collector *collector;
    traverseproc subtype_traverse;  /* typeobject.c's, for the allowlist */
};
static struct gct_binding gct;

/* Whether interp collects with the concurrent mode. */
static inline int
gct_active(PyInterpreterState *interp)
{
    return gct.mode == GCT_CONCURRENT && interp == gct.interp;
}

/* ---- gc_tricolor_heap.c: the starts bits ---- */

/* op starts a GC object (gc_alloc, _PyObject_GC_Link, _PyObject_GC_Resize). */
static inline void gct_on_alloc(PyObject *op);
/* op's memory is freed (PyObject_GC_Del, _PyObject_GC_Resize). */
static inline void gct_on_free(PyObject *op);
/* Whether p starts a GC object of the main interpreter. */
static int gct_is_heap_object(const void *p);

/* A growable array of objects (the binding's notes: weak references
 * queued for their callbacks, legacy finalizers, garbage with weak
 * references), kept across collections; n = 0 empties it. */
struct gct_objs {
    PyObject **items;
    size_t n, cap;
};

/* Appends op to a; 0, or -1 (a unchanged) if memory is out. */
static inline int
gct_objs_push(struct gct_objs *a, PyObject *op)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 64;
        PyObject **p = PyMem_RawRealloc(a->items, cap * sizeof(PyObject *));
        if (p == NULL) {
            return -1;
        }
        a->items = p;
        a->cap = cap;
    }
    a->items[a->n++] = op;
    return 0;
}

/* ---- gc_tricolor_weakrefs.c: weak references with callbacks ---- */

/* state->wrcb_to_call at the last pause's end, sorted.  Written by the
 * collecting thread only, while the core runs no thread of its own; read
 * by gct_refcount() on the core's threads. */
static struct gct_objs gct_wrcb;

/* World stopped, after clear_weakrefs(): note what the queue holds. */
static void gct_note_wrcb(struct collection_state *state);
/* Whether op was in the queue at the last verify pause's end. */
static inline int gct_is_queued(PyObject *op);

/* ---- gc_tricolor_concurrent_trace.c: the reads with the world running ---- */

/* Under ThreadSanitizer the concurrent reads are left out of its analysis:
 * they race with the owners' plain stores by design
 * (gc_tricolor_concurrent_trace.c), and TSan cannot see why that is safe.
 * Writes and synchronisation are still checked, and so is every read made
 * with the world stopped -- a mutator running during a pause is still
 * reported (scripts/test-tsan-fork.sh). */
#ifdef _Py_THREAD_SANITIZER
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
#  define GCT_RACY_READS_BEGIN() AnnotateIgnoreReadsBegin(__FILE__, __LINE__)
#  define GCT_RACY_READS_END() AnnotateIgnoreReadsEnd(__FILE__, __LINE__)
#else
#  define GCT_RACY_READS_BEGIN() ((void)0)
#  define GCT_RACY_READS_END() ((void)0)
#endif

/* The allowlist: visit what op references, 1; or 0, op is opaque.  Any
 * thread, world running, between GCT_RACY_READS_BEGIN/END. */
static int gct_trace_concurrent(PyObject *op, tc_visitor *v);

/* ---- gc_tricolor_embedder.c: the core's callbacks, one collection ---- */

/* state, attached, world_stopped, stops, finalized, legacy_pending and
 * legacy* belong to the thread that holds gcstate->collecting; the core's
 * threads read world_stopped, which changes only between the core's
 * phases.  tstate: atomic (relaxed), written by gc_collect_main() as it
 * takes gcstate->collecting (the thread) and before it releases it (NULL),
 * read by threads racing for gcstate->collecting and by faulthandler.
 * last: written when a collection ends, read by gc.get_tricolor_stats()
 * without synchronisation (a snapshot).  collections: atomic, added to when
 * a collection ends, read by gct_throttle() (relaxed). */
struct gct_collection_state {
    struct collection_state *state;  /* the collection in progress */
    PyThreadState *tstate;           /* the thread that holds gcstate->collecting, or NULL */
    int attached;
    int world_stopped;
    int stops;            /* pauses so far in this collection */
    int finalized;        /* finalize() ran since the last pause */
    int legacy_pending;   /* this pause's garbage took stock's path (a legacy finalizer, or out of memory): finish it at start_world */
    struct gct_objs legacy;  /* moved to the legacy finalizers (not released) */
    tc_stats last;        /* the last collection's figures */
    uint64_t collections;
};
static struct gct_collection_state gct_collection;

/* Marker threads (TBB workers) that ever worked for the collector; atomic,
 * each adds 1 once. */
static int gct_workers;

/* The callbacks the core is made with (_PyGC_TricolorInit). */
static const tc_embedder_ops gct_ops;

/* Block the asynchronous signals in the calling thread; *old (if not NULL)
 * gets the previous mask. */
static void gct_block_signals(sigset_t *old);
/* One concurrent collection (gc_collect_internal, gcstate->collecting held). */
static void gct_collect(PyInterpreterState *interp, struct collection_state *state,
                        int generation);

/* ---- gc_tricolor_thread.c: the collector thread, the pacing ---- */

/* Written by gct_start_thread (the core calls it once, under its lock,
 * before the thread starts), cleared after the join
 * (_PyGC_TricolorStopThread) and in the child of fork(); tstate is read
 * without synchronisation by faulthandler (a stale answer is harmless). */
struct gct_collector_thread {
    PyThreadState *tstate;    /* the collector thread's, or NULL */
    PyThread_handle_t handle;
    void (*body)(void *);     /* the core's loop */
    void *arg;
};
static struct gct_collector_thread gct_thread;

/* The core's pacer (stock's arithmetic outside the concurrent mode):
 * TC_PACE_* for `count` objects allocated since the last collection and
 * `live` alive after it (gc_should_collect). */
static int gct_pace(GCState *gcstate, int count, Py_ssize_t live);
/* Whether an allocating thread waits for the due collection (record_allocation). */
static int gct_assist(GCState *gcstate);
/* tc_embedder_ops: the collector thread, the core's waits, its collections. */
static bool gct_start_thread(void *ctx, void (*body)(void *), void *arg);
static void *gct_enter_blocking(void *ctx);
static void gct_leave_blocking(void *ctx, void *token);
static void gct_collect_automatically(void *ctx, tc_collector *c);
/* _Py_RunGC: wake the collector thread (the core starts it the first
 * time); wait for it if gct_assist(). */
static void gct_request_collection(PyThreadState *tstate);

#endif /* !Py_INTERNAL_GC_TRICOLOR_BINDING_H */
