// Tests of allocator/segment_map.c (tricolor/segment_map.h).
//
// Strategy: 1 MiB segments (shift 20) carved out of one aligned buffer.
// Unit tests pin down lookup (registered segments only, both ends of a
// segment, idempotent add, order of addition, bad input), the bit
// operations through the tc_heap_ops the collector uses, and concurrent
// add/find (run under TSan by scripts/test.sh).  The last test runs whole
// collections through the C API over objects spread across two segments.
#include "tricolor/segment_map.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

constexpr unsigned kShift = 20;
constexpr std::size_t kSeg = std::size_t{1} << kShift;

struct Buffer {
  explicit Buffer(std::size_t segments)
      : mem(static_cast<char*>(std::aligned_alloc(kSeg, segments * kSeg))) {}
  ~Buffer() { std::free(mem); }
  char* seg(std::size_t i) const { return mem + i * kSeg; }
  char* mem;
};

TEST(SegmentMap, FindsAddedSegmentsOnly) {
  EXPECT_EQ(tc_segment_map_new(15), nullptr);
  EXPECT_EQ(tc_segment_map_new(33), nullptr);
  Buffer b(3);
  tc_segment_map* m = tc_segment_map_new(kShift);
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(tc_segment_map_add(m, b.seg(2) + 12345), 0);
  ASSERT_EQ(tc_segment_map_add(m, b.seg(0)), 0);
  ASSERT_EQ(tc_segment_map_add(m, b.seg(2)), 0);  // idempotent
  EXPECT_EQ(tc_segment_map_count(m), 2u);
  tc_bitmap s, k;
  tc_segment_map_at(m, 0, &s, &k);
  EXPECT_EQ(s.base, reinterpret_cast<uintptr_t>(b.seg(2)));  // order of addition
  EXPECT_EQ(s.words, kSeg / TC_WORD_SPAN);
  tc_segment_map_at(m, 1, &s, &k);
  EXPECT_EQ(k.base, reinterpret_cast<uintptr_t>(b.seg(0)));
  ASSERT_TRUE(tc_segment_map_find(m, b.seg(0) + kSeg - 1, &s, &k));
  EXPECT_EQ(s.base, reinterpret_cast<uintptr_t>(b.seg(0)));
  EXPECT_FALSE(tc_segment_map_find(m, b.seg(1), &s, &k));
  EXPECT_FALSE(tc_segment_map_find(m, b.seg(1) + kSeg - 1, &s, &k));
  EXPECT_FALSE(tc_segment_map_find(m, &s, &s, &k));  // the stack
  EXPECT_EQ(tc_segment_map_add(m, reinterpret_cast<void*>(uintptr_t{1} << 50)), -1);
  tc_segment_map_free(m);
}

TEST(SegmentMap, HeapOpsFollowTheBitmapContract) {
  Buffer b(2);
  tc_segment_map* m = tc_segment_map_new(kShift);
  const tc_heap_ops* h = tc_segment_map_heap_ops();
  ASSERT_EQ(tc_segment_map_add(m, b.seg(1)), 0);
  char* p = b.seg(1) + 4096;
  char* q = b.seg(1) + 8192;
  EXPECT_FALSE(h->is_object(m, p));
  tc_segment_map_on_alloc(m, p);
  EXPECT_TRUE(h->is_object(m, p));
  EXPECT_FALSE(h->is_object(m, p + 8));
  EXPECT_FALSE(h->is_object(m, b.seg(0) + 4096));  // not an added segment
  EXPECT_FALSE(h->try_mark(m, b.seg(0)));
  EXPECT_TRUE(h->try_mark(m, p));
  EXPECT_FALSE(h->try_mark(m, p));
  h->set_black_allocation(m, true);
  tc_segment_map_on_alloc(m, q);
  EXPECT_FALSE(h->try_mark(m, q)) << "black allocation marks new objects";
  h->set_black_allocation(m, false);
  h->clear_marks(m);
  EXPECT_TRUE(h->try_mark(m, p));
  tc_segment_map_on_free(m, p);
  EXPECT_FALSE(h->is_object(m, p));
  EXPECT_TRUE(h->is_object(m, q));
  tc_segment_map_reset_segment(m, q);
  EXPECT_FALSE(h->is_object(m, q));
  EXPECT_TRUE(h->try_mark(m, p)) << "reset clears the marks too";
  tc_segment_map_free(m);
}

