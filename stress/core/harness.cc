// stress/core/harness.cc -- see harness.h for the invariants.
#include "stress/core/harness.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "allocator/testing.h"  // SpaceTesting: the timing plan's allocation pause
#include "synthetic/runtime.h"

namespace stress {

namespace {

using synthetic::Mutator;
using synthetic::Object;
using synthetic::Runtime;
using tricolor::Phase;

std::string id(std::uint64_t rid) { return "#" + std::to_string(rid); }

// The survivors of a run, for the failure message: each with its refcount,
// the references it gets from the other survivors, its flags and slots.
std::string describe(const std::vector<Object*>& objs) {
  std::unordered_map<const Object*, int> internal;
  for (Object* o : objs) {
    for (std::uint32_t i = 0; i < o->nslots; i++) {
      if (Object* c = o->slots()[i].load()) internal[c]++;
    }
  }
  std::string out;
  for (Object* o : objs) {
    out += "\n    " + id(o->id) + " refcount " + std::to_string(o->refcount.load()) + " (" +
           std::to_string(internal[o]) + " from survivors) flags " + std::to_string(o->flags.load()) +
           " slots [";
    for (std::uint32_t i = 0; i < o->nslots; i++) {
      Object* c = o->slots()[i].load();
      out += (i ? " " : "") + (c ? id(c->id) : std::string("-"));
    }
    out += "]";
  }
  return out;
}

// A wait of the timing plan: 1 is a yield.
void wait_us(int us) {
  if (us == 1) std::this_thread::yield();
  else if (us > 1) std::this_thread::sleep_for(std::chrono::microseconds(us));
}

// A failed allocation is a finding, not a crash: the Space returns
// nullptr only when it can add no arena (a spurious nullptr once crashed
// the concurrent property: issue 17).
std::string allocation_failed(Runtime& rt, int slots) {
  return "allocating an object of " + std::to_string(slots) + " slots failed, with " +
         std::to_string(rt.space().arena_count()) + " arenas (" +
         std::to_string(rt.space().reserved_bytes() >> 20) + " MiB) reserved";
}

synthetic::RuntimeConfig config(const Shape& shape) {
  synthetic::RuntimeConfig c;
  c.space.arena_bytes = std::size_t{32} << 20;
  c.collector.background = false;
  c.collector.min_trigger_bytes = std::size_t{1} << 40;  // only the program collects
  c.collector.mark_workers = 2;
  c.globals = static_cast<std::size_t>(shape.globals + shape.threads);  // + one mailbox per thread
  c.collector.verify_batch = shape.verify_batch;
  c.checked = true;
  return c;
}

// The timing plan's allocation pause (program.h), set on the Space before
// any mutator thread starts (allocator/testing.h).
void set_alloc_pause(const Shape& shape, tricolor::Space& space) {
  if (shape.alloc_pause <= 0) return;
  tricolor::SpaceTesting::set_between_bits_hook(
      space, [every = static_cast<unsigned>(shape.alloc_pause), us = shape.alloc_pause_us,
              sp = &space](void*) {
        // While black allocation is on (marking and the candidate scan run)
        // 8 times as often: an allocation that straddles the scan is where
        // a race between the allocator's and the scan's orders lives.
        const unsigned e = sp->black_allocation() ? std::max(1u, every / 8) : every;
        thread_local unsigned n = 0;
        if (++n % e == 0) wait_us(us);
      });
}

// A mutator thread that runs jobs handed to it, one at a time; idle (and
// so stopped, for the world) in between.
class Worker {
 public:
  using Job = std::function<void(Mutator&)>;
  explicit Worker(Runtime& rt) : rt_(rt), thread_([this] { loop(); }) {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return m_ != nullptr; });  // attached and ready
  }
  ~Worker() {
    post({}, /*wait=*/false);
    thread_.join();
  }
  // Runs job on this thread; with `wait`, returns when it is done.
  void post(Job job, bool wait = true) {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return !pending_; });
    job_ = std::move(job);
    pending_ = true;
    quit_ = !job_;
    cv_.notify_all();
    if (wait) cv_.wait(lk, [&] { return !pending_; });
  }
  Mutator& mutator() { return *m_; }

 private:
  void loop() {
    Mutator m(rt_);
    {
      std::lock_guard lk(mu_);
      m_ = &m;
      cv_.notify_all();
    }
    for (;;) {
      Job job;
      {
        tricolor::InactiveScope idle(rt_.world());
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return pending_; });
        if (quit_) break;
        job = std::move(job_);
      }
      job(m);
      m.safepoint();
      std::lock_guard lk(mu_);
      pending_ = false;
      cv_.notify_all();
    }
  }
  Runtime& rt_;
  std::mutex mu_;
  std::condition_variable cv_;
  Job job_;
  bool pending_ = false, quit_ = false;
  Mutator* m_ = nullptr;
  std::thread thread_;
};

