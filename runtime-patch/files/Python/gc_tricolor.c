/* Python/gc_tricolor.c -- the CPython binding of the tricolor collector.
 *
 * #included at the end of gc_free_threading.c: the binding drives stock's
 * own garbage path (worklists, clear_weakrefs, finalize_garbage,
 * handle_legacy_finalizers) so that the order and the semantics of what
 * happens to garbage stay stock's.  The collector itself -- marking, the
 * candidate scan, the candidate filter, the verification in batches, the
 * resurrection check -- is the core (tricolor/c_api.h), linked in as a
 * static library; this file is its embedder.
 *
 * Modes (one per process, chosen at _PyGC_Init of the main interpreter):
 *   stw         stock gc_free_threading.c, untouched: the in-run control;
 *   concurrent  (default) the core's mostly-concurrent mark-sweep.
 * Subinterpreters always use stw.  Selected by -X gc=concurrent|stw, or
 * PYTHON_GC=concurrent|stw (ignored under -E).
 *
 * Phases of one concurrent collection (gc_collect_main -> tc_collect):
 *   1. ROOT SCAN (pause "tricolor:root-scan").  Queued refcounts merged,
 *      delayed frees processed, free lists cleared; every thread's frames
 *      reported as roots; black allocation on.
 *   2. CONCURRENT MARK, 3. CANDIDATE SCAN, 3b. FILTER, with the world
 *      running and the collecting thread *detached*, so that it holds no
 *      other thread's stop-the-world request back.  Objects are read
 *      through tc_trace_concurrent() only (below).
 *   4. VERIFY (pause "tricolor:verify", per batch).  Exact refcounts
 *      (merged as stock merges them), exact tp_traverse, over the batch
 *      only, plus what only the batch's garbage holds.  Each garbage object is held as stock's scan_heap_visitor
 *      holds it (merged refcount + 1, deferred refcounting off, unreachable
 *      bit, legacy finalizers apart); before the world restarts, legacy-
 *      reachable objects are moved out and weakrefs are cleared
 *      (clear_weakrefs), as stock does in its one pause.
 *   5. FINALIZE (world running): weakref callbacks, then tp_finalize.
 *   6. RESURRECTION CHECK (pause "tricolor:resurrection-check") if any
 *      code ran in 5.
 *   7. CLEAR (world running): tp_clear or gc.garbage (DEBUG_SAVEALL), then
 *      the holds are dropped; then legacy finalizers go to gc.garbage.
 *
 * The heap: every GC object of the main interpreter has a starts bit in a
 * tc_segment_map over mimalloc's 32 MiB segments, set by gc_alloc and
 * _PyType_AllocNoTrack (and _PyObject_GC_Resize), cleared by
 * PyObject_GC_Del.  Objects allocated before _PyGC_Init have none and are
 * never candidates (they are never freed by this mode; they are the
 * interpreter's first few objects).  Free-list reuse keeps the bit.
 *
 * Concurrent reads (design brief §3; papers/design.md §6): marker and
 * filter threads (TBB workers, no thread state) read objects while their
 * owners mutate and free them.  That is memory-safe because
 *   - mimalloc never unmaps the memory of its arenas (freed pages are
 *     purged with MADV_DONTNEED: they read as zeros) -- so any pointer that
 *     mi_is_in_heap_region() accepts may be read, up to the end of its
 *     32 MiB segment unit (tc_readable);
 *   - every object pointer goes through the segment map before its header
 *     is read (the core's is_object/try_mark);
 *   - only the types of the allowlist below are read, each by code here
 *     that does plain loads, bounds every index by tc_readable, and calls
 *     no function pointer read from the heap.
 * A stale read can only mark an object that is in fact garbage (it then
 * floats to the next collection) or miss a reference (the object becomes a
 * candidate): neither affects soundness, which rests on the stopped-world
 * verification alone (tricolor/embedder.h).
 *
 * Concurrency of the fields of `tc`: mode, interp, map, collector,
 * subtype_traverse are written once at init (or fork); the collection
 * fields (state, tstate, attached, pause, legacy*) belong to the thread
 * that holds gcstate->collecting; last is written by it and read by
 * gc.get_tricolor_stats() (racy, a snapshot); thr_* are guarded by thr_mu.
 * thr_mu is taken only by a detached thread (Py_BEGIN_ALLOW_THREADS around
 * every use): a thread blocked on it while attached would never park, and
 * one that re-attached while holding it would wait for a stop-the-world
 * pause to end while holding it -- together, a deadlock
 * (stress/python/repro_assist_deadlock.py found it).
 */

#include <pthread.h>
#include <signal.h>

#include "tricolor/segment_map.h"
#include "tricolor/c_api.h"

#include "pycore_moduleobject.h"  // PyModuleObject
#include "pycore_frame.h"         // _PyInterpreterFrame
#include "pycore_pylifecycle.h"   // _PyThreadState_DeleteCurrent()

enum { TC_GC_STW = 0, TC_GC_CONCURRENT = 1 };

/* Pacing constants (see tc_behind). */
#ifndef TC_LIVE_DIVISOR
#  define TC_LIVE_DIVISOR 8
#endif
#ifndef TC_ASSIST
#  define TC_ASSIST 1
#endif

static struct {
    int mode;
    PyInterpreterState *interp;
    tc_segment_map *map;
    tc_collector *collector;
    traverseproc subtype_traverse;
    /* the collection in progress */
    struct collection_state *state;
    PyThreadState *tstate;
    int attached;
    int world_stopped;
    int stops;            /* pauses so far in this collection */
    int finalized;        /* finalize() ran since the last pause */
    int weakrefs_pending; /* garbage held in this pause, weakrefs not cleared */
    PyObject **wrcb;      /* state->wrcb_to_call at the last pause's end, sorted */
    size_t nwrcb, capwrcb;
    PyObject **legacy;    /* moved to the legacy finalizers (not released) */
    size_t nlegacy, caplegacy;
    tc_stats last;
    uint64_t collections;
    /* the collector thread */
    pthread_mutex_t thr_mu;
    pthread_cond_t thr_cv;
    pthread_cond_t done_cv;   /* broadcast after each collection of the thread */
    uint64_t thr_done;        /* collections the thread finished */
    int thr_state;        /* 0 none, 1 running, 2 stopping */
    int thr_trigger;
    PyThread_handle_t thr_handle;
    PyThreadState *thr_tstate;
} tc = {.mode = TC_GC_STW, .thr_mu = PTHREAD_MUTEX_INITIALIZER,
        .thr_cv = PTHREAD_COND_INITIALIZER, .done_cv = PTHREAD_COND_INITIALIZER};

