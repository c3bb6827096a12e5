// What a snapshot costs: a recorder holding 64 MiB of real captured pages
// (every page of the tests/data/tracedat captures, repeated) written to a
// trace.dat on /tmp as version 7 with zstd, version 7 uncompressed and
// version 6. Timed: TraceDatWriter::Create, Snapshot and Finish (the whole
// file). Also the cost of feeding it, per page, through AddPage and through
// Begin/Append/End.
//
//   bazel run -c opt //daemon/recorder:flight_recorder_benchmark -- \
//     --benchmark_repetitions=3
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "daemon/recorder/flight_recorder.h"
#include "daemon/tracedat/trace_dat_test_util.h"
#include "daemon/tracedat/trace_dat_writer.h"
#include "daemon/util/file_util.h"

namespace ringwatch {
namespace {

constexpr uint32_t kCpus = 2;
constexpr uint64_t kHeldBytes = uint64_t{64} << 20;

struct Capture {
  uint32_t page_size = 0;
  std::vector<std::vector<uint8_t>> pages;  // Every CPU's, in file order.
  TraceDatMetadata metadata;
  std::string error;
};

// Every page of the committed captures with the capture's page size.
const Capture& LoadCapture() {
  static const Capture* capture = [] {
    auto* c = new Capture;
    auto pages =
        FixturePages({"v6.dat", "v7.dat", "all_events_v7.dat", "lossy_v7.dat"},
                     &c->page_size);
    if (!pages.ok()) {
      c->error = std::string(pages.status().message());
      return c;
    }
    for (StoredPage& page : *pages) c->pages.push_back(std::move(page.bytes));
    auto header_page =
        ReadFileToString(TraceDatFixture("../formats/header_page"));
    if (header_page.ok()) c->metadata.header_page = *header_page;
    if (c->pages.empty()) c->error = "no pages in the captures";
    return c;
  }();
  return *capture;
}

std::unique_ptr<FlightRecorder> MakeRecorder(const Capture& capture) {
  FlightRecorderOptions options;
  options.page_size = capture.page_size;
  options.cpu_count = kCpus;
  options.max_bytes_per_cpu = kHeldBytes / kCpus;
  auto recorder = FlightRecorder::Create(options);
  return recorder.ok() ? *std::move(recorder) : nullptr;
}

// A recorder holding kHeldBytes: the captured pages, repeated, round-robin
// over the CPUs.
std::unique_ptr<FlightRecorder> FullRecorder(const Capture& capture) {
  auto recorder = MakeRecorder(capture);
  if (recorder == nullptr) return nullptr;
  const uint64_t pages = kHeldBytes / capture.page_size;
  for (uint64_t i = 0; i < pages; ++i) {
    const auto& page = capture.pages[i % capture.pages.size()];
    if (!recorder->AddPage(static_cast<uint32_t>(i % kCpus), page).ok()) {
      return nullptr;
    }
  }
  return recorder;
}

// FullRecorder of the captures, or null after telling `state` why not.
std::unique_ptr<FlightRecorder> FullRecorderOrSkip(benchmark::State& state) {
  const Capture& capture = LoadCapture();
  if (!capture.error.empty()) {
    state.SkipWithError(capture.error.c_str());
    return nullptr;
  }
  std::unique_ptr<FlightRecorder> recorder = FullRecorder(capture);
  if (recorder == nullptr) state.SkipWithError("cannot fill the recorder");
  return recorder;
}

void BM_Snapshot(benchmark::State& state) {
  std::unique_ptr<FlightRecorder> recorder = FullRecorderOrSkip(state);
  if (recorder == nullptr) return;
  const Capture& capture = LoadCapture();
  TraceDatWriterOptions options;
  options.version = static_cast<int>(state.range(0));
  options.compression = state.range(1) != 0 ? TraceDatCompression::kZstd
                                            : TraceDatCompression::kNone;
  const std::string path =
      absl::StrCat("/tmp/rw_flight_recorder_bench_", ::getpid(), ".dat");
  uint64_t file_bytes = 0, pages = 0;
  for (auto _ : state) {
    auto writer =
        TraceDatWriter::Create(path, capture.page_size, kCpus, options);
    if (!writer.ok()) {
      state.SkipWithError(writer.status().ToString().c_str());
      break;
    }
    auto snapshot = recorder->Snapshot(0, writer->get());
    if (!snapshot.ok()) {
      state.SkipWithError(snapshot.status().ToString().c_str());
      break;
    }
    absl::Status finished = (*writer)->Finish(capture.metadata);
    if (!finished.ok()) {
      state.SkipWithError(finished.ToString().c_str());
      break;
    }
    file_bytes = (*writer)->file_bytes();
    pages = snapshot->pages;
  }
  ::unlink(path.c_str());
  const FlightRecorderCounters c = recorder->counters();
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(c.bytes_held));
  state.counters["pages"] = static_cast<double>(pages);
  state.counters["bytes_held"] = static_cast<double>(c.bytes_held);
  state.counters["reserved_bytes"] =
      static_cast<double>(recorder->reserved_bytes());
  state.counters["file_bytes"] = static_cast<double>(file_bytes);
}
BENCHMARK(BM_Snapshot)
    ->ArgNames({"version", "zstd"})
    ->Args({7, 1})
    ->Args({7, 0})
    ->Args({6, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Feeding: one page per iteration, the recorder full (every page evicts
// the oldest, whose storage it reuses). range(0): 0 AddPage, 1
// Begin/Append/End with the data in 4 stretches.
void BM_Feed(benchmark::State& state) {
  std::unique_ptr<FlightRecorder> recorder = FullRecorderOrSkip(state);
  if (recorder == nullptr) return;
  const Capture& capture = LoadCapture();
  const bool observed = state.range(0) != 0;
  const uint32_t data_offset = 16;
  size_t i = 0;
  for (auto _ : state) {
    const auto& page = capture.pages[i++ % capture.pages.size()];
    if (!observed) {
      benchmark::DoNotOptimize(recorder->AddPage(0, page));
      continue;
    }
    // The stretches need not be record boundaries for the recorder.
    absl::Span<const uint8_t> all(page);
    recorder->BeginSubbuf(0, all.first(data_offset), 0);
    const size_t quarter = (all.size() - data_offset) / 4;
    for (int s = 0; s < 4; ++s) {
      recorder->AppendData(0, all.subspan(data_offset + s * quarter, quarter),
                           0);
    }
    recorder->EndSubbuf(0);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          capture.page_size);
}
BENCHMARK(BM_Feed)->ArgName("observer")->Arg(0)->Arg(1);

}  // namespace
}  // namespace ringwatch

BENCHMARK_MAIN();
