#include "daemon/server/testing/fake_backend.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "daemon/server/names.h"
#include "daemon/server/result_shaping.h"

namespace ringwatch {
namespace testing {

namespace {

// Format files as Linux 6.18's tracefs prints them (tests/data/formats),
// print fmt lines shortened.
constexpr const char* kFormats[][2] = {
    {"sched", R"fmt(name: sched_switch
ID: 372
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:char prev_comm[16];	offset:8;	size:16;	signed:0;
	field:pid_t prev_pid;	offset:24;	size:4;	signed:1;
	field:int prev_prio;	offset:28;	size:4;	signed:1;
	field:long prev_state;	offset:32;	size:8;	signed:1;
	field:char next_comm[16];	offset:40;	size:16;	signed:0;
	field:pid_t next_pid;	offset:56;	size:4;	signed:1;
	field:int next_prio;	offset:60;	size:4;	signed:1;

print fmt: "prev_comm=%s prev_pid=%d ==> next_comm=%s next_pid=%d", REC->prev_comm, REC->prev_pid, REC->next_comm, REC->next_pid
)fmt"},
    {"sched", R"fmt(name: sched_wakeup
ID: 374
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:char comm[16];	offset:8;	size:16;	signed:0;
	field:pid_t pid;	offset:24;	size:4;	signed:1;
	field:int prio;	offset:28;	size:4;	signed:1;
	field:int target_cpu;	offset:32;	size:4;	signed:1;

print fmt: "comm=%s pid=%d prio=%d target_cpu=%03d", REC->comm, REC->pid, REC->prio, REC->target_cpu
)fmt"},
    {"raw_syscalls", R"fmt(name: sys_enter
ID: 443
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:long id;	offset:8;	size:8;	signed:1;
	field:unsigned long args[6];	offset:16;	size:48;	signed:0;

print fmt: "NR %ld (%lx, %lx, %lx, %lx, %lx, %lx)", REC->id, REC->args[0], REC->args[1], REC->args[2], REC->args[3], REC->args[4], REC->args[5]
)fmt"},
    {"irq", R"fmt(name: irq_handler_entry
ID: 225
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:int irq;	offset:8;	size:4;	signed:1;
	field:__data_loc char[] name;	offset:12;	size:4;	signed:0;

print fmt: "irq=%d name=%s", REC->irq, __get_str(name)
)fmt"},
};

absl::Status NotFound(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("aggregation '", id, "' not found"));
}

}  // namespace

FakeBackend::FakeBackend() {
  for (const auto& f : kFormats) {
    absl::StatusOr<EventFormat> format = ParseEventFormat(f[0], f[1]);
    // The texts are fixed: a parse failure is a bug in this file.
    if (!format.ok()) abort();
    formats_.push_back(*std::move(format));
  }
}

void FakeBackend::AddConfigAggregation(const v1::Aggregation& spec) {
  absl::MutexLock lock(&mu_);
  Agg& agg = aggs_[spec.name()];
  agg.info.set_name(AggregationName(spec.name()));
  *agg.info.mutable_spec() = spec;
  agg.info.set_origin(v1::AggregationInfo::ORIGIN_CONFIG);
  agg.info.mutable_create_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
}

void FakeBackend::set_validator(
    std::function<absl::Status(const v1::Aggregation&)> validator) {
  absl::MutexLock lock(&mu_);
  validator_ = std::move(validator);
}

v1::AggregationResult FakeBackend::MakeWindow(
    const std::string& aggregation, uint64_t window_start_ns,
    const std::vector<std::pair<std::string, uint64_t>>& unsorted) {
  // Largest count first, as the engine orders rows by default.
  std::vector<std::pair<std::string, uint64_t>> rows = unsorted;
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a.second > b.second;
  });
  v1::AggregationResult r;
  r.set_name(aggregation);
  r.add_key_names("key");
  r.add_value_names("count");
  r.set_window_start_ns(window_start_ns);
  r.set_window_end_ns(window_start_ns + 1000000000);
  r.set_windows(1);
  r.set_distinct_keys(rows.size());
  uint64_t total = 0;
  for (const auto& [key, count] : rows) {
    v1::Row* row = r.add_row();
    row->set_kind(v1::Row::KEY);
    row->add_key()->set_string_value(key);
    row->set_count(count);
    v1::ValueResult* v = row->add_value();
    v->set_name("count");
    v->set_int_value(static_cast<int64_t>(count));
    total += count;
  }
  r.mutable_counters()->set_events_matched(total);
  return r;
}

