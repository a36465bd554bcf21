/* Python/gc_tricolor_embedder.c -- the core's callbacks (tc_embedder_ops)
 * and one concurrent collection (part of the binding, #included by
 * gc_tricolor.c).
 *
 * gct_collect(), called by gc_collect_internal() with gcstate->collecting
 * held, runs one collection of the core; the core calls back, in the order
 * of tricolor/embedder.h (phases in gc_tricolor.c):
 *   gct_stop_world        attach the collecting thread, stop the world
 *                         (pause named after its phase), merge queued
 *                         refcounts; in the first pause also process delayed
 *                         frees and clear the free lists
 *   gct_thread_roots      the interpreter's tables, every thread's frames
 *                         (world stopped)
 *   gct_trace             concurrent: the allowlist
 *                         (gc_tricolor_concurrent_trace.c); stopped:
 *                         tp_traverse
 *   gct_refcount,         exact with the world stopped, a racy snapshot with
 *   gct_collectable       it running (the filter)
 *   gct_hold_all          a pause's garbage, held as stock's
 *                         scan_heap_visitor holds it, then DEBUG_COLLECTABLE
 *                         and its weak references cleared (world stopped,
 *                         as stock)
 *   gct_start_world       if that garbage took stock's path (a legacy
 *                         finalizer): the rest of it (still stopped); then
 *                         restart and *detach*
 *   gct_finalize          weakref callbacks, then tp_finalize (world running)
 *   gct_clear,            delete_garbage split in two: tp_clear or
 *   gct_release           gc.garbage, then the hold dropped (world running)
 *   gct_attach_worker     a marker thread's first work: counted, signals
 *                         blocked
 *   gct_refcount_error    a refcount smaller than the references counted
 *   gct_caller_runs_alone at a collection's start: an explicit collect with
 *                         no other Python thread marks on every core
 * Every callback but trace, refcount, collectable and attach_worker runs on
 * the collecting thread; those four also run on the core's marker and
 * filter threads, which have no thread state.
 *
 * Invariants: the collecting thread is attached exactly while
 * gct_collection.attached is 1, and it is detached whenever the core works
 * with the world running, so that it holds no other thread's
 * stop-the-world request back; it attaches again (gct_attach) in
 * gct_stop_world, gct_finalize, gct_clear, gct_release and when the core
 * returns.  gct_collection.world_stopped is 1 exactly between
 * gct_stop_world and gct_start_world.
 *
 * Concurrency of gct_collection's fields (struct gct_collection_state,
 * pycore_gc_tricolor_binding.h): state, attached, world_stopped,
 * stops, finalized, legacy_pending and legacy* belong to the thread that
 * holds gcstate->collecting (the collecting thread); the core's threads
 * read world_stopped, which changes only between the core's phases.
 * tstate (atomic, relaxed) is the thread that holds gcstate->collecting,
 * or NULL: gc_collect_main() sets it as it takes the flag and clears it
 * before it releases it (gct_set_collecting_thread), in concurrent mode; it is
 * read by threads racing for the flag (gc_collect_main: is the caller the
 * collecting thread itself?) and by faulthandler
 * (_PyGC_TricolorIsCollectingThread).  last and collections are
 * written by the collecting thread when its collection ends and read by
 * gc.get_tricolor_stats() without synchronisation (a snapshot).
 * gct_workers is atomic: each marker thread adds 1 once.
 */

static struct gct_collection_state gct_collection;

/* gc_collect_main(): tstate has just taken its interpreter's
 * gcstate->collecting (taken), or is about to release it.  A thread that
 * finds the flag taken returns at once only if it holds it itself (a
 * finalizer's gc.collect()); before this was cleared, a thread that had
 * collected last time took another thread's collection for its own and
 * returned without one.  Only the interpreter in concurrent mode: every
 * interpreter has its own flag, and a subinterpreter's collection must not
 * overwrite the thread the main interpreter's collection attaches. */
static inline void
gct_set_collecting_thread(PyThreadState *tstate, int taken)
{
    if (gct_active(tstate->interp)) {
        _Py_atomic_store_ptr_relaxed(&gct_collection.tstate, taken ? tstate : NULL);
    }
}

static int
gct_visit_proc(PyObject *op, void *v)
{
    tc_visit((tc_visitor *)v, op);
    return 0;
}

static bool
gct_trace(void *ctx, void *obj, tc_visitor *v, bool concurrent)
{
    PyObject *op = obj;
    if (concurrent) {
        GCT_RACY_READS_BEGIN();
        int ok = gct_trace_concurrent(op, v);
        if (!ok) {
            gct_census_count(GCT_LOAD(op->ob_type));
        }
        GCT_RACY_READS_END();
        return ok;
    }
    traverseproc traverse = Py_TYPE(op)->tp_traverse;
    if (traverse != NULL) {
        (void)traverse(op, gct_visit_proc, v);
    }
    return true;
}

