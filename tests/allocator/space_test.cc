// tests/allocator/space_test.cc -- tricolor::Space (allocator/space.cc).
//
// Test strategy
// -------------
// The Space is checked against a model the test keeps itself: the set of
// pointers it allocated and has not freed (and, for marks, the subset it
// marked). Every query of the Space is compared with that model:
//   * allocation of mixed sizes (1 B .. 64 KiB, log-uniform with a fixed
//     seed, plus blocks of 1.5 .. 48 MiB): 16-alignment, contains,
//     is_object, object_start of the start / last byte / a random interior
//     byte, object_size >= request; every object is filled with its own
//     byte pattern and re-checked at the end, which catches overlapping
//     blocks;
//   * free: is_object and object_start(interior) turn false/null, the others
//     are untouched;
//   * marks: black allocation marks new objects (and only while on),
//     try_mark succeeds exactly once, for_each_unmarked / for_each_object
//     report exactly the model's sets (collected under a mutex; duplicates
//     are an error), clear_marks clears every mark, and freeing every
//     unmarked object from inside for_each_unmarked (a sweep, on TBB
//     threads) leaves exactly the marked ones;
//   * concurrency: 4 threads allocate while 2 others free half of those
//     objects (cross-thread frees) and query object_start on the rest; then
//     the surviving set must equal the model. Small (64 MiB) arenas make the
//     threads add arenas concurrently;
//   * arenas: growth past one arena, the max_arenas limit (allocate returns
//     nullptr, no crash, no extra arena), a request larger than an arena
//     fails without reserving arenas, the 32 MiB rounding, two Spaces alive
//     at once keep their objects apart, threads racing to add arenas all
//     get memory (a hook, allocator/testing.h, makes each adder let the
//     others go first);
//   * misuse: with SpaceConfig::world set, allocate() from a thread that is
//     not attached to the World throws UsageError (a thread's first
//     allocation in every build, every allocation in Debug builds);
//   * lifetimes: a Space destroyed and a new one built at the same address
//     on the same thread; a Space destroyed while another thread still holds
//     its heaps, that thread then using a new Space and exiting; objects of
//     an exited thread staying valid; 100 Space lifetimes in one process,
//     more than mimalloc's 64 arena slots, which only works because dead
//     Spaces' arenas are reused.
// Sizes are chosen so the whole binary runs in a few seconds (and well
// under 30 s with sanitizers) on 2 cores.
//
// Under TSan, scripts/test.sh runs it with TRICOLOR_TBB_THREADS=1 (see
// tests/support/main.cc).
#include "tricolor/space.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <deque>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "allocator/testing.h"        // SpaceTesting: the added-arena hook
#include "tricolor/stop_the_world.h"  // World, MutatorScope, UsageError

