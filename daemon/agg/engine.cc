#include "daemon/agg/engine.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "daemon/agg/quiescence.h"
#include "daemon/util/status_macros.h"

namespace ringwatch {
namespace agg {

// Routes every CPU's records to its shard, for single-threaded sources that
// deliver records in timestamp order, and runs a merger pass each time time
// crosses a window boundary (so only a window or two is ever open).
class Engine::ReplaySink : public RecordSink {
 public:
  explicit ReplaySink(Engine* engine) : engine_(engine) {}

  void OnRecord(const RecordView& record) override {
    if (record.cpu >= engine_->shards_.size()) {
      engine_->bad_cpu_records_.store(
          engine_->bad_cpu_records_.load(std::memory_order_relaxed) + 1,
          std::memory_order_relaxed);
      return;
    }
    if (record.timestamp >= next_poll_) {
      engine_->Poll();
      const uint64_t period =
          engine_->min_period_ns_.load(std::memory_order_relaxed);
      next_poll_ =
          period == 0 ? ~uint64_t{0} : (record.timestamp / period + 1) * period;
    }
    engine_->shards_[record.cpu]->OnRecord(record);
  }
  void OnLoss(const LossReport& loss) override {
    if (loss.cpu < engine_->shards_.size()) {
      engine_->shards_[loss.cpu]->OnLoss(loss);
    }
  }

 private:
  Engine* engine_;
  uint64_t next_poll_ = 0;
};

namespace {

// The POSIX clock a trace clock's timestamps can be compared with.
bool PosixClockFor(absl::string_view trace_clock, clockid_t* id) {
  if (trace_clock == "mono") {
    *id = CLOCK_MONOTONIC;
  } else if (trace_clock == "mono_raw") {
    *id = CLOCK_MONOTONIC_RAW;
  } else if (trace_clock == "boot") {
    *id = CLOCK_BOOTTIME;
  } else {
    return false;
  }
  return true;
}

uint64_t ClockNs(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<uint64_t>(ts.tv_nsec);
}

// ResourceExhausted when the estimates together pass `limit`, naming each.
absl::Status CheckFits(
    const std::vector<std::pair<std::string, uint64_t>>& estimates,
    uint64_t limit, absl::string_view what) {
  uint64_t total = 0;
  std::vector<std::string> parts;
  for (const auto& [name, bytes] : estimates) {
    total += bytes;
    parts.push_back(absl::StrCat(name, " ", FormatMemory(bytes)));
  }
  if (total <= limit) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      what, " need up to ", FormatMemory(total),
      " (worst case with every table at max_keys: ", absl::StrJoin(parts, ", "),
      "), over the memory budget of ", FormatMemory(limit),
      " (limits.max_memory): lower max_keys, drop an aggregation or raise "
      "limits.max_memory"));
}

// A drained report covers records written before its read began; one the
// kernel had reserved but not yet committed then (an interrupted writer)
// carries an earlier timestamp. This much earlier is still taken for such.
constexpr uint64_t kDrainedMarginNs = 1000000;

}  // namespace

absl::StatusOr<EngineOptions> Engine::OptionsFromConfig(
    const v1::Config& config, uint32_t num_cpus, bool live) {
  EngineOptions options;
  options.num_cpus = num_cpus;
  options.live = live;
  if (!config.trace_clock().empty()) options.trace_clock = config.trace_clock();
  if (!config.idle_grace().empty()) {
    absl::StatusOr<uint64_t> ns =
        ParseDurationNs(config.idle_grace(), kMinIdleGraceNs, kMaxIdleGraceNs);
    if (!ns.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("idle_grace: ", ns.status().message()));
    }
    options.idle_grace_ns = *ns;
  }
  if (!config.limits().max_memory().empty()) {
    absl::StatusOr<uint64_t> bytes =
        ParseMemorySize(config.limits().max_memory());
    if (!bytes.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("limits.max_memory: ", bytes.status().message()));
    }
    options.max_memory_bytes = *bytes;
  }
  if (!config.flush_interval().empty()) {
    absl::StatusOr<uint64_t> ns =
        ParseDurationNs(config.flush_interval(), kMinWindowNs, kMaxWindowNs);
    if (!ns.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("flush_interval: ", ns.status().message()));
    }
    options.flush_interval_ns = *ns;
  }
  return options;
}

