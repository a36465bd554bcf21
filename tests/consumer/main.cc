// The smallest embedder: pairs with two slots and a plain refcount, one
// thread.  Builds a garbage cycle and a live pair, collects, checks.
#include <tricolor/collector.h>
#include <tricolor/embedder.h>
#include <tricolor/space.h>
#include <tricolor/stop_the_world.h>

#include <cstdio>

struct Pair {
  long refcount;
  Pair* slot[2];
};

class Runtime final : public tricolor::Embedder {
 public:
  tricolor::Space space;
  long freed = 0;
  Pair* make() {
    auto* p = static_cast<Pair*>(space.allocate(sizeof(Pair)));
    *p = Pair{1, {nullptr, nullptr}};
    return p;
  }
  void decref(Pair* p) {
    if (--p->refcount) return;
    for (Pair* c : p->slot)
      if (c) decref(c);
    space.free(p);
    freed++;
  }
  bool trace(void* o, tricolor::Visitor& v, bool) override {
    for (Pair* c : static_cast<Pair*>(o)->slot) v.visit(c);
    return true;
  }
  std::intptr_t refcount(void* o) override { return static_cast<Pair*>(o)->refcount; }
  void hold(void* o) override { static_cast<Pair*>(o)->refcount++; }
  void release(void* o) override { decref(static_cast<Pair*>(o)); }
  void clear(std::span<void* const> garbage) override {
    for (void* o : garbage) {
      auto* p = static_cast<Pair*>(o);
      for (Pair*& c : p->slot) {
        if (Pair* old = c) {
          c = nullptr;
          decref(old);
        }
      }
    }
  }
};

extern "C" int c_api_smoke(void);

int main() {
  if (c_api_smoke() != 0) {
    std::printf("the C API smoke test failed\n");
    return 1;
  }
  Runtime rt;
  tricolor::World world;
  tricolor::MutatorScope self(world);
  tricolor::CollectorConfig config;
  config.background = false;
  tricolor::Collector collector(rt.space, rt, &world, config);
  Pair* a = rt.make();
  Pair* b = rt.make();
  a->slot[0] = b;
  b->refcount++;
  b->slot[0] = a;
  a->refcount++;
  rt.decref(a);
  rt.decref(b);  // a <-> b is now a garbage cycle
  Pair* live = rt.make();
  tricolor::CollectionStats st = collector.collect();
  std::printf("garbage=%zu freed=%ld\n", st.garbage, rt.freed);
  bool ok = st.garbage == 2 && rt.freed == 2 && live->refcount == 1;
  rt.decref(live);
  return ok ? 0 : 1;
}