/* Exact with the world stopped (queued refcounts are merged at every stop);
 * a racy snapshot with it running, as the filter allows. */
static intptr_t
gct_refcount(void *ctx, void *obj)
{
    PyObject *op = obj;
    int racy = !gct_collection.world_stopped;
    if (racy) {
        GCT_RACY_READS_BEGIN();
    }
    uint32_t local = _Py_atomic_load_uint32_relaxed(&op->ob_ref_local);
    Py_ssize_t shared = _Py_atomic_load_ssize_relaxed(&op->ob_ref_shared);
    Py_ssize_t refcnt = (Py_ssize_t)local + (shared >> _Py_REF_SHARED_SHIFT);
    uint8_t bits = _Py_atomic_load_uint8_relaxed(&op->ob_gc_bits);
    if (racy) {
        GCT_RACY_READS_END();
    }
    refcnt -= (bits & _PyGC_BITS_DEFERRED) != 0;
    if (gct_wrcb.n != 0 && gct_is_queued(op)) {
        refcnt -= 1;  /* the callback queue's, from an earlier pause */
    }
    return refcnt;
}

/* Stock's update_refs untracks the tuples and dicts that hold nothing
 * tracked (world stopped, refcount > 0, no deferred refcount).  Here that
 * happens to the candidates of a verification and to the roots. */
static void
gct_maybe_untrack(PyObject *op)
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
gct_untrack_visit(PyObject *op, void *budget)
{
    if ((PyTuple_CheckExact(op) || PyDict_CheckExact(op)) && _PyObject_GC_IS_TRACKED(op) &&
        --*(int *)budget > 0) {
        Py_TYPE(op)->tp_traverse(op, gct_untrack_visit, budget);
        gct_maybe_untrack(op);
    }
    return 0;
}

/* Stock takes part: tracked, not frozen, not immortal. */
static bool
gct_collectable(void *ctx, void *obj)
{
    PyObject *op = obj;
    if (gct_collection.world_stopped) {
        gct_maybe_untrack(op);
    }
    int racy = !gct_collection.world_stopped;
    if (racy) {
        GCT_RACY_READS_BEGIN();
    }
    uint8_t bits = _Py_atomic_load_uint8_relaxed(&op->ob_gc_bits);
    uint32_t local = _Py_atomic_load_uint32_relaxed(&op->ob_ref_local);
    if (racy) {
        GCT_RACY_READS_END();
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
gct_interp_roots(PyInterpreterState *interp, tc_visitor *v)
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
gct_thread_roots(void *ctx, tc_visitor *v)
{
    PyInterpreterState *interp = gct.interp;
    int budget = 4096;
    gct_interp_roots(interp, v);
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
                if (local != NULL && gct_is_heap_object(local)) {
                    (void)gct_untrack_visit(local, &budget);
                }
                tc_visit(v, local);
            }
        }
    }
}

static void
gct_attach(void)
{
    if (!gct_collection.attached) {
        _PyThreadState_Attach(gct_collection.tstate);
        gct_collection.attached = 1;
    }
}

static void
gct_detach(void)
{
    if (gct_collection.attached) {
        _PyThreadState_Detach(gct_collection.tstate);
        gct_collection.attached = 0;
    }
}

static void
gct_stop_world(void *ctx)
{
    gct_attach();
    const char *reason = gct_collection.stops == 0 ? "tricolor:root-scan"
                         : gct_collection.finalized ? "tricolor:resurrection-check"
                                                    : "tricolor:verify";
    _PyEval_StopTheWorldFor(gct.interp, reason);
    gct_collection.world_stopped = 1;
    merge_all_queued_objects(gct.interp, gct_collection.state);
    if (gct_collection.stops == 0) {
        process_delayed_frees(gct.interp);
        _PyGC_ClearAllFreeLists(gct.interp);
    }
    gct_collection.stops++;
    gct_collection.finalized = 0;
}

static int
gct_is_legacy(PyObject *op)
{
    for (size_t i = 0; i < gct_collection.legacy.n; i++) {
        if (gct_collection.legacy.items[i] == op) {
            return 1;
        }
    }
    return 0;
}

static void
gct_note_legacy(PyObject *op)
{
    if (gct_objs_push(&gct_collection.legacy, op) < 0) {
        Py_FatalError("tricolor: out of memory noting a legacy finalizer");
    }
}

