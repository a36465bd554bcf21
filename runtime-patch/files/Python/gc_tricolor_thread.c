/* Python/gc_tricolor_thread.c -- the collector thread and the pacing, as
 * the core's embedder hooks (part of the binding, #included by
 * gc_tricolor.c).  The thread's loop, the trigger and the assist are the
 * core's (gc/collector.cc, gc/pacer.h); the binding gives them a CPython
 * thread and CPython's counts.
 *
 * Pacing, in objects as stock counts them: gc_should_collect asks the
 * core's pacer (gct_pace) whether the objects allocated since the last
 * collection (generations[0].count) exceed a quarter of the live ones
 * (long_lived_total: stock's trigger), or an eighth while the program makes
 * cyclic garbage (the last collection found at least a quarter of what was
 * allocated before it garbage).  Then a due collection is an assist: the
 * allocating thread waits for it (record_allocation schedules it even while
 * a collection runs), so floating garbage stays within about two triggers'
 * worth; a program that makes none never waits.  Stock's threshold
 * (generations[0].threshold, gc.set_threshold) is checked first, as stock
 * does.  With automatic collection off, a thread that allocates past
 * the trigger while a collection runs waits for it instead (gct_throttle).
 *
 * In concurrent mode automatic collections run on a thread of their own,
 * with a thread state of the main interpreter (so finalizers of automatic
 * collections run there, as PEP 556 proposed):
 *   1. _Py_RunGC (an allocation found a collection due) calls
 *      gct_request_collection() -> tc_collector_request_collection(); the
 *      core starts the thread the first time through gct_start_thread(),
 *      wakes it, and in an assist waits for it, between gct_enter_blocking()
 *      and gct_leave_blocking() (the thread state detached); if no thread
 *      could be started, the caller collects itself, as stock does.
 *   2. The core's loop runs on gct_thread_main()'s thread state, attached
 *      except while it waits (gct_enter_blocking), and collects through
 *      gct_collect_automatically(): gc_collect_main(), which takes
 *      gcstate->collecting (gct_collect does the rest).
 *   3. Py_FinalizeEx, after the threading module's threads, stops it
 *      (_PyGC_TricolorStopThread: tc_collector_shutdown, then join).
 * The child of fork() has no collector thread (_PyGC_TricolorAfterForkChild).
 * The thread state goes to the tail of the interpreter's list, and
 * faulthandler leaves the thread out of its dumps while it runs no Python
 * code.
 *
 * Concurrency of gct_thread's fields (struct gct_collector_thread,
 * pycore_gc_tricolor_binding.h): written by gct_start_thread, which the
 * core calls once, under its lock, before the thread starts (so the thread
 * reads them after they are written), and cleared by
 * _PyGC_TricolorStopThread after the join and by
 * _PyGC_TricolorAfterForkChild (one thread).  tstate is read without
 * synchronisation by _PyGC_TricolorHideFromDump and gct_caller_runs_alone,
 * where a stale answer is harmless (the collector thread itself reads the
 * value written before it started).  The core takes its own lock only
 * between gct_enter_blocking() and gct_leave_blocking(), detached: a
 * thread blocked on it while attached would never park, and one that re-attached while holding it
 * would wait for a stop-the-world pause to end while holding it --
 * together, a deadlock (stress/python/repro_assist_deadlock.py found it).
 */

static struct gct_collector_thread gct_thread;

/* The core's pacer, for gc_should_collect and record_allocation: TC_PACE_*
 * for `count` objects allocated since the last collection and `live` alive
 * after it; stock's answer (a quarter of the live) where the concurrent
 * mode does not run (-X gc=stw, subinterpreters). */
static int
gct_pace(GCState *gcstate, int count, Py_ssize_t live)
{
    if (gct.mode != GCT_CONCURRENT || gct.interp == NULL || gcstate != &gct.interp->gc) {
        return count > live / 4 ? TC_PACE_COLLECT : TC_PACE_NONE;
    }
    return tc_collector_pace(gct.collector, count > 0 ? (size_t)count : 0,
                             live > 0 ? (size_t)live : 0);
}

