// Tests of allocator/segment_map.c (tricolor/segment_map.h).
//
// Strategy: 1 MiB segments (shift 20) carved out of one aligned buffer.
// Unit tests pin down lookup (registered segments only, both ends of a
// segment, idempotent add, order of addition, bad input), the bit
// operations through the tc_heap_ops the collector uses, and concurrent
// add/find (run under TSan by scripts/test.sh).  Whole collections over a
// segment map, objects spread across two segments added out of address
// order, run in tests/gc/c_api_test.cc (its C runtime's heap is one).
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

}  // namespace