Engine::Engine(const EventCatalog* catalog, EngineOptions options)
    : catalog_(catalog),
      options_(std::move(options)),
      budget_(std::make_shared<MemoryBudget>(options_.max_memory_bytes)) {
  budget_->Charge(options_.reserved_outside_bytes);
  for (uint32_t cpu = 0; cpu < options_.num_cpus; ++cpu) {
    shards_.push_back(std::make_unique<Shard>(cpu, &dispatcher_));
  }
  replay_sink_ = std::make_unique<ReplaySink>(this);
  if (options_.now_ns) {
    now_ = options_.now_ns;
    monotonic_ = options_.monotonic_ns;
  } else {
    clockid_t id;
    if (PosixClockFor(options_.trace_clock, &id)) {
      now_ = [id] { return ClockNs(id); };
      monotonic_ = [] { return ClockNs(CLOCK_MONOTONIC); };
    }
  }
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(
    const v1::Config& config, const EventCatalog* catalog,
    EngineOptions options) {
  if (options.num_cpus == 0 || options.num_cpus > 4096) {
    return absl::InvalidArgumentError(absl::StrCat(
        "engine: num_cpus must be 1..4096, got ", options.num_cpus));
  }
  if (options.flush_interval_ns == 0 || options.merge_tick_ns == 0) {
    return absl::InvalidArgumentError(
        "engine: flush_interval_ns and merge_tick_ns must be positive");
  }
  InitAsymmetricFence();
  std::unique_ptr<Engine> engine(new Engine(catalog, std::move(options)));
  std::vector<std::shared_ptr<AggRuntime>> aggs;
  std::vector<std::string> errors;
  for (const v1::Aggregation& a : config.aggregation()) {
    for (const auto& existing : aggs) {
      if (existing->spec().name == a.name()) {
        errors.push_back(absl::StrCat("aggregation \"", a.name(),
                                      "\": name: duplicate name"));
      }
    }
    absl::StatusOr<std::shared_ptr<AggRuntime>> runtime = engine->NewRuntime(a);
    if (!runtime.ok()) {
      errors.push_back(std::string(runtime.status().message()));
      continue;
    }
    aggs.push_back(*std::move(runtime));
  }
  if (!errors.empty()) {
    return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  }
  std::vector<std::pair<std::string, uint64_t>> estimates;
  if (engine->options_.reserved_outside_bytes > 0) {
    estimates.emplace_back(engine->options_.reserved_outside_name,
                           engine->options_.reserved_outside_bytes);
  }
  for (const auto& a : aggs) {
    estimates.emplace_back(a->spec().name, a->reserved_bytes());
  }
  RETURN_IF_ERROR(CheckFits(estimates, engine->options_.max_memory_bytes,
                            "the config's aggregations"));
  absl::MutexLock lock(&engine->mu_);
  engine->InstallLocked(std::move(aggs));
  return engine;
}

Engine::~Engine() {
  Stop();
  // Readers must be stopped before the engine goes; nothing to wait for.
}

absl::StatusOr<std::shared_ptr<AggRuntime>> Engine::NewRuntime(
    const v1::Aggregation& aggregation) const {
  ASSIGN_OR_RETURN(std::unique_ptr<AggSpec> spec,
                   CompileAggregation(aggregation, *catalog_));
  RuntimeOptions limits = RuntimeLimits();
  limits.budget = budget_;
  limits.period_ns =
      spec->windowed ? spec->period_ns : options_.flush_interval_ns;
  return std::make_shared<AggRuntime>(
      std::shared_ptr<const AggSpec>(std::move(spec)), num_cpus(), limits);
}

void Engine::WaitForReaders(const std::vector<bool>& cpus) {
  HeavyFence();
  for (size_t cpu = 0; cpu < cpus.size(); ++cpu) {
    if (cpus[cpu]) shards_[cpu]->section().WaitQuiescent();
  }
}

void Engine::InstallLocked(std::vector<std::shared_ptr<AggRuntime>> aggs) {
  uint64_t min_period = 0;
  for (const auto& a : aggs) {
    if (min_period == 0 || a->period_ns() < min_period) {
      min_period = a->period_ns();
    }
  }
  min_period_ns_.store(min_period, std::memory_order_relaxed);
  std::unique_ptr<const Dispatcher> next =
      Dispatcher::Build(std::move(aggs), *catalog_);
  dispatcher_.store(next.get(), std::memory_order_release);
  std::unique_ptr<const Dispatcher> old = std::move(current_);
  current_ = std::move(next);
  if (old != nullptr) {
    // No reader may still be running the old programs when they go.
    WaitForReaders(std::vector<bool>(shards_.size(), true));
  }
}

RecordSink* Engine::sink(uint32_t cpu) {
  return cpu < shards_.size() ? shards_[cpu].get() : nullptr;
}

std::vector<RecordSink*> Engine::sinks() {
  std::vector<RecordSink*> out;
  for (auto& s : shards_) out.push_back(s.get());
  return out;
}

RecordSink* Engine::replay_sink() { return replay_sink_.get(); }

std::vector<std::string> Engine::RequiredEvents() const {
  std::vector<std::string> events;
  for (const auto& a : Snapshot()) {
    for (const std::string& e : a->spec().events) events.push_back(e);
  }
  std::sort(events.begin(), events.end());
  events.erase(std::unique(events.begin(), events.end()), events.end());
  return events;
}

std::vector<std::shared_ptr<AggRuntime>> Engine::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return current_->aggs();
}

