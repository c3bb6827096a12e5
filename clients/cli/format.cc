#include "clients/cli/format.h"

#include <algorithm>
#include <cinttypes>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace ringwatch {
namespace cli {

Table::Table(std::vector<std::string> headers) {
  for (std::string& h : headers) {
    const bool right = !h.empty() && h[0] == '>';
    right_.push_back(right);
    headers_.push_back(right ? h.substr(1) : std::move(h));
  }
}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::Render() const {
  std::vector<size_t> width(headers_.size());
  for (size_t c = 0; c < headers_.size(); ++c) width[c] = headers_[c].size();
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t c = 0; c < cells.size(); ++c) {
      if (c > 0) l += "  ";
      const size_t pad = width[c] - cells[c].size();
      if (right_[c]) l.append(pad, ' ');
      l += cells[c];
      if (!right_[c]) l.append(pad, ' ');
    }
    out += std::string(absl::StripTrailingAsciiWhitespace(l));
    out += '\n';
  };
  line(headers_);
  for (const auto& row : rows_) line(row);
  return out;
}

std::string HumanBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  if (u == 0) return absl::StrCat(bytes, " B");
  return absl::StrFormat("%.1f %s", v, kUnits[u]);
}

std::string HumanCount(double n) {
  if (n < 10000) {
    if (n == static_cast<double>(static_cast<int64_t>(n))) {
      return absl::StrCat(static_cast<int64_t>(n));
    }
    return absl::StrFormat("%.1f", n);
  }
  if (n < 1e6) return absl::StrFormat("%.1fk", n / 1e3);
  if (n < 1e9) return absl::StrFormat("%.1fM", n / 1e6);
  return absl::StrFormat("%.1fG", n / 1e9);
}

std::string HumanDuration(int64_t seconds) {
  if (seconds < 60) return absl::StrCat(seconds, "s");
  if (seconds < 3600) {
    return absl::StrFormat("%dm%02ds", seconds / 60, seconds % 60);
  }
  if (seconds < 86400) {
    return absl::StrFormat("%dh%02dm%02ds", seconds / 3600, (seconds / 60) % 60,
                           seconds % 60);
  }
  return absl::StrFormat("%dd%02dh%02dm", seconds / 86400,
                         (seconds / 3600) % 24, (seconds / 60) % 60);
}

std::string HumanNanos(int64_t ns) {
  const double v = static_cast<double>(ns);
  if (ns < 0) return absl::StrCat(ns, "ns");
  if (ns < 1000) return absl::StrCat(ns, "ns");
  if (ns < 1000000) return absl::StrFormat("%.1fus", v / 1e3);
  if (ns < 1000000000) return absl::StrFormat("%.1fms", v / 1e6);
  return absl::StrFormat("%.2fs", v / 1e9);
}