void FakeBackend::PublishWindow(const v1::AggregationResult& result) {
  auto shared = std::make_shared<const v1::AggregationResult>(result);
  std::vector<std::shared_ptr<WindowListener>> listeners;
  {
    absl::MutexLock lock(&mu_);
    auto it = aggs_.find(result.name());
    if (it != aggs_.end()) {
      Agg& agg = it->second;
      agg.latest = shared;
      // Cumulative: counts summed per key text, in first-seen order.
      if (!agg.has_cumulative) {
        agg.cumulative = result;
        agg.cumulative.set_cumulative(true);
        agg.has_cumulative = true;
      } else {
        v1::AggregationResult& c = agg.cumulative;
        c.set_window_end_ns(result.window_end_ns());
        c.set_windows(c.windows() + 1);
        for (const v1::Row& row : result.row()) {
          v1::Row* match = nullptr;
          for (v1::Row& existing : *c.mutable_row()) {
            if (existing.kind() == row.kind() &&
                KeyText(existing) == KeyText(row)) {
              match = &existing;
            }
          }
          if (match == nullptr) {
            *c.add_row() = row;
          } else {
            match->set_count(match->count() + row.count());
          }
        }
        c.set_distinct_keys(c.row_size());
      }
      agg.info.mutable_stats()->mutable_counters()->set_events_matched(
          agg.info.stats().counters().events_matched() +
          result.counters().events_matched());
      agg.info.mutable_stats()->set_windows(agg.info.stats().windows() + 1);
    }
    for (const auto& [handle, l] : listeners_) listeners.push_back(l);
  }
  for (const auto& l : listeners) l->OnWindowClosed(shared);
}

void FakeBackend::EmitDrained(uint64_t horizon) {
  std::vector<std::shared_ptr<EventTap>> taps;
  {
    absl::MutexLock lock(&mu_);
    horizon_ = horizon;
    for (const auto& [handle, t] : taps_) taps.push_back(t);
  }
  for (const auto& t : taps) t->OnReaderDrained();
}

uint64_t FakeBackend::EventTimeHorizon() {
  absl::MutexLock lock(&mu_);
  return horizon_;
}

void FakeBackend::EmitEvent(const RecordView& record) {
  const EventFormat* format = nullptr;
  for (const EventFormat& f : formats_) {
    if (static_cast<int32_t>(f.id) == record.event_id()) format = &f;
  }
  if (format == nullptr) abort();  // A test bug: unknown id.
  std::vector<std::shared_ptr<EventTap>> taps;
  {
    absl::MutexLock lock(&mu_);
    events_[record.cpu % 2]++;
    for (const auto& [handle, t] : taps_) taps.push_back(t);
  }
  for (const auto& t : taps) t->OnEvent(record, *format);
}

std::vector<uint8_t> FakeBackend::MakePayload(
    const std::string& event, int32_t pid,
    const std::map<std::string, int64_t>& ints,
    const std::map<std::string, std::string>& strings) const {
  const EventFormat* f = FindEvent(event);
  if (f == nullptr) abort();
  uint32_t size = 0;
  for (const FieldFormat& field : f->fields) {
    size = std::max(size, field.offset + field.size);
  }
  std::vector<uint8_t> p(size, 0);
  auto put = [&](uint32_t offset, uint32_t bytes, int64_t v) {
    std::memcpy(p.data() + offset, &v, bytes);  // Little-endian host.
  };
  put(0, 2, f->id);
  put(4, 4, pid);
  for (const FieldFormat& field : f->fields) {
    auto i = ints.find(field.name);
    if (i != ints.end() && field.kind == FieldKind::kScalar) {
      put(field.offset, field.size, i->second);
    }
    auto s = strings.find(field.name);
    if (s == strings.end()) continue;
    if (field.kind == FieldKind::kFixedArray) {
      std::memcpy(p.data() + field.offset, s->second.data(),
                  std::min<size_t>(s->second.size(), field.size - 1));
    } else if (field.kind == FieldKind::kDataLoc) {
      // The string goes after the fixed part, NUL-terminated.
      const uint32_t at = static_cast<uint32_t>(p.size());
      const uint32_t len = static_cast<uint32_t>(s->second.size() + 1);
      p.insert(p.end(), s->second.begin(), s->second.end());
      p.push_back(0);
      put(field.offset, 4, (static_cast<int64_t>(len) << 16) | at);
    }
  }
  while (p.size() % 4 != 0) p.push_back(0);  // The kernel rounds up.
  return p;
}