// ---------------------------------------------------------------------------
// The interleaved run, with its model.

struct MObj {
  Object* ptr = nullptr;
  std::vector<std::uint64_t> slots;  // ids of the referents, 0 = empty
  bool freed = false;
  bool finalizer = false;
  int resurrect_to = -1;  // global the finalizer stores the object into
  int fin_runs = 0;
  bool weakref = false, callback = false;
  std::uint64_t referent = 0;
  int cb_runs = 0;
  // I4: it was reachable at some moment when its referent was not -- a
  // stop-the-world collection then would have run its callback.  Without
  // such a moment it died with (or before) its referent, and CPython never
  // runs the callback.
  bool cb_allowed = false;
  bool was_garbage = false;  // handed to finalization once
  long unreachable_since = -1;  // collections started when it became unreachable
};

class Interleaved {
 public:
  Interleaved(const Shape& shape) : shape_(shape), rt_(config(shape)) {
    locals_.resize(shape.threads);
    globals_.assign(shape.globals, 0);
    pending_.resize(shape.threads);
    for (int t = 0; t < shape.threads; t++) workers_.push_back(std::make_unique<Worker>(rt_));
    rt_.on_free = [this](Object* o) { on_free(o); };
    rt_.on_finalize = [this](std::span<void* const> g) { on_finalize(g); };
    rt_.on_finalizer = [this](Object* o, std::span<void* const> g) { on_finalizer(o, g); };
    rt_.on_callback = [this](Object* w, std::span<void* const> g) { on_callback(w, g); };
    rt_.on_phase_end = [this](Phase p) { on_phase(p); };
  }

  std::vector<std::string> run(const std::vector<Op>& program) {
    for (const Op& op : program) {
      if (op.kind == Kind::kCollect) {
        collect(op);
      } else {
        dispatch(op);
        checkpoint();
      }
      if (!violations_.empty() || rt_.violated()) break;
    }
    if (violations_.empty() && !rt_.violated()) teardown();
    rt_.on_phase_end = nullptr;
    workers_.clear();
    rt_.on_free = nullptr;
    rt_.on_finalize = nullptr;
    rt_.on_finalizer = nullptr;
    rt_.on_callback = nullptr;
    for (std::string& v : rt_.violations()) violations_.push_back(std::move(v));
    return violations_;
  }

 private:
  void fail(std::string what) {
    if (violations_.size() < 20) violations_.push_back(std::move(what));
  }

  void dispatch(const Op& op) {
    workers_[op.thread]->post([this, &op](Mutator& m) { exec(op, m); });
  }

  void add(Object* o) {
    MObj mo;
    mo.ptr = o;
    mo.slots.assign(o->nslots, 0);
    objs_[o->id] = std::move(mo);
  }
  void push(int t, Mutator& m, Object* o) {
    m.locals.push_back(o);
    locals_[t].push_back(o->id);
  }
  Object* take(int t, Mutator& m, std::size_t i) {
    Object* o = m.locals[i];
    m.locals.erase(m.locals.begin() + static_cast<long>(i));
    locals_[t].erase(locals_[t].begin() + static_cast<long>(i));
    return o;
  }

