/* Python/gc_tricolor_concurrent_trace.c -- the reads made with the world
 * running: the allowlist, the registered types and the census of opaque
 * types (part of the binding, #included by gc_tricolor.c).
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
 *   - an object's ob_type may be stale, NULL or any old word of a reused
 *     page: it is compared with the addresses of static types and looked up
 *     in the registry, and dereferenced only when the segment map says it
 *     starts a heap object (a heap type);
 *   - only the types of the allowlist below are read, each by code here
 *     that does plain loads, bounds every index by gct_readable, and calls
 *     no function pointer read from the heap;
 *   - a registered type (Include/cpython/pygc_concurrent.h: deque,
 *     defaultdict, partial, OrderedDict, asyncio's Future and Task, the
 *     static exception types, and any extension type that opts in) is read
 *     by the function registered for it, kept in gct_reg, never read from
 *     the type object; that function follows the same rules.
 * A stale read can only mark an object that is in fact garbage (it then
 * floats to the next collection) or miss a reference (the object becomes a
 * candidate): neither affects soundness, which rests on the stopped-world
 * verification alone (tricolor/embedder.h).  An object of a type outside
 * the allowlist is opaque: gct_trace_concurrent() returns 0, the core
 * verifies what it references in a pause, and gct_census counts its type.
 *
 * Concurrency: every load of the heap here is relaxed (GCT_LOAD and the
 * _Py_atomic_load_*_relaxed helpers) and races by design with the owners'
 * plain stores; gct.subtype_traverse and gct.map are written only before
 * marker threads run (gc_tricolor.c).  gct_reg and gct_census state their
 * own rules where they are defined.
 */

#define GCT_LOAD(p) _Py_atomic_load_ptr_relaxed((void *)&(p))

#include <dlfcn.h>  // dladdr()

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

/* ---- Generators, coroutines, frames, exceptions ------------------------ */

/* An interpreter frame embedded in a generator or a frame object, as
 * _PyFrame_Traverse.  Neither object stores its size (both are PyObject_HEAD
 * types), so the slots of locals and stack are bounded by the code object's
 * co_nlocalsplus + co_stacksize -- read only if the segment map says the
 * code object is one -- and stacktop (-1 while the frame runs) by them.
 * 0 if the code object cannot be read: the object is then opaque. */
static int
gct_trace_embedded_frame(_PyInterpreterFrame *f, tc_visitor *v)
{
    PyObject *code = GCT_LOAD(f->f_executable);
    if (!gct_is_heap_object(code) || GCT_LOAD(code->ob_type) != &PyCode_Type) {
        return 0;
    }
    PyCodeObject *co = (PyCodeObject *)code;
    int slots = _Py_atomic_load_int_relaxed(&co->co_nlocalsplus) +
                _Py_atomic_load_int_relaxed(&co->co_stacksize);
    int top = _Py_atomic_load_int_relaxed(&f->stacktop);
    tc_visit(v, GCT_LOAD(f->frame_obj));
    tc_visit(v, GCT_LOAD(f->f_locals));
    tc_visit(v, GCT_LOAD(f->f_funcobj));
    tc_visit(v, code);
    gct_visit_array(f->localsplus, top < slots ? top : slots, v);
    return 1;
}

/* gen_traverse (and async_gen_traverse's origin): generators, coroutines and
 * async generators, suspended or not. */
static int
gct_trace_gen(PyGenObject *gen, tc_visitor *v)
{
    if (_Py_atomic_load_int8_relaxed(&gen->gi_frame_state) != FRAME_CLEARED &&
        !gct_trace_embedded_frame((_PyInterpreterFrame *)gen->gi_iframe, v)) {
        return 0;
    }
    tc_visit(v, GCT_LOAD(gen->gi_name));
    tc_visit(v, GCT_LOAD(gen->gi_qualname));
    tc_visit(v, GCT_LOAD(gen->gi_exc_state.exc_value));
    if (GCT_LOAD(gen->ob_base.ob_type) == &PyAsyncGen_Type) {
        tc_visit(v, GCT_LOAD(gen->gi_origin_or_finalizer));
    }
    return 1;
}

