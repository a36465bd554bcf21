// gc/stop_the_world.cc -- the stop-the-world protocol of
// tricolor/stop_the_world.h: World, attach/detach, park, stop/start.
//
// Records.  Every thread attached to a World owns one heap-allocated Record
// (state, inactive depth).  The World keeps the set of its records under its
// mutex; the thread finds its own record through a thread_local map keyed by
// World* and checked against the World's unique id, so that a World destroyed
// and a new one built at the same address are never confused.
//
// States of a record and their transitions (all under World::Impl::mu):
//
//   attach()           -> RUNNING            no stop pending
//   attach()           -> PARKED -> RUNNING  a stop is pending or in effect:
//                                            the thread waits for its start()
//   RUNNING  -> PARKED   safepoint() slow path (park), stop pending
//   PARKED   -> RUNNING  done by the start() that ends that stop
//   RUNNING  -> INACTIVE enter_inactive() at depth 0 -> 1
//   INACTIVE -> INACTIVE enter/leave at depth >= 1 (only the depth changes)
//   INACTIVE -> RUNNING  leave_inactive() at depth 1 -> 0 when no stop by
//                        another thread is pending or in effect; otherwise
//                        the thread stays INACTIVE and waits, and the start()
//                        that ends the stop makes it RUNNING (depth 0)
//   RUNNING/PARKED -> (queued stopper) a thread that calls stop() while
//                        another stop is in progress counts as PARKED while
//                        it waits its turn, then gets its old state back
//   RUNNING  -> (gone)   detach(), or automatically when the thread exits
//
// Invariants (whenever mu is free):
//   I1  pending_ != 0  <=>  a stopper owns the current stop; `stopper` is its
//       thread id and `requested_at` the time it set pending_.
//   I2  `running` == number of records in state RUNNING.
//   I3  stopped == true  =>  pending_ != 0 and every record other than the
//       stopper's own is INACTIVE or PARKED.  Nothing turns a record RUNNING
//       again until start(), except the stopper's own.
//   I4  depth > 0  <=>  state == INACTIVE (for a record not inside a
//       queued stop(), which keeps its old state aside, and not `waiting`).
//   I4' waiting  =>  pending_ != 0 and the record is PARKED (park, attach)
//       or INACTIVE (outermost leave_inactive()).
//   I5  every thread_local binding {id, rec != nullptr} whose World is alive
//       names a record in that World's set; rec == nullptr means "was
//       attached, has detached" (for the double-detach message).
//
// Hand-off at start().  A thread that must sit out a stop (park, attach,
// outermost leave_inactive) sets its record's `waiting` and sleeps until it
// is cleared.  start() itself, under mu, makes every waiting record RUNNING
// (depth 0) and clears `waiting` before it releases the mutex.  Were the
// waiter to do it on waking, a stop() issued right after start() could find
// the record still PARKED/INACTIVE, count it as stopped and return while the
// thread is about to run.  With the hand-off the next stop() waits for the
// released thread's next poll; every released thread therefore runs until
// then, even when stops follow each other back to back.
//
// The caller of stop() counts as stopped for its own request: it is not
// waited for, and its own safepoint(), attach() and leave_inactive() do not
// block until start() (they would deadlock).
//
// Concurrency rule of each shared field:
//   World::pending_     written under mu (release); read by safepoint()'s
//                       fast path with one relaxed load, and under mu.
//   Impl::id            immutable after construction.
//   Impl::records, running, stopped, stopper, requested_at,
//   stopped_at          read and written only under mu.
//   Record::state,
//   Record::waiting     only under mu (stop() and start() visit every record).
//   Record::roots       only under mu; written by the owning thread
//                       (set_roots), read by mutator_roots() (the root scan).
//   Record::depth       under mu; written by the owning thread, and by the
//                       start() that releases it from leave_inactive().
//   thread_local map    touched only by its own thread.
//   registry            live Worlds by id, under registry().mu; lets a thread
//                       that exits while attached detach itself without
//                       touching a World destroyed meanwhile.  Lock order:
//                       registry().mu before Impl::mu.
//
// Condition variables: stopper_cv (the stopper waits for `running` to drop;
// notified when a record stops RUNNING or goes away), resume_cv (park,
// attach and leave_inactive wait for `waiting` to clear; start() notifies
// all), turn_cv (queued stoppers wait for pending_ to clear; start()
// notifies all).
//
// Misuse (UsageError): attach twice; detach when not attached (twice, or
// never attached); detach inside an inactive region; safepoint(),
// enter_inactive(), leave_inactive() or set_roots() from a thread that is
// not attached;
// leave_inactive() without enter_inactive(); stop() twice from one thread
// without start(); start() without a completed stop().  Destroying a World
// while threads are still attached or a stop is in progress is undefined.
// start() may come from any thread once stop() has returned.
//
// Timing: wait_ns runs from the moment the stopper sets pending_ (after any
// wait for its turn behind another stop(), which is not counted) to the
// moment the last other mutator is seen stopped; pause_ns from then to
// start().  Both come from std::chrono::steady_clock, so are >= 0.
#include "tricolor/stop_the_world.h"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "gc/mutants.h"

