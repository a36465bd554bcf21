/* Python/gc_tricolor_api.c -- what the rest of CPython sees of the mode:
 * its selection and set-up, the child of fork(), gc.get_tricolor_stats()
 * (part of the binding, #included by gc_tricolor.c).
 *
 *   _PyGC_TricolorInit           _PyGC_Init: the main interpreter chooses
 *                                the mode (-X gc=concurrent|stw, else
 *                                PYTHON_GC unless -E; default concurrent)
 *                                and, for concurrent, makes the starts bits'
 *                                segment map and the core's collector; if
 *                                either fails it stays in stw, with a line
 *                                on stderr.  Subinterpreters are left in stw.
 *   _PyGC_TricolorAfterForkChild PyOS_AfterFork_Child: the child has no
 *                                collector thread and no marker threads (TBB
 *                                is not fork-safe); it continues in stw.
 *   _PyGC_TricolorStats          gc.get_tricolor_stats(): the mode and the
 *                                last collection's figures.
 *
 * Concurrency: this file owns no field.  It writes gct's fields and
 * gct_thread's only while no other thread runs (at start-up and in the
 * child of fork()); gc.get_tricolor_stats() reads gct_collection.last
 * without synchronisation, a snapshot.
 */

/* The child of fork() has no collector thread and no marker threads (TBB
 * is not fork-safe): it continues with the stock collector. */
void
_PyGC_TricolorAfterForkChild(void)
{
    gct.mode = GCT_STW;
    gct.map = NULL;
    gct.collector = NULL;  /* the parent's, its locks as fork() found them */
    gct_collection.tstate = NULL;  /* threads of the parent's */
    gct_thread.tstate = NULL;
    gct_reg_lock = (PyMutex){0};  /* as fork() found it */
}

static int
gct_mode_from_config(PyInterpreterState *interp)
{
    const PyConfig *config = _PyInterpreterState_GetConfig(interp);
    const wchar_t *value = NULL;
    for (Py_ssize_t i = 0; i < config->xoptions.length; i++) {
        const wchar_t *x = config->xoptions.items[i];
        if (wcsncmp(x, L"gc=", 3) == 0) {
            value = x + 3;
        }
    }
    if (value != NULL) {
        if (wcscmp(value, L"stw") == 0) {
            return GCT_STW;
        }
        if (wcscmp(value, L"concurrent") == 0) {
            return GCT_CONCURRENT;
        }
        fprintf(stderr, "-X gc=%ls: expected concurrent or stw; using concurrent\n", value);
        return GCT_CONCURRENT;
    }
    const char *env = config->use_environment ? getenv("PYTHON_GC") : NULL;
    if (env != NULL && *env != '\0') {
        if (strcmp(env, "stw") == 0) {
            return GCT_STW;
        }
        if (strcmp(env, "concurrent") != 0) {
            fprintf(stderr, "PYTHON_GC=%s: expected concurrent or stw; using concurrent\n", env);
        }
    }
    return GCT_CONCURRENT;
}

