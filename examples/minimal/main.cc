// examples/minimal/main.cc -- the smallest complete tricolor embedder: a
// runtime of reference-counted pairs, two mutator threads, one collection.
// It makes a garbage cycle, drops it, collects while the other thread
// allocates, and exits with status 0 only if the cycle was freed and
// nothing live was.  docs/embedding.md walks through it, part by part.
#include <tricolor/collector.h>     // Collector, CollectorConfig
#include <tricolor/embedder.h>      // Embedder, Visitor: what we implement
#include <tricolor/events.h>        // EventListener: when a collection runs
#include <tricolor/space.h>         // Space: the heap we allocate from
#include <tricolor/stop_the_world.h>  // World, MutatorScope, InactiveScope

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace {

// An object: a reference count and two references.
struct Pair {
  std::atomic<long> refcount;
  std::atomic<Pair*> slot[2];
};

// A mutator's roots: what its "stack" holds (World::set_roots).
struct Stack {
  std::vector<Pair*> locals;
};

class Runtime final : public tricolor::Embedder, public tricolor::EventListener {
 public:
  explicit Runtime(const tricolor::CollectorConfig& config) : collector_(space_, *this, &world_, config) {
    collector_.add_listener(this);
  }
  tricolor::World& world() { return world_; }
  tricolor::Collector& collector() { return collector_; }
  long freed() const { return freed_.load(); }

  Pair* make() {  // refcount 1: the caller owns it
    auto* p = static_cast<Pair*>(space_.allocate(sizeof(Pair)));
    if (p == nullptr) std::abort();  // every arena full
    p->refcount = 1;
    p->slot[0] = p->slot[1] = nullptr;
    return p;
  }
  void store(Pair* p, int i, Pair* v) {  // p.slot[i] = v
    if (v) v->refcount++;
    if (Pair* old = p->slot[i].exchange(v)) decref(old);
  }
  void decref(Pair* p) {
    if (--p->refcount != 0) return;
    std::vector<Pair*> dead{p};  // a worklist: a long chain must not recurse
    while (!dead.empty()) {
      Pair* d = dead.back();
      dead.pop_back();
      for (auto& s : d->slot) {
        if (Pair* c = s.exchange(nullptr); c && --c->refcount == 0) dead.push_back(c);
      }
      free_block(d);
    }
  }

  // -- tricolor::Embedder: the object graph and the refcounts.
  bool trace(void* obj, tricolor::Visitor& v, bool /*concurrent*/) override {
    for (auto& s : static_cast<Pair*>(obj)->slot) v.visit(s.load());
    return true;  // atomic slots: safe with the world running too
  }
  std::intptr_t refcount(void* obj) override { return static_cast<Pair*>(obj)->refcount.load(); }
  // Lifetime rule 2: a dead pair whose block is held back is not collectable.
  bool collectable(void* obj) override { return static_cast<Pair*>(obj)->refcount.load() > 0; }
  void for_each_mutator_root(void* roots, tricolor::Visitor& v) override {
    for (Pair* p : static_cast<Stack*>(roots)->locals) v.visit(p);
  }
  // -- the garbage: keep it alive, break its cycles, let it go.
  void hold(void* obj) override { static_cast<Pair*>(obj)->refcount++; }
  void release(void* obj) override { decref(static_cast<Pair*>(obj)); }
  void clear(std::span<void* const> garbage) override {
    for (void* g : garbage) {
      for (int i = 0; i < 2; i++) store(static_cast<Pair*>(g), i, nullptr);
    }
  }

  // -- tricolor::EventListener.  Lifetime rule 1: while a collection runs,
  // a dead pair's block is held back, and freed when the collection ends.
  void on_collection_start(bool) override {
    std::lock_guard lk(mu_);
    collecting_ = true;
  }
  void on_collection_end(const tricolor::CollectionStats&) override {
    std::vector<Pair*> held;
    {
      std::lock_guard lk(mu_);
      collecting_ = false;
      held.swap(deferred_);
    }
    for (Pair* p : held) release_block(p);
  }

 private:
  void free_block(Pair* p) {
    {
      std::lock_guard lk(mu_);
      if (collecting_) {
        deferred_.push_back(p);
        return;
      }
    }
    release_block(p);
  }
  void release_block(Pair* p) {
    space_.free(p);
    freed_++;
  }

  tricolor::Space space_;
  tricolor::World world_;
  std::mutex mu_;  // guards collecting_ and deferred_
  bool collecting_ = false;
  std::vector<Pair*> deferred_;
  std::atomic<long> freed_{0};
  tricolor::Collector collector_;  // last: destroyed first
};

}  // namespace

int main() {
  tricolor::CollectorConfig config;
  config.background = false;  // collect only when asked
  config.mark_workers = 1;
  Runtime rt(config);
  Stack stack;  // outlives the attachment: a root scan may read it until then
  tricolor::MutatorScope self(rt.world());
  rt.world().set_roots(&stack);
  Pair* live = rt.make();
  stack.locals.push_back(live);  // rooted: must survive

  Pair* a = rt.make();
  Pair* b = rt.make();
  rt.store(a, 0, b);
  rt.store(b, 0, a);
  rt.decref(a);
  rt.decref(b);  // a <-> b: a garbage cycle, refcount 1 each

  // A second mutator grows a rooted chain while the collection runs.
  std::mutex mu;
  std::condition_variable cv;
  bool checked = false;
  std::thread worker([&] {
    Stack mine;
    tricolor::MutatorScope attached(rt.world());
    rt.world().set_roots(&mine);
    mine.locals.push_back(rt.make());
    for (int i = 0; i < 100000; i++) {
      Pair* head = rt.make();
      rt.store(head, 0, mine.locals[0]);
      std::swap(head, mine.locals[0]);
      rt.decref(head);  // the old head lives on in the new one's slot
      rt.world().safepoint();
    }
    {
      tricolor::InactiveScope waiting(rt.world());  // blocking: not a mutator meanwhile
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return checked; });
    }
    rt.decref(mine.locals[0]);
  });

  tricolor::CollectionStats st = rt.collector().collect();
  std::printf("garbage=%zu freed=%ld objects=%zu marked=%zu pauses=%zu\n", st.garbage, rt.freed(),
              st.objects, st.marked, st.pause_ns.size());
  const bool ok = st.garbage == 2 && rt.freed() == 2 && live->refcount.load() == 1;
  {
    std::lock_guard lk(mu);
    checked = true;
  }
  cv.notify_one();
  worker.join();
  rt.world().set_roots(nullptr);
  rt.decref(live);
  if (!ok) std::printf("FAILED: the cycle was not freed, or something else was\n");
  return ok ? 0 : 1;
}
