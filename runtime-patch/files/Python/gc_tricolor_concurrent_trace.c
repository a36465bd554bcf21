/* Python/gc_tricolor_concurrent_trace.c -- the reads made with the world
 * running: the allowlist (part of the binding, #included by gc_tricolor.c).
 *
 * The core's trace(concurrent=true) lands in gct_trace_concurrent():
 * marker and filter threads (TBB workers, no thread state) read objects
 * while their owners mutate and free them (design brief §3;
 * papers/design.md §6.2).  That is memory-safe because
 *   - mimalloc never unmaps the memory of its arenas (freed pages are
 *     purged with MADV_DONTNEED: they read as zeros) -- so any pointer that
 *     mi_is_in_heap_region() accepts may be read, up to the end of its
 *     32 MiB segment unit (gct_readable);
 *   - every object pointer goes through the segment map before its header
 *     is read (the core's is_object/try_mark);
 *   - only the types of the allowlist below are read, each by code here
 *     that does plain loads, bounds every index by gct_readable, and calls
 *     no function pointer read from the heap.
 * A stale read can only mark an object that is in fact garbage (it then
 * floats to the next collection) or miss a reference (the object becomes a
 * candidate): neither affects soundness, which rests on the stopped-world
 * verification alone (tricolor/embedder.h).  An object of a type outside
 * the allowlist is opaque: gct_trace_concurrent() returns 0 and the core
 * verifies what it references in a pause.
 *
 * Concurrency: this file owns no field.  Every load of the heap here is
 * relaxed (GCT_LOAD and the _Py_atomic_load_*_relaxed helpers) and races
 * by design with the owners' plain stores; gct.subtype_traverse and
 * gct.map are written only before marker threads run (gc_tricolor.c).
 */

#define GCT_LOAD(p) _Py_atomic_load_ptr_relaxed((void *)&(p))

/* Bytes that may be read from p on: 0 unless p is in mimalloc's memory. */
static inline size_t
gct_readable(const void *p)
{
    if (p == NULL || ((uintptr_t)p & (sizeof(void *) - 1)) || !mi_is_in_heap_region(p)) {
        return 0;
    }
    return (((uintptr_t)p | (MI_SEGMENT_SIZE - 1)) + 1) - (uintptr_t)p;
}

static void
gct_visit_array(PyObject **items, Py_ssize_t n, tc_visitor *v)
{
    size_t room = gct_readable(items) / sizeof(PyObject *);
    if (n < 0) {
        return;
    }
    if ((size_t)n > room) {
        n = (Py_ssize_t)room;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        tc_visit(v, GCT_LOAD(items[i]));
    }
}

static void
gct_trace_dict(PyDictObject *mp, tc_visitor *v)
{
    PyDictKeysObject *keys = GCT_LOAD(mp->ma_keys);
    PyDictValues *values = GCT_LOAD(mp->ma_values);
    size_t room = gct_readable(keys);
    if (room < sizeof(PyDictKeysObject)) {
        return;
    }
    uint8_t kind = _Py_atomic_load_uint8_relaxed(&keys->dk_kind);
    uint8_t index_bytes = _Py_atomic_load_uint8_relaxed(&keys->dk_log2_index_bytes);
    Py_ssize_t n = _Py_atomic_load_ssize_relaxed(&keys->dk_nentries);
    if (index_bytes > 40 || ((size_t)1 << index_bytes) > room) {
        return;
    }
    char *entries = keys->dk_indices + ((size_t)1 << index_bytes);
    size_t left = room - (size_t)(entries - (char *)keys);
    if (values != NULL) {
        size_t vroom = gct_readable(values);
        if (vroom < sizeof(PyDictValues)) {
            return;
        }
        /* Values embedded in an instance belong to the instance's trace,
         * as in dict_traverse: visiting them here too would count each
         * reference twice. */
        if (!_Py_atomic_load_uint8_relaxed(&values->embedded)) {
            Py_ssize_t cap = _Py_atomic_load_uint8_relaxed(&values->capacity);
            gct_visit_array(values->values, n < cap ? n : cap, v);
        }
    }
    else if (kind != DICT_KEYS_GENERAL) {
        PyDictUnicodeEntry *e = (PyDictUnicodeEntry *)entries;
        Py_ssize_t max = (Py_ssize_t)(left / sizeof(*e));
        for (Py_ssize_t i = 0; i < n && i < max; i++) {
            tc_visit(v, GCT_LOAD(e[i].me_value));
        }
    }
    else {
        PyDictKeyEntry *e = (PyDictKeyEntry *)entries;
        Py_ssize_t max = (Py_ssize_t)(left / sizeof(*e));
        for (Py_ssize_t i = 0; i < n && i < max; i++) {
            tc_visit(v, GCT_LOAD(e[i].me_key));
            tc_visit(v, GCT_LOAD(e[i].me_value));
        }
    }
}

