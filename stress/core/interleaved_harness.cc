// stress/core/interleaved_harness.cc -- run_interleaved (harness.h): the
// operations one at a time, in program order, each on its thread, a
// collect's `during` operations from the collector's phase hook; a
// reference model checks I1-I6 after every step.
#include "stress/core/harness.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace stress {

namespace {

using detail::allocation_failed;
using detail::config;
using detail::describe;
using detail::id;
using detail::Mutator;
using detail::Object;
using detail::Runtime;
using detail::wait_us;
using detail::Worker;
using tricolor::Phase;

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

}  // namespace

std::vector<std::string> run_interleaved(const std::vector<Op>& program, const Shape& shape) {
  return Interleaved(shape).run(program);
}

}  // namespace stress
