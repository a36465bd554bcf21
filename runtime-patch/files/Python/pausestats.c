// Stop-the-world pause statistics (tricolor): see pycore_pausestats.h.
//
// Concurrency: one PyMutex guards every field of `stats`.  Writers are the
// threads that restart the world (stw->mutex held, so at most one writer per
// stop-the-world state at a time, but a global and a per-interpreter pause can
// end concurrently); readers are gc.get_pause_stats() callers.  The mutex is
// taken with _Py_LOCK_DONT_DETACH: the writer is inside start_the_world() and
// must not detach there.

#include "Python.h"
#include "pycore_lock.h"          // PyMutex_LockFlags()
#include "pycore_pausestats.h"

// How many recent pauses gc.get_pause_stats() returns.  A power of two.
#define PAUSE_RING_SIZE 1024

struct pause_record {
    const char *reason;   // static string: the requesting C function's name
    PyTime_t stopped_at;  // when the world stopped (time.perf_counter_ns())
    PyTime_t wait_ns;
    PyTime_t pause_ns;
};

static struct {
    PyMutex mutex;
    uint64_t count;             // pauses recorded since start or reset
    PyTime_t total_pause_ns;
    PyTime_t max_pause_ns;
    PyTime_t max_wait_ns;
    // ring[(count - k) % PAUSE_RING_SIZE], 1 <= k <= min(count, size),
    // holds the k-th most recent pause.
    struct pause_record ring[PAUSE_RING_SIZE];
} stats;

void
_PyPauseStats_Record(const char *reason, PyTime_t requested,
                     PyTime_t stopped, PyTime_t restarted)
{
    PyTime_t wait = stopped - requested;
    PyTime_t pause = restarted - stopped;
    PyMutex_LockFlags(&stats.mutex, _Py_LOCK_DONT_DETACH);
    stats.ring[stats.count % PAUSE_RING_SIZE] =
        (struct pause_record){reason, stopped, wait, pause};
    stats.count++;
    stats.total_pause_ns += pause;
    if (pause > stats.max_pause_ns) {
        stats.max_pause_ns = pause;
    }
    if (wait > stats.max_wait_ns) {
        stats.max_wait_ns = wait;
    }
    PyMutex_Unlock(&stats.mutex);
}

void
_PyPauseStats_Reset(void)
{
    PyMutex_LockFlags(&stats.mutex, _Py_LOCK_DONT_DETACH);
    stats.count = 0;
    stats.total_pause_ns = 0;
    stats.max_pause_ns = 0;
    stats.max_wait_ns = 0;
    PyMutex_Unlock(&stats.mutex);
}

PyObject *
_PyPauseStats_AsDict(void)
{
    // Copy under the lock, build Python objects without it: allocating may
    // itself stop the world, which records a pause.
    struct pause_record *recent = PyMem_Malloc(sizeof(stats.ring));
    if (recent == NULL) {
        return PyErr_NoMemory();
    }
    PyMutex_LockFlags(&stats.mutex, _Py_LOCK_DONT_DETACH);
    uint64_t count = stats.count;
    PyTime_t total = stats.total_pause_ns;
    PyTime_t max_pause = stats.max_pause_ns;
    PyTime_t max_wait = stats.max_wait_ns;
    uint64_t n = count < PAUSE_RING_SIZE ? count : PAUSE_RING_SIZE;
    for (uint64_t k = 0; k < n; k++) {   // oldest first
        recent[k] = stats.ring[(count - n + k) % PAUSE_RING_SIZE];
    }
    PyMutex_Unlock(&stats.mutex);

    PyObject *pauses = PyList_New((Py_ssize_t)n);
    if (pauses == NULL) {
        PyMem_Free(recent);
        return NULL;
    }
    for (uint64_t k = 0; k < n; k++) {
        PyObject *rec = Py_BuildValue("{s:s,s:L,s:L,s:L}",
                                      "reason", recent[k].reason,
                                      "stopped_at_ns", (long long)recent[k].stopped_at,
                                      "wait_ns", (long long)recent[k].wait_ns,
                                      "pause_ns", (long long)recent[k].pause_ns);
        if (rec == NULL) {
            Py_DECREF(pauses);
            PyMem_Free(recent);
            return NULL;
        }
        PyList_SET_ITEM(pauses, (Py_ssize_t)k, rec);
    }
    PyMem_Free(recent);
    return Py_BuildValue("{s:K,s:L,s:L,s:L,s:N}",
                         "count", (unsigned long long)count,
                         "total_pause_ns", (long long)total,
                         "max_pause_ns", (long long)max_pause,
                         "max_wait_ns", (long long)max_wait,
                         "pauses", pauses);
}