  // One operation on thread op.thread (called on that thread).
  void exec(const Op& op, Mutator& m) {
    std::lock_guard lk(mm_);
    in_op_ = true;
    struct Done {
      bool& f;
      ~Done() { f = false; }
    } done{in_op_};
    const int t = op.thread;
    auto& L = m.locals;
    auto pick = [&](int i) { return L.empty() ? -1 : static_cast<int>(static_cast<std::size_t>(i) % L.size()); };
    const int ia = pick(op.a), ib = pick(op.b);
    auto slot_of = [&](Object* o) { return o->nslots ? static_cast<std::uint32_t>(op.slot) % o->nslots : 0; };
    switch (op.kind) {
      case Kind::kCreate: {
        Object* o = rt_.allocate(static_cast<std::uint32_t>(op.n));
        if (o == nullptr) {
          fail(allocation_failed(rt_, op.n));
          break;
        }
        add(o);
        push(t, m, o);
        break;
      }
      case Kind::kRing: {
        std::vector<Object*> ring;
        for (int i = 0; i < op.n; i++) {
          if (Object* o = rt_.allocate(1)) ring.push_back(o);
        }
        if (static_cast<int>(ring.size()) < op.n) {
          fail(allocation_failed(rt_, 1));
          for (Object* o : ring) rt_.decref(o);
          break;
        }
        for (Object* o : ring) add(o);
        for (int i = 0; i < op.n; i++) {
          rt_.store(ring[i], 0, ring[(i + 1) % op.n]);
          objs_[ring[i]->id].slots[0] = ring[(i + 1) % op.n]->id;
        }
        if (op.flag) {
          rt_.set_finalizer(ring.back());
          objs_[ring.back()->id].finalizer = true;
        }
        push(t, m, ring[0]);
        for (int i = 1; i < op.n; i++) rt_.decref(ring[i]);
        break;
      }
      case Kind::kLink: {
        if (ia < 0 || L[ia]->nslots == 0) break;
        // The model first: dropping the old referent may run a finalizer
        // that changes the model again.
        Object* x = L[ia];
        objs_[x->id].slots[slot_of(x)] = L[ib]->id;
        rt_.store(x, slot_of(x), L[ib]);
        break;
      }
      case Kind::kUnlink:
      case Kind::kLoad:
      case Kind::kMove: {
        if (ia < 0 || L[ia]->nslots == 0) break;
        Object* x = L[ia];
        const std::uint32_t s = slot_of(x);
        if (op.kind != Kind::kUnlink) {
          if (Object* v = rt_.load(x, s)) {
            if (v->id != objs_[x->id].slots[s]) {
              fail("load of " + id(x->id) + ".slot" + std::to_string(s) + " gave " + id(v->id) +
                   ", the program stored " + id(objs_[x->id].slots[s]));
            }
            push(t, m, v);
          }
        }
        if (op.kind != Kind::kLoad) {
          objs_[x->id].slots[s] = 0;
          rt_.store(x, s, nullptr);
        }
        break;
      }
      case Kind::kDrop:
        if (ia >= 0) rt_.decref(take(t, m, static_cast<std::size_t>(ia)));
        break;
      case Kind::kHandOff: {
        if (ia < 0) break;
        Object* o = take(t, m, static_cast<std::size_t>(ia));
        // The receiver is idle (it waits for a job), so its locals are
        // ours to change; the dispatch's mutex orders the accesses.
        workers_[op.to]->mutator().locals.push_back(o);
        locals_[op.to].push_back(o->id);
        break;
      }
      case Kind::kSetGlobal:
        if (ia < 0) break;
        globals_[op.g] = L[ia]->id;
        rt_.set_global(static_cast<std::size_t>(op.g), L[ia]);
        break;
      case Kind::kGetGlobal:
        if (Object* v = rt_.get_global(static_cast<std::size_t>(op.g))) push(t, m, v);
        break;
      case Kind::kClearGlobal:
        globals_[op.g] = 0;
        rt_.set_global(static_cast<std::size_t>(op.g), nullptr);
        break;
      case Kind::kFinalizer: {
        if (ia < 0) break;
        rt_.set_finalizer(L[ia]);
        MObj& mo = objs_[L[ia]->id];
        mo.finalizer = true;
        mo.resurrect_to = op.flag ? op.g : -1;
        break;
      }
      case Kind::kWeakref: {
        if (ia < 0) break;
        Object* w = rt_.new_weakref(L[ia], 1, op.flag);
        if (w == nullptr) {
          fail(allocation_failed(rt_, 1));
          break;
        }
        add(w);
        MObj& mw = objs_[w->id];
        mw.weakref = true;
        mw.callback = op.flag;
        mw.referent = L[ia]->id;
        push(t, m, w);
        break;
      }
      case Kind::kWeakGet: {
        if (ia < 0 || !L[ia]->has(Object::kWeakref)) break;
        Object* r = rt_.weak_get(L[ia]);
        check_weak(L[ia]->id, r, reachable());
        if (r != nullptr) push(t, m, r);
        break;
      }
      case Kind::kCreateAcross:
        if (Object* o = rt_.begin_allocate(static_cast<std::uint32_t>(op.n))) {
          pending_[t].push_back({o, op.n});
        } else {
          fail(allocation_failed(rt_, op.n));
        }
        break;
      case Kind::kCollect: break;
    }
  }

