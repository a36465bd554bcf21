// Test extension for PyUnstable_Safepoint(), built against the tricolor fork.
//
// Each function runs a long C loop without detaching, as a long native call
// in an extension would.  The Python tests run it in one thread and request a
// stop-the-world pause (gc.collect()) from another.
#include <Python.h>
#include <time.h>

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Loop for `seconds`; return the longest gap between two iterations.  With
// poll true, every iteration calls PyUnstable_Safepoint(); a gap much longer
// than an iteration means the thread was parked there.
static double
spin_loop(double seconds, int poll)
{
    double start = now_s(), last = start, gap = 0;
    for (;;) {
        if (poll) {
            PyUnstable_Safepoint();   // nothing but C locals is in use
        }
        double t = now_s();
        if (t - last > gap) {
            gap = t - last;
        }
        last = t;
        if (t - start >= seconds) {
            break;
        }
    }
    return gap;
}

// spin(seconds, poll) -> longest gap between two loop iterations (s).
static PyObject *
spin(PyObject *self, PyObject *args)
{
    double seconds;
    int poll;
    if (!PyArg_ParseTuple(args, "dp", &seconds, &poll)) {
        return NULL;
    }
    return PyFloat_FromDouble(spin_loop(seconds, poll));
}

// spin_locked(obj, seconds) -> longest gap, like spin(seconds, True), with
// obj's critical section held for the whole loop.  A poll keeps it held.
static PyObject *
spin_locked(PyObject *self, PyObject *args)
{
    PyObject *obj;
    double seconds;
    if (!PyArg_ParseTuple(args, "Od", &obj, &seconds)) {
        return NULL;
    }
    double gap;
    Py_BEGIN_CRITICAL_SECTION(obj);
    gap = spin_loop(seconds, 1);
    Py_END_CRITICAL_SECTION();
    return PyFloat_FromDouble(gap);
}

// poll_detached(seconds): misuse, calls the poll after detaching.  The poll
// reports a fatal error as soon as a pause is pending while it runs.
static PyObject *
poll_detached(PyObject *self, PyObject *args)
{
    double seconds;
    if (!PyArg_ParseTuple(args, "d", &seconds)) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    double start = now_s();
    while (now_s() - start < seconds) {
        PyUnstable_Safepoint();
    }
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

// A GC type whose traverse visits `ref`, used to place a poll where the heap
// is not consistent.
typedef struct {
    PyObject_HEAD
    PyObject *ref;
} HalfBuilt;

static PyTypeObject *half_built_type;   // set once by the module's exec slot

static int
half_built_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(((HalfBuilt *)self)->ref);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static void
half_built_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    Py_XDECREF(((HalfBuilt *)self)->ref);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyType_Slot half_built_slots[] = {
    {Py_tp_traverse, half_built_traverse},
    {Py_tp_dealloc, half_built_dealloc},
    {0, NULL},
};

static PyType_Spec half_built_spec = {
    "_safepoint_test.HalfBuilt", sizeof(HalfBuilt), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, half_built_slots,
};

// misplaced_poll(): the bug the stress mode exists to catch.  The object is
// tracked before its field is initialized, and a poll sits in between; a
// collection at that poll traverses a garbage pointer.
static PyObject *
misplaced_poll(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    HalfBuilt *obj = PyObject_GC_New(HalfBuilt, half_built_type);
    if (obj == NULL) {
        return NULL;
    }
    obj->ref = (PyObject *)(uintptr_t)0x10;   // not initialized yet
    PyObject_GC_Track(obj);
    for (int i = 0; i < 16; i++) {
        PyUnstable_Safepoint();               // wrong: obj is half-built
    }
    obj->ref = Py_NewRef(Py_None);
    return (PyObject *)obj;
}

static int
module_exec(PyObject *module)
{
    half_built_type = (PyTypeObject *)PyType_FromSpec(&half_built_spec);
    return half_built_type == NULL ? -1 : 0;
}

static PyMethodDef methods[] = {
    {"spin", spin, METH_VARARGS, "spin(seconds, poll) -> longest gap (s)"},
    {"spin_locked", spin_locked, METH_VARARGS,
     "spin_locked(obj, seconds) -> longest gap (s), obj locked throughout"},
    {"poll_detached", poll_detached, METH_VARARGS,
     "poll_detached(seconds): poll without an attached thread state"},
    {"misplaced_poll", misplaced_poll, METH_NOARGS,
     "misplaced_poll(): poll while a tracked object is half-built"},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, module_exec},
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
    {0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_safepoint_test", NULL, 0, methods, slots,
};

PyMODINIT_FUNC
PyInit__safepoint_test(void)
{
    return PyModuleDef_Init(&module);
}
