// tests/gc/events_test.cc -- tests of tricolor/events.h (gc/events.cc).
//
// Strategy.  The histogram is checked against distributions whose exact
// quantiles are known: uniform 1..100000 (q-quantile = 100000 q), a
// constant, a two-valued mix, and values spanning many powers of two
// including the int64 extremes; every percentile must be within 3 % of the
// exact one (the contract) and max() exact.  Edge cases: empty histogram
// (0 everywhere), q outside [0, 1], negative durations, reset(), and
// concurrent record() calls (count and max exact afterwards; TSan checks
// the locking).  StatsListener is fed hand-made CollectionStats and phase
// events and must aggregate them into the right histograms without double
// counting.  Phase names and pause flags are compared with the list in the
// design (the three STW phases are root-scan, verify, resurrection-check).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tricolor/events.h"

namespace tricolor {
namespace {

// Within 3 % of the exact value (and at least within 1 for tiny values).
void expect_close(std::int64_t got, std::int64_t want) {
  const double tol = std::max(1.0, 0.03 * static_cast<double>(want));
  EXPECT_LE(std::abs(static_cast<double>(got) - static_cast<double>(want)), tol)
      << "got " << got << ", want " << want << " +- 3 %";
}

// The exact q-quantile of sorted values (rank ceil(q n), 1-based).
std::int64_t exact_quantile(const std::vector<std::int64_t>& sorted, double q) {
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

const double kQs[] = {0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0};

TEST(HistogramTest, Empty) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.max(), 0);
  for (double q : kQs) EXPECT_EQ(h.percentile(q), 0);
}

TEST(HistogramTest, UniformOneToHundredThousand) {
  Histogram h;
  // Recorded in a shuffled order: the result must not depend on it.
  std::vector<std::int64_t> v(100000);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<std::int64_t>(i) + 1;
  std::mt19937_64 rng(42);
  std::shuffle(v.begin(), v.end(), rng);
  for (std::int64_t x : v) h.record(x);
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_EQ(h.max(), 100000);
  for (double q : kQs) {
    SCOPED_TRACE("q = " + std::to_string(q));
    const auto want = static_cast<std::int64_t>(std::max(1.0, std::ceil(q * 100000)));
    expect_close(h.percentile(q), want);
  }
  EXPECT_EQ(h.percentile(1.0), 100000);  // the maximum is exact
  // Percentiles are monotonic in q.
  std::int64_t prev = 0;
  for (double q = 0; q <= 1.0; q += 0.01) {
    const std::int64_t p = h.percentile(q);
    EXPECT_GE(p, prev);
    prev = p;
  }
}

TEST(HistogramTest, Constant) {
  for (std::int64_t c : {std::int64_t{0}, std::int64_t{1}, std::int64_t{37},
                         std::int64_t{1000}, std::int64_t{123456789}}) {
    SCOPED_TRACE("c = " + std::to_string(c));
    Histogram h;
    for (int i = 0; i < 1000; ++i) h.record(c);
    EXPECT_EQ(h.count(), 1000u);
    EXPECT_EQ(h.max(), c);
    for (double q : kQs) {
      expect_close(h.percentile(q), c);
      EXPECT_LE(h.percentile(q), c);  // never above the exact max
    }
  }
}

TEST(HistogramTest, SmallValuesAreExact) {
  Histogram h;
  for (std::int64_t i = 0; i < 64; ++i) h.record(i);
  std::vector<std::int64_t> sorted(64);
  for (std::int64_t i = 0; i < 64; ++i) sorted[static_cast<std::size_t>(i)] = i;
  for (double q : kQs) EXPECT_EQ(h.percentile(q), exact_quantile(sorted, q)) << "q = " << q;
}

TEST(HistogramTest, TwoValuedMix) {
  Histogram h;
  for (int i = 0; i < 900; ++i) h.record(10'000);       // 10 us
  for (int i = 0; i < 100; ++i) h.record(50'000'000);   // 50 ms
  expect_close(h.percentile(0.5), 10'000);
  expect_close(h.percentile(0.9), 10'000);
  expect_close(h.percentile(0.91), 50'000'000);
  expect_close(h.percentile(0.99), 50'000'000);
  EXPECT_EQ(h.max(), 50'000'000);
}

TEST(HistogramTest, LogUniformWideRange) {
  Histogram h;
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> exp2(0.0, 40.0);
  std::vector<std::int64_t> v;
  for (int i = 0; i < 20000; ++i) {
    const auto x = static_cast<std::int64_t>(std::exp2(exp2(rng)));
    v.push_back(x);
    h.record(x);
  }
  std::sort(v.begin(), v.end());
  EXPECT_EQ(h.max(), v.back());
  for (double q : kQs) {
    SCOPED_TRACE("q = " + std::to_string(q));
    expect_close(h.percentile(q), exact_quantile(v, q));
  }
}

TEST(HistogramTest, Extremes) {
  Histogram h;
  const std::int64_t big = std::numeric_limits<std::int64_t>::max();
  h.record(-5);  // negative: recorded as 0
  h.record(big);
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.max(), big);
  EXPECT_EQ(h.percentile(0.5), 0);
  EXPECT_EQ(h.percentile(1.0), big);
  expect_close(h.percentile(0.75), big);  // the top bucket's midpoint
  EXPECT_LE(h.percentile(0.75), big);
  // q outside [0, 1] is clamped.
  EXPECT_EQ(h.percentile(-1.0), 0);
  EXPECT_EQ(h.percentile(2.0), big);
  EXPECT_EQ(h.percentile(std::nan("")), 0);
  for (int e = 0; e < 63; ++e) {
    Histogram one;
    const std::int64_t x = std::int64_t{1} << e;
    one.record(x);
    EXPECT_EQ(one.max(), x);
    expect_close(one.percentile(0.5), x);
    EXPECT_LE(one.percentile(0.5), x);  // clamped to the exact max
  }
}

TEST(HistogramTest, Reset) {
  Histogram h;
  for (int i = 1; i <= 1000; ++i) h.record(i * 1000);
  ASSERT_EQ(h.count(), 1000u);
  h.reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.percentile(0.5), 0);
  h.record(7);
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.max(), 7);
  EXPECT_EQ(h.percentile(0.5), 7);
  EXPECT_EQ(h.percentile(0.0), 7);
}

TEST(HistogramTest, ConcurrentRecord) {
  Histogram h;
  constexpr int kThreads = 4, kEach = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 1; i <= kEach; ++i) h.record(static_cast<std::int64_t>(i) * (t + 1));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(h.count(), static_cast<std::size_t>(kThreads * kEach));
  EXPECT_EQ(h.max(), static_cast<std::int64_t>(kEach) * kThreads);
}