const EventFormat* FakeBackend::FindEvent(const std::string& full_name) const {
  for (const EventFormat& f : formats_) {
    if (f.FullName() == full_name) return &f;
  }
  return nullptr;
}

size_t FakeBackend::listener_count() const {
  absl::MutexLock lock(&mu_);
  return listeners_.size();
}

size_t FakeBackend::tap_count() const {
  absl::MutexLock lock(&mu_);
  return taps_.size();
}

absl::StatusOr<v1::DaemonStatus> FakeBackend::GetStatus() {
  v1::DaemonStatus s;
  s.set_version("0.1.0-fake");
  struct utsname u;
  if (uname(&u) == 0) s.set_kernel_release(u.release);
  s.set_tracefs_path("/sys/kernel/tracing");
  s.set_instance("ringwatch-fake");
  absl::MutexLock lock(&mu_);
  for (uint32_t cpu = 0; cpu < 2; ++cpu) {
    v1::CpuReaderStatus* c = s.add_cpus();
    c->set_cpu(cpu);
    c->set_mode(v1::READ_MODE_MMAP);
    c->set_events(events_[cpu]);
    s.mutable_totals()->set_events(s.totals().events() + events_[cpu]);
  }
  for (const auto& [id, agg] : aggs_) {
    v1::AggregationStats* a = s.add_aggregations();
    *a = agg.info.stats();
    a->set_name(agg.info.name());
  }
  return s;
}

