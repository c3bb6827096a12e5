// ringwatch's decoder against libtraceevent (Debian's libtraceevent-dev,
// kbuffer + tep) on the same captured sub-buffers, in the same run: walk every
// record, find its event by id, and read common_pid plus one event field,
// both sides with field handles resolved once before the loop.
//
//   bazel run //bench:decode_vs_libtraceevent_benchmark
//   bash bench/decode_ratio.sh     # prints the ratio
#include <traceevent/event-parse.h>
// kbuffer.h has no extern "C" guard of its own.
extern "C" {
#include <traceevent/kbuffer.h>
}

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "daemon/event/event_format.h"
#include "daemon/event/field_access.h"
#include "daemon/event/header_page.h"
#include "daemon/ring/record.h"
#include "daemon/ring/subbuf_decoder.h"
#include "daemon/ring/testing/subbuf_fixtures.h"

namespace ringwatch {
namespace {

// Events whose formats were captured with the pages.
constexpr const char* kEvents[][2] = {{"sched", "sched_switch"},
                                      {"sched", "sched_waking"},
                                      {"ftrace", "print"},
                                      {"raw_syscalls", "sys_enter"},
                                      {"raw_syscalls", "sys_exit"}};

// The first scalar field after the common ones: the "one event field".
const FieldFormat* FirstEventScalar(const EventFormat& format) {
  for (const FieldFormat& field : format.fields) {
    if (!field.is_common && field.kind == FieldKind::kScalar) return &field;
  }
  return nullptr;
}

struct Setup {
  std::vector<std::vector<uint8_t>> pages;
  uint64_t total_bytes = 0;
  HeaderPageFormat header_page;
  std::vector<EventFormat> formats;
  std::vector<std::string> format_texts;  // For libtraceevent.
  std::string header_page_text;
  std::string error;
};

const Setup& GetSetup() {
  static const Setup* setup = [] {
    auto* s = new Setup;
    auto pages = LoadAllCapturedSubbufs();
    auto header = LoadCaptureHeaderPage();
    auto root = SubbufFixtureRoot();
    if (!pages.ok() || !header.ok() || !root.ok()) {
      s->error = "cannot load tests/data/subbufs";
      return s;
    }
    s->pages = *std::move(pages);
    for (const auto& page : s->pages) s->total_bytes += page.size();
    s->header_page = *header;
    auto header_text = ReadTextFile(*root + "/formats/header_page");
    if (header_text.ok()) s->header_page_text = *header_text;
    for (const auto& event : kEvents) {
      auto format = LoadCaptureEventFormat(event[0], event[1]);
      auto text = ReadTextFile(*root + "/formats/" + event[0] + "/" + event[1] +
                               "/format");
      if (!format.ok() || !text.ok()) {
        s->error = std::string("cannot load format of ") + event[1];
        return s;
      }
      s->formats.push_back(*format);
      s->format_texts.push_back(*text);
    }
    return s;
  }();
  return *setup;
}

// ringwatch: a dense table by id of compact field plans (offset, size,
// signedness), as a compiled aggregation program holds them; loads are
// bounds-checked against the record.
struct FieldPlan {
  uint32_t offset = 0;
  uint8_t size = 0;  // 0: the event has no such field.
  bool is_signed = false;
};

struct EventPlan {
  FieldPlan pid;
  FieldPlan field;
};

FieldPlan PlanFor(const FieldFormat* field) {
  FieldPlan plan;
  if (field == nullptr) return plan;
  plan.offset = field->offset;
  plan.size = static_cast<uint8_t>(field->size);
  plan.is_signed = field->is_signed;
  return plan;
}

class FieldReadingSink : public RecordSink {
 public:
  explicit FieldReadingSink(const std::vector<EventFormat>& formats) {
    for (const EventFormat& format : formats) {
      if (format.id >= plans_.size()) plans_.resize(format.id + 1);
      plans_[format.id].pid = PlanFor(format.FindField("common_pid"));
      plans_[format.id].field = PlanFor(FirstEventScalar(format));
    }
  }
  void OnRecord(const RecordView& record) override {
    ++records;
    int32_t id = record.event_id();
    if (id < 0 || static_cast<size_t>(id) >= plans_.size()) return;
    const EventPlan& plan = plans_[id];
    int64_t value;
    if (plan.pid.size &&
        LoadInteger(record.payload, plan.pid.offset, plan.pid.size,
                    plan.pid.is_signed, &value)) {
      checksum += value;
    }
    if (plan.field.size &&
        LoadInteger(record.payload, plan.field.offset, plan.field.size,
                    plan.field.is_signed, &value)) {
      checksum += value;
    }
  }
  uint64_t records = 0;
  uint64_t checksum = 0;