absl::Status Engine::Start() {
  if (!options_.live) {
    return absl::FailedPreconditionError(
        "engine: a replay engine has no merger thread; use Poll/Finish");
  }
  std::lock_guard<std::mutex> lock(thread_mu_);
  if (merger_.joinable()) {
    return absl::FailedPreconditionError("engine: already started");
  }
  stop_ = false;
  merger_ = std::thread([this] { MergerLoop(); });
  return absl::OkStatus();
}

void Engine::Stop() {
  {
    std::lock_guard<std::mutex> lock(thread_mu_);
    if (!merger_.joinable()) return;
    stop_ = true;
  }
  thread_cv_.notify_all();
  merger_.join();
}

void Engine::MergerLoop() {
  for (;;) {
    Poll();
    // Windows shorter than the tick close a window later, not a tick later:
    // fewer partials wait for the merger (a 1 ms window: about two per CPU
    // on busy CPUs instead of ten).
    const uint64_t min_period = min_period_ns_.load(std::memory_order_relaxed);
    const std::chrono::nanoseconds tick(
        min_period > 0 ? std::min(options_.merge_tick_ns, min_period)
                       : options_.merge_tick_ns);
    std::unique_lock<std::mutex> lock(thread_mu_);
    // A timed wait for the stop flag: the tick is the merger's schedule.
    if (thread_cv_.wait_for(lock, tick, [this] { return stop_; })) return;
  }
}

uint64_t Engine::Watermark() const {
  uint64_t newest = 0;
  for (const auto& s : shards_) newest = std::max(newest, s->watermark());
  if (!options_.live) return newest;  // Replay: records come in time order.
  // A CPU that delivered nothing lately is taken to be idle once the clock
  // is past its watermark by the grace period.
  const uint64_t now = now_ ? now_() : newest;
  const uint64_t floor =
      now > options_.idle_grace_ns ? now - options_.idle_grace_ns : 0;
  // A reader that found its ring empty says so at once: its CPU is past
  // that time (in the trace clock, less the margin) without any grace.
  const bool drained_reports = now_ && monotonic_;
  const int64_t to_trace_clock =
      drained_reports ? static_cast<int64_t>(now - monotonic_()) : 0;
  uint64_t g = ~uint64_t{0};
  for (const auto& s : shards_) {
    uint64_t past = std::max(s->watermark(), floor);
    const int64_t drained = s->drained_monotonic_ns();
    if (drained_reports && drained > 0) {
      const int64_t t =
          drained + to_trace_clock - static_cast<int64_t>(kDrainedMarginNs);
      if (t > 0) past = std::max(past, static_cast<uint64_t>(t));
    }
    g = std::min(g, past);
  }
  return g;
}

void Engine::Publish(const v1::AggregationResult& result) {
  absl::MutexLock lock(&subs_mu_);
  for (auto& [id, callback] : subscribers_) callback(result);
}