TEST(PhaseTest, NamesAndPauses) {
  struct Row {
    Phase phase;
    const char* name;
    bool pause;
  };
  const Row rows[] = {
      {Phase::kRootScan, "root-scan", true},
      {Phase::kConcurrentMark, "concurrent-mark", false},
      {Phase::kCandidateScan, "candidate-scan", false},
      {Phase::kCandidateFilter, "candidate-filter", false},
      {Phase::kVerify, "verify", true},
      {Phase::kFinalize, "finalize", false},
      {Phase::kResurrectionCheck, "resurrection-check", true},
      {Phase::kClear, "clear", false},
      {Phase::kClearMarks, "clear-marks", false},
  };
  static_assert(std::size(rows) == static_cast<std::size_t>(Phase::kCount));
  std::set<std::string> names;
  for (const Row& r : rows) {
    EXPECT_EQ(phase_name(r.phase), r.name);
    EXPECT_EQ(phase_is_pause(r.phase), r.pause) << r.name;
    names.insert(std::string(phase_name(r.phase)));
  }
  EXPECT_EQ(names.size(), std::size(rows));  // distinct
  EXPECT_FALSE(phase_is_pause(Phase::kCount));
  EXPECT_FALSE(phase_name(Phase::kCount).empty());
}

TEST(CollectionStatsTest, MaxPause) {
  CollectionStats s;
  EXPECT_EQ(s.max_pause_ns(), 0);
  s.pause_ns = {300, 1200, 700};
  EXPECT_EQ(s.max_pause_ns(), 1200);
}

TEST(StatsListenerTest, AggregatesPausesWaitsAndPhases) {
  StatsListener l;
  EventListener& base = l;  // used through the interface, as the collector does
  EXPECT_EQ(l.collections(), 0u);

  CollectionStats a;
  a.wait_ns = {100, 200, 300};
  a.pause_ns = {1'000, 2'000, 3'000};
  a.phase_ns[static_cast<int>(Phase::kRootScan)] = 1'000;  // not double counted
  base.on_collection_start(false);
  base.on_phase(Phase::kRootScan, 1'000);
  base.on_phase(Phase::kConcurrentMark, 5'000'000);
  base.on_phase(Phase::kVerify, 2'000);
  base.on_collection_end(a);

  CollectionStats b;
  b.full_stw = true;
  b.wait_ns = {400};
  b.pause_ns = {9'000'000};
  base.on_collection_start(true);
  base.on_phase(Phase::kRootScan, 9'000'000);
  base.on_collection_end(b);

  EXPECT_EQ(l.collections(), 2u);
  EXPECT_EQ(l.pauses().count(), 4u);
  EXPECT_EQ(l.pauses().max(), 9'000'000);
  expect_close(l.pauses().percentile(0.5), 2'000);
  EXPECT_EQ(l.waits().count(), 4u);
  EXPECT_EQ(l.waits().max(), 400);
  expect_close(l.waits().percentile(0.25), 100);
  EXPECT_EQ(l.phase(Phase::kRootScan).count(), 2u);
  EXPECT_EQ(l.phase(Phase::kRootScan).max(), 9'000'000);
  EXPECT_EQ(l.phase(Phase::kConcurrentMark).count(), 1u);
  EXPECT_EQ(l.phase(Phase::kConcurrentMark).max(), 5'000'000);
  EXPECT_EQ(l.phase(Phase::kVerify).count(), 1u);
  EXPECT_EQ(l.phase(Phase::kClear).count(), 0u);
}

}  // namespace
}  // namespace tricolor