/* Whether the last collection reclaimed much: at least a quarter of the
 * objects allocated since the one before were cyclic garbage (see
 * tc_behind; written by the collecting thread, read by allocating ones). */
static int tc_reclaiming;

static inline int
tc_active(PyInterpreterState *interp)
{
    return tc.mode == TC_GC_CONCURRENT && interp == tc.interp;
}

/* ---- the heap: starts bits on CPython's GC segments ---- */

static inline void
tc_on_alloc(PyObject *op)
{
    tc_segment_map *map = tc.map;
    if (map != NULL && _PyInterpreterState_GET() == tc.interp) {
        (void)tc_segment_map_on_alloc(map, op);  /* -1: out of memory, no bit */
    }
}

void
_PyGC_TricolorOnAlloc(PyObject *op)
{
    tc_on_alloc(op);
}

static inline void
tc_on_free(PyObject *op)
{
    if (tc.map != NULL) {
        tc_segment_map_on_free(tc.map, op);
    }
}

/* code_dealloc: code objects live in the GC heap but are freed with
 * PyObject_Free, not PyObject_GC_Del. */
void
_PyGC_TricolorOnFree(PyObject *op)
{
    tc_on_free(op);
}

/* ---- weak references with callbacks ----
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
 *     reference (tc.wrcb, b_refcount), and b_finalize drops it from the
 *     queue if it was found garbage. */

/* Objects/weakrefobject.c: a weak reference with a callback to op was just
 * made (while op is alive: the caller holds it). */
void
_PyGC_TricolorOnWeakCallback(PyObject *op)
{
    if (tc_active(_PyInterpreterState_GET())) {
        (void)tc_collector_shade(tc.collector, op);  /* -1: out of memory; floats */
    }
}

static int
tc_ptr_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(PyObject *const *)a, y = (uintptr_t)*(PyObject *const *)b;
    return (x > y) - (x < y);
}

/* World stopped, after clear_weakrefs(): note what the queue holds. */
static void
tc_note_wrcb(struct collection_state *state)
{
    PyObject *op;
    tc.nwrcb = 0;
    WORKSTACK_FOR_EACH(&state->wrcb_to_call, op) {
        if (tc.nwrcb == tc.capwrcb) {
            size_t cap = tc.capwrcb ? 2 * tc.capwrcb : 64;
            PyObject **p = PyMem_RawRealloc(tc.wrcb, cap * sizeof(PyObject *));
            if (p == NULL) {
                /* Out of memory: the queue's references count, so those
                 * weak references stay alive for this collection and their
                 * callbacks run -- the behaviour before this fix. */
                break;
            }
            tc.wrcb = p;
            tc.capwrcb = cap;
        }
        tc.wrcb[tc.nwrcb++] = op;
    }
    qsort(tc.wrcb, tc.nwrcb, sizeof(PyObject *), tc_ptr_cmp);
}

static inline int
tc_is_queued(PyObject *op)
{
    return bsearch(&op, tc.wrcb, tc.nwrcb, sizeof(PyObject *), tc_ptr_cmp) != NULL;
}

/* ---- concurrent reads (see the top of the file) ---- */

#define TC_LOAD(p) _Py_atomic_load_ptr_relaxed((void *)&(p))

/* Under ThreadSanitizer the concurrent reads are left out of its analysis:
 * they race with the owners' plain stores by design (above), and TSan
 * cannot see why that is safe.  Writes and synchronisation are still
 * checked, and so is every read made with the world stopped -- a mutator
 * running during a pause is still reported (scripts/test-tsan-fork.sh). */
#ifdef _Py_THREAD_SANITIZER
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
#  define TC_RACY_READS_BEGIN() AnnotateIgnoreReadsBegin(__FILE__, __LINE__)
#  define TC_RACY_READS_END() AnnotateIgnoreReadsEnd(__FILE__, __LINE__)
#else
#  define TC_RACY_READS_BEGIN() ((void)0)
#  define TC_RACY_READS_END() ((void)0)
#endif

/* Bytes that may be read from p on: 0 unless p is in mimalloc's memory. */
static inline size_t
tc_readable(const void *p)
{
    if (p == NULL || ((uintptr_t)p & (sizeof(void *) - 1)) || !mi_is_in_heap_region(p)) {
        return 0;
    }
    return (((uintptr_t)p | (MI_SEGMENT_SIZE - 1)) + 1) - (uintptr_t)p;
}

static void
tc_visit_array(PyObject **items, Py_ssize_t n, tc_visitor *v)
{
    size_t room = tc_readable(items) / sizeof(PyObject *);
    if (n < 0) {
        return;
    }
    if ((size_t)n > room) {
        n = (Py_ssize_t)room;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        tc_visit(v, TC_LOAD(items[i]));
    }
}

static void
tc_trace_dict(PyDictObject *mp, tc_visitor *v)
{
    PyDictKeysObject *keys = TC_LOAD(mp->ma_keys);
    PyDictValues *values = TC_LOAD(mp->ma_values);
    size_t room = tc_readable(keys);
    if (room < sizeof(PyDictKeysObject)) {
        return;
    }
    uint8_t kind = _Py_atomic_load_uint8_relaxed(&keys->dk_kind);
    uint8_t index_bytes = _Py_atomic_load_uint8_relaxed(&keys->dk_log2_index_bytes);
    Py_ssize_t n = _Py_atomic_load_ssize_relaxed(&keys->dk_nentries);
    if (index_bytes > 40 || ((size_t)1 << index_bytes) > room) {
        return;
    }
    char *entries = keys->dk_indices + ((size_t)1 << index_bytes);
    size_t left = room - (size_t)(entries - (char *)keys);
    if (values != NULL) {
        size_t vroom = tc_readable(values);
        if (vroom < sizeof(PyDictValues)) {
            return;
        }
        /* Values embedded in an instance belong to the instance's trace,
         * as in dict_traverse: visiting them here too would count each
         * reference twice. */
        if (!_Py_atomic_load_uint8_relaxed(&values->embedded)) {
            Py_ssize_t cap = _Py_atomic_load_uint8_relaxed(&values->capacity);
            tc_visit_array(values->values, n < cap ? n : cap, v);
        }
    }
    else if (kind != DICT_KEYS_GENERAL) {
        PyDictUnicodeEntry *e = (PyDictUnicodeEntry *)entries;
        Py_ssize_t max = (Py_ssize_t)(left / sizeof(*e));
        for (Py_ssize_t i = 0; i < n && i < max; i++) {
            tc_visit(v, TC_LOAD(e[i].me_value));
        }
    }
    else {
        PyDictKeyEntry *e = (PyDictKeyEntry *)entries;
        Py_ssize_t max = (Py_ssize_t)(left / sizeof(*e));
        for (Py_ssize_t i = 0; i < n && i < max; i++) {
            tc_visit(v, TC_LOAD(e[i].me_key));
            tc_visit(v, TC_LOAD(e[i].me_value));
        }
    }
}