 private:
  std::vector<EventPlan> plans_;
};

void BM_Ringwatch_DecodeAndReadFields(benchmark::State& state) {
  const Setup& setup = GetSetup();
  if (!setup.error.empty()) {
    state.SkipWithError(setup.error.c_str());
    return;
  }
  FieldReadingSink sink(setup.formats);
  DecodeCounters counters;
  uint64_t pass_checksum = 0;
  for (auto _ : state) {
    sink.checksum = 0;
    for (const auto& page : setup.pages) {
      DecodeSubbuf(0, absl::MakeConstSpan(page), setup.header_page, &sink,
                   &counters)
          .IgnoreError();
    }
    pass_checksum = sink.checksum;
  }
  benchmark::DoNotOptimize(sink.checksum);
  state.SetItemsProcessed(static_cast<int64_t>(sink.records));
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * setup.total_bytes));
  // Low 48 bits, exact in a double: equal on both sides when both read the
  // same values.
  state.counters["checksum"] =
      static_cast<double>(pass_checksum & ((uint64_t{1} << 48) - 1));
  state.counters["records_per_pass"] =
      static_cast<double>(sink.records) / state.iterations();
}
BENCHMARK(BM_Ringwatch_DecodeAndReadFields);

// libtraceevent: kbuffer walks the page, tep resolves the id and reads the
// fields through handles looked up once.
void BM_Libtraceevent_DecodeAndReadFields(benchmark::State& state) {
  const Setup& setup = GetSetup();
  if (!setup.error.empty()) {
    state.SkipWithError(setup.error.c_str());
    return;
  }
  tep_handle* tep = tep_alloc();
  tep_set_long_size(tep, 8);
  tep_set_page_size(tep, static_cast<int>(setup.pages[0].size()));
  std::string header = setup.header_page_text;
  tep_parse_header_page(tep, header.data(), header.size(), 8);
  struct Plan {
    tep_event* event = nullptr;
    tep_format_field* pid = nullptr;
    tep_format_field* field = nullptr;
  };
  std::vector<Plan> plans;
  for (size_t i = 0; i < setup.formats.size(); ++i) {
    const std::string& text = setup.format_texts[i];
    if (tep_parse_event(tep, text.data(), text.size(),
                        setup.formats[i].system.c_str()) != 0) {
      state.SkipWithError("libtraceevent could not parse a format");
      tep_free(tep);
      return;
    }
    tep_event* event = tep_find_event(tep, setup.formats[i].id);
    if (setup.formats[i].id >= plans.size()) {
      plans.resize(setup.formats[i].id + 1);
    }
    Plan& plan = plans[setup.formats[i].id];
    plan.event = event;
    plan.pid = tep_find_common_field(event, "common_pid");
    const FieldFormat* field = FirstEventScalar(setup.formats[i]);
    plan.field = field ? tep_find_field(event, field->name.c_str()) : nullptr;
  }
  tep_format_field* type_field =
      tep_find_common_field(plans[setup.formats[0].id].event, "common_type");
  kbuffer* kbuf = kbuffer_alloc(KBUFFER_LSIZE_8, KBUFFER_ENDIAN_SAME_AS_HOST);
  uint64_t records = 0, checksum = 0;
  std::vector<std::vector<uint8_t>> pages =
      setup.pages;  // kbuffer wants void*.
  uint64_t pass_checksum = 0;
  for (auto _ : state) {
    checksum = 0;
    for (auto& page : pages) {
      kbuffer_load_subbuffer(kbuf, page.data());
      unsigned long long ts;
      for (void* data = kbuffer_read_event(kbuf, &ts); data != nullptr;
           data = kbuffer_next_event(kbuf, &ts)) {
        ++records;
        unsigned long long id, value;
        if (tep_read_number_field(type_field, data, &id) != 0 ||
            id >= plans.size() || plans[id].event == nullptr) {
          continue;
        }
        const Plan& plan = plans[id];
        if (plan.pid && tep_read_number_field(plan.pid, data, &value) == 0) {
          // tep returns the raw bits; sign-extend as ringwatch does.
          checksum += static_cast<int64_t>(static_cast<int32_t>(value));
        }
        if (plan.field &&
            tep_read_number_field(plan.field, data, &value) == 0) {
          if (plan.field->size == 4 &&
              (plan.field->flags & TEP_FIELD_IS_SIGNED)) {
            value = static_cast<int64_t>(static_cast<int32_t>(value));
          }
          checksum += value;
        }
      }
    }
    pass_checksum = checksum;
  }
  benchmark::DoNotOptimize(checksum);
  state.SetItemsProcessed(static_cast<int64_t>(records));
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * setup.total_bytes));
  state.counters["checksum"] =
      static_cast<double>(pass_checksum & ((uint64_t{1} << 48) - 1));
  state.counters["records_per_pass"] =
      static_cast<double>(records) / state.iterations();
  kbuffer_free(kbuf);
  tep_free(tep);
}
BENCHMARK(BM_Libtraceevent_DecodeAndReadFields);

}  // namespace
}  // namespace ringwatch

BENCHMARK_MAIN();