namespace tricolor {
namespace {

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * KiB;

SpaceConfig small_arenas(std::size_t max_arenas) {
  SpaceConfig c;
  c.arena_bytes = 64 * MiB;
  c.max_arenas = max_arenas;
  return c;
}

std::uintptr_t addr(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }
char* at(void* p, std::size_t off) { return static_cast<char*>(p) + off; }

// Log-uniform in [1, max].
std::size_t random_size(std::mt19937_64& rng, std::size_t max) {
  std::uniform_real_distribution<double> d(0.0, std::log2(static_cast<double>(max)));
  return std::max<std::size_t>(1, static_cast<std::size_t>(std::exp2(d(rng))));
}

struct Obj {
  void* p;
  std::size_t size;
  unsigned char tag;
};

void fill(const Obj& o) { std::memset(o.p, o.tag, o.size); }

bool intact(const Obj& o) {
  const auto* b = static_cast<const unsigned char*>(o.p);
  // First, last and a stride in between: cheap enough for MiB blocks.
  for (std::size_t i = 0; i < o.size; i += 997) {
    if (b[i] != o.tag) return false;
  }
  return b[o.size - 1] == o.tag;
}

// Checks every query about one live object.
void expect_object(const Space& s, const Obj& o, std::mt19937_64& rng) {
  ASSERT_NE(o.p, nullptr);
  EXPECT_EQ(addr(o.p) % 16, 0u);
  EXPECT_TRUE(s.contains(o.p));
  EXPECT_TRUE(s.is_object(o.p));
  EXPECT_FALSE(s.is_object(at(o.p, 8)));  // not granule-aligned
  const std::size_t size = Space::object_size(o.p);
  EXPECT_GE(size, o.size);
  EXPECT_EQ(s.object_start(o.p), o.p);
  EXPECT_EQ(s.object_start(at(o.p, size - 1)), o.p);
  EXPECT_EQ(s.object_start(at(o.p, rng() % size)), o.p);
  if (size > 16) {
    EXPECT_FALSE(s.is_object(at(o.p, 16)));
  }
}

// Everything fn is called with, checked for duplicates.
std::set<void*> collect(const Space& s, bool unmarked_only) {
  std::mutex mu;
  std::vector<void*> seen;
  auto fn = [&](void* p) {
    std::lock_guard<std::mutex> g(mu);
    seen.push_back(p);
  };
  if (unmarked_only) {
    s.for_each_unmarked(fn);
  } else {
    s.for_each_object(fn);
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end()) << "object visited twice";
  return {seen.begin(), seen.end()};
}

TEST(Space, ReservesOneArenaRoundedTo32MiB) {
  {
    Space s;
    EXPECT_EQ(s.arena_count(), 1u);
    EXPECT_EQ(s.reserved_bytes(), std::size_t{1} << 30);
  }
  {
    SpaceConfig c;
    c.arena_bytes = 1;
    Space s(c);
    EXPECT_EQ(s.reserved_bytes(), 32 * MiB);
    void* p = s.allocate(100);
    EXPECT_TRUE(s.is_object(p));
  }
  {
    SpaceConfig c = small_arenas(2);
    c.commit = true;
    Space s(c);
    EXPECT_EQ(s.reserved_bytes(), 64 * MiB);
    void* p = s.allocate(4096);
    ASSERT_NE(p, nullptr);
    std::memset(p, 1, 4096);
    EXPECT_TRUE(s.is_object(p));
  }
  SpaceConfig bad;
  bad.max_arenas = 0;
  EXPECT_THROW(Space{bad}, std::runtime_error);
  SpaceConfig huge;
  huge.arena_bytes = ~std::size_t{0};
  EXPECT_THROW(Space{huge}, std::runtime_error);
}

TEST(Space, MixedSizesAreObjects) {
  Space s;
  std::mt19937_64 rng(1);
  std::vector<Obj> objs;
  for (int i = 0; i < 3000; ++i) {
    const std::size_t size = random_size(rng, 64 * KiB);
    objs.push_back({s.allocate(size), size, static_cast<unsigned char>(i)});
    ASSERT_NE(objs.back().p, nullptr) << size;
    fill(objs.back());
  }
  for (std::size_t size : {3 * MiB / 2, 3 * MiB, 12 * MiB, 48 * MiB}) {
    objs.push_back({s.allocate(size), size, 0xEE});
    ASSERT_NE(objs.back().p, nullptr) << size;
    fill(objs.back());
  }
  for (const Obj& o : objs) {
    expect_object(s, o, rng);
    EXPECT_TRUE(intact(o)) << "overlap at " << o.p;
  }
  int local = 0;
  EXPECT_FALSE(s.contains(&local));
  EXPECT_FALSE(s.is_object(&local));
  EXPECT_EQ(s.object_start(&local), nullptr);
  EXPECT_FALSE(s.contains(nullptr));
  EXPECT_EQ(s.object_start(nullptr), nullptr);
  EXPECT_EQ(collect(s, false).size(), objs.size());
}

TEST(Space, FreeClearsIsObject) {
  Space s(small_arenas(4));
  std::mt19937_64 rng(2);
  std::vector<Obj> objs;
  for (int i = 0; i < 2000; ++i) {
    const std::size_t size = random_size(rng, 8 * KiB);
    objs.push_back({s.allocate(size), size, static_cast<unsigned char>(i)});
    fill(objs.back());
  }
  std::set<void*> live;
  for (std::size_t i = 0; i < objs.size(); ++i) {
    if (i % 2 == 0) {
      s.free(objs[i].p);
    } else {
      live.insert(objs[i].p);
    }
  }
  for (std::size_t i = 0; i < objs.size(); ++i) {
    const Obj& o = objs[i];
    if (i % 2 == 0) {
      EXPECT_FALSE(s.is_object(o.p));
      EXPECT_TRUE(s.contains(o.p));
      EXPECT_EQ(s.object_start(o.p), nullptr);
      EXPECT_EQ(s.object_start(at(o.p, o.size - 1)), nullptr);
    } else {
      expect_object(s, o, rng);
      EXPECT_TRUE(intact(o));
    }
  }
  EXPECT_EQ(collect(s, false), live);
}

TEST(Space, BlackAllocationAndTryMark) {
  Space s;
  EXPECT_FALSE(s.black_allocation());
  void* white = s.allocate(64);
  EXPECT_FALSE(s.is_marked(white));
  s.set_black_allocation(true);
  EXPECT_TRUE(s.black_allocation());
  std::vector<void*> black;
  for (int i = 0; i < 100; ++i) black.push_back(s.allocate(16 + 16 * i));
  for (void* p : black) {
    EXPECT_TRUE(s.is_marked(p));
    EXPECT_FALSE(s.try_mark(p));  // already marked by allocation
  }
  s.set_black_allocation(false);
  EXPECT_FALSE(s.black_allocation());
  void* white2 = s.allocate(64);
  EXPECT_FALSE(s.is_marked(white2));

  EXPECT_TRUE(s.try_mark(white));
  EXPECT_FALSE(s.try_mark(white));
  EXPECT_TRUE(s.is_marked(white));
  EXPECT_FALSE(s.is_marked(white2));

  // mark_if_object: only an object's first byte, once.
  EXPECT_FALSE(s.mark_if_object(static_cast<char*>(white2) + 16));
  EXPECT_FALSE(s.mark_if_object(&s));
  EXPECT_FALSE(s.is_marked(white2));
  EXPECT_TRUE(s.mark_if_object(white2));
  EXPECT_FALSE(s.mark_if_object(white2));
  EXPECT_TRUE(s.is_marked(white2));

  // free() leaves the mark alone; clear_marks() resets it.
  s.free(black[0]);
  EXPECT_TRUE(s.is_marked(black[0]));
  s.clear_marks();
  EXPECT_FALSE(s.is_marked(black[0]));
  EXPECT_FALSE(s.is_marked(white));
  EXPECT_FALSE(s.is_marked(white2));
  for (void* p : black) EXPECT_FALSE(s.is_marked(p));
}

TEST(Space, ForEachUnmarkedVisitsExactlyTheLiveUnmarked) {
  // Small arenas so the scans cover several arenas.
  Space s(small_arenas(8));
  std::mt19937_64 rng(3);
  std::vector<void*> all;
  std::size_t total = 0;
  while (total < 100 * MiB) {
    const std::size_t size = random_size(rng, 64 * KiB);
    void* p = s.allocate(size);
    ASSERT_NE(p, nullptr);
    all.push_back(p);
    total += size;
  }
  ASSERT_GE(s.arena_count(), 2u);
  std::set<void*> live, unmarked;
  for (std::size_t i = 0; i < all.size(); ++i) {
    switch (i % 3) {
      case 0:
        s.free(all[i]);
        break;
      case 1:
        EXPECT_TRUE(s.try_mark(all[i]));
        live.insert(all[i]);
        break;
      default:
        live.insert(all[i]);
        unmarked.insert(all[i]);
    }
  }
  EXPECT_EQ(collect(s, true), unmarked);
  EXPECT_EQ(collect(s, false), live);
  // A sweep: free every unmarked object from inside the scan (so from TBB
  // worker threads, objects of the main thread's heaps).
  std::atomic<std::size_t> swept{0};
  s.for_each_unmarked([&](void* p) {
    s.free(p);
    swept.fetch_add(1, std::memory_order_relaxed);
  });
  EXPECT_EQ(swept.load(), unmarked.size());
  std::set<void*> marked;
  std::set_difference(live.begin(), live.end(), unmarked.begin(), unmarked.end(),
                      std::inserter(marked, marked.end()));
  EXPECT_EQ(collect(s, false), marked);
  EXPECT_TRUE(collect(s, true).empty());

  s.clear_marks();
  for (void* p : marked) ASSERT_FALSE(s.is_marked(p));
  EXPECT_EQ(collect(s, true), marked);
  // Freed space is allocated again and shows up in the scans.
  void* again = s.allocate(100);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(collect(s, false).count(again), 1u);
}

TEST(Space, ConcurrentAllocationAndCrossThreadFrees) {
  Space s(small_arenas(16));
  constexpr int kAllocators = 4;
  constexpr int kPerThread = 15000;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Obj> queue;
  int allocators_done = 0;
  std::vector<Obj> kept;
  std::atomic<int> failures{0};

  std::vector<std::thread> threads;
  for (int t = 0; t < kAllocators; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      for (int i = 0; i < kPerThread; ++i) {
        const std::size_t size = random_size(rng, 8 * KiB);
        Obj o{s.allocate(size), size, static_cast<unsigned char>(t * 31 + i)};
        if (o.p == nullptr || !s.is_object(o.p) || s.object_start(at(o.p, size - 1)) != o.p) {
          ++failures;
          continue;
        }
        fill(o);
        std::lock_guard<std::mutex> g(mu);
        queue.push_back(o);
        cv.notify_one();
      }
      std::lock_guard<std::mutex> g(mu);
      ++allocators_done;
      cv.notify_all();
    });
  }
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      std::mt19937_64 rng(7);
      std::vector<Obj> mine;
      for (std::size_t n = 0;; ++n) {
        Obj o;
        {
          std::unique_lock<std::mutex> g(mu);
          cv.wait(g, [&] { return !queue.empty() || allocators_done == kAllocators; });
          if (queue.empty()) break;
          o = queue.front();
          queue.pop_front();
        }
        if (!intact(o) || s.object_start(at(o.p, rng() % o.size)) != o.p) ++failures;
        if (n % 2 == 0) {
          s.free(o.p);
        } else {
          mine.push_back(o);
        }
      }
      std::lock_guard<std::mutex> g(mu);
      kept.insert(kept.end(), mine.begin(), mine.end());
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GE(s.arena_count(), 2u) << "expected the threads to grow the Space";