namespace {

// Values of latency and on-CPU figures are nanoseconds.
bool IsTimeValue(absl::string_view name) {
  return name.find("latency") != absl::string_view::npos ||
         name.find("on_cpu") != absl::string_view::npos;
}

std::string FormatNumber(absl::string_view name, int64_t v) {
  return IsTimeValue(name) ? HumanNanos(v) : absl::StrCat(v);
}

std::string Printable(absl::string_view s) {
  std::string out;
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      absl::StrAppendFormat(&out, "\\x%02x", u);
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string FormatValue(const v1::ValueResult& value) {
  switch (value.kind_case()) {
    case v1::ValueResult::kIntValue:
      return FormatNumber(value.name(), value.int_value());
    case v1::ValueResult::kDoubleValue:
      if (IsTimeValue(value.name())) {
        return HumanNanos(static_cast<int64_t>(value.double_value()));
      }
      return absl::StrFormat("%.2f", value.double_value());
    case v1::ValueResult::kHistogram: {
      const v1::HistogramResult& h = value.histogram();
      return absl::StrCat("p50=", FormatNumber(value.name(), h.p50()),
                          " p90=", FormatNumber(value.name(), h.p90()),
                          " p99=", FormatNumber(value.name(), h.p99()),
                          " max=", FormatNumber(value.name(), h.max()));
    }
    default:
      return "-";
  }
}

std::string FormatKey(const v1::Row& row) {
  if (row.kind() == v1::Row::OTHER) return "(other)";
  if (row.kind() == v1::Row::OVERFLOW) return "(overflow)";
  std::vector<std::string> parts;
  for (const v1::KeyValue& k : row.key()) {
    if (k.kind_case() != v1::KeyValue::kIntValue) {
      parts.push_back(Printable(k.string_value()));
    } else if (!k.display().empty()) {
      // A syscall number: its name, with the number kept.
      parts.push_back(
          absl::StrCat(Printable(k.display()), "(", k.int_value(), ")"));
    } else {
      parts.push_back(absl::StrCat(k.int_value()));
    }
  }
  return absl::StrJoin(parts, ",");
}

std::string FormatStatus(const v1::DaemonStatus& s) {
  std::string out = absl::StrCat(
      "ringwatchd ", s.version().empty() ? "?" : s.version(), " on Linux ",
      s.kernel_release(), " (tracefs ", s.tracefs_path(), ", instance ",
      s.instance(), "), up ", HumanDuration(s.uptime().seconds()), "\n");
  const v1::ProcessUsage& p = s.process();
  absl::StrAppendFormat(
      &out,
      "process: %.1f%% CPU (user %.1fs, system %.1fs), RSS %s, %d threads\n",
      p.cpu_percent(), p.user_cpu_seconds(), p.system_cpu_seconds(),
      HumanBytes(p.rss_bytes()), p.threads());

  Table cpus({"CPU", "MODE", ">EVENTS", ">EVENTS/S", ">BYTES", ">LOST",
              ">OVERRUNS", ">ERRORS"});
  for (const v1::CpuReaderStatus& c : s.cpus()) {
    cpus.AddRow({absl::StrCat(c.cpu()),
                 c.mode() == v1::READ_MODE_MMAP   ? "mmap"
                 : c.mode() == v1::READ_MODE_READ ? "read"
                                                  : "-",
                 HumanCount(c.events()), HumanCount(c.events_per_second()),
                 HumanBytes(c.bytes()), HumanCount(c.lost_events()),
                 HumanCount(c.overruns()), HumanCount(c.decode_errors())});
  }
  const v1::ReaderTotals& t = s.totals();
  cpus.AddRow({"all", "", HumanCount(t.events()),
               HumanCount(t.events_per_second()), HumanBytes(t.bytes()),
               HumanCount(t.lost_events()), HumanCount(t.overruns()),
               HumanCount(t.decode_errors())});
  out += "\n" + cpus.Render();

  if (s.aggregations_size() > 0) {
    Table aggs({"AGGREGATION", ">MATCHED", ">DROPPED", ">LATE", ">WINDOWS",
                ">KEYS", ">SUBSCRIBERS", ">MEMORY", ">RESERVED"});
    for (const v1::AggregationStats& a : s.aggregations()) {
      absl::string_view name = a.name();
      absl::ConsumePrefix(&name, "aggregations/");
      aggs.AddRow({std::string(name), HumanCount(a.counters().events_matched()),
                   HumanCount(a.counters().events_dropped()),
                   HumanCount(a.counters().late_events()),
                   HumanCount(a.windows()), HumanCount(a.distinct_keys()),
                   absl::StrCat(a.subscribers()), HumanBytes(a.memory_bytes()),
                   HumanBytes(a.memory_reserved_bytes())});
    }
    out += "\n" + aggs.Render();
  }
  const v1::EngineStats& e = s.engine();
  absl::StrAppend(&out, "\nmemory: ", HumanBytes(e.memory_bytes()), " in use, ",
                  HumanBytes(e.memory_reserved_bytes()),
                  " reserved (worst case at max_keys) of a ",
                  HumanBytes(e.memory_limit_bytes()),
                  " budget (limits.max_memory)\n");
  if (s.has_flight_recorder()) {
    const v1::FlightRecorderStatus& r = s.flight_recorder();
    const double span =
        r.newest_timestamp_ns() > r.oldest_timestamp_ns() &&
                r.oldest_timestamp_ns() > 0
            ? (r.newest_timestamp_ns() - r.oldest_timestamp_ns()) / 1e9
            : 0.0;
    absl::StrAppend(
        &out, "flight recorder: ", HumanBytes(r.bytes_held()), " of ",
        HumanBytes(r.reserved_bytes()), " held (", HumanCount(r.pages_held()),
        " sub-buffers, ", absl::StrFormat("%.1f", span), " s); ", r.snapshots(),
        " snapshots, ", r.snapshots_failed(), " failed; ", r.triggers_fired(),
        " triggers fired, ", r.triggers_rate_limited(), " rate limited",
        r.last_trigger_file().empty()
            ? std::string()
            : absl::StrCat(" (last: ", r.last_trigger_file(), ")"),
        "\n");
  }
  const v1::ServerStatus& v = s.server();
  absl::StrAppend(&out, "\nstreams: ", v.subscribers(), " subscribers, ",
                  v.event_streams(), " event streams (cap ",
                  v.max_subscribers(), "); ", v.dropped_messages(),
                  " messages dropped\n");
  if (v.streams_size() > 0) {
    Table streams({"KIND", "PEER", "TARGETS", ">SENT", ">DROPPED", ">QUEUED"});
    for (const v1::StreamStatus& st : v.streams()) {
      streams.AddRow({st.kind() == v1::StreamStatus::KIND_SUBSCRIBE
                          ? "subscribe"
                          : "events",
                      st.peer(), absl::StrJoin(st.targets(), ","),
                      HumanCount(st.sent()), HumanCount(st.dropped()),
                      absl::StrCat(st.queued(), "/", st.queue_capacity())});
    }
    out += streams.Render();
  }
  absl::StrAppend(
      &out, "listening: ", absl::StrJoin(v.listen_addresses(), ", "), "\n");
  return out;
}

std::string FormatEvents(const v1::ListEventsResponse& events,
                         bool with_fields) {
  if (!with_fields) {
    Table t({"EVENT", ">ID"});
    for (const v1::EventDescriptor& e : events.events()) {
      t.AddRow(
          {absl::StrCat(e.system(), "/", e.event()), absl::StrCat(e.id())});
    }
    return t.Render();
  }
  std::string out;
  for (const v1::EventDescriptor& e : events.events()) {
    absl::StrAppend(&out, e.system(), "/", e.event(), " (id ", e.id(), ")\n");
    Table t({"  FIELD", "TYPE", ">OFFSET", ">SIZE"});
    for (const v1::FieldDescriptor& f : e.fields()) {
      if (f.is_common()) continue;
      t.AddRow({"  " + f.name(), f.type(), absl::StrCat(f.offset()),
                absl::StrCat(f.size())});
    }
    out += t.Render();
  }
  return out;
}

std::string FormatAggregations(const v1::ListAggregationsResponse& list) {
  Table t({"NAME", "ORIGIN", "SOURCE", "KEY", "WINDOW", ">MATCHED", ">WINDOWS",
           ">SUBSCRIBERS", ">MEMORY", ">RESERVED"});
  for (const v1::AggregationInfo& a : list.aggregations()) {
    absl::string_view name = a.name();
    absl::ConsumePrefix(&name, "aggregations/");
    const v1::Aggregation& spec = a.spec();
    std::string source;
    switch (spec.source_case()) {
      case v1::Aggregation::kEvent:
        source = spec.event();
        break;
      case v1::Aggregation::kLatency:
        source = absl::StrCat(spec.latency().start().event(), " -> ",
                              spec.latency().end().event());
        break;
      case v1::Aggregation::kCpuTime:
        source = "cpu_time";
        break;
      default:
        source = "-";
    }
    t.AddRow({std::string(name),
              a.origin() == v1::AggregationInfo::ORIGIN_API ? "api" : "config",
              source, absl::StrJoin(spec.key(), ","),
              spec.window().empty() ? "-" : spec.window(),
              HumanCount(a.stats().counters().events_matched()),
              HumanCount(a.stats().windows()),
              absl::StrCat(a.stats().subscribers()),
              HumanBytes(a.stats().memory_bytes()),
              HumanBytes(a.stats().memory_reserved_bytes())});
  }
  return t.Render();
}

std::string FormatResult(const v1::AggregationResult& r, size_t max_rows) {
  std::vector<std::string> headers;
  for (const std::string& k : r.key_names()) {
    headers.push_back(absl::AsciiStrToUpper(k));
  }
  if (headers.empty()) headers.push_back("KEY");
  headers.push_back(">COUNT");
  // value_names usually start with "count", which has its own column.
  std::vector<int> value_columns;
  for (int i = 0; i < r.value_names_size(); ++i) {
    if (r.value_names(i) == "count") continue;
    value_columns.push_back(i);
    headers.push_back(">" + absl::AsciiStrToUpper(r.value_names(i)));
  }
  const size_t key_columns = std::max(1, r.key_names_size());
  Table t(headers);
  size_t shown = 0;
  for (const v1::Row& row : r.row()) {
    if (max_rows > 0 && shown == max_rows) break;
    ++shown;
    std::vector<std::string> cells;
    if (row.kind() != v1::Row::KEY || row.key_size() == 0) {
      cells.push_back(row.kind() == v1::Row::KEY ? "(all)" : FormatKey(row));
      cells.resize(key_columns);
    } else {
      for (const v1::KeyValue& k : row.key()) {
        v1::Row one;
        *one.add_key() = k;
        cells.push_back(FormatKey(one));
      }
      cells.resize(key_columns);
    }
    cells.push_back(absl::StrCat(row.count()));
    for (int i : value_columns) {
      cells.push_back(i < row.value_size() ? FormatValue(row.value(i)) : "-");
    }
    t.AddRow(std::move(cells));
  }
  std::string out = t.Render();
  if (shown < static_cast<size_t>(r.row_size())) {
    absl::StrAppend(&out, "... ", r.row_size() - shown, " more rows\n");
  }
  return out;
}

std::string FormatEvent(const v1::TraceEvent& e) {
  absl::string_view name = e.name();
  absl::ConsumePrefix(&name, "events/");
  std::string out =
      absl::StrFormat("%d.%09d [%03d] %7d %s", e.timestamp_ns() / 1000000000,
                      e.timestamp_ns() % 1000000000, e.cpu(), e.pid(), name);
  for (const v1::FieldValue& f : e.fields()) {
    absl::StrAppend(&out, " ", f.name(), "=");
    switch (f.value_case()) {
      case v1::FieldValue::kIntValue:
        absl::StrAppend(&out, f.int_value());
        break;
      case v1::FieldValue::kUintValue:
        absl::StrAppend(&out, f.uint_value());
        break;
      case v1::FieldValue::kStringValue:
        absl::StrAppend(&out, Printable(f.string_value()));
        break;
      case v1::FieldValue::kBytesValue:
        absl::StrAppend(&out, absl::BytesToHexString(f.bytes_value()));
        break;
      default:
        out += "?";
    }
  }
  return out;
}

}  // namespace cli
}  // namespace ringwatch
