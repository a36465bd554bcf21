// tests/allocator/bitmap_test.cc -- tricolor/bitmap.h and allocator/bitmap.c.
//
// Test strategy
// -------------
// A tc_bitmap never dereferences the addresses it covers, so the tests put
// it over a made-up, 16-aligned address range with a real word array
// (std::vector) behind it. They check:
//   * the per-bit inline operations (covers, index/address, set, test,
//     clear, their return values) at the edges that break off-by-one code:
//     the first granule, the last granule, bits 63/64 of adjacent words, and
//     a pointer in the middle of a granule;
//   * tc_bitmap_find_prev on hand-made cases (empty bitmap, no bit set, bit
//     exactly at p, bit below p in the same word, in an earlier word,
//     several words back, below base, past the end) and against a reference
//     (std::set lower-bound) on random bitmaps with a fixed seed, so every
//     run checks the same thousands of queries;
//   * concurrency: several threads doing fetch_or / fetch_and on the same
//     words (interleaved bits, and all threads racing for the same bits)
//     lose no update, and exactly one tc_bitmap_set per bit reports that it
//     changed the bit.
// The word scan relies on __builtin_clzll; the random cross-check covers
// every bit position of a word.
#include "tricolor/bitmap.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <random>
#include <set>
#include <thread>
#include <vector>

namespace {

constexpr std::uintptr_t kBase = 0x7f0000100000;  // 16-aligned, never dereferenced

struct TestBitmap {
  explicit TestBitmap(std::size_t words) : bits(words, 0) {
    bm.base = kBase;
    bm.words = words;
    bm.bits = words ? bits.data() : nullptr;
  }
  const void* addr(std::size_t i) const { return tc_bitmap_address(&bm, i); }
  std::vector<std::uint64_t> bits;
  tc_bitmap bm{};
};

const void* ptr(std::uintptr_t a) { return reinterpret_cast<const void*>(a); }

TEST(Bitmap, CoversExactlyItsRange) {
  TestBitmap t(4);
  EXPECT_FALSE(tc_bitmap_covers(&t.bm, ptr(kBase - 1)));
  EXPECT_TRUE(tc_bitmap_covers(&t.bm, ptr(kBase)));
  EXPECT_TRUE(tc_bitmap_covers(&t.bm, ptr(kBase + 4 * TC_WORD_SPAN - 1)));
  EXPECT_FALSE(tc_bitmap_covers(&t.bm, ptr(kBase + 4 * TC_WORD_SPAN)));
  TestBitmap empty(0);
  EXPECT_FALSE(tc_bitmap_covers(&empty.bm, ptr(kBase)));
}

TEST(Bitmap, IndexAndAddressRoundTrip) {
  TestBitmap t(2);
  for (std::size_t i = 0; i < 128; ++i) {
    EXPECT_EQ(tc_bitmap_index(&t.bm, t.addr(i)), i);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.addr(i)), kBase + i * TC_GRANULE);
  }
  // A pointer inside a granule maps to that granule's bit.
  EXPECT_EQ(tc_bitmap_index(&t.bm, ptr(kBase + 16 * 5 + 15)), 5u);
}

