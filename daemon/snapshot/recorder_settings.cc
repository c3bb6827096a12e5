#include "daemon/snapshot/recorder_settings.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "daemon/agg/agg_spec.h"
#include "daemon/agg/memory_budget.h"

namespace ringwatch {
namespace {

constexpr uint64_t kSecondNs = 1'000'000'000;
constexpr const char* kTriggerValues[] = {"count", "sum", "min", "max",
                                          "mean",  "p50", "p90", "p99"};

}  // namespace

bool ValidTriggerValue(const std::string& value) {
  return std::find(std::begin(kTriggerValues), std::end(kTriggerValues),
                   value) != std::end(kTriggerValues);
}

uint64_t RecorderSettings::BytesPerCpu(uint32_t num_cpus,
                                       uint32_t page_size) const {
  if (num_cpus == 0 || page_size == 0) return 0;
  const uint64_t pages = max_bytes / num_cpus / page_size;
  return std::max<uint64_t>(pages, 1) * page_size;
}

uint64_t RecorderSettings::ReservedBytes(uint32_t num_cpus,
                                         uint32_t page_size) const {
  if (!enabled) return 0;
  return (BytesPerCpu(num_cpus, page_size) + page_size) * num_cpus;
}

absl::StatusOr<RecorderSettings> RecorderSettingsFromConfig(
    const v1::FlightRecorderConfig& config) {
  RecorderSettings out;
  std::vector<std::string> errors;
  auto add = [&](const std::string& field, absl::string_view why) {
    errors.push_back(absl::StrCat("flight_recorder.", field, ": ", why));
  };
  if (config.max_size() == "0") {
    out.enabled = false;
  } else if (!config.max_size().empty()) {
    absl::StatusOr<uint64_t> bytes = agg::ParseMemorySize(config.max_size());
    if (bytes.ok()) {
      out.max_bytes = *bytes;
    } else {
      add("max_size", absl::StrCat(bytes.status().message(),
                                   " (\"0\" turns the recorder off)"));
    }
  }
  if (!config.max_age().empty()) {
    absl::StatusOr<uint64_t> ns =
        agg::ParseDurationNs(config.max_age(), kSecondNs, 3600 * kSecondNs);
    if (ns.ok()) {
      out.max_age_ns = *ns;
    } else {
      add("max_age", ns.status().message());
    }
  }
  if (!config.snapshot_dir().empty()) {
    if (config.snapshot_dir()[0] != '/') {
      add("snapshot_dir", absl::StrCat("\"", config.snapshot_dir(),
                                       "\" must be an absolute path"));
    }
    out.snapshot_dir = config.snapshot_dir();
  }
  if (config.max_snapshot_files() > kMaxSnapshotFiles) {
    add("max_snapshot_files", absl::StrCat(config.max_snapshot_files(),
                                           " is above ", kMaxSnapshotFiles));
  } else if (config.max_snapshot_files() > 0) {
    out.max_snapshot_files = config.max_snapshot_files();
  }
  if (config.trigger_size() > kMaxSnapshotTriggers) {
    add("trigger", absl::StrCat(config.trigger_size(), " triggers; at most ",
                                kMaxSnapshotTriggers));
  }
  for (int i = 0; i < config.trigger_size(); ++i) {
    const v1::SnapshotTrigger& t = config.trigger(i);
    const std::string at = absl::StrCat("trigger[", i, "]");
    TriggerSettings s;
    s.name = t.name();
    s.aggregation = t.aggregation();
    s.value = t.value();
    s.above = t.above();
    // Trigger names follow aggregation names' rules: they name files.
    if (!agg::ValidAggregationName(t.name())) {
      add(at + ".name",
          absl::StrCat("\"", t.name(), "\": use 1-64 of [A-Za-z0-9_.-]"));
    }
    for (const TriggerSettings& earlier : out.triggers) {
      if (earlier.name == t.name()) add(at + ".name", "duplicate name");
    }
    if (t.aggregation().empty()) add(at + ".aggregation", "is empty");
    if (!ValidTriggerValue(t.value())) {
      add(at + ".value", absl::StrCat("\"", t.value(), "\" is not one of ",
                                      absl::StrJoin(kTriggerValues, ", ")));
    }
    if (!std::isfinite(t.above())) add(at + ".above", "must be finite");
    if (!t.min_interval().empty()) {
      absl::StatusOr<uint64_t> ns = agg::ParseDurationNs(
          t.min_interval(), kSecondNs, 24 * 3600 * kSecondNs);
      if (ns.ok()) {
        s.min_interval_ns = *ns;
      } else {
        add(at + ".min_interval", ns.status().message());
      }
    }
    if (t.span() == "0") {
      s.span_ns = 0;
    } else if (!t.span().empty()) {
      absl::StatusOr<uint64_t> ns =
          agg::ParseDurationNs(t.span(), 1, kMaxSnapshotSpanNs);
      if (ns.ok()) {
        s.span_ns = *ns;
      } else {
        add(at + ".span", ns.status().message());
      }
    }
    out.triggers.push_back(std::move(s));
  }
  if (!errors.empty()) {
    return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  }
  return out;
}

}  // namespace ringwatch