/* Whether an allocating thread should wait for the collection that is due. */
static int
gct_assist(GCState *gcstate)
{
    return gct_pace(gcstate, _Py_atomic_load_int_relaxed(&gcstate->generations[0].count),
                    _Py_atomic_load_ssize_relaxed(&gcstate->long_lived_total)) == TC_PACE_ASSIST;
}

static void
gct_thread_main(void *arg)
{
    PyThreadState *ts = gct_thread.tstate;
    _PyThreadState_Bind(ts);
    PyEval_AcquireThread(ts);
    gct_thread.body(gct_thread.arg);  /* the core's loop, until shutdown */
    PyThreadState_Clear(ts);
    _PyThreadState_DeleteCurrent(ts);
}

/* A new thread state is the head of its interpreter's list.  Tools that
 * take the head for the program's newest thread (faulthandler lists from
 * the head; out-of-process stack readers such as _testexternalinspection
 * read only the head) should find the program's threads first, so the
 * collector's goes to the tail. */
static void
gct_move_to_tail(PyThreadState *ts)
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
           (!gct_active(tstate->interp) ||
            _Py_atomic_load_ptr_relaxed(&gct_collection.tstate) == tstate);
}

int
_PyGC_TricolorHideFromDump(PyThreadState *tstate)
{
    return tstate == gct_thread.tstate && tstate->current_frame == NULL;
}

/* tc_embedder_ops.start_thread: the collector thread, with a thread state
 * of the main interpreter.  Called by the core, detached, once. */
static bool
gct_start_thread(void *ctx, void (*body)(void *), void *arg)
{
    (void)ctx;
    PyInterpreterState *interp = gct.interp;
    /* Not a user thread: it must not immortalize the objects that use
     * deferred refcounting (gh-117783 does that when the first non-main
     * thread state appears), or module-level functions and classes in
     * garbage cycles would never be freed. */
    _Py_atomic_add_int(&interp->gc.immortalize, -2);
    PyThreadState *ts = _PyThreadState_New(interp, _PyThreadState_WHENCE_THREADING);
    _Py_atomic_add_int(&interp->gc.immortalize, 2);
    if (ts == NULL) {
        return false;
    }
    gct_move_to_tail(ts);
    gct_thread.tstate = ts;
    gct_thread.body = body;
    gct_thread.arg = arg;
    PyThread_ident_t ident;
    sigset_t mask;
    gct_block_signals(&mask);  /* inherited by the new thread */
    int err = PyThread_start_joinable_thread(gct_thread_main, NULL, &ident, &gct_thread.handle);
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
    if (err != 0) {
        gct_thread.tstate = NULL;
        PyThreadState_Clear(ts);
        PyThreadState_Delete(ts);
        return false;
    }
    return true;
}

/* tc_embedder_ops.enter_blocking/leave_blocking: the core is about to wait
 * (its thread between collections, an assist, shutdown): detach. */
static void *
gct_enter_blocking(void *ctx)
{
    (void)ctx;
    return _PyThreadState_GET() != NULL ? (void *)PyEval_SaveThread() : NULL;
}

static void
gct_leave_blocking(void *ctx, void *token)
{
    (void)ctx;
    if (token != NULL) {
        PyEval_RestoreThread((PyThreadState *)token);
    }
}

/* tc_embedder_ops.collect_automatically: on the collector thread (or on
 * the requesting thread when there is none), attached. */
static void
gct_collect_automatically(void *ctx, tc_collector *c)
{
    (void)ctx;
    (void)c;  /* gct_collect calls it, inside gc_collect_main */
    if (PyGC_IsEnabled()) {
        gc_collect_main(_PyThreadState_GET(), 0, _Py_GC_REASON_HEAP);
    }
}

