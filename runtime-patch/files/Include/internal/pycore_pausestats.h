#ifndef Py_INTERNAL_PAUSESTATS_H
#define Py_INTERNAL_PAUSESTATS_H
#ifdef __cplusplus
extern "C" {
#endif

#ifndef Py_BUILD_CORE
#  error "this header requires Py_BUILD_CORE define"
#endif

// Stop-the-world pause statistics (tricolor).
//
// Every stop-the-world pause is recorded with three times, taken by the
// requesting thread:
//
//     requested  stw->requested was set; other threads are being asked to park
//     stopped    every other thread parked (stw->world_stopped set)
//     restarted  the other threads were released
//
// wait_ns = stopped - requested is the time-to-safepoint; pause_ns =
// restarted - stopped is the pause proper.  The reason is the name of the C
// function that requested the pause.  The records are process-wide: pauses of
// every interpreter, global (fork, finalization) pauses included.

// Called by start_the_world() with stw->mutex held, before it is released.
extern void _PyPauseStats_Record(const char *reason, PyTime_t requested,
                                 PyTime_t stopped, PyTime_t restarted);

// gc.get_pause_stats() and gc.reset_pause_stats().
extern PyObject *_PyPauseStats_AsDict(void);
extern void _PyPauseStats_Reset(void);

#ifdef __cplusplus
}
#endif
#endif   // !Py_INTERNAL_PAUSESTATS_H
