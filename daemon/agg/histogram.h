// Histogram bucket layouts (log2 and linear) and percentile estimates from
// bucket counts. Pure arithmetic, used on the per-event path (Index) and when
// building results (bounds, percentiles).
#ifndef RINGWATCH_DAEMON_AGG_HISTOGRAM_H_
#define RINGWATCH_DAEMON_AGG_HISTOGRAM_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace ringwatch {
namespace agg {

class BucketSpec {
 public:
  // Bucket 0 holds v <= 0; bucket k (1..63) holds [2^(k-1), 2^k - 1].
  static BucketSpec Log2();
  // [min + k*step, min + (k+1)*step) for min <= v < max, plus an underflow
  // bucket (index 0) and an overflow bucket (the last). InvalidArgument when
  // step <= 0, max <= min, or there would be more than `max_buckets`.
  static absl::StatusOr<BucketSpec> Linear(int64_t min, int64_t max,
                                           int64_t step,
                                           uint32_t max_buckets = 4096);

  bool is_log2() const { return log2_; }
  uint32_t num_buckets() const { return num_buckets_; }
  int64_t min() const { return min_; }
  int64_t max() const { return max_; }
  int64_t step() const { return step_; }

  // The bucket of `v`. Branch-light: runs once per event and histogram.
  uint32_t Index(int64_t v) const {
    if (log2_) {
      return v <= 0 ? 0 : 64 - __builtin_clzll(static_cast<uint64_t>(v));
    }
    if (v < min_) return 0;
    if (v >= max_) return num_buckets_ - 1;
    // In unsigned arithmetic: v - min_ may exceed INT64_MAX, never 2^64.
    return 1 + static_cast<uint32_t>(
                   (static_cast<uint64_t>(v) - static_cast<uint64_t>(min_)) /
                   static_cast<uint64_t>(step_));
  }

  // Inclusive bounds of bucket `i` (INT64_MIN / INT64_MAX for open ends).
  int64_t Lower(uint32_t i) const;
  int64_t Upper(uint32_t i) const;

 private:
  bool log2_ = true;
  uint32_t num_buckets_ = 64;
  int64_t min_ = 0;
  int64_t max_ = 0;
  int64_t step_ = 0;
};

// The `percent` percentile (1..100) of the `total` samples counted in
// `buckets`: the upper bound of the bucket holding the
// ceil(percent * total / 100)-th smallest sample, clamped to
// [exact_min, exact_max]. 0 when total is 0. Integer arithmetic, so hand-made
// expectations are exact.
int64_t EstimatePercentile(const BucketSpec& spec, const uint64_t* buckets,
                           uint64_t total, uint32_t percent, int64_t exact_min,
                           int64_t exact_max);

}  // namespace agg
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_AGG_HISTOGRAM_H_