/* _Py_RunGC: an automatic collection is due. */
static void
gct_request_collection(PyThreadState *tstate)
{
    if (tc_collector_request_collection(gct.collector, gct_assist(&tstate->interp->gc)) < 0) {
        Py_FatalError(tc_last_error());
    }
}

/* The throttle.  With automatic collection off (gc.disable()) there is no
 * assist, and an explicit gc.collect() runs beside the other threads
 * instead of stopping them as stock's does: a thread that makes cyclic
 * garbage all the while makes it faster than the collection frees it (what
 * it allocates during a collection survives that collection), each
 * gc.collect() then meets more, and memory grows without bound
 * (papers/results/point5_checks.md: a thread making garbage cycles beside
 * gc.collect() in a loop for 3 s reached a 402 MiB peak RSS, each collect
 * freeing more than the last, where stock stayed at 13 MiB).  So while a collection runs, a thread other than the
 * collecting one that has allocated more than the pacer's trigger since it
 * began (generations[0].count, reset when it began, against the live count
 * after the last one) waits for it to end -- still far less than stock,
 * which stops every thread for all of it.  The wait is detached and
 * bounded (GCT_THROTTLE_MAX_NS, then the thread allocates another batch and
 * may wait again): a finalizer of the collection that needs a lock the
 * waiting thread holds delays the collection, never deadlocks it. */
#define GCT_THROTTLE_MAX_NS (100 * 1000 * 1000)

/* record_allocation(): whether tstate should wait in gct_throttle(). */
static int
gct_throttle_due(PyThreadState *tstate)
{
    GCState *gcstate = &tstate->interp->gc;
    return gct_active(tstate->interp) && !gcstate->enabled &&
           _Py_atomic_load_int_relaxed(&gcstate->collecting) &&
           tstate != _Py_atomic_load_ptr_relaxed(&gct_collection.tstate) &&
           tstate != gct_thread.tstate &&
           gct_pace(gcstate, _Py_atomic_load_int_relaxed(&gcstate->generations[0].count),
                    _Py_atomic_load_ssize_relaxed(&gcstate->long_lived_total)) != TC_PACE_NONE;
}

/* _Py_RunGC with automatic collection off: wait as gct_throttle_due says. */
static void
gct_throttle(PyThreadState *tstate)
{
    if (!gct_throttle_due(tstate)) {
        return;
    }
    uint64_t seen = _Py_atomic_load_uint64_relaxed(&gct_collection.collections);
    Py_BEGIN_ALLOW_THREADS
    struct timespec pause = {0, 200 * 1000};
    for (long waited = 0; waited < GCT_THROTTLE_MAX_NS; waited += pause.tv_nsec) {
        if (!_Py_atomic_load_int_relaxed(&tstate->interp->gc.collecting) ||
            _Py_atomic_load_uint64_relaxed(&gct_collection.collections) != seen) {
            break;
        }
        nanosleep(&pause, NULL);
    }
    Py_END_ALLOW_THREADS
}

/* Py_FinalizeEx, after the threading module's threads have finished. */
void
_PyGC_TricolorStopThread(PyInterpreterState *interp)
{
    if (!gct_active(interp)) {
        return;
    }
    tc_collector_shutdown(gct.collector);  /* detached while it waits */
    if (gct_thread.tstate != NULL) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_join_thread(gct_thread.handle);
        Py_END_ALLOW_THREADS
        gct_thread.tstate = NULL;
    }
}

/* os.fork()'s warning about threads (Modules/posixmodule.c): the
 * collector's own threads, which run no Python code -- the marker threads
 * that ever worked for it and the collector thread while it runs. */
int
_PyGC_TricolorOwnThreads(void)
{
    return _Py_atomic_load_int_relaxed(&gct_workers) +
           (gct.mode == GCT_CONCURRENT && tc_collector_background_running(gct.collector));
}