  // Completes the allocations begun by kCreateAcross (after the filter:
  // the last phase before the verification's pause).
  void finish_pending() {
    for (int t = 0; t < shape_.threads; t++) {
      if (pending_[t].empty()) continue;
      workers_[t]->post([this, t](Mutator& m) {
        std::lock_guard lk(mm_);
        for (auto [o, n] : pending_[t]) {
          rt_.finish_allocate(o, static_cast<std::uint32_t>(n));
          add(o);
          push(t, m, o);
        }
        pending_[t].clear();
      });
    }
  }

  void collect(const Op& op) {
    started_++;
    current_ = &op;
    ran_.assign(op.during.size(), false);
    reach_at_verify_.reset();
    rt_.collector().collect(op.flag ? tricolor::Mode::kFullStw : tricolor::Mode::kConcurrent);
    current_ = nullptr;
    finish_pending();
    completed_++;
    checkpoint();
    check_deadlines();
  }

  // The collector's phase hook: world running, collector waiting.
  void on_phase(Phase p) {
    {
      std::lock_guard lk(mm_);
      if (p == Phase::kFinalize) clearing_ = true;  // until the clear phase of this batch ends
      if (p == Phase::kClear) clearing_ = false;
    }
    if (p == Phase::kVerify && !reach_at_verify_) {
      std::lock_guard lk(mm_);
      reach_at_verify_ = reachable();
    }
    if (current_ == nullptr) return;
    if (p == Phase::kCandidateFilter) finish_pending();
    for (std::size_t i = 0; i < current_->during.size(); i++) {
      const Op& d = current_->during[i];
      if (ran_[i] || d.after != p) continue;
      ran_[i] = true;
      dispatch(d);
      std::lock_guard lk(mm_);
      note_callback_moments(reachable());
    }
    checkpoint();
  }

  void note_callback_moments(const std::unordered_set<std::uint64_t>& reach) {
    for (auto& [rid, mo] : objs_) {
      if (mo.callback && !mo.cb_allowed && reach.contains(rid) && !reach.contains(mo.referent)) {
        mo.cb_allowed = true;
      }
    }
  }

  std::unordered_set<std::uint64_t> reachable() {
    std::unordered_set<std::uint64_t> seen;
    std::vector<std::uint64_t> stack;
    auto root = [&](std::uint64_t r) {
      if (r && seen.insert(r).second) stack.push_back(r);
    };
    for (auto g : globals_) root(g);
    for (auto& l : locals_) {
      for (auto r : l) root(r);
    }
    while (!stack.empty()) {
      std::uint64_t r = stack.back();
      stack.pop_back();
      for (auto c : objs_[r].slots) root(c);
    }
    return seen;
  }

  // I4 b and d for what weak reference `wid` gave (r: a new reference, or
  // nullptr).
  void check_weak(std::uint64_t wid, Object* r, const std::unordered_set<std::uint64_t>& reach) {
    const MObj& mw = objs_[wid];
    const MObj& mr = objs_[mw.referent];
    if (r != nullptr) {
      if (r->id != mw.referent || mr.freed) {
        fail("weak reference " + id(wid) + " to " + id(mw.referent) + " gave " + id(r->id) +
             (mr.freed ? " after its referent was freed" : ""));
      } else if (mw.was_garbage) {
        // CPython's clear_weakrefs clears a weak reference that is itself
        // garbage, and a finalizer that resurrects it does not undo that.
        fail("weak reference " + id(wid) + " was garbage in a collection, which clears it, but "
             "still led to " + id(r->id));
      }
    } else if (!mr.freed && !mr.was_garbage && !mw.was_garbage && reach.contains(mw.referent)) {
      fail("weak reference " + id(wid) + " was cleared while its referent " + id(mw.referent) +
           " is reachable, and neither of them was ever garbage");
    }
  }

