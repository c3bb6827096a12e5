// Snapshot triggers: after each closed window of its aggregation, a
// trigger compares the largest value of its column over the window's rows
// with its threshold. It fires on a crossing (above after not above), at
// most once per min_interval; a crossing inside the interval is counted as
// rate limited and does not fire. The snapshots are written on a thread of
// their own, never on the engine's, and announced to the aggregation's
// subscribers.
#ifndef RINGWATCH_DAEMON_SNAPSHOT_SNAPSHOT_TRIGGER_H_
#define RINGWATCH_DAEMON_SNAPSHOT_SNAPSHOT_TRIGGER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"
#include "daemon/server/backend.h"
#include "daemon/snapshot/recorder_settings.h"
#include "proto/ringwatch/v1/ringwatch.pb.h"

namespace ringwatch {

// The largest `value` ("count", "p99", ...) over the rows of `window`;
// NotFound naming the columns there are when the aggregation has none such.
absl::StatusOr<absl::optional<double>> WindowValue(
    const v1::AggregationResult& window, const std::string& value);

// One trigger's crossing and rate-limit state (not thread-safe).
class TriggerState {
 public:
  enum class Decision { kNothing, kFire, kRateLimited };

  explicit TriggerState(TriggerSettings settings)
      : settings_(std::move(settings)) {}

  // `value` is the window's (none: an empty window, which is below);
  // `now_ns` a monotonic clock.
  Decision OnWindow(absl::optional<double> value, uint64_t now_ns);

  const TriggerSettings& settings() const { return settings_; }

 private:
  const TriggerSettings settings_;
  bool above_ = false;
  bool fired_ = false;
  uint64_t last_fire_ns_ = 0;
};

class SnapshotTriggers : public WindowListener {
 public:
  // Writes a snapshot of `span_ns` named `trigger` and returns its info.
  using WriteFn = std::function<absl::StatusOr<v1::SnapshotInfo>(
      uint64_t span_ns, const std::string& trigger)>;
  // Tells the aggregation's subscribers about a snapshot written.
  using AnnounceFn = std::function<void(const std::string& aggregation,
                                        const v1::SnapshotInfo& info)>;
  // Counts a decision (fired or rate limited).
  using CountFn = std::function<void(bool rate_limited)>;
  using LogFn = std::function<void(const std::string& line)>;

  SnapshotTriggers(std::vector<TriggerSettings> triggers, WriteFn write,
                   AnnounceFn announce, CountFn count, LogFn log,
                   std::function<uint64_t()> now_ns);
  // Finishes the snapshot being written, drops those queued.
  ~SnapshotTriggers() override;

  void OnWindowClosed(
      std::shared_ptr<const v1::AggregationResult> window) override;
  void OnAggregationDeleted(absl::string_view aggregation_id) override {}

  // Snapshots written so far (for tests: a condition to wait on).
  uint64_t written() const;

 private:
  struct Job {
    std::string trigger;
    std::string aggregation;
    uint64_t span_ns;
  };
  void Run();

  const WriteFn write_;
  const AnnounceFn announce_;
  const CountFn count_;
  const LogFn log_;
  const std::function<uint64_t()> now_ns_;

  absl::Mutex states_mu_;  // Windows may close on more than one thread.
  struct Trigger {
    explicit Trigger(TriggerSettings settings) : state(std::move(settings)) {}
    TriggerState state;
    bool said_cannot_fire = false;  // Logged once.
  };
  std::vector<Trigger> triggers_ ABSL_GUARDED_BY(states_mu_);

  mutable absl::Mutex jobs_mu_;
  std::deque<Job> jobs_ ABSL_GUARDED_BY(jobs_mu_);
  bool stopping_ ABSL_GUARDED_BY(jobs_mu_) = false;
  uint64_t written_ ABSL_GUARDED_BY(jobs_mu_) = 0;
  std::thread worker_;
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SNAPSHOT_SNAPSHOT_TRIGGER_H_
