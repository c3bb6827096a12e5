#include "daemon/metrics/metrics_service.h"

#include <time.h>

#include <utility>

#include "daemon/metrics/aggregation_collector.h"
#include "daemon/metrics/process_collector.h"
#include "prometheus/text_serializer.h"

namespace ringwatch {
namespace metrics {

// Observes, for every window published, how long after its end (on
// CLOCK_MONOTONIC) it reached the listeners. Runs on the engine's thread:
// one clock read and one histogram update. The backend calls a copy of its
// listener list outside its lock, so a call may still run after
// RemoveWindowListener: the listener shares the registry that owns the
// histogram, which then outlives every call.
class MetricsService::DelayListener : public WindowListener {
 public:
  DelayListener(std::shared_ptr<prometheus::Registry> registry,
                prometheus::Histogram* delay, bool monotonic)
      : registry_(std::move(registry)), delay_(delay), monotonic_(monotonic) {}

  void OnWindowClosed(
      std::shared_ptr<const v1::AggregationResult> window) override {
    if (!monotonic_ || window->cumulative() || window->window_end_ns() == 0) {
      return;
    }
    timespec now;
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const int64_t now_ns =
        static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
    const int64_t delay_ns =
        now_ns - static_cast<int64_t>(window->window_end_ns());
    delay_->Observe(delay_ns > 0 ? static_cast<double>(delay_ns) * 1e-9 : 0);
  }
  void OnAggregationDeleted(absl::string_view) override {}

 private:
  const std::shared_ptr<prometheus::Registry> registry_;  // Owns delay_.
  prometheus::Histogram* delay_;                          // Never null.
  const bool monotonic_;
};

MetricsService::MetricsService(Backend* backend, StatusSource status,
                               bool trace_clock_is_monotonic)
    : backend_(backend), registry_(std::make_shared<prometheus::Registry>()) {
  auto& reloads = prometheus::BuildCounter()
                      .Name("ringwatch_config_reloads_total")
                      .Help(
                          "Config reloads (SIGHUP) by result: ok, or failed "
                          "(the running config was kept).")
                      .Register(*registry_);
  reloads_ok_ = &reloads.Add({{"result", "ok"}});
  reloads_failed_ = &reloads.Add({{"result", "failed"}});
  auto& delay =
      prometheus::BuildHistogram()
          .Name("ringwatch_window_publish_delay_seconds")
          .Help(
              "Time from a window's end to its publication to subscribers "
              "and Query (the watermark wait, idle grace and merge).")
          .Register(*registry_);
  prometheus::Histogram* delay_histogram =
      &delay.Add({}, prometheus::Histogram::BucketBoundaries{
                         0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                         0.5, 1, 2.5, 5, 10});
  collectables_.push_back(registry_);
  collectables_.push_back(std::make_shared<StatusCollector>(std::move(status)));
  collectables_.push_back(std::make_shared<ProcessCollector>());
  collectables_.push_back(std::make_shared<AggregationCollector>(backend));
  delay_listener_ = std::make_shared<DelayListener>(registry_, delay_histogram,
                                                    trace_clock_is_monotonic);
  listener_handle_ = backend_->AddWindowListener(delay_listener_);
}

MetricsService::~MetricsService() {
  {
    absl::MutexLock lock(&mu_);
    listener_.reset();
  }
  backend_->RemoveWindowListener(listener_handle_);
}

absl::Status MetricsService::Listen(const std::string& address) {
  absl::MutexLock lock(&mu_);
  if (address.empty()) {
    listener_.reset();
    return absl::OkStatus();
  }
  if (listener_ != nullptr && listener_->configured() == address) {
    return absl::OkStatus();
  }
  std::vector<std::weak_ptr<prometheus::Collectable>> weak(
      collectables_.begin(), collectables_.end());
  // The same address again (another port spelling aside) cannot be bound
  // twice: release the old one first in that case only.
  absl::StatusOr<ListenAddress> parsed = ParseListenAddress(address);
  if (!parsed.ok()) return parsed.status();
  if (listener_ != nullptr && listener_->address() == parsed->ToString()) {
    listener_.reset();
  }
  absl::StatusOr<std::unique_ptr<Listener>> started =
      Listener::Start(address, weak);
  if (!started.ok()) return started.status();
  listener_ = *std::move(started);
  return absl::OkStatus();
}

std::string MetricsService::address() const {
  absl::MutexLock lock(&mu_);
  return listener_ ? listener_->address() : "";
}

void MetricsService::CountReload(bool ok) {
  (ok ? reloads_ok_ : reloads_failed_)->Increment();
}

std::string MetricsService::Scrape() const {
  std::vector<prometheus::MetricFamily> families;
  for (const auto& c : collectables_) {
    std::vector<prometheus::MetricFamily> f = c->Collect();
    std::move(f.begin(), f.end(), std::back_inserter(families));
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace metrics
}  // namespace ringwatch