static void
gct_trace_list(PyListObject *op, tc_visitor *v)
{
    PyObject **items = GCT_LOAD(op->ob_item);
    if (gct_readable((char *)items - sizeof(Py_ssize_t)) < sizeof(Py_ssize_t)) {
        return;
    }
    Py_ssize_t allocated = _Py_atomic_load_ssize_relaxed(&((Py_ssize_t *)items)[-1]);
    Py_ssize_t n = _Py_atomic_load_ssize_relaxed(&op->ob_base.ob_size);
    gct_visit_array(items, n < allocated ? n : allocated, v);
}

static void
gct_trace_set(PySetObject *so, tc_visitor *v)
{
    setentry *table = GCT_LOAD(so->table);
    Py_ssize_t mask = _Py_atomic_load_ssize_relaxed(&so->mask);
    size_t max = gct_readable(table) / sizeof(setentry);
    for (Py_ssize_t i = 0; i <= mask && (size_t)i < max; i++) {
        tc_visit(v, GCT_LOAD(table[i].key));
    }
}

/* Whether the heap type tp (already known to be an object of the heap) is
 * a class statement's: its traversal is subtype_traverse. */
static int
gct_is_python_class(PyTypeObject *tp)
{
    unsigned long flags = _Py_atomic_load_ulong_relaxed(&tp->tp_flags);
    return (flags & Py_TPFLAGS_HEAPTYPE) && gct.subtype_traverse != NULL &&
           GCT_LOAD(tp->tp_traverse) == (void *)gct.subtype_traverse;
}

/* An instance of a class statement's class: slots along the chain of
 * Python classes, then the __dict__ (managed or inline values), then the
 * first base that is not a Python class, which must be object, list, dict
 * or tuple. */
static int
gct_trace_instance(PyObject *op, PyTypeObject *tp, tc_visitor *v)
{
    PyTypeObject *base = tp;
    for (int depth = 0; ; depth++) {
        if (depth > 64 || !gct_is_heap_object(base) || !gct_is_python_class(base)) {
            break;
        }
        Py_ssize_t nslots = _Py_atomic_load_ssize_relaxed(&((PyVarObject *)base)->ob_size);
        PyMemberDef *mp = (PyMemberDef *)((char *)base + _Py_atomic_load_ssize_relaxed(&Py_TYPE(base)->tp_basicsize));
        size_t room = gct_readable(mp) / sizeof(PyMemberDef);
        for (Py_ssize_t i = 0; i < nslots && (size_t)i < room; i++) {
            if (mp[i].type == Py_T_OBJECT_EX && mp[i].offset > 0 && mp[i].offset < 4096) {
                tc_visit(v, GCT_LOAD(*(PyObject **)((char *)op + mp[i].offset)));
            }
        }
        base = GCT_LOAD(base->tp_base);
    }
    if (base != &PyBaseObject_Type && base != &PyList_Type && base != &PyDict_Type) {
        return 0;
    }
    /* As PyObject_VisitManagedDict: the inline values while they are
     * valid, otherwise the dict (a dict made from valid inline values
     * shares them and does not visit them itself; visiting both would
     * count each reference twice -- a leak found by stress/fork). */
    unsigned long flags = _Py_atomic_load_ulong_relaxed(&tp->tp_flags);
    int values_valid = 0;
    if (flags & Py_TPFLAGS_INLINE_VALUES) {
        PyDictValues *values = (PyDictValues *)((char *)op + sizeof(PyObject));
        if (_Py_atomic_load_uint8_relaxed(&values->valid)) {
            gct_visit_array(values->values, _Py_atomic_load_uint8_relaxed(&values->capacity), v);
            values_valid = 1;
        }
    }
    if (flags & Py_TPFLAGS_MANAGED_DICT) {
        if (!values_valid) {
            tc_visit(v, GCT_LOAD(_PyObject_ManagedDictPointer(op)->dict));
        }
    }
    else {
        Py_ssize_t off = _Py_atomic_load_ssize_relaxed(&tp->tp_dictoffset);
        if (off > 0 && off < 4096) {
            tc_visit(v, GCT_LOAD(*(PyObject **)((char *)op + off)));
        }
    }
    tc_visit(v, tp);
    if (base == &PyList_Type) {
        gct_trace_list((PyListObject *)op, v);
    }
    else if (base == &PyDict_Type) {
        gct_trace_dict((PyDictObject *)op, v);
    }
    return 1;
}

