// Safepoint polls for long-running native code (tricolor).
//
// Public contract: Include/cpython/pysafepoint.h.  The fast path is inline
// there; this file holds the slow path, taken only while a stop-the-world
// request is outstanding (_Py_safepoint_pending != 0).
//
// Parking.  The eval breaker parks a thread with _PyThreadState_Suspend()
// followed by _PyThreadState_Attach(), which also suspends the thread's
// critical sections (unlocks their mutexes) and resumes them afterwards.  A
// poll parks the same way but keeps its critical sections locked: the C loop
// around a poll may hold borrowed pointers into an object it has locked (the
// items of a list being joined), and those must stay valid.  Only the thread
// that stopped the world runs while we are parked, and stop-the-world code
// takes no per-object locks, so holding them cannot deadlock.  The one
// exception is a process-wide pause (os.fork(), finalization): the forked
// child must not inherit mutexes locked by threads that no longer exist, so
// a thread holding a critical section does not park for those at a poll.
//
// Stress mode (-X safepoint_stress[=N], PYTHON_SAFEPOINT_STRESS=N).  Its
// purpose is to show that every poll sits where the heap is consistent.  It
// keeps _Py_safepoint_pending raised so that every poll takes the slow path,
// and every N-th poll of a thread (default 1000) asks a helper thread to run
// a full collection (PyGC_Collect(): nothing while gc is disabled), then
// waits, attached, until that collection is over, parking right here for
// each pause it makes (at most STRESS_WAIT_MS: the helper may be blocked on a
// lock the poller holds).  The collection traverses the whole heap with the
// poller parked, and its finalizers then run on the helper thread, as they
// would on any other collecting thread.  Only the main interpreter is
// stressed.

#include "Python.h"
#include "pycore_ceval.h"         // _Py_eval_breaker_bit_is_set()
#include "pycore_pystate.h"       // _PyThreadState_GET()
#include "pycore_runtime.h"       // _PyRuntime
#include "pycore_safepoint.h"     // _PySafepoint_RequestBegin()

#include <pthread.h>              // stress helper handshake
#include <sched.h>                // sched_yield()

int _Py_safepoint_pending = 0;

#ifdef Py_GIL_DISABLED
// Park the attached thread tstate if a stop-the-world pause is pending for
// it, keeping its critical sections locked (see the top of this file).
static void
park_if_requested(PyThreadState *tstate)
{
    if (!_Py_eval_breaker_bit_is_set(tstate, _PY_EVAL_PLEASE_STOP_BIT)) {
        return;
    }
    uintptr_t critical_sections = tstate->critical_section;
    if (critical_sections != 0) {
        _PyRuntimeState *runtime = &_PyRuntime;
        HEAD_LOCK(runtime);
        int global = runtime->stoptheworld.requested;
        HEAD_UNLOCK(runtime);
        if (global) {
            return;   // park at the next bytecode boundary (see top)
        }
    }
    _Py_unset_eval_breaker_bit(tstate, _PY_EVAL_PLEASE_STOP_BIT);
    // Hide the critical sections from detach/attach so that they stay locked.
    tstate->critical_section = 0;
    _PyThreadState_Suspend(tstate);
    // Blocks until the stop-the-world pause is over.
    _PyThreadState_Attach(tstate);
    tstate->critical_section = critical_sections;
}
#endif

// Stress mode state.  stress_every is written once at startup, before any
// other thread exists, and read-only afterwards.  The request/served counters
// are guarded by stress_mutex; stress_served is also read relaxed by waiting
// pollers.  stress_helper_started is a once-flag (atomic CAS).
static int stress_every;
static int stress_helper_started;
static uint64_t stress_requested;
static uint64_t stress_served;
static pthread_mutex_t stress_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stress_cond = PTHREAD_COND_INITIALIZER;
static _Py_thread_local unsigned int stress_polls;  // polls on this thread
static _Py_thread_local int stress_is_helper;

int
_PySafepoint_OnStressHelper(void)
{
    return stress_is_helper;
}

// How long a stressed poll waits for the requested collection to reach it.
#define STRESS_WAIT_MS 250

static void
stress_after_fork_child(void)
{
    // The helper thread does not exist in the child: start a new one on
    // demand, with fresh synchronization objects.
    pthread_mutex_init(&stress_mutex, NULL);
    pthread_cond_init(&stress_cond, NULL);
    stress_requested = stress_served = 0;
    _Py_atomic_store_int(&stress_helper_started, 0);
}

