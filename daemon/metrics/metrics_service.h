// Everything ringwatchd exports to Prometheus, and the /metrics listener:
// self-metrics from the daemon's status, process_* metrics, the aggregations
// whose specs ask for export, config reload outcomes and the delay between a
// window's end and its publication. The listener can be moved or turned off
// on a config reload; the collectors stay.
#ifndef RINGWATCH_DAEMON_METRICS_METRICS_SERVICE_H_
#define RINGWATCH_DAEMON_METRICS_METRICS_SERVICE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "daemon/metrics/listener.h"
#include "daemon/metrics/status_collector.h"
#include "daemon/server/backend.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace ringwatch {
namespace metrics {

class MetricsService {
 public:
  // `backend` must outlive the service. `trace_clock_is_monotonic`: window
  // ends are CLOCK_MONOTONIC nanoseconds, so their publication delay can be
  // measured (other trace clocks leave that histogram empty).
  MetricsService(Backend* backend, StatusSource status,
                 bool trace_clock_is_monotonic);
  ~MetricsService();

  // Serves /metrics on `address` ("127.0.0.1:10117"); empty stops serving.
  // An unchanged address keeps the running listener. A new address is bound
  // before the old one is closed, so on error (naming the address and the
  // reason) the old listener keeps serving.
  absl::Status Listen(const std::string& address) ABSL_LOCKS_EXCLUDED(mu_);
  // The bound address ("127.0.0.1:10117"); empty when not listening.
  std::string address() const ABSL_LOCKS_EXCLUDED(mu_);

  // Counts a config reload (SIGHUP) by outcome.
  void CountReload(bool ok);

  // The exposition text a scrape returns now (tests and benchmarks).
  std::string Scrape() const;

 private:
  class DelayListener;

  Backend* const backend_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter* reloads_ok_;
  prometheus::Counter* reloads_failed_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  std::shared_ptr<DelayListener> delay_listener_;
  uint64_t listener_handle_ = 0;

  mutable absl::Mutex mu_;
  std::unique_ptr<Listener> listener_ ABSL_GUARDED_BY(mu_);
};

}  // namespace metrics
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_METRICS_METRICS_SERVICE_H_
