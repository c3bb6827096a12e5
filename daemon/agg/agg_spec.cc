#include "daemon/agg/agg_spec.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"

namespace ringwatch {
namespace agg {
namespace {

using Path = std::vector<std::pair<std::string, int>>;

// Collects errors under a path prefix.
class Errors {
 public:
  Errors(std::vector<SpecError>* out, Path prefix = {})
      : out_(out), prefix_(std::move(prefix)) {}
  Errors Nested(const std::string& field, int index = -1) const {
    Path p = prefix_;
    p.emplace_back(field, index);
    return Errors(out_, std::move(p));
  }
  void Add(std::string message) const { out_->push_back({prefix_, message}); }
  void Add(const std::string& field, int index, std::string message) const {
    Nested(field, index).Add(std::move(message));
  }
  size_t count() const { return out_->size(); }

 private:
  std::vector<SpecError>* out_;
  Path prefix_;
};

std::string Quote(absl::string_view s) { return absl::StrCat("\"", s, "\""); }

std::string DidYouMean(const std::vector<std::string>& close) {
  if (close.empty()) return "";
  std::vector<std::string> quoted;
  for (const std::string& c : close) quoted.push_back(Quote(c));
  return absl::StrCat("; did you mean ", absl::StrJoin(quoted, " or "), "?");
}

std::string UnknownField(absl::string_view name, const EventFormat& event,
                         const std::vector<std::string>& extra) {
  std::vector<std::string> candidates = extra;
  for (const FieldFormat& f : event.fields) candidates.push_back(f.name);
  return absl::StrCat("no field ", Quote(name), " in ", event.FullName(),
                      DidYouMean(ClosestMatches(name, candidates)));
}

// "a string (char[16])", "an array (unsigned long[6])".
std::string Describe(const FieldFormat& f) {
  if (f.is_string) return absl::StrCat("a string (", f.type, ")");
  if (f.kind == FieldKind::kScalar)
    return absl::StrCat("an integer (", f.type, ")");
  return absl::StrCat("an array (", f.type, ")");
}

bool IsInteger(const FieldFormat& f) {
  return f.kind == FieldKind::kScalar && !f.is_string &&
         (f.size == 1 || f.size == 2 || f.size == 4 || f.size == 8);
}

// Fills `part` from a field usable as a key. False with `error` otherwise.
bool KeyFromField(const FieldFormat& f, const EventFormat& event, Side side,
                  KeyPart* part, std::string* error) {
  part->read.side = side;
  part->read.field = f;
  if (f.is_string) {
    part->read.source = Source::kString;
    part->is_string = true;
    part->width = f.kind == FieldKind::kFixedArray
                      ? std::min(f.size, kMaxStringKeyBytes)
                      : kDynamicStringKeyBytes;
    if (part->width == 0) part->width = 1;
    return true;
  }
  if (IsInteger(f)) {
    part->read.source = Source::kInteger;
    part->width = 8;
    return true;
  }
  *error =
      absl::StrCat("field ", Quote(f.name), " of ", event.FullName(), " is ",
                   Describe(f), "; keys need an integer or string field");
  return false;
}

// The "cpu" and "comm" pseudo-fields of `event` (used only when the event
// has no field of that name).
bool PseudoKey(absl::string_view name, const EventFormat& event, Side side,
               KeyPart* part, std::string* error) {
  part->read.side = side;
  if (name == "cpu") {
    part->read.source = Source::kCpu;
    part->width = 8;
    return true;
  }
  if (name == "comm") {
    const FieldFormat* pid = event.FindField("common_pid");
    if (pid == nullptr || !IsInteger(*pid)) {
      *error = absl::StrCat(event.FullName(),
                            " has no common_pid to resolve \"comm\" with");
      return false;
    }
    part->read.source = Source::kComm;
    part->read.field = *pid;
    part->is_string = true;
    part->width = kCommBytes;
    return true;
  }
  return false;
}

// A key name on one event: its own field, else a pseudo-field.
bool KeyOnEvent(absl::string_view name, const EventFormat& event, Side side,
                KeyPart* part, std::string* error) {
  if (const FieldFormat* f = event.FindField(name)) {
    return KeyFromField(*f, event, side, part, error);
  }
  if (PseudoKey(name, event, side, part, error)) return true;
  if (error->empty()) *error = UnknownField(name, event, {"cpu", "comm"});
  return false;
}

bool ParseSideName(absl::string_view name, absl::string_view* bare,
                   int* side) {  // side: -1 bare, 0 end, 1 start.
  if (absl::StartsWith(name, "start.")) {
    *bare = name.substr(6);
    *side = 1;
  } else if (absl::StartsWith(name, "end.")) {
    *bare = name.substr(4);
    *side = 0;
  } else {
    *bare = name;
    *side = -1;
  }
  return !bare->empty();
}

struct Events {
  const EventFormat* event = nullptr;  // kEvent, kCpuTime.
  const EventFormat* start = nullptr;  // kLatency.
  const EventFormat* end = nullptr;
};

bool ResolveKey(AggKind kind, const Events& ev, const std::string& name,
                KeyPart* part, std::string* error) {
  part->name = name;
  switch (kind) {
    case AggKind::kEvent:
      return KeyOnEvent(name, *ev.event, Side::kEnd, part, error);
    case AggKind::kCpuTime: {
      // The task switched out is the one the time belongs to.
      absl::string_view field = name;
      if (name == "pid") field = "prev_pid";
      if (name == "comm") field = "prev_comm";
      if (const FieldFormat* f = ev.event->FindField(field)) {
        return KeyFromField(*f, *ev.event, Side::kEnd, part, error);
      }
      if (name == "cpu")
        return PseudoKey(name, *ev.event, Side::kEnd, part, error);
      *error = UnknownField(name, *ev.event, {"pid", "comm", "cpu"});
      return false;
    }
    case AggKind::kLatency: {
      absl::string_view bare;
      int side;
      if (!ParseSideName(name, &bare, &side)) {
        *error = absl::StrCat("empty field name after ", Quote(name));
        return false;
      }
      if (side == 1)
        return KeyOnEvent(bare, *ev.start, Side::kStart, part, error);
      if (side == 0) return KeyOnEvent(bare, *ev.end, Side::kEnd, part, error);
      if (const FieldFormat* f = ev.end->FindField(bare)) {
        return KeyFromField(*f, *ev.end, Side::kEnd, part, error);
      }
      if (const FieldFormat* f = ev.start->FindField(bare)) {
        return KeyFromField(*f, *ev.start, Side::kStart, part, error);
      }
      if (PseudoKey(bare, *ev.end, Side::kEnd, part, error)) return true;
      if (!error->empty()) return false;
      std::vector<std::string> candidates = {"cpu", "comm"};
      for (const FieldFormat& f : ev.end->fields) candidates.push_back(f.name);
      for (const FieldFormat& f : ev.start->fields) {
        candidates.push_back(absl::StrCat("start.", f.name));
      }
      *error = absl::StrCat("no field ", Quote(name), " in ",
                            ev.end->FullName(), " or ", ev.start->FullName(),
                            DidYouMean(ClosestMatches(name, candidates)));
      return false;
    }
  }
  return false;
}

// A numeric input for `what` ("sum", "histogram"...).
bool ResolveNumeric(AggKind kind, const Events& ev, const std::string& name,
                    absl::string_view what, ReadSpec* read,
                    std::string* error) {
  const EventFormat* event = ev.event;
  absl::string_view field = name;
  switch (kind) {
    case AggKind::kCpuTime:
      if (name == "on_cpu") {
        read->source = Source::kOnCpu;
        return true;
      }
      *error = absl::StrCat(
          "cpu_time aggregations have one value, \"on_cpu\" (ns per slice); "
          "got ",
          Quote(name));
      return false;
    case AggKind::kLatency: {
      if (name == "latency") {
        read->source = Source::kLatency;
        return true;
      }
      int side;
      if (!ParseSideName(name, &field, &side) || side == 1) {
        *error = absl::StrCat(
            "values of latency aggregations read \"latency\" or integer "
            "fields of the end event (",
            ev.end->FullName(), "); got ", Quote(name));
        return false;
      }
      event = ev.end;
      break;
    }
    case AggKind::kEvent:
      break;
  }
  const FieldFormat* f = event->FindField(field);
  if (f == nullptr) {
    *error = UnknownField(field, *event,
                          kind == AggKind::kLatency
                              ? std::vector<std::string>{"latency"}
                              : std::vector<std::string>{});
    return false;
  }
  if (!IsInteger(*f)) {
    *error = absl::StrCat(what, " of ", Quote(f->name), ": field of ",
                          event->FullName(), " is ", Describe(*f), "; ", what,
                          " needs an integer field");
    return false;
  }
  read->source = Source::kInteger;
  read->side = Side::kEnd;
  read->field = *f;
  return true;
}

std::string ReadIdentity(const ReadSpec& r) {
  return absl::StrCat(static_cast<int>(r.source), "/", static_cast<int>(r.side),
                      "/", r.field.name);
}

const EventFormat* LookupEvent(const EventCatalog& catalog,
                               const std::string& name, const Errors& errors) {
  if (name.empty()) {
    errors.Add("missing: set the event as \"system/name\"");
    return nullptr;
  }
  absl::StatusOr<const EventFormat*> f = catalog.Lookup(name);
  if (!f.ok()) {
    errors.Add(std::string(f.status().message()));
    return nullptr;
  }
  return *f;
}

bool CompileFilterInto(const std::string& expression, const EventFormat& event,
                       CompiledFilter* out, const Errors& errors) {
  absl::StatusOr<CompiledFilter> f = CompileFilter(expression, event);
  if (!f.ok()) {
    errors.Add(absl::StrCat("bad filter for ", event.FullName(), ": ",
                            f.status().message()));
    return false;
  }
  *out = std::move(*f);
  return true;
}

// Resolves one endpoint's pairing keys.
void CompileEndpoint(const v1::Latency::Endpoint& config,
                     const EventFormat* event, Side side, EndpointSpec* out,
                     std::vector<KeyPart>* parts, const Errors& errors) {
  out->event_id = event->id;
  out->event_name = event->FullName();
  CompileFilterInto(config.filter(), *event, &out->filter,
                    errors.Nested("filter"));
  if (config.key_size() == 0) {
    errors.Add("key", -1,
               "missing: at least one key field pairs a start with its end");
  }
  for (int i = 0; i < config.key_size(); ++i) {
    KeyPart part;
    std::string error;
    if (!KeyOnEvent(config.key(i), *event, side, &part, &error)) {
      errors.Add("key", i, error);
      continue;
    }
    part.name = config.key(i);
    out->match.push_back(part.read);
    parts->push_back(part);
  }
}

}  // namespace

std::string SpecError::PathString() const {
  std::string out;
  for (const auto& [field, index] : path) {
    if (!out.empty()) out += ".";
    out += field;
    if (index >= 0) absl::StrAppend(&out, "[", index, "]");
  }
  return out;
}

bool ValidAggregationName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
          c == '.' || c == '-')) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<uint64_t> ParseDurationNs(absl::string_view text,
                                         uint64_t min_ns, uint64_t max_ns) {
  absl::Duration d;
  if (!absl::ParseDuration(std::string(text), &d)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad duration ", Quote(text), " (use e.g. \"250ms\", \"1s\", \"2m\")"));
  }
  if (d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("duration ", Quote(text), " must be positive"));
  }
  const int64_t ns = absl::ToInt64Nanoseconds(d);
  if (static_cast<uint64_t>(ns) < min_ns ||
      static_cast<uint64_t>(ns) > max_ns) {
    return absl::InvalidArgumentError(
        absl::StrCat("duration ", Quote(text), " is out of range [",
                     absl::FormatDuration(absl::Nanoseconds(min_ns)), ", ",
                     absl::FormatDuration(absl::Nanoseconds(max_ns)), "]"));
  }
  return static_cast<uint64_t>(ns);
}