  std::set<void*> want;
  std::mt19937_64 rng(9);
  for (const Obj& o : kept) {
    want.insert(o.p);
    EXPECT_TRUE(intact(o));
    expect_object(s, o, rng);
  }
  EXPECT_EQ(collect(s, false), want);
}

TEST(Space, GrowsUpToMaxArenasThenReturnsNull) {
  Space s(small_arenas(3));
  std::vector<void*> objs;
  std::size_t total = 0;
  while (objs.size() < 10000) {  // 10000 * 256 KiB is far beyond 3 arenas
    void* p = s.allocate(256 * KiB);
    if (p == nullptr) break;
    objs.push_back(p);
    total += 256 * KiB;
  }
  EXPECT_EQ(s.arena_count(), 3u);
  EXPECT_EQ(s.reserved_bytes(), 3 * 64 * MiB);
  EXPECT_GT(total, 2 * 64 * MiB);
  EXPECT_LE(total, 3 * 64 * MiB);
  EXPECT_EQ(s.allocate(256 * KiB), nullptr);  // still full, still no crash
  EXPECT_EQ(s.arena_count(), 3u);
  for (void* p : objs) ASSERT_TRUE(s.is_object(p));

  // Freed space is found again, in whichever arena it is.
  for (std::size_t i = 0; i < objs.size(); i += 2) s.free(objs[i]);
  std::size_t again = 0;
  while (void* p = s.allocate(256 * KiB)) {
    ASSERT_TRUE(s.is_object(p));
    ++again;
  }
  EXPECT_GE(again, objs.size() / 2 - 8);
  EXPECT_EQ(s.arena_count(), 3u);
}

