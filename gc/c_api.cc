// gc/c_api.cc -- tricolor/c_api.h: the C API over the C++ core.
//
// Adapters: CHeap implements tricolor::Heap and CEmbedder implements
// tricolor::Embedder by calling the runtime's function tables; a
// tc_collector owns both adapters and the Collector.  tc_visitor is the
// C++ Visitor seen through an opaque pointer.  Every entry point catches
// C++ exceptions and turns them into -1/NULL plus a thread-local message.
//
// Concurrency: the adapters hold only the copied tables and contexts
// (immutable after construction); the callbacks are called on whatever
// thread the core calls them on, as the C++ contract says.  The error
// message is thread_local.
#include "tricolor/c_api.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tricolor/collector.h"
#include "tricolor/embedder.h"
#include "tricolor/heap.h"
#include "tricolor/segment_map.h"
#include "tricolor/stop_the_world.h"

namespace {

thread_local std::string last_error;

tc_visitor* as_c(tricolor::Visitor& v) { return reinterpret_cast<tc_visitor*>(&v); }

class CHeap final : public tricolor::Heap {
 public:
  CHeap(const tc_heap_ops& ops, void* ctx)
      : ops_(ops), ctx_(ctx),
        map_(ops.is_object == tc_segment_map_heap_ops()->is_object &&
                     ops.try_mark == tc_segment_map_heap_ops()->try_mark
                 ? static_cast<const tc_segment_map*>(ctx)
                 : nullptr),
        serial_(next_serial.fetch_add(1, std::memory_order_relaxed)) {}
  std::size_t arena_count() const override { return ops_.arena_count(ctx_); }
  tricolor::ArenaBitmaps arena_bitmaps(std::size_t i) const override {
    tricolor::ArenaBitmaps bm{};
    ops_.arena_bitmaps(ctx_, i, &bm.starts, &bm.marks);
    return bm;
  }
  bool is_object(const void* p) const override {
    if (!map_) return ops_.is_object(ctx_, p);
    const tc_segment_map_segment* s = segment(p);
    return s != nullptr && reinterpret_cast<uintptr_t>(p) % TC_GRANULE == 0 && tc_bitmap_test(&s->starts, p);
  }
  bool try_mark(const void* obj) override { return ops_.try_mark(ctx_, obj); }
  // Over a segment map (the CPython binding's heap): one inline lookup for
  // both bits instead of two calls through the table, each with its own
  // lookup -- the marker asks this of every reference it reads.
  bool mark_if_object(const void* p) override {
    if (!map_) return ops_.is_object(ctx_, p) && ops_.try_mark(ctx_, p);
    const tc_segment_map_segment* s = segment(p);
    return s != nullptr && reinterpret_cast<uintptr_t>(p) % TC_GRANULE == 0 &&
           tc_bitmap_test(&s->starts, p) && tc_bitmap_set(&s->marks, p, __ATOMIC_RELAXED);
  }
  void set_black_allocation(bool on) override { ops_.set_black_allocation(ctx_, on); }
  void clear_marks() override { ops_.clear_marks(ctx_); }

