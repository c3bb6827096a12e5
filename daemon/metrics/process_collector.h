// The standard process_* metrics of Prometheus client libraries (CPU time,
// resident and virtual memory, open and maximum fds, start time), read from
// /proc/self at scrape time: prometheus-cpp has no process collector.
#ifndef RINGWATCH_DAEMON_METRICS_PROCESS_COLLECTOR_H_
#define RINGWATCH_DAEMON_METRICS_PROCESS_COLLECTOR_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace ringwatch {
namespace metrics {

// Seconds since the epoch at which the process started: its start time in
// clock ticks after boot (field 22 of /proc/self/stat) plus the boot time
// (btime of /proc/stat).
absl::StatusOr<double> ParseStartTimeSeconds(absl::string_view proc_self_stat,
                                             absl::string_view proc_stat,
                                             long clock_ticks_per_second);

class ProcessCollector : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace metrics
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_METRICS_PROCESS_COLLECTOR_H_
