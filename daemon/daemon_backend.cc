#include "daemon/daemon_backend.h"

#include <time.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "daemon/agg/config_loader.h"
#include "daemon/metrics/aggregation_collector.h"
#include "daemon/util/status_macros.h"
#include "daemon/util/syscall_keys.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"

namespace ringwatch {
namespace {

google::protobuf::Timestamp ToProtoTime(absl::Time time) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      absl::ToUnixNanos(time));
}

double Rate(uint64_t now, uint64_t before, absl::Duration interval) {
  double seconds = absl::ToDoubleSeconds(interval);
  if (seconds <= 0 || now < before) return 0;
  return static_cast<double>(now - before) / seconds;
}

}  // namespace

// Forwards one CPU's records to the engine, and to the taps while any is
// registered. Runs on that CPU's reader thread.
class DaemonBackend::TeeSink : public RecordSink {
 public:
  TeeSink(DaemonBackend* backend, RecordSink* engine_sink)
      : backend_(backend), engine_sink_(engine_sink) {}

  void OnRecord(const RecordView& record) override {
    engine_sink_->OnRecord(record);
    if (backend_->tap_count_.load(std::memory_order_relaxed) == 0) return;
    std::shared_ptr<const TapList> taps = std::atomic_load(&backend_->taps_);
    if (!taps || taps->empty()) return;
    int32_t id = record.event_id();
    const EventFormat* format =
        id >= 0 ? backend_->catalog_->FindById(static_cast<uint32_t>(id))
                : nullptr;
    if (format == nullptr) return;
    for (const auto& tap : *taps) tap->OnEvent(record, *format);
  }

  void OnDrained(int64_t monotonic_ns) override {
    last_drained_ns.store(monotonic_ns, std::memory_order_release);
    engine_sink_->OnDrained(monotonic_ns);
    if (backend_->tap_count_.load(std::memory_order_relaxed) == 0) return;
    std::shared_ptr<const TapList> taps = std::atomic_load(&backend_->taps_);
    if (!taps) return;
    for (const auto& tap : *taps) tap->OnReaderDrained();
  }

  // Taps (StreamEvents) drop their oldest by design; only the engine holds
  // the reader back.
  bool HasRoomFor(uint32_t records) override {
    return engine_sink_->HasRoomFor(records);
  }

  void OnLoss(const LossReport& loss) override {
    engine_sink_->OnLoss(loss);
    if (backend_->tap_count_.load(std::memory_order_relaxed) == 0) return;
    std::shared_ptr<const TapList> taps = std::atomic_load(&backend_->taps_);
    if (!taps) return;
    for (const auto& tap : *taps) tap->OnLoss(loss);
  }

  // CLOCK_MONOTONIC start of the last read that left the ring empty.
  std::atomic<int64_t> last_drained_ns{0};

 private:
  DaemonBackend* backend_;   // Never null.
  RecordSink* engine_sink_;  // Never null.
};

DaemonBackend::DaemonBackend(DaemonInfo info, const EventCatalog* catalog,
                             agg::Engine* engine, Instance* instance,
                             const v1::Config& config)
    : info_(std::move(info)),
      catalog_(catalog),
      engine_(engine),
      start_time_(absl::Now()),
      taps_(std::make_shared<TapList>()),
      instance_(instance) {
  for (const v1::Aggregation& aggregation : config.aggregation()) {
    origins_[aggregation.name()] = {v1::AggregationInfo::ORIGIN_CONFIG,
                                    start_time_};
  }
  engine_subscription_ = engine_->Subscribe(
      [this](const v1::AggregationResult& result) { PublishWindow(result); });
}

DaemonBackend::~DaemonBackend() { engine_->Unsubscribe(engine_subscription_); }

std::vector<RecordSink*> DaemonBackend::ReaderSinks(
    absl::Span<const int> cpus) {
  std::vector<RecordSink*> sinks;
  for (int cpu : cpus) {
    tee_sinks_.push_back(std::make_unique<TeeSink>(
        this, engine_->sink(static_cast<uint32_t>(cpu))));
    sinks.push_back(tee_sinks_.back().get());
  }
  return sinks;
}

bool DaemonBackend::CatchUpReaders(absl::Duration timeout) {
  auto now_ns = [] {
    timespec t;
    ::clock_gettime(CLOCK_MONOTONIC, &t);
    return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
  };
  const int64_t start = now_ns();
  const int64_t deadline = start + absl::ToInt64Nanoseconds(timeout);
  while (true) {
    bool all = true;
    for (const auto& sink : tee_sinks_) {
      all &= sink->last_drained_ns.load(std::memory_order_acquire) >= start;
    }
    if (all) return true;
    if (now_ns() > deadline) return false;
    // The readers report on their own tick; nothing to wake on but time.
    absl::SleepFor(absl::Milliseconds(2));
  }
}