 private:
  // The segment of p in map_, or null.  The last segment this thread found
  // for this CHeap is kept: references mostly stay in one 2^shift-byte
  // segment, and a hit saves the map's two dependent loads.  Keyed by
  // serial_, never reused, so that a map freed and another allocated at its
  // address never meets a stale entry; segment records live as long as
  // their map, which outlives the collector (tricolor/segment_map.h).
  const tc_segment_map_segment* segment(const void* p) const {
    thread_local std::uint64_t last_serial = 0;
    thread_local uintptr_t last_n = 0;
    thread_local const tc_segment_map_segment* last_s = nullptr;
    const uintptr_t n = reinterpret_cast<uintptr_t>(p) >> map_->shift;
    if (last_serial == serial_ && last_n == n) return last_s;
    const tc_segment_map_segment* s = tc_segment_map_lookup(map_, p);
    if (s != nullptr) last_serial = serial_, last_n = n, last_s = s;
    return s;
  }
  const tc_heap_ops ops_;
  void* const ctx_;
  const tc_segment_map* const map_;  // ctx_, when ops_ are tc_segment_map_heap_ops()'s
  static inline std::atomic<std::uint64_t> next_serial{1};
  const std::uint64_t serial_;  // this CHeap's key in mark_if_object()'s cache
};

class CEmbedder final : public tricolor::Embedder {
 public:
  CEmbedder(const tc_embedder_ops& ops, void* ctx) : ops_(ops), ctx_(ctx) {}
  bool trace(void* obj, tricolor::Visitor& v, bool concurrent) override {
    return ops_.trace(ctx_, obj, as_c(v), concurrent);
  }
  std::intptr_t refcount(void* obj) override { return ops_.refcount(ctx_, obj); }
  bool collectable(void* obj) override { return ops_.collectable ? ops_.collectable(ctx_, obj) : true; }
  void for_each_global_root(tricolor::Visitor& v) override {
    if (ops_.for_each_global_root) ops_.for_each_global_root(ctx_, as_c(v));
  }
  void for_each_thread_root(tricolor::Visitor& v) override {
    if (ops_.for_each_thread_root) ops_.for_each_thread_root(ctx_, as_c(v));
    else Embedder::for_each_thread_root(v);  // for_each_mutator_root per thread
  }
  void for_each_mutator_root(void* roots, tricolor::Visitor& v) override {
    if (ops_.for_each_mutator_root) ops_.for_each_mutator_root(ctx_, roots, as_c(v));
  }
  void stop_world() override {
    if (ops_.stop_world) ops_.stop_world(ctx_);
    else Embedder::stop_world();
  }
  void start_world() override {
    if (ops_.start_world) ops_.start_world(ctx_);
    else Embedder::start_world();
  }
  void hold(void* obj) override {
    if (ops_.hold) ops_.hold(ctx_, obj);
    else ops_.hold_all(ctx_, &obj, 1);
  }
  void hold_all(std::span<void* const> g) override {
    if (ops_.hold_all) ops_.hold_all(ctx_, g.data(), g.size());
    else Embedder::hold_all(g);
  }
  void release(void* obj) override { ops_.release(ctx_, obj); }
  bool finalize(std::span<void* const> g) override {
    return ops_.finalize ? ops_.finalize(ctx_, g.data(), g.size()) : false;
  }
  void clear(std::span<void* const> g) override { ops_.clear(ctx_, g.data(), g.size()); }
  void attach_worker() override {
    if (ops_.attach_worker) ops_.attach_worker(ctx_);
  }
  void detach_worker() override {
    if (ops_.detach_worker) ops_.detach_worker(ctx_);
  }
  bool start_thread(void (*body)(void*), void* arg) override {
    return ops_.start_thread ? ops_.start_thread(ctx_, body, arg) : Embedder::start_thread(body, arg);
  }
  void* enter_blocking() override {
    return ops_.enter_blocking ? ops_.enter_blocking(ctx_) : Embedder::enter_blocking();
  }
  void leave_blocking(void* token) override {
    if (ops_.enter_blocking) {
      ops_.leave_blocking(ctx_, token);
    } else {
      Embedder::leave_blocking(token);
    }
  }
  void collect_automatically(tricolor::Collector& c) override {
    if (ops_.collect_automatically) {
      ops_.collect_automatically(ctx_, owner);
    } else {
      Embedder::collect_automatically(c);
    }
  }
  bool caller_runs_alone() override {
    return ops_.caller_runs_alone != nullptr && ops_.caller_runs_alone(ctx_);
  }
  void refcount_error(void* obj, std::int64_t excess) override {
    if (ops_.refcount_error) {
      ops_.refcount_error(ctx_, obj, excess);
    } else {
      Embedder::refcount_error(obj, excess);
    }
  }

  tc_collector* owner = nullptr;  // set once the tc_collector exists

