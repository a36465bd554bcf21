// Tests of gc/verifier.cc: the restricted verification and the candidate
// filter (gc/candidate_set.cc's indexing is tests/gc/candidate_set_test.cc's).
//
// Strategy: unit tests pin down the verification on hand-built graphs (a
// cycle, a cycle held from outside, a chain into a cycle, a non-collectable
// candidate).  The property test builds a random
// object graph with the synthetic runtime, holds random external
// references, and checks the lemma the collector rests on:
//   * for ANY candidate subset, find_garbage() returns nothing reachable
//     from an external reference;
//   * with every live object a candidate, it returns exactly the objects
//     that are not reachable from an external reference;
//   * with no mutator running, the candidate filter (guess_garbage) returns
//     exactly what find_garbage() does, for any subset;
// and then that real collections (concurrent, then full-STW) free exactly
// the unreachable objects.  Run it with RC_PARAMS="max_success=10000" (ctest
// does); rapidcheck prints the seed, and RC_PARAMS="seed=N" replays a run.
#include "gc/verifier.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "synthetic/runtime.h"
#include "tests/support/synthetic.h"

namespace {

using synthetic::Object;
using synthetic::Runtime;

std::set<void*> as_set(const std::vector<void*>& v) { return {v.begin(), v.end()}; }

TEST(Verify, FindsACycleButNotACycleHeldFromOutside) {
  Runtime rt(tricolor_test::synthetic_config());
  synthetic::Mutator self(rt);
  Object* a = rt.allocate(1);
  Object* b = rt.allocate(1);
  rt.store(a, 0, b);
  rt.store(b, 0, a);
  Object* c = rt.allocate(1);
  Object* d = rt.allocate(1);
  rt.store(c, 0, d);
  rt.store(d, 0, c);
  rt.decref(a);
  rt.decref(b);
  rt.decref(d);  // c is still held by this test
  tricolor::CandidateSet cs;
  cs.build_from_heap(rt.space(), true);
  auto r = tricolor::find_garbage(rt, cs);
  EXPECT_EQ(as_set(r.garbage), (std::set<void*>{a, b}));
  // Only d as candidate: c's reference to d is from outside the set.
  std::vector<void*> only_d{d};
  cs.build_from_list(rt.space(), only_d);
  EXPECT_TRUE(tricolor::find_garbage(rt, cs).garbage.empty());
  // a alone: b -> a comes from outside the set, so a is alive.
  std::vector<void*> only_a{a};
  cs.build_from_list(rt.space(), only_a);
  EXPECT_TRUE(tricolor::find_garbage(rt, cs).garbage.empty());
  rt.decref(c);
  rt.collector().collect(tricolor::Mode::kFullStw);
  EXPECT_EQ(rt.live_objects(), 0u);
}

TEST(Verify, ReportsARefcountSmallerThanTheReferencesItCounts) {
  Runtime rt(tricolor_test::synthetic_config());
  synthetic::Mutator self(rt);
  std::vector<std::pair<Object*, std::int64_t>> errors;
  rt.on_refcount_error = [&](Object* o, std::int64_t excess) { errors.emplace_back(o, excess); };
  Object* a = rt.allocate(1);
  Object* b = rt.allocate(1);
  Object* c = rt.allocate(1);
  rt.store(a, 0, b);
  rt.store(b, 0, a);
  rt.store(c, 0, a);  // a: this test, b and c
  rt.decref(b);       // b: held by a only
  rt.decref(a);
  rt.decref(a);  // the runtime's bug: a's count is 1, but b and c both point to it
  tricolor::CandidateSet cs;
  cs.build_from_heap(rt.space(), true);
  auto r = tricolor::find_garbage(rt, cs);
  EXPECT_EQ(errors, (std::vector<std::pair<Object*, std::int64_t>>{{a, 1}}));
  EXPECT_TRUE(r.garbage.empty());  // c is held, and through it a and b
  Runtime::incref(a);  // repair the count so that the teardown frees it once
  rt.store(c, 0, nullptr);
  rt.decref(c);
  rt.collector().collect(tricolor::Mode::kFullStw);
  EXPECT_EQ(rt.live_objects(), 0u);
  EXPECT_EQ(errors.size(), 1u);
}

TEST(Verify, ChainIntoHeldObjectIsAliveAndResurrectionIsSeen) {
  Runtime rt(tricolor_test::synthetic_config());
  synthetic::Mutator self(rt);
  Object* held = rt.allocate(1);
  Object* x = rt.allocate(1);
  Object* y = rt.allocate(1);
  rt.store(held, 0, x);
  rt.store(x, 0, y);
  rt.store(y, 0, x);
  rt.decref(x);
  rt.decref(y);
  tricolor::CandidateSet cs;
  cs.build_from_heap(rt.space(), true);
  auto r = tricolor::find_garbage(rt, cs);
  EXPECT_TRUE(r.garbage.empty());
  // Cut the chain: x, y become a garbage cycle. Resurrect x from a "finalizer".
  rt.store(held, 0, nullptr);
  cs.build_from_heap(rt.space(), true);
  r = tricolor::find_garbage(rt, cs);
  ASSERT_EQ(as_set(r.garbage), (std::set<void*>{x, y}));
  for (void* g : r.garbage) rt.hold(g);
  rt.store(held, 0, x);  // resurrection
  tricolor::Verifier verifier(rt, cs);
  auto res = verifier.find_resurrected(r.garbage);
  EXPECT_TRUE(res[0] && res[1]);
  rt.store(held, 0, nullptr);
  res = verifier.find_resurrected(r.garbage);
  EXPECT_FALSE(res[0] || res[1]);
  for (void* g : r.garbage) rt.release(g);
  rt.decref(held);
  rt.collector().collect(tricolor::Mode::kFullStw);
  EXPECT_EQ(rt.live_objects(), 0u);
}

// A random graph: nslots per object, edges by index (-1 = empty), and which
// objects the test keeps an external reference to.
struct Graph {
  std::vector<int> slots;                // nslots of object i
  std::vector<std::vector<int>> edges;   // edges[i][s] = target or -1
  std::vector<bool> external;
};

rc::Gen<Graph> graph_gen() {
  return rc::gen::mapcat(rc::gen::inRange(1, 120), [](int n) {
    auto object = rc::gen::mapcat(rc::gen::inRange(0, 4), [n](int k) {
      return rc::gen::container<std::vector<int>>(k, rc::gen::inRange(-1, n));
    });
    return rc::gen::map(
        rc::gen::pair(rc::gen::container<std::vector<std::vector<int>>>(n, object),
                      rc::gen::container<std::vector<bool>>(
                          n, rc::gen::weightedElement<bool>({{1, true}, {5, false}}))),
        [](const std::pair<std::vector<std::vector<int>>, std::vector<bool>>& p) {
          Graph g;
          g.edges = p.first;
          g.external = p.second;
          for (auto& e : g.edges) g.slots.push_back(static_cast<int>(e.size()));
          return g;
        });
  });
}

// The graph's objects, allocated in rt, their slots filled; the test holds
// one reference to each.
std::vector<Object*> build(Runtime& rt, const Graph& g) {
  std::vector<Object*> objs(g.slots.size());
  for (std::size_t i = 0; i < objs.size(); i++) objs[i] = rt.allocate(static_cast<std::uint32_t>(g.slots[i]));
  for (std::size_t i = 0; i < objs.size(); i++) {
    for (std::size_t s = 0; s < g.edges[i].size(); s++) {
      if (g.edges[i][s] >= 0) rt.store(objs[i], static_cast<std::uint32_t>(s), objs[g.edges[i][s]]);
    }
  }
  return objs;
}

}  // namespace