/* _PyGC_Init: the main interpreter chooses the mode. */
void
_PyGC_TricolorInit(PyInterpreterState *interp)
{
    if (!_Py_IsMainInterpreter(interp) || gct.interp != NULL) {
        return;
    }
    gct.interp = interp;
    (void)PyUnstable_Type_SetConcurrentTraverse(&PyODict_Type, _PyODict_ConcurrentTraverse);
    (void)PyUnstable_Type_SetConcurrentTraverse(&PyClassMethod_Type,
                                                _PyClassMethod_ConcurrentTraverse);
    (void)PyUnstable_Type_SetConcurrentTraverse(&PyStaticMethod_Type,
                                                _PyClassMethod_ConcurrentTraverse);
    (void)PyUnstable_Type_SetConcurrentTraverse(&PyProperty_Type, _PyProperty_ConcurrentTraverse);
    (void)PyUnstable_Type_SetConcurrentTraverse(&Py_GenericAliasType,
                                                _PyGenericAlias_ConcurrentTraverse);
    (void)PyUnstable_Type_SetConcurrentTraverse(&_PyUnion_Type, _PyUnion_ConcurrentTraverse);
    (void)PyUnstable_Type_SetConcurrentTraverse(&_PyNamespace_Type, _PyNamespace_ConcurrentTraverse);
    if (gct_mode_from_config(interp) != GCT_CONCURRENT) {
        return;
    }
#if MI_DEBUG > 0 || MI_SECURE > 0
    /* mimalloc's debug and secure builds (--with-pydebug sets MI_DEBUG)
     * decommit purged memory with PROT_NONE; the concurrent reads need it
     * readable (gc_tricolor_concurrent_trace.c), so such builds never purge. */
    mi_option_set(mi_option_purge_delay, -1);
#endif
    tc_segment_map *map = tc_segment_map_new(MI_SEGMENT_SHIFT);
    tc_config cfg;
    tc_config_init(&cfg);
    cfg.mode = TC_MODE_CONCURRENT;
    /* Automatic collections on the core's background thread, a CPython
     * thread (gct_start_thread); pacing in objects, stock's counts
     * (gc_tricolor_thread.c): a quarter of the live objects, stock's
     * trigger (its threshold is checked before, gc_should_collect); an
     * eighth, with the assist, while a quarter of what is allocated turns
     * out cyclic garbage. */
    cfg.background = true;
    cfg.min_trigger_bytes = 0;
    cfg.growth_ratio = 0.25;
    cfg.reclaiming_growth_ratio = 0.125;
    cfg.reclaiming_fraction = 0.25;
    cfg.assist = true;
    /* Leave a core to the program: the marker threads otherwise compete
     * with every mutator for the CPU, and a descheduled mutator stalls as
     * surely as a stopped one (papers/design.md §6). */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cfg.mark_workers = ncpu > 1 ? (int)(ncpu - 1) : 1;
    tc_collector *c = map ? tc_collector_new(tc_segment_map_heap_ops(), map, &gct_ops, NULL,
                                             NULL, &cfg) : NULL;
    if (c == NULL) {
        fprintf(stderr, "tricolor: cannot start the concurrent collector (%s); using stw\n",
                map ? tc_last_error() : "out of memory");
        tc_segment_map_free(map);
        return;
    }
    gct.collector = c;
    gct.map = map;
    gct.mode = GCT_CONCURRENT;
}

/* gc.get_tricolor_stats() */
PyObject *
_PyGC_TricolorStats(PyInterpreterState *interp)
{
    const tc_stats *s = &gct_collection.last;
    int on = gct_active(interp);
    double coverage = s->marked ? 1.0 - (double)s->opaque_marked / (double)s->marked : 0.0;
    PyObject *opaque = PyDict_New();
    if (opaque == NULL) {
        return NULL;
    }
    for (int i = 0; i < GCT_CENSUS_SLOTS; i++) {
        const struct gct_census_slot *c = &gct_census_last[i];
        if (c->type == NULL || !c->named) {
            continue;
        }
        PyObject *n = PyLong_FromSsize_t(c->count);
        if (n == NULL || PyDict_SetItemString(opaque, c->name, n) < 0) {
            Py_XDECREF(n);
            Py_DECREF(opaque);
            return NULL;
        }
        Py_DECREF(n);
    }
    PyObject *phases = PyDict_New();
    if (phases == NULL) {
        Py_DECREF(opaque);
        return NULL;
    }
    for (int i = 0; i < TC_PHASE_COUNT; i++) {
        PyObject *ms = PyFloat_FromDouble((double)s->phase_ns[i] / 1e6);
        if (ms == NULL || PyDict_SetItemString(phases, tc_phase_name(i), ms) < 0) {
            Py_XDECREF(ms);
            Py_DECREF(phases);
            Py_DECREF(opaque);
            return NULL;
        }
        Py_DECREF(ms);
    }
    return Py_BuildValue(
        "{s:s,s:K,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:L,s:L,s:d,s:N,s:N,s:O}",
        "mode", on ? "concurrent" : "stw",
        "collections", (unsigned long long)gct_collection.collections,
        "marked", (Py_ssize_t)s->marked,
        "opaque_marked", (Py_ssize_t)s->opaque_marked,
        "candidates", (Py_ssize_t)s->candidates,
        "verified", (Py_ssize_t)s->verified,
        "opaque_candidates", (Py_ssize_t)s->opaque_candidates,
        "expanded", (Py_ssize_t)s->expanded,
        "garbage", (Py_ssize_t)s->garbage,
        "resurrected", (Py_ssize_t)s->resurrected,
        "shaded", (Py_ssize_t)s->shaded,
        "dependent", (Py_ssize_t)s->dependent,
        "pauses", (Py_ssize_t)s->pauses,
        "fell_back", (Py_ssize_t)s->fell_back,
        "max_pause_ns", (long long)s->max_pause_ns,
        "max_wait_ns", (long long)s->max_wait_ns,
        "allowlist_coverage", coverage,
        "opaque_types", opaque,
        "phase_ms", phases,
        "thread", gct.collector != NULL && tc_collector_background_running(gct.collector)
                      ? Py_True : Py_False);
}