/* frame_traverse: the frame's own data only when the frame object owns it
 * (f_frame may point into a thread's data stack, which is unmapped when
 * freed: never read there). */
static int
gct_trace_frame_object(PyFrameObject *f, tc_visitor *v)
{
    _PyInterpreterFrame *own = (_PyInterpreterFrame *)f->_f_frame_data;
    if (GCT_LOAD(f->f_frame) == own &&
        _Py_atomic_load_uint8_relaxed((uint8_t *)&own->owner) == FRAME_OWNED_BY_FRAME_OBJECT &&
        !gct_trace_embedded_frame(own, v)) {
        return 0;
    }
    tc_visit(v, GCT_LOAD(f->f_back));
    tc_visit(v, GCT_LOAD(f->f_trace));
    tc_visit(v, GCT_LOAD(f->f_extra_locals));
    tc_visit(v, GCT_LOAD(f->f_locals_cache));
    return 1;
}

/* BaseException_traverse, registered (below) for every static type that
 * uses it: a static type is recognised by its address alone, since an
 * ob_type read with the world running may be stale and must not be
 * dereferenced unless it is a heap object. */
static int
gct_exception_concurrent_traverse(PyObject *op, visitproc visit, void *arg)
{
    PyBaseExceptionObject *e = (PyBaseExceptionObject *)op;
    visit(GCT_LOAD(e->dict), arg);
    visit(GCT_LOAD(e->args), arg);
    visit(GCT_LOAD(e->notes), arg);
    visit(GCT_LOAD(e->traceback), arg);
    visit(GCT_LOAD(e->cause), arg);
    visit(GCT_LOAD(e->context), arg);
    return 1;
}

/* A contextvars hamt's bitmap node: b_array holds Py_SIZE() keys and values. */
static void
gct_trace_hamt_bitmap(PyHamtNode_Bitmap *node, tc_visitor *v)
{
    gct_visit_array(node->b_array,
                    _Py_atomic_load_ssize_relaxed(&((PyVarObject *)node)->ob_size), v);
}

/* ---- Registered types (Include/cpython/pygc_concurrent.h) --------------- */

/* Open addressing by type pointer.  Writers (register, forget) hold
 * gct_reg_lock; readers (marker threads) take none: a slot's func is stored
 * before its type is published (release), and a reader that loads the type
 * (acquire) and matches it reads a func that is, at worst, of a later
 * registration in the same slot -- still a function obeying the rule.  A
 * forgotten slot keeps GCT_REG_GONE, so that probes continue past it. */
#define GCT_REG_SLOTS 512
#define GCT_REG_PROBES 32
#define GCT_REG_GONE ((PyTypeObject *)(uintptr_t)1)
static struct {
    PyTypeObject *type;
    PyUnstable_ConcurrentTraverseFunc func;
} gct_reg[GCT_REG_SLOTS];
static PyMutex gct_reg_lock;
static int gct_reg_used;  /* slots ever filled; read relaxed by forget */

static inline size_t
gct_reg_hash(const void *tp, int probe)
{
    return ((((uintptr_t)tp >> 4) * 0x9E3779B97F4A7C15ull) >> 40) + (size_t)probe;
}

static PyUnstable_ConcurrentTraverseFunc
gct_reg_lookup(PyTypeObject *tp)
{
    for (int i = 0; i < GCT_REG_PROBES; i++) {
        size_t k = gct_reg_hash(tp, i) & (GCT_REG_SLOTS - 1);
        PyTypeObject *t = _Py_atomic_load_ptr_acquire(&gct_reg[k].type);
        if (t == tp) {
            return _Py_atomic_load_ptr_relaxed(&gct_reg[k].func);
        }
        if (t == NULL) {
            return NULL;
        }
    }
    return NULL;
}