namespace tricolor {

namespace {

using Clock = std::chrono::steady_clock;

enum class State : std::uint8_t { kRunning, kInactive, kParked };

struct Record {
  State state = State::kRunning;
  int depth = 0;         // nesting of inactive regions
  bool waiting = false;  // sitting out a stop until start() hands it RUNNING
  void* roots = nullptr;  // World::set_roots(): the thread's root context
};

std::int64_t ns_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
}

std::atomic<std::uint64_t> g_next_world_id{1};

// The state of one World. World::Impl derives from it; it is a separate
// type so that the thread-exit path (outside World) can name it.
struct Shared {
  explicit Shared(std::uint64_t world_id) : id(world_id) {}
  ~Shared() {
    for (Record* r : records) delete r;
  }
  Shared(const Shared&) = delete;
  Shared& operator=(const Shared&) = delete;

  const std::uint64_t id;
  std::mutex mu;
  std::condition_variable stopper_cv;
  std::condition_variable resume_cv;
  std::condition_variable turn_cv;
  std::unordered_set<Record*> records;  // owned
  int running = 0;                      // records in state RUNNING
  bool stopped = false;                 // stop() returned, start() not yet
  std::thread::id stopper;              // owner of the current stop
  Clock::time_point requested_at, stopped_at;

  void set_state(Record* r, State s) {
    if (r->state == State::kRunning) --running;
    if (s == State::kRunning) ++running;
    r->state = s;
  }
  // A stopper waits for running <= 1 (its own record may be RUNNING).
  void wake_stopper() {
    if (running <= 1) stopper_cv.notify_one();
  }
  void add(Record* r) {
    records.insert(r);
    if (r->state == State::kRunning) ++running;
  }
  void remove(Record* r) {
    if (r->state == State::kRunning) --running;
    records.erase(r);
    wake_stopper();
  }
  // Waits (lk holds mu) until the start() that ends the current stop has
  // made r RUNNING.
  void wait_for_start(std::unique_lock<std::mutex>& lk, Record* r) {
    r->waiting = true;
    resume_cv.wait(lk, [&] { return !r->waiting; });
  }
  // start(): hands every waiting record RUNNING.
  void release_waiters() {
    for (Record* r : records) {
      if (!r->waiting) continue;
      r->waiting = false;
      r->depth = 0;
      set_state(r, State::kRunning);
    }
    resume_cv.notify_all();
  }
};

struct Registry {
  std::mutex mu;
  std::unordered_map<std::uint64_t, Shared*> live;
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: used at thread exit
  return *r;
}

struct Binding {
  std::uint64_t id = 0;
  Record* rec = nullptr;  // nullptr: detached
};

// The calling thread's attachments. A thread that exits while attached is
// detached here (it could never poll again and would block every stop()).
struct ThreadBindings {
  std::unordered_map<const World*, Binding> map;
  ~ThreadBindings() {
    for (auto& [world, b] : map) {
      (void)world;
      if (b.rec == nullptr) continue;
      Registry& reg = registry();
      std::lock_guard<std::mutex> g(reg.mu);
      auto it = reg.live.find(b.id);
      if (it == reg.live.end()) continue;  // that World is gone, and its records
      Shared& s = *it->second;
      {
        std::lock_guard<std::mutex> l(s.mu);
        s.remove(b.rec);
      }
      delete b.rec;
      b.rec = nullptr;
    }
  }
};

thread_local ThreadBindings t_bindings;

Binding* find_binding(const World* w, std::uint64_t id) {
  auto it = t_bindings.map.find(w);
  if (it == t_bindings.map.end() || it->second.id != id) return nullptr;
  return &it->second;
}

Record* find_record(const World* w, std::uint64_t id) {
  Binding* b = find_binding(w, id);
  return b ? b->rec : nullptr;
}

[[noreturn]] void not_attached(const char* what) {
  throw UsageError(std::string(what) + " called from a thread that is not attached to this World");
}

}  // namespace