void DaemonBackend::AnnounceSnapshot(const std::string& aggregation,
                                     const v1::SnapshotInfo& info) {
  auto shared = std::make_shared<const v1::SnapshotInfo>(info);
  for (const auto& listener : Listeners()) {
    listener->OnSnapshotTaken(aggregation, shared);
  }
}

absl::StatusOr<v1::SnapshotInfo> DaemonBackend::WriteSnapshot(uint64_t span_ns,
                                                              int file_version,
                                                              ScopedFd* file) {
  if (snapshotter_ == nullptr) {
    return Backend::WriteSnapshot(span_ns, file_version, file);
  }
  return snapshotter_->WriteUnlinked(span_ns, file_version, file);
}

void DaemonBackend::set_reader_pool(ReaderPool* pool) {
  absl::MutexLock lock(&mu_);
  pool_ = pool;
}

void DaemonBackend::Tick() {
  absl::MutexLock lock(&mu_);
  if (pool_ == nullptr) return;
  absl::Time now = absl::Now();
  previous_sample_ = std::move(latest_sample_);
  latest_sample_ = pool_->Counters();
  sample_interval_ = now - latest_sample_time_;
  latest_sample_time_ = now;
}

std::string DaemonBackend::StatusLine() {
  absl::MutexLock lock(&mu_);
  uint64_t events = 0, lost = 0, rate_events = 0;
  for (size_t i = 0; i < latest_sample_.size(); ++i) {
    events += latest_sample_[i].events;
    lost += latest_sample_[i].lost + latest_sample_[i].lost_unknown;
    if (i < previous_sample_.size()) {
      rate_events += latest_sample_[i].events - previous_sample_[i].events;
    }
  }
  double seconds = absl::ToDoubleSeconds(sample_interval_);
  return absl::StrFormat(
      "%d CPUs, %.0f events/s, %d events, %d lost, %d aggregations",
      latest_sample_.size(),
      seconds > 0 ? static_cast<double>(rate_events) / seconds : 0.0, events,
      lost, origins_.size());
}

absl::Status DaemonBackend::EnableRequiredEventsLocked() {
  for (const std::string& event : engine_->RequiredEvents()) {
    RETURN_IF_ERROR(instance_->EnableEvent(event));
  }
  return absl::OkStatus();
}

absl::Status DaemonBackend::ApplyConfig(const v1::Config& config) {
  // Validate everything before changing anything.
  for (const v1::Aggregation& aggregation : config.aggregation()) {
    RETURN_IF_ERROR(agg::ValidateAggregation(aggregation, *catalog_));
    RETURN_IF_ERROR(metrics::ValidateAggregationMetrics(aggregation));
  }
  std::map<std::string, v1::Aggregation> wanted;
  for (const v1::Aggregation& aggregation : config.aggregation()) {
    wanted[aggregation.name()] = aggregation;
  }
  std::map<std::string, v1::Aggregation> running;
  for (v1::Aggregation& aggregation : engine_->ListAggregations()) {
    running[aggregation.name()] = std::move(aggregation);
  }
  std::vector<std::string> deleted;
  {
    absl::MutexLock lock(&mu_);
    // Memory admission of the outcome (the config's aggregations plus those
    // created over the API, which survive) before anything changes.
    std::vector<v1::Aggregation> outcome;
    for (const auto& [name, spec] : wanted) outcome.push_back(spec);
    for (const auto& [name, spec] : running) {
      if (wanted.count(name) == 0 &&
          origins_[name].origin != v1::AggregationInfo::ORIGIN_CONFIG) {
        outcome.push_back(spec);
      }
    }
    ASSIGN_OR_RETURN(
        agg::EngineOptions options,
        agg::Engine::OptionsFromConfig(config, engine_->num_cpus(), true));
    RETURN_IF_ERROR(engine_->CheckAdmission(outcome, options.max_memory_bytes));
    engine_->SetMemoryLimit(options.max_memory_bytes);
    // Removals first, so the budget never holds an old and a new version.
    std::vector<const v1::Aggregation*> replaced;
    for (const auto& [name, spec] : running) {
      auto it = wanted.find(name);
      bool from_config =
          origins_[name].origin == v1::AggregationInfo::ORIGIN_CONFIG;
      if (it == wanted.end()) {
        // Aggregations created over the API survive a reload.
        if (!from_config) continue;
        RETURN_IF_ERROR(engine_->RemoveAggregation(name));
        origins_.erase(name);
        deleted.push_back(name);
      } else if (!google::protobuf::util::MessageDifferencer::Equals(
                     spec, it->second)) {
        // Replaced in place: its subscribers are kept.
        RETURN_IF_ERROR(engine_->RemoveAggregation(name));
        replaced.push_back(&it->second);
      }
    }
    for (const v1::Aggregation* spec : replaced) {
      RETURN_IF_ERROR(engine_->AddAggregation(*spec));
      origins_[spec->name()] = {v1::AggregationInfo::ORIGIN_CONFIG,
                                absl::Now()};
    }
    for (const auto& [name, spec] : wanted) {
      if (running.count(name)) continue;
      RETURN_IF_ERROR(engine_->AddAggregation(spec));
      origins_[name] = {v1::AggregationInfo::ORIGIN_CONFIG, absl::Now()};
    }
    RETURN_IF_ERROR(EnableRequiredEventsLocked());
  }
  ForgetSyscallColumns();
  for (const std::string& name : deleted) NotifyDeleted(name);
  return absl::OkStatus();
}

