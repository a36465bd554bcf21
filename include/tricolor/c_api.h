/* tricolor/c_api.h -- the collector's C API, for runtimes written in C
 * (the CPython binding among them).
 *
 * The same collector as tricolor/collector.h, with its two interfaces as
 * tables of function pointers: a tc_heap_ops (tricolor/heap_ops.h, after
 * tricolor/heap.h: side bitmaps and black allocation over the runtime's own
 * memory) and a tc_embedder_ops (tricolor/embedder.h: trace, refcount,
 * roots, stop/start the world, hold/release/finalize/clear).  Each callback gets the `ctx`
 * pointer given with its table.  The contracts -- which callback runs with
 * the world stopped, which may run concurrently -- are those of the C++
 * headers; read them there.
 *
 * A runtime without a stop-the-world protocol of its own uses a tc_world
 * (tricolor/stop_the_world.h's World): leave stop_world/start_world NULL
 * and pass the world to tc_collector_new().
 *
 * Errors: a function that can fail returns NULL or -1 and leaves a message
 * for tc_last_error() on the calling thread (misuse such as detaching a
 * thread that is not attached, or a table missing a required callback).
 * No C++ exception crosses this API.
 */
#ifndef TRICOLOR_C_API_H
#define TRICOLOR_C_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tricolor/bitmap.h"
#include "tricolor/heap_ops.h" /* tc_heap_ops */