std::unique_ptr<AggSpec> CompileAggregation(const v1::Aggregation& config,
                                            const EventCatalog& catalog,
                                            std::vector<SpecError>* out) {
  const size_t errors_before = out->size();
  Errors errors(out);
  auto spec = std::make_unique<AggSpec>();
  spec->config = config;
  spec->name = config.name();

  if (config.name().empty()) {
    errors.Add("name", -1, "missing: every aggregation needs a name");
  } else if (!ValidAggregationName(config.name())) {
    errors.Add("name", -1,
               absl::StrCat("bad name ", Quote(config.name()),
                            ": use 1-64 characters of [A-Za-z0-9_.-]"));
  }

  if (!config.window().empty()) {
    absl::StatusOr<uint64_t> ns =
        ParseDurationNs(config.window(), kMinWindowNs, kMaxWindowNs);
    if (!ns.ok()) {
      errors.Add("window", -1,
                 absl::StrCat("bad window: ", ns.status().message()));
    } else {
      spec->period_ns = *ns;
      spec->windowed = true;
    }
  }
  if (config.max_keys() > kMaxMaxKeys) {
    errors.Add("max_keys", -1,
               absl::StrCat("max_keys ", config.max_keys(),
                            " is above the limit of ", kMaxMaxKeys));
  }
  spec->max_keys = config.max_keys() == 0 ? kDefaultMaxKeys : config.max_keys();
  spec->top_n = config.top_n();

  // The source.
  Events ev;
  switch (config.source_case()) {
    case v1::Aggregation::kEvent: {
      spec->kind = AggKind::kEvent;
      ev.event = LookupEvent(catalog, config.event(), errors.Nested("event"));
      if (ev.event != nullptr) {
        spec->event_id = ev.event->id;
        spec->event_name = ev.event->FullName();
        spec->events.push_back(spec->event_name);
        CompileFilterInto(config.filter(), *ev.event, &spec->filter,
                          errors.Nested("filter"));
      }
      break;
    }
    case v1::Aggregation::kCpuTime: {
      spec->kind = AggKind::kCpuTime;
      spec->include_idle = config.cpu_time().include_idle();
      ev.event =
          LookupEvent(catalog, "sched/sched_switch", errors.Nested("cpu_time"));
      if (ev.event != nullptr) {
        const FieldFormat* pid = ev.event->FindField("prev_pid");
        if (pid == nullptr || !IsInteger(*pid)) {
          errors.Add("cpu_time", -1,
                     "sched/sched_switch has no integer prev_pid field");
          ev.event = nullptr;
        } else {
          spec->prev_pid = *pid;
          spec->event_id = ev.event->id;
          spec->event_name = ev.event->FullName();
          spec->events.push_back(spec->event_name);
          CompileFilterInto(config.filter(), *ev.event, &spec->filter,
                            errors.Nested("filter"));
        }
      }
      break;
    }
    case v1::Aggregation::kLatency: {
      spec->kind = AggKind::kLatency;
      const v1::Latency& lat = config.latency();
      Errors lat_errors = errors.Nested("latency");
      if (!config.filter().empty()) {
        errors.Add("filter", -1,
                   "latency aggregations filter each endpoint: use "
                   "latency.start.filter and latency.end.filter");
      }
      if (!lat.has_start())
        lat_errors.Add("start", -1, "missing: set the start endpoint");
      if (!lat.has_end())
        lat_errors.Add("end", -1, "missing: set the end endpoint");
      if (lat.max_pending() > kMaxMaxPending) {
        lat_errors.Add("max_pending", -1,
                       absl::StrCat("max_pending ", lat.max_pending(),
                                    " is above the limit of ", kMaxMaxPending));
      }
      spec->max_pending =
          lat.max_pending() == 0 ? kDefaultMaxPending : lat.max_pending();
      spec->same_cpu = lat.same_cpu();
      if (!lat.has_start() || !lat.has_end()) break;
      ev.start = LookupEvent(catalog, lat.start().event(),
                             lat_errors.Nested("start").Nested("event"));
      ev.end = LookupEvent(catalog, lat.end().event(),
                           lat_errors.Nested("end").Nested("event"));
      if (ev.start == nullptr || ev.end == nullptr) {
        ev.start = ev.end = nullptr;
        break;
      }
      spec->events.push_back(ev.start->FullName());
      if (ev.end != ev.start) spec->events.push_back(ev.end->FullName());
      std::vector<KeyPart> start_parts, end_parts;
      const size_t before = errors.count();
      CompileEndpoint(lat.start(), ev.start, Side::kStart, &spec->start,
                      &start_parts, lat_errors.Nested("start"));
      CompileEndpoint(lat.end(), ev.end, Side::kEnd, &spec->end, &end_parts,
                      lat_errors.Nested("end"));
      if (errors.count() != before) break;
      if (start_parts.size() != end_parts.size()) {
        lat_errors.Nested("end").Add(
            "key", -1,
            absl::StrCat("end has ", end_parts.size(),
                         " key field(s) and start ", start_parts.size(),
                         "; they pair a start with its end field by field"));
        break;
      }
      uint32_t offset = 0;
      for (size_t i = 0; i < start_parts.size(); ++i) {
        if (start_parts[i].is_string != end_parts[i].is_string) {
          lat_errors.Nested("end").Add(
              "key", static_cast<int>(i),
              absl::StrCat(
                  "end key ", Quote(end_parts[i].name), " is ",
                  end_parts[i].is_string ? "a string" : "an integer",
                  " but start key ", Quote(start_parts[i].name), " is ",
                  start_parts[i].is_string ? "a string" : "an integer"));
          continue;
        }
        const uint32_t width =
            std::max(start_parts[i].width, end_parts[i].width);
        spec->match_offsets.push_back(offset);
        spec->match_widths.push_back(width);
        offset += width;
        if (start_parts[i].read.source == Source::kComm ||
            end_parts[i].read.source == Source::kComm) {
          spec->needs_comm = true;
        }
      }
      spec->match_bytes = (offset + 7) / 8 * 8;
      if (spec->match_bytes > kMaxKeyBytes) {
        lat_errors.Nested("start").Add(
            "key", -1,
            absl::StrCat("the pairing key takes ", spec->match_bytes,
                         " bytes, more than the limit of ", kMaxKeyBytes));
      }
      break;
    }
    case v1::Aggregation::SOURCE_NOT_SET:
      errors.Add("missing source: set one of event, latency or cpu_time");
      break;
  }
  const bool have_events = spec->kind == AggKind::kLatency
                               ? ev.start != nullptr
                               : ev.event != nullptr;
  if (!have_events) return nullptr;

  // Keys.
  std::vector<std::string> key_names(config.key().begin(), config.key().end());
  if (key_names.empty() && spec->kind == AggKind::kCpuTime) {
    key_names = {"pid", "comm"};
  }
  uint32_t key_offset = 0;
  for (size_t i = 0; i < key_names.size(); ++i) {
    KeyPart part;
    std::string error;
    if (!ResolveKey(spec->kind, ev, key_names[i], &part, &error)) {
      errors.Add("key", static_cast<int>(i), error);
      continue;
    }
    part.offset = key_offset;
    key_offset += part.width;
    if (part.read.source == Source::kComm) spec->needs_comm = true;
    spec->keys.push_back(std::move(part));
  }
  spec->key_bytes = (key_offset + 7) / 8 * 8;
  if (spec->key_bytes > kMaxKeyBytes) {
    errors.Add("key", -1,
               absl::StrCat("the keys take ", spec->key_bytes,
                            " bytes, more than the limit of ", kMaxKeyBytes));
  }

  // Values.
  std::vector<v1::Value> values(config.value().begin(), config.value().end());
  if (values.empty()) {
    values.emplace_back().set_count(true);
    if (spec->kind == AggKind::kLatency) {
      values.emplace_back().mutable_histogram()->set_field("latency");
    } else if (spec->kind == AggKind::kCpuTime) {
      values.emplace_back().set_sum("on_cpu");
    }
  }
  std::vector<HistLayout> hists;
  auto stat_index = [&](const ReadSpec& read, const std::string& name) {
    const std::string id = ReadIdentity(read);
    for (size_t s = 0; s < spec->stats.size(); ++s) {
      if (ReadIdentity(spec->stats[s].read) == id)
        return static_cast<uint32_t>(s);
    }
    spec->stats.push_back({name, read});
    return static_cast<uint32_t>(spec->stats.size() - 1);
  };
  for (size_t i = 0; i < values.size(); ++i) {
    const v1::Value& v = values[i];
    const Errors value_errors = errors.Nested("value", static_cast<int>(i));
    OutputValue out_value;
    std::string field, what;
    switch (v.kind_case()) {
      case v1::Value::kCount:
        out_value.kind = OutputValue::Kind::kCount;
        out_value.name = "count";
        spec->outputs.push_back(out_value);
        continue;
      case v1::Value::kSum:
        out_value.kind = OutputValue::Kind::kSum;
        field = v.sum();
        what = "sum";
        break;
      case v1::Value::kMin:
        out_value.kind = OutputValue::Kind::kMin;
        field = v.min();
        what = "min";
        break;
      case v1::Value::kMax:
        out_value.kind = OutputValue::Kind::kMax;
        field = v.max();
        what = "max";
        break;
      case v1::Value::kMean:
        out_value.kind = OutputValue::Kind::kMean;
        field = v.mean();
        what = "mean";
        break;
      case v1::Value::kHistogram:
        out_value.kind = OutputValue::Kind::kHistogram;
        field = v.histogram().field();
        what = "histogram";
        if (field.empty()) {
          if (spec->kind == AggKind::kLatency) field = "latency";
          if (spec->kind == AggKind::kCpuTime) field = "on_cpu";
        }
        break;
      case v1::Value::KIND_NOT_SET:
        value_errors.Add(
            "empty value: set one of count, sum, min, max, mean, histogram");
        continue;
    }
    const std::string field_path =
        what == "histogram" ? "histogram" : what;  // Proto field names.
    if (field.empty()) {
      if (what == "histogram") {
        value_errors.Nested("histogram")
            .Add("field", -1, "missing: name the field the histogram counts");
      } else {
        value_errors.Add(field_path, -1,
                         absl::StrCat("missing: name the field to ", what));
      }
      continue;
    }
    ReadSpec read;
    std::string error;
    if (!ResolveNumeric(spec->kind, ev, field, what, &read, &error)) {
      if (what == "histogram") {
        value_errors.Nested("histogram").Add("field", -1, error);
      } else {
        value_errors.Add(field_path, -1, error);
      }
      continue;
    }
    out_value.stat = stat_index(read, field);
    out_value.name = absl::StrCat(what, "(", field, ")");
    if (out_value.kind == OutputValue::Kind::kHistogram) {
      const v1::Histogram& h = v.histogram();
      HistLayout layout;
      layout.stat = out_value.stat;
      if (h.has_linear()) {
        absl::StatusOr<BucketSpec> b = BucketSpec::Linear(
            h.linear().min(), h.linear().max(), h.linear().step());
        if (!b.ok()) {
          value_errors.Nested("histogram")
              .Add("linear", -1, std::string(b.status().message()));
          continue;
        }
        layout.buckets = *b;
      } else {
        layout.buckets = BucketSpec::Log2();
      }
      out_value.hist = static_cast<uint32_t>(hists.size());
      hists.push_back(layout);
    }
    spec->outputs.push_back(out_value);
  }
  if (spec->stats.size() > kMaxStats) {
    errors.Add(
        "value", -1,
        absl::StrCat("values read ", spec->stats.size(),
                     " distinct fields, more than the limit of ", kMaxStats));
  }

  // Order.
  spec->order.ascending = config.ascending();
  const std::string& order_by = config.order_by();
  spec->order.name = order_by.empty() ? "count" : order_by;
  if (!order_by.empty() && order_by != "count") {
    const size_t open = order_by.find('(');
    std::string fn, arg;
    if (open != std::string::npos && absl::EndsWith(order_by, ")")) {
      fn = order_by.substr(0, open);
      arg = order_by.substr(open + 1, order_by.size() - open - 2);
    }
    std::vector<std::string> choices = {"count"};
    for (const OutputValue& o : spec->outputs) {
      if (o.kind == OutputValue::Kind::kCount) continue;
      const std::string& f = spec->stats[o.stat].field;
      for (const char* name : {"sum", "min", "max", "mean"}) {
        choices.push_back(absl::StrCat(name, "(", f, ")"));
      }
      if (o.kind == OutputValue::Kind::kHistogram) {
        for (const char* name : {"p50", "p90", "p99"}) {
          choices.push_back(absl::StrCat(name, "(", f, ")"));
        }
      }
    }
    std::sort(choices.begin(), choices.end());
    choices.erase(std::unique(choices.begin(), choices.end()), choices.end());
    bool found = false;
    ReadSpec read;
    std::string error;
    if (!fn.empty() && !arg.empty() &&
        ResolveNumeric(spec->kind, ev, arg, fn, &read, &error)) {
      const std::string id = ReadIdentity(read);
      for (size_t s = 0; s < spec->stats.size() && !found; ++s) {
        if (ReadIdentity(spec->stats[s].read) != id) continue;
        spec->order.stat = static_cast<uint32_t>(s);
        if (fn == "sum" || fn == "min" || fn == "max" || fn == "mean") {
          spec->order.kind = fn == "sum"   ? OrderBy::Kind::kSum
                             : fn == "min" ? OrderBy::Kind::kMin
                             : fn == "max" ? OrderBy::Kind::kMax
                                           : OrderBy::Kind::kMean;
          found = true;
        } else if (fn == "p50" || fn == "p90" || fn == "p99") {
          for (size_t h = 0; h < hists.size(); ++h) {
            if (hists[h].stat == s) {
              spec->order.kind = OrderBy::Kind::kPercentile;
              spec->order.hist = static_cast<uint32_t>(h);
              spec->order.percent = fn == "p50" ? 50 : fn == "p90" ? 90 : 99;
              found = true;
              break;
            }
          }
        }
      }
    }
    if (!found) {
      errors.Add("order_by", -1,
                 absl::StrCat("cannot order by ", Quote(order_by),
                              ": not one of the values; choose from ",
                              absl::StrJoin(choices, ", ")));
    }
  }

  if (spec->needs_comm) {
    const EventFormat* sw = catalog.FindByName("sched/sched_switch");
    if (sw == nullptr) {
      errors.Add("key", -1,
                 "the \"comm\" pseudo-field needs sched/sched_switch, which "
                 "this catalog lacks");
    } else if (std::find(spec->events.begin(), spec->events.end(),
                         "sched/sched_switch") == spec->events.end()) {
      spec->events.push_back("sched/sched_switch");
    }
  }

  if (out->size() != errors_before) return nullptr;
  spec->layout = RowLayout(spec->key_bytes,
                           static_cast<uint32_t>(spec->stats.size()), hists);
  return spec;
}

absl::StatusOr<std::unique_ptr<AggSpec>> CompileAggregation(
    const v1::Aggregation& aggregation, const EventCatalog& catalog) {
  std::vector<SpecError> errors;
  std::unique_ptr<AggSpec> spec =
      CompileAggregation(aggregation, catalog, &errors);
  if (spec != nullptr) return spec;
  std::vector<std::string> lines;
  for (const SpecError& e : errors) {
    const std::string path = e.PathString();
    lines.push_back(
        absl::StrCat("aggregation ", Quote(aggregation.name()), ": ",
                     path.empty() ? "" : absl::StrCat(path, ": "), e.message));
  }
  return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
}

}  // namespace agg
}  // namespace ringwatch