absl::StatusOr<std::vector<v1::EventDescriptor>> FakeBackend::ListEvents() {
  std::vector<v1::EventDescriptor> out;
  for (const EventFormat& f : formats_) {
    v1::EventDescriptor d;
    d.set_name(EventName(f.system, f.name));
    d.set_system(f.system);
    d.set_event(f.name);
    d.set_id(f.id);
    for (const FieldFormat& field : f.fields) {
      v1::FieldDescriptor* fd = d.add_fields();
      fd->set_name(field.name);
      fd->set_type(field.type);
      fd->set_offset(field.offset);
      fd->set_size(field.size);
      fd->set_is_signed(field.is_signed);
      fd->set_is_string(field.is_string);
      fd->set_is_common(field.is_common);
    }
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<v1::AggregationInfo> FakeBackend::ListAggregations() {
  std::vector<v1::AggregationInfo> out;
  absl::MutexLock lock(&mu_);
  for (const auto& [id, agg] : aggs_) {
    out.push_back(agg.info);
    out.back().mutable_stats()->set_name(agg.info.name());
  }
  return out;
}

absl::StatusOr<v1::AggregationInfo> FakeBackend::GetAggregation(
    absl::string_view id) {
  absl::MutexLock lock(&mu_);
  auto it = aggs_.find(std::string(id));
  if (it == aggs_.end()) return NotFound(id);
  return it->second.info;
}

absl::Status FakeBackend::DefaultValidate(const v1::Aggregation& spec) const {
  const std::string where = absl::StrCat("aggregation \"", spec.name(), "\": ");
  std::vector<std::string> problems;
  const std::string& n = spec.name();
  bool name_ok = !n.empty() && n.size() <= 64;
  for (char c : n) {
    name_ok &= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
  }
  if (!name_ok) problems.push_back("name: must be 1-64 of [A-Za-z0-9_.-]");
  const EventFormat* event = nullptr;
  switch (spec.source_case()) {
    case v1::Aggregation::kEvent:
      event = FindEvent(spec.event());
      if (event == nullptr) {
        std::vector<std::string> known;
        for (const EventFormat& f : formats_) known.push_back(f.FullName());
        problems.push_back(
            absl::StrCat("event: unknown event '", spec.event(),
                         "'; known: ", absl::StrJoin(known, ", ")));
      }
      break;
    case v1::Aggregation::kLatency:
    case v1::Aggregation::kCpuTime:
      break;
    default:
      problems.push_back("one of event, latency or cpu_time is required");
  }
  if (event != nullptr) {
    for (int i = 0; i < spec.key_size(); ++i) {
      const std::string& k = spec.key(i);
      if (k != "cpu" && k != "comm" && event->FindField(k) == nullptr) {
        problems.push_back(absl::StrCat("key[", i, "]: event ",
                                        event->FullName(), " has no field '", k,
                                        "'"));
      }
    }
  }
  if (!spec.window().empty()) {
    absl::Duration d;
    if (!absl::ParseDuration(spec.window(), &d) || d < absl::Milliseconds(1) ||
        d > absl::Hours(1)) {
      problems.push_back(absl::StrCat("window: '", spec.window(),
                                      "' is not a duration from 1ms to 1h"));
    }
  }
  if (problems.empty()) return absl::OkStatus();
  for (std::string& p : problems) p = where + p;
  return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
}

absl::StatusOr<v1::AggregationInfo> FakeBackend::CreateAggregation(
    const v1::Aggregation& spec, bool validate_only) {
  std::function<absl::Status(const v1::Aggregation&)> validator;
  {
    absl::MutexLock lock(&mu_);
    validator = validator_;
  }
  absl::Status valid = validator ? validator(spec) : DefaultValidate(spec);
  if (!valid.ok()) return valid;
  absl::MutexLock lock(&mu_);
  if (aggs_.count(spec.name())) {
    return absl::AlreadyExistsError(absl::StrCat(
        "aggregation '", spec.name(),
        "' already exists; delete it first or choose another name"));
  }
  v1::AggregationInfo info;
  info.set_name(AggregationName(spec.name()));
  *info.mutable_spec() = spec;
  info.set_origin(v1::AggregationInfo::ORIGIN_API);
  info.mutable_create_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  info.mutable_stats()->set_name(info.name());
  if (!validate_only) aggs_[spec.name()].info = info;
  return info;
}

absl::Status FakeBackend::DeleteAggregation(absl::string_view id) {
  std::vector<std::shared_ptr<WindowListener>> listeners;
  {
    absl::MutexLock lock(&mu_);
    if (aggs_.erase(std::string(id)) == 0) return NotFound(id);
    for (const auto& [handle, l] : listeners_) listeners.push_back(l);
  }
  for (const auto& l : listeners) l->OnAggregationDeleted(id);
  return absl::OkStatus();
}

absl::StatusOr<v1::AggregationResult> FakeBackend::GetResult(
    absl::string_view id, v1::ResultView view) {
  absl::MutexLock lock(&mu_);
  auto it = aggs_.find(std::string(id));
  if (it == aggs_.end()) return NotFound(id);
  if (it->second.latest == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("aggregation '", id,
                     "' has not closed a window yet; try again "
                     "after its window ends"));
  }
  if (view == v1::RESULT_VIEW_CUMULATIVE) return it->second.cumulative;
  return *it->second.latest;
}

uint64_t FakeBackend::AddWindowListener(
    std::shared_ptr<WindowListener> listener) {
  absl::MutexLock lock(&mu_);
  listeners_[next_handle_] = std::move(listener);
  return next_handle_++;
}

void FakeBackend::RemoveWindowListener(uint64_t handle) {
  std::shared_ptr<WindowListener> gone;
  absl::MutexLock lock(&mu_);
  auto it = listeners_.find(handle);
  if (it == listeners_.end()) return;
  gone = std::move(it->second);
  listeners_.erase(it);
}

absl::StatusOr<uint64_t> FakeBackend::AddEventTap(
    std::shared_ptr<EventTap> tap) {
  absl::MutexLock lock(&mu_);
  taps_[next_handle_] = std::move(tap);
  return next_handle_++;
}

void FakeBackend::RemoveEventTap(uint64_t handle) {
  std::shared_ptr<EventTap> gone;
  absl::MutexLock lock(&mu_);
  auto it = taps_.find(handle);
  if (it == taps_.end()) return;
  gone = std::move(it->second);
  taps_.erase(it);
}

}  // namespace testing
}  // namespace ringwatch
