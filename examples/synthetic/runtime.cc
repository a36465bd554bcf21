// synthetic/runtime.cc -- see runtime.h for the object model and the rules.
#include "synthetic/runtime.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <immintrin.h>
#include <unordered_set>

#include "gc/mutants.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define SYNTHETIC_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define SYNTHETIC_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define SYNTHETIC_POISON(p, n) ((void)(p), (void)(n))
#define SYNTHETIC_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace synthetic {

namespace {

void lock(Object* o) {
  while (o->lock.exchange(1, std::memory_order_acquire)) {
    while (o->lock.load(std::memory_order_relaxed)) _mm_pause();
  }
}

void unlock(Object* o) { o->lock.store(0, std::memory_order_release); }

std::size_t object_bytes(std::uint32_t nslots) {
  return std::max<std::size_t>(16, sizeof(Object) + nslots * sizeof(std::atomic<Object*>));
}

// Takes a reference unless the count is already 0 (the object is dying).
bool try_incref(Object* o) {
  std::intptr_t c = o->refcount.load(std::memory_order_relaxed);
  while (c > 0 && !o->refcount.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel)) {
  }
  return c > 0;
}

// Set on an object once a weak reference to it was made: only those pay
// for the weak reference table when they die.
constexpr std::uint16_t kWeakTarget = 16;
// Set on a weak reference while pending_callbacks_ holds a reference to it
// for its callback (from the pause that cleared it to finalize()).  A later
// batch's verification must not count that reference: the weak reference
// may be garbage of this same collection, in a batch verified after its
// referent's, and then its callback must not run.
constexpr std::uint16_t kQueued = 32;
constexpr int kShards = 16;
constexpr unsigned char kPoison = 0xdb;

std::string hex(const void* p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%p", p);
  return buf;
}

// Allocation notes to the pacer are batched per thread (a shared atomic on
// every allocation would serialise the mutators).
constexpr std::ptrdiff_t kNoteBatch = 256 << 10;
thread_local struct {
  const Runtime* rt = nullptr;
  std::ptrdiff_t bytes = 0;
} tl_note;

// The Space's config with the runtime's World: the Space, too, refuses an
// allocation from a thread that is not a Mutator (SpaceConfig::world).
tricolor::SpaceConfig with_world(tricolor::SpaceConfig c, const tricolor::World& world) {
  c.world = &world;
  return c;
}

}  // namespace

Mutator::Mutator(Runtime& rt) : rt_(rt) {
  rt_.world_.attach();
  std::lock_guard lk(rt_.mutators_mu_);
  rt_.mutators_.push_back(this);
}

Mutator::~Mutator() {
  for (Object* o : locals) {
    if (o) rt_.decref(o);
  }
  locals.clear();
  {
    std::lock_guard lk(rt_.mutators_mu_);
    std::erase(rt_.mutators_, this);
  }
  rt_.world_.detach();
}

void Mutator::safepoint() { rt_.world_.safepoint(); }

Runtime::Runtime(const RuntimeConfig& config)
    : space_(std::make_unique<tricolor::Space>(with_world(config.space, world_))),
      globals_(config.globals),
      checked_(config.checked) {
  if (checked_) registry_ = std::make_unique<Shard[]>(kShards);
  collector_ = std::make_unique<tricolor::Collector>(*space_, *this, &world_, config.collector);
  collector_->add_listener(this);
}

Runtime::~Runtime() {
  collector_->shutdown();  // no collection runs past this point
  for (auto& g : globals_) {
    if (Object* o = g.exchange(nullptr)) decref(o);
  }
  collector_.reset();
  // What is left is cyclic garbage nobody collected; the Space frees it.
}

void Runtime::note_bytes(std::ptrdiff_t bytes) {
  if (tl_note.rt != this) {
    tl_note.rt = this;
    tl_note.bytes = 0;
  }
  tl_note.bytes += bytes;
  // Take the batch before passing it on: note_allocation() may collect on
  // this thread, whose frees note their bytes here meanwhile.
  std::ptrdiff_t batch = tl_note.bytes;
  if (batch >= kNoteBatch) {
    tl_note.bytes = 0;
    collector_->note_allocation(static_cast<std::size_t>(batch));
  } else if (batch <= -kNoteBatch) {
    tl_note.bytes = 0;
    collector_->note_free(static_cast<std::size_t>(-batch));
  }
}

