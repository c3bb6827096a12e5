// Metric and label names and label values as Prometheus accepts them.
// Aggregation names and key field names come from configs and clients, and
// key values from the kernel (task names are any bytes): each is made valid
// here, never rejected at scrape time.
#ifndef RINGWATCH_DAEMON_METRICS_LABEL_NAMES_H_
#define RINGWATCH_DAEMON_METRICS_LABEL_NAMES_H_

#include <string>

#include "absl/strings/string_view.h"

namespace ringwatch {
namespace metrics {

// A valid label name ([a-zA-Z_][a-zA-Z0-9_]*) for `name`: every other byte
// becomes '_', a leading digit gets a '_' prefix, and names Prometheus
// reserves (a leading "__") or that the exporter uses itself ("le",
// "aggregation", "row", "job", "instance", "host") get a "key_" prefix.
std::string SanitizeLabelName(absl::string_view name);

// A valid metric name part ([a-zA-Z0-9_:], no leading digit) for `name`.
std::string SanitizeMetricName(absl::string_view name);

// `value` as valid UTF-8 (Prometheus refuses a scrape with invalid UTF-8 in
// a label value): each byte that is not part of a valid UTF-8 sequence is
// written as "\xNN". Quotes, backslashes and newlines are escaped by the
// text serializer, not here.
std::string LabelValue(absl::string_view value);

}  // namespace metrics
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_METRICS_LABEL_NAMES_H_
