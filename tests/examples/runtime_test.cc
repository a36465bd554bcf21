// Tests of the synthetic runtime (examples/synthetic): reference counting,
// slots and globals, iterative destruction of long chains, deferred frees
// while a collection is in progress.
#include "synthetic/runtime.h"
#include "tests/support/synthetic.h"

#include <gtest/gtest.h>

namespace {

using synthetic::Object;
using synthetic::Runtime;

TEST(Runtime, RefcountsFreeAcyclicGarbageAtOnce) {
  Runtime rt(tricolor_test::synthetic_config());
  synthetic::Mutator self(rt);
  Object* a = rt.allocate(2);
  Object* b = rt.allocate(0);
  EXPECT_EQ(a->refcount.load(), 1);
  rt.store(a, 1, b);
  EXPECT_EQ(b->refcount.load(), 2);
  Object* got = rt.load(a, 1);
  EXPECT_EQ(got, b);
  EXPECT_EQ(b->refcount.load(), 3);
  rt.decref(got);
  rt.decref(b);
  EXPECT_EQ(rt.live_objects(), 2u);
  rt.decref(a);  // frees a, then b
  EXPECT_EQ(rt.live_objects(), 0u);
  EXPECT_EQ(rt.freed_objects(), 2u);
}

TEST(Runtime, LongChainsAreDestroyedWithoutRecursion) {
  Runtime rt(tricolor_test::synthetic_config());
  synthetic::Mutator self(rt);
  Object* head = rt.allocate(1);
  tricolor_test::append_chain(rt, head, 1000000);
  rt.decref(head);
  EXPECT_EQ(rt.live_objects(), 0u);
}

TEST(Runtime, GlobalsHoldReferences) {
  Runtime rt(tricolor_test::synthetic_config());
  synthetic::Mutator self(rt);
  Object* a = rt.allocate(0);
  rt.set_global(3, a);
  rt.decref(a);
  EXPECT_EQ(rt.live_objects(), 1u);
  Object* g = rt.get_global(3);
  EXPECT_EQ(g, a);
  rt.decref(g);
  rt.set_global(3, nullptr);
  EXPECT_EQ(rt.live_objects(), 0u);
  EXPECT_THROW(rt.set_global(64, nullptr), std::out_of_range);
}

TEST(Runtime, FreesAreDeferredDuringACollection) {
  Runtime rt(tricolor_test::synthetic_config());
  synthetic::Mutator self(rt);
  Object* a = rt.allocate(0);
  rt.on_collection_start(false);
  rt.decref(a);
  EXPECT_EQ(rt.live_objects(), 0u);
  EXPECT_TRUE(rt.space().is_object(a));  // memory still readable
  EXPECT_EQ(a->id, 0u);                  // but poisoned
  rt.on_collection_end({});
  EXPECT_FALSE(rt.space().is_object(a));
}

TEST(Runtime, LocalsAreThreadRoots) {
  Runtime rt(tricolor_test::synthetic_config());
  synthetic::Mutator self(rt);
  Object* a = rt.allocate(0);
  self.locals.push_back(a);
  struct Collect final : tricolor::Visitor {
    std::vector<void*> seen;
    void visit(void* o) override { seen.push_back(o); }
  } v;
  rt.for_each_thread_root(v);
  EXPECT_EQ(v.seen, std::vector<void*>{a});
}

}  // namespace