  // I1, I4 b and d for every weak reference, and the start of I2's clocks.
  void checkpoint() {
    std::lock_guard lk(mm_);
    auto reach = reachable();
    note_callback_moments(reach);
    // As the program could, through every weak reference it can reach (one
    // it cannot may be garbage being collected, cleared before the model
    // hears of it in on_finalize).
    for (auto& [wid, mw] : objs_) {
      if (!mw.weakref || mw.freed || !reach.contains(wid)) continue;
      Object* r = rt_.weak_get(mw.ptr);
      check_weak(wid, r, reach);
      if (r != nullptr) rt_.decref(r);
    }
    for (auto& [rid, mo] : objs_) {
      if (reach.contains(rid)) {
        mo.unreachable_since = -1;
        if (mo.freed) {
          fail("object " + id(rid) + " was freed while reachable");
          continue;
        }
        for (std::size_t s = 0; s < mo.slots.size(); s++) {
          Object* c = mo.ptr->slots()[s].load(std::memory_order_acquire);
          std::uint64_t got = c ? c->id : 0;
          if (got != mo.slots[s]) {
            fail("reachable object " + id(rid) + ".slot" + std::to_string(s) + " holds " + id(got) +
                 ", the program stored " + id(mo.slots[s]) + " (cleared or freed by the collector)");
          }
        }
      } else if (!mo.freed && mo.unreachable_since < 0) {
        mo.unreachable_since = started_;
      }
    }
  }

  // I2.
  void check_deadlines() {
    std::lock_guard lk(mm_);
    for (auto& [rid, mo] : objs_) {
      if (!mo.freed && mo.unreachable_since >= 0 && completed_ >= mo.unreachable_since + 2) {
        fail("object " + id(rid) + ", unreachable since collection " +
             std::to_string(mo.unreachable_since) + " started, survived collection " +
             std::to_string(completed_) + " (a leaked cycle)");
      }
    }
  }

  void on_free(Object* o) {
    std::lock_guard lk(mm_);
    auto it = objs_.find(o->id);
    if (it == objs_.end()) return;  // begun, never finished: not the model's
    MObj& mo = it->second;
    if (mo.finalizer && mo.fin_runs != 1) {
      fail("object " + id(o->id) + " was freed after its finalizer ran " + std::to_string(mo.fin_runs) +
           " times (expected once)");
    }
    mo.freed = true;
    std::fill(mo.slots.begin(), mo.slots.end(), 0);
  }

  // I3: called first in finalize(), before weak references are cleared.
  void on_finalize(std::span<void* const> garbage) {
    std::lock_guard lk(mm_);
    garbage_now_.clear();
    for (void* g : garbage) {
      auto rid = static_cast<Object*>(g)->id;
      garbage_now_.insert(rid);
      objs_[rid].was_garbage = true;
      if (reach_at_verify_ && reach_at_verify_->contains(rid)) {
        fail("object " + id(rid) + " was handed to finalization as garbage while reachable");
      }
    }
  }

  void on_finalizer(Object* o, std::span<void* const> garbage) {
    std::lock_guard lk(mm_);
    MObj& mo = objs_[o->id];
    if (++mo.fin_runs > 1) fail("the finalizer of " + id(o->id) + " ran twice");
    if (!garbage.empty()) {
      // I4: no weak reference leads a finalizer to the garbage.
      for (auto& [wid, mw] : objs_) {
        if (!mw.weakref || mw.freed || !garbage_now_.contains(mw.referent)) continue;
        if (Object* r = rt_.weak_get(mw.ptr)) {
          fail("the finalizer of " + id(o->id) + " reached garbage " + id(r->id) +
               " through weak reference " + id(wid) + " (not cleared before finalizers)");
          rt_.decref(r);
        }
      }
    }
    if (mo.resurrect_to >= 0) {  // I5
      globals_[mo.resurrect_to] = o->id;
      rt_.set_global(static_cast<std::size_t>(mo.resurrect_to), o);
    }
  }