TEST(Space, RequestLargerThanAnArenaFailsWithoutGrowing) {
  Space s(small_arenas(8));
  EXPECT_EQ(s.allocate(65 * MiB), nullptr);
  EXPECT_EQ(s.allocate(std::size_t{1} << 40), nullptr);
  EXPECT_EQ(s.arena_count(), 1u);
  void* big = s.allocate(48 * MiB);  // fits an empty arena
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(s.object_start(at(big, 48 * MiB - 1)), big);
  void* big2 = s.allocate(48 * MiB);  // needs a second arena
  ASSERT_NE(big2, nullptr);
  EXPECT_EQ(s.arena_count(), 2u);
}

TEST(Space, TwoSpacesDoNotMix) {
  Space a(small_arenas(4));
  Space b(small_arenas(4));
  std::set<void*> in_a, in_b;
  for (int i = 0; i < 1000; ++i) {
    in_a.insert(a.allocate(16 + i % 500));
    in_b.insert(b.allocate(16 + i % 700));
  }
  for (void* p : in_a) {
    EXPECT_TRUE(a.is_object(p));
    EXPECT_FALSE(b.contains(p));
    EXPECT_FALSE(b.is_object(p));
    EXPECT_EQ(b.object_start(p), nullptr);
  }
  for (void* p : in_b) {
    EXPECT_TRUE(b.is_object(p));
    EXPECT_FALSE(a.contains(p));
  }
  EXPECT_EQ(collect(a, false), in_a);
  EXPECT_EQ(collect(b, false), in_b);
  for (void* p : in_a) a.free(p);
  EXPECT_TRUE(collect(a, false).empty());
  EXPECT_EQ(collect(b, false), in_b);
}

