// Aggregations exported as Prometheus metrics, for those whose spec asks for
// it (Aggregation.metrics.enabled): the cumulative view's counts and sums as
// counters and its histograms as Prometheus histograms, one series per key
// with the keys as labels.
//
// Series are capped per aggregation (metrics.max_series). A key gets a series
// of its own when it is first seen while there is room, in the aggregation's
// order, and keeps it: every series is then a monotonic counter, and every
// other key is folded into one row="other" series so that sums over the
// series stay exact. The keys folded because of the cap are counted in
// ringwatch_aggregation_cut_series.
#ifndef RINGWATCH_DAEMON_METRICS_AGGREGATION_COLLECTOR_H_
#define RINGWATCH_DAEMON_METRICS_AGGREGATION_COLLECTOR_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "daemon/server/backend.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "proto/ringwatch/v1/ringwatch.pb.h"

namespace ringwatch {
namespace metrics {

inline constexpr uint32_t kDefaultMaxSeries = 100;
inline constexpr uint32_t kMaxMaxSeries = 1000;

// INVALID_ARGUMENT when `spec.metrics` asks for more than the cap.
absl::Status ValidateAggregationMetrics(const v1::Aggregation& spec);

// What the exporter remembers of one aggregation between scrapes.
struct ExportState {
  std::string spec;              // Serialized: a new spec starts afresh.
  std::set<std::string> series;  // Keys with a series of their own.
  // Per histogram value: the highest bucket index seen, so the `le` set
  // only grows.
  std::map<std::string, uint32_t> top_bucket;
};

// Appends the families of one aggregation's cumulative `result` to `out`.
void AggregationFamilies(const v1::Aggregation& spec,
                         const v1::AggregationResult& result,
                         ExportState* state,
                         std::vector<prometheus::MetricFamily>* out);

class AggregationCollector : public prometheus::Collectable {
 public:
  // `backend` must outlive the collector.
  explicit AggregationCollector(Backend* backend) : backend_(backend) {}

  std::vector<prometheus::MetricFamily> Collect() const override
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  Backend* const backend_;
  mutable absl::Mutex mu_;
  mutable std::map<std::string, ExportState> states_ ABSL_GUARDED_BY(mu_);
};

}  // namespace metrics
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_METRICS_AGGREGATION_COLLECTOR_H_
