// Turns a merged table into an AggregationResult: rows ordered by the
// aggregation's order_by, the first top_n kept and the rest folded into an
// OTHER row (so totals stay exact), then the OVERFLOW row.
#ifndef RINGWATCH_DAEMON_AGG_RESULT_BUILDER_H_
#define RINGWATCH_DAEMON_AGG_RESULT_BUILDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/agg/agg_spec.h"
#include "daemon/agg/agg_table.h"
#include "daemon/agg/partial.h"
#include "proto/ringwatch/v1/config.pb.h"

namespace ringwatch {
namespace agg {

// Keeps rows whose key `key` (a key name of the aggregation) renders as
// `value` (integers in decimal, strings as they are).
struct KeyMatch {
  std::string key;
  std::string value;
};

struct ResultMeta {
  bool cumulative = false;
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  uint64_t windows = 0;
  AggCounters counters;
};

// InvalidArgument when a KeyMatch names no key of the aggregation.
absl::StatusOr<v1::AggregationResult> BuildResult(
    const AggSpec& spec, const AggTable& table, const ResultMeta& meta,
    uint32_t top_n, const std::vector<KeyMatch>& key_filter);

// The value an order_by sorts on, for one row.
double OrderValue(const AggSpec& spec, const uint64_t* values);

}  // namespace agg
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_AGG_RESULT_BUILDER_H_