int
PyUnstable_Type_SetConcurrentTraverse(PyTypeObject *type,
                                      PyUnstable_ConcurrentTraverseFunc func)
{
    if (type == NULL || func == NULL) {
        PyErr_SetString(PyExc_ValueError,
                        "PyUnstable_Type_SetConcurrentTraverse: NULL type or function");
        return -1;
    }
    if (!PyType_HasFeature(type, Py_TPFLAGS_HAVE_GC)) {
        PyErr_Format(PyExc_TypeError,
                     "PyUnstable_Type_SetConcurrentTraverse: %s is not a GC type",
                     type->tp_name);
        return -1;
    }
    PyMutex_Lock(&gct_reg_lock);
    long free_slot = -1;
    for (int i = 0; i < GCT_REG_PROBES; i++) {
        size_t k = gct_reg_hash(type, i) & (GCT_REG_SLOTS - 1);
        PyTypeObject *t = gct_reg[k].type;
        if (t == type) {
            free_slot = (long)k;
            break;
        }
        if (t == GCT_REG_GONE && free_slot < 0) {
            free_slot = (long)k;
        }
        if (t == NULL) {
            if (free_slot < 0) {
                free_slot = (long)k;
                _Py_atomic_add_int(&gct_reg_used, 1);
            }
            break;
        }
    }
    if (free_slot >= 0) {
        _Py_atomic_store_ptr_relaxed(&gct_reg[free_slot].func, (void *)func);
        _Py_atomic_store_ptr_release(&gct_reg[free_slot].type, type);
    }
    PyMutex_Unlock(&gct_reg_lock);
    return 0;
}

/* type_dealloc (Objects/typeobject.c): a registration ends with its type. */
void
_PyGC_TricolorForgetType(PyTypeObject *type)
{
    if (_Py_atomic_load_int_relaxed(&gct_reg_used) == 0) {
        return;
    }
    PyMutex_Lock(&gct_reg_lock);
    for (int i = 0; i < GCT_REG_PROBES; i++) {
        size_t k = gct_reg_hash(type, i) & (GCT_REG_SLOTS - 1);
        if (gct_reg[k].type == type) {
            _Py_atomic_store_ptr_release(&gct_reg[k].type, GCT_REG_GONE);
            break;
        }
        if (gct_reg[k].type == NULL) {
            break;
        }
    }
    PyMutex_Unlock(&gct_reg_lock);
}

size_t
PyUnstable_GC_ReadableBytes(const void *p)
{
    return gct_readable(p);
}

/* The visitproc a registered function gets; its arg is the core's visitor. */
static int
gct_concurrent_visit(PyObject *op, void *v)
{
    tc_visit((tc_visitor *)v, op);
    return 0;
}

/* The static exception types that BaseException_traverse traverses: cls and
 * its subclasses.  Called once, attached, by the first collection. */
static void
gct_register_exception_types(PyTypeObject *cls, int depth)
{
    if (!(cls->tp_flags & Py_TPFLAGS_HEAPTYPE) &&
        cls->tp_traverse == ((PyTypeObject *)PyExc_BaseException)->tp_traverse &&
        cls->tp_basicsize == sizeof(PyBaseExceptionObject)) {
        (void)PyUnstable_Type_SetConcurrentTraverse(cls, gct_exception_concurrent_traverse);
    }
    PyObject *subs = depth < 16 ? PyObject_CallMethod((PyObject *)cls, "__subclasses__", NULL)
                                : NULL;
    if (subs == NULL || !PyList_Check(subs)) {
        PyErr_Clear();
        Py_XDECREF(subs);
        return;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(subs); i++) {
        gct_register_exception_types((PyTypeObject *)PyList_GET_ITEM(subs, i), depth + 1);
    }
    Py_DECREF(subs);
}

/* ---- Instances ----------------------------------------------------------- */

/* Whether the heap type tp (already known to be an object of the heap) is
 * a class statement's: its traversal is subtype_traverse. */
