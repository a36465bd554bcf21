/* tests/gc/c_api_runtime.c -- a runtime written in C on tricolor/c_api.h:
 * the test of the C API compiles it as C, so the header must be C.
 *
 * Two-slot nodes with atomic refcounts, bump-allocated alternately in two
 * 1 MiB segments of one aligned buffer, global roots, and a tc_world.  Its
 * heap is a tc_segment_map (tricolor/segment_map.h), with the segments
 * added out of address order.  The scenario functions return counts that
 * tests/gc/c_api_test.cc checks. */
#include "tests/gc/c_api_runtime.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tricolor/c_api.h"
#include "tricolor/segment_map.h"

#define SEGMENT_SHIFT 20
#define SEGMENT_BYTES ((size_t)1 << SEGMENT_SHIFT)
#define MAX_ROOTS 64

typedef struct node {
    _Alignas(16) atomic_intptr_t rc;
    struct node *slot[2];
} node;

typedef struct runtime {
    char *mem;              /* two segments */
    size_t next[2];         /* bump offset in each */
    int turn;               /* the segment of the next node */
    tc_segment_map *map;
    node *roots[MAX_ROOTS];
    size_t nroots;
    size_t freed;
    size_t mutator_root_calls; /* for_each_mutator_root with this runtime as context */
    size_t held;            /* objects given to hold_all */
    tc_world *world;
    tc_collector *collector;
    /* The background thread's hooks (c_runtime_background_thread). */
    pthread_t thread;
    void (*body)(void *);
    void *arg;
    atomic_int starts, entered, left, automatic, on_own_thread;
    atomic_size_t auto_garbage;
} runtime;

static node *alloc_node(runtime *rt) {
    int seg = rt->turn;
    rt->turn ^= 1;
    if (rt->next[seg] + sizeof(node) > SEGMENT_BYTES) return NULL;
    node *n = (node *)(rt->mem + seg * SEGMENT_BYTES + rt->next[seg]);
    rt->next[seg] += sizeof(node);
    atomic_init(&n->rc, 1);
    n->slot[0] = n->slot[1] = NULL;
    tc_segment_map_on_alloc(rt->map, n);
    return n;
}

static void decref(runtime *rt, node *n) {
    while (n && atomic_fetch_sub(&n->rc, 1) == 1) {
        node *a = n->slot[0], *b = n->slot[1];
        tc_segment_map_on_free(rt->map, n);
        rt->freed++;
        decref(rt, a);
        n = b;
    }
}

static void link_node(runtime *rt, node *from, int s, node *to) {
    atomic_fetch_add(&to->rc, 1);
    node *old = from->slot[s];
    from->slot[s] = to;
    decref(rt, old);
}

/* tc_embedder_ops */
static bool e_trace(void *ctx, void *obj, tc_visitor *v, bool concurrent) {
    (void)ctx;
    (void)concurrent;
    node *n = obj;
    tc_visit(v, n->slot[0]);
    tc_visit(v, n->slot[1]);
    return true;
}
static intptr_t e_refcount(void *ctx, void *obj) { (void)ctx; return atomic_load(&((node *)obj)->rc); }
static void e_roots(void *ctx, tc_visitor *v) {
    runtime *rt = ctx;
    for (size_t i = 0; i < rt->nroots; i++) tc_visit(v, rt->roots[i]);
}
static void e_mutator_roots(void *ctx, void *roots, tc_visitor *v) {
    runtime *rt = ctx;
    if (roots == rt) rt->mutator_root_calls++;
    e_roots(roots, v);
}
static void e_hold(void *ctx, void *obj) { (void)ctx; atomic_fetch_add(&((node *)obj)->rc, 1); }
static void e_hold_all(void *ctx, void *const *garbage, size_t n) {
    runtime *rt = ctx;
    for (size_t i = 0; i < n; i++) e_hold(ctx, garbage[i]);
    rt->held += n;
}
static void e_release(void *ctx, void *obj) { decref(ctx, obj); }
static void e_clear(void *ctx, void *const *garbage, size_t n) {
    for (size_t i = 0; i < n; i++) {
        node *g = garbage[i];
        for (int s = 0; s < 2; s++) {
            node *c = g->slot[s];
            g->slot[s] = NULL;
            decref(ctx, c);
        }
    }
}

/* The background thread's hooks: a pthread whose body the collector gives;
 * the waits counted; automatic collections counted, with their garbage. */
