// Log-linear latency histogram: fixed memory, O(1) record, no allocation after construction.
//
// Values (nanoseconds) below 64 have their own bucket; above, each power of two is split into
// 32 linear sub-buckets, so a bucket's width is at most 1/32 (~3%) of its value.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

namespace nvmeof::host {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 5;
  static constexpr uint32_t kSub = 1u << kSubBits;  // 32
  static constexpr uint32_t kBuckets = 64 * kSub;   // covers all of uint64_t

  static constexpr uint32_t BucketOf(uint64_t v) {
    if (v < 2 * kSub) return static_cast<uint32_t>(v);
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - kSubBits;  // >= 1
    uint32_t top = static_cast<uint32_t>(v >> shift);  // in [32, 63]
    return static_cast<uint32_t>(shift) * kSub + top;
  }
  // Smallest and largest value that map to bucket b.
  static constexpr uint64_t BucketLow(uint32_t b) {
    if (b < 2 * kSub) return b;
    uint32_t shift = b / kSub - 1;
    uint64_t top = b % kSub + kSub;
    return top << shift;
  }
  static constexpr uint64_t BucketHigh(uint32_t b) {
    if (b < 2 * kSub) return b;
    uint32_t shift = b / kSub - 1;
    uint64_t top = b % kSub + kSub;
    return ((top + 1) << shift) - 1;
  }

  void Record(uint64_t ns) {
    counts_[BucketOf(ns)]++;
    n_++;
    sum_ += ns;
    min_ = std::min(min_, ns);
    max_ = std::max(max_, ns);
  }
  void Merge(const LatencyHistogram& o) {
    for (uint32_t i = 0; i < kBuckets; i++) counts_[i] += o.counts_[i];
    n_ += o.n_;
    sum_ += o.sum_;
    min_ = std::min(min_, o.min_);
    max_ = std::max(max_, o.max_);
  }
  void Reset() { *this = LatencyHistogram(); }

  uint64_t count() const { return n_; }
  uint64_t max() const { return n_ ? max_ : 0; }
  uint64_t min() const { return n_ ? min_ : 0; }
  double mean() const { return n_ ? static_cast<double>(sum_) / static_cast<double>(n_) : 0.0; }

  // The value at quantile q (0..1): the midpoint of the bucket holding the rank ceil(q*n),
  // clamped to the observed min/max.
  uint64_t Percentile(double q) const {
    if (n_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(n_) + 0.999999);
    rank = std::clamp<uint64_t>(rank, 1, n_);
    uint64_t seen = 0;
    for (uint32_t b = 0; b < kBuckets; b++) {
      seen += counts_[b];
      if (seen >= rank) {
        uint64_t mid = BucketLow(b) + (BucketHigh(b) - BucketLow(b)) / 2;
        return std::clamp(mid, min_, max_);
      }
    }
    return max_;
  }

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t n_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace nvmeof::host