absl::StatusOr<v1::DaemonStatus> DaemonBackend::GetStatus() {
  v1::DaemonStatus status;
  status.set_version(info_.version);
  status.set_kernel_release(info_.kernel_release);
  status.set_tracefs_path(info_.tracefs_path);
  status.set_instance(info_.instance);
  *status.mutable_start_time() = ToProtoTime(start_time_);
  v1::EngineStats engine_stats = engine_->Stats();
  if (snapshotter_ != nullptr) {
    snapshotter_->FillStatus(status.mutable_flight_recorder());
  }
  {
    absl::MutexLock lock(&mu_);
    std::vector<RingCounters> now =
        pool_ ? pool_->Counters() : std::vector<RingCounters>();
    v1::ReaderTotals* totals = status.mutable_totals();
    for (size_t i = 0; i < now.size(); ++i) {
      const RingCounters& c = now[i];
      v1::CpuReaderStatus* cpu = status.add_cpus();
      cpu->set_cpu(c.cpu);
      cpu->set_mode(c.mapped ? v1::READ_MODE_MMAP : v1::READ_MODE_READ);
      cpu->set_events(c.events);
      cpu->set_bytes(c.bytes);
      // The counts stored on pages miss what the kernel overwrote without
      // room to say so (lost_unknown); the meta page's overrun counts every
      // overwritten event, so the larger of the two is the loss.
      const uint64_t lost = std::max(c.lost, c.overrun);
      cpu->set_lost_events(lost);
      cpu->set_overruns(c.overrun);
      cpu->set_decode_errors(c.decode_errors);
      cpu->set_lost_on_pages(c.lost);
      cpu->set_loss_without_count(c.lost_unknown);
      cpu->set_reads(c.syscalls);
      cpu->set_subbufs(c.subbufs);
      if (i < latest_sample_.size() && i < previous_sample_.size()) {
        cpu->set_events_per_second(Rate(latest_sample_[i].events,
                                        previous_sample_[i].events,
                                        sample_interval_));
        cpu->set_bytes_per_second(Rate(latest_sample_[i].bytes,
                                       previous_sample_[i].bytes,
                                       sample_interval_));
      }
      totals->set_events(totals->events() + c.events);
      totals->set_bytes(totals->bytes() + c.bytes);
      totals->set_lost_events(totals->lost_events() + lost);
      totals->set_overruns(totals->overruns() + c.overrun);
      totals->set_decode_errors(totals->decode_errors() + c.decode_errors);
      totals->set_events_per_second(totals->events_per_second() +
                                    cpu->events_per_second());
      totals->set_bytes_per_second(totals->bytes_per_second() +
                                   cpu->bytes_per_second());
    }
  }
  for (const auto& aggregation : engine_stats.aggregation()) {
    v1::AggregationStats* stats = status.add_aggregations();
    stats->set_name(absl::StrCat("aggregations/", aggregation.name()));
    *stats->mutable_counters() = aggregation.counters();
    stats->set_pending_starts(aggregation.pending_starts());
    stats->set_memory_bytes(aggregation.memory_bytes());
    stats->set_memory_reserved_bytes(aggregation.memory_reserved_bytes());
    FillResultFigures(aggregation.name(), stats);
  }
  *status.mutable_engine() = std::move(engine_stats);
  return status;
}

