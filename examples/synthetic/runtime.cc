// synthetic/runtime.cc -- see runtime.h for the object model and the rules.
#include "synthetic/runtime.h"

#include <algorithm>
#include <immintrin.h>

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

// Allocation notes to the pacer are batched per thread (a shared atomic on
// every allocation would serialise the mutators).
constexpr std::ptrdiff_t kNoteBatch = 256 << 10;
thread_local struct {
  const Runtime* rt = nullptr;
  std::ptrdiff_t bytes = 0;
} tl_note;

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
    : space_(std::make_unique<tricolor::Space>(config.space)), globals_(config.globals) {
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

Object* Runtime::allocate(std::uint32_t nslots) {
#ifndef NDEBUG
  if (!world_.attached()) {
    throw tricolor::UsageError("synthetic::Runtime::allocate() called from a thread that is not "
                               "attached (create a synthetic::Mutator on this thread first)");
  }
#endif
  void* mem = space_->allocate(object_bytes(nslots));
  if (mem == nullptr) return nullptr;
  auto* o = static_cast<Object*>(mem);
  new (&o->refcount) std::atomic<std::intptr_t>(1);
  new (&o->lock) std::atomic<std::uint32_t>(0);
  o->nslots = nslots;
  o->id = next_id_.fetch_add(1, std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < nslots; i++) new (&o->slots()[i]) std::atomic<Object*>(nullptr);
  live_.fetch_add(1, std::memory_order_relaxed);
  note_bytes(static_cast<std::ptrdiff_t>(object_bytes(nslots)));
  return o;
}

void Runtime::decref(Object* o) {
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
  o->id = 0;  // poison: a test that still holds o sees it was freed
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
  space_->free(o);
}

void Runtime::store(Object* o, std::uint32_t i, Object* v) {
  if (v) incref(v);
  lock(o);
  Object* old = o->slots()[i].exchange(v, std::memory_order_relaxed);
  unlock(o);
  if (old) decref(old);
}

Object* Runtime::load(Object* o, std::uint32_t i) {
  lock(o);
  Object* v = o->slots()[i].load(std::memory_order_relaxed);
  if (v) incref(v);
  unlock(o);
  return v;
}

void Runtime::set_global(std::size_t i, Object* v) {
  if (v) incref(v);
  Object* old;
  {
    std::lock_guard lk(globals_mu_);
    old = globals_.at(i).exchange(v, std::memory_order_acq_rel);
  }
  if (old) decref(old);
}

Object* Runtime::get_global(std::size_t i) {
  std::lock_guard lk(globals_mu_);
  Object* v = globals_.at(i).load(std::memory_order_acquire);
  if (v) incref(v);
  return v;
}

bool Runtime::trace(void* obj, tricolor::Visitor& v, bool) {
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
  return static_cast<Object*>(obj)->refcount.load(std::memory_order_acquire);
}

bool Runtime::collectable(void* obj) { return refcount(obj) > 0; }

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
  if (!on_finalize) return false;
  on_finalize(garbage);
  return true;
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

void Runtime::on_collection_start(bool) { collecting_.store(true, std::memory_order_release); }

void Runtime::on_collection_end(const tricolor::CollectionStats&) {
  std::vector<Object*> frees;
  {
    std::lock_guard lk(deferred_mu_);
    collecting_.store(false, std::memory_order_relaxed);
    frees.swap(deferred_);
  }
  for (Object* o : frees) space_->free(o);
}

}  // namespace synthetic