static int
gct_is_python_class(PyTypeObject *tp)
{
    unsigned long flags = _Py_atomic_load_ulong_relaxed(&tp->tp_flags);
    return (flags & Py_TPFLAGS_HEAPTYPE) && gct.subtype_traverse != NULL &&
           GCT_LOAD(tp->tp_traverse) == (void *)gct.subtype_traverse;
}

/* A heap type (every type the marker meets is one: a static type is not an
 * object of the heap), as type_traverse, and its subclasses' dict. */
static void
gct_trace_heap_type(PyHeapTypeObject *ht, tc_visitor *v)
{
    tc_visit(v, GCT_LOAD(ht->ht_type.tp_dict));
    tc_visit(v, GCT_LOAD(ht->ht_type.tp_cache));
    tc_visit(v, GCT_LOAD(ht->ht_type.tp_bases));
    tc_visit(v, GCT_LOAD(ht->ht_type.tp_mro));
    tc_visit(v, GCT_LOAD(ht->ht_type.tp_base));
    tc_visit(v, GCT_LOAD(ht->ht_type.tp_subclasses));
    tc_visit(v, GCT_LOAD(ht->ht_module));
}

/* The part of op that base, a type that is not a class statement's, owns:
 * 1 if read, 0 if base is opaque. */
static int
gct_trace_base(PyObject *op, PyTypeObject *base, tc_visitor *v)
{
    if (base == &PyBaseObject_Type) {
        return 1;
    }
    if (base == &PyType_Type) {
        /* A class whose metaclass is a class statement's (abc.ABCMeta,
         * enum.EnumType): its instance layout starts as type's.  Opaque
         * before, each such class held its whole __dict__ out of marking
         * (32 ABCMeta classes and 2 k unmarked candidates at start-up). */
        gct_trace_heap_type((PyHeapTypeObject *)op, v);
        return 1;
    }
    if (base == &PyLong_Type || base == &PyUnicode_Type || base == &PyBytes_Type ||
        base == &PyFloat_Type || base == &PyComplex_Type) {
        /* Its part holds no object: an IntEnum or IntFlag member, re's
         * _NamedIntConstant, a StrEnum member (the __dict__ is the class
         * statement's, a managed dict).  Opaque before: a quarter of the
         * opaque objects of pyperformance's gc_collect heap. */
        return 1;
    }
    if (base == &PyList_Type) {
        gct_trace_list((PyListObject *)op, v);
        return 1;
    }
    if (base == &PyDict_Type) {
        gct_trace_dict((PyDictObject *)op, v);
        return 1;
    }
    if (base == &PySet_Type || base == &PyFrozenSet_Type) {
        gct_trace_set((PySetObject *)op, v);
        return 1;
    }
    if (base == &PyTuple_Type) {
        gct_visit_array(((PyTupleObject *)op)->ob_item,
                        _Py_atomic_load_ssize_relaxed(&((PyVarObject *)op)->ob_size), v);
        return 1;
    }
    if (base == &_PyWeakref_RefType) {  /* weakref.WeakMethod, KeyedRef */
        tc_visit(v, GCT_LOAD(((PyWeakReference *)op)->wr_callback));
        return 1;
    }
    PyUnstable_ConcurrentTraverseFunc func = gct_reg_lookup(base);
    return func != NULL && func(op, gct_concurrent_visit, v);
}

int
PyUnstable_Object_ConcurrentTraverseAs(PyObject *self, PyTypeObject *base,
                                       visitproc visit, void *arg)
{
    if (visit != gct_concurrent_visit || self == NULL || base == NULL) {
        return 0;
    }
    return gct_trace_base(self, base, (tc_visitor *)arg);
}

/* The __dict__ of op, as PyObject_VisitManagedDict, or as subtype_traverse
 * at tp_dictoffset when the dict is not base's (a type with a dict field of
 * its own visits it itself): the inline values while they are valid,
 * otherwise the dict (a dict made from valid inline values shares them and
 * does not visit them itself; visiting both would count each reference
 * twice -- a leak found by stress/fork). */
