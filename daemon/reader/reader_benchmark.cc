// Reader-side cost per event against the running kernel: a ring pre-filled
// with trace_marker records is drained through the mapped reader
// (GET_READER + in-place decode) and through read() of trace_pipe_raw. Only
// the drain is timed. Needs root and tracefs; reports an error otherwise.
//
//   bazel run -c opt //daemon/reader:reader_benchmark
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "daemon/event/event_catalog.h"
#include "daemon/reader/cpu_ring.h"
#include "daemon/ring/record.h"
#include "daemon/tracefs/instance.h"
#include "daemon/tracefs/testing/live_instance.h"
#include "daemon/tracefs/tracefs.h"
#include "daemon/util/scoped_fd.h"

namespace ringwatch {
namespace {

// Touches the payload so that the decode is not optimised away.
class CountingSink : public RecordSink {
 public:
  void OnRecord(const RecordView& r) override {
    ++records;
    checksum += r.timestamp + r.payload.size();
  }
  uint64_t records = 0;
  uint64_t checksum = 0;
};

void BM_DrainMarkers(benchmark::State& state) {
  const RingMode mode = static_cast<RingMode>(state.range(0));
  const int markers = static_cast<int>(state.range(1));
  LiveInstance live = LiveInstance::CreateOrSkipReason(
      absl::StrCat("bench_", mode == RingMode::kRead ? "read" : "mmap"));
  if (!live.ok()) {
    state.SkipWithError(
        (live.skip_reason().empty() ? live.error() : live.skip_reason())
            .c_str());
    return;
  }
  absl::StatusOr<EventCatalog> catalog = live->LoadCatalog();
  absl::StatusOr<std::vector<int>> cpus = OnlineCpus();
  if (!catalog.ok() || !cpus.ok() || !live->SetBufferSizeKb(8192).ok() ||
      !live->SetTracingOn(true).ok()) {
    state.SkipWithError("instance setup failed");
    return;
  }
  const int cpu = cpus->back();
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (::sched_setaffinity(0, sizeof(set), &set) != 0) {
    state.SkipWithError("cannot pin to the ring's CPU");
    return;
  }
  ScopedFd marker(
      ::open(live->File("trace_marker").c_str(), O_WRONLY | O_CLOEXEC));
  RingOptions options;
  options.mode = mode;
  absl::StatusOr<std::unique_ptr<CpuRing>> ring =
      OpenCpuRing(live->CpuFile(cpu, "trace_pipe_raw"), cpu,
                  catalog->header_page(), options);
  if (!marker.valid() || !ring.ok()) {
    state.SkipWithError("cannot open trace_marker or the ring");
    return;
  }
  CountingSink sink;
  const std::string text = "ringwatch benchmark marker 0123456789";
  for (auto _ : state) {
    state.PauseTiming();
    for (int i = 0; i < markers; ++i) {
      if (::write(marker.get(), text.data(), text.size()) < 0) {
        state.SkipWithError("trace_marker write failed");
        return;
      }
    }
    state.ResumeTiming();
    while (true) {
      absl::StatusOr<bool> more = (*ring)->ReadAvailable(&sink);
      if (!more.ok()) {
        state.SkipWithError(more.status().ToString().c_str());
        return;
      }
      if (!*more) break;
    }
  }
  RingCounters c = (*ring)->counters();
  state.SetItemsProcessed(static_cast<int64_t>(c.events));
  state.counters["syscalls_per_1k_events"] =
      c.events ? 1000.0 * c.syscalls / c.events : 0;
  state.counters["lost"] = static_cast<double>(c.lost);
  benchmark::DoNotOptimize(sink.checksum);
}
BENCHMARK(BM_DrainMarkers)
    ->ArgNames({"mode", "markers"})
    ->Args({static_cast<int>(RingMode::kMmap), 50000})
    ->Args({static_cast<int>(RingMode::kRead), 50000})
    ->Iterations(10)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ringwatch

BENCHMARK_MAIN();
