#include "daemon/snapshot/snapshot_trigger.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace ringwatch {
namespace {

// The value of `row` for `value`, or none when the row lacks it.
absl::optional<double> RowValue(const v1::AggregationResult& window,
                                const v1::Row& row, const std::string& value) {
  if (value == "count") return static_cast<double>(row.count());
  const bool quantile = value == "p50" || value == "p90" || value == "p99";
  for (int i = 0; i < row.value_size() && i < window.value_names_size(); ++i) {
    const v1::ValueResult& v = row.value(i);
    const std::string& name = window.value_names(i);
    if (v.has_histogram()) {
      const v1::HistogramResult& h = v.histogram();
      if (value == "p50") return static_cast<double>(h.p50());
      if (value == "p90") return static_cast<double>(h.p90());
      if (value == "p99") return static_cast<double>(h.p99());
      continue;
    }
    if (quantile) continue;
    if (absl::StartsWith(name, value + "(")) {
      return v.kind_case() == v1::ValueResult::kDoubleValue
                 ? v.double_value()
                 : static_cast<double>(v.int_value());
    }
  }
  if (value == "max") {  // A histogram knows its exact maximum.
    for (const v1::ValueResult& v : row.value()) {
      if (v.has_histogram()) return static_cast<double>(v.histogram().max());
    }
  }
  return absl::nullopt;
}

}  // namespace

absl::StatusOr<absl::optional<double>> WindowValue(
    const v1::AggregationResult& window, const std::string& value) {
  absl::optional<double> largest;
  bool has_column = value == "count";
  for (const v1::Row& row : window.row()) {
    absl::optional<double> v = RowValue(window, row, value);
    if (!v.has_value()) continue;
    has_column = true;
    largest = largest.has_value() ? std::max(*largest, *v) : *v;
  }
  if (!has_column && !window.row().empty()) {
    return absl::NotFoundError(
        absl::StrCat("aggregation \"", window.name(), "\" has no ", value,
                     " value (its values: count, ",
                     absl::StrJoin(window.value_names(), ", "), ")"));
  }
  return largest;
}

TriggerState::Decision TriggerState::OnWindow(absl::optional<double> value,
                                              uint64_t now_ns) {
  const bool above = value.has_value() && *value > settings_.above;
  const bool crossing = above && !above_;
  above_ = above;
  if (!crossing) return Decision::kNothing;
  if (fired_ && now_ns - last_fire_ns_ < settings_.min_interval_ns) {
    return Decision::kRateLimited;
  }
  fired_ = true;
  last_fire_ns_ = now_ns;
  return Decision::kFire;
}

SnapshotTriggers::SnapshotTriggers(std::vector<TriggerSettings> triggers,
                                   WriteFn write, AnnounceFn announce,
                                   CountFn count, LogFn log,
                                   std::function<uint64_t()> now_ns)
    : write_(std::move(write)),
      announce_(std::move(announce)),
      count_(std::move(count)),
      log_(std::move(log)),
      now_ns_(std::move(now_ns)) {
  for (TriggerSettings& t : triggers) triggers_.emplace_back(std::move(t));
  worker_ = std::thread([this] { Run(); });
}

SnapshotTriggers::~SnapshotTriggers() {
  {
    absl::MutexLock lock(&jobs_mu_);
    stopping_ = true;
  }
  worker_.join();
}

void SnapshotTriggers::OnWindowClosed(
    std::shared_ptr<const v1::AggregationResult> window) {
  if (window->cumulative()) return;
  absl::string_view id = window->name();
  absl::ConsumePrefix(&id, "aggregations/");
  std::vector<Job> fire;
  std::vector<std::string> lines;  // Logged after the lock.
  {
    absl::MutexLock lock(&states_mu_);
    for (Trigger& trigger : triggers_) {
      const TriggerSettings& settings = trigger.state.settings();
      if (settings.aggregation != id) continue;
      absl::StatusOr<absl::optional<double>> value =
          WindowValue(*window, settings.value);
      if (!value.ok()) {
        if (!trigger.said_cannot_fire) {
          trigger.said_cannot_fire = true;
          lines.push_back(
              absl::StrCat("snapshot trigger \"", settings.name,
                           "\" cannot fire: ", value.status().message()));
        }
        continue;
      }
      switch (trigger.state.OnWindow(*value, now_ns_())) {
        case TriggerState::Decision::kNothing:
          break;
        case TriggerState::Decision::kRateLimited:
          count_(/*rate_limited=*/true);
          break;
        case TriggerState::Decision::kFire:
          count_(/*rate_limited=*/false);
          fire.push_back({settings.name, std::string(id), settings.span_ns});
          break;
      }
    }
  }
  for (const std::string& line : lines) log_(line);
  if (fire.empty()) return;
  absl::MutexLock lock(&jobs_mu_);
  for (Job& job : fire) {
    // Bounded: each trigger fires at most once per its min_interval (1 s
    // at least), so this holds a few jobs at most; refuse beyond that.
    if (jobs_.size() >= static_cast<size_t>(kMaxSnapshotTriggers)) {
      log_(absl::StrCat("snapshot trigger \"", job.trigger,
                        "\": too many snapshots queued; skipped"));
      continue;
    }
    jobs_.push_back(std::move(job));
  }
}

uint64_t SnapshotTriggers::written() const {
  absl::MutexLock lock(&jobs_mu_);
  return written_;
}

void SnapshotTriggers::Run() {
  while (true) {
    Job job;
    {
      absl::MutexLock lock(&jobs_mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(jobs_mu_) {
        return stopping_ || !jobs_.empty();
      };
      jobs_mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    absl::StatusOr<v1::SnapshotInfo> info = write_(job.span_ns, job.trigger);
    if (!info.ok()) {
      log_(absl::StrCat(
          "snapshot trigger \"", job.trigger,
          "\" fired, but the snapshot failed: ", info.status().message()));
      continue;
    }
    log_(absl::StrCat("snapshot trigger \"", job.trigger, "\" fired: wrote ",
                      info->path(), " (", info->pages(), " sub-buffers, ",
                      info->file_bytes(), " bytes)"));
    announce_(job.aggregation, *info);
    absl::MutexLock lock(&jobs_mu_);
    ++written_;
  }
}

}  // namespace ringwatch
