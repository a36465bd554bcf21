// Tests of gc/marker.cc.
//
// Strategy: build graphs with the synthetic runtime and run the Marker
// directly inside a TBB arena: it must mark exactly what is reachable from
// the roots (a long chain, a wide fan-out that forces task splitting, a
// graph with cycles), leave the children of opaque objects unmarked, and
// give up with a reason when the mark stacks hit their cap.
#include "gc/marker.h"

#include <gtest/gtest.h>
#include <oneapi/tbb/task_arena.h>

#include "synthetic/runtime.h"
#include "tests/support/synthetic.h"

namespace {

using synthetic::Object;
using synthetic::Runtime;

// Wraps a runtime and declines to trace objects with an odd id.
class Picky final : public tricolor::Embedder {
 public:
  explicit Picky(Runtime& rt) : rt_(rt) {}
  bool trace(void* o, tricolor::Visitor& v, bool c) override {
    if (static_cast<Object*>(o)->id % 2) return false;
    return rt_.trace(o, v, c);
  }
  std::intptr_t refcount(void* o) override { return rt_.refcount(o); }
  void hold(void*) override {}
  void release(void*) override {}
  void clear(std::span<void* const>) override {}

 private:
  Runtime& rt_;
};

std::size_t marked_count(tricolor::Space& s) {
  std::atomic<std::size_t> n{0};
  s.for_each_object([&](void* o) {
    if (s.is_marked(o)) n++;
  });
  return n;
}

TEST(Marker, MarksExactlyTheReachableObjects) {
  Runtime rt(tricolor_test::synthetic_config());
  synthetic::Mutator self(rt);
  // A chain of 100 000 (deep), and a fan-out of 50 000 (wide) with a cycle back.
  Object* chain = rt.allocate(1);
  tricolor_test::append_chain(rt, chain, 100000);
  Object* fan = rt.allocate(50000);
  for (std::uint32_t i = 0; i < 50000; i++) {
    Object* n = rt.allocate(1);
    rt.store(fan, i, n);
    rt.store(n, 0, fan);
    rt.decref(n);
  }
  Object* unreachable = rt.allocate(0);
  tricolor::Marker m(rt.space(), rt, 0);
  tbb::task_arena arena(2);
  bool ok = arena.execute([&] { return m.run({chain, fan, nullptr}); });
  EXPECT_TRUE(ok);
  EXPECT_EQ(m.failure(), nullptr);
  EXPECT_EQ(m.marked(), 100001u + 50001u);
  EXPECT_EQ(marked_count(rt.space()), 150002u);
  EXPECT_FALSE(rt.space().is_marked(unreachable));
  rt.space().clear_marks();
  EXPECT_EQ(marked_count(rt.space()), 0u);
  rt.decref(unreachable);
  rt.decref(chain);
  rt.store(fan, 0, nullptr);
  rt.decref(fan);
}

TEST(Marker, OpaqueObjectsAreMarkedButNotTraced) {
  Runtime rt(tricolor_test::synthetic_config());
  synthetic::Mutator self(rt);
  Object* a = rt.allocate(1);  // id 1: odd, opaque
  Object* b = rt.allocate(1);
  rt.store(a, 0, b);
  Picky picky(rt);
  tricolor::Marker m(rt.space(), picky, 0);
  tbb::task_arena arena(1);
  arena.execute([&] { m.run({a}); });
  ASSERT_EQ(a->id % 2, 1u);
  EXPECT_TRUE(rt.space().is_marked(a));
  EXPECT_FALSE(rt.space().is_marked(b));
  EXPECT_EQ(m.opaque(), 1u);
  rt.space().clear_marks();
  rt.decref(b);
  rt.decref(a);
}

TEST(Marker, GivesUpAtTheStackLimit) {
  Runtime rt(tricolor_test::synthetic_config());
  synthetic::Mutator self(rt);
  Object* fan = rt.allocate(1000);
  for (std::uint32_t i = 0; i < 1000; i++) {
    Object* n = rt.allocate(0);
    rt.store(fan, i, n);
    rt.decref(n);
  }
  tricolor::Marker m(rt.space(), rt, 100);
  tbb::task_arena arena(2);
  EXPECT_FALSE(arena.execute([&] { return m.run({fan}); }));
  ASSERT_NE(m.failure(), nullptr);
  EXPECT_NE(std::string(m.failure()).find("limit"), std::string::npos);
  rt.space().clear_marks();
  rt.decref(fan);
}

}  // namespace