TEST(Bitmap, SetTestClearAtEdges) {
  TestBitmap t(3);
  const std::size_t last = 3 * 64 - 1;
  for (std::size_t i : {std::size_t{0}, std::size_t{1}, std::size_t{63}, std::size_t{64},
                        std::size_t{127}, std::size_t{128}, last}) {
    SCOPED_TRACE(i);
    const void* p = t.addr(i);
    EXPECT_FALSE(tc_bitmap_test(&t.bm, p));
    EXPECT_TRUE(tc_bitmap_set(&t.bm, p, __ATOMIC_RELAXED));
    EXPECT_FALSE(tc_bitmap_set(&t.bm, p, __ATOMIC_RELEASE));  // already set
    EXPECT_TRUE(tc_bitmap_test(&t.bm, p));
    EXPECT_EQ(t.bits[i / 64], std::uint64_t{1} << (i % 64));  // exactly that bit
    EXPECT_TRUE(tc_bitmap_clear(&t.bm, p, __ATOMIC_RELAXED));
    EXPECT_FALSE(tc_bitmap_clear(&t.bm, p, __ATOMIC_RELEASE));  // already clear
    EXPECT_FALSE(tc_bitmap_test(&t.bm, p));
    for (std::uint64_t w : t.bits) EXPECT_EQ(w, 0u);
  }
  // The last byte of a granule is the granule.
  EXPECT_TRUE(tc_bitmap_set(&t.bm, ptr(kBase + 64 * 16 + 15), __ATOMIC_RELAXED));
  EXPECT_TRUE(tc_bitmap_test(&t.bm, t.addr(64)));
  EXPECT_FALSE(tc_bitmap_test(&t.bm, t.addr(65)));
}

TEST(Bitmap, FindPrevEmptyAndClear) {
  TestBitmap empty(0);
  EXPECT_EQ(tc_bitmap_find_prev(&empty.bm, ptr(kBase)), nullptr);
  EXPECT_EQ(tc_bitmap_find_prev(&empty.bm, ptr(kBase + 4096)), nullptr);
  TestBitmap t(8);
  EXPECT_EQ(tc_bitmap_find_prev(&t.bm, t.addr(0)), nullptr);
  EXPECT_EQ(tc_bitmap_find_prev(&t.bm, t.addr(8 * 64 - 1)), nullptr);
}

TEST(Bitmap, FindPrevHandCases) {
  TestBitmap t(8);
  for (std::size_t i : {5, 63, 64, 200, 511}) tc_bitmap_set(&t.bm, t.addr(i), __ATOMIC_RELAXED);
  auto prev = [&](std::uintptr_t a) { return tc_bitmap_find_prev(&t.bm, ptr(a)); };
  auto at = [&](std::size_t i) { return kBase + i * TC_GRANULE; };
  EXPECT_EQ(prev(at(4)), nullptr);                       // below the first set bit
  EXPECT_EQ(prev(at(5)), t.addr(5));                     // exactly at p
  EXPECT_EQ(prev(at(5) + 15), t.addr(5));                // inside p's granule
  EXPECT_EQ(prev(at(6)), t.addr(5));                     // same word, below p
  EXPECT_EQ(prev(at(62)), t.addr(5));
  EXPECT_EQ(prev(at(63)), t.addr(63));                   // top bit of word 0
  EXPECT_EQ(prev(at(64)), t.addr(64));                   // bit 0 of word 1
  EXPECT_EQ(prev(at(65)), t.addr(64));
  EXPECT_EQ(prev(at(199)), t.addr(64));                  // two words back
  EXPECT_EQ(prev(at(200)), t.addr(200));
  EXPECT_EQ(prev(at(510)), t.addr(200));                 // several words back
  EXPECT_EQ(prev(at(511)), t.addr(511));                 // last granule
  EXPECT_EQ(prev(kBase - 16), nullptr);                  // below base
  EXPECT_EQ(prev(kBase + 8 * TC_WORD_SPAN), t.addr(511));  // past the end: clamped
  EXPECT_EQ(prev(kBase + 100 * TC_WORD_SPAN), t.addr(511));

  // Only the first granule set: every query finds it, from any word.
  TestBitmap u(16);
  tc_bitmap_set(&u.bm, u.addr(0), __ATOMIC_RELAXED);
  for (std::size_t i = 0; i < 16 * 64; i += 37) {
    EXPECT_EQ(tc_bitmap_find_prev(&u.bm, u.addr(i)), u.addr(0)) << i;
  }
  EXPECT_EQ(tc_bitmap_find_prev(&u.bm, u.addr(16 * 64 - 1)), u.addr(0));
}