struct World::Impl : Shared {
  using Shared::Shared;
};

World::World() : impl_(std::make_unique<Impl>(g_next_world_id.fetch_add(1, std::memory_order_relaxed))) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> g(reg.mu);
  reg.live.emplace(impl_->id, impl_.get());
}

World::~World() {
  Registry& reg = registry();
  std::lock_guard<std::mutex> g(reg.mu);
  reg.live.erase(impl_->id);
  // Shared::~Shared frees the records of threads still attached; their
  // thread_local bindings are recognised as stale by the id.
}

void World::attach() {
  Shared& s = *impl_;
  if (find_record(this, s.id) != nullptr) {
    throw UsageError("attach() called from a thread that is already attached to this World");
  }
  auto owned = std::make_unique<Record>();
  Record* r = owned.get();
  // Create the binding first: it may allocate (and throw) before the record
  // is published. A stale binding (an older World at this address) is
  // overwritten.
  Binding& b = t_bindings.map[this];
  std::unique_lock<std::mutex> lk(s.mu);
  const bool wait = pending_.load(std::memory_order_relaxed) != 0 &&
                    s.stopper != std::this_thread::get_id();
  r->state = wait ? State::kParked : State::kRunning;
  s.add(r);
  owned.release();
  b = Binding{s.id, r};
  if (wait) {
    // Attaching during a stop: the thread registers as PARKED (the stopper
    // need not wait for it) and becomes RUNNING at start().
    s.wait_for_start(lk, r);
  }
}

void World::detach() {
  Shared& s = *impl_;
  Binding* b = find_binding(this, s.id);
  if (b == nullptr) {
    throw UsageError("detach() called from a thread that is not attached to this World "
                     "(it never attached)");
  }
  if (b->rec == nullptr) {
    throw UsageError("detach() called from a thread that is not attached to this World "
                     "(double detach: it has already detached)");
  }
  Record* r = b->rec;
  {
    std::lock_guard<std::mutex> lk(s.mu);
    if (r->depth > 0) {
      throw UsageError("detach() called inside an inactive region: leave every "
                       "InactiveScope (leave_inactive()) before detaching");
    }
    s.remove(r);  // wakes a stopper that was waiting for this thread
  }
  delete r;
  b->rec = nullptr;
}

bool World::attached() const { return find_record(this, impl_->id) != nullptr; }

void World::check_attached(const char* what) const {
  if (find_record(this, impl_->id) == nullptr) not_attached(what);
}

void World::park() {
  Shared& s = *impl_;
  Record* r = find_record(this, s.id);
  if (r == nullptr) not_attached("safepoint()");
  std::unique_lock<std::mutex> lk(s.mu);
  if (pending_.load(std::memory_order_relaxed) == 0) return;  // already over
  if (s.stopper == std::this_thread::get_id()) return;        // our own stop
  if (r->state != State::kRunning) return;  // polled while INACTIVE: stopped already
  s.set_state(r, State::kParked);
  s.wake_stopper();
  if (TC_MUTANT(PollWithoutStop)) {  // counted as parked, but runs on
    r->waiting = true;               // (start() still makes it RUNNING)
    return;
  }
  s.wait_for_start(lk, r);  // start() makes it RUNNING
}

