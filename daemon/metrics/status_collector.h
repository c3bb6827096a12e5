// ringwatchd's self-metrics, read at scrape time from the same DaemonStatus
// that GetStatus returns (one source of truth, no second accounting):
// per-CPU reader figures and loss by cause, engine and aggregation counters,
// streams and their drops, and build info.
#ifndef RINGWATCH_DAEMON_METRICS_STATUS_COLLECTOR_H_
#define RINGWATCH_DAEMON_METRICS_STATUS_COLLECTOR_H_

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "proto/ringwatch/v1/ringwatch.pb.h"

namespace ringwatch {
namespace metrics {

using StatusSource = std::function<absl::StatusOr<v1::DaemonStatus>()>;

// The families for one status snapshot.
std::vector<prometheus::MetricFamily> StatusFamilies(
    const v1::DaemonStatus& status);

class StatusCollector : public prometheus::Collectable {
 public:
  // `source` is called on the scraping thread; it must be thread-safe.
  explicit StatusCollector(StatusSource source) : source_(std::move(source)) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  StatusSource source_;
};

}  // namespace metrics
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_METRICS_STATUS_COLLECTOR_H_
