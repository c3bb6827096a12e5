// Top-N and key filtering of aggregation results, applied by the server to
// Query answers and to each window a subscriber receives.
#ifndef RINGWATCH_DAEMON_SERVER_RESULT_SHAPING_H_
#define RINGWATCH_DAEMON_SERVER_RESULT_SHAPING_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/ringwatch/v1/config.pb.h"

namespace ringwatch {

struct ResultShape {
  int32_t top_n = 0;       // 0: every row.
  std::string key_filter;  // See KeyFilterMatches.
};

// INVALID_ARGUMENT for a negative top_n (naming the field).
absl::Status ValidateResultShape(const ResultShape& shape);

// The key's text as filters see it: the values joined by ','.
std::string KeyText(const v1::Row& row);

// Copies `in` into `out`, keeping the rows' order (the aggregation's
// order_by): with a key filter, only the KEY rows that match (OTHER and
// OVERFLOW rows are left out, and rows_filtered grows by the KEY rows
// removed); with top_n, only the first top_n KEY rows (OTHER and OVERFLOW
// rows stay).
void ShapeResult(const v1::AggregationResult& in, const ResultShape& shape,
                 v1::AggregationResult* out);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SERVER_RESULT_SHAPING_H_