TEST(Space, RecreatedAtSameAddressOnSameThread) {
  std::optional<Space> s;
  const Space* first = nullptr;
  for (int round = 0; round < 5; ++round) {
    s.emplace(small_arenas(2));
    if (first == nullptr) first = &*s;
    ASSERT_EQ(&*s, first);  // same address every round
    std::set<void*> mine;
    for (int i = 0; i < 2000; ++i) {
      void* p = s->allocate(16 + 16 * (i % 64));
      ASSERT_NE(p, nullptr);
      ASSERT_TRUE(s->is_object(p));
      mine.insert(p);
    }
    // Nothing of the previous rounds is visible in this one.
    EXPECT_EQ(collect(*s, false), mine) << "round " << round;
    s.reset();
  }
}

TEST(Space, DestroyedWhileAnotherThreadHoldsItsHeaps) {
  std::optional<Space> s1(std::in_place, small_arenas(2));
  std::optional<Space> s2;
  std::mutex mu;
  std::condition_variable cv;
  int step = 0;
  std::vector<void*> from_thread;

  std::thread t([&] {
    for (int i = 0; i < 1000; ++i) ASSERT_NE(s1->allocate(128), nullptr);
    {
      std::unique_lock<std::mutex> g(mu);
      step = 1;
      cv.notify_all();
      cv.wait(g, [&] { return step == 2; });
    }
    // s1 is gone and s2 exists (at the same address, maybe in s1's arena):
    // this thread must use fresh heaps for it.
    for (int i = 0; i < 1000; ++i) {
      void* p = s2->allocate(256);
      ASSERT_NE(p, nullptr);
      ASSERT_TRUE(s2->is_object(p));
      std::memset(p, 0x5A, 256);
      from_thread.push_back(p);
    }
  });  // ... and then exits while s2 is alive.
  {
    std::unique_lock<std::mutex> g(mu);
    cv.wait(g, [&] { return step == 1; });
  }
  s1.reset();
  s2.emplace(small_arenas(2));
  {
    std::lock_guard<std::mutex> g(mu);
    step = 2;
    cv.notify_all();
  }
  t.join();
  // The exited thread's objects are still valid and can be freed here.
  ASSERT_EQ(from_thread.size(), 1000u);
  EXPECT_EQ(collect(*s2, false), std::set<void*>(from_thread.begin(), from_thread.end()));
  for (void* p : from_thread) {
    EXPECT_EQ(static_cast<unsigned char*>(p)[255], 0x5A);
    s2->free(p);
  }
  EXPECT_TRUE(collect(*s2, false).empty());
  void* p = s2->allocate(256);
  EXPECT_TRUE(s2->is_object(p));
}

TEST(Space, ObjectsOutliveTheirThread) {
  Space s(small_arenas(4));
  std::vector<Obj> objs;
  std::thread t([&] {
    std::mt19937_64 rng(11);
    for (int i = 0; i < 5000; ++i) {
      const std::size_t size = random_size(rng, 4 * KiB);
      objs.push_back({s.allocate(size), size, static_cast<unsigned char>(i)});
      fill(objs.back());
    }
  });
  t.join();
  std::mt19937_64 rng(12);
  std::set<void*> live;
  for (std::size_t i = 0; i < objs.size(); ++i) {
    expect_object(s, objs[i], rng);
    EXPECT_TRUE(intact(objs[i]));
    if (i % 2 == 0) {
      s.free(objs[i].p);
    } else {
      live.insert(objs[i].p);
    }
  }
  std::vector<void*> more;
  std::thread t2([&] {
    for (int i = 0; i < 5000; ++i) {
      void* p = s.allocate(64);
      ASSERT_NE(p, nullptr);
      more.push_back(p);
    }
  });
  t2.join();
  live.insert(more.begin(), more.end());
  EXPECT_EQ(collect(s, false), live);
}

