// Tests of gc/phase_driver.cc and gc/collector.cc: whole collections
// through the synthetic runtime.
//
// Strategy: each test builds a heap whose fate is known -- rooted objects,
// garbage cycles, a resurrecting finalizer -- runs collections in both
// modes, and checks which objects were freed (the runtime poisons a freed
// object's id, and the on_free hook records ids).  The mutator test runs
// collections while two threads rewire a rooted graph; each thread checks
// after every step that every object it can reach still has its id, which a
// wrongly freed object would not.  The fallback test caps the mark stacks so
// that marking must give up, and checks the collection still frees exactly
// the garbage.  Misuse tests check the error messages.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "synthetic/runtime.h"
#include "tests/support/synthetic.h"
#include "tricolor/collector.h"
#include "tricolor/events.h"
#include "tricolor/space.h"
#include "tricolor/stop_the_world.h"

namespace {

using synthetic::Object;
using synthetic::Runtime;
using tricolor::Mode;

// A garbage cycle of `n` objects (the caller keeps no reference).
void make_cycle(Runtime& rt, int n) {
  std::vector<Object*> c;
  for (int i = 0; i < n; i++) c.push_back(rt.allocate(1));
  for (int i = 0; i < n; i++) rt.store(c[i], 0, c[(i + 1) % n]);
  for (Object* o : c) rt.decref(o);
}

// A rooted binary tree of `depth` levels under global `g`; returns its size.
std::size_t make_tree(Runtime& rt, Object* parent, int depth) {
  if (depth == 0) return 0;
  std::size_t n = 0;
  for (std::uint32_t s = 0; s < 2; s++) {
    Object* child = rt.allocate(2);
    rt.store(parent, s, child);
    n += 1 + make_tree(rt, child, depth - 1);
    rt.decref(child);
  }
  return n;
}

class Phases : public ::testing::TestWithParam<Mode> {};

TEST_P(Phases, FreesGarbageCyclesAndNothingLive) {
  Runtime rt(tricolor_test::synthetic_config());
  synthetic::Mutator self(rt);
  Object* root = rt.allocate(2);
  rt.set_global(0, root);
  std::size_t tree = 1 + make_tree(rt, root, 10);
  rt.decref(root);
  for (int i = 0; i < 100; i++) make_cycle(rt, 1 + i % 7);
  std::size_t garbage = rt.live_objects() - tree;
  std::size_t freed_before = rt.freed_objects();
  auto st = rt.collector().collect(GetParam());
  EXPECT_EQ(st.objects, tree + garbage);  // every object of the heap, marked or not
  EXPECT_EQ(st.garbage, garbage);
  EXPECT_EQ(rt.freed_objects() - freed_before, garbage);
  EXPECT_EQ(rt.live_objects(), tree);
  EXPECT_FALSE(st.fell_back);
  if (GetParam() == Mode::kConcurrent) {
    EXPECT_EQ(st.marked, tree);        // the marker found the whole rooted tree
    EXPECT_EQ(st.candidates, garbage); // so only the garbage was a candidate
    EXPECT_EQ(st.verified, garbage);
    EXPECT_EQ(st.pause_ns.size(), 2u); // root scan, verify (no finalizers ran)
  } else {
    EXPECT_EQ(st.candidates, tree + garbage);
    EXPECT_EQ(st.pause_ns.size(), 1u); // verify
  }
  // The next collection finds nothing.
  st = rt.collector().collect(GetParam());
  EXPECT_EQ(st.garbage, 0u);
  EXPECT_EQ(st.objects, tree);
  rt.set_global(0, nullptr);
  rt.collector().collect(GetParam());
  EXPECT_EQ(rt.live_objects(), 0u);
}

TEST_P(Phases, ResurrectedGarbageIsNotCleared) {
  Runtime rt(tricolor_test::synthetic_config());
  synthetic::Mutator self(rt);
  make_cycle(rt, 3);
  std::vector<std::uint64_t> finalized;
  rt.on_finalize = [&](std::span<void* const> g) {
    for (void* o : g) finalized.push_back(static_cast<Object*>(o)->id);
    rt.set_global(1, static_cast<Object*>(g[0]));  // a finalizer resurrects one
  };
  auto st = rt.collector().collect(GetParam());
  EXPECT_EQ(st.garbage, 3u);
  EXPECT_EQ(st.resurrected, 3u);  // the whole cycle is reachable again
  EXPECT_EQ(st.pause_ns.size(), GetParam() == Mode::kConcurrent ? 3u : 2u);
  EXPECT_EQ(rt.live_objects(), 3u);
  Object* back = rt.get_global(1);
  ASSERT_NE(back, nullptr);
  EXPECT_NE(back->id, 0u);
  Object* next = rt.load(back, 0);
  ASSERT_NE(next, nullptr);  // not cleared
  rt.decref(next);
  rt.decref(back);
  rt.on_finalize = nullptr;
  rt.set_global(1, nullptr);
  st = rt.collector().collect(GetParam());
  EXPECT_EQ(st.garbage, 3u);
  EXPECT_EQ(st.resurrected, 0u);
  EXPECT_EQ(rt.live_objects(), 0u);
}

TEST_P(Phases, MutatorsNeverSeeAFreedObject) {
  Runtime rt(tricolor_test::synthetic_config());
  constexpr int kThreads = 2, kGlobals = 16;
  {
    synthetic::Mutator self(rt);
    for (int i = 0; i < kGlobals; i++) {
      Object* o = rt.allocate(4);
      rt.set_global(i, o);
      rt.decref(o);
    }
  }
  std::atomic<long> bad{0}, steps{0};
  std::atomic<int> running{kThreads};
  constexpr long kSteps = 100000;
  auto mutate = [&](unsigned seed) {
    synthetic::Mutator m(rt);
    std::mt19937 rng(seed);
    for (long i = 0; i < kSteps; i++) {
      // Walk from a random global a few steps, checking ids, then rewire:
      // store a new object, a garbage cycle, or a link to a global.
      Object* cur = rt.get_global(rng() % kGlobals);
      for (int d = rng() % 6; d > 0; d--) {
        if (cur->id == 0) bad++;
        Object* nxt = rt.load(cur, rng() % 4);
        if (!nxt) break;
        rt.decref(cur);
        cur = nxt;
      }
      {
        if (cur->id == 0) bad++;
        switch (rng() % 3) {
          case 0: {
            Object* n = rt.allocate(4);
            rt.store(cur, rng() % 4, n);
            rt.decref(n);
            break;
          }
          case 1: make_cycle(rt, 2 + rng() % 4); break;
          default: {
            Object* g = rt.get_global(rng() % kGlobals);
            rt.store(cur, rng() % 4, g);
            rt.decref(g);
          }
        }
        rt.decref(cur);
      }
      steps++;
      m.safepoint();
    }
    running--;
  };
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++) ts.emplace_back(mutate, 1234 + t);
  std::size_t garbage = 0;
  // Collect while they run; each mutator stops after kSteps steps, so the
  // garbage they make stays bounded however slow the build is.
  std::size_t collections = 0;
  while (running.load() > 0 || collections < 5) {
    garbage += rt.collector().collect(GetParam()).garbage;
    collections++;
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(steps.load(), 0);
  EXPECT_GT(garbage, 0u);
  // With the mutators gone and the globals dropped, everything is garbage.
  {
    synthetic::Mutator self(rt);
    for (int i = 0; i < kGlobals; i++) rt.set_global(i, nullptr);
  }
  rt.collector().collect(GetParam());
  EXPECT_EQ(rt.live_objects(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Modes, Phases, ::testing::Values(Mode::kConcurrent, Mode::kFullStw),
                         [](const auto& info) {
                           return info.param == Mode::kConcurrent ? "Concurrent" : "FullStw";
                         });

// Objects that only the test's own C++ references hold are no roots, so
// marking misses them and they become candidates; the candidate filter sees
// their outside references and keeps them out of the STW verification.
// Without the filter the verification pauses over them, and frees the same.
TEST(CandidateFilter, KeepsObjectsHeldFromOutsideOutOfThePause) {
  for (bool filter : {true, false}) {
    auto cfg = tricolor_test::synthetic_config();
    cfg.collector.filter_candidates = filter;
    Runtime rt(cfg);
    synthetic::Mutator self(rt);
    std::vector<Object*> held;
    for (int i = 0; i < 50; i++) {
      held.push_back(rt.allocate(1));
      tricolor_test::append_chain(rt, held.back(), 9);  // 10 objects, one held
    }
    for (int i = 0; i < 40; i++) make_cycle(rt, 1 + i % 5);
    const std::size_t garbage = rt.live_objects() - 500;
    auto st = rt.collector().collect(Mode::kConcurrent);
    EXPECT_EQ(st.candidates, 500 + garbage) << "filter " << filter;
    EXPECT_EQ(st.verified, filter ? garbage : 500 + garbage) << "filter " << filter;
    EXPECT_EQ(st.garbage, garbage) << "filter " << filter;
    EXPECT_EQ(rt.live_objects(), 500u) << "filter " << filter;
    for (Object* o : held) rt.decref(o);
    rt.collector().collect(Mode::kConcurrent);
    EXPECT_EQ(rt.live_objects(), 0u);
  }
}

TEST(Fallback, MarkStackLimitFallsBackToFullStw) {
  auto c = tricolor_test::synthetic_config();
  c.collector.mark_stack_limit_for_testing = 8;
  Runtime rt(c);
  synthetic::Mutator self(rt);
  Object* root = rt.allocate(2);
  rt.set_global(0, root);
  std::size_t tree = 1 + make_tree(rt, root, 12);
  rt.decref(root);
  for (int i = 0; i < 50; i++) make_cycle(rt, 4);
  testing::internal::CaptureStderr();
  auto st = rt.collector().collect();
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(st.fell_back);
  EXPECT_TRUE(st.full_stw);
  EXPECT_NE(err.find("falling back to a full stop-the-world collection"), std::string::npos) << err;
  EXPECT_EQ(st.garbage, 200u);
  EXPECT_EQ(st.objects, tree + 200);  // counted in the verify pause
  EXPECT_EQ(rt.live_objects(), tree);
  rt.set_global(0, nullptr);
  rt.collector().collect();
  EXPECT_EQ(rt.live_objects(), 0u);
}

TEST(Pacing, CollectionsKeepPaceWithAllocation) {
  // Synchronous pacing: a collection runs on the allocating thread each
  // time 1 MiB has been allocated, so the garbage never piles up.
  auto c = tricolor_test::synthetic_config();
  c.collector.min_trigger_bytes = 1 << 20;
  Runtime rt(c);
  synthetic::Mutator self(rt);
  std::size_t peak = 0;
  for (int i = 0; i < 200000; i++) {
    make_cycle(rt, 3);  // 3 objects of 32 bytes
    peak = std::max(peak, rt.live_objects());
  }
  // 18 MiB of cycles, a collection every 1 MiB plus up to one 256 KiB note
  // batch: 14-18 collections, never much more than that much garbage alive.
  EXPECT_GE(rt.collector().collections(), 12u);
  EXPECT_LE(rt.collector().collections(), 25u);
  EXPECT_LT(peak, std::size_t{(1 << 20) + (256 << 10)} / 32 + 100);
}

TEST(Pacing, BackgroundThreadCollects) {
  auto c = tricolor_test::synthetic_config(/*background=*/true);
  c.collector.min_trigger_bytes = 1 << 20;
  Runtime rt(c);
  synthetic::Mutator self(rt);
  for (int i = 0; i < 100000 && rt.collector().collections() == 0; i++) {
    make_cycle(rt, 3);
    self.safepoint();
  }
  for (int i = 0; i < 1000 && rt.collector().collections() == 0; i++) {
    tricolor::InactiveScope idle(rt.world());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(rt.collector().collections(), 1u);
}

// Records the pause events and the order of pause and phase events.
class PauseRecorder final : public tricolor::EventListener {
 public:
  void on_pause(const tricolor::PauseEvent& p) override {
    pauses.push_back(p);
    order.push_back("pause:" + std::string(tricolor::phase_name(p.phase)));
  }
  void on_phase(tricolor::Phase p, std::int64_t) override {
    if (tricolor::phase_is_pause(p)) order.push_back("phase:" + std::string(tricolor::phase_name(p)));
  }
  std::vector<tricolor::PauseEvent> pauses;
  std::vector<std::string> order;
};

// Every pause is reported once, after it, with its phase, the timings
// CollectionStats keeps, and what it processed: the thread roots, the
// objects verified, the garbage rechecked for resurrection.
TEST_P(Phases, EachPauseIsReportedWithItsPhaseAndObjects) {
  Runtime rt(tricolor_test::synthetic_config());
  PauseRecorder rec;
  rt.collector().add_listener(&rec);
  synthetic::Mutator self(rt);
  for (int i = 0; i < 3; i++) self.locals.push_back(rt.allocate(1));  // 3 thread roots
  make_cycle(rt, 4);
  rt.on_finalize = [](std::span<void* const>) {};  // "ran": the resurrection check runs
  auto st = rt.collector().collect(GetParam());
  ASSERT_EQ(rec.pauses.size(), st.pause_ns.size());
  for (std::size_t i = 0; i < rec.pauses.size(); i++) {
    EXPECT_EQ(rec.pauses[i].pause_ns, st.pause_ns[i]) << i;
    EXPECT_EQ(rec.pauses[i].wait_ns, st.wait_ns[i]) << i;
  }
  using tricolor::Phase;
  std::vector<Phase> phases;
  std::vector<std::size_t> objects;
  for (const auto& p : rec.pauses) {
    phases.push_back(p.phase);
    objects.push_back(p.objects);
  }
  if (GetParam() == Mode::kConcurrent) {
    EXPECT_EQ(phases, (std::vector<Phase>{Phase::kRootScan, Phase::kVerify, Phase::kResurrectionCheck}));
    EXPECT_EQ(objects, (std::vector<std::size_t>{3, 4, 4}));  // the filter left the garbage alone
    EXPECT_EQ(rec.order, (std::vector<std::string>{"pause:root-scan", "phase:root-scan", "pause:verify",
                                                   "phase:verify", "pause:resurrection-check",
                                                   "phase:resurrection-check"}));
  } else {
    EXPECT_EQ(phases, (std::vector<Phase>{Phase::kVerify, Phase::kResurrectionCheck}));
    EXPECT_EQ(objects, (std::vector<std::size_t>{3 + 4, 4}));  // every object, then the garbage
  }
  rt.on_finalize = nullptr;
}

// An embedder that leaves for_each_thread_root() to its default: each
// mutator hands the collector its own roots (World::set_roots), and the
// root scan calls for_each_mutator_root() once per such mutator.
class MutatorRootsEmbedder final : public tricolor::Embedder {
 public:
  struct Obj {
    std::atomic<long> rc{1};
    std::atomic<Obj*> next{nullptr};
  };
  struct Roots {
    std::vector<Obj*> locals;
  };
  tricolor::Space space;
  std::mutex mu;  // guards calls
  std::vector<std::pair<void*, bool>> calls;  // (roots, world stopped)
  tricolor::World* world = nullptr;

  Obj* make(Obj* next) {
    auto* o = new (space.allocate(sizeof(Obj))) Obj;
    if (next) next->rc++;
    o->next = next;
    return o;
  }
  bool trace(void* obj, tricolor::Visitor& v, bool) override {
    v.visit(static_cast<Obj*>(obj)->next.load());
    return true;
  }
  std::intptr_t refcount(void* obj) override { return static_cast<Obj*>(obj)->rc.load(); }
  void for_each_mutator_root(void* roots, tricolor::Visitor& v) override {
    {
      std::lock_guard lk(mu);
      calls.emplace_back(roots, world->stopping());
    }
    for (Obj* o : static_cast<Roots*>(roots)->locals) v.visit(o);
  }
  void hold(void* obj) override { static_cast<Obj*>(obj)->rc++; }
  void release(void* obj) override { static_cast<Obj*>(obj)->rc--; }
  void clear(std::span<void* const>) override {}
  bool caller_runs_alone() override { return alone; }
  bool alone = false;
};

TEST(Workers, ACallerThatRunsAloneHasTheConcurrentPhasesOnThePauseWorkers) {
  for (bool alone : {false, true}) {
    MutatorRootsEmbedder e;
    e.alone = alone;
    tricolor::World world;
    e.world = &world;
    tricolor::CollectorConfig cc;
    cc.background = false;
    cc.mark_workers = 1;
    cc.pause_workers = 2;
    tricolor::Collector col(e.space, e, &world, cc);
    // A chain of 100 that this thread holds (by refcount alone: no root,
    // so every link is a candidate the verification keeps), and a dropped
    // cycle of two.
    MutatorRootsEmbedder::Obj* head = nullptr;
    for (int i = 0; i < 100; i++) {
      MutatorRootsEmbedder::Obj* o = e.make(head);
      if (head) head->rc--;
      head = o;
    }
    MutatorRootsEmbedder::Obj* a = e.make(nullptr);
    MutatorRootsEmbedder::Obj* b = e.make(a);
    a->next = b;
    b->rc++;
    a->rc--;
    b->rc--;
    auto st = col.collect(Mode::kConcurrent);
    EXPECT_EQ(st.mark_workers, alone ? 2 : 1) << "alone " << alone;
    EXPECT_EQ(st.candidates, 102u) << "alone " << alone;
    EXPECT_EQ(st.garbage, 2u) << "alone " << alone;
    EXPECT_EQ(head->rc.load(), 1);
  }
}

TEST(MutatorRoots, EachAttachedMutatorsRootsAreScannedOnceWithTheWorldStopped) {
  MutatorRootsEmbedder e;
  tricolor::World world;
  e.world = &world;
  tricolor::CollectorConfig cc;
  cc.background = false;
  cc.mark_workers = 1;
  tricolor::Collector col(e.space, e, &world, cc);
  // Two threads, each with a chain of 10 held by its roots, then idle in
  // an inactive region while this one collects; a third attached thread
  // gives no roots.
  MutatorRootsEmbedder::Roots roots[2];
  std::atomic<int> ready{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; t++) {
    threads.emplace_back([&, t] {
      tricolor::MutatorScope attached(world);
      if (t < 2) {
        MutatorRootsEmbedder::Obj* head = nullptr;
        for (int i = 0; i < 10; i++) {
          MutatorRootsEmbedder::Obj* o = e.make(head);
          if (head) head->rc--;  // the chain holds it now
          head = o;
        }
        roots[t].locals.push_back(head);
        world.set_roots(&roots[t]);
      }
      tricolor::InactiveScope idle(world);
      ready++;
      while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
  }
  while (ready < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(world.mutator_roots().size(), 2u);
  auto st = col.collect(Mode::kConcurrent);
  EXPECT_EQ(st.marked, 20u);  // both chains, from the mutators' roots alone
  EXPECT_EQ(st.candidates, 0u);
  ASSERT_EQ(e.calls.size(), 2u);
  std::set<void*> seen{e.calls[0].first, e.calls[1].first};
  EXPECT_EQ(seen, (std::set<void*>{&roots[0], &roots[1]}));
  EXPECT_TRUE(e.calls[0].second && e.calls[1].second);  // in the root-scan pause
  done = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(world.mutator_roots().size(), 0u);  // detached: no roots left
}

class NoWorldEmbedder final : public tricolor::Embedder {
 public:
  bool trace(void*, tricolor::Visitor&, bool) override { return true; }
  std::intptr_t refcount(void*) override { return 1; }
  void hold(void*) override {}
  void release(void*) override {}
  void clear(std::span<void* const>) override {}
};

TEST(Misuse, CollectorWithoutAWorldSaysSo) {
  tricolor::Space space;
  NoWorldEmbedder e;
  tricolor::CollectorConfig cc;
  cc.background = false;
  tricolor::Collector col(space, e, nullptr, cc);
  try {
    col.collect();
    FAIL() << "expected UsageError";
  } catch (const tricolor::UsageError& err) {
    EXPECT_NE(std::string(err.what()).find("override stop_world()"), std::string::npos) << err.what();
  }
}

#ifndef NDEBUG
TEST(Misuse, AllocatingFromAnUnattachedThreadSaysSo) {
  Runtime rt(tricolor_test::synthetic_config());
  try {
    rt.allocate(1);
    FAIL() << "expected UsageError";
  } catch (const tricolor::UsageError& err) {
    EXPECT_NE(std::string(err.what()).find("not attached"), std::string::npos) << err.what();
  }
}
#endif

}  // namespace
