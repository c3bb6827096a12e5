// Decode throughput on the sub-buffers captured from the kernel
// (tests/data/subbufs): records and bytes per second, with a sink that only
// counts and with one that reads two fields per record at offsets resolved
// once from the format files.
//
//   bazel run //daemon/ring:subbuf_decoder_benchmark --
//   --benchmark_min_time=0.5
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "daemon/event/event_format.h"
#include "daemon/event/header_page.h"
#include "daemon/ring/record.h"
#include "daemon/ring/subbuf_decoder.h"
#include "daemon/ring/testing/subbuf_fixtures.h"

namespace ringwatch {
namespace {

struct Pages {
  std::vector<std::vector<uint8_t>> pages;
  std::string error;
};

const Pages& CapturedPages() {
  static const Pages* pages = [] {
    auto* p = new Pages;
    absl::StatusOr<std::vector<std::vector<uint8_t>>> loaded =
        LoadAllCapturedSubbufs();
    if (loaded.ok()) {
      p->pages = *std::move(loaded);
    } else {
      p->error = std::string(loaded.status().message());
    }
    return p;
  }();
  return *pages;
}

class CountingSink : public RecordSink {
 public:
  void OnRecord(const RecordView& record) override {
    ++records;
    last_timestamp = record.timestamp;
  }
  uint64_t records = 0;
  uint64_t last_timestamp = 0;
};

// Two fields per event, at offsets resolved before decoding; a dense table
// indexed by event id, as a compiled aggregation program would hold.
struct FieldPair {
  uint32_t offset[2] = {0, 0};
  uint32_t size[2] = {0, 0};  // 0: no such field for this event.
};

class TwoFieldSink : public RecordSink {
 public:
  explicit TwoFieldSink(std::vector<FieldPair> table)
      : table_(std::move(table)) {}

  void OnRecord(const RecordView& record) override {
    ++records;
    const int32_t id = record.event_id();
    if (id < 0 || static_cast<size_t>(id) >= table_.size()) return;
    const FieldPair& f = table_[id];
    for (int i = 0; i < 2; ++i) {
      if (f.size[i] == 0 || f.offset[i] + f.size[i] > record.payload.size()) {
        continue;
      }
      sum += Load(record.payload.data() + f.offset[i], f.size[i]);
      ++fields;
    }
  }

  // Constant-size loads the compiler turns into single moves.
  static uint64_t Load(const uint8_t* p, uint32_t size) {
    switch (size) {
      case 1:
        return *p;
      case 2: {
        uint16_t v;
        std::memcpy(&v, p, 2);
        return v;
      }
      case 4: {
        uint32_t v;
        std::memcpy(&v, p, 4);
        return v;
      }
      default: {
        uint64_t v;
        std::memcpy(&v, p, 8);
        return v;
      }
    }
  }
  uint64_t records = 0;
  uint64_t fields = 0;
  uint64_t sum = 0;