static void
tc_trace_list(PyListObject *op, tc_visitor *v)
{
    PyObject **items = TC_LOAD(op->ob_item);
    if (tc_readable((char *)items - sizeof(Py_ssize_t)) < sizeof(Py_ssize_t)) {
        return;
    }
    Py_ssize_t allocated = _Py_atomic_load_ssize_relaxed(&((Py_ssize_t *)items)[-1]);
    Py_ssize_t n = _Py_atomic_load_ssize_relaxed(&op->ob_base.ob_size);
    tc_visit_array(items, n < allocated ? n : allocated, v);
}

static void
tc_trace_set(PySetObject *so, tc_visitor *v)
{
    setentry *table = TC_LOAD(so->table);
    Py_ssize_t mask = _Py_atomic_load_ssize_relaxed(&so->mask);
    size_t max = tc_readable(table) / sizeof(setentry);
    for (Py_ssize_t i = 0; i <= mask && (size_t)i < max; i++) {
        tc_visit(v, TC_LOAD(table[i].key));
    }
}

/* Whether the heap type tp (already known to be an object of the heap) is
 * a class statement's: its traversal is subtype_traverse. */
static int
tc_is_python_class(PyTypeObject *tp)
{
    unsigned long flags = _Py_atomic_load_ulong_relaxed(&tp->tp_flags);
    return (flags & Py_TPFLAGS_HEAPTYPE) && tc.subtype_traverse != NULL &&
           TC_LOAD(tp->tp_traverse) == (void *)tc.subtype_traverse;
}

static int
tc_is_heap_object(const void *p)
{
    return tc.map != NULL && tc_segment_map_heap_ops()->is_object(tc.map, p);
}

/* An instance of a class statement's class: slots along the chain of
 * Python classes, then the __dict__ (managed or inline values), then the
 * first base that is not a Python class, which must be object, list, dict
 * or tuple. */
static int
tc_trace_instance(PyObject *op, PyTypeObject *tp, tc_visitor *v)
{
    PyTypeObject *base = tp;
    for (int depth = 0; ; depth++) {
        if (depth > 64 || !tc_is_heap_object(base) || !tc_is_python_class(base)) {
            break;
        }
        Py_ssize_t nslots = _Py_atomic_load_ssize_relaxed(&((PyVarObject *)base)->ob_size);
        PyMemberDef *mp = (PyMemberDef *)((char *)base + _Py_atomic_load_ssize_relaxed(&Py_TYPE(base)->tp_basicsize));
        size_t room = tc_readable(mp) / sizeof(PyMemberDef);
        for (Py_ssize_t i = 0; i < nslots && (size_t)i < room; i++) {
            if (mp[i].type == Py_T_OBJECT_EX && mp[i].offset > 0 && mp[i].offset < 4096) {
                tc_visit(v, TC_LOAD(*(PyObject **)((char *)op + mp[i].offset)));
            }
        }
        base = TC_LOAD(base->tp_base);
    }
    if (base != &PyBaseObject_Type && base != &PyList_Type && base != &PyDict_Type) {
        return 0;
    }
    /* As PyObject_VisitManagedDict: the inline values while they are
     * valid, otherwise the dict (a dict made from valid inline values
     * shares them and does not visit them itself; visiting both would
     * count each reference twice -- a leak found by stress/fork). */
    unsigned long flags = _Py_atomic_load_ulong_relaxed(&tp->tp_flags);
    int values_valid = 0;
    if (flags & Py_TPFLAGS_INLINE_VALUES) {
        PyDictValues *values = (PyDictValues *)((char *)op + sizeof(PyObject));
        if (_Py_atomic_load_uint8_relaxed(&values->valid)) {
            tc_visit_array(values->values, _Py_atomic_load_uint8_relaxed(&values->capacity), v);
            values_valid = 1;
        }
    }
    if (flags & Py_TPFLAGS_MANAGED_DICT) {
        if (!values_valid) {
            tc_visit(v, TC_LOAD(_PyObject_ManagedDictPointer(op)->dict));
        }
    }
    else {
        Py_ssize_t off = _Py_atomic_load_ssize_relaxed(&tp->tp_dictoffset);
        if (off > 0 && off < 4096) {
            tc_visit(v, TC_LOAD(*(PyObject **)((char *)op + off)));
        }
    }
    tc_visit(v, tp);
    if (base == &PyList_Type) {
        tc_trace_list((PyListObject *)op, v);
    }
    else if (base == &PyDict_Type) {
        tc_trace_dict((PyDictObject *)op, v);
    }
    return 1;
}

/* The allowlist: types whose objects are read with the world running.
 * Everything else is opaque (the core then verifies what it references in
 * the pause, tricolor/embedder.h). */
static int
tc_trace_concurrent(PyObject *op, tc_visitor *v)
{
    PyTypeObject *tp = TC_LOAD(op->ob_type);
    if (tp == &PyTuple_Type) {
        tc_visit_array(((PyTupleObject *)op)->ob_item,
                       _Py_atomic_load_ssize_relaxed(&((PyVarObject *)op)->ob_size), v);
    }
    else if (tp == &PyList_Type) {
        tc_trace_list((PyListObject *)op, v);
    }
    else if (tp == &PyDict_Type) {
        tc_trace_dict((PyDictObject *)op, v);
    }
    else if (tp == &PySet_Type || tp == &PyFrozenSet_Type) {
        tc_trace_set((PySetObject *)op, v);
    }
    else if (tp == &PyCell_Type) {
        tc_visit(v, TC_LOAD(((PyCellObject *)op)->ob_ref));
    }
    else if (tp == &PyMethod_Type) {
        tc_visit(v, TC_LOAD(((PyMethodObject *)op)->im_func));
        tc_visit(v, TC_LOAD(((PyMethodObject *)op)->im_self));
    }
    else if (tp == &PyModule_Type) {
        tc_visit(v, TC_LOAD(((PyModuleObject *)op)->md_dict));
    }
    else if (tp == &PyFunction_Type) {
        PyFunctionObject *f = (PyFunctionObject *)op;
        tc_visit(v, TC_LOAD(f->func_globals));
        tc_visit(v, TC_LOAD(f->func_builtins));
        tc_visit(v, TC_LOAD(f->func_code));
        tc_visit(v, TC_LOAD(f->func_defaults));
        tc_visit(v, TC_LOAD(f->func_kwdefaults));
        tc_visit(v, TC_LOAD(f->func_closure));
        tc_visit(v, TC_LOAD(f->func_dict));
        tc_visit(v, TC_LOAD(f->func_module));
        tc_visit(v, TC_LOAD(f->func_annotations));
        tc_visit(v, TC_LOAD(f->func_typeparams));
    }
    else if (tp == &PyType_Type) {
        PyHeapTypeObject *ht = (PyHeapTypeObject *)op;
        tc_visit(v, TC_LOAD(ht->ht_type.tp_dict));
        tc_visit(v, TC_LOAD(ht->ht_type.tp_bases));
        tc_visit(v, TC_LOAD(ht->ht_type.tp_mro));
        tc_visit(v, TC_LOAD(ht->ht_type.tp_base));
        tc_visit(v, TC_LOAD(ht->ht_type.tp_subclasses));
        tc_visit(v, TC_LOAD(ht->ht_module));
    }
    else if (tc_is_heap_object(tp) && tc_is_python_class(tp)) {
        return tc_trace_instance(op, tp, v);
    }
    else {
        return 0;
    }
    return 1;
}