absl::StatusOr<std::vector<v1::EventDescriptor>> DaemonBackend::ListEvents() {
  std::vector<v1::EventDescriptor> events;
  for (const EventFormat* format : catalog_->All()) {
    v1::EventDescriptor event;
    event.set_name(absl::StrCat("events/", format->FullName()));
    event.set_system(format->system);
    event.set_event(format->name);
    event.set_id(format->id);
    for (const FieldFormat& field : format->fields) {
      v1::FieldDescriptor* out = event.add_fields();
      out->set_name(field.name);
      out->set_type(field.type);
      out->set_offset(field.offset);
      out->set_size(field.size);
      out->set_is_signed(field.is_signed);
      out->set_is_string(field.is_string);
      out->set_is_common(field.is_common);
    }
    events.push_back(std::move(event));
  }
  return events;
}

void DaemonBackend::FillResultFigures(const std::string& name,
                                      v1::AggregationStats* stats) const {
  // Status and listings are rare next to events: asking the engine for the
  // two views (one row each) is cheap enough and keeps one source of truth.
  agg::QueryRequest request;
  request.name = name;
  request.top_n = 1;
  request.cumulative = true;
  absl::StatusOr<v1::AggregationResult> cumulative = engine_->Query(request);
  if (cumulative.ok()) {
    stats->set_windows(cumulative->windows());
    stats->set_distinct_keys(cumulative->distinct_keys());
  }
  request.cumulative = false;
  absl::StatusOr<v1::AggregationResult> latest = engine_->Query(request);
  if (latest.ok()) stats->set_last_window_end_ns(latest->window_end_ns());
}

v1::AggregationInfo DaemonBackend::InfoLocked(const v1::Aggregation& spec,
                                              const v1::EngineStats& stats) {
  v1::AggregationInfo info;
  info.set_name(absl::StrCat("aggregations/", spec.name()));
  *info.mutable_spec() = spec;
  auto origin = origins_.find(spec.name());
  if (origin != origins_.end()) {
    info.set_origin(origin->second.origin);
    *info.mutable_create_time() = ToProtoTime(origin->second.create_time);
  }
  v1::AggregationStats* out = info.mutable_stats();
  out->set_name(info.name());
  FillResultFigures(spec.name(), out);
  for (const auto& aggregation : stats.aggregation()) {
    if (aggregation.name() != spec.name()) continue;
    *out->mutable_counters() = aggregation.counters();
    out->set_pending_starts(aggregation.pending_starts());
    out->set_memory_bytes(aggregation.memory_bytes());
    out->set_memory_reserved_bytes(aggregation.memory_reserved_bytes());
  }
  return info;
}

std::vector<v1::AggregationInfo> DaemonBackend::ListAggregations() {
  v1::EngineStats stats = engine_->Stats();
  std::vector<v1::Aggregation> specs = engine_->ListAggregations();
  absl::MutexLock lock(&mu_);
  std::vector<v1::AggregationInfo> infos;
  for (const v1::Aggregation& spec : specs) {
    infos.push_back(InfoLocked(spec, stats));
  }
  return infos;
}

absl::StatusOr<v1::AggregationInfo> DaemonBackend::GetAggregation(
    absl::string_view id) {
  v1::EngineStats stats = engine_->Stats();
  for (const v1::Aggregation& spec : engine_->ListAggregations()) {
    if (spec.name() != id) continue;
    absl::MutexLock lock(&mu_);
    return InfoLocked(spec, stats);
  }
  return absl::NotFoundError(absl::StrCat("aggregation '", id, "' not found"));
}

absl::StatusOr<v1::AggregationInfo> DaemonBackend::CreateAggregation(
    const v1::Aggregation& spec, bool validate_only) {
  RETURN_IF_ERROR(agg::ValidateAggregation(spec, *catalog_));
  RETURN_IF_ERROR(metrics::ValidateAggregationMetrics(spec));
  for (const v1::Aggregation& running : engine_->ListAggregations()) {
    if (running.name() == spec.name()) {
      return absl::AlreadyExistsError(
          absl::StrCat("aggregation '", spec.name(),
                       "' already exists; delete it first or pick another "
                       "name"));
    }
  }
  // RESOURCE_EXHAUSTED when its worst case does not fit the memory budget.
  RETURN_IF_ERROR(engine_->CheckAddAggregation(spec));
  v1::EngineStats stats;
  absl::MutexLock lock(&mu_);
  if (validate_only) return InfoLocked(spec, stats);
  RETURN_IF_ERROR(engine_->AddAggregation(spec));
  ForgetSyscallColumns();
  origins_[spec.name()] = {v1::AggregationInfo::ORIGIN_API, absl::Now()};
  absl::Status enabled = EnableRequiredEventsLocked();
  if (!enabled.ok()) {
    // Without its events the aggregation would stay empty: undo it.
    engine_->RemoveAggregation(spec.name()).IgnoreError();
    origins_.erase(spec.name());
    return enabled;
  }
  return InfoLocked(spec, stats);
}