 private:
  std::vector<FieldPair> table_;
};

absl::StatusOr<std::vector<FieldPair>> ResolveFields() {
  struct Want {
    const char* system;
    const char* event;
    const char* field;
  };
  const Want wants[] = {{"raw_syscalls", "sys_enter", "id"},
                        {"raw_syscalls", "sys_exit", "ret"},
                        {"sched", "sched_switch", "next_pid"},
                        {"sched", "sched_waking", "pid"},
                        {"ftrace", "print", "ip"}};
  std::vector<FieldPair> table;
  for (const Want& w : wants) {
    absl::StatusOr<EventFormat> format =
        LoadCaptureEventFormat(w.system, w.event);
    if (!format.ok()) return format.status();
    const FieldFormat* pid = format->FindField("common_pid");
    const FieldFormat* field = format->FindField(w.field);
    if (pid == nullptr || field == nullptr) {
      return absl::NotFoundError(
          absl::StrCat(format->FullName(), ": no common_pid or ", w.field));
    }
    if (table.size() <= format->id) table.resize(format->id + 1);
    FieldPair& f = table[format->id];
    f.offset[0] = pid->offset;
    f.size[0] = pid->size;
    f.offset[1] = field->offset;
    f.size[1] = field->size;
  }
  return table;
}

uint64_t DataBytes(const std::vector<std::vector<uint8_t>>& pages) {
  uint64_t total = 0;
  for (const std::vector<uint8_t>& page : pages) {
    SubbufHeader h;
    if (ParseSubbufHeader(page, HeaderPageFormat::Default64(), &h).ok()) {
      total += h.data_size;
    }
  }
  return total;
}

void BM_DecodeCapturedSubbufs(benchmark::State& state) {
  const Pages& pages = CapturedPages();
  if (!pages.error.empty()) {
    state.SkipWithError(pages.error.c_str());
    return;
  }
  const HeaderPageFormat format = HeaderPageFormat::Default64();
  CountingSink sink;
  DecodeCounters counters;
  for (auto _ : state) {
    for (const std::vector<uint8_t>& page : pages.pages) {
      benchmark::DoNotOptimize(
          DecodeSubbuf(0, page, format, &sink, &counters).ok());
    }
  }
  if (counters.decode_errors != 0) state.SkipWithError("decode errors");
  state.counters["events"] = benchmark::Counter(
      static_cast<double>(sink.records), benchmark::Counter::kIsRate);
  state.counters["events_per_page"] = static_cast<double>(sink.records) /
                                      (state.iterations() * pages.pages.size());
  state.SetBytesProcessed(state.iterations() * DataBytes(pages.pages));
}
BENCHMARK(BM_DecodeCapturedSubbufs);

void BM_DecodeAndReadTwoFields(benchmark::State& state) {
  const Pages& pages = CapturedPages();
  absl::StatusOr<std::vector<FieldPair>> table = ResolveFields();
  if (!pages.error.empty() || !table.ok()) {
    state.SkipWithError(pages.error.empty()
                            ? std::string(table.status().message()).c_str()
                            : pages.error.c_str());
    return;
  }
  const HeaderPageFormat format = HeaderPageFormat::Default64();
  TwoFieldSink sink(*std::move(table));
  DecodeCounters counters;
  for (auto _ : state) {
    for (const std::vector<uint8_t>& page : pages.pages) {
      benchmark::DoNotOptimize(
          DecodeSubbuf(0, page, format, &sink, &counters).ok());
    }
  }
  benchmark::DoNotOptimize(sink.sum);
  if (counters.decode_errors != 0) state.SkipWithError("decode errors");
  state.counters["events"] = benchmark::Counter(
      static_cast<double>(sink.records), benchmark::Counter::kIsRate);
  state.counters["fields"] = benchmark::Counter(
      static_cast<double>(sink.fields), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(state.iterations() * DataBytes(pages.pages));
}
BENCHMARK(BM_DecodeAndReadTwoFields);

// The incremental path the mapped reader takes on a growing sub-buffer:
// Decode called again each time the commit moves by range(0) records.
void BM_DecodeIncrementally(benchmark::State& state) {
  const Pages& pages = CapturedPages();
  if (!pages.error.empty()) {
    state.SkipWithError(pages.error.c_str());
    return;
  }
  const HeaderPageFormat format = HeaderPageFormat::Default64();
  const std::vector<uint8_t>& page = pages.pages.front();
  SubbufHeader header;
  if (!ParseSubbufHeader(page, format, &header).ok()) {
    state.SkipWithError("bad first page");
    return;
  }
  // Record boundaries, where the kernel's commit can land: the offsets a
  // fresh decoder can skip to.
  CountingSink sink;
  DecodeCounters counters;
  std::vector<uint32_t> commits;
  const size_t every = static_cast<size_t>(state.range(0));
  size_t boundaries = 0;
  for (uint32_t off = 4; off <= header.data_size; off += 4) {
    SubbufDecoder probe;
    probe.Start(0, page, format, header, &sink, &counters);
    if (probe.Skip(off).ok() && ++boundaries % every == 0) {
      commits.push_back(off);
    }
  }
  commits.push_back(header.data_size);
  sink.records = 0;
  SubbufDecoder decoder;
  for (auto _ : state) {
    decoder.Start(0, page, format, header, &sink, &counters);
    for (uint32_t commit : commits) {
      benchmark::DoNotOptimize(decoder.Decode(commit, &sink, &counters).ok());
    }
  }
  if (counters.decode_errors != 0) state.SkipWithError("decode errors");
  state.counters["events"] = benchmark::Counter(
      static_cast<double>(sink.records), benchmark::Counter::kIsRate);
  state.counters["decode_calls"] = benchmark::Counter(
      static_cast<double>(state.iterations() * commits.size()),
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DecodeIncrementally)->Arg(1)->Arg(8)->Arg(64);

}  // namespace
}  // namespace ringwatch
