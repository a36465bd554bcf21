// stress/core/concurrent_harness.cc -- run_concurrent (harness.h): each
// thread runs its own operations at full speed while the calling thread
// collects in a loop; checks I6, finalizers at most once, callbacks after
// clearing, and that everything is freed at the end.
#include "stress/core/harness.h"

#include <algorithm>
#include <unordered_map>

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
// The concurrent run.

class Concurrent {
 public:
  Concurrent(const Shape& shape)
      : shape_(shape), rt_(config(shape)) {
    detail::set_alloc_pause(shape, rt_.space());
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

std::vector<std::string> run_concurrent(const std::vector<std::vector<Op>>& per_thread,
                                        const Shape& shape) {
  return Concurrent(shape).run(per_thread);
}

}  // namespace stress