/* ---- the embedder ---- */

static int
tc_visit_proc(PyObject *op, void *v)
{
    tc_visit((tc_visitor *)v, op);
    return 0;
}

static bool
b_trace(void *ctx, void *obj, tc_visitor *v, bool concurrent)
{
    PyObject *op = obj;
    if (concurrent) {
        TC_RACY_READS_BEGIN();
        int ok = tc_trace_concurrent(op, v);
        TC_RACY_READS_END();
        return ok;
    }
    traverseproc traverse = Py_TYPE(op)->tp_traverse;
    if (traverse != NULL) {
        (void)traverse(op, tc_visit_proc, v);
    }
    return true;
}

/* Exact with the world stopped (queued refcounts are merged at every stop);
 * a racy snapshot with it running, as the filter allows. */
static intptr_t
b_refcount(void *ctx, void *obj)
{
    PyObject *op = obj;
    int racy = !tc.world_stopped;
    if (racy) {
        TC_RACY_READS_BEGIN();
    }
    uint32_t local = _Py_atomic_load_uint32_relaxed(&op->ob_ref_local);
    Py_ssize_t shared = _Py_atomic_load_ssize_relaxed(&op->ob_ref_shared);
    Py_ssize_t refcnt = (Py_ssize_t)local + (shared >> _Py_REF_SHARED_SHIFT);
    uint8_t bits = _Py_atomic_load_uint8_relaxed(&op->ob_gc_bits);
    if (racy) {
        TC_RACY_READS_END();
    }
    refcnt -= (bits & _PyGC_BITS_DEFERRED) != 0;
    if (tc.nwrcb != 0 && tc_is_queued(op)) {
        refcnt -= 1;  /* the callback queue's, from an earlier pause */
    }
    return refcnt;
}

/* Stock's update_refs untracks the tuples and dicts that hold nothing
 * tracked (world stopped, refcount > 0, no deferred refcount).  Here that
 * happens to the candidates of a verification and to the roots. */
static void
tc_maybe_untrack(PyObject *op)
{
    if (!_PyObject_GC_IS_TRACKED(op) || _PyObject_HasDeferredRefcount(op) ||
        _Py_IsImmortal(op) || Py_REFCNT(op) == 0) {
        return;
    }
    if (PyTuple_CheckExact(op)) {
        _PyTuple_MaybeUntrack(op);
    }
    else if (PyDict_CheckExact(op)) {
        _PyDict_MaybeUntrack(op);
    }
}

/* The roots' tuples and dicts, and the tuples and dicts inside them first
 * (stock reaches every one of them in its pass over the heap), within a
 * budget of objects per pause. */
static int
tc_untrack_visit(PyObject *op, void *budget)
{
    if ((PyTuple_CheckExact(op) || PyDict_CheckExact(op)) && _PyObject_GC_IS_TRACKED(op) &&
        --*(int *)budget > 0) {
        Py_TYPE(op)->tp_traverse(op, tc_untrack_visit, budget);
        tc_maybe_untrack(op);
    }
    return 0;
}

/* Stock takes part: tracked, not frozen, not immortal. */
static bool
b_collectable(void *ctx, void *obj)
{
    PyObject *op = obj;
    if (tc.world_stopped) {
        tc_maybe_untrack(op);
    }
    int racy = !tc.world_stopped;
    if (racy) {
        TC_RACY_READS_BEGIN();
    }
    uint8_t bits = _Py_atomic_load_uint8_relaxed(&op->ob_gc_bits);
    uint32_t local = _Py_atomic_load_uint32_relaxed(&op->ob_ref_local);
    if (racy) {
        TC_RACY_READS_END();
    }
    if (!(bits & _PyGC_BITS_TRACKED) || (bits & _PyGC_BITS_FROZEN)) {
        return false;
    }
    return local != _Py_IMMORTAL_REFCNT_LOCAL;
}

/* The interpreter's own tables, read with the thread roots while the world
 * is stopped: the interpreter writes them with plain stores, so reading
 * them while it runs would be a data race (ThreadSanitizer reported it
 * in init_importlib); a few hundred pointers cost nothing in the pause. */
static void
tc_interp_roots(PyInterpreterState *interp, tc_visitor *v)
{
    tc_visit(v, interp->imports.modules);
    tc_visit(v, interp->sysdict);
    tc_visit(v, interp->builtins);
    tc_visit(v, interp->dict);
    tc_visit(v, interp->imports.importlib);
    tc_visit(v, interp->imports.modules_by_index);
    for (size_t i = 0; i < _Py_MAX_MANAGED_STATIC_BUILTIN_TYPES; i++) {
        tc_visit(v, interp->types.builtins.initialized[i].tp_dict);
        tc_visit(v, interp->types.builtins.initialized[i].tp_subclasses);
    }
}