#ifdef GC_DEBUG
/* Debug validation (--with-pydebug): with the world still stopped after a
 * verification, walk every heap as stock's GC_DEBUG checks do and fail if a
 * live object -- tracked or frozen, not found garbage -- references an
 * object found garbage: that would be a live object about to be freed.
 * O(heap) per verification pause: debug builds only. */
static int
gct_check_ref(PyObject *op, void *parent)
{
    if (gc_is_unreachable(op)) {
        _PyObject_ASSERT_FAILED_MSG((PyObject *)parent,
                                    "tricolor: a live object references an object found garbage");
    }
    return 0;
}

static bool
gct_validate_visitor(const mi_heap_t *heap, const mi_heap_area_t *area,
                     void *block, size_t block_size, void *args)
{
    PyObject *op = op_from_block(block, args, true);
    if (op != NULL && !gc_is_unreachable(op)) {
        Py_TYPE(op)->tp_traverse(op, gct_check_ref, op);
    }
    return true;
}
#endif

/* Before the verification pause ends, when the pause's garbage holds an
 * object with a legacy finalizer: what stock does between
 * deduce_unreachable_heap() and restarting the world, over the worklist
 * gct_hold_all() built. */
static void
gct_end_verify_pause(void)
{
    struct collection_state *state = gct_collection.state;
    (void)move_legacy_finalizer_reachable(state);
    PyObject *op;
    gct_collection.legacy.n = 0;
    WORKSTACK_FOR_EACH(&state->legacy_finalizers, op) {
        gct_note_legacy(op);
    }
#ifdef GC_DEBUG
    gc_visit_heaps(gct.interp, &gct_validate_visitor, &state->base);
#endif
    if (gct.interp->gc.debug & _PyGC_DEBUG_COLLECTABLE) {
        WORKSTACK_FOR_EACH(&state->unreachable, op) {
            debug_cycle("collectable", op);
        }
    }
    clear_weakrefs(state);
    gct_note_wrcb(state);
    while (worklist_pop(&state->unreachable) != NULL) {
    }
    gct_collection.legacy_pending = 0;
}

static void
gct_start_world(void *ctx)
{
    if (gct_collection.legacy_pending) {
        gct_end_verify_pause();
    }
    gct_collection.world_stopped = 0;
    _PyEval_StartTheWorld(gct.interp);
    cleanup_worklist(&gct_collection.state->objs_to_decref);
    gct_detach();
}

/* The weak references to op, one garbage object of a pause, cleared as
 * stock's clear_weakrefs() clears those of its unreachable list: op's own
 * referent if op is a weak reference; every weak reference to op, the
 * ones with a callback that are not garbage themselves queued (with a
 * reference) for gct_finalize to call.  is_ref and has_list are properties
 * of op's type, found by the caller. */
static inline void
gct_clear_weakrefs_of(struct collection_state *state, PyObject *op, int is_ref, int has_list)
{
    if (is_ref) {
        _PyWeakref_ClearRef((PyWeakReference *)op);
    }
    if (!has_list) {
        return;
    }
    PyWeakReference **list = _PyObject_GET_WEAKREFS_LISTPTR_FROM_OFFSET(op);
    for (PyWeakReference *wr = *list; wr != NULL; wr = *list) {
        _PyWeakref_ClearRef(wr);  /* unlinks wr: *list moves on */
        if (wr->wr_callback != NULL && !gc_is_unreachable((PyObject *)wr)) {
            merge_refcount((PyObject *)wr, 1);
            worklist_push(&state->wrcb_to_call, (PyObject *)wr);
        }
    }
}

/* The garbage of the pause in progress whose weak references need
 * clearing (gct_hold_all): few, reused across pauses.  Belongs to the
 * collecting thread. */
static struct gct_objs gct_weak;

/* Whether op has weak references to clear: it is one itself, or some
 * refer to it. */
static inline int
gct_has_weakrefs(PyObject *op, int is_ref, int has_list)
{
    return is_ref || (has_list && *_PyObject_GET_WEAKREFS_LISTPTR_FROM_OFFSET(op) != NULL);
}

/* One verification pause's garbage (world stopped): each object held as
 * stock's scan_heap_visitor holds an unreachable one (merged refcount
 * plus one, the unreachable bit), then its weak references cleared.
 * Stock's code makes four passes over a list it threads through ob_tid
 * (push, clear_weakrefs, pop; each step a dependent load, each object's
 * header a cache miss): on a dying 1 M-object ring that was a quarter of
 * the pause.  Here the first pass holds every object and notes the few
 * that have weak references to clear; the second clears those.  The
 * second must follow the first, not share it: whether a weak reference to
 * the garbage is garbage itself is its unreachable bit.  An object with a
 * legacy finalizer (tp_del) changes the order -- what it reaches is not
 * garbage, and must be known before any weak reference is cleared -- so
 * such a pause builds stock's worklist and takes stock's path in
 * gct_start_world (gct_end_verify_pause); so does running out of memory
 * for the note. */
