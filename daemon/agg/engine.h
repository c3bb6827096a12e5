// The aggregation engine: compiled aggregations fed by per-CPU RecordSinks
// (one per reader thread, lock-free), merged into tumbling windows and a
// cumulative view by a merger thread (live) or on demand (replay).
//
//   ASSIGN_OR_RETURN(auto engine, Engine::Create(config, &catalog, options));
//   ... enable engine->RequiredEvents() in the tracefs instance ...
//   ReaderPool::Create(rings, engine->sinks());  engine->Start();
//   engine->Query({.name = "syscalls"});
//
// Threading: sink(cpu) is called by that CPU's reader thread only. Every
// other method is thread-safe. Window callbacks run on the merger thread
// (never a reader's): they must not block and must not call back into
// Subscribe/Unsubscribe.
#ifndef RINGWATCH_DAEMON_AGG_ENGINE_H_
#define RINGWATCH_DAEMON_AGG_ENGINE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"
#include "daemon/agg/aggregation.h"
#include "daemon/agg/dispatcher.h"
#include "daemon/agg/memory_budget.h"
#include "daemon/agg/result_builder.h"
#include "daemon/agg/shard.h"
#include "daemon/event/event_catalog.h"
#include "daemon/ring/record.h"
#include "proto/ringwatch/v1/config.pb.h"

namespace ringwatch {
namespace agg {

struct EngineOptions {
  // CPUs (sinks); records of a higher CPU number are counted and dropped.
  uint32_t num_cpus = 0;
  // Live: a merger thread closes windows as the readers and the clock
  // advance. Replay (false): windows close as replay_sink() sees time pass,
  // or on Poll() and Finish().
  bool live = true;
  // Live: the trace clock ("mono", "mono_raw" and "boot" map onto POSIX
  // clocks, so idle CPUs are judged against the wall clock; other clocks
  // against the newest timestamp any CPU delivered).
  std::string trace_clock = "mono";
  uint64_t idle_grace_ns = 500000000;
  // Window length of aggregations without one (their cumulative view is
  // brought up to date this often).
  uint64_t flush_interval_ns = 1000000000;
  uint64_t merge_tick_ns = 10000000;
  // Overrides the clock behind trace_clock (tests).
  std::function<uint64_t()> now_ns;
  // Overrides CLOCK_MONOTONIC, the clock of the readers' drained reports
  // (tests; with now_ns set and this unset, those reports are ignored).
  std::function<uint64_t()> monotonic_ns;
  RuntimeOptions limits;  // period_ns and budget are set per engine.
  // The memory budget (config limits.max_memory): admission refuses
  // aggregations whose worst case (EstimateBytes) does not fit beside the
  // running ones, and tables stop growing at it.
  uint64_t max_memory_bytes = kDefaultMaxMemoryBytes;
  // Memory the daemon sets aside in the same budget outside the
  // aggregations (the flight recorder): charged from the start, so
  // aggregations are admitted against what is left.
  uint64_t reserved_outside_bytes = 0;
  std::string reserved_outside_name = "flight_recorder";
};

struct QueryRequest {
  std::string name;
  bool cumulative = true;          // Else the latest closed window.
  absl::optional<uint32_t> top_n;  // Default: the aggregation's top_n.
  std::vector<KeyMatch> key_filter;
};

class Engine {
 public:
  // Compiles every aggregation of `config` against `catalog` (which must
  // outlive the engine). Errors name the aggregation, field and reason.
  static absl::StatusOr<std::unique_ptr<Engine>> Create(
      const v1::Config& config, const EventCatalog* catalog,
      EngineOptions options);
  // Options from the config's idle_grace, flush_interval and trace_clock.
  static absl::StatusOr<EngineOptions> OptionsFromConfig(
      const v1::Config& config, uint32_t num_cpus, bool live);

  // Stops the merger thread. The readers feeding the sinks must have
  // stopped.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // The sink of `cpu`'s reader thread (cpu < num_cpus), owned by the engine.
  RecordSink* sink(uint32_t cpu);
  std::vector<RecordSink*> sinks();
  // For a single-threaded source delivering every CPU in timestamp order
  // (TraceDatFile::ReadAll): routes by record.cpu and closes windows as time
  // passes. Replay engines only.
  RecordSink* replay_sink();

  // "system/name" of every event the aggregations read (sched/sched_switch
  // included when "comm" keys need it), sorted, without duplicates.
  std::vector<std::string> RequiredEvents() const;

  // Live: starts the merger thread. Stop() joins it (open windows stay open;
  // call Finish() once the readers have stopped to close them).
  absl::Status Start();
  void Stop();
  // One merger pass: closes what the watermark allows.
  void Poll();
  // The input has ended (readers stopped): closes every window holding data,
  // so the cumulative view holds every record delivered.
  void Finish();