TEST(SegmentMap, ConcurrentAddAndFind) {
  constexpr std::size_t kSegments = 16;
  Buffer b(kSegments);
  tc_segment_map* m = tc_segment_map_new(kShift);
  std::atomic<std::size_t> found{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; t++) {
    ts.emplace_back([&, t] {
      for (std::size_t i = t; i < kSegments; i += 4) ASSERT_EQ(tc_segment_map_add(m, b.seg(i)), 0);
      for (int round = 0; round < 100; round++) {
        for (std::size_t i = 0; i < kSegments; i++) {
          tc_bitmap s, k;
          if (tc_segment_map_find(m, b.seg(i) + 64, &s, &k)) {
            ASSERT_EQ(s.base, reinterpret_cast<uintptr_t>(b.seg(i)));
            found++;
          }
        }
        std::size_t n = tc_segment_map_count(m);
        for (std::size_t i = 0; i < n; i++) {
          tc_bitmap s, k;
          tc_segment_map_at(m, i, &s, &k);
          ASSERT_EQ(s.base % kSeg, 0u);
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(tc_segment_map_count(m), kSegments);
  EXPECT_GT(found.load(), 0u);
  tc_segment_map_free(m);
}

// A two-slot node runtime whose nodes lie in two segments of the map.
struct alignas(TC_GRANULE) Node {
  std::atomic<std::intptr_t> rc{1};
  Node* slot[2] = {nullptr, nullptr};
};

struct NodeHeap {
  tc_segment_map* map;
  std::vector<Node*> roots;
  std::size_t freed = 0;
  char* next[2];
  int turn = 0;
  Node* allocate() {
    char*& at = next[turn ^= 1];  // alternate between the segments
    Node* n = new (at) Node;
    at += sizeof(Node);
    tc_segment_map_on_alloc(map, n);
    return n;
  }
  void decref(Node* n) {
    if (n == nullptr || n->rc.fetch_sub(1) != 1) return;
    Node* a = n->slot[0];
    Node* b = n->slot[1];
    tc_segment_map_on_free(map, n);
    freed++;
    decref(a);
    decref(b);
  }
};

bool n_trace(void*, void* obj, tc_visitor* v, bool) {
  for (Node* c : static_cast<Node*>(obj)->slot) tc_visit(v, c);
  return true;
}
intptr_t n_refcount(void*, void* obj) { return static_cast<Node*>(obj)->rc.load(); }
void n_roots(void* ctx, tc_visitor* v) {
  for (Node* r : static_cast<NodeHeap*>(ctx)->roots) tc_visit(v, r);
}
void n_hold(void*, void* obj) { static_cast<Node*>(obj)->rc.fetch_add(1); }
void n_release(void* ctx, void* obj) { static_cast<NodeHeap*>(ctx)->decref(static_cast<Node*>(obj)); }
void n_clear(void* ctx, void* const* g, size_t n) {
  for (size_t i = 0; i < n; i++) {
    for (Node*& s : static_cast<Node*>(g[i])->slot) {
      Node* c = s;
      s = nullptr;
      static_cast<NodeHeap*>(ctx)->decref(c);
    }
  }
}

TEST(SegmentMap, CollectorFreesCyclesSpreadOverSegments) {
  Buffer b(2);
  NodeHeap rt{tc_segment_map_new(kShift), {}, 0, {b.seg(0), b.seg(1)}};
  // Added out of address order: the collector's candidate set sorts them.
  ASSERT_EQ(tc_segment_map_add(rt.map, b.seg(1)), 0);
  ASSERT_EQ(tc_segment_map_add(rt.map, b.seg(0)), 0);
  tc_embedder_ops ops{};
  ops.trace = n_trace;
  ops.refcount = n_refcount;
  ops.for_each_global_root = n_roots;
  ops.hold = n_hold;
  ops.release = n_release;
  ops.clear = n_clear;
  tc_world* world = tc_world_new();
  tc_config cfg;
  tc_config_init(&cfg);
  cfg.background = false;
  cfg.mark_workers = 2;
  tc_collector* c = tc_collector_new(tc_segment_map_heap_ops(), rt.map, &ops, &rt, world, &cfg);
  ASSERT_NE(c, nullptr) << tc_last_error();
  // A rooted ring of 3 and 40 garbage rings of 2, each ring across both segments.
  auto ring = [&](int k) {
    std::vector<Node*> r;
    for (int i = 0; i < k; i++) r.push_back(rt.allocate());
    for (int i = 0; i < k; i++) {
      r[(i + 1) % k]->rc.fetch_add(1);
      r[i]->slot[0] = r[(i + 1) % k];
    }
    return r;
  };
  std::vector<Node*> live = ring(3);
  rt.roots.push_back(live[0]);
  for (Node* n : live) {
    if (n != live[0]) rt.decref(n);
  }
  for (int i = 0; i < 40; i++) {
    for (Node* n : ring(2)) rt.decref(n);
  }
  for (int mode : {TC_MODE_CONCURRENT, TC_MODE_FULL_STW}) {
    tc_stats st;
    ASSERT_EQ(tc_collector_collect(c, mode, &st), 0) << tc_last_error();
    if (mode == TC_MODE_CONCURRENT) {
      EXPECT_EQ(st.garbage, 80u);
      EXPECT_EQ(st.marked, 3u);
      EXPECT_EQ(rt.freed, 80u);
    } else {
      EXPECT_EQ(st.garbage, 0u) << "nothing left to free";
    }
  }
  rt.roots.clear();
  rt.decref(live[0]);
  ASSERT_EQ(tc_collector_collect(c, TC_MODE_CONCURRENT, nullptr), 0);
  EXPECT_EQ(rt.freed, 83u);
  tc_collector_free(c);
  tc_world_free(world);
  tc_segment_map_free(rt.map);
}

}  // namespace