RC_GTEST_PROP(VerifyProperty, RestrictedVerificationIsSoundAndFullIsExact, ()) {
  const Graph g = *graph_gen();
  Runtime rt(tricolor_test::synthetic_config());  // one per case: a failed case leaves nothing behind
  synthetic::Mutator self(rt);
  std::size_t n = g.slots.size();
  const std::vector<Object*> objs = build(rt, g);
  // Ground truth: reachable from the external references.
  std::vector<bool> reach(n, false);
  std::vector<std::size_t> stack;
  for (std::size_t i = 0; i < n; i++) {
    if (g.external[i]) {
      reach[i] = true;
      stack.push_back(i);
    }
  }
  while (!stack.empty()) {
    std::size_t i = stack.back();
    stack.pop_back();
    for (int t : g.edges[i]) {
      if (t >= 0 && !reach[t]) {
        reach[t] = true;
        stack.push_back(static_cast<std::size_t>(t));
      }
    }
  }
  // Drop the test's references except the external ones. Unreachable
  // acyclic objects die now, by reference counting.
  std::set<std::uint64_t> freed;
  rt.on_free = [&](Object* o) { freed.insert(o->id); };
  std::unordered_map<void*, std::size_t> index;
  std::vector<std::uint64_t> ids(n);
  for (std::size_t i = 0; i < n; i++) {
    index[objs[i]] = i;
    ids[i] = objs[i]->id;
  }
  for (std::size_t i = 0; i < n; i++) {
    if (!g.external[i]) rt.decref(objs[i]);
  }
  for (std::size_t i = 0; i < n; i++) RC_ASSERT(!(reach[i] && freed.count(ids[i])));
  std::vector<void*> live;
  for (std::size_t i = 0; i < n; i++) {
    if (!freed.count(ids[i])) live.push_back(objs[i]);
  }
  // Any subset: sound.
  const auto pick = *rc::gen::container<std::vector<bool>>(live.size(), rc::gen::arbitrary<bool>());
  std::vector<void*> subset;
  for (std::size_t k = 0; k < live.size(); k++) {
    if (pick[k]) subset.push_back(live[k]);
  }
  tricolor::CandidateSet cs;
  cs.build_from_list(rt.space(), subset);
  const std::set<void*> sub_garbage = as_set(tricolor::find_garbage(rt, cs).garbage);
  for (void* x : sub_garbage) RC_ASSERT(!reach[index.at(x)]);
  // With no mutator running, the candidate filter's guess is the
  // verification's answer.
  const bool guess_is_answer = as_set(tricolor::guess_garbage(rt, cs)) == sub_garbage;
  RC_ASSERT(guess_is_answer);
  // Everything: exact.
  cs.build_from_heap(rt.space(), /*all=*/true);
  std::set<void*> garbage = as_set(tricolor::find_garbage(rt, cs).garbage);
  std::set<void*> expected;
  for (void* x : live) {
    if (!reach[index.at(x)]) expected.insert(x);
  }
  const bool exact = garbage == expected;
  RC_ASSERT(exact);
  // The collector itself frees exactly the unreachable objects...
  rt.collector().collect(tricolor::Mode::kConcurrent);
  for (std::size_t i = 0; i < n; i++) RC_ASSERT(freed.count(ids[i]) == (reach[i] ? 0u : 1u));
  // ...and everything once the external references are gone.
  for (std::size_t i = 0; i < n; i++) {
    if (g.external[i]) rt.decref(objs[i]);
  }
  rt.collector().collect(tricolor::Mode::kFullStw);
  rt.on_free = nullptr;
  RC_ASSERT(rt.live_objects() == 0u);
}

