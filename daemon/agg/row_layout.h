// The layout of one aggregation row's values in 64-bit words: a count, then
// sum/min/max per numeric input ("stat"), then the buckets of each
// histogram. Rows live inline in AggTable; every operation here is a few
// adds and compares, with no allocation.
#ifndef RINGWATCH_DAEMON_AGG_ROW_LAYOUT_H_
#define RINGWATCH_DAEMON_AGG_ROW_LAYOUT_H_

#include <cstdint>
#include <vector>

#include "daemon/agg/histogram.h"

namespace ringwatch {
namespace agg {

struct HistLayout {
  BucketSpec buckets;
  uint32_t stat = 0;    // The stat whose samples it counts.
  uint32_t offset = 0;  // First bucket's word in the values.
};

class RowLayout {
 public:
  RowLayout() = default;
  // `key_bytes` is rounded up to whole words. Each histogram names the stat
  // it buckets.
  RowLayout(uint32_t key_bytes, uint32_t num_stats,
            const std::vector<HistLayout>& hists);

  uint32_t key_bytes() const { return key_words_ * 8; }
  uint32_t key_words() const { return key_words_; }
  uint32_t value_words() const { return value_words_; }
  uint32_t num_stats() const { return num_stats_; }
  const std::vector<HistLayout>& hists() const { return hists_; }

  // A row with no samples: count and sums 0, min INT64_MAX, max INT64_MIN,
  // empty buckets.
  void Init(uint64_t* values) const;
  // One sample: count + 1 and `samples[s]` for every stat s.
  void Add(uint64_t* values, const int64_t* samples) const {
    values[0] += 1;
    for (uint32_t s = 0; s < num_stats_; ++s) {
      uint64_t* w = values + 1 + 3 * s;
      const int64_t v = samples[s];
      w[0] += static_cast<uint64_t>(v);  // Wraps like int64 arithmetic, no UB.
      if (v < static_cast<int64_t>(w[1])) w[1] = static_cast<uint64_t>(v);
      if (v > static_cast<int64_t>(w[2])) w[2] = static_cast<uint64_t>(v);
    }
    for (const HistLayout& h : hists_) {
      values[h.offset + h.buckets.Index(samples[h.stat])] += 1;
    }
  }
  // dst += src.
  void Merge(uint64_t* dst, const uint64_t* src) const;

  static uint64_t Count(const uint64_t* values) { return values[0]; }
  static int64_t Sum(const uint64_t* values, uint32_t stat) {
    return static_cast<int64_t>(values[1 + 3 * stat]);
  }
  // 0 when the row has no samples.
  static int64_t Min(const uint64_t* values, uint32_t stat) {
    return values[0] == 0 ? 0 : static_cast<int64_t>(values[2 + 3 * stat]);
  }
  static int64_t Max(const uint64_t* values, uint32_t stat) {
    return values[0] == 0 ? 0 : static_cast<int64_t>(values[3 + 3 * stat]);
  }
  static double Mean(const uint64_t* values, uint32_t stat) {
    return values[0] == 0 ? 0.0
                          : static_cast<double>(Sum(values, stat)) /
                                static_cast<double>(values[0]);
  }
  const uint64_t* Buckets(const uint64_t* values, uint32_t hist) const {
    return values + hists_[hist].offset;
  }

 private:
  uint32_t key_words_ = 0;
  uint32_t num_stats_ = 0;
  uint32_t value_words_ = 1;
  std::vector<HistLayout> hists_;
};

}  // namespace agg
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_AGG_ROW_LAYOUT_H_