static void
stress_helper(void *arg)
{
    PyInterpreterState *interp = (PyInterpreterState *)arg;
    PyThreadState *tstate = PyThreadState_New(interp);
    if (tstate == NULL) {
        return;
    }
    stress_is_helper = 1;
    PyEval_RestoreThread(tstate);
    for (;;) {
        uint64_t seq;
        Py_BEGIN_ALLOW_THREADS
        pthread_mutex_lock(&stress_mutex);
        while (stress_requested == stress_served) {
            pthread_cond_wait(&stress_cond, &stress_mutex);
        }
        seq = stress_requested;
        pthread_mutex_unlock(&stress_mutex);
        Py_END_ALLOW_THREADS
        (void)PyGC_Collect();
        pthread_mutex_lock(&stress_mutex);
        _Py_atomic_store_uint64_relaxed(&stress_served, seq);
        pthread_mutex_unlock(&stress_mutex);
    }
}

static void
stress_poll(PyThreadState *tstate)
{
    if (stress_is_helper || ++stress_polls % (unsigned int)stress_every != 0
        || !_Py_IsMainInterpreter(tstate->interp)
        || _PyInterpreterState_GetFinalizing(tstate->interp) != NULL)
    {
        return;
    }
    int expected = 0;
    if (_Py_atomic_compare_exchange_int(&stress_helper_started, &expected, 1)) {
        if (PyThread_start_new_thread(stress_helper, tstate->interp)
                == PYTHREAD_INVALID_THREAD_ID) {
            Py_FatalError("safepoint stress mode: cannot start its helper thread");
        }
    }
    pthread_mutex_lock(&stress_mutex);
    uint64_t seq = ++stress_requested;
    pthread_cond_signal(&stress_cond);
    pthread_mutex_unlock(&stress_mutex);

    // Wait until the whole collection is over, parking for each of its
    // pauses: a gc.collect() called right after the poll must not find this
    // collection still running (it would return at once, collecting nothing).
    PyTime_t now, deadline;
    (void)PyTime_PerfCounterRaw(&now);
    deadline = now + (PyTime_t)STRESS_WAIT_MS * 1000 * 1000;
    while (_Py_atomic_load_uint64_relaxed(&stress_served) < seq
           && now < deadline)
    {
        park_if_requested(tstate);
        sched_yield();
        (void)PyTime_PerfCounterRaw(&now);
    }
}

int
_PySafepoint_InitStress(const PyConfig *config)
{
    const wchar_t *value = NULL;
    int on = 0;
    for (Py_ssize_t i = 0; i < config->xoptions.length; i++) {
        const wchar_t *opt = config->xoptions.items[i];
        if (wcscmp(opt, L"safepoint_stress") == 0) {
            on = 1;
            value = NULL;
        }
        else if (wcsncmp(opt, L"safepoint_stress=", 17) == 0) {
            on = 1;
            value = opt + 17;
        }
    }
    const char *env = config->use_environment ?
                      Py_GETENV("PYTHON_SAFEPOINT_STRESS") : NULL;
    long every = 1000;
    if (value != NULL) {
        wchar_t *end;
        every = wcstol(value, &end, 10);
        if (*value == L'\0' || *end != L'\0' || every < 1) {
            return -1;
        }
    }
    else if (!on && env != NULL && env[0] != '\0') {
        char *end;
        every = strtol(env, &end, 10);
        if (*end != '\0' || every < 0) {
            return -1;
        }
        on = every > 0;   // PYTHON_SAFEPOINT_STRESS=0 turns it off
    }
    if (!on || stress_every != 0) {
        return 0;
    }
    stress_every = (int)Py_MIN(every, INT_MAX);
    pthread_atfork(NULL, NULL, stress_after_fork_child);
    // Keep every poll on the slow path for the life of the process.
    _PySafepoint_RequestBegin();
    return 0;
}

void
_PyUnstable_SafepointSlow(void)
{
    PyThreadState *tstate = _PyThreadState_GET();
    if (tstate == NULL) {
        Py_FatalError("PyUnstable_Safepoint() called without an attached "
                      "thread state: a poll is only valid between "
                      "attaching (PyGILState_Ensure, Py_END_ALLOW_THREADS) "
                      "and detaching");
    }
#ifdef Py_GIL_DISABLED
    if (stress_every != 0) {
        stress_poll(tstate);
    }
    park_if_requested(tstate);
#endif
}