// The dependents that find_garbage(with_dependents) returns are exactly the
// least fixpoint of "every reference comes from the garbage or from
// dependents", over any batch of any candidate set: computed here the slow
// way, from the graph's edges and the runtime's refcounts.
RC_GTEST_PROP(VerifyProperty, DependentsAreWhatOnlyTheGarbageHolds, ()) {
  const Graph g = *graph_gen();
  Runtime rt(tricolor_test::synthetic_config());
  synthetic::Mutator self(rt);
  std::size_t n = g.slots.size();
  const std::vector<Object*> objs = build(rt, g);
  std::set<std::uint64_t> freed;
  rt.on_free = [&](Object* o) { freed.insert(o->id); };
  std::vector<std::uint64_t> ids(n);
  for (std::size_t i = 0; i < n; i++) ids[i] = objs[i]->id;
  for (std::size_t i = 0; i < n; i++) {
    if (!g.external[i]) rt.decref(objs[i]);
  }
  std::vector<std::size_t> live;  // graph indices
  for (std::size_t i = 0; i < n; i++) {
    if (!freed.count(ids[i])) live.push_back(i);
  }
  // Candidates: a random subset of the live objects; the batch: a random
  // subset of those (the rest are candidates of other batches).  Mostly
  // in, so that the garbage is big enough to hold something alone.
  const auto mostly = rc::gen::weightedElement<bool>({{4, true}, {1, false}});
  const auto cand = *rc::gen::container<std::vector<bool>>(live.size(), mostly);
  std::vector<void*> subset;
  for (std::size_t k = 0; k < live.size(); k++) {
    if (cand[k]) subset.push_back(objs[live[k]]);
  }
  tricolor::CandidateSet cs;
  cs.build_from_list(rt.space(), subset);
  const auto in_batch = *rc::gen::container<std::vector<bool>>(cs.size(), mostly);
  std::vector<std::size_t> members;
  for (std::size_t i = 0; i < cs.size(); i++) {
    if (in_batch[i]) members.push_back(i);
  }
  // Some members shaded (Collector::shade): excluded, so never garbage,
  // and the references the garbage holds to them count as from outside
  // the counted members -- the path by which an excluded member can still
  // be a dependent.
  const auto rarely = rc::gen::weightedElement<bool>({{1, true}, {6, false}});
  const auto shade = *rc::gen::container<std::vector<bool>>(members.size(), rarely);
  std::unordered_set<const void*> shaded;
  for (std::size_t k = 0; k < members.size(); k++) {
    if (shade[k]) shaded.insert(cs.object(members[k]));
  }
  tricolor::Verifier verifier(rt, cs, nullptr, &rt.space());
  verifier.set_shaded(&shaded);
  auto r = verifier.find_garbage(members, {}, /*with_dependents=*/true);
  for (void* o : r.garbage) RC_ASSERT(!shaded.contains(o));
  RC_ASSERT(r.excluded == shaded.size());
  std::set<void*> dead = as_set(r.garbage);
  std::set<void*> expected;
  for (bool grew = true; grew;) {
    grew = false;
    for (std::size_t i : live) {
      if (dead.count(objs[i])) continue;
      std::int64_t from_dead = 0;
      for (std::size_t y : live) {
        if (!dead.count(objs[y])) continue;
        for (int t : g.edges[y]) from_dead += t == static_cast<int>(i);
      }
      if (from_dead > 0 && from_dead == rt.refcount(objs[i])) {
        dead.insert(objs[i]);
        expected.insert(objs[i]);
        grew = true;
      }
    }
  }
  RC_TAG(expected.empty() ? "no dependents" : "dependents");
  RC_ASSERT(r.dependents.size() == expected.size());
  const bool exact = as_set(r.dependents) == expected;
  RC_ASSERT(exact);
  rt.on_free = nullptr;
}