TEST(Space, ManyLifetimesReuseArenas) {
  // mimalloc 2.0.9 has 64 arena slots per process and never frees one: 100
  // Spaces (some with two arenas, some used by two threads) only fit if
  // dead Spaces' arenas are reused.
  SpaceConfig c;
  c.arena_bytes = 32 * MiB;
  c.max_arenas = 2;
  for (int round = 0; round < 100; ++round) {
    Space s(c);
    std::vector<void*> objs;
    const std::size_t size = round % 10 == 0 ? 20 * MiB : 1 * KiB;  // 2 x 20 MiB needs 2 arenas
    for (int i = 0; i < 2; ++i) objs.push_back(s.allocate(size));
    if (round % 10 == 5) {
      std::thread([&] { objs.push_back(s.allocate(512)); }).join();
    }
    for (void* p : objs) ASSERT_TRUE(s.is_object(p)) << "round " << round;
  }
}

// Starts `threads` threads together, each allocating 4 small objects and
// staying alive until all have allocated (a thread that exits leaves its
// segment to the next one); returns how many allocations failed.
int allocate_together(Space& s, int threads) {
  std::atomic<int> ready{0}, done{0}, failed{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      ready.fetch_add(1);
      while (ready.load() < threads) std::this_thread::yield();
      for (int i = 0; i < 4; ++i) {
        if (s.allocate(64) == nullptr) failed.fetch_add(1);
      }
      done.fetch_add(1);
      while (done.load() < threads) std::this_thread::yield();
    });
  }
  for (auto& t : ts) t.join();
  return failed.load();
}

TEST(Space, ThreadsRacingForNewArenasAllGetMemory) {
  // In a 32 MiB arena a thread's heap takes the whole arena, so threads
  // that allocate together race to add arenas, and another thread may take
  // an arena before the thread that added it. allocate() used to give up
  // after losing two such races, far below max_arenas: a spurious nullptr
  // (the stress suite's crash of issue 17). The hook makes every adder
  // wait, so the others take its arena: only max_arenas may fail them.
  SpaceConfig c;
  c.arena_bytes = 32 * MiB;
  auto adder_waits = [] { std::this_thread::sleep_for(std::chrono::milliseconds(2)); };
  for (int round = 0; round < 20; ++round) {
    Space s(c);
    SpaceTesting::set_added_arena_hook(s, adder_waits);
    ASSERT_EQ(allocate_together(s, 8), 0) << "round " << round << ", " << s.arena_count() << " arenas";
  }
  // The limit still holds: 8 threads cannot all get a heap out of 2 arenas.
  c.max_arenas = 2;
  Space s(c);
  SpaceTesting::set_added_arena_hook(s, adder_waits);
  EXPECT_GT(allocate_together(s, 8), 0);
  EXPECT_EQ(s.arena_count(), 2u);
}

TEST(Space, AllocateFromAThreadNotAttachedToItsWorldThrows) {
  World world;
  SpaceConfig c;
  c.arena_bytes = 32 * MiB;
  c.world = &world;
  Space s(c);
  // This thread never attached: its first allocation takes the slow path,
  // which checks in every build.
  EXPECT_THROW(s.allocate(16), UsageError);
  void* p = nullptr;
  {
    MutatorScope m(world);
    p = s.allocate(16);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(s.is_object(p));
  }
#ifndef NDEBUG
  // Detached again: Debug builds check the fast path too.
  EXPECT_THROW(s.allocate(16), UsageError);
#endif
  // Another thread, never attached.
  bool threw = false;
  std::thread([&] {
    try {
      s.allocate(16);
    } catch (const UsageError&) {
      threw = true;
    }
  }).join();
  EXPECT_TRUE(threw);
  // A thread attached to the World allocates; free needs no attachment.
  void* q = nullptr;
  std::thread([&] {
    MutatorScope m(world);
    q = s.allocate(16);
  }).join();
  EXPECT_NE(q, nullptr);
  s.free(p);
  s.free(q);
  EXPECT_FALSE(s.is_object(p));
  // Without a World, any thread allocates (the other tests).
  Space free_for_all(SpaceConfig{.arena_bytes = 32 * MiB});
  void* r = free_for_all.allocate(16);
  EXPECT_NE(r, nullptr);
  free_for_all.free(r);
}

}  // namespace
}  // namespace tricolor
