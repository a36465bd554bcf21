#ifndef Py_INTERNAL_SAFEPOINT_H
#define Py_INTERNAL_SAFEPOINT_H
#ifdef __cplusplus
extern "C" {
#endif

#ifndef Py_BUILD_CORE
#  error "this header requires Py_BUILD_CORE define"
#endif

// Safepoint polls (tricolor): see Include/cpython/pysafepoint.h.
//
// stop_the_world() raises _Py_safepoint_pending when it sets stw->requested
// and start_the_world() lowers it when it clears it, both under HEAD_LOCK, so
// the counter is non-zero exactly while some stop-the-world request is
// outstanding.  Polls read it relaxed: a poll that misses a fresh request
// parks at the next poll or bytecode boundary, as before.
static inline void
_PySafepoint_RequestBegin(void)
{
    _Py_atomic_add_int(&_Py_safepoint_pending, 1);
}

static inline void
_PySafepoint_RequestEnd(void)
{
    _Py_atomic_add_int(&_Py_safepoint_pending, -1);
}

// Read -X safepoint_stress[=N] and PYTHON_SAFEPOINT_STRESS=N (see
// Python/safepoint.c).  Called once, for the main interpreter, at startup.
// Returns -1 for a malformed value.
extern int _PySafepoint_InitStress(const PyConfig *config);

// Whether the calling thread is the stress mode's helper.  Its collections
// must dereference everything tp_traverse reports while the poller is
// parked, so they use the stw algorithm (Python/gc_free_threading.c).
extern int _PySafepoint_OnStressHelper(void);

#ifdef __cplusplus
}
#endif
#endif   // !Py_INTERNAL_SAFEPOINT_H
