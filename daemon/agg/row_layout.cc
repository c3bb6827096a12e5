#include "daemon/agg/row_layout.h"

#include <cstdint>
#include <cstring>
#include <limits>

namespace ringwatch {
namespace agg {

RowLayout::RowLayout(uint32_t key_bytes, uint32_t num_stats,
                     const std::vector<HistLayout>& hists)
    : key_words_((key_bytes + 7) / 8), num_stats_(num_stats), hists_(hists) {
  uint32_t offset = 1 + 3 * num_stats;
  for (HistLayout& h : hists_) {
    h.offset = offset;
    offset += h.buckets.num_buckets();
  }
  value_words_ = offset;
}

void RowLayout::Init(uint64_t* values) const {
  std::memset(values, 0, value_words_ * sizeof(uint64_t));
  for (uint32_t s = 0; s < num_stats_; ++s) {
    values[2 + 3 * s] =
        static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    values[3 + 3 * s] =
        static_cast<uint64_t>(std::numeric_limits<int64_t>::min());
  }
}

void RowLayout::Merge(uint64_t* dst, const uint64_t* src) const {
  dst[0] += src[0];
  for (uint32_t s = 0; s < num_stats_; ++s) {
    uint64_t* d = dst + 1 + 3 * s;
    const uint64_t* w = src + 1 + 3 * s;
    d[0] += w[0];
    if (static_cast<int64_t>(w[1]) < static_cast<int64_t>(d[1])) d[1] = w[1];
    if (static_cast<int64_t>(w[2]) > static_cast<int64_t>(d[2])) d[2] = w[2];
  }
  for (uint32_t i = 1 + 3 * num_stats_; i < value_words_; ++i) {
    dst[i] += src[i];
  }
}

}  // namespace agg
}  // namespace ringwatch
