/* tests/gc/c_api_runtime.h -- scenarios of the C runtime in
 * c_api_runtime.c, called from the gtest in c_api_test.cc. */
#ifndef TRICOLOR_TESTS_C_API_RUNTIME_H
#define TRICOLOR_TESTS_C_API_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "tricolor/c_api.h"  // TC_PHASE_COUNT

#ifdef __cplusplus
extern "C" {
#endif

typedef struct c_runtime_result {
    size_t made_garbage;  /* nodes in garbage rings */
    size_t garbage;       /* tc_stats.garbage */
    size_t marked;        /* tc_stats.marked */
    size_t freed;         /* nodes freed after the collection */
    size_t pauses;        /* tc_stats.pauses */
    int64_t phase_ns[TC_PHASE_COUNT]; /* tc_stats.phase_ns of the first collection */
    size_t garbage_again; /* tc_stats.garbage of a second collection, other mode */
    size_t freed_unrooted;/* nodes freed once the roots are dropped too */
    size_t garbage_last;  /* tc_stats.garbage of the collection after that */
    size_t freed_last;    /* nodes freed after it */
    int detach_again;     /* tc_world_detach() on a detached thread */
    int poll_detached;    /* tc_world_safepoint() on a detached thread */
} c_runtime_result;

/* A collection in `mode` (TC_MODE_*) over rooted chains (one closed into a
 * ring) and garbage rings, a second one in the other mode, then the roots
 * dropped and a last collection; 0, or -1 with tc_last_error() set. */
int c_runtime_collect_cycles(int mode, c_runtime_result *out);
/* The same rooted chains and garbage rings, with the roots given as the
 * calling thread's root context (tc_world_set_roots) instead of global
 * roots, and hold_all instead of hold, and one concurrent collection:
 * *marked and *garbage are its tc_stats, *objects its tc_stats.objects,
 * *calls how many times for_each_mutator_root ran (with the right
 * context), *held how many objects hold_all took.  0, or -1. */
int c_runtime_mutator_roots(size_t *marked, size_t *garbage, size_t *objects, size_t *calls,
                            size_t *held);
/* How many of four incomplete set-ups tc_collector_new() refused. */
int c_runtime_refuses_incomplete_tables(void);

typedef struct c_runtime_thread_result {
    int starts;            /* start_thread calls */
    int automatic;         /* collect_automatically calls, after the assist */
    int on_own_thread;     /* of those, on the thread start_thread made */
    int running;           /* tc_collector_background_running after the request */
    int stopped;           /* !tc_collector_background_running after shutdown */
    int balanced;          /* enter_blocking calls == leave_blocking calls, > 0 */
    size_t garbage;        /* the garbage rings the automatic collection freed */
    size_t made_garbage;
} c_runtime_thread_result;
/* The background thread through the C hooks: an assisted request over the
 * graph of c_runtime_collect_cycles, then shutdown.  0, or -1. */
int c_runtime_background_thread(c_runtime_thread_result *out);

#ifdef __cplusplus
}
#endif

#endif
