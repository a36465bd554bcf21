/* Python/gc_tricolor_thread.c -- the collector thread (part of the
 * binding, #included by gc_tricolor.c).
 *
 * In concurrent mode automatic collections run on a thread of their own,
 * with a thread state of the main interpreter (so finalizers of automatic
 * collections run there, as PEP 556 proposed):
 *   1. _Py_RunGC (an allocation found a collection due, gc_tricolor_pacing.c)
 *      calls gct_request_collection(), which starts the thread the first
 *      time, sets trigger and signals cv; a thread that is far ahead
 *      (gct_behind) waits on done_cv for the collection to finish (the
 *      assist); if no thread could be started, it collects itself, as
 *      stock does.
 *   2. gct_thread_main waits for trigger, runs gc_collect_main() (which
 *      takes gcstate->collecting; gct_collect does the rest), counts it in
 *      done and broadcasts done_cv.
 *   3. Py_FinalizeEx, after the threading module's threads, stops it
 *      (_PyGC_TricolorStopThread: state 2, join, state 0).
 * The child of fork() has no collector thread (_PyGC_TricolorAfterForkChild).
 * The thread state goes to the tail of the interpreter's list, and
 * faulthandler leaves the thread out of its dumps while it runs no Python
 * code.
 *
 * Concurrency of gct_thread's fields (struct gct_collector_thread,
 * pycore_gc_tricolor_binding.h): mu guards them all (and cv and
 * done_cv wait on it).  mu is taken only by a detached thread
 * (Py_BEGIN_ALLOW_THREADS around every use): a thread blocked on it while
 * attached would never park, and one that re-attached while holding it
 * would wait for a stop-the-world pause to end while holding it --
 * together, a deadlock (stress/python/repro_assist_deadlock.py found it).
 * Read without mu, where a stale answer is harmless: state by
 * _PyGC_TricolorOwnThreads (the fork warning) and gc.get_tricolor_stats();
 * tstate (written under mu, before the thread it belongs to starts) by
 * gct_request_collection (is the caller the collector thread itself?) and
 * _PyGC_TricolorHideFromDump.
 */

static struct gct_collector_thread gct_thread = {
    .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
    .done_cv = PTHREAD_COND_INITIALIZER};

static void
gct_thread_main(void *arg)
{
    PyThreadState *ts = gct_thread.tstate;
    _PyThreadState_Bind(ts);
    PyEval_AcquireThread(ts);
    for (;;) {
        int stop;
        Py_BEGIN_ALLOW_THREADS
        pthread_mutex_lock(&gct_thread.mu);
        while (!gct_thread.trigger && gct_thread.state == 1) {
            pthread_cond_wait(&gct_thread.cv, &gct_thread.mu);
        }
        stop = gct_thread.state != 1;
        gct_thread.trigger = 0;
        pthread_mutex_unlock(&gct_thread.mu);
        Py_END_ALLOW_THREADS
        if (stop) {
            break;
        }
        if (PyGC_IsEnabled()) {
            gc_collect_main(ts, 0, _Py_GC_REASON_HEAP);
        }
        Py_BEGIN_ALLOW_THREADS
        pthread_mutex_lock(&gct_thread.mu);
        gct_thread.done++;
        pthread_cond_broadcast(&gct_thread.done_cv);
        pthread_mutex_unlock(&gct_thread.mu);
        Py_END_ALLOW_THREADS
    }
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

/* An automatic collection is due: wake the collector thread (start it the
 * first time); wait for it if allocation is far ahead (gct_behind). */
static void
gct_request_collection(PyThreadState *tstate)
{
    if (tstate == gct_thread.tstate) {
        return;  /* a finalizer of the collector thread's own collection */
    }
    const int behind = gct_behind(&tstate->interp->gc);
    int running;
    Py_BEGIN_ALLOW_THREADS  /* gct_thread.mu is only taken detached (see the top) */
    pthread_mutex_lock(&gct_thread.mu);
    if (gct_thread.state == 0) {
        /* Not a user thread: it must not immortalize the objects that
         * use deferred refcounting (gh-117783 does that when the first
         * non-main thread state appears), or module-level functions and
         * classes in garbage cycles would never be freed. */
        _Py_atomic_add_int(&tstate->interp->gc.immortalize, -2);
        gct_thread.tstate = _PyThreadState_New(tstate->interp, _PyThreadState_WHENCE_THREADING);
        _Py_atomic_add_int(&tstate->interp->gc.immortalize, 2);
        if (gct_thread.tstate != NULL) {
            gct_move_to_tail(gct_thread.tstate);
            PyThread_ident_t ident;
            sigset_t mask;
            gct_block_signals(&mask);  /* inherited by the new thread */
            int err = PyThread_start_joinable_thread(gct_thread_main, NULL, &ident,
                                                     &gct_thread.handle);
            pthread_sigmask(SIG_SETMASK, &mask, NULL);
            if (err == 0) {
                gct_thread.state = 1;
            }
            else {
                PyThreadState_Clear(gct_thread.tstate);
                PyThreadState_Delete(gct_thread.tstate);
                gct_thread.tstate = NULL;
            }
        }
    }
    gct_thread.trigger = 1;
    pthread_cond_signal(&gct_thread.cv);
    running = gct_thread.state == 1;
    if (running && behind) {
        uint64_t seen = gct_thread.done;
        while (gct_thread.done == seen && gct_thread.state == 1) {
            pthread_cond_wait(&gct_thread.done_cv, &gct_thread.mu);
        }
    }
    pthread_mutex_unlock(&gct_thread.mu);
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
    Py_BEGIN_ALLOW_THREADS  /* gct_thread.mu is only taken detached (see the top) */
    pthread_mutex_lock(&gct_thread.mu);
    running = gct_thread.state == 1 && interp == gct.interp;
    if (running) {
        gct_thread.state = 2;
        pthread_cond_signal(&gct_thread.cv);
    }
    pthread_mutex_unlock(&gct_thread.mu);
    if (running) {
        PyThread_join_thread(gct_thread.handle);
        pthread_mutex_lock(&gct_thread.mu);
        gct_thread.state = 0;
        pthread_mutex_unlock(&gct_thread.mu);
    }
    Py_END_ALLOW_THREADS
}

/* os.fork()'s warning about threads (Modules/posixmodule.c): the
 * collector's own threads, which run no Python code -- the marker threads
 * that ever worked for it and the collector thread while it runs. */
int
_PyGC_TricolorOwnThreads(void)
{
    return _Py_atomic_load_int_relaxed(&gct_workers) + (gct_thread.state == 1);
}