  void on_callback(Object* w, std::span<void* const> garbage) {
    std::lock_guard lk(mm_);
    MObj& mw = objs_[w->id];
    if (++mw.cb_runs > 1) fail("the callback of weak reference " + id(w->id) + " ran twice");
    if (!garbage.empty() && garbage_now_.contains(w->id)) {
      fail("the callback of weak reference " + id(w->id) + ", itself garbage, ran");
    } else if (mw.was_garbage) {
      fail("the callback of weak reference " + id(w->id) + " ran, but the weak reference was "
           "garbage in an earlier collection, which cleared it (it was resurrected since)");
    } else if ((!garbage.empty() || (clearing_ && !in_op_)) && !mw.cb_allowed) {
      // Run by the collection: in finalize(), or while its clear phase
      // frees what only the garbage held (reference counting; a callback
      // a program's own drop causes follows CPython's refcount rules).
      fail("the callback of weak reference " + id(w->id) + " ran, but it died with its referent " +
           id(mw.referent) + " (never reachable while the referent was not)");
    }
    if (Object* r = rt_.weak_get(w)) {
      fail("weak reference " + id(w->id) + " still led to " + id(r->id) + " in its callback");
      rt_.decref(r);
    }
  }

  // Drop every root; collections must then free everything (resurrected
  // objects included, once dropped again: their finalizers ran already).
  void teardown() {
    {
      std::lock_guard lk(mm_);
      for (auto& [rid, mw] : objs_) {  // I4: callbacks of weak references that outlived their referent
        if (mw.weakref && mw.callback && !mw.freed && !mw.was_garbage && objs_[mw.referent].freed &&
            mw.cb_runs != 1) {
          fail("weak reference " + id(rid) + " outlived its referent " + id(mw.referent) +
               " but its callback ran " + std::to_string(mw.cb_runs) + " times");
        }
      }
    }
    for (int t = 0; t < shape_.threads; t++) {
      workers_[t]->post([this, t](Mutator& m) {
        std::lock_guard lk(mm_);
        while (!m.locals.empty()) rt_.decref(take(t, m, m.locals.size() - 1));
      });
    }
    // Until no finalizer resurrects anything (see Concurrent::run).
    Op plain;
    plain.kind = Kind::kCollect;
    int rounds = 0;
    for (bool again = true; again && rounds < 50 && violations_.empty(); rounds++) {
      std::size_t before = 0;
      {
        std::lock_guard lk(mm_);
        for (auto& [rid, mo] : objs_) before += static_cast<std::size_t>(mo.fin_runs);
        for (int g = 0; g < shape_.globals; g++) {
          globals_[g] = 0;
          rt_.set_global(static_cast<std::size_t>(g), nullptr);
        }
      }
      checkpoint();
      collect(plain);
      collect(plain);
      std::lock_guard lk(mm_);
      std::size_t after = 0;
      for (auto& [rid, mo] : objs_) after += static_cast<std::size_t>(mo.fin_runs);
      again = after != before;
    }
    if (violations_.empty() && rt_.live_objects() != 0) {
      fail(std::to_string(rt_.live_objects()) + " objects outlived the program and " +
           std::to_string(2 * rounds) + " collections, the last two of which ran no finalizer");
    }
  }

  const Shape shape_;
  Runtime rt_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::recursive_mutex mm_;  // guards the model below (hooks run on any thread)
  std::map<std::uint64_t, MObj> objs_;
  std::vector<std::vector<std::uint64_t>> locals_;  // parallel to each Mutator's locals
  std::vector<std::uint64_t> globals_;
  std::vector<std::vector<std::pair<Object*, int>>> pending_;  // kCreateAcross, per thread
  std::unordered_set<std::uint64_t> garbage_now_;
  bool in_op_ = false;     // a program operation runs (its drops may run callbacks)
  bool clearing_ = false;  // between a batch's finalize and the end of its clear
  std::optional<std::unordered_set<std::uint64_t>> reach_at_verify_;
  const Op* current_ = nullptr;  // the collect in progress
  std::vector<bool> ran_;        // its `during` operations that ran
  long started_ = 0, completed_ = 0;
  std::vector<std::string> violations_;
};

// ---------------------------------------------------------------------------
// The concurrent run.