#ifdef __cplusplus
extern "C" {
#endif

/** A collector (tricolor::Collector with its adapters). */
typedef struct tc_collector tc_collector;

/** Receives references from a trace or root callback; see tc_visit(). */
typedef struct tc_visitor tc_visitor;
/** Reports one reference to the collector (NULL and non-heap pointers are
 *  ignored). Call it only from inside the callback that got `v`. */
void tc_visit(tc_visitor *v, void *obj);

/* tc_heap_ops, the heap's table: tricolor/heap_ops.h. */

/** The runtime (tricolor/embedder.h::Embedder). trace, refcount, hold
 *  (or hold_all), release and clear are required; NULL for the others means the C++
 *  default: always collectable, no roots, the tc_world's stop/start, no
 *  finalization, nothing on worker entry and exit. */
typedef struct tc_embedder_ops {
    /** Reports obj's references through tc_visit(); false = opaque. */
    bool (*trace)(void *ctx, void *obj, tc_visitor *v, bool concurrent);
    /** obj's merged reference count (exact with the world stopped). */
    intptr_t (*refcount)(void *ctx, void *obj);
    /** Whether obj takes part in collection (NULL: always). */
    bool (*collectable)(void *ctx, void *obj);
    /** Global roots, world running (NULL: none). */
    void (*for_each_global_root)(void *ctx, tc_visitor *v);
    /** Per-thread roots, world stopped (NULL: for_each_mutator_root over
     *  the tc_world's threads, below). */
    void (*for_each_thread_root)(void *ctx, tc_visitor *v);
    /** Stops the world (NULL, with start_world NULL: the tc_world's). */
    void (*stop_world)(void *ctx);
    /** Restarts the world stop_world stopped. */
    void (*start_world)(void *ctx);
    /** Takes a reference to a garbage object (world stopped). */
    void (*hold)(void *ctx, void *obj);
    /** Drops the reference hold() took; may free obj. */
    void (*release)(void *ctx, void *obj);
    /** Finalizes the garbage, world running; returns whether code ran that
     *  could resurrect some (NULL: nothing to finalize). */
    bool (*finalize)(void *ctx, void *const *garbage, size_t n);
    /** Breaks the references among confirmed garbage, world running. */
    void (*clear)(void *ctx, void *const *garbage, size_t n);
    /** A marker thread starts working for the collector (NULL: nothing). */
    void (*attach_worker)(void *ctx);
    /** A marker thread stops working for the collector (NULL: nothing). */
    void (*detach_worker)(void *ctx);
    /** obj has `excess` more references from the verified objects than its
     *  refcount: the runtime's count is wrong; obj is kept alive. World
     *  stopped; may abort (NULL: one line on stderr). */
    void (*refcount_error)(void *ctx, void *obj, int64_t excess);
    /* Added after the above, so that existing initialisers keep their
     * meaning (a field they leave out is NULL). */
    /** One mutator's roots, world stopped: `roots` is what that thread gave
     *  tc_world_set_roots().  Called once per such attached thread in each
     *  root scan when for_each_thread_root is NULL (NULL: none). */
    void (*for_each_mutator_root)(void *ctx, void *roots, tc_visitor *v);
    /** Starts the background thread: runs body(arg) once on a new thread;
     *  false if none could be started (NULL: a detached std::thread). */
    bool (*start_thread)(void *ctx, void (*body)(void *), void *arg);
    /** The calling thread is about to wait for the collector; returns the
     *  token leave_blocking gets (NULL, with leave_blocking NULL: an
     *  inactive region of the tc_world if the thread is attached to it). */
    void *(*enter_blocking)(void *ctx);
    /** Ends the region enter_blocking began. */
    void (*leave_blocking)(void *ctx, void *token);
    /** An automatic collection: call tc_collector_collect(c, -1, ...) from
     *  the runtime's wrapper (NULL: tc_collector_collect directly). */
    void (*collect_automatically)(void *ctx, tc_collector *c);
    /** Takes a reference to each of a pause's n garbage objects, world
     *  stopped, in one call (NULL: hold() on each).  With it, hold may be
     *  NULL: one of the two is required.  A runtime that has more to do
     *  per garbage object in that pause (clear weak references, say) does
     *  it in the same pass over the array. */
    void (*hold_all)(void *ctx, void *const *garbage, size_t n);
    /** Whether the thread collecting waits for the collection with no other
     *  mutator running: the concurrent phases may then use every core
     *  (Embedder::caller_runs_alone; NULL: never). */
    bool (*caller_runs_alone)(void *ctx);
} tc_embedder_ops;

/** Collection modes (tricolor::Mode). */
enum { TC_MODE_CONCURRENT = 0, TC_MODE_FULL_STW = 1 };

/** Settings (tricolor::CollectorConfig); tc_config_init() gives the
 *  defaults. */
typedef struct tc_config {
    int mode;                  /**< TC_MODE_* of automatic collections */
    int mark_workers;          /**< 0 = hardware threads; > 0 also caps TBB's pool */
    double growth_ratio;       /**< pacing: trigger = growth_ratio * live */
    size_t min_trigger_bytes;  /**< pacing: the smallest trigger */
    bool background;           /**< automatic collections on their own thread */
    size_t verify_batch;       /**< candidates per pause at most */
    bool filter_candidates;    /**< concurrent candidate filter on */
    double reclaiming_growth_ratio; /**< pacing while reclaiming (0: growth_ratio) */
    double reclaiming_fraction;     /**< garbage / allocated that counts as reclaiming */
    bool assist;                    /**< tc_collector_pace may answer TC_PACE_ASSIST */
    int pause_workers;              /**< threads in a pause; 0 = hardware threads */
} tc_config;
/** Fills *config with tricolor::CollectorConfig's defaults. */
void tc_config_init(tc_config *config);

/** The phases of a collection, in order (tricolor::Phase, tricolor/events.h). */
enum {
    TC_PHASE_ROOT_SCAN, TC_PHASE_CONCURRENT_MARK, TC_PHASE_CANDIDATE_SCAN,
    TC_PHASE_CANDIDATE_FILTER, TC_PHASE_VERIFY, TC_PHASE_FINALIZE,
    TC_PHASE_RESURRECTION_CHECK, TC_PHASE_CLEAR, TC_PHASE_CLEAR_MARKS, TC_PHASE_COUNT
};
/** A phase's name ("root-scan", "concurrent-mark", ...); NULL out of range. */
const char *tc_phase_name(int phase);

/** What one collection did (a subset of tricolor::CollectionStats). */
typedef struct tc_stats {
    bool full_stw;        /**< ran in (or fell back to) the full-STW mode */
    bool fell_back;       /**< concurrent marking gave up */
    size_t marked;        /**< marked by the concurrent marker */
    size_t candidates;    /**< unmarked live objects */
    size_t verified;      /**< left for the STW verification */
    size_t opaque_marked; /**< marked but not traced concurrently */
    size_t opaque_candidates; /**< candidates no concurrent pass could trace */
    size_t expanded;      /**< added to pauses behind opaque candidates */
    size_t garbage;       /**< handed to the embedder */
    size_t resurrected;   /**< garbage found alive again */
    size_t pauses;        /**< stop-the-world pauses */
    int64_t max_pause_ns; /**< the longest pause, stopped -> restarted */
    int64_t max_wait_ns;  /**< the longest time-to-safepoint */
    size_t shaded;        /**< tc_collector_shade() calls during it */
    size_t dependent;     /**< the garbage's dependents: held only by the verified garbage */
    size_t objects;       /**< objects of the heap the collection saw (CollectionStats::objects) */
    int64_t phase_ns[TC_PHASE_COUNT]; /**< wall time of each phase (tc_phase_name), 0 if skipped */
} tc_stats;

/** The stop-the-world protocol (tricolor::World, tricolor/stop_the_world.h). */
typedef struct tc_world tc_world;
/** A new world with no mutator; NULL if memory is out. */
tc_world *tc_world_new(void);
/** Frees a world that no thread is attached to. */
void tc_world_free(tc_world *world);
/* Each of the five below, and tc_world_set_roots(), returns 0, or -1 on
 * misuse (see tc_last_error()). */
/** Registers the calling thread as a running mutator. */
int tc_world_attach(tc_world *world);
/** Unregisters the calling thread. */
int tc_world_detach(tc_world *world);
/** The poll: parks the calling mutator while a stop is pending. */
int tc_world_safepoint(tc_world *world);
/** Enters a (nestable) inactive region: the thread counts as stopped. */
int tc_world_enter_inactive(tc_world *world);
/** Leaves it; at the outermost level waits while the world is stopped. */
int tc_world_leave_inactive(tc_world *world);
/** Gives the calling thread's root context to the collector
 *  (World::set_roots): each later root scan passes it to
 *  tc_embedder_ops.for_each_mutator_root while the thread stays attached;
 *  NULL for none.  0, or -1 if the thread is not attached. */
int tc_world_set_roots(tc_world *world, void *roots);

/** Creates a collector. The tables are copied; the contexts and `world`
 *  (may be NULL if the embedder has stop_world/start_world) must outlive
 *  it. NULL on error. */
tc_collector *tc_collector_new(const tc_heap_ops *heap, void *heap_ctx,
                               const tc_embedder_ops *embedder, void *embedder_ctx,
                               tc_world *world, const tc_config *config);
/** Stops the background thread and frees the collector. */
void tc_collector_free(tc_collector *collector);
/** Runs one whole collection in `mode` (TC_MODE_*, or -1 for the
 *  configured one); fills *stats if not NULL. 0, or -1 on error. */
int tc_collector_collect(tc_collector *collector, int mode, tc_stats *stats);
/** Pacing: bytes allocated (may trigger a collection). */
void tc_collector_note_allocation(tc_collector *collector, size_t bytes);
/** Pacing: bytes freed. */
void tc_collector_note_free(tc_collector *collector, size_t bytes);

/** The pacer's answers (tricolor::Pace). */
enum { TC_PACE_NONE = 0, TC_PACE_COLLECT = 1, TC_PACE_ASSIST = 2 };
/** Pacing by the embedder's own counts (Collector::pace): whether a
 *  collection is due with `since` units allocated since the last one and
 *  `live` alive after it; TC_PACE_*. */
int tc_collector_pace(tc_collector *collector, size_t since, size_t live);
/** An automatic collection is due (Collector::request_collection): wakes
 *  the background thread, and with `assist` waits for it to run once.
 *  0, or -1 on error. */
int tc_collector_request_collection(tc_collector *collector, bool assist);
/** Whether the background thread runs. */
bool tc_collector_background_running(const tc_collector *collector);
/** Stops the background thread (Collector::shutdown), waiting for a
 *  collection in progress; later triggers collect on their own thread. */
void tc_collector_shutdown(tc_collector *collector);

/** obj survives the collection in progress, if any (tricolor/collector.h
 *  Collector::shade: e.g. the referent of a new weak reference with a
 *  callback).  0, or -1 if memory ran out (the object is then not
 *  shaded). */
int tc_collector_shade(tc_collector *collector, void *obj);

/** The message of the calling thread's last error, or "" if none. */
const char *tc_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* TRICOLOR_C_API_H */
