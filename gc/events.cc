// gc/events.cc -- phase names, collection stats, the pause histogram and
// the StatsListener of tricolor/events.h.
//
// Histogram buckets (32 sub-buckets per power of two):
//   v < 64           bucket v (exact);
//   v in [2^e, 2^(e+1)), e >= 6
//                    bucket (e - 4) * 32 + ((v >> (e - 5)) & 31),
// i.e. the top six significant bits of v. The buckets are contiguous
// (2^6 = 64 lands in bucket 64) and the largest int64 lands in bucket
// 58 * 32 + 31 < kBuckets. A bucket of exponent e spans 2^(e-5) values
// starting at >= 2^e, so its width is at most 1/32 (3.1 %) of any value in
// it; percentile() reports the bucket's midpoint, within 1.6 % of every
// value in the bucket, clamped to the exact maximum. Negative
// durations are recorded as 0.
//
// Concurrency: every Histogram member runs under its mutex; StatsListener
// guards its collection count with its own mutex and relies on the
// histograms' for the rest.
#include <algorithm>
#include <bit>
#include <cmath>

#include "tricolor/events.h"

namespace tricolor {

namespace {

constexpr int kSubBits = 5;  // 32 sub-buckets
constexpr int kSub = 1 << kSubBits;

int bucket_of(std::int64_t ns) {
  const auto v = static_cast<std::uint64_t>(std::max<std::int64_t>(ns, 0));
  if (v < 2 * kSub) return static_cast<int>(v);
  const int e = 63 - std::countl_zero(v);  // >= kSubBits + 1
  return (e - kSubBits + 1) * kSub + static_cast<int>((v >> (e - kSubBits)) & (kSub - 1));
}

// The smallest value of bucket b and the number of values in it.
void bucket_range(int b, std::uint64_t& lo, std::uint64_t& width) {
  if (b < 2 * kSub) {
    lo = static_cast<std::uint64_t>(b);
    width = 1;
    return;
  }
  const int e = b / kSub + kSubBits - 1;
  const auto sub = static_cast<std::uint64_t>(b % kSub);
  lo = (std::uint64_t{1} << e) | (sub << (e - kSubBits));
  width = std::uint64_t{1} << (e - kSubBits);
}

constexpr std::string_view kNames[] = {
    "root-scan", "concurrent-mark", "candidate-scan",     "candidate-filter", "verify",
    "finalize",  "resurrection-check", "clear",           "clear-marks",
};
static_assert(std::size(kNames) == static_cast<std::size_t>(Phase::kCount));

}  // namespace

std::string_view phase_name(Phase phase) {
  const int i = static_cast<int>(phase);
  if (i < 0 || i >= static_cast<int>(Phase::kCount)) return "unknown";
  return kNames[i];
}

bool phase_is_pause(Phase phase) {
  return phase == Phase::kRootScan || phase == Phase::kVerify ||
         phase == Phase::kResurrectionCheck;
}

std::int64_t CollectionStats::max_pause_ns() const {
  std::int64_t m = 0;
  for (std::int64_t p : pause_ns) m = std::max(m, p);
  return m;
}

void Histogram::record(std::int64_t ns) {
  if (ns < 0) ns = 0;
  const int b = bucket_of(ns);
  std::lock_guard<std::mutex> lk(mu_);
  ++buckets_[static_cast<std::size_t>(b)];
  if (count_ == 0 || ns > max_) max_ = ns;
  ++count_;
}

std::int64_t Histogram::percentile(double q) const {
  if (!(q > 0.0)) q = 0.0;  // also NaN
  if (q > 1.0) q = 1.0;
  std::lock_guard<std::mutex> lk(mu_);
  if (count_ == 0) return 0;
  if (q == 1.0) return max_;
  // The rank of the q-quantile among count_ sorted values, 1-based.
  auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += buckets_[static_cast<std::size_t>(b)];
    if (seen >= rank) {
      std::uint64_t lo = 0, width = 0;
      bucket_range(b, lo, width);
      const auto mid = static_cast<std::int64_t>(lo + (width - 1) / 2);
      return std::min(mid, max_);
    }
  }
  return max_;  // not reached
}

std::int64_t Histogram::max() const {
  std::lock_guard<std::mutex> lk(mu_);
  return max_;
}

std::size_t Histogram::count() const {
  std::lock_guard<std::mutex> lk(mu_);
  return count_;
}

void Histogram::reset() {
  std::lock_guard<std::mutex> lk(mu_);
  buckets_.fill(0);
  max_ = 0;
  count_ = 0;
}

void StatsListener::on_phase(Phase phase, std::int64_t ns) {
  const int i = static_cast<int>(phase);
  if (i < 0 || i >= static_cast<int>(Phase::kCount)) return;
  phases_[static_cast<std::size_t>(i)].record(ns);
}

// Phase times arrive through on_phase() only (the collector reports every
// phase there); recording stats.phase_ns here too would count them twice.
void StatsListener::on_collection_end(const CollectionStats& stats) {
  for (std::int64_t p : stats.pause_ns) pauses_.record(p);
  for (std::int64_t w : stats.wait_ns) waits_.record(w);
  std::lock_guard<std::mutex> lk(mu_);
  ++collections_;
}

std::size_t StatsListener::collections() const {
  std::lock_guard<std::mutex> lk(mu_);
  return collections_;
}

}  // namespace tricolor