static void
gct_trace_instance_dict(PyObject *op, PyTypeObject *tp, PyTypeObject *base, tc_visitor *v)
{
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
    else if (base != tp) {
        Py_ssize_t off = _Py_atomic_load_ssize_relaxed(&tp->tp_dictoffset);
        if (off > 0 && off < 4096 && off != _Py_atomic_load_ssize_relaxed(&base->tp_dictoffset)) {
            tc_visit(v, GCT_LOAD(*(PyObject **)((char *)op + off)));
        }
    }
}

/* An instance of a class statement's class: slots along the chain of
 * Python classes, then the __dict__, then the part of the first base that
 * is not a Python class (gct_trace_base). */
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
    if (base == NULL || !gct_trace_base(op, base, v)) {
        return 0;
    }
    gct_trace_instance_dict(op, tp, base, v);
    tc_visit(v, tp);
    return 1;
}

/* ---- Opaque types, counted ----------------------------------------------- */

/* Which types marking found opaque in the current collection, for
 * gc.get_tricolor_stats()["opaque_types"].  A slot is claimed by CAS on its
 * type; the claimer then copies the type's name (bounded reads: the type may
 * be dying) and publishes it with `named` (release).  Reset by the
 * collecting thread before marking starts; read by it after marking ends. */
#define GCT_CENSUS_SLOTS 64
static struct gct_census_slot {
    PyTypeObject *type;
    Py_ssize_t count;
    int named;
    char name[56];
} gct_census[GCT_CENSUS_SLOTS];
/* The last collection's census: written by the collecting thread after the
 * collection, read without synchronisation by gc.get_tricolor_stats(). */
static struct gct_census_slot gct_census_last[GCT_CENSUS_SLOTS];

static void
gct_census_reset(void)
{
    memset(gct_census, 0, sizeof(gct_census));
}

/* Whether p lies in a loaded image (the executable or a shared object): a
 * static type, or a name a type points to, that may be read.  dladdr()
 * walks the loader's tables (microseconds), and every collection's census
 * asks again about the same few static types, so the pointers found in an
 * image are remembered (a direct-mapped table, relaxed: a lost or torn
 * entry only costs another dladdr()).  An image stays loaded: CPython
 * never unloads an extension module. */
#define GCT_IMAGE_CACHE 256
static const void *gct_image_cache[GCT_IMAGE_CACHE];

static int
gct_in_image(const void *p)
{
    if (p == NULL) {
        return 0;
    }
    const void **slot = &gct_image_cache[((uintptr_t)p >> 4) % GCT_IMAGE_CACHE];
    if (_Py_atomic_load_ptr_relaxed(slot) == p) {
        return 1;
    }
    Dl_info info;
    if (dladdr(p, &info) == 0) {
        return 0;
    }
    _Py_atomic_store_ptr_relaxed(slot, (void *)p);
    return 1;
}

static void
gct_census_count(PyTypeObject *tp)
{
    for (int i = 0; i < 8; i++) {
        struct gct_census_slot *s =
            &gct_census[(gct_reg_hash(tp, i)) & (GCT_CENSUS_SLOTS - 1)];
        PyTypeObject *t = _Py_atomic_load_ptr_relaxed(&s->type);
        if (t == NULL) {
            void *expected = NULL;
            if (_Py_atomic_compare_exchange_ptr(&s->type, &expected, tp)) {
                /* tp may be stale: read it only if it is a heap object or in
                 * an image; its name, within gct_readable or an image */
                const char *name = (gct_is_heap_object(tp) || gct_in_image(tp))
                                   ? GCT_LOAD(tp->tp_name) : NULL;
                size_t room = gct_readable(name);
                if (room == 0 && gct_in_image(name)) {
                    room = sizeof(s->name);
                }
                size_t n = 0;
                for (; n + 1 < sizeof(s->name) && n < room; n++) {
                    char c = (char)_Py_atomic_load_uint8_relaxed((const uint8_t *)&name[n]);
                    if (c == 0) {
                        break;
                    }
                    s->name[n] = c;
                }
                if (n == 0) {
                    snprintf(s->name, sizeof(s->name), "<type %p>", (void *)tp);
                }
                else {
                    s->name[n] = 0;
                }
                _Py_atomic_store_int_release(&s->named, 1);
                t = tp;
            }
            else {
                t = expected;
            }
        }
        if (t == tp) {
            _Py_atomic_add_ssize(&s->count, 1);
            return;
        }
    }
}