void Engine::Poll() {
  absl::MutexLock poll_lock(&poll_mu_);
  const std::vector<std::shared_ptr<AggRuntime>> aggs = Snapshot();
  // Watermarks first: a CPU past a window's end has already pushed its
  // partial of that window, which Collect then finds.
  const uint64_t g = Watermark();
  std::vector<uint64_t> last(aggs.size());
  std::vector<bool> cpus(shards_.size(), false);
  bool steal = false;
  for (size_t i = 0; i < aggs.size(); ++i) {
    aggs[i]->Collect(g);
    last[i] = aggs[i]->LastClosable(g, /*final=*/false);
    if (last[i] != kNoWindow) aggs[i]->BeginSteals(last[i], false, &cpus);
  }
  for (bool c : cpus) steal |= c;
  if (steal && options_.live) WaitForReaders(cpus);
  const WindowCallback publish = [this](const v1::AggregationResult& r) {
    Publish(r);
  };
  for (size_t i = 0; i < aggs.size(); ++i) {
    aggs[i]->EndSteals();
    aggs[i]->CloseThrough(last[i], options_.live, publish);
  }
}

void Engine::Finish() {
  absl::MutexLock poll_lock(&poll_mu_);
  const std::vector<std::shared_ptr<AggRuntime>> aggs = Snapshot();
  std::vector<bool> cpus(shards_.size(), false);
  for (const auto& a : aggs) {
    a->Collect(~uint64_t{0});
    a->BeginSteals(kNoWindow, /*final=*/true, &cpus);
  }
  WaitForReaders(cpus);
  const WindowCallback publish = [this](const v1::AggregationResult& r) {
    Publish(r);
  };
  for (const auto& a : aggs) {
    a->EndSteals();
    a->CloseThrough(a->LastClosable(0, /*final=*/true), false, publish);
  }
}

absl::Status Engine::AddAggregation(const v1::Aggregation& aggregation) {
  {
    absl::MutexLock lock(&mu_);
    for (const auto& a : current_->aggs()) {
      if (a->spec().name == aggregation.name()) {
        return absl::AlreadyExistsError(absl::StrCat(
            "aggregation \"", aggregation.name(), "\" already exists"));
      }
    }
  }
  ASSIGN_OR_RETURN(std::shared_ptr<AggRuntime> runtime,
                   NewRuntime(aggregation));
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<AggRuntime>> aggs = current_->aggs();
  for (const auto& a : aggs) {
    if (a->spec().name == aggregation.name()) {
      return absl::AlreadyExistsError(absl::StrCat(
          "aggregation \"", aggregation.name(), "\" already exists"));
    }
  }
  RETURN_IF_ERROR(Admit(aggregation.name(), runtime->spec().max_keys,
                        runtime->reserved_bytes(), aggs));
  aggs.push_back(std::move(runtime));
  InstallLocked(std::move(aggs));
  return absl::OkStatus();
}

absl::Status Engine::Admit(
    const std::string& name, uint32_t max_keys, uint64_t estimate,
    const std::vector<std::shared_ptr<AggRuntime>>& running) const {
  // The worst case of everything admitted stays in the budget.
  uint64_t reserved = options_.reserved_outside_bytes;
  for (const auto& a : running) reserved += a->reserved_bytes();
  const uint64_t limit = budget_->limit();
  if (reserved + estimate <= limit) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "aggregation \"", name, "\" needs up to ", FormatMemory(estimate),
      " (worst case with every table at max_keys ", max_keys, ", on ",
      num_cpus(), " CPUs), but ", FormatMemory(reserved), " of the ",
      FormatMemory(limit), " memory budget (limits.max_memory) is reserved by ",
      running.size(), " aggregations",
      options_.reserved_outside_bytes > 0
          ? absl::StrCat(" and the ", options_.reserved_outside_name, " (",
                         FormatMemory(options_.reserved_outside_bytes), ")")
          : std::string(),
      " (", FormatMemory(budget_->used()),
      " in use): lower max_keys, delete an aggregation or raise "
      "limits.max_memory"));
}

absl::Status Engine::CheckAddAggregation(
    const v1::Aggregation& aggregation) const {
  ASSIGN_OR_RETURN(std::unique_ptr<AggSpec> spec,
                   CompileAggregation(aggregation, *catalog_));
  return Admit(spec->name, spec->max_keys,
               EstimateBytes(*spec, num_cpus(), RuntimeLimits()), Snapshot());
}