  // Runtime changes, validated like the config file. AlreadyExists for a
  // name in use; NotFound for an unknown one. ResourceExhausted when its
  // worst case does not fit in the memory budget beside the running
  // aggregations (the message names the estimate, what is reserved and in
  // use, and the budget); nothing running is touched then.
  absl::Status AddAggregation(const v1::Aggregation& aggregation);
  absl::Status RemoveAggregation(absl::string_view name);
  std::vector<v1::Aggregation> ListAggregations() const;

  // Admission of a whole set (a reload): OK when the worst case of
  // `aggregations` fits in `max_memory_bytes`, else ResourceExhausted
  // naming each estimate. Changes nothing.
  absl::Status CheckAdmission(const std::vector<v1::Aggregation>& aggregations,
                              uint64_t max_memory_bytes) const;
  // The admission check of AddAggregation alone (validate_only requests).
  absl::Status CheckAddAggregation(const v1::Aggregation& aggregation) const;
  // Applies a reloaded budget (after CheckAdmission).
  void SetMemoryLimit(uint64_t bytes) { budget_->set_limit(bytes); }

  // NotFound for an unknown aggregation; FailedPrecondition for the latest
  // window of one without a window; Unavailable before its first window
  // closed; InvalidArgument for a key filter naming no key.
  absl::StatusOr<v1::AggregationResult> Query(
      const QueryRequest& request) const;

  // `callback` gets every closed window of every windowed aggregation.
  uint64_t Subscribe(WindowCallback callback);
  void Unsubscribe(uint64_t id);

  v1::EngineStats Stats() const;

  // Live: trace-clock time before which every CPU has delivered all its
  // records, or is taken to be idle (the watermark that closes windows,
  // from the readers' progress, drained reports and the idle grace).
  uint64_t DeliveredBefore() const { return Watermark(); }

  uint32_t num_cpus() const { return static_cast<uint32_t>(shards_.size()); }

 private:
  class ReplaySink;

  Engine(const EventCatalog* catalog, EngineOptions options);
  absl::StatusOr<std::shared_ptr<AggRuntime>> NewRuntime(
      const v1::Aggregation& aggregation) const;
  // options_.limits as every aggregation of this engine gets them.
  RuntimeOptions RuntimeLimits() const;
  // Publishes a dispatcher for `aggs` and retires the old one once no
  // reader can be using it. Requires mu_.
  void InstallLocked(std::vector<std::shared_ptr<AggRuntime>> aggs)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ResourceExhausted when `estimate` does not fit beside `running`.
  absl::Status Admit(
      const std::string& name, uint32_t max_keys, uint64_t estimate,
      const std::vector<std::shared_ptr<AggRuntime>>& running) const;
  void WaitForReaders(const std::vector<bool>& cpus);
  uint64_t Watermark() const;
  std::vector<std::shared_ptr<AggRuntime>> Snapshot() const;
  void Publish(const v1::AggregationResult& result);
  void MergerLoop();

  const EventCatalog* catalog_;  // Not owned; never null.
  const EngineOptions options_;
  std::function<uint64_t()> now_;  // Null: judge idle CPUs by watermarks.
  // Null: drained reports are ignored (the trace clock has no POSIX clock).
  std::function<uint64_t()> monotonic_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::unique_ptr<ReplaySink> replay_sink_;
  std::atomic<const Dispatcher*> dispatcher_{nullptr};
  std::atomic<uint64_t> bad_cpu_records_{0};
  std::atomic<uint64_t> min_period_ns_{0};
  // Shared with every aggregation's account (which may outlive a snapshot).
  const std::shared_ptr<MemoryBudget> budget_;

  mutable absl::Mutex mu_;
  std::unique_ptr<const Dispatcher> current_ ABSL_GUARDED_BY(mu_);

  // Serializes merger passes (thread, Poll, Finish).
  absl::Mutex poll_mu_ ABSL_ACQUIRED_BEFORE(mu_);

  absl::Mutex subs_mu_;
  std::map<uint64_t, WindowCallback> subscribers_ ABSL_GUARDED_BY(subs_mu_);
  uint64_t next_subscriber_ ABSL_GUARDED_BY(subs_mu_) = 1;

  // std:: rather than absl:: here so ThreadSanitizer (which cannot see
  // inside Debian's uninstrumented Abseil) can check the merger's wake-ups.
  std::mutex thread_mu_;
  std::condition_variable thread_cv_;
  bool stop_ = false;  // Guarded by thread_mu_.
  std::thread merger_;
};

}  // namespace agg
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_AGG_ENGINE_H_
