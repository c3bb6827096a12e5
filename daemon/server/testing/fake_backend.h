// An in-memory Backend for the server's tests, benchmarks and the test
// server binary: a small real event catalog (formats captured from Linux
// 6.18), aggregations held as specs, and windows and events that the test
// publishes by hand in place of the engine and the readers.
#ifndef RINGWATCH_DAEMON_SERVER_TESTING_FAKE_BACKEND_H_
#define RINGWATCH_DAEMON_SERVER_TESTING_FAKE_BACKEND_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "daemon/event/event_format.h"
#include "daemon/server/backend.h"

namespace ringwatch {
namespace testing {

class FakeBackend : public Backend {
 public:
  // Catalog: sched/sched_switch, sched/sched_wakeup, raw_syscalls/sys_enter,
  // irq/irq_handler_entry; two CPUs.
  FakeBackend();

  // --- Test controls -----------------------------------------------------
  // Adds an aggregation as if from the config file (no validation).
  void AddConfigAggregation(const v1::Aggregation& spec);
  // Replaces the spec validation CreateAggregation runs (e.g. with the
  // engine's real compiler).
  void set_validator(
      std::function<absl::Status(const v1::Aggregation&)> validator);
  // Plays the engine: records `result` as the latest window of its
  // aggregation, folds its counts into the cumulative view and hands it to
  // every window listener, on the calling thread.
  void PublishWindow(const v1::AggregationResult& result);
  // A window of `aggregation` with one row per (key, count), largest count
  // first.
  static v1::AggregationResult MakeWindow(
      const std::string& aggregation, uint64_t window_start_ns,
      const std::vector<std::pair<std::string, uint64_t>>& unsorted);
  // Plays a reader: hands the record to every tap. The record's event id
  // must be in the catalog.
  void EmitEvent(const RecordView& record);
  // Plays the engine and a reader that found its ring empty: every CPU has
  // delivered everything before `horizon` (EventTimeHorizon), and the taps
  // hear of it.
  void EmitDrained(uint64_t horizon);
  // A record payload of `event` ("sched/sched_switch") with common_pid and
  // the named integer or string fields set; other fields are zero.
  std::vector<uint8_t> MakePayload(
      const std::string& event, int32_t pid,
      const std::map<std::string, int64_t>& ints,
      const std::map<std::string, std::string>& strings) const;
  const EventFormat* FindEvent(const std::string& full_name) const;
  size_t listener_count() const;
  size_t tap_count() const;

  // --- Backend -----------------------------------------------------------
  absl::StatusOr<v1::DaemonStatus> GetStatus() override;
  absl::StatusOr<std::vector<v1::EventDescriptor>> ListEvents() override;
  std::vector<v1::AggregationInfo> ListAggregations() override;
  absl::StatusOr<v1::AggregationInfo> GetAggregation(
      absl::string_view id) override;
  absl::StatusOr<v1::AggregationInfo> CreateAggregation(
      const v1::Aggregation& spec, bool validate_only) override;
  absl::Status DeleteAggregation(absl::string_view id) override;
  absl::StatusOr<v1::AggregationResult> GetResult(absl::string_view id,
                                                  v1::ResultView view) override;
  uint64_t AddWindowListener(std::shared_ptr<WindowListener> listener) override;
  void RemoveWindowListener(uint64_t handle) override;
  absl::StatusOr<uint64_t> AddEventTap(std::shared_ptr<EventTap> tap) override;
  void RemoveEventTap(uint64_t handle) override;
  // "Everything" until EmitDrained says otherwise (arrival order).
  uint64_t EventTimeHorizon() override;

  // The validation CreateAggregation runs by default: the checks of the
  // config file that need no engine (name, source, event, keys, window).
  absl::Status DefaultValidate(const v1::Aggregation& spec) const;

 private:
  struct Agg {
    v1::AggregationInfo info;
    std::shared_ptr<const v1::AggregationResult> latest;
    v1::AggregationResult cumulative;
    bool has_cumulative = false;
  };

  std::vector<EventFormat> formats_;  // Immutable after construction.

  mutable absl::Mutex mu_;
  std::function<absl::Status(const v1::Aggregation&)> validator_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, Agg> aggs_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::shared_ptr<WindowListener>> listeners_
      ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::shared_ptr<EventTap>> taps_ ABSL_GUARDED_BY(mu_);
  uint64_t next_handle_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t events_[2] ABSL_GUARDED_BY(mu_) = {0, 0};
  uint64_t horizon_ ABSL_GUARDED_BY(mu_) = ~uint64_t{0};
};

}  // namespace testing
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SERVER_TESTING_FAKE_BACKEND_H_
