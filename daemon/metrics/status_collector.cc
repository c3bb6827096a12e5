#include "daemon/metrics/status_collector.h"

#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "daemon/metrics/family_builder.h"

namespace ringwatch {
namespace metrics {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

double D(uint64_t v) { return static_cast<double>(v); }

std::string AggregationId(const std::string& name) {
  absl::string_view id = name;
  absl::ConsumePrefix(&id, "aggregations/");
  return std::string(id);
}

// One family with one sample per CPU.
template <typename Get>
void PerCpu(const v1::DaemonStatus& status, std::string name, std::string help,
            MetricType type, Get get, std::vector<MetricFamily>* out) {
  MetricFamily family = Family(std::move(name), std::move(help), type);
  for (const v1::CpuReaderStatus& cpu : status.cpus()) {
    AddSample(&family, {{"cpu", absl::StrCat(cpu.cpu())}}, get(cpu));
  }
  Emit(std::move(family), out);
}

template <typename Get>
void PerEngineCpu(const v1::DaemonStatus& status, std::string name,
                  std::string help, Get get, std::vector<MetricFamily>* out) {
  MetricFamily family =
      Family(std::move(name), std::move(help), MetricType::Counter);
  for (const v1::EngineStats::Cpu& cpu : status.engine().cpu()) {
    AddSample(&family, {{"cpu", absl::StrCat(cpu.cpu())}}, get(cpu));
  }
  Emit(std::move(family), out);
}

template <typename Get>
void PerAggregation(const v1::DaemonStatus& status, std::string name,
                    std::string help, MetricType type, Get get,
                    std::vector<MetricFamily>* out) {
  MetricFamily family = Family(std::move(name), std::move(help), type);
  for (const v1::AggregationStats& a : status.aggregations()) {
    AddSample(&family, {{"aggregation", AggregationId(a.name())}}, get(a));
  }
  Emit(std::move(family), out);
}

void Single(std::string name, std::string help, MetricType type, double value,
            std::vector<MetricFamily>* out) {
  MetricFamily family = Family(std::move(name), std::move(help), type);
  AddSample(&family, {}, value);
  Emit(std::move(family), out);
}

}  // namespace

std::vector<MetricFamily> StatusFamilies(const v1::DaemonStatus& s) {
  std::vector<MetricFamily> out;
  const auto C = MetricType::Counter;
  const auto G = MetricType::Gauge;

  MetricFamily build = Family(
      "ringwatch_build_info",
      "ringwatchd's version, the running kernel and the tracefs instance; "
      "always 1.",
      G);
  AddSample(&build,
            {{"version", s.version()},
             {"kernel_release", s.kernel_release()},
             {"instance", s.instance()}},
            1);
  Emit(std::move(build), &out);

  // Readers.
  MetricFamily mode = Family(
      "ringwatch_reader_mode",
      "How each CPU's ring is read: 1 for the mode in use (mmap or read).", G);
  for (const v1::CpuReaderStatus& cpu : s.cpus()) {
    const char* name = cpu.mode() == v1::READ_MODE_MMAP ? "mmap" : "read";
    AddSample(&mode, {{"cpu", absl::StrCat(cpu.cpu())}, {"mode", name}}, 1);
  }
  Emit(std::move(mode), &out);
  PerCpu(
      s, "ringwatch_reader_events_total",
      "Trace events decoded from each CPU's ring buffer.", C,
      [](const v1::CpuReaderStatus& c) { return D(c.events()); }, &out);
  PerCpu(
      s, "ringwatch_reader_read_bytes_total",
      "Bytes of ring buffer records read from each CPU.", C,
      [](const v1::CpuReaderStatus& c) { return D(c.bytes()); }, &out);
  PerCpu(
      s, "ringwatch_reader_reads_total",
      "Reads of each CPU's ring: GET_READER ioctls (mmap) or read() calls "
      "(read mode); one per reader wake-up with data or tick.",
      C, [](const v1::CpuReaderStatus& c) { return D(c.reads()); }, &out);
  PerCpu(
      s, "ringwatch_reader_subbuffers_total",
      "Ring sub-buffers consumed from each CPU.", C,
      [](const v1::CpuReaderStatus& c) { return D(c.subbufs()); }, &out);
  PerCpu(
      s, "ringwatch_reader_lost_events_total",
      "Events lost on each CPU because the kernel's writer overran the "
      "reader: the larger of the kernel's overrun counter and the counts "
      "stored on sub-buffers.",
      C, [](const v1::CpuReaderStatus& c) { return D(c.lost_events()); }, &out);
  PerCpu(
      s, "ringwatch_reader_kernel_overruns_total",
      "The kernel's own overrun counter of each CPU's ring (events "
      "overwritten before they were read).",
      C, [](const v1::CpuReaderStatus& c) { return D(c.overruns()); }, &out);
  PerCpu(
      s, "ringwatch_reader_lost_on_pages_total",
      "Lost events counted on sub-buffers that carried a stored count.", C,
      [](const v1::CpuReaderStatus& c) { return D(c.lost_on_pages()); }, &out);
  PerCpu(
      s, "ringwatch_reader_loss_without_count_total",
      "Sub-buffers flagged as having missed events without a stored count.", C,
      [](const v1::CpuReaderStatus& c) { return D(c.loss_without_count()); },
      &out);
  PerCpu(
      s, "ringwatch_reader_decode_errors_total",
      "Corrupt or truncated sub-buffers skipped on each CPU.", C,
      [](const v1::CpuReaderStatus& c) { return D(c.decode_errors()); }, &out);

  // Engine.
  PerEngineCpu(
      s, "ringwatch_engine_records_total",
      "Records delivered to the aggregation engine from each CPU.",
      [](const v1::EngineStats::Cpu& c) { return D(c.records()); }, &out);
  PerEngineCpu(
      s, "ringwatch_engine_unknown_events_total",
      "Records whose event id neither an aggregation nor the catalog knows.",
      [](const v1::EngineStats::Cpu& c) { return D(c.unknown_events()); },
      &out);
  Single("ringwatch_engine_windows_closed_total",
         "Aggregation windows closed by the engine.", C,
         D(s.engine().windows_closed()), &out);
  Single("ringwatch_engine_steals_total",
         "Open partial aggregates taken from CPUs that went quiet.", C,
         D(s.engine().steals()), &out);
  Single("ringwatch_engine_bad_cpu_records_total",
         "Records with a CPU number out of range (dropped).", C,
         D(s.engine().bad_cpu_records()), &out);

  // Aggregations.
  using A = v1::AggregationStats;
  PerAggregation(
      s, "ringwatch_aggregation_events_matched_total",
      "Events that passed the aggregation's filter and were aggregated.", C,
      [](const A& a) { return D(a.counters().events_matched()); }, &out);
  PerAggregation(
      s, "ringwatch_aggregation_events_filtered_total",
      "Events that failed the aggregation's filter.", C,
      [](const A& a) { return D(a.counters().events_filtered()); }, &out);
  PerAggregation(
      s, "ringwatch_aggregation_events_dropped_total",
      "Events that could not be aggregated (a field outside its record, no "
      "free window slot, a full pairing queue).",
      C, [](const A& a) { return D(a.counters().events_dropped()); }, &out);
  PerAggregation(
      s, "ringwatch_aggregation_events_late_total",
      "Events that arrived after their window had closed (counted in a later "
      "window).",
      C, [](const A& a) { return D(a.counters().late_events()); }, &out);
  PerAggregation(
      s, "ringwatch_aggregation_overflow_events_total",
      "Events folded into the overflow row because max_keys was reached.", C,
      [](const A& a) { return D(a.counters().overflow_events()); }, &out);
  PerAggregation(
      s, "ringwatch_aggregation_unmatched_ends_total",
      "Latency aggregations: end events without a pending start.", C,
      [](const A& a) { return D(a.counters().unmatched_ends()); }, &out);
  PerAggregation(
      s, "ringwatch_aggregation_evicted_starts_total",
      "Latency aggregations: starts pushed out of a full pending table.", C,
      [](const A& a) { return D(a.counters().evicted_starts()); }, &out);
  PerAggregation(
      s, "ringwatch_aggregation_windows_total",
      "Windows the aggregation has closed and published.", C,
      [](const A& a) { return D(a.windows()); }, &out);
  PerAggregation(
      s, "ringwatch_aggregation_distinct_keys",
      "Distinct keys in the aggregation's cumulative view.", G,
      [](const A& a) { return D(a.distinct_keys()); }, &out);
  PerAggregation(
      s, "ringwatch_aggregation_pending_starts",
      "Latency aggregations: starts waiting for their end.", G,
      [](const A& a) { return D(a.pending_starts()); }, &out);
  PerAggregation(
      s, "ringwatch_aggregation_subscribers",
      "Subscribe streams receiving the aggregation's windows.", G,
      [](const A& a) { return D(a.subscribers()); }, &out);
  PerAggregation(
      s, "ringwatch_aggregation_memory_bytes",
      "Heap bytes the aggregation's tables, partials and rings hold now.", G,
      [](const A& a) { return D(a.memory_bytes()); }, &out);
  PerAggregation(
      s, "ringwatch_aggregation_memory_reserved_bytes",
      "The aggregation's worst case (every table at max_keys), reserved in "
      "the memory budget when it was admitted.",
      G, [](const A& a) { return D(a.memory_reserved_bytes()); }, &out);

  // Memory budget (limits.max_memory) and what the aggregations use of it.
  Single("ringwatch_memory_bytes",
         "Heap bytes every aggregation's state holds now.", G,
         D(s.engine().memory_bytes()), &out);
  Single("ringwatch_memory_reserved_bytes",
         "Worst case of every aggregation, reserved at admission.", G,
         D(s.engine().memory_reserved_bytes()), &out);
  Single("ringwatch_memory_limit_bytes",
         "The memory budget (limits.max_memory) admission checks against.", G,
         D(s.engine().memory_limit_bytes()), &out);

  // The flight recorder, when it is on.
  if (s.has_flight_recorder()) {
    const v1::FlightRecorderStatus& r = s.flight_recorder();
    Single("ringwatch_flight_recorder_reserved_bytes",
           "Memory set aside for the flight recorder (charged to "
           "limits.max_memory).",
           G, D(r.reserved_bytes()), &out);
    Single("ringwatch_flight_recorder_bytes",
           "Raw sub-buffers the flight recorder holds now.", G,
           D(r.bytes_held()), &out);
    Single("ringwatch_flight_recorder_pages_evicted_total",
           "Sub-buffers the flight recorder dropped for room or age.", C,
           D(r.pages_evicted_for_bytes() + r.pages_evicted_for_age()), &out);
    Single("ringwatch_snapshots_total",
           "Flight-recorder snapshots written (Snapshot RPC and triggers).", C,
           D(r.snapshots()), &out);
    Single("ringwatch_snapshots_failed_total",
           "Snapshots refused (one at a time) or failed.", C,
           D(r.snapshots_failed()), &out);
    Single("ringwatch_snapshot_triggers_fired_total",
           "Snapshot triggers that fired.", C, D(r.triggers_fired()), &out);
    Single("ringwatch_snapshot_triggers_rate_limited_total",
           "Threshold crossings a trigger's min_interval held back.", C,
           D(r.triggers_rate_limited()), &out);
  }

  // Server.
  Single("ringwatch_subscribers", "Open Subscribe streams.", G,
         s.server().subscribers(), &out);
  Single("ringwatch_event_streams", "Open StreamEvents streams.", G,
         s.server().event_streams(), &out);
  Single("ringwatch_stream_dropped_messages_total",
         "Messages dropped by every stream (windows lost by slow subscribers, "
         "events over a tail's rate or queue).",
         C, D(s.server().dropped_messages()), &out);
  return out;
}

std::vector<MetricFamily> StatusCollector::Collect() const {
  absl::StatusOr<v1::DaemonStatus> status = source_();
  if (!status.ok()) return {};
  return StatusFamilies(*status);
}

}  // namespace metrics
}  // namespace ringwatch