/* ---- The allowlist ------------------------------------------------------- */

/* Types whose objects are read with the world running: the interpreter's
 * own, then the registered ones.  Everything else is opaque (the core then
 * verifies what it references in the pause, tricolor/embedder.h). */
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
    else if (tp == &PyCFunction_Type || tp == &PyCMethod_Type) {
        tc_visit(v, GCT_LOAD(((PyCFunctionObject *)op)->m_self));
        tc_visit(v, GCT_LOAD(((PyCFunctionObject *)op)->m_module));
        if (tp == &PyCMethod_Type) {
            tc_visit(v, GCT_LOAD(((PyCMethodObject *)op)->mm_class));
        }
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
        gct_trace_heap_type((PyHeapTypeObject *)op, v);
    }
    else if (tp == &PyGen_Type || tp == &PyCoro_Type || tp == &PyAsyncGen_Type) {
        return gct_trace_gen((PyGenObject *)op, v);
    }
    else if (tp == &_PyWeakref_RefType || tp == &_PyWeakref_ProxyType ||
             tp == &_PyWeakref_CallableProxyType) {
        /* gc_traverse: the callback; the referent is not a reference */
        tc_visit(v, GCT_LOAD(((PyWeakReference *)op)->wr_callback));
    }
    else if (tp == &PyMethodDescr_Type || tp == &PyClassMethodDescr_Type ||
             tp == &PyWrapperDescr_Type || tp == &PyGetSetDescr_Type ||
             tp == &PyMemberDescr_Type) {
        tc_visit(v, GCT_LOAD(((PyDescrObject *)op)->d_type));
    }
    else if (tp == &PyCode_Type) {
        tc_visit(v, GCT_LOAD(((PyCodeObject *)op)->co_consts));
    }
    else if (tp == &PyFrame_Type) {
        return gct_trace_frame_object((PyFrameObject *)op, v);
    }
    else if (tp == &PyTraceBack_Type) {
        tc_visit(v, GCT_LOAD(((PyTracebackObject *)op)->tb_next));
        tc_visit(v, GCT_LOAD(((PyTracebackObject *)op)->tb_frame));
    }
    else if (tp == &PyContext_Type) {
        tc_visit(v, GCT_LOAD(((PyContext *)op)->ctx_prev));
        tc_visit(v, GCT_LOAD(((PyContext *)op)->ctx_vars));
    }
    else if (tp == &_PyHamt_Type) {
        tc_visit(v, GCT_LOAD(((PyHamtObject *)op)->h_root));
    }
    else if (tp == &_PyHamt_BitmapNode_Type) {
        gct_trace_hamt_bitmap((PyHamtNode_Bitmap *)op, v);
    }
    else if (gct_is_heap_object(tp)) {
        if (gct_is_python_class(tp)) {
            return gct_trace_instance(op, tp, v);
        }
        PyUnstable_ConcurrentTraverseFunc func = gct_reg_lookup(tp);
        if (func == NULL || !func(op, gct_concurrent_visit, v)) {
            return 0;
        }
        gct_trace_instance_dict(op, tp, tp, v);
        tc_visit(v, tp);
    }
    else {
        PyUnstable_ConcurrentTraverseFunc func = gct_reg_lookup(tp);
        if (func == NULL || !func(op, gct_concurrent_visit, v)) {
            return 0;
        }
    }
    return 1;
}