class Concurrent {
 public:
  Concurrent(const Shape& shape)
      : shape_(shape), rt_(config(shape)) {
    set_alloc_pause(shape, rt_.space());
    rt_.on_finalizer = [this](Object* o, std::span<void* const>) {
      if (count(fin_runs_, o) > 1) fail("the finalizer of " + id(o->id) + " ran twice");
      if (o->has(kResurrects)) rt_.set_global(keep_slot(o), o);
    };
    rt_.on_phase_end = [this](Phase p) { wait_us(shape_.phase_delay_us[static_cast<int>(p)]); };
    rt_.on_callback = [this](Object* w, std::span<void* const>) {
      if (count(cb_runs_, w) > 1) fail("the callback of weak reference " + id(w->id) + " ran twice");
      if (Object* r = rt_.weak_get(w)) {
        fail("weak reference " + id(w->id) + " still led to " + id(r->id) + " in its callback");
        rt_.decref(r);
      }
    };
  }

  std::vector<std::string> run(const std::vector<std::vector<Op>>& per_thread) {
    std::atomic<int> running{static_cast<int>(per_thread.size())};
    {
      std::vector<std::thread> threads;
      for (std::size_t t = 0; t < per_thread.size(); t++) {
        threads.emplace_back([&, t] {
          {
            Mutator m(rt_);
            for (const Op& op : per_thread[t]) {
              exec(op, m, static_cast<int>(t));
              m.safepoint();
            }
          }  // drops the locals
          running.fetch_sub(1);
        });
      }
      bool full = false;
      while (running.load() > 0) {
        rt_.collector().collect(full ? tricolor::Mode::kFullStw : tricolor::Mode::kConcurrent);
        full = !full;
      }
      for (auto& th : threads) th.join();
    }
    // Drop every root and collect until no finalizer resurrects anything
    // (each round's finalizers may resurrect objects whose own finalizers
    // have not run yet); then nothing may be left.
    int rounds = 0;
    for (bool again = true; again && rounds < 50; rounds++) {
      const std::size_t before = finalizers_run();  // before the drops, which may finalize
      for (std::size_t g = 0; g < static_cast<std::size_t>(shape_.globals + shape_.threads); g++) {
        rt_.set_global(g, nullptr);
      }
      rt_.collector().collect(tricolor::Mode::kConcurrent);
      rt_.collector().collect(tricolor::Mode::kFullStw);
      again = finalizers_run() != before;
    }
    if (rt_.live_objects() != 0) {
      fail(std::to_string(rt_.live_objects()) + " objects outlived the program and " +
           std::to_string(2 * rounds) + " collections, the last two of which ran no finalizer:" +
           describe(rt_.objects()));
    }
    rt_.on_finalizer = nullptr;
    rt_.on_callback = nullptr;
    rt_.on_phase_end = nullptr;
    std::lock_guard lk(mu_);
    for (std::string& v : rt_.violations()) violations_.push_back(std::move(v));
    return violations_;
  }

 private:
  // A flag of the synthetic object model left free for runtimes; here:
  // the finalizer resurrects the object.
  static constexpr std::uint16_t kResurrects = 0x100;
  std::size_t keep_slot(Object* o) const {
    return static_cast<std::size_t>(shape_.threads) + o->id % static_cast<std::size_t>(shape_.globals);
  }
  void fail(std::string what) {
    std::lock_guard lk(mu_);
    if (violations_.size() < 20) violations_.push_back(std::move(what));
  }
  std::size_t finalizers_run() {
    std::lock_guard lk(mu_);
    return fin_runs_.size();
  }
  int count(std::unordered_map<std::uint64_t, int>& runs, Object* o) {
    std::lock_guard lk(mu_);
    return ++runs[o->id];
  }