/* The interpreter's tables and every thread's frames, world stopped. */
static void
b_thread_roots(void *ctx, tc_visitor *v)
{
    PyInterpreterState *interp = tc.interp;
    int budget = 4096;
    tc_interp_roots(interp, v);
    for (PyThreadState *p = interp->threads.head; p != NULL; p = p->next) {
        tc_visit(v, p->dict);
        tc_visit(v, p->async_exc);
        tc_visit(v, p->current_exception);
        if (p->exc_info != NULL) {
            tc_visit(v, p->exc_info->exc_value);
        }
        for (_PyInterpreterFrame *f = p->current_frame; f != NULL; f = f->previous) {
            if (f->owner == FRAME_OWNED_BY_CSTACK) {
                continue;
            }
            tc_visit(v, f->f_executable);
            tc_visit(v, f->f_funcobj);
            tc_visit(v, f->f_globals);
            tc_visit(v, f->f_builtins);
            tc_visit(v, f->f_locals);
            tc_visit(v, (PyObject *)f->frame_obj);
            if (!PyCode_Check(f->f_executable)) {
                continue;
            }
            /* Locals, cells and free variables only: the value stack's
             * top is not kept in the frame while it executes, and a slot
             * above it may still point to an object since freed or now
             * garbage (marking that would only keep garbage a cycle
             * longer).  Temporaries on the stack become candidates; their
             * stack reference keeps them alive in the verification. */
            int n = ((PyCodeObject *)f->f_executable)->co_nlocalsplus;
            for (int i = 0; i < n; i++) {
                PyObject *local = f->localsplus[i];
                if (local != NULL && tc_is_heap_object(local)) {
                    (void)tc_untrack_visit(local, &budget);
                }
                tc_visit(v, local);
            }
        }
    }
}

static void
tc_attach(void)
{
    if (!tc.attached) {
        _PyThreadState_Attach(tc.tstate);
        tc.attached = 1;
    }
}

static void
tc_detach(void)
{
    if (tc.attached) {
        _PyThreadState_Detach(tc.tstate);
        tc.attached = 0;
    }
}

static void
b_stop_world(void *ctx)
{
    tc_attach();
    const char *reason = tc.stops == 0 ? "tricolor:root-scan"
                         : tc.finalized ? "tricolor:resurrection-check"
                                        : "tricolor:verify";
    _PyEval_StopTheWorldFor(tc.interp, reason);
    tc.world_stopped = 1;
    merge_all_queued_objects(tc.interp, tc.state);
    if (tc.stops == 0) {
        process_delayed_frees(tc.interp);
        _PyGC_ClearAllFreeLists(tc.interp);
    }
    tc.stops++;
    tc.finalized = 0;
}

static int
tc_is_legacy(PyObject *op)
{
    for (size_t i = 0; i < tc.nlegacy; i++) {
        if (tc.legacy[i] == op) {
            return 1;
        }
    }
    return 0;
}

static void
tc_note_legacy(PyObject *op)
{
    if (tc.nlegacy == tc.caplegacy) {
        size_t cap = tc.caplegacy ? 2 * tc.caplegacy : 16;
        PyObject **l = PyMem_RawRealloc(tc.legacy, cap * sizeof(PyObject *));
        if (l == NULL) {
            Py_FatalError("tricolor: out of memory noting a legacy finalizer");
        }
        tc.legacy = l;
        tc.caplegacy = cap;
    }
    tc.legacy[tc.nlegacy++] = op;
}

#ifdef GC_DEBUG
/* Debug validation (--with-pydebug): with the world still stopped after a
 * verification, walk every heap as stock's GC_DEBUG checks do and fail if a
 * live object -- tracked or frozen, not found garbage -- references an
 * object found garbage: that would be a live object about to be freed.
 * O(heap) per verification pause: debug builds only. */
static int
tc_check_ref(PyObject *op, void *parent)
{
    if (gc_is_unreachable(op)) {
        _PyObject_ASSERT_FAILED_MSG((PyObject *)parent,
                                    "tricolor: a live object references an object found garbage");
    }
    return 0;
}

static bool
tc_validate_visitor(const mi_heap_t *heap, const mi_heap_area_t *area,
                    void *block, size_t block_size, void *args)
{
    PyObject *op = op_from_block(block, args, true);
    if (op != NULL && !gc_is_unreachable(op)) {
        Py_TYPE(op)->tp_traverse(op, tc_check_ref, op);
    }
    return true;
}
#endif

/* Before the verification pause ends: what stock does between
 * deduce_unreachable_heap() and restarting the world. */
static void
tc_end_verify_pause(void)
{
    struct collection_state *state = tc.state;
    if (state->legacy_finalizers.head) {
        (void)move_legacy_finalizer_reachable(state);
        PyObject *op;
        tc.nlegacy = 0;
        WORKSTACK_FOR_EACH(&state->legacy_finalizers, op) {
            tc_note_legacy(op);
        }
    }
#ifdef GC_DEBUG
    gc_visit_heaps(tc.interp, &tc_validate_visitor, &state->base);
#endif
    if (tc.interp->gc.debug & _PyGC_DEBUG_COLLECTABLE) {
        PyObject *op;
        WORKSTACK_FOR_EACH(&state->unreachable, op) {
            debug_cycle("collectable", op);
        }
    }
    clear_weakrefs(state);
    tc_note_wrcb(state);
    while (worklist_pop(&state->unreachable) != NULL) {
    }
    tc.weakrefs_pending = 0;
}

static void
b_start_world(void *ctx)
{
    if (tc.weakrefs_pending) {
        tc_end_verify_pause();
    }
    tc.world_stopped = 0;
    _PyEval_StartTheWorld(tc.interp);
    cleanup_worklist(&tc.state->objs_to_decref);
    tc_detach();
}

static void
b_hold(void *ctx, void *obj)
{
    PyObject *op = obj;
    struct collection_state *state = tc.state;
    disable_deferred_refcounting(op);
    merge_refcount(op, 1);
    gc_set_unreachable(op);
    if (has_legacy_finalizer(op)) {
        gc_clear_unreachable(op);
        worklist_push(&state->legacy_finalizers, op);
    }
    else {
        worklist_push(&state->unreachable, op);
    }
    tc.weakrefs_pending = 1;
}

static void
b_release(void *ctx, void *obj)
{
    PyObject *op = obj;
    tc_attach();
    if (tc_is_legacy(op)) {
        return;  /* handle_legacy_finalizers() drops that reference */
    }
    /* The world runs (a resurrected object may be in use): atomic, as
     * CPython's own bit helpers, not gc_clear_unreachable's plain store. */
    _PyObject_CLEAR_GC_BITS(op, _PyGC_BITS_UNREACHABLE);
    Py_DECREF(op);
}

