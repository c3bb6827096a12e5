// Small helpers that build prometheus-cpp MetricFamily values (name, HELP,
// TYPE and samples) for collectors that read their figures at scrape time.
#ifndef RINGWATCH_DAEMON_METRICS_FAMILY_BUILDER_H_
#define RINGWATCH_DAEMON_METRICS_FAMILY_BUILDER_H_

#include <string>
#include <utility>
#include <vector>

#include "prometheus/client_metric.h"
#include "prometheus/metric_family.h"

namespace ringwatch {
namespace metrics {

using Labels = std::vector<prometheus::ClientMetric::Label>;

inline prometheus::MetricFamily Family(std::string name, std::string help,
                                       prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

// Appends a counter, gauge or untyped sample (by the family's type).
inline void AddSample(prometheus::MetricFamily* family, Labels labels,
                      double value) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  switch (family->type) {
    case prometheus::MetricType::Counter:
      metric.counter.value = value;
      break;
    case prometheus::MetricType::Gauge:
      metric.gauge.value = value;
      break;
    default:
      metric.untyped.value = value;
      break;
  }
  family->metric.push_back(std::move(metric));
}

// Appends `family` to `out` when it has samples (an empty family would still
// print HELP and TYPE lines for nothing).
inline void Emit(prometheus::MetricFamily family,
                 std::vector<prometheus::MetricFamily>* out) {
  if (!family.metric.empty()) out->push_back(std::move(family));
}

}  // namespace metrics
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_METRICS_FAMILY_BUILDER_H_
