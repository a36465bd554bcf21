#ifndef Py_INTERNAL_GC_TRICOLOR_H
#define Py_INTERNAL_GC_TRICOLOR_H
#ifdef __cplusplus
extern "C" {
#endif

#ifndef Py_BUILD_CORE
#  error "this header requires Py_BUILD_CORE define"
#endif

/* The tricolor collector's hooks (Python/gc_tricolor.c and the
 * gc_tricolor_*.c files it includes, compiled as part of
 * gc_free_threading.c; free-threaded builds only). */
#ifdef Py_GIL_DISABLED
/* _PyGC_Init: reads -X gc / PYTHON_GC, starts the collector. */
extern void _PyGC_TricolorInit(PyInterpreterState *interp);
/* A GC object now starts at op (its memory came from a GC heap). */
extern void _PyGC_TricolorOnAlloc(PyObject *op);
/* A GC object whose memory is freed without PyObject_GC_Del (code objects). */
extern void _PyGC_TricolorOnFree(PyObject *op);
/* A weak reference with a callback to op was made (Objects/weakrefobject.c). */
extern void _PyGC_TricolorOnWeakCallback(PyObject *op);
/* Py_FinalizeEx: stop the collector thread before the runtime goes. */
extern void _PyGC_TricolorStopThread(PyInterpreterState *interp);
/* The child of fork() continues with the stock collector. */
extern void _PyGC_TricolorAfterForkChild(void);
/* OS threads the collector started (its thread and the marker threads):
 * os.fork() does not count them as the program's. */
extern int _PyGC_TricolorOwnThreads(void);
/* faulthandler's thread dump: whether tstate runs the collection in
 * progress ("Garbage-collecting"), and whether to leave tstate out (the
 * collector thread while it runs no Python code). */
extern int _PyGC_TricolorIsCollectingThread(PyThreadState *tstate);
extern int _PyGC_TricolorHideFromDump(PyThreadState *tstate);
/* gc.get_tricolor_stats(): the mode and the last collection's figures. */
extern PyObject *_PyGC_TricolorStats(PyInterpreterState *interp);
/* type_dealloc: a registered concurrent traverse function ends with its
 * type (Include/cpython/pygc_concurrent.h). */
extern void _PyGC_TricolorForgetType(PyTypeObject *type);
/* OrderedDict's concurrent traverse function (Objects/odictobject.c),
 * registered by _PyGC_TricolorInit. */
extern int _PyODict_ConcurrentTraverse(PyObject *self, visitproc visit, void *arg);
/* classmethod and staticmethod (Objects/funcobject.c), property
 * (Objects/descrobject.c): the same, registered by _PyGC_TricolorInit. */
extern int _PyClassMethod_ConcurrentTraverse(PyObject *self, visitproc visit, void *arg);
extern int _PyProperty_ConcurrentTraverse(PyObject *self, visitproc visit, void *arg);
/* types.GenericAlias (Objects/genericaliasobject.c), types.UnionType
 * (Objects/unionobject.c), types.SimpleNamespace (Objects/namespaceobject.c):
 * the same. */
extern int _PyGenericAlias_ConcurrentTraverse(PyObject *self, visitproc visit, void *arg);
extern int _PyUnion_ConcurrentTraverse(PyObject *self, visitproc visit, void *arg);
extern int _PyNamespace_ConcurrentTraverse(PyObject *self, visitproc visit, void *arg);
#endif

#ifdef __cplusplus
}
#endif
#endif /* !Py_INTERNAL_GC_TRICOLOR_H */