TEST(Bitmap, FindPrevMatchesReference) {
  std::mt19937_64 rng(12345);
  for (int round = 0; round < 50; ++round) {
    const std::size_t words = 1 + rng() % 40;
    TestBitmap t(words);
    std::set<std::size_t> ref;
    const std::size_t nbits = words * 64;
    const std::size_t nset = rng() % (nbits / 4 + 1);  // sparse to dense-ish, incl. none
    for (std::size_t k = 0; k < nset; ++k) {
      std::size_t i = rng() % nbits;
      ref.insert(i);
      tc_bitmap_set(&t.bm, t.addr(i), __ATOMIC_RELAXED);
    }
    for (std::size_t q = 0; q < nbits; ++q) {
      auto it = ref.upper_bound(q);
      const void* want = it == ref.begin() ? nullptr : t.addr(*std::prev(it));
      ASSERT_EQ(tc_bitmap_find_prev(&t.bm, t.addr(q)), want) << "round " << round << " bit " << q;
    }
  }
}

TEST(Bitmap, ConcurrentSetOnSharedWordsLosesNothing) {
  constexpr std::size_t kWords = 64;
  constexpr int kThreads = 4;
  TestBitmap t(kWords);
  const std::size_t nbits = kWords * 64;
  std::atomic<std::size_t> changed{0};
  std::vector<std::thread> threads;
  // Interleaved: thread k owns bits i with i % kThreads == k, so every word
  // is updated by every thread at once.
  for (int k = 0; k < kThreads; ++k) {
    threads.emplace_back([&, k] {
      // Every set and every clear of an owned bit must see the bit in the
      // state this thread left it: a lost update would show as a false.
      std::size_t mine = 0;
      for (int rep = 0; rep < 20; ++rep) {
        for (std::size_t i = static_cast<std::size_t>(k); i < nbits; i += kThreads) {
          if (tc_bitmap_set(&t.bm, t.addr(i), __ATOMIC_RELAXED)) ++mine;
        }
        for (std::size_t i = static_cast<std::size_t>(k); i < nbits; i += kThreads) {
          if (tc_bitmap_clear(&t.bm, t.addr(i), __ATOMIC_RELAXED)) ++mine;
        }
      }
      for (std::size_t i = static_cast<std::size_t>(k); i < nbits; i += kThreads) {
        tc_bitmap_set(&t.bm, t.addr(i), __ATOMIC_RELAXED);
      }
      changed += mine;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(changed.load(), 2 * 20 * nbits);
  for (std::size_t w = 0; w < kWords; ++w) EXPECT_EQ(t.bits[w], ~std::uint64_t{0}) << w;
}

TEST(Bitmap, ConcurrentSetOfSameBitsHasOneWinnerEach) {
  constexpr std::size_t kWords = 32;
  constexpr int kThreads = 4;
  TestBitmap t(kWords);
  const std::size_t nbits = kWords * 64;
  std::vector<std::size_t> wins(kThreads, 0);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < kThreads; ++k) {
    threads.emplace_back([&, k] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) {
      }
      for (std::size_t i = 0; i < nbits; ++i) {
        if (tc_bitmap_set(&t.bm, t.addr(i), __ATOMIC_ACQ_REL)) ++wins[k];
      }
    });
  }
  for (auto& th : threads) th.join();
  std::size_t total = 0;
  for (auto w : wins) total += w;
  EXPECT_EQ(total, nbits);
  for (std::size_t w = 0; w < kWords; ++w) EXPECT_EQ(t.bits[w], ~std::uint64_t{0});

  // And clearing from all threads at once leaves every word empty.
  threads.clear();
  for (int k = 0; k < kThreads; ++k) {
    threads.emplace_back([&, k] {
      for (std::size_t i = static_cast<std::size_t>(k); i < nbits; i += kThreads) {
        EXPECT_TRUE(tc_bitmap_clear(&t.bm, t.addr(i), __ATOMIC_RELAXED));
      }
    });
  }
  for (auto& th : threads) th.join();
  for (std::size_t w = 0; w < kWords; ++w) EXPECT_EQ(t.bits[w], 0u);
}

}  // namespace
