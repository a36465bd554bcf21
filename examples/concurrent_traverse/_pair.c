/* _pair: an extension type that lets the tricolor collector read it while
 * the program runs (Include/cpython/pygc_concurrent.h in the fork).
 *
 * An object the collector cannot read concurrently is *opaque*: everything
 * it references is checked in a stop-the-world pause, so a heap of 100 k
 * opaque objects costs a pause of tens of milliseconds.  A type opts out of
 * that by registering a concurrent traverse function next to its
 * tp_traverse.  The function below obeys the rule the header states: it
 * only loads fields of its own object with PyUnstable_GC_LOAD, dereferences
 * nothing it loaded, and calls nothing but `visit`.
 *
 * Build it against the fork (tests/runtime/build_ext.py does):
 *     cc $(python3.13t-config --cflags) -shared -fPIC _pair.c -o _pair$EXT
 * Use it:
 *     import _pair
 *     p = _pair.Pair(a, b)            # p.first, p.second, settable
 *     _pair.registered                # whether registration succeeded
 *     _pair.register_misuse(kind)     # exercises the API's error paths
 *     _pair.new_registered_type()     # a fresh Pair type, registered
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

typedef struct {
    PyObject_HEAD
    PyObject *first;
    PyObject *second;
} PairObject;

static int
pair_traverse(PyObject *self, visitproc visit, void *arg)
{
    PairObject *p = (PairObject *)self;
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(p->first);
    Py_VISIT(p->second);
    return 0;
}

/* The same references, read with the world running: relaxed loads, no
 * Py_VISIT (it returns on a non-zero result, which `visit` never gives here,
 * but the rule is simpler without it).  The collector visits the type. */
static int
pair_concurrent_traverse(PyObject *self, visitproc visit, void *arg)
{
    PairObject *p = (PairObject *)self;
    visit(PyUnstable_GC_LOAD(p->first), arg);
    visit(PyUnstable_GC_LOAD(p->second), arg);
    return 1;
}

static int
pair_clear(PyObject *self)
{
    PairObject *p = (PairObject *)self;
    Py_CLEAR(p->first);
    Py_CLEAR(p->second);
    return 0;
}

static void
pair_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    (void)pair_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static int
pair_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    PyObject *a = Py_None, *b = Py_None;
    if (!PyArg_ParseTuple(args, "|OO", &a, &b)) {
        return -1;
    }
    PairObject *p = (PairObject *)self;
    Py_XSETREF(p->first, Py_NewRef(a));
    Py_XSETREF(p->second, Py_NewRef(b));
    return 0;
}

/* Setters store with a critical section, as free-threaded types do; the
 * concurrent traverse function needs no lock either way. */
static PyObject *
pair_get(PyObject *self, void *which)
{
    PairObject *p = (PairObject *)self;
    PyObject *v;
    Py_BEGIN_CRITICAL_SECTION(self);
    v = Py_NewRef(which ? p->second : p->first);
    Py_END_CRITICAL_SECTION();
    return v;
}

static int
pair_set(PyObject *self, PyObject *value, void *which)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete a Pair field");
        return -1;
    }
    PairObject *p = (PairObject *)self;
    Py_BEGIN_CRITICAL_SECTION(self);
    Py_XSETREF(*(which ? &p->second : &p->first), Py_NewRef(value));
    Py_END_CRITICAL_SECTION();
    return 0;
}

static PyGetSetDef pair_getset[] = {
    {"first", pair_get, pair_set, NULL, NULL},
    {"second", pair_get, pair_set, NULL, (void *)1},
    {NULL},
};

static PyType_Slot pair_slots[] = {
    {Py_tp_traverse, pair_traverse},
    {Py_tp_clear, pair_clear},
    {Py_tp_dealloc, pair_dealloc},
    {Py_tp_init, pair_init},
    {Py_tp_getset, pair_getset},
    {0, NULL},
};

static PyType_Spec pair_spec = {
    .name = "_pair.Pair",
    .basicsize = sizeof(PairObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .slots = pair_slots,
};

/* A type without Py_TPFLAGS_HAVE_GC, for register_misuse("nogc"). */
static PyType_Slot plain_slots[] = {{0, NULL}};
static PyType_Spec plain_spec = {
    .name = "_pair.Plain",
    .basicsize = sizeof(PyObject),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = plain_slots,
};

/* register_misuse(kind): calls the API wrongly; it must raise, not crash. */
static PyObject *
register_misuse(PyObject *module, PyObject *kind)
{
    int rc;
    if (PyUnicode_CompareWithASCIIString(kind, "null-type") == 0) {
        rc = PyUnstable_Type_SetConcurrentTraverse(NULL, pair_concurrent_traverse);
    }
    else if (PyUnicode_CompareWithASCIIString(kind, "null-func") == 0) {
        PyObject *t = PyObject_GetAttrString(module, "Pair");
        if (t == NULL) {
            return NULL;
        }
        rc = PyUnstable_Type_SetConcurrentTraverse((PyTypeObject *)t, NULL);
        Py_DECREF(t);
    }
    else {
        PyObject *t = PyType_FromModuleAndSpec(module, &plain_spec, NULL);
        if (t == NULL) {
            return NULL;
        }
        rc = PyUnstable_Type_SetConcurrentTraverse((PyTypeObject *)t,
                                                   pair_concurrent_traverse);
        Py_DECREF(t);
    }
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* new_registered_type(): another type from the same spec, registered; the
 * test makes and drops many to check that a dead type's registration goes. */
static PyObject *
new_registered_type(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    PyObject *t = PyType_FromModuleAndSpec(module, &pair_spec, NULL);
    if (t != NULL &&
        PyUnstable_Type_SetConcurrentTraverse((PyTypeObject *)t,
                                              pair_concurrent_traverse) < 0) {
        Py_CLEAR(t);
    }
    return t;
}

static int
pair_exec(PyObject *module)
{
    PyObject *t = PyType_FromModuleAndSpec(module, &pair_spec, NULL);
    if (t == NULL) {
        return -1;
    }
    if (PyUnstable_Type_SetConcurrentTraverse((PyTypeObject *)t,
                                              pair_concurrent_traverse) < 0 ||
        PyModule_AddObjectRef(module, "registered", Py_True) < 0 ||
        PyModule_AddType(module, (PyTypeObject *)t) < 0) {
        Py_DECREF(t);
        return -1;
    }
    Py_DECREF(t);
    return 0;
}

static PyMethodDef pair_methods[] = {
    {"register_misuse", register_misuse, METH_O, NULL},
    {"new_registered_type", new_registered_type, METH_NOARGS, NULL},
    {NULL},
};

static PyModuleDef_Slot pair_module_slots[] = {
    {Py_mod_exec, pair_exec},
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
    {0, NULL},
};

static struct PyModuleDef pair_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_pair",
    .m_methods = pair_methods,
    .m_slots = pair_module_slots,
};

PyMODINIT_FUNC
PyInit__pair(void)
{
    return PyModuleDef_Init(&pair_module);
}
