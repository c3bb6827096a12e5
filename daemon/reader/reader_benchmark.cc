// Reader-side cost per event against the running kernel: a ring pre-filled
// with trace_marker records is drained through the mapped reader
// (GET_READER + in-place decode) and through read() of trace_pipe_raw, each
// with and without a FlightRecorder attached (recorder:1: every decoded
// byte is copied into the recorder, which is full and evicts). Only the
// drain is timed. Needs root and tracefs; reports an error otherwise.
// BM_ReadFilePages does the same without a kernel: read() of real captured
// pages from a file on tmpfs.
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
#include "daemon/reader/read_ring.h"
#include "daemon/recorder/flight_recorder.h"
#include "daemon/ring/record.h"
#include "daemon/tracedat/trace_dat_test_util.h"
#include "daemon/tracefs/instance.h"
#include "daemon/tracefs/testing/live_instance.h"
#include "daemon/tracefs/tracefs.h"
#include "daemon/util/file_util.h"
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

// A recorder like the daemon's (8 MiB per CPU) for `cpu_count` CPUs, full.
std::unique_ptr<FlightRecorder> MakeRecorder(uint32_t page_size,
                                             uint32_t cpu_count,
                                             const HeaderPageFormat& header) {
  FlightRecorderOptions options;
  options.page_size = page_size;
  options.cpu_count = cpu_count;
  options.header = header;
  auto recorder = FlightRecorder::Create(options);
  if (!recorder.ok()) return nullptr;
  // The steady state: every page's storage allocated and touched, so that
  // the timed part reuses evicted pages as a long-running daemon does.
  const std::vector<uint8_t> empty(page_size, 0);
  for (uint32_t cpu = 0; cpu < cpu_count; ++cpu) {
    for (uint64_t i = 0; i <= options.max_bytes_per_cpu / page_size; ++i) {
      if (!(*recorder)->AddPage(cpu, empty).ok()) return nullptr;
    }
    (*recorder)->BeginSubbuf(
        cpu, absl::MakeConstSpan(empty).first(header.data_offset), 0);
    (*recorder)->EndSubbuf(cpu);
  }
  return *std::move(recorder);
}

void SetPerEventCounters(benchmark::State& state, const RingCounters& c) {
  state.SetItemsProcessed(static_cast<int64_t>(c.events));
  // Timed seconds per event (shown in ns).
  state.counters["per_event"] = benchmark::Counter(
      static_cast<double>(c.events),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_DrainMarkers(benchmark::State& state) {
  const RingMode mode = static_cast<RingMode>(state.range(0));
  const int markers = static_cast<int>(state.range(1));
  const bool with_recorder = state.range(2) != 0;
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
  std::unique_ptr<FlightRecorder> recorder;
  if (with_recorder) {
    recorder =
        MakeRecorder(SubbufSizeForPipe(live->CpuFile(cpu, "trace_pipe_raw")),
                     static_cast<uint32_t>(cpu + 1), catalog->header_page());
    if (recorder == nullptr) {
      state.SkipWithError("cannot create the recorder");
      return;
    }
    (*ring)->set_subbuf_observer(recorder.get());
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
  SetPerEventCounters(state, c);
  if (recorder != nullptr) {
    state.counters["recorder_pages"] =
        static_cast<double>(recorder->counters().pages_added);
  }
  state.counters["syscalls_per_1k_events"] =
      c.events ? 1000.0 * c.syscalls / c.events : 0;
  state.counters["lost"] = static_cast<double>(c.lost);
  benchmark::DoNotOptimize(sink.checksum);
}
BENCHMARK(BM_DrainMarkers)
    ->ArgNames({"mode", "markers", "recorder"})
    ->Args({static_cast<int>(RingMode::kMmap), 50000, 0})
    ->Args({static_cast<int>(RingMode::kMmap), 50000, 1})
    ->Args({static_cast<int>(RingMode::kRead), 50000, 0})
    ->Args({static_cast<int>(RingMode::kRead), 50000, 1})
    ->Iterations(10)
    ->Unit(benchmark::kMillisecond);

// No kernel: ReadRing over a tmpfs file of 4096 real captured pages
// (tests/data/tracedat, repeated), with and without a recorder.
void BM_ReadFilePages(benchmark::State& state) {
  const bool with_recorder = state.range(0) != 0;
  uint32_t page_size = 0;
  auto pages =
      FixturePages({"v6.dat", "v7.dat", "all_events_v7.dat"}, &page_size);
  if (!pages.ok()) {
    state.SkipWithError("cannot read the captures");
    return;
  }
  std::vector<uint8_t> image;
  for (const StoredPage& page : *pages) {
    image.insert(image.end(), page.bytes.begin(), page.bytes.end());
  }
  if (image.empty()) {
    state.SkipWithError("no pages in the captures");
    return;
  }
  const size_t captured = image.size();
  while (image.size() < size_t{4096} * page_size) {
    image.insert(image.end(), image.begin(), image.begin() + captured);
  }
  image.resize(size_t{4096} * page_size);
  const std::string path =
      absl::StrCat("/dev/shm/rw_reader_bench_", ::getpid());
  {
    ScopedFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600));
    if (!fd.valid() || ::write(fd.get(), image.data(), image.size()) !=
                           static_cast<ssize_t>(image.size())) {
      state.SkipWithError("cannot write the page file on /dev/shm");
      return;
    }
  }
  std::unique_ptr<FlightRecorder> recorder;
  if (with_recorder) {
    recorder = MakeRecorder(page_size, 1, HeaderPageFormat::Default64());
  }
  CountingSink sink;
  RingCounters total;
  for (auto _ : state) {
    state.PauseTiming();
    auto ring =
        ReadRing::Create(path, 0, HeaderPageFormat::Default64(), page_size);
    if (!ring.ok()) {
      state.SkipWithError(ring.status().ToString().c_str());
      break;
    }
    if (recorder != nullptr) (*ring)->set_subbuf_observer(recorder.get());
    state.ResumeTiming();
    while (true) {
      absl::StatusOr<bool> more = (*ring)->ReadAvailable(&sink);
      if (!more.ok() || !*more) break;
    }
    state.PauseTiming();
    total.events += (*ring)->counters().events;
    state.ResumeTiming();
  }
  ::unlink(path.c_str());
  SetPerEventCounters(state, total);
  benchmark::DoNotOptimize(sink.checksum);
}
BENCHMARK(BM_ReadFilePages)
    ->ArgName("recorder")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ringwatch

BENCHMARK_MAIN();