RuntimeOptions Engine::RuntimeLimits() const {
  RuntimeOptions limits = options_.limits;
  if (!options_.live) {
    // A replay source never waits for the merger: let windows queue up.
    limits.max_partials = std::max<uint32_t>(limits.max_partials, 4096);
  }
  return limits;
}

absl::Status Engine::CheckAdmission(
    const std::vector<v1::Aggregation>& aggregations,
    uint64_t max_memory_bytes) const {
  std::vector<std::pair<std::string, uint64_t>> estimates;
  if (options_.reserved_outside_bytes > 0) {
    estimates.emplace_back(options_.reserved_outside_name,
                           options_.reserved_outside_bytes);
  }
  for (const v1::Aggregation& a : aggregations) {
    ASSIGN_OR_RETURN(std::unique_ptr<AggSpec> spec,
                     CompileAggregation(a, *catalog_));
    estimates.emplace_back(spec->name,
                           EstimateBytes(*spec, num_cpus(), RuntimeLimits()));
  }
  return CheckFits(estimates, max_memory_bytes, "the aggregations");
}

absl::Status Engine::RemoveAggregation(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<AggRuntime>> aggs = current_->aggs();
  auto it = std::find_if(aggs.begin(), aggs.end(),
                         [&](const auto& a) { return a->spec().name == name; });
  if (it == aggs.end()) {
    return absl::NotFoundError(
        absl::StrCat("no aggregation named \"", name, "\""));
  }
  aggs.erase(it);
  InstallLocked(std::move(aggs));
  return absl::OkStatus();
}

std::vector<v1::Aggregation> Engine::ListAggregations() const {
  std::vector<v1::Aggregation> out;
  for (const auto& a : Snapshot()) out.push_back(a->spec().config);
  return out;
}

absl::StatusOr<v1::AggregationResult> Engine::Query(
    const QueryRequest& request) const {
  for (const auto& a : Snapshot()) {
    if (a->spec().name == request.name) {
      return a->Query(request.cumulative, request.top_n, request.key_filter);
    }
  }
  return absl::NotFoundError(
      absl::StrCat("no aggregation named \"", request.name, "\""));
}

uint64_t Engine::Subscribe(WindowCallback callback) {
  absl::MutexLock lock(&subs_mu_);
  const uint64_t id = next_subscriber_++;
  subscribers_.emplace(id, std::move(callback));
  return id;
}

void Engine::Unsubscribe(uint64_t id) {
  absl::MutexLock lock(&subs_mu_);
  subscribers_.erase(id);
}

v1::EngineStats Engine::Stats() const {
  v1::EngineStats stats;
  for (const auto& s : shards_) {
    const ShardCounters c = s->counters();
    v1::EngineStats::Cpu* cpu = stats.add_cpu();
    cpu->set_cpu(s->cpu());
    cpu->set_records(c.records);
    cpu->set_unknown_events(c.no_program);
    cpu->set_lost_events(c.lost_events);
    cpu->set_lost_unknown(c.lost_unknown);
    cpu->set_watermark_ns(c.watermark);
  }
  stats.set_bad_cpu_records(bad_cpu_records_.load(std::memory_order_relaxed));
  uint64_t windows = 0, steals = 0;
  for (const auto& a : Snapshot()) {
    windows += a->windows_closed();
    steals += a->steals();
    v1::EngineStats::Aggregation* out = stats.add_aggregation();
    out->set_name(a->spec().name);
    AggCounters c = a->CumulativeCounters();
    c.dropped += a->DroppedNoPartial();
    c.ToProto(out->mutable_counters());
    out->set_pending_starts(a->PendingStarts());
    out->set_memory_bytes(a->memory_bytes());
    out->set_memory_reserved_bytes(a->reserved_bytes());
    out->set_memory_denied(a->memory_denied());
    stats.set_memory_reserved_bytes(stats.memory_reserved_bytes() +
                                    a->reserved_bytes());
  }
  // The flight recorder's reserve is in the budget too, held and reserved.
  stats.set_memory_reserved_bytes(stats.memory_reserved_bytes() +
                                  options_.reserved_outside_bytes);
  stats.set_memory_bytes(budget_->used());
  stats.set_memory_limit_bytes(budget_->limit());
  stats.set_windows_closed(windows);
  stats.set_steals(steals);
  return stats;
}

}  // namespace agg
}  // namespace ringwatch