  // Globals 0 .. threads-1 are the threads' mailboxes; the rest keep what
  // finalizers resurrect and what kSetGlobal publishes.
  void exec(const Op& op, Mutator& m, int t) {
    auto& L = m.locals;
    const int ia = L.empty() ? -1 : static_cast<int>(static_cast<std::size_t>(op.a) % L.size());
    const int ib = L.empty() ? -1 : static_cast<int>(static_cast<std::size_t>(op.b) % L.size());
    auto slot_of = [&](Object* o) { return static_cast<std::uint32_t>(op.slot) % o->nslots; };
    const std::size_t shared = static_cast<std::size_t>(shape_.threads + op.g);
    switch (op.kind) {
      case Kind::kCreate:
      case Kind::kCreateAcross:
        if (Object* o = rt_.allocate(static_cast<std::uint32_t>(op.n))) {
          L.push_back(o);
        } else {
          fail(allocation_failed(rt_, op.n));
        }
        break;
      case Kind::kRing: {
        std::vector<Object*> ring;
        for (int i = 0; i < op.n; i++) {
          if (Object* o = rt_.allocate(1)) ring.push_back(o);
        }
        if (static_cast<int>(ring.size()) < op.n) {
          fail(allocation_failed(rt_, 1));
          for (Object* o : ring) rt_.decref(o);
          break;
        }
        for (int i = 0; i < op.n; i++) rt_.store(ring[i], 0, ring[(i + 1) % op.n]);
        if (op.flag) rt_.set_finalizer(ring.back());
        L.push_back(ring[0]);
        for (int i = 1; i < op.n; i++) rt_.decref(ring[i]);
        break;
      }
      case Kind::kLink:
        if (ia >= 0 && L[ia]->nslots) rt_.store(L[ia], slot_of(L[ia]), L[ib]);
        break;
      case Kind::kUnlink:
      case Kind::kLoad:
      case Kind::kMove:
        if (ia < 0 || L[ia]->nslots == 0) break;
        if (op.kind != Kind::kUnlink) {
          if (Object* v = rt_.load(L[ia], slot_of(L[ia]))) L.push_back(v);
        }
        if (op.kind != Kind::kLoad) rt_.store(L[ia], slot_of(L[ia]), nullptr);
        break;
      case Kind::kDrop:
        if (ia >= 0) {
          Object* o = L[ia];
          L.erase(L.begin() + ia);
          rt_.decref(o);
        }
        break;
      case Kind::kHandOff:
        if (ia >= 0) {
          Object* o = L[ia];
          L.erase(L.begin() + ia);
          rt_.set_global(static_cast<std::size_t>(op.to), o);  // the receiver's mailbox
          rt_.decref(o);
        }
        break;
      case Kind::kSetGlobal:
        if (ia >= 0) rt_.set_global(shared, L[ia]);
        break;
      case Kind::kGetGlobal:
        if (Object* v = rt_.get_global(static_cast<std::size_t>(t))) {  // our mailbox
          rt_.set_global(static_cast<std::size_t>(t), nullptr);
          L.push_back(v);
        }
        if (Object* v = rt_.get_global(shared)) L.push_back(v);
        break;
      case Kind::kClearGlobal: rt_.set_global(shared, nullptr); break;
      case Kind::kFinalizer:
        if (ia < 0) break;
        if (op.flag) L[ia]->flags.fetch_or(kResurrects);
        rt_.set_finalizer(L[ia]);
        break;
      case Kind::kWeakref:
        if (ia < 0) break;
        if (Object* w = rt_.new_weakref(L[ia], 1, op.flag)) {
          L.push_back(w);
        } else {
          fail(allocation_failed(rt_, 1));
        }
        break;
      case Kind::kWeakGet:
        if (ia >= 0 && L[ia]->has(Object::kWeakref)) {
          if (Object* r = rt_.weak_get(L[ia])) L.push_back(r);
        }
        break;
      case Kind::kCollect: break;
    }
    if (L.size() > 64) {  // bound the roots; the rest becomes garbage
      Object* o = L.front();
      L.erase(L.begin());
      rt_.decref(o);
    }
  }

  const Shape shape_;
  Runtime rt_;
  std::mutex mu_;  // guards the counts and violations_
  std::unordered_map<std::uint64_t, int> fin_runs_, cb_runs_;
  std::vector<std::string> violations_;
};

}  // namespace

std::vector<std::string> run_interleaved(const std::vector<Op>& program, const Shape& shape) {
  return Interleaved(shape).run(program);
}

std::vector<std::string> run_concurrent(const std::vector<std::vector<Op>>& per_thread,
                                        const Shape& shape) {
  return Concurrent(shape).run(per_thread);
}

}  // namespace stress