static void *thread_main(void *p) {
    runtime *rt = p;
    rt->body(rt->arg);
    return NULL;
}
static bool e_start_thread(void *ctx, void (*body)(void *), void *arg) {
    runtime *rt = ctx;
    atomic_fetch_add(&rt->starts, 1);
    rt->body = body;
    rt->arg = arg;
    return pthread_create(&rt->thread, NULL, thread_main, rt) == 0;
}
static void *e_enter_blocking(void *ctx) {
    runtime *rt = ctx;
    atomic_fetch_add(&rt->entered, 1);
    return rt;
}
static void e_leave_blocking(void *ctx, void *token) {
    runtime *rt = ctx;
    if (token == rt) atomic_fetch_add(&rt->left, 1);
}
static void e_collect_automatically(void *ctx, tc_collector *c) {
    runtime *rt = ctx;
    tc_stats st;
    if (c == rt->collector && tc_collector_collect(c, -1, &st) == 0) {
        atomic_fetch_add(&rt->auto_garbage, st.garbage);
    }
    if (pthread_equal(pthread_self(), rt->thread)) atomic_fetch_add(&rt->on_own_thread, 1);
    atomic_fetch_add(&rt->automatic, 1);
}

static const tc_embedder_ops embedder_ops = {
    .trace = e_trace, .refcount = e_refcount, .for_each_global_root = e_roots,
    .hold = e_hold,   .release = e_release,   .clear = e_clear,
};

static runtime *runtime_new(bool with_world) {
    runtime *rt = calloc(1, sizeof *rt);
    rt->mem = aligned_alloc(SEGMENT_BYTES, 2 * SEGMENT_BYTES);
    rt->map = tc_segment_map_new(SEGMENT_SHIFT);
    tc_segment_map_add(rt->map, rt->mem + SEGMENT_BYTES);  /* out of address order */
    tc_segment_map_add(rt->map, rt->mem);
    rt->world = with_world ? tc_world_new() : NULL;
    return rt;
}

static void runtime_free(runtime *rt) {
    tc_collector_free(rt->collector);
    tc_world_free(rt->world);
    tc_segment_map_free(rt->map);
    free(rt->mem);
    free(rt);
}

/* 10 rooted chains of 5 nodes (the first closed into a ring) and 25
 * garbage rings of 1-4 nodes; returns the nodes in garbage rings. */
static size_t build_graph(runtime *rt) {
    size_t garbage = 0;
    for (int r = 0; r < 10; r++) {
        node *cur = alloc_node(rt);
        rt->roots[rt->nroots++] = cur;
        for (int i = 0; i < 4; i++) {
            node *next = alloc_node(rt);
            link_node(rt, cur, 0, next);
            decref(rt, next);
            cur = next;
        }
        if (r == 0) link_node(rt, cur, 1, rt->roots[0]);
    }
    for (int c = 0; c < 25; c++) {
        node *ring[4];
        int k = 1 + c % 4;
        for (int i = 0; i < k; i++) ring[i] = alloc_node(rt);
        for (int i = 0; i < k; i++) link_node(rt, ring[i], 1, ring[(i + 1) % k]);
        for (int i = 0; i < k; i++) decref(rt, ring[i]);
        garbage += (size_t)k;
    }
    return garbage;
}

int c_runtime_collect_cycles(int mode, c_runtime_result *out) {
    memset(out, 0, sizeof *out);
    runtime *rt = runtime_new(true);
    tc_config cfg;
    tc_config_init(&cfg);
    cfg.background = false;
    cfg.min_trigger_bytes = (size_t)1 << 40;
    cfg.mark_workers = 2;
    rt->collector = tc_collector_new(tc_segment_map_heap_ops(), rt->map, &embedder_ops, rt, rt->world, &cfg);
    if (!rt->collector) {
        runtime_free(rt);
        return -1;
    }
    if (tc_world_attach(rt->world) != 0) return -1;
    out->made_garbage = build_graph(rt);
    tc_stats st;
    if (tc_collector_collect(rt->collector, mode, &st) != 0) return -1;
    out->garbage = st.garbage;
    out->marked = st.marked;
    out->freed = rt->freed;
    out->pauses = st.pauses;
    memcpy(out->phase_ns, st.phase_ns, sizeof(st.phase_ns));
    /* A second collection, in the other mode, finds nothing left. */
    if (tc_collector_collect(rt->collector, mode == TC_MODE_CONCURRENT ? TC_MODE_FULL_STW : TC_MODE_CONCURRENT,
                             &st) != 0) return -1;
    out->garbage_again = st.garbage;
    /* Dropping the roots frees the open chains by reference counting; the
     * ring needs one more collection. */
    for (size_t i = 0; i < rt->nroots; i++) decref(rt, rt->roots[i]);
    rt->nroots = 0;
    out->freed_unrooted = rt->freed;
    if (tc_collector_collect(rt->collector, mode, &st) != 0) return -1;
    out->garbage_last = st.garbage;
    out->freed_last = rt->freed;
    if (tc_world_safepoint(rt->world) != 0 || tc_world_detach(rt->world) != 0) return -1;
    /* Misuse after detaching is refused with a message, not a crash. */
    out->detach_again = tc_world_detach(rt->world);
    out->poll_detached = tc_world_safepoint(rt->world);
    runtime_free(rt);
    return 0;
}

