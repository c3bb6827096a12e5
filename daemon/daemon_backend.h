// The daemon's implementation of the API server's Backend: the aggregation
// engine, the per-CPU readers' figures, the event catalog and the tracefs
// instance, plus the per-CPU sinks that feed both the engine and any
// StreamEvents taps.
#ifndef RINGWATCH_DAEMON_DAEMON_BACKEND_H_
#define RINGWATCH_DAEMON_DAEMON_BACKEND_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "daemon/agg/engine.h"
#include "daemon/event/event_catalog.h"
#include "daemon/reader/reader_pool.h"
#include "daemon/server/backend.h"
#include "daemon/snapshot/snapshotter.h"
#include "daemon/tracefs/instance.h"

namespace ringwatch {

struct DaemonInfo {
  std::string version;
  std::string kernel_release;
  std::string tracefs_path;
  std::string instance;
};

class DaemonBackend : public Backend {
 public:
  // None of the pointers is owned; all must outlive the backend. `config`
  // is the running config (its aggregations have ORIGIN_CONFIG).
  DaemonBackend(DaemonInfo info, const EventCatalog* catalog,
                agg::Engine* engine, Instance* instance,
                const v1::Config& config);
  ~DaemonBackend() override;

  // The sinks the reader threads call: each forwards to the engine's sink of
  // its CPU, then to the taps when any is registered (one relaxed load
  // otherwise).
  std::vector<RecordSink*> ReaderSinks(absl::Span<const int> cpus);
  // Set once the readers exist (before the server starts).
  void set_reader_pool(ReaderPool* pool);
  // The flight recorder's writer, when the recorder is on (before the
  // server starts). Not owned.
  void set_snapshotter(Snapshotter* snapshotter) { snapshotter_ = snapshotter; }

  // Waits until every reader has read its ring empty in a read that began
  // after this call (so the records the kernel held at the call have been
  // delivered), at most `timeout`. Returns whether they all did.
  bool CatchUpReaders(absl::Duration timeout);
  // Tells the window listeners (the API's subscribers of `aggregation`)
  // that a trigger wrote a snapshot.
  void AnnounceSnapshot(const std::string& aggregation,
                        const v1::SnapshotInfo& info);

  // Samples the readers' counters for the rates in GetStatus; the daemon
  // calls it about once a second.
  void Tick();
  // One line for systemd's STATUS=.
  std::string StatusLine();

  // Applies a reloaded config's aggregations: removes those gone, replaces
  // those changed, adds the new ones; subscribers of replaced aggregations
  // keep their streams. Everything is validated before anything changes.
  absl::Status ApplyConfig(const v1::Config& config);

  // Backend.
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
  uint64_t EventTimeHorizon() override;
  absl::StatusOr<v1::SnapshotInfo> WriteSnapshot(uint64_t span_ns,
                                                 int file_version,
                                                 ScopedFd* file) override;

 private:
  class TeeSink;
  struct Origin {
    v1::AggregationInfo::Origin origin =
        v1::AggregationInfo::ORIGIN_UNSPECIFIED;
    absl::Time create_time;
  };
  using TapList = std::vector<std::shared_ptr<EventTap>>;

  v1::AggregationInfo InfoLocked(const v1::Aggregation& spec,
                                 const v1::EngineStats& stats)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Enables in the instance every event the engine now needs.
  absl::Status EnableRequiredEventsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // windows, distinct_keys and last_window_end_ns, from the engine.
  void FillResultFigures(const std::string& name,
                         v1::AggregationStats* stats) const;
  std::vector<std::shared_ptr<WindowListener>> Listeners();
  void PublishWindow(const v1::AggregationResult& result);
  // Swaps in the readers' copy of tap_handles_.
  void PublishTapsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void NotifyDeleted(absl::string_view id);
  // Which keys of aggregation `name` are syscall numbers (cached per
  // definition), for the names results show beside them.
  std::vector<bool> SyscallColumns(absl::string_view name)
      ABSL_LOCKS_EXCLUDED(syscall_mu_);
  void ForgetSyscallColumns() ABSL_LOCKS_EXCLUDED(syscall_mu_);

  Snapshotter* snapshotter_ = nullptr;
  const DaemonInfo info_;
  const EventCatalog* catalog_;
  agg::Engine* engine_;
  const absl::Time start_time_;
  uint64_t engine_subscription_ = 0;

  std::vector<std::unique_ptr<TeeSink>> tee_sinks_;
  // Taps, swapped whole (copy on write); readers load the list only while
  // tap_count_ is non-zero.
  std::atomic<uint32_t> tap_count_{0};
  std::shared_ptr<const TapList> taps_;  // std::atomic_load/store only.

  absl::Mutex mu_;
  Instance* instance_ ABSL_GUARDED_BY(mu_);  // Instance is single-threaded.
  ReaderPool* pool_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::map<std::string, Origin> origins_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::shared_ptr<EventTap>> tap_handles_
      ABSL_GUARDED_BY(mu_);
  uint64_t next_tap_ ABSL_GUARDED_BY(mu_) = 1;
  // Previous and latest reader samples, for rates.
  std::vector<RingCounters> previous_sample_ ABSL_GUARDED_BY(mu_);
  std::vector<RingCounters> latest_sample_ ABSL_GUARDED_BY(mu_);
  absl::Duration sample_interval_ ABSL_GUARDED_BY(mu_);
  absl::Time latest_sample_time_ ABSL_GUARDED_BY(mu_);

  absl::Mutex syscall_mu_;
  std::map<std::string, std::vector<bool>, std::less<>> syscall_columns_
      ABSL_GUARDED_BY(syscall_mu_);

  absl::Mutex listeners_mu_;
  std::map<uint64_t, std::shared_ptr<WindowListener>> listeners_
      ABSL_GUARDED_BY(listeners_mu_);
  uint64_t next_listener_ ABSL_GUARDED_BY(listeners_mu_) = 1;
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_DAEMON_BACKEND_H_
