// Tests of the synthetic runtime (examples/synthetic): reference counting,
// slots and globals, iterative destruction of long chains, deferred frees
// while a collection is in progress, and CPython's rule for the callbacks
// of weak references that die with their referents.
#include "synthetic/runtime.h"
#include "tests/support/synthetic.h"

#include <gtest/gtest.h>

#include <functional>
#include <thread>

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

// A one-object cycle: o.slot0 = o.
Object* self_cycle(Runtime& rt, std::uint32_t nslots = 1) {
  Object* o = rt.allocate(nslots);
  rt.store(o, 0, o);
  return o;
}

// One concurrent collection of `rt` with a one-object cycle x (x.slot0 = x,
// `nslots` slots) that the marker cannot see: x sits in global 0 until the
// root scan, then a new mutator takes it out before marking reads the
// globals -- so x is unmarked (a candidate) -- runs body(x) while black
// allocation is on, and drops x, which is then garbage.
tricolor::CollectionStats collect_hiding_a_cycle(Runtime& rt, std::uint32_t nslots,
                                                 const std::function<void(Object*)>& body) {
  {
    synthetic::Mutator self(rt);
    Object* x = self_cycle(rt, nslots);
    rt.set_global(0, x);
    rt.decref(x);
  }
  rt.on_phase_end = [&](tricolor::Phase p) {
    if (p != tricolor::Phase::kRootScan) return;
    std::thread([&] {
      synthetic::Mutator m(rt);
      Object* x = rt.get_global(0);
      rt.set_global(0, nullptr);
      body(x);
      rt.decref(x);
    }).join();
  };
  tricolor::CollectionStats st = rt.collector().collect(tricolor::Mode::kConcurrent);
  rt.on_phase_end = nullptr;
  return st;
}

// CPython never runs the callback of a weak reference that is garbage
// together with its referent.  Here the weak reference is born after the
// root scan -- black, so alive for that collection whatever holds it --
// and its referent was moved out of the marker's sight first (unmarked: a
// candidate).  Both die at once; without Collector::shade() the collection
// finds the referent garbage and runs the black weak reference's callback.
TEST(Runtime, AWeakReferenceBornDuringACollectionDiesWithItsReferentWithoutCallback) {
  Runtime rt(tricolor_test::synthetic_config());
  int callbacks = 0;
  rt.on_callback = [&](Object*, std::span<void* const>) { callbacks++; };
  tricolor::CollectionStats st = collect_hiding_a_cycle(rt, 1, [&](Object* x) {
    Object* wr = rt.new_weakref(x, 1, /*callback=*/true);
    rt.store(wr, 0, wr);  // only a cycle frees it
    rt.decref(wr);        // both unreachable once x is dropped
  });
  EXPECT_EQ(callbacks, 0) << "the callback of a weak reference that died with its referent ran";
  EXPECT_EQ(st.shaded, 1u);
  rt.collector().collect(tricolor::Mode::kConcurrent);
  rt.collector().collect(tricolor::Mode::kConcurrent);
  EXPECT_EQ(callbacks, 0);
  EXPECT_EQ(rt.live_objects(), 0u) << "the shaded referent and its weak reference were not freed";
}

// Black objects that only the garbage holds die when the garbage is
// cleared (reference counting).  Here a black object and a black weak
// reference to it (with a callback) hang off a white cycle: stock would
// find all three unreachable at once and run no callback; the verification
// pause must add what only the garbage holds (Verifier::held_only_by) so
// that the weak reference is judged with the rest.
TEST(Runtime, WeakReferencesHangingOffGarbageDieWithoutCallback) {
  Runtime rt(tricolor_test::synthetic_config());
  int callbacks = 0;
  rt.on_callback = [&](Object*, std::span<void* const>) { callbacks++; };
  tricolor::CollectionStats st = collect_hiding_a_cycle(rt, 3, [&](Object* x) {
    Object* b = rt.allocate(0);
    Object* wr = rt.new_weakref(b, 0, /*callback=*/true);
    rt.store(x, 1, b);  // cleared first: b dies while x still holds wr
    rt.store(x, 2, wr);
    rt.decref(b);
    rt.decref(wr);
  });
  EXPECT_EQ(callbacks, 0) << "the callback of a weak reference that died with its referent ran";
  EXPECT_EQ(st.dependent, 2u);
  EXPECT_EQ(rt.live_objects(), 0u);
}

// The same rule across verification batches: with one object per batch
// the weak reference and its referent are verified in different pauses,
// and the reference the runtime holds for a queued callback must not make
// the weak reference look alive to its own batch.
TEST(Runtime, AWeakReferenceInAnotherBatchThanItsReferentDiesWithoutCallback) {
  auto cfg = tricolor_test::synthetic_config();
  cfg.collector.verify_batch = 1;
  Runtime rt(cfg);
  int callbacks = 0;
  rt.on_callback = [&](Object*, std::span<void* const>) { callbacks++; };
  synthetic::Mutator self(rt);
  for (int i = 0; i < 8; i++) {  // both address orders of the two batches
    Object* x = self_cycle(rt);
    Object* wr = rt.new_weakref(x, 1, /*callback=*/true);
    rt.store(wr, 0, wr);
    rt.decref(wr);
    rt.decref(x);
  }
  tricolor::CollectionStats st = rt.collector().collect(tricolor::Mode::kConcurrent);
  EXPECT_GE(st.pause_ns.size(), 3u) << "expected one verification pause per object";
  EXPECT_EQ(callbacks, 0) << "the callback of a weak reference that died with its referent ran";
  EXPECT_EQ(rt.live_objects(), 0u);
}

// And a weak reference that outlives its referent gets its callback once,
// whatever batch its referent is verified in.
TEST(Runtime, ALiveWeakReferenceGetsItsCallbackOnce) {
  for (std::size_t batch : {std::size_t{1}, std::size_t{2048}}) {
    auto cfg = tricolor_test::synthetic_config();
    cfg.collector.verify_batch = batch;
    Runtime rt(cfg);
    std::vector<Object*> called;
    rt.on_callback = [&](Object* wr, std::span<void* const>) { called.push_back(wr); };
    synthetic::Mutator self(rt);
    Object* x = self_cycle(rt);
    Object* wr = rt.new_weakref(x, 1, /*callback=*/true);
    Object* junk = self_cycle(rt);  // more garbage, more batches
    rt.decref(junk);
    rt.set_global(0, wr);
    rt.decref(x);
    rt.collector().collect(tricolor::Mode::kConcurrent);
    EXPECT_EQ(called, std::vector<Object*>{wr}) << "verify_batch=" << batch;
    EXPECT_EQ(rt.weak_get(wr), nullptr);
    rt.decref(wr);
    rt.set_global(0, nullptr);
    EXPECT_EQ(rt.live_objects(), 0u);
  }
}

}  // namespace