/* The allowlist: types whose objects are read with the world running.
 * Everything else is opaque (the core then verifies what it references in
 * the pause, tricolor/embedder.h). */
static int
gct_trace_concurrent(PyObject *op, tc_visitor *v)
{
    PyTypeObject *tp = GCT_LOAD(op->ob_type);
    if (tp == &PyTuple_Type) {
        gct_visit_array(((PyTupleObject *)op)->ob_item,
                        _Py_atomic_load_ssize_relaxed(&((PyVarObject *)op)->ob_size), v);
    }
    else if (tp == &PyList_Type) {
        gct_trace_list((PyListObject *)op, v);
    }
    else if (tp == &PyDict_Type) {
        gct_trace_dict((PyDictObject *)op, v);
    }
    else if (tp == &PySet_Type || tp == &PyFrozenSet_Type) {
        gct_trace_set((PySetObject *)op, v);
    }
    else if (tp == &PyCell_Type) {
        tc_visit(v, GCT_LOAD(((PyCellObject *)op)->ob_ref));
    }
    else if (tp == &PyMethod_Type) {
        tc_visit(v, GCT_LOAD(((PyMethodObject *)op)->im_func));
        tc_visit(v, GCT_LOAD(((PyMethodObject *)op)->im_self));
    }
    else if (tp == &PyModule_Type) {
        tc_visit(v, GCT_LOAD(((PyModuleObject *)op)->md_dict));
    }
    else if (tp == &PyFunction_Type) {
        PyFunctionObject *f = (PyFunctionObject *)op;
        tc_visit(v, GCT_LOAD(f->func_globals));
        tc_visit(v, GCT_LOAD(f->func_builtins));
        tc_visit(v, GCT_LOAD(f->func_code));
        tc_visit(v, GCT_LOAD(f->func_defaults));
        tc_visit(v, GCT_LOAD(f->func_kwdefaults));
        tc_visit(v, GCT_LOAD(f->func_closure));
        tc_visit(v, GCT_LOAD(f->func_dict));
        tc_visit(v, GCT_LOAD(f->func_module));
        tc_visit(v, GCT_LOAD(f->func_annotations));
        tc_visit(v, GCT_LOAD(f->func_typeparams));
    }
    else if (tp == &PyType_Type) {
        PyHeapTypeObject *ht = (PyHeapTypeObject *)op;
        tc_visit(v, GCT_LOAD(ht->ht_type.tp_dict));
        tc_visit(v, GCT_LOAD(ht->ht_type.tp_bases));
        tc_visit(v, GCT_LOAD(ht->ht_type.tp_mro));
        tc_visit(v, GCT_LOAD(ht->ht_type.tp_base));
        tc_visit(v, GCT_LOAD(ht->ht_type.tp_subclasses));
        tc_visit(v, GCT_LOAD(ht->ht_module));
    }
    else if (gct_is_heap_object(tp) && gct_is_python_class(tp)) {
        return gct_trace_instance(op, tp, v);
    }
    else {
        return 0;
    }
    return 1;
}