Object* Runtime::begin_allocate(std::uint32_t nslots) {
#ifndef NDEBUG
  if (!world_.attached()) {
    throw tricolor::UsageError("synthetic::Runtime::allocate() called from a thread that is not "
                               "attached (create a synthetic::Mutator on this thread first)");
  }
#endif
  if (checked_) check_mutator(nullptr, "allocate");
  void* mem = space_->allocate(object_bytes(nslots));
  if (mem == nullptr) return nullptr;
  SYNTHETIC_UNPOISON(mem, object_bytes(nslots));
  if (checked_) {
    Shard& sh = shard(mem);
    std::lock_guard lk(sh.mu);
    sh.blocks[mem] = State::kConstructing;
  }
  return static_cast<Object*>(mem);
}

Object* Runtime::finish_allocate(Object* o, std::uint32_t nslots) {
  new (&o->refcount) std::atomic<std::intptr_t>(1);
  new (&o->lock) std::atomic<std::uint16_t>(0);
  new (&o->flags) std::atomic<std::uint16_t>(0);
  o->nslots = nslots;
  o->id = next_id_.fetch_add(1, std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < nslots; i++) new (&o->slots()[i]) std::atomic<Object*>(nullptr);
  if (checked_) {
    Shard& sh = shard(o);
    std::lock_guard lk(sh.mu);
    sh.blocks[o] = State::kObject;
  }
  live_.fetch_add(1, std::memory_order_relaxed);
  note_bytes(static_cast<std::ptrdiff_t>(object_bytes(nslots)));
  return o;
}

Object* Runtime::allocate(std::uint32_t nslots) {
  Object* o = begin_allocate(nslots);
  return o ? finish_allocate(o, nslots) : nullptr;
}

