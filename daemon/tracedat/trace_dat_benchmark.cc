// Throughput of reading the committed trace.dat fixtures: opening (formats,
// zstd sections), merged decoding of all CPUs, and per-CPU decoding, for
// version 7 (zstd chunks) and version 6 (plain pages).
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "daemon/ring/record.h"
#include "daemon/tracedat/trace_dat_file.h"
#include "daemon/tracedat/trace_dat_test_util.h"

namespace ringwatch {
namespace {

// Counts records and touches each payload's last byte.
class CountingSink : public RecordSink {
 public:
  void OnRecord(const RecordView& record) override {
    ++records;
    sum += record.timestamp + record.payload[record.payload.size() - 1];
  }
  uint64_t records = 0;
  uint64_t sum = 0;
};

std::unique_ptr<TraceDatFile> OpenOrDie(benchmark::State& state,
                                        const std::string& name) {
  absl::StatusOr<std::unique_ptr<TraceDatFile>> f =
      TraceDatFile::Open(TraceDatFixture(name));
  if (!f.ok()) {
    state.SkipWithError(std::string(f.status().message()).c_str());
    return nullptr;
  }
  return *std::move(f);
}

void BM_Open(benchmark::State& state, const char* name) {
  for (auto _ : state) {
    std::unique_ptr<TraceDatFile> f = OpenOrDie(state, name);
    if (f == nullptr) return;
    benchmark::DoNotOptimize(f->catalog().size());
  }
}
BENCHMARK_CAPTURE(BM_Open, v7, "v7.dat");
BENCHMARK_CAPTURE(BM_Open, v6, "v6.dat");

void BM_ReadAll(benchmark::State& state, const char* name) {
  std::unique_ptr<TraceDatFile> f = OpenOrDie(state, name);
  if (f == nullptr) return;
  uint64_t records = 0;
  for (auto _ : state) {
    CountingSink sink;
    if (!f->ReadAll(&sink).ok()) state.SkipWithError("ReadAll failed");
    benchmark::DoNotOptimize(sink.sum);
    records += sink.records;
  }
  state.SetItemsProcessed(records);
}
BENCHMARK_CAPTURE(BM_ReadAll, v7, "v7.dat");
BENCHMARK_CAPTURE(BM_ReadAll, v6, "v6.dat");

void BM_ReadCpus(benchmark::State& state, const char* name) {
  std::unique_ptr<TraceDatFile> f = OpenOrDie(state, name);
  if (f == nullptr) return;
  uint64_t records = 0;
  for (auto _ : state) {
    CountingSink sink;
    for (uint32_t cpu = 0; cpu < f->cpu_count(); ++cpu) {
      DecodeCounters counters;
      if (!f->ReadCpu(cpu, &sink, &counters).ok()) {
        state.SkipWithError("ReadCpu failed");
      }
    }
    benchmark::DoNotOptimize(sink.sum);
    records += sink.records;
  }
  state.SetItemsProcessed(records);
}
BENCHMARK_CAPTURE(BM_ReadCpus, v7, "v7.dat");
BENCHMARK_CAPTURE(BM_ReadCpus, v6, "v6.dat");

}  // namespace
}  // namespace ringwatch
