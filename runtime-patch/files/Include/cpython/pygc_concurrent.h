// Concurrent traversal: how a C type lets the collector read its objects
// while the program runs (tricolor, free-threaded build).
//
// The tricolor collector marks the heap with the world running.  It can read
// an object then only through code that is safe against every other thread
// mutating and freeing that object meanwhile, so it never calls tp_traverse
// outside a stop-the-world pause.  An object of a type without such code is
// *opaque*: what it references cannot be marked concurrently and is checked
// in the pause instead, so a heap made of opaque objects gets long pauses.
// The interpreter's own common types are readable; an extension type opts in
// by registering a concurrent traverse function:
//
//     static int
//     pair_concurrent_traverse(PyObject *self, visitproc visit, void *arg)
//     {
//         PairObject *p = (PairObject *)self;
//         visit(PyUnstable_GC_LOAD(p->first), arg);
//         visit(PyUnstable_GC_LOAD(p->second), arg);
//         return 1;
//     }
//     ...
//     // after PyType_FromModuleAndSpec() (or PyType_Ready()):
//     if (PyUnstable_Type_SetConcurrentTraverse(type,
//                                               pair_concurrent_traverse) < 0) {
//         return -1;
//     }
//
// The rule.  The function runs on a collector thread that has no thread
// state, at any time, while any thread may be mutating or freeing `self` and
// everything it points to.  `self` is a validated object start in the
// object heap and may be read up to the type's tp_basicsize.  The function
//
//  * only loads, never stores, and loads every field with
//    PyUnstable_GC_LOAD() or another relaxed atomic load (_Py_atomic_load_*);
//  * dereferences no pointer it loaded from the object, except a buffer the
//    object owns after PyUnstable_GC_ReadableBytes() returned at least the
//    number of bytes it reads there; it bounds every index by that, never by
//    a size it loaded alone (a size and its buffer may be from different
//    moments);
//  * passes object pointers to `visit` and does nothing else with them: no
//    Py_INCREF, no Py_TYPE(), no call (the collector validates each pointer
//    before reading it);
//  * calls nothing but `visit`, the PyUnstable_GC_* functions below, and
//    PyUnstable_Object_ConcurrentTraverseAs(); in particular it allocates
//    nothing, takes no lock and raises no exception;
//  * returns 1 when it has visited what it could read, or 0 to give up (the
//    object is then opaque for this collection).
//
// What it must visit.  Exactly the references tp_traverse visits (the type
// aside, below), whenever the object is not being mutated.  Garbage is never
// mutated, so on garbage the two must agree: the collector counts, with the
// world running, how many references each candidate gets from the others,
// and a reference the function skips makes its referent look referenced from
// outside -- a garbage cycle through the type is then never collected.  If
// some references cannot be read safely, return 0: the object is opaque, and
// opaque objects are handled exactly in the pause.
//
// What it may get wrong.  A value read in the middle of a mutation may be
// stale or torn: visiting a pointer that is no longer a reference only keeps
// an object one collection longer, and missing one only makes its referent a
// candidate, checked with the world stopped, with exact reference counts and
// tp_traverse.  So a live object is never freed because of this function;
// its memory safety is what the collector relies on, its agreement with
// tp_traverse on garbage is what lets cycles through the type be collected,
// and its precision on live objects is what buys short pauses.
//
// The collector visits the object's type and its managed __dict__ (or inline
// values, Py_TPFLAGS_MANAGED_DICT / Py_TPFLAGS_INLINE_VALUES) itself; the
// function visits the type's own fields.  The registration holds for exactly
// `type`, not its subclasses, and ends when the type is deallocated.  The
// function pointer is kept by the collector, not read from the type object,
// so a type dying while its objects are being read is never a call through
// freed memory; the module that defines the function must stay loaded,
// which CPython guarantees (it never unloads extension modules).
//
// These are no-ops outside the tricolor collector's concurrent mode (and
// registering is always allowed: the stw mode simply never calls it).

#ifndef Py_CPYTHON_PYGC_CONCURRENT_H
#define Py_CPYTHON_PYGC_CONCURRENT_H
#ifndef Py_LIMITED_API
#ifdef __cplusplus
extern "C" {
#endif

typedef int (*PyUnstable_ConcurrentTraverseFunc)(PyObject *self,
                                                 visitproc visit, void *arg);

// Registers func for objects of exactly `type` (a GC type).  Returns 0, or
// -1 with an exception set on misuse (NULL arguments, a type without
// Py_TPFLAGS_HAVE_GC).  When the collector's table of registrations is full
// it returns 0 and the type stays opaque (slower pauses, nothing else).
PyAPI_FUNC(int) PyUnstable_Type_SetConcurrentTraverse(
    PyTypeObject *type, PyUnstable_ConcurrentTraverseFunc func);

// How many bytes from p on may be loaded (0 if none): p must be a pointer the
// function loaded from its object (a buffer the object owns).
PyAPI_FUNC(size_t) PyUnstable_GC_ReadableBytes(const void *p);

// From inside a concurrent traverse function of a subtype: reads the part of
// `self` that `base` owns (dict, list, set, tuple, or a registered type),
// with the same visit and arg.  Returns 1, or 0 if that part cannot be read.
PyAPI_FUNC(int) PyUnstable_Object_ConcurrentTraverseAs(
    PyObject *self, PyTypeObject *base, visitproc visit, void *arg);

#define PyUnstable_GC_LOAD(field) \
    ((__typeof__(field))_Py_atomic_load_ptr_relaxed((void *)&(field)))
#define PyUnstable_GC_LOAD_SSIZE(field) \
    _Py_atomic_load_ssize_relaxed(&(field))

#ifdef __cplusplus
}
#endif
#endif  // !Py_LIMITED_API
#endif  // !Py_CPYTHON_PYGC_CONCURRENT_H