static void
gct_hold_all(void *ctx, void *const *garbage, size_t n)
{
    struct collection_state *state = gct_collection.state;
    int legacy = 0, oom = 0;
    PyTypeObject *last = NULL;
    int is_ref = 0, has_list = 0;
    gct_weak.n = 0;
    for (size_t i = 0; i < n; i++) {
        PyObject *op = garbage[i];
        disable_deferred_refcounting(op);
        merge_refcount(op, 1);
        gc_set_unreachable(op);
        if (has_legacy_finalizer(op)) {
            gc_clear_unreachable(op);
            worklist_push(&state->legacy_finalizers, op);
            legacy = 1;
        }
        PyTypeObject *tp = Py_TYPE(op);
        if (tp != last) {  /* a structure's objects share a few types */
            last = tp;
            is_ref = PyWeakref_Check(op);
            has_list = _PyType_SUPPORTS_WEAKREFS(tp);
        }
        if (!oom && gct_has_weakrefs(op, is_ref, has_list) && gct_objs_push(&gct_weak, op) < 0) {
            oom = 1;
        }
    }
    if (legacy || oom) {
        for (size_t i = 0; i < n; i++) {
            PyObject *op = garbage[i];
            if (gc_is_unreachable(op)) {
                worklist_push(&state->unreachable, op);
            }
        }
        gct_collection.legacy_pending = 1;
        return;
    }
#ifdef GC_DEBUG
    gc_visit_heaps(gct.interp, &gct_validate_visitor, &state->base);
#endif
    if (gct.interp->gc.debug & _PyGC_DEBUG_COLLECTABLE) {
        for (size_t i = 0; i < n; i++) {
            debug_cycle("collectable", garbage[i]);
        }
    }
    for (size_t i = 0; i < gct_weak.n; i++) {
        PyObject *op = gct_weak.items[i];
        PyTypeObject *tp = Py_TYPE(op);
        gct_clear_weakrefs_of(state, op, PyWeakref_Check(op), _PyType_SUPPORTS_WEAKREFS(tp));
    }
    gct_note_wrcb(state);
}

static void
gct_release(void *ctx, void *obj)
{
    PyObject *op = obj;
    gct_attach();
    if (gct_is_legacy(op)) {
        return;  /* handle_legacy_finalizers() drops that reference */
    }
    /* The world runs (a resurrected object may be in use): atomic, as
     * CPython's own bit helpers, not gc_clear_unreachable's plain store. */
    _PyObject_CLEAR_GC_BITS(op, _PyGC_BITS_UNREACHABLE);
    Py_DECREF(op);
}