 private:
  const tc_embedder_ops ops_;
  void* const ctx_;
};

// Runs f(); on a C++ exception records its message and returns `fail`.
template <class F, class R>
R guarded(R fail, F&& f) {
  try {
    last_error.clear();
    return f();
  } catch (const std::exception& e) {
    last_error = e.what();
  } catch (...) {
    last_error = "tricolor: unknown error";
  }
  return fail;
}

}  // namespace

struct tc_world {
  tricolor::World world;
};

struct tc_collector {
  CHeap heap;
  CEmbedder embedder;
  std::unique_ptr<tricolor::Collector> collector;
};

extern "C" {

void tc_visit(tc_visitor* v, void* obj) { reinterpret_cast<tricolor::Visitor*>(v)->visit(obj); }

void tc_config_init(tc_config* c) {
  const tricolor::CollectorConfig d;
  c->mode = d.mode == tricolor::Mode::kFullStw ? TC_MODE_FULL_STW : TC_MODE_CONCURRENT;
  c->mark_workers = d.mark_workers;
  c->growth_ratio = d.growth_ratio;
  c->min_trigger_bytes = d.min_trigger_bytes;
  c->background = d.background;
  c->verify_batch = d.verify_batch;
  c->filter_candidates = d.filter_candidates;
  c->reclaiming_growth_ratio = d.reclaiming_growth_ratio;
  c->reclaiming_fraction = d.reclaiming_fraction;
  c->assist = d.assist;
  c->pause_workers = d.pause_workers;
}

tc_world* tc_world_new(void) {
  return guarded<>(static_cast<tc_world*>(nullptr), [] { return new tc_world; });
}
void tc_world_free(tc_world* w) { delete w; }
int tc_world_attach(tc_world* w) { return guarded(-1, [&] { w->world.attach(); return 0; }); }
int tc_world_detach(tc_world* w) { return guarded(-1, [&] { w->world.detach(); return 0; }); }
int tc_world_enter_inactive(tc_world* w) {
  return guarded(-1, [&] { w->world.enter_inactive(); return 0; });
}
int tc_world_leave_inactive(tc_world* w) {
  return guarded(-1, [&] { w->world.leave_inactive(); return 0; });
}
int tc_world_set_roots(tc_world* w, void* roots) {
  return guarded(-1, [&] { w->world.set_roots(roots); return 0; });
}
int tc_world_safepoint(tc_world* w) {
  // The C++ poll checks attachment only in debug builds; the C one always
  // does (a C caller has no exception to catch a late failure with).
  return guarded(-1, [&] {
    if (!w->world.attached()) {
      throw tricolor::UsageError("tc_world_safepoint: the calling thread is not attached to this world");
    }
    w->world.safepoint();
    return 0;
  });
}

tc_collector* tc_collector_new(const tc_heap_ops* heap, void* heap_ctx, const tc_embedder_ops* emb,
                               void* emb_ctx, tc_world* world, const tc_config* config) {
  return guarded(static_cast<tc_collector*>(nullptr), [&]() -> tc_collector* {
    if (!heap || !heap->arena_count || !heap->arena_bitmaps || !heap->is_object || !heap->try_mark ||
        !heap->set_black_allocation || !heap->clear_marks) {
      throw tricolor::UsageError("tc_collector_new: every tc_heap_ops callback is required");
    }
    if (!emb || !emb->trace || !emb->refcount || !(emb->hold || emb->hold_all) || !emb->release ||
        !emb->clear) {
      throw tricolor::UsageError(
          "tc_collector_new: tc_embedder_ops needs trace, refcount, hold or hold_all, release and clear");
    }
    if (!emb->stop_world != !emb->start_world) {
      throw tricolor::UsageError("tc_collector_new: give both stop_world and start_world, or neither");
    }
    if (!emb->enter_blocking != !emb->leave_blocking) {
      throw tricolor::UsageError("tc_collector_new: give both enter_blocking and leave_blocking, or neither");
    }
    if (!emb->stop_world && !world) {
      throw tricolor::UsageError(
          "tc_collector_new: without stop_world/start_world the collector needs a tc_world");
    }
    tricolor::CollectorConfig cfg;
    if (config) {
      cfg.mode = config->mode == TC_MODE_FULL_STW ? tricolor::Mode::kFullStw : tricolor::Mode::kConcurrent;
      cfg.mark_workers = config->mark_workers;
      cfg.growth_ratio = config->growth_ratio;
      cfg.min_trigger_bytes = config->min_trigger_bytes;
      cfg.background = config->background;
      cfg.verify_batch = config->verify_batch;
      cfg.filter_candidates = config->filter_candidates;
      cfg.reclaiming_growth_ratio = config->reclaiming_growth_ratio;
      cfg.reclaiming_fraction = config->reclaiming_fraction;
      cfg.assist = config->assist;
      cfg.pause_workers = config->pause_workers;
    }
    auto c = std::make_unique<tc_collector>(tc_collector{CHeap(*heap, heap_ctx), CEmbedder(*emb, emb_ctx), nullptr});
    c->embedder.owner = c.get();
    c->collector = std::make_unique<tricolor::Collector>(c->heap, c->embedder,
                                                         world ? &world->world : nullptr, cfg);
    return c.release();
  });
}

void tc_collector_free(tc_collector* c) { delete c; }

const char* tc_phase_name(int phase) {
  if (phase < 0 || phase >= TC_PHASE_COUNT) return nullptr;
  return tricolor::phase_name(static_cast<tricolor::Phase>(phase)).data();
}

int tc_collector_collect(tc_collector* c, int mode, tc_stats* out) {
  return guarded(-1, [&] {
    tricolor::CollectionStats st =
        mode < 0 ? c->collector->collect()
                 : c->collector->collect(mode == TC_MODE_FULL_STW ? tricolor::Mode::kFullStw
                                                                  : tricolor::Mode::kConcurrent);
    if (out) {
      std::int64_t max_wait = 0;
      for (std::int64_t w : st.wait_ns) max_wait = std::max(max_wait, w);
      *out = tc_stats{st.full_stw,      st.fell_back,         st.marked,          st.candidates,
                      st.verified,      st.opaque_marked,     st.opaque_candidates, st.expanded,
                      st.garbage,       st.resurrected,       st.pause_ns.size(), st.max_pause_ns(),
                      max_wait,         st.shaded,            st.dependent,
                      st.objects,       {}};
      static_assert(TC_PHASE_COUNT == static_cast<int>(tricolor::Phase::kCount));
      std::copy(st.phase_ns.begin(), st.phase_ns.end(), out->phase_ns);
    }
    return 0;
  });
}

void tc_collector_note_allocation(tc_collector* c, size_t bytes) {
  guarded(0, [&] { c->collector->note_allocation(bytes); return 0; });
}
void tc_collector_note_free(tc_collector* c, size_t bytes) { c->collector->note_free(bytes); }

int tc_collector_pace(tc_collector* c, size_t since, size_t live) {
  switch (c->collector->pace(since, live)) {
    case tricolor::Pace::kNone: return TC_PACE_NONE;
    case tricolor::Pace::kCollect: return TC_PACE_COLLECT;
    case tricolor::Pace::kAssist: return TC_PACE_ASSIST;
  }
  return TC_PACE_NONE;
}
int tc_collector_request_collection(tc_collector* c, bool assist) {
  return guarded(-1, [&] { c->collector->request_collection(assist); return 0; });
}
bool tc_collector_background_running(const tc_collector* c) { return c->collector->background_running(); }
void tc_collector_shutdown(tc_collector* c) { c->collector->shutdown(); }

int tc_collector_shade(tc_collector* c, void* obj) {
  return guarded(-1, [&] { c->collector->shade(obj); return 0; });
}

const char* tc_last_error(void) { return last_error.c_str(); }

}  // extern "C"
