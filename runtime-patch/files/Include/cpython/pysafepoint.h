// Safepoint polls for long-running native code (tricolor).
//
// In the free-threaded build a stop-the-world pause (a garbage collection,
// a fork, a change of tracing hooks, ...) cannot begin until every attached
// thread has parked.  Python code parks at the next bytecode boundary; C code
// that runs for a long time without detaching holds every other thread
// hostage until it returns.  A long-running C loop calls
// PyUnstable_Safepoint() every few microseconds of work to park there
// instead.
//
// Cost: one relaxed load of a process-wide counter and a branch while no
// pause is pending.  Only when some thread has asked the world to stop does
// the poll call into the interpreter, park the thread until the pause is
// over, and return.
//
// When it is safe to call.  The calling thread must hold an attached thread
// state (the "GIL" in default-build terms), and while it is parked another
// thread may run a full garbage collection, so at the call:
//
//  * every object the caller created is fully initialized, or not yet
//    tracked by the GC (PyObject_GC_Track() comes after initialization);
//  * every object the caller will use after the call is kept alive by a
//    strong reference: its own, or that of a container the caller keeps
//    alive and has locked, or that no other thread can mutate.  A borrowed
//    reference into an unlocked, mutable container (a list item read without
//    a critical section) is not enough;
//  * no raw pointer read without a lock from memory that other threads may
//    free (a list's item array, a dict's keys) is held across the call:
//    parking is a quiescent state, so such memory may be reused meanwhile.
//
// Critical sections (Py_BEGIN_CRITICAL_SECTION) held by the caller stay held
// while it is parked, unlike a detach: objects the caller has locked are not
// mutated by other threads across the call.  Only the collector, with the
// world stopped, looks at them.  (For a process-wide pause, as os.fork()
// makes, a thread holding a critical section does not park at the poll; it
// parks at its next bytecode boundary as before.)
//
// A poll never raises and never runs Python code on the calling thread.  In a
// debug build a poll without an attached thread state is a fatal error; in a
// release build it is detected only while a pause is pending.
//
// The interpreter calls it in its own long C loops: big-int arithmetic and
// conversions, math.factorial/comb/prod/fsum, list.sort, sum/min/max/any/all,
// str.join and bytes.join, list/tuple/set construction from iterators,
// `in` on lists and tuples, and the re matching loops.
//
// Example, an extension function that hashes a large buffer:
//
//     for (Py_ssize_t i = 0; i < len; i += 4096) {
//         PyUnstable_Safepoint();       // buffer held by a Py_buffer we own
//         h = hash_block(h, buf + i, Py_MIN(4096, len - i));
//     }

#ifndef Py_CPYTHON_PYSAFEPOINT_H
#define Py_CPYTHON_PYSAFEPOINT_H
#ifndef Py_LIMITED_API
#ifdef __cplusplus
extern "C" {
#endif

// Non-zero while some thread asks the others to park.  Written only by the
// interpreter (atomic add, under its thread-list lock); read relaxed by polls.
PyAPI_DATA(int) _Py_safepoint_pending;

// The slow path: parks the calling thread if a pause is pending for it.
PyAPI_FUNC(void) _PyUnstable_SafepointSlow(void);

static inline void
PyUnstable_Safepoint(void)
{
#ifdef Py_DEBUG
    _PyUnstable_SafepointSlow();
#else
    if (_Py_atomic_load_int_relaxed(&_Py_safepoint_pending) != 0) {
        _PyUnstable_SafepointSlow();
    }
#endif
}

#ifdef __cplusplus
}
#endif
#endif  // !Py_LIMITED_API
#endif  // !Py_CPYTHON_PYSAFEPOINT_H