static bool
gct_finalize(void *ctx, void *const *garbage, size_t n)
{
    struct collection_state *state = gct_collection.state;
    gct_attach();
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
    gct_wrcb.n = 0;
    bool ran = state->wrcb_to_call.head != 0;
    call_weakref_callbacks(state);
    for (size_t i = 0; i < n; i++) {
        PyObject *op = garbage[i];
        if (gct_is_legacy(op)) {
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
    gct_collection.finalized = 1;
    return ran;
}

/* delete_garbage() without dropping the reference: release() does. */
static void
gct_clear(void *ctx, void *const *garbage, size_t n)
{
    struct collection_state *state = gct_collection.state;
    GCState *gcstate = state->gcstate;
    PyThreadState *tstate = gct_collection.tstate;
    gct_attach();
    for (size_t i = 0; i < n; i++) {
        PyObject *op = garbage[i];
        if (gct_is_legacy(op)) {
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
static int gct_workers;  /* atomic */

/* The collector's threads take no asynchronous signals.  The kernel gives a
 * process-directed signal to any thread that has it unblocked, and a
 * program that blocks one with signal.pthread_sigmask() expects it to stay
 * pending, not to reach a marker thread.  Faults stay unblocked, so that
 * faulthandler still reports them.  The marker threads inherit the mask of
 * the thread that makes TBB start them, which is why the whole collection
 * runs with it (gct_collect). */
static void
gct_block_signals(sigset_t *old)
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
gct_attach_worker(void *ctx)
{
    static _Thread_local int counted;
    if (!counted && PyGILState_GetThisThreadState() == NULL) {
        counted = 1;
        _Py_atomic_add_int(&gct_workers, 1);
        gct_block_signals(NULL);
    }
}

/* A refcount smaller than the references the verification counted (a C
 * extension's missing Py_INCREF).  A debug build fails as stock's
 * update_refs does, with gc_refs where stock keeps it (ob_tid: the process
 * ends here); otherwise the object is kept alive, with a warning. */
static void
gct_refcount_error(void *ctx, void *obj, int64_t excess)
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

/* The collecting thread waits for the collection and no other Python
 * thread runs: an explicit gc.collect() in a program that runs no thread of
 * the threading module (interp->threads.count counts them while they run),
 * so the core may mark on every core.  Never on the collector thread: the
 * program runs beside it.  A thread that a C extension attached on its own
 * is not counted; it then shares the cores with the collection's workers.
 * A detached caller has no current thread state: no. */
static bool
gct_caller_runs_alone(void *ctx)
{
    (void)ctx;
    PyThreadState *ts = PyThreadState_GetUnchecked();
    return ts != NULL && ts != gct_thread.tstate &&
           _Py_atomic_load_ssize(&gct.interp->threads.count) == 0;
}

static const tc_embedder_ops gct_ops = {
    .attach_worker = gct_attach_worker,
    .trace = gct_trace,
    .refcount = gct_refcount,
    .collectable = gct_collectable,
    .for_each_thread_root = gct_thread_roots,
    .stop_world = gct_stop_world,
    .start_world = gct_start_world,
    .hold_all = gct_hold_all,
    .release = gct_release,
    .finalize = gct_finalize,
    .clear = gct_clear,
    .refcount_error = gct_refcount_error,
    .start_thread = gct_start_thread,
    .enter_blocking = gct_enter_blocking,
    .leave_blocking = gct_leave_blocking,
    .collect_automatically = gct_collect_automatically,
    .caller_runs_alone = gct_caller_runs_alone,
};

/* subtype_traverse is static in typeobject.c: read it off a new class. */
static void
gct_find_subtype_traverse(void)
{
    PyObject *cls = PyObject_CallFunction((PyObject *)&PyType_Type, "s()N", "_tricolor_probe",
                                          PyDict_New());
    if (cls == NULL) {
        PyErr_Clear();
        return;
    }
    gct.subtype_traverse = ((PyTypeObject *)cls)->tp_traverse;
    Py_DECREF(cls);
    gct_register_exception_types((PyTypeObject *)PyExc_BaseException, 0);
}

/* One concurrent collection; called by gc_collect_internal() with
 * gcstate->collecting held. */
static void
gct_collect(PyInterpreterState *interp, struct collection_state *state, int generation)
{
    if (gct.subtype_traverse == NULL) {
        gct_find_subtype_traverse();
    }
    GCState *gcstate = state->gcstate;
    /* The pacer's count: what this collection answers for (whether the
     * program is reclaiming is judged against it when it ends). */
    (void)gct_pace(gcstate, _Py_atomic_load_int_relaxed(&gcstate->generations[0].count),
                   _Py_atomic_load_ssize_relaxed(&gcstate->long_lived_total));
    if (generation + 1 < NUM_GENERATIONS) {
        _Py_atomic_add_int(&gcstate->generations[generation + 1].count, 1);
    }
    for (int i = 0; i <= generation; i++) {
        _Py_atomic_store_int(&gcstate->generations[i].count, 0);
    }
    gct_collection.state = state;
    assert(gct_collection.tstate == _PyThreadState_GET());
    gct_collection.attached = 1;
    gct_collection.stops = 0;
    gct_wrcb.n = 0;
    gct_collection.finalized = 0;
    gct_collection.legacy.n = 0;
    /* (The interpreter's finalization collects with stock's algorithm,
     * gc_collect_internal: this is never one of its collections.) */
    tc_stats st;
    sigset_t mask;
    gct_census_reset();
    gct_block_signals(&mask);
    int rc = tc_collector_collect(gct.collector, TC_MODE_CONCURRENT, &st);
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
    gct_attach();
    gct_collection.state = NULL;
    if (rc < 0) {
        Py_FatalError(tc_last_error());
    }
    handle_legacy_finalizers(state);
    gct_collection.legacy.n = 0;
    /* The world runs: allocating threads read it (gc_should_collect). */
    _Py_atomic_store_ssize_relaxed(&interp->gc.long_lived_total,
                                   (Py_ssize_t)(st.marked + st.candidates - st.garbage));
    gct_collection.last = st;
    memcpy(gct_census_last, gct_census, sizeof(gct_census));
    _Py_atomic_add_uint64(&gct_collection.collections, 1);  /* ends gct_throttle's wait */
}