int c_runtime_mutator_roots(size_t *marked, size_t *garbage, size_t *objects, size_t *calls,
                            size_t *held) {
    runtime *rt = runtime_new(true);
    tc_embedder_ops ops = embedder_ops;
    ops.for_each_global_root = NULL;
    ops.for_each_mutator_root = e_mutator_roots;  /* for_each_thread_root stays NULL */
    ops.hold = NULL;                               /* one call per pause instead */
    ops.hold_all = e_hold_all;
    tc_config cfg;
    tc_config_init(&cfg);
    cfg.background = false;
    cfg.min_trigger_bytes = (size_t)1 << 40;
    cfg.mark_workers = 2;
    rt->collector = tc_collector_new(tc_segment_map_heap_ops(), rt->map, &ops, rt, rt->world, &cfg);
    if (!rt->collector || tc_world_attach(rt->world) != 0 || tc_world_set_roots(rt->world, rt) != 0) {
        return -1;
    }
    build_graph(rt);
    tc_stats st;
    if (tc_collector_collect(rt->collector, TC_MODE_CONCURRENT, &st) != 0) return -1;
    *marked = st.marked;
    *garbage = st.garbage;
    *objects = st.objects;
    *calls = rt->mutator_root_calls;
    *held = rt->held;
    for (size_t i = 0; i < rt->nroots; i++) decref(rt, rt->roots[i]);
    rt->nroots = 0;
    if (tc_world_detach(rt->world) != 0) return -1;
    runtime_free(rt);
    return 0;
}

int c_runtime_refuses_incomplete_tables(void) {
    runtime *rt = runtime_new(false);
    tc_embedder_ops no_clear = embedder_ops;
    no_clear.clear = NULL;
    int refused = 0;
    if (tc_collector_new(tc_segment_map_heap_ops(), rt->map, &no_clear, rt, NULL, NULL) == NULL) refused++;
    /* Neither hold nor hold_all. */
    tc_embedder_ops no_hold = embedder_ops;
    no_hold.hold = NULL;
    if (tc_collector_new(tc_segment_map_heap_ops(), rt->map, &no_hold, rt, NULL, NULL) == NULL) refused++;
    /* enter_blocking without leave_blocking. */
    tc_world *w = tc_world_new();
    tc_embedder_ops half = embedder_ops;
    half.enter_blocking = e_enter_blocking;
    if (tc_collector_new(tc_segment_map_heap_ops(), rt->map, &half, rt, w, NULL) == NULL) refused++;
    tc_world_free(w);
    /* No stop_world and no world. */
    if (tc_collector_new(tc_segment_map_heap_ops(), rt->map, &embedder_ops, rt, NULL, NULL) == NULL) refused++;
    runtime_free(rt);
    return refused;
}

int c_runtime_background_thread(c_runtime_thread_result *out) {
    memset(out, 0, sizeof *out);
    runtime *rt = runtime_new(true);
    tc_embedder_ops ops = embedder_ops;
    ops.start_thread = e_start_thread;
    ops.enter_blocking = e_enter_blocking;
    ops.leave_blocking = e_leave_blocking;
    ops.collect_automatically = e_collect_automatically;
    tc_config cfg;
    tc_config_init(&cfg);
    cfg.background = true;
    cfg.mark_workers = 2;
    rt->collector = tc_collector_new(tc_segment_map_heap_ops(), rt->map, &ops, rt, rt->world, &cfg);
    if (!rt->collector) {
        runtime_free(rt);
        return -1;
    }
    /* Built before the thread exists: the collection reads the graph only
     * after the thread starts. */
    out->made_garbage = build_graph(rt);
    if (tc_collector_request_collection(rt->collector, true) != 0) return -1;
    out->automatic = atomic_load(&rt->automatic);
    out->on_own_thread = atomic_load(&rt->on_own_thread);
    out->garbage = atomic_load(&rt->auto_garbage);
    out->running = tc_collector_background_running(rt->collector);
    tc_collector_shutdown(rt->collector);
    out->stopped = !tc_collector_background_running(rt->collector);
    if (atomic_load(&rt->starts) > 0) pthread_join(rt->thread, NULL);
    out->starts = atomic_load(&rt->starts);
    out->balanced = atomic_load(&rt->entered) > 0 && atomic_load(&rt->entered) == atomic_load(&rt->left);
    for (size_t i = 0; i < rt->nroots; i++) decref(rt, rt->roots[i]);
    rt->nroots = 0;
    runtime_free(rt);
    return 0;
}