static bool
b_finalize(void *ctx, void *const *garbage, size_t n)
{
    struct collection_state *state = tc.state;
    tc_attach();
    /* Queued in an earlier pause, found garbage in a later one: it died
     * with its referent, so its callback does not run (stock's rule). */
    struct worklist_iter iter;
    PyObject *wr;
    WORKSTACK_FOR_EACH_ITER(&state->wrcb_to_call, &iter, wr) {
        if (_PyObject_HAS_GC_BITS(wr, _PyGC_BITS_UNREACHABLE)) {
            worklist_remove(&iter);
            Py_DECREF(wr);  /* the queue's; the hold keeps it */
        }
    }
    tc.nwrcb = 0;
    bool ran = state->wrcb_to_call.head != 0;
    call_weakref_callbacks(state);
    for (size_t i = 0; i < n; i++) {
        PyObject *op = garbage[i];
        if (tc_is_legacy(op)) {
            continue;
        }
        if (!_PyGC_FINALIZED(op) && Py_TYPE(op)->tp_finalize != NULL) {
            ran = true;
        }
        worklist_push(&state->unreachable, op);
    }
    finalize_garbage(state);
    while (worklist_pop(&state->unreachable) != NULL) {
    }
    tc.finalized = 1;
    return ran;
}

/* delete_garbage() without dropping the reference: release() does. */
static void
b_clear(void *ctx, void *const *garbage, size_t n)
{
    struct collection_state *state = tc.state;
    GCState *gcstate = state->gcstate;
    PyThreadState *tstate = tc.tstate;
    tc_attach();
    for (size_t i = 0; i < n; i++) {
        PyObject *op = garbage[i];
        if (tc_is_legacy(op)) {
            continue;
        }
        _PyObject_CLEAR_GC_BITS(op, _PyGC_BITS_UNREACHABLE);  /* world running */
        if (!_PyObject_GC_IS_TRACKED(op)) {
            continue;
        }
        state->collected++;
        if (gcstate->debug & _PyGC_DEBUG_SAVEALL) {
            if (PyList_Append(gcstate->garbage, op) < 0) {
                _PyErr_Clear(tstate);
            }
        }
        else {
            inquiry clear = Py_TYPE(op)->tp_clear;
            if (clear != NULL) {
                (void)clear(op);
                if (_PyErr_Occurred(tstate)) {
                    PyErr_FormatUnraisable("Exception ignored in tp_clear of %s",
                                           Py_TYPE(op)->tp_name);
                }
            }
        }
    }
}

/* Marker threads (TBB workers) that ever worked for the collector. */
static int tc_workers;

/* The collector's threads take no asynchronous signals.  The kernel gives a
 * process-directed signal to any thread that has it unblocked, and a
 * program that blocks one with signal.pthread_sigmask() expects it to stay
 * pending, not to reach a marker thread.  Faults stay unblocked, so that
 * faulthandler still reports them.  The marker threads inherit the mask of
 * the thread that makes TBB start them, which is why the whole collection
 * runs with it (tc_collect). */