void Runtime::decref(Object* o) {
  if (checked_) check_mutator(o, "decref");
  if (o->refcount.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // Destroy iteratively: a long chain must not overflow the stack.
  thread_local std::vector<Object*> work;
  thread_local bool busy = false;
  work.push_back(o);
  if (busy) return;  // an outer decref on this thread drains it
  busy = true;
  while (!work.empty()) {
    Object* x = work.back();
    work.pop_back();
    // CPython's order: the finalizer (which may resurrect x) runs with a
    // reference of its own, then the weak references are cleared and
    // their callbacks run, then the object is torn down.
    if (x->has(Object::kFinalizer) && !x->has(Object::kFinalized)) {
      x->refcount.store(1, std::memory_order_relaxed);
      run_finalizer(x, {});
      if (x->refcount.fetch_sub(1, std::memory_order_acq_rel) != 1) continue;  // resurrected
    }
    if (x->has(kWeakTarget | Object::kWeakref)) {
      void* self[] = {x};
      run_callbacks(clear_weakrefs(self), {});
    }
    lock(x);
    std::size_t base = work.size();
    for (std::uint32_t i = 0; i < x->nslots; i++) {
      if (Object* c = x->slots()[i].exchange(nullptr, std::memory_order_relaxed)) work.push_back(c);
    }
    unlock(x);
    // Drop the children's references; keep only those that died.
    std::size_t keep = base;
    for (std::size_t k = base; k < work.size(); k++) {
      if (work[k]->refcount.fetch_sub(1, std::memory_order_acq_rel) == 1) work[keep++] = work[k];
    }
    work.resize(keep);
    free_object(x);
  }
  busy = false;
}

void Runtime::free_object(Object* o) {
  if (on_free) on_free(o);
  o->id = 0;  // a test that still holds o sees it was freed
  live_.fetch_sub(1, std::memory_order_relaxed);
  freed_.fetch_add(1, std::memory_order_relaxed);
  note_bytes(-static_cast<std::ptrdiff_t>(object_bytes(o->nslots)));
  if (collecting_.load(std::memory_order_acquire)) {
    std::lock_guard lk(deferred_mu_);
    if (collecting_.load(std::memory_order_relaxed)) {
      deferred_.push_back(o);
      return;
    }
  }
  release_block(o);
}

// Returns a dead object's memory to the Space (checked mode: leaves the
// registry first, and the memory overwritten and poisoned).
void Runtime::release_block(Object* o) {
  if (checked_) {
    const std::size_t bytes = object_bytes(o->nslots);
    Shard& sh = shard(o);
    {
      std::lock_guard lk(sh.mu);
      sh.blocks.erase(o);
    }
    std::memset(static_cast<void*>(o), kPoison, bytes);
    SYNTHETIC_POISON(o, bytes);
  }
  space_->free(o);
}

void Runtime::store(Object* o, std::uint32_t i, Object* v) {
  if (checked_) check_mutator(o, "store");
  if (v) incref(v);
  lock(o);
  Object* old = o->slots()[i].exchange(v, std::memory_order_relaxed);
  unlock(o);
  if (old) decref(old);
}

Object* Runtime::load(Object* o, std::uint32_t i) {
  if (checked_) check_mutator(o, "load");
  lock(o);
  Object* v = o->slots()[i].load(std::memory_order_relaxed);
  if (v) incref(v);
  unlock(o);
  return v;
}

void Runtime::set_global(std::size_t i, Object* v) {
  if (checked_) check_mutator(v, "set_global");
  if (v) incref(v);
  Object* old;
  {
    std::lock_guard lk(globals_mu_);
    old = globals_.at(i).exchange(v, std::memory_order_acq_rel);
  }
  if (old) decref(old);
}

Object* Runtime::get_global(std::size_t i) {
  if (checked_) check_mutator(nullptr, "get_global");
  std::lock_guard lk(globals_mu_);
  Object* v = globals_.at(i).load(std::memory_order_acquire);
  if (v) incref(v);
  return v;
}

void Runtime::set_finalizer(Object* o) {
  if (checked_) check_mutator(o, "set_finalizer");
  o->flags.fetch_or(Object::kFinalizer, std::memory_order_acq_rel);
}

Object* Runtime::new_weakref(Object* referent, std::uint32_t nslots, bool callback) {
  if (checked_) check_mutator(referent, "new_weakref");
  Object* wr = allocate(nslots);
  if (wr == nullptr) return nullptr;
  wr->flags.store(Object::kWeakref | (callback ? Object::kCallback : 0), std::memory_order_release);
  referent->flags.fetch_or(kWeakTarget, std::memory_order_acq_rel);
  // wr may be black (allocated during a collection): were the referent
  // found garbage with it, the collection could not tell wr was garbage too
  // and would run the callback.  The referent is alive now: say so.
  if (callback) collector_->shade(referent);
  std::lock_guard lk(weak_mu_);
  referent_of_[wr] = referent;
  weakrefs_of_[referent].push_back(wr);
  return wr;
}

Object* Runtime::weak_get(Object* wr) {
  if (checked_) check_mutator(wr, "weak_get");
  std::lock_guard lk(weak_mu_);
  auto it = referent_of_.find(wr);
  if (it == referent_of_.end() || !try_incref(it->second)) return nullptr;
  return it->second;
}

bool Runtime::run_finalizer(Object* o, std::span<void* const> garbage) {
  std::uint16_t f = o->flags.load(std::memory_order_acquire);
  do {
    if (!(f & Object::kFinalizer) || (f & Object::kFinalized)) return false;
  } while (!o->flags.compare_exchange_weak(f, f | Object::kFinalized, std::memory_order_acq_rel));
  if (on_finalizer) on_finalizer(o, garbage);
  return true;
}

// Clears every weak reference to `referents`, and unregisters `referents`
// that are weak references themselves (so that their callbacks never run).
// Returns the cleared weak references that have a callback and are alive,
// each with a reference taken for its callback.
std::vector<Object*> Runtime::clear_weakrefs(std::span<void* const> referents) {
  std::vector<Object*> callbacks;
  std::lock_guard lk(weak_mu_);
  for (void* r : referents) {
    auto* o = static_cast<Object*>(r);
    if (o->has(Object::kWeakref)) {
      if (auto it = referent_of_.find(o); it != referent_of_.end()) {
        if (auto w = weakrefs_of_.find(it->second); w != weakrefs_of_.end()) std::erase(w->second, o);
        referent_of_.erase(it);
      }
    }
    auto w = weakrefs_of_.find(o);
    if (w == weakrefs_of_.end()) continue;
    for (Object* wr : w->second) {
      referent_of_.erase(wr);
      if (wr->has(Object::kCallback) && try_incref(wr)) callbacks.push_back(wr);
    }
    weakrefs_of_.erase(w);
  }
  return callbacks;
}

bool Runtime::run_callbacks(const std::vector<Object*>& wrs, std::span<void* const> garbage) {
  bool ran = false;
  for (Object* wr : wrs) {
    // A weak reference that is garbage of this collection is dead: its
    // callback never runs (CPython's handle_weakrefs).
    bool dead;
    {
      std::lock_guard lk(weak_mu_);
      dead = held_weakrefs_.contains(wr);
    }
    if (!dead) {
      if (on_callback) on_callback(wr, garbage);
      ran = true;
    }
    wr->flags.fetch_and(static_cast<std::uint16_t>(~kQueued), std::memory_order_acq_rel);
    decref(wr);
  }
  return ran;
}

void Runtime::hold(void* obj) {
  auto* o = static_cast<Object*>(obj);
  incref(o);
  if (!o->has(kWeakTarget | Object::kWeakref)) return;
  // World stopped: clear the weak references to the garbage now, as
  // CPython does in its pause, so that no mutator can fetch a garbage
  // object through one once the world runs again (finalize() runs the
  // callbacks).  Garbage weak references are unregistered, and noted as
  // dead for run_callbacks().
  if (o->has(Object::kWeakref)) {
    std::lock_guard lk(weak_mu_);
    held_weakrefs_.insert(o);
    if (auto it = referent_of_.find(o); TC_MUTANT(WeakrefClearsSiblings) && it != referent_of_.end()) {
      Object* referent = it->second;
      for (Object* sibling : weakrefs_of_[referent]) referent_of_.erase(sibling);
      weakrefs_of_.erase(referent);
    }
  }
  if (TC_MUTANT(WeakrefsAfterFinalizers)) return;  // cleared in finalize(), too late
  void* self[] = {o};
  std::vector<Object*> callbacks = clear_weakrefs(self);
  for (Object* wr : callbacks) wr->flags.fetch_or(kQueued, std::memory_order_acq_rel);
  std::lock_guard lk(weak_mu_);
  pending_callbacks_.insert(pending_callbacks_.end(), callbacks.begin(), callbacks.end());
}

bool Runtime::trace(void* obj, tricolor::Visitor& v, bool concurrent) {
  if (checked_ && !check_inspected(obj, concurrent ? "concurrent trace()" : "trace()")) return true;
  auto* o = static_cast<Object*>(obj);
  thread_local std::vector<Object*> snapshot;
  snapshot.clear();
  lock(o);
  for (std::uint32_t i = 0; i < o->nslots; i++) {
    if (Object* c = o->slots()[i].load(std::memory_order_relaxed)) snapshot.push_back(c);
  }
  unlock(o);
  for (Object* c : snapshot) v.visit(c);
  return true;
}

std::intptr_t Runtime::refcount(void* obj) {
  if (checked_ && !check_inspected(obj, "refcount()")) return 1;
  auto* o = static_cast<Object*>(obj);
  const bool queued = o->has(kQueued) && !TC_MUTANT(CallbackRefsCounted);
  return o->refcount.load(std::memory_order_acquire) - (queued ? 1 : 0);
}

bool Runtime::collectable(void* obj) {
  if (checked_ && !check_inspected(obj, "collectable()")) return false;
  return static_cast<Object*>(obj)->refcount.load(std::memory_order_acquire) > 0;
}

void Runtime::for_each_global_root(tricolor::Visitor& v) {
  // Racy reads are fine: a root only makes marking more productive.
  for (auto& g : globals_) {
    if (Object* o = g.load(std::memory_order_acquire)) v.visit(o);
  }
}

void Runtime::for_each_thread_root(tricolor::Visitor& v) {
  std::lock_guard lk(mutators_mu_);
  for (Mutator* m : mutators_) {
    for (Object* o : m->locals) {
      if (o) v.visit(o);
    }
  }
}

bool Runtime::finalize(std::span<void* const> garbage) {
  bool ran = false;
  if (on_finalize) {
    on_finalize(garbage);
    ran = true;
  }
  // CPython's order: the weak references to the garbage were cleared in the
  // pause (hold()), before any callback or finalizer runs, so none of them
  // can reach the garbage through one; then the callbacks, then the
  // finalizers.
  const bool late = TC_MUTANT(WeakrefsAfterFinalizers);
  std::vector<Object*> callbacks;
  {
    std::lock_guard lk(weak_mu_);
    callbacks.swap(pending_callbacks_);
  }
  ran |= run_callbacks(callbacks, garbage);
  for (void* g : garbage) ran |= run_finalizer(static_cast<Object*>(g), garbage);
  if (late) ran |= run_callbacks(clear_weakrefs(garbage), garbage);
  return ran;
}

void Runtime::refcount_error(void* obj, std::int64_t excess) {
  if (on_refcount_error) {
    on_refcount_error(static_cast<Object*>(obj), excess);
  } else {
    Embedder::refcount_error(obj, excess);
  }
}

void Runtime::clear(std::span<void* const> garbage) {
  for (void* g : garbage) {
    auto* o = static_cast<Object*>(g);
    for (std::uint32_t i = 0; i < o->nslots; i++) store(o, i, nullptr);
  }
}

void Runtime::stop_world() {
  Embedder::stop_world();
  stopper_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  stopped_.store(true, std::memory_order_release);
}

void Runtime::start_world() {
  stopped_.store(false, std::memory_order_release);  // before anyone is let go
  Embedder::start_world();
}

void Runtime::on_collection_start(bool) { collecting_.store(true, std::memory_order_release); }

void Runtime::on_phase(tricolor::Phase phase, std::int64_t) {
  if (on_phase_end) on_phase_end(phase);
}

void Runtime::on_collection_end(const tricolor::CollectionStats&) {
  {
    std::lock_guard lk(weak_mu_);
    held_weakrefs_.clear();
  }
  std::vector<Object*> frees;
  {
    std::lock_guard lk(deferred_mu_);
    collecting_.store(false, std::memory_order_relaxed);
    frees.swap(deferred_);
  }
  for (Object* o : frees) release_block(o);
}

// ---- checked mode ----

Runtime::Shard& Runtime::shard(const void* p) {
  return registry_[(reinterpret_cast<std::uintptr_t>(p) >> 4) % kShards];
}

void Runtime::violation(std::string what) {
  std::lock_guard lk(violations_mu_);
  if (violations_.size() < 100) violations_.push_back(std::move(what));
  violated_.store(true, std::memory_order_relaxed);
}

std::vector<Object*> Runtime::objects() {
  std::vector<Object*> out;
  for (int i = 0; checked_ && i < kShards; i++) {
    std::lock_guard lk(registry_[i].mu);
    for (auto [p, st] : registry_[i].blocks) {
      auto* o = static_cast<Object*>(const_cast<void*>(p));
      if (st == State::kObject && o->id != 0) out.push_back(o);
    }
  }
  return out;
}

std::vector<std::string> Runtime::violations() const {
  std::lock_guard lk(violations_mu_);
  return violations_;
}

bool Runtime::check_inspected(const void* obj, const char* what) {
  State st;
  {
    Shard& sh = shard(obj);
    std::lock_guard lk(sh.mu);
    auto it = sh.blocks.find(obj);
    if (it == sh.blocks.end()) {
      violation(std::string("the collector's ") + what + " inspected " + hex(obj) +
                ", which is not an object (a free block or the inside of one)");
      return false;
    }
    st = it->second;
  }
  if (st == State::kConstructing && !stopped_.load(std::memory_order_acquire)) {
    violation(std::string("the collector's ") + what + " read " + hex(obj) +
              " while its constructor was running, with the world running");
    return false;
  }
  return true;
}

void Runtime::check_mutator(const Object* o, const char* what) {
  if (stopped_.load(std::memory_order_acquire) &&
      stopper_.load(std::memory_order_relaxed) != std::this_thread::get_id() && world_.attached()) {
    violation(std::string("a mutator ran ") + what + "() while the world was stopped");
  }
  if (o == nullptr) return;
  Shard& sh = shard(o);
  std::lock_guard lk(sh.mu);
  auto it = sh.blocks.find(o);
  if (it == sh.blocks.end() || it->second != State::kObject || o->id == 0) {
    violation(std::string("a mutator's ") + what + "() used " + hex(o) + ", which was freed");
  }
}

}  // namespace synthetic
