#include "daemon/agg/histogram.h"

#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ringwatch {
namespace agg {

BucketSpec BucketSpec::Log2() { return BucketSpec(); }

absl::StatusOr<BucketSpec> BucketSpec::Linear(int64_t min, int64_t max,
                                              int64_t step,
                                              uint32_t max_buckets) {
  if (step <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("linear buckets: step must be > 0, got ", step));
  }
  if (max <= min) {
    return absl::InvalidArgumentError(
        absl::StrCat("linear buckets: max (", max,
                     ") must be greater than min (", min, ")"));
  }
  // The span in 128 bits: max - min can exceed INT64_MAX.
  const __int128 span = static_cast<__int128>(max) - min;
  const __int128 inner = (span + step - 1) / step;
  if (inner + 2 > max_buckets) {
    return absl::InvalidArgumentError(absl::StrCat(
        "linear buckets: (max - min) / step gives ",
        static_cast<int64_t>(inner > std::numeric_limits<int64_t>::max()
                                 ? std::numeric_limits<int64_t>::max()
                                 : static_cast<int64_t>(inner)),
        " buckets, more than the limit of ", max_buckets - 2));
  }
  BucketSpec spec;
  spec.log2_ = false;
  spec.min_ = min;
  spec.max_ = max;
  spec.step_ = step;
  spec.num_buckets_ = static_cast<uint32_t>(inner) + 2;
  return spec;
}

int64_t BucketSpec::Lower(uint32_t i) const {
  if (log2_) {
    if (i == 0) return std::numeric_limits<int64_t>::min();
    return int64_t{1} << (i - 1);
  }
  if (i == 0) return std::numeric_limits<int64_t>::min();
  if (i >= num_buckets_ - 1) return max_;
  return static_cast<int64_t>(static_cast<__int128>(min_) +
                              static_cast<__int128>(i - 1) * step_);
}

int64_t BucketSpec::Upper(uint32_t i) const {
  if (log2_) {
    if (i == 0) return 0;
    if (i >= 63) return std::numeric_limits<int64_t>::max();
    return (int64_t{1} << i) - 1;
  }
  if (i == 0) return min_ - 1;
  if (i >= num_buckets_ - 1) return std::numeric_limits<int64_t>::max();
  // The last inner bucket may be cut short by max.
  const __int128 upper =
      static_cast<__int128>(min_) + static_cast<__int128>(i) * step_ - 1;
  return upper >= max_ ? max_ - 1 : static_cast<int64_t>(upper);
}

int64_t EstimatePercentile(const BucketSpec& spec, const uint64_t* buckets,
                           uint64_t total, uint32_t percent, int64_t exact_min,
                           int64_t exact_max) {
  if (total == 0) return 0;
  uint64_t rank = static_cast<uint64_t>(
      (static_cast<unsigned __int128>(total) * percent + 99) / 100);
  if (rank < 1) rank = 1;
  if (rank > total) rank = total;
  uint64_t seen = 0;
  for (uint32_t i = 0; i < spec.num_buckets(); ++i) {
    seen += buckets[i];
    if (seen >= rank) {
      int64_t v = spec.Upper(i);
      if (v > exact_max) v = exact_max;
      if (v < exact_min) v = exact_min;
      return v;
    }
  }
  return exact_max;  // Buckets hold fewer than `total`: not expected.
}

}  // namespace agg
}  // namespace ringwatch