static void
tc_block_signals(sigset_t *old)
{
    sigset_t set;
    sigfillset(&set);
    sigdelset(&set, SIGSEGV);
    sigdelset(&set, SIGBUS);
    sigdelset(&set, SIGFPE);
    sigdelset(&set, SIGILL);
    sigdelset(&set, SIGABRT);
    sigdelset(&set, SIGTRAP);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

static void
b_attach_worker(void *ctx)
{
    static _Thread_local int counted;
    if (!counted && PyGILState_GetThisThreadState() == NULL) {
        counted = 1;
        _Py_atomic_add_int(&tc_workers, 1);
        tc_block_signals(NULL);
    }
}

int
_PyGC_TricolorOwnThreads(void)
{
    return _Py_atomic_load_int_relaxed(&tc_workers) + (tc.thr_state == 1);
}

/* A refcount smaller than the references the verification counted (a C
 * extension's missing Py_INCREF).  A debug build fails as stock's
 * update_refs does, with gc_refs where stock keeps it (ob_tid: the process
 * ends here); otherwise the object is kept alive, with a warning. */
static void
b_refcount_error(void *ctx, void *obj, int64_t excess)
{
    PyObject *op = (PyObject *)obj;
#ifdef Py_DEBUG
    op->ob_tid = (uintptr_t)(-(Py_ssize_t)excess);
    _PyObject_ASSERT_WITH_MSG(op, gc_get_refs(op) >= 0, "refcount is too small");
#endif
    fprintf(stderr, "tricolor: %s object at %p: its refcount is %lld too small "
            "(an extension's missing Py_INCREF?); the object is kept alive\n",
            Py_TYPE(op)->tp_name, obj, (long long)excess);
}

static const tc_embedder_ops tc_ops = {
    .attach_worker = b_attach_worker,
    .trace = b_trace,
    .refcount = b_refcount,
    .collectable = b_collectable,
    .for_each_thread_root = b_thread_roots,
    .stop_world = b_stop_world,
    .start_world = b_start_world,
    .hold = b_hold,
    .release = b_release,
    .finalize = b_finalize,
    .clear = b_clear,
    .refcount_error = b_refcount_error,
};

/* subtype_traverse is static in typeobject.c: read it off a new class. */
static void
tc_find_subtype_traverse(void)
{
    PyObject *cls = PyObject_CallFunction((PyObject *)&PyType_Type, "s()N", "_tricolor_probe",
                                          PyDict_New());
    if (cls == NULL) {
        PyErr_Clear();
        return;
    }
    tc.subtype_traverse = ((PyTypeObject *)cls)->tp_traverse;
    Py_DECREF(cls);
}

/* One concurrent collection; called by gc_collect_internal() with
 * gcstate->collecting held. */
static void
tc_collect(PyInterpreterState *interp, struct collection_state *state, int generation)
{
    if (tc.subtype_traverse == NULL) {
        tc_find_subtype_traverse();
    }
    GCState *gcstate = state->gcstate;
    int allocated = _Py_atomic_load_int_relaxed(&gcstate->generations[0].count);
    if (generation + 1 < NUM_GENERATIONS) {
        _Py_atomic_add_int(&gcstate->generations[generation + 1].count, 1);
    }
    for (int i = 0; i <= generation; i++) {
        _Py_atomic_store_int(&gcstate->generations[i].count, 0);
    }
    tc.state = state;
    /* Read by threads racing for gcstate->collecting (gc_collect_main). */
    _Py_atomic_store_ptr_relaxed(&tc.tstate, _PyThreadState_GET());
    tc.attached = 1;
    tc.stops = 0;
    tc.nwrcb = 0;
    tc.finalized = 0;
    tc.nlegacy = 0;
    /* While the interpreter finalizes, one thread runs and the collections
     * must be exact at once (module teardown relies on it): the core's
     * full stop-the-world mode. */
    int mode = _PyInterpreterState_GetFinalizing(interp) != NULL ? TC_MODE_FULL_STW
                                                                 : TC_MODE_CONCURRENT;
    tc_stats st;
    sigset_t mask;
    tc_block_signals(&mask);
    int rc = tc_collector_collect(tc.collector, mode, &st);
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
    tc_attach();
    tc.state = NULL;
    if (rc < 0) {
        Py_FatalError(tc_last_error());
    }
    handle_legacy_finalizers(state);
    tc.nlegacy = 0;
    /* The world runs: allocating threads read it (gc_should_collect). */
    _Py_atomic_store_ssize_relaxed(&interp->gc.long_lived_total,
                                   (Py_ssize_t)(st.marked + st.candidates - st.garbage));
    _Py_atomic_store_int_relaxed(&tc_reclaiming,
                                 allocated > 0 && (Py_ssize_t)st.garbage * 4 >= allocated);
    tc.last = st;
    tc.collections++;
}

/* ---- the collector thread ---- */

static void
tc_thread_main(void *arg)
{
    PyThreadState *ts = tc.thr_tstate;
    _PyThreadState_Bind(ts);
    PyEval_AcquireThread(ts);
    for (;;) {
        int stop;
        Py_BEGIN_ALLOW_THREADS
        pthread_mutex_lock(&tc.thr_mu);
        while (!tc.thr_trigger && tc.thr_state == 1) {
            pthread_cond_wait(&tc.thr_cv, &tc.thr_mu);
        }
        stop = tc.thr_state != 1;
        tc.thr_trigger = 0;
        pthread_mutex_unlock(&tc.thr_mu);
        Py_END_ALLOW_THREADS
        if (stop) {
            break;
        }
        if (PyGC_IsEnabled()) {
            gc_collect_main(ts, 0, _Py_GC_REASON_HEAP);
        }
        Py_BEGIN_ALLOW_THREADS
        pthread_mutex_lock(&tc.thr_mu);
        tc.thr_done++;
        pthread_cond_broadcast(&tc.done_cv);
        pthread_mutex_unlock(&tc.thr_mu);
        Py_END_ALLOW_THREADS
    }
    PyThreadState_Clear(ts);
    _PyThreadState_DeleteCurrent(ts);
}

/* Pacing (papers/design.md §6): a collection starts when the allocations
 * since the last one exceed max(threshold, live / 4), stock's trigger
 * (gc_should_collect: never quadratic, never starved by a small threshold).
 * While the program makes cyclic garbage (tc_reclaiming), the trigger is
 * live / 8 and a thread that allocates one more trigger's worth while a
 * collection runs waits for it (an assist, as in Go), so floating garbage
 * stays within about two triggers' worth; a program that makes none never
 * waits. */
static int
tc_live_divisor(GCState *gcstate)
{
    return tc.mode == TC_GC_CONCURRENT && tc.interp != NULL && gcstate == &tc.interp->gc &&
                   _Py_atomic_load_int_relaxed(&tc_reclaiming)
               ? TC_LIVE_DIVISOR : 4;
}

static int
tc_behind(GCState *gcstate)
{
    if (!_Py_atomic_load_int_relaxed(&tc_reclaiming)) {
        return 0;
    }
    int count = _Py_atomic_load_int_relaxed(&gcstate->generations[0].count);
    Py_ssize_t trigger = gcstate->generations[0].threshold;
    Py_ssize_t live = _Py_atomic_load_ssize_relaxed(&gcstate->long_lived_total);
    if (live / TC_LIVE_DIVISOR > trigger) {
        trigger = live / TC_LIVE_DIVISOR;
    }
    return count > TC_ASSIST * trigger && trigger > 0;
}

/* A new thread state is the head of its interpreter's list.  Tools that
 * take the head for the program's newest thread (faulthandler lists from
 * the head; out-of-process stack readers such as _testexternalinspection
 * read only the head) should find the program's threads first, so the
 * collector's goes to the tail. */
static void
tc_move_to_tail(PyThreadState *ts)
{
    PyInterpreterState *interp = ts->interp;
    PyMutex_LockFlags(&_PyRuntime.interpreters.mutex, _Py_LOCK_DONT_DETACH);
    if (ts->next != NULL) {
        PyThreadState *last = ts->next;
        while (last->next != NULL) {
            last = last->next;
        }
        if (ts->prev != NULL) {
            ts->prev->next = ts->next;
        }
        else {
            interp->threads.head = ts->next;
        }
        ts->next->prev = ts->prev;
        last->next = ts;
        ts->prev = last;
        ts->next = NULL;
    }
    PyMutex_Unlock(&_PyRuntime.interpreters.mutex);
}

/* faulthandler's thread dump (Python/traceback.c): whether tstate is the
 * thread that collects (stock asks only whether a collection runs; here one
 * may run on the collector thread while another thread crashes), and
 * whether to leave tstate out (the collector thread while it runs no Python
 * code: it would add a "<no Python frame>" entry to every dump). */
int
_PyGC_TricolorIsCollectingThread(PyThreadState *tstate)
{
    return _Py_atomic_load_int_relaxed(&tstate->interp->gc.collecting) &&
           (!tc_active(tstate->interp) || _Py_atomic_load_ptr_relaxed(&tc.tstate) == tstate);
}

int
_PyGC_TricolorHideFromDump(PyThreadState *tstate)
{
    return tstate == tc.thr_tstate && tstate->current_frame == NULL;
}

/* An automatic collection is due: wake the collector thread (start it the
 * first time); wait for it if allocation is far ahead (tc_behind). */
static void
tc_request_collection(PyThreadState *tstate)
{
    if (tstate == tc.thr_tstate) {
        return;  /* a finalizer of the collector thread's own collection */
    }
    const int behind = tc_behind(&tstate->interp->gc);
    int running;
    Py_BEGIN_ALLOW_THREADS  /* thr_mu is only taken detached (see the top) */
    pthread_mutex_lock(&tc.thr_mu);
    if (tc.thr_state == 0) {
        /* Not a user thread: it must not immortalize the objects that
         * use deferred refcounting (gh-117783 does that when the first
         * non-main thread state appears), or module-level functions and
         * classes in garbage cycles would never be freed. */
        _Py_atomic_add_int(&tstate->interp->gc.immortalize, -2);
        tc.thr_tstate = _PyThreadState_New(tstate->interp, _PyThreadState_WHENCE_THREADING);
        _Py_atomic_add_int(&tstate->interp->gc.immortalize, 2);
        if (tc.thr_tstate != NULL) {
            tc_move_to_tail(tc.thr_tstate);
            PyThread_ident_t ident;
            sigset_t mask;
            tc_block_signals(&mask);  /* inherited by the new thread */
            int err = PyThread_start_joinable_thread(tc_thread_main, NULL, &ident, &tc.thr_handle);
            pthread_sigmask(SIG_SETMASK, &mask, NULL);
            if (err == 0) {
                tc.thr_state = 1;
            }
            else {
                PyThreadState_Clear(tc.thr_tstate);
                PyThreadState_Delete(tc.thr_tstate);
                tc.thr_tstate = NULL;
            }
        }
    }
    tc.thr_trigger = 1;
    pthread_cond_signal(&tc.thr_cv);
    running = tc.thr_state == 1;
    if (running && behind) {
        uint64_t seen = tc.thr_done;
        while (tc.thr_done == seen && tc.thr_state == 1) {
            pthread_cond_wait(&tc.done_cv, &tc.thr_mu);
        }
    }
    pthread_mutex_unlock(&tc.thr_mu);
    Py_END_ALLOW_THREADS
    if (!running) {
        /* No thread (out of resources): collect here, as stock does. */
        gc_collect_main(tstate, 0, _Py_GC_REASON_HEAP);
    }
}

/* Py_FinalizeEx, after the threading module's threads have finished. */
void
_PyGC_TricolorStopThread(PyInterpreterState *interp)
{
    int running;
    Py_BEGIN_ALLOW_THREADS  /* thr_mu is only taken detached (see the top) */
    pthread_mutex_lock(&tc.thr_mu);
    running = tc.thr_state == 1 && interp == tc.interp;
    if (running) {
        tc.thr_state = 2;
        pthread_cond_signal(&tc.thr_cv);
    }
    pthread_mutex_unlock(&tc.thr_mu);
    if (running) {
        PyThread_join_thread(tc.thr_handle);
        pthread_mutex_lock(&tc.thr_mu);
        tc.thr_state = 0;
        pthread_mutex_unlock(&tc.thr_mu);
    }
    Py_END_ALLOW_THREADS
}

/* The child of fork() has no collector thread and no marker threads (TBB
 * is not fork-safe): it continues with the stock collector. */
void
_PyGC_TricolorAfterForkChild(void)
{
    tc.mode = TC_GC_STW;
    tc.map = NULL;
    tc.thr_state = 0;
    pthread_mutex_init(&tc.thr_mu, NULL);
    pthread_cond_init(&tc.thr_cv, NULL);
}

/* ---- set-up ---- */

static int
tc_mode_from_config(PyInterpreterState *interp)
{
    const PyConfig *config = _PyInterpreterState_GetConfig(interp);
    const wchar_t *value = NULL;
    for (Py_ssize_t i = 0; i < config->xoptions.length; i++) {
        const wchar_t *x = config->xoptions.items[i];
        if (wcsncmp(x, L"gc=", 3) == 0) {
            value = x + 3;
        }
    }
    if (value != NULL) {
        if (wcscmp(value, L"stw") == 0) {
            return TC_GC_STW;
        }
        if (wcscmp(value, L"concurrent") == 0) {
            return TC_GC_CONCURRENT;
        }
        fprintf(stderr, "-X gc=%ls: expected concurrent or stw; using concurrent\n", value);
        return TC_GC_CONCURRENT;
    }
    const char *env = config->use_environment ? getenv("PYTHON_GC") : NULL;
    if (env != NULL && *env != '\0') {
        if (strcmp(env, "stw") == 0) {
            return TC_GC_STW;
        }
        if (strcmp(env, "concurrent") != 0) {
            fprintf(stderr, "PYTHON_GC=%s: expected concurrent or stw; using concurrent\n", env);
        }
    }
    return TC_GC_CONCURRENT;
}

/* _PyGC_Init: the main interpreter chooses the mode. */
void
_PyGC_TricolorInit(PyInterpreterState *interp)
{
    if (!_Py_IsMainInterpreter(interp) || tc.interp != NULL) {
        return;
    }
    tc.interp = interp;
    if (tc_mode_from_config(interp) != TC_GC_CONCURRENT) {
        return;
    }
#if MI_DEBUG > 0 || MI_SECURE > 0
    /* mimalloc's debug and secure builds (--with-pydebug sets MI_DEBUG)
     * decommit purged memory with PROT_NONE; the concurrent reads need it
     * readable (see the top of the file), so such builds never purge. */
    mi_option_set(mi_option_purge_delay, -1);
#endif
    tc_segment_map *map = tc_segment_map_new(MI_SEGMENT_SHIFT);
    tc_config cfg;
    tc_config_init(&cfg);
    cfg.mode = TC_MODE_CONCURRENT;
    cfg.background = false;
    /* Leave a core to the program: the marker threads otherwise compete
     * with every mutator for the CPU, and a descheduled mutator stalls as
     * surely as a stopped one (papers/design.md §6). */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cfg.mark_workers = ncpu > 1 ? (int)(ncpu - 1) : 1;
    tc_collector *c = map ? tc_collector_new(tc_segment_map_heap_ops(), map, &tc_ops, NULL,
                                             NULL, &cfg) : NULL;
    if (c == NULL) {
        fprintf(stderr, "tricolor: cannot start the concurrent collector (%s); using stw\n",
                map ? tc_last_error() : "out of memory");
        tc_segment_map_free(map);
        return;
    }
    tc.collector = c;
    tc.map = map;
    tc.mode = TC_GC_CONCURRENT;
}

/* gc.get_tricolor_stats() */
PyObject *
_PyGC_TricolorStats(PyInterpreterState *interp)
{
    const tc_stats *s = &tc.last;
    int on = tc_active(interp);
    double coverage = s->marked ? 1.0 - (double)s->opaque_marked / (double)s->marked : 0.0;
    return Py_BuildValue(
        "{s:s,s:K,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:L,s:L,s:d,s:O}",
        "mode", on ? "concurrent" : "stw",
        "collections", (unsigned long long)tc.collections,
        "marked", (Py_ssize_t)s->marked,
        "opaque_marked", (Py_ssize_t)s->opaque_marked,
        "candidates", (Py_ssize_t)s->candidates,
        "verified", (Py_ssize_t)s->verified,
        "opaque_candidates", (Py_ssize_t)s->opaque_candidates,
        "expanded", (Py_ssize_t)s->expanded,
        "garbage", (Py_ssize_t)s->garbage,
        "resurrected", (Py_ssize_t)s->resurrected,
        "shaded", (Py_ssize_t)s->shaded,
        "dependent", (Py_ssize_t)s->dependent,
        "pauses", (Py_ssize_t)s->pauses,
        "fell_back", (Py_ssize_t)s->fell_back,
        "max_pause_ns", (long long)s->max_pause_ns,
        "max_wait_ns", (long long)s->max_wait_ns,
        "allowlist_coverage", coverage,
        "thread", tc.thr_state == 1 ? Py_True : Py_False);
}