absl::Status DaemonBackend::DeleteAggregation(absl::string_view id) {
  {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(engine_->RemoveAggregation(id));
    origins_.erase(std::string(id));
  }
  ForgetSyscallColumns();
  NotifyDeleted(id);
  return absl::OkStatus();
}

absl::StatusOr<v1::AggregationResult> DaemonBackend::GetResult(
    absl::string_view id, v1::ResultView view) {
  agg::QueryRequest request;
  request.name = std::string(id);
  request.cumulative = view == v1::RESULT_VIEW_CUMULATIVE;
  absl::StatusOr<v1::AggregationResult> result = engine_->Query(request);
  // The API answers NOT_FOUND before the first window closes (QueryResponse
  // in ringwatch.proto); the engine's UNAVAILABLE would read to clients as
  // "the daemon is unreachable".
  if (absl::IsUnavailable(result.status())) {
    return absl::NotFoundError(result.status().message());
  }
  if (result.ok()) AnnotateSyscallKeys(SyscallColumns(id), &*result);
  return result;
}

std::vector<bool> DaemonBackend::SyscallColumns(absl::string_view name) {
  absl::string_view id = name;
  absl::ConsumePrefix(&id, "aggregations/");
  {
    absl::MutexLock lock(&syscall_mu_);
    auto it = syscall_columns_.find(id);
    if (it != syscall_columns_.end()) return it->second;
  }
  // First result of this aggregation since it was (re)defined.
  for (const v1::Aggregation& spec : engine_->ListAggregations()) {
    if (spec.name() != id) continue;
    std::vector<bool> columns = SyscallKeyColumns(spec);
    absl::MutexLock lock(&syscall_mu_);
    syscall_columns_[spec.name()] = columns;
    return columns;
  }
  return {};
}

void DaemonBackend::ForgetSyscallColumns() {
  absl::MutexLock lock(&syscall_mu_);
  syscall_columns_.clear();
}

uint64_t DaemonBackend::AddWindowListener(
    std::shared_ptr<WindowListener> listener) {
  absl::MutexLock lock(&listeners_mu_);
  uint64_t handle = next_listener_++;
  listeners_[handle] = std::move(listener);
  return handle;
}

void DaemonBackend::RemoveWindowListener(uint64_t handle) {
  absl::MutexLock lock(&listeners_mu_);
  listeners_.erase(handle);
}

std::vector<std::shared_ptr<WindowListener>> DaemonBackend::Listeners() {
  // A copy, so listeners are called without holding the lock.
  absl::MutexLock lock(&listeners_mu_);
  std::vector<std::shared_ptr<WindowListener>> listeners;
  for (const auto& [handle, listener] : listeners_) {
    listeners.push_back(listener);
  }
  return listeners;
}

void DaemonBackend::PublishWindow(const v1::AggregationResult& result) {
  auto annotated = std::make_shared<v1::AggregationResult>(result);
  AnnotateSyscallKeys(SyscallColumns(result.name()), annotated.get());
  std::shared_ptr<const v1::AggregationResult> window = std::move(annotated);
  for (const auto& listener : Listeners()) listener->OnWindowClosed(window);
}

void DaemonBackend::NotifyDeleted(absl::string_view id) {
  for (const auto& listener : Listeners()) listener->OnAggregationDeleted(id);
}

absl::StatusOr<uint64_t> DaemonBackend::AddEventTap(
    std::shared_ptr<EventTap> tap) {
  absl::MutexLock lock(&mu_);
  uint64_t handle = next_tap_++;
  tap_handles_[handle] = std::move(tap);
  PublishTapsLocked();
  return handle;
}

uint64_t DaemonBackend::EventTimeHorizon() {
  return engine_->DeliveredBefore();
}

void DaemonBackend::RemoveEventTap(uint64_t handle) {
  absl::MutexLock lock(&mu_);
  tap_handles_.erase(handle);
  PublishTapsLocked();
}

void DaemonBackend::PublishTapsLocked() {
  auto taps = std::make_shared<TapList>();
  for (const auto& [handle, tap] : tap_handles_) taps->push_back(tap);
  std::atomic_store(&taps_, std::shared_ptr<const TapList>(std::move(taps)));
  tap_count_.store(static_cast<uint32_t>(tap_handles_.size()),
                   std::memory_order_relaxed);
}

}  // namespace ringwatch