void World::enter_inactive() {
  Shared& s = *impl_;
  Record* r = find_record(this, s.id);
  if (r == nullptr) not_attached("enter_inactive()");
  std::lock_guard<std::mutex> lk(s.mu);
  if (r->depth++ == 0) {
    s.set_state(r, State::kInactive);
    if (pending_.load(std::memory_order_relaxed) != 0) s.wake_stopper();
  }
}

void World::leave_inactive() {
  Shared& s = *impl_;
  Record* r = find_record(this, s.id);
  if (r == nullptr) not_attached("leave_inactive()");
  std::unique_lock<std::mutex> lk(s.mu);
  if (r->depth == 0) {
    throw UsageError("leave_inactive() called without a matching enter_inactive()");
  }
  if (r->depth > 1) {
    --r->depth;
    return;
  }
  // Outermost level: stay INACTIVE (stopped) until no other thread's stop is
  // pending or in effect.
  if (pending_.load(std::memory_order_relaxed) != 0 &&
      s.stopper != std::this_thread::get_id()) {
    s.wait_for_start(lk, r);  // start() makes it RUNNING, depth 0
    return;
  }
  r->depth = 0;
  s.set_state(r, State::kRunning);
}

void World::stop() {
  Shared& s = *impl_;
  Record* self = find_record(this, s.id);
  const std::thread::id me = std::this_thread::get_id();
  std::unique_lock<std::mutex> lk(s.mu);
  if (pending_.load(std::memory_order_relaxed) != 0) {
    if (s.stopper == me) {
      throw UsageError("stop() called twice: this thread has already stopped the world "
                       "(call start() first)");
    }
    // Another stop is in progress: wait our turn, counting as parked
    // meanwhile (the other stopper must not wait for us).
    State saved = State::kRunning;
    if (self != nullptr) {
      saved = self->state;
      s.set_state(self, State::kParked);
      s.wake_stopper();
    }
    s.turn_cv.wait(lk, [&] { return pending_.load(std::memory_order_relaxed) == 0; });
    if (self != nullptr) s.set_state(self, saved);
  }
  s.stopper = me;
  s.stopped = false;
  s.requested_at = Clock::now();
  pending_.store(1, std::memory_order_release);
  s.stopper_cv.wait(lk, [&] {
    const int own = (self != nullptr && self->state == State::kRunning) ? 1 : 0;
    return s.running == own;
  });
  s.stopped_at = Clock::now();
  s.stopped = true;
}

PauseTiming World::start() {
  Shared& s = *impl_;
  std::lock_guard<std::mutex> lk(s.mu);
  if (pending_.load(std::memory_order_relaxed) == 0) {
    throw UsageError("start() called without a matching stop()");
  }
  if (!s.stopped) {
    throw UsageError("start() called while stop() has not returned yet");
  }
  PauseTiming t;
  t.wait_ns = ns_between(s.requested_at, s.stopped_at);
  t.pause_ns = ns_between(s.stopped_at, Clock::now());
  pending_.store(0, std::memory_order_release);
  s.stopped = false;
  s.stopper = std::thread::id();
  s.release_waiters();
  s.turn_cv.notify_all();
  return t;
}

void World::set_roots(void* roots) {
  Shared& s = *impl_;
  Record* r = find_record(this, s.id);
  if (r == nullptr) not_attached("set_roots()");
  std::lock_guard<std::mutex> lk(s.mu);
  r->roots = roots;
}

std::vector<void*> World::mutator_roots() const {
  Shared& s = *impl_;
  std::vector<void*> out;
  std::lock_guard<std::mutex> lk(s.mu);
  for (const Record* r : s.records) {
    if (r->roots != nullptr) out.push_back(r->roots);
  }
  return out;
}

int World::mutator_count() const {
  Shared& s = *impl_;
  std::lock_guard<std::mutex> lk(s.mu);
  return static_cast<int>(s.records.size());
}

}  // namespace tricolor
