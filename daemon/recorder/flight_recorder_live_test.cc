// The flight recorder fed by a ReaderPool reading a live instance (mapped
// and read()): markers written to the instance's trace_marker are each in
// the snapshot's trace.dat exactly once, both while the readers run (the
// newest markers are then on sub-buffers the kernel's writer is still
// filling: the recorder's open pages) and after they stop. Decoded with
// TraceDatFile, and with `trace-cmd report` when it is installed.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "daemon/event/event_catalog.h"
#include "daemon/event/event_format.h"
#include "daemon/event/field_access.h"
#include "daemon/reader/cpu_ring.h"
#include "daemon/reader/reader_pool.h"
#include "daemon/recorder/flight_recorder.h"
#include "daemon/ring/record.h"
#include "daemon/tracedat/trace_cmd_runner.h"
#include "daemon/tracedat/trace_dat_file.h"
#include "daemon/tracedat/trace_dat_metadata.h"
#include "daemon/tracedat/trace_dat_writer.h"
#include "daemon/tracefs/instance.h"
#include "daemon/tracefs/testing/live_instance.h"
#include "daemon/tracefs/tracefs.h"
#include "daemon/util/file_util.h"
#include "daemon/util/scoped_fd.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

constexpr int kMarkers = 20000;
constexpr absl::Duration kDeliveryBound = absl::Seconds(120);

const char* ModeName(RingMode mode) {
  return mode == RingMode::kRead ? "read" : "mmap";
}

std::string MarkerText(int i) { return absl::StrCat("rwrec ", i); }

// Counts, per marker number, the ftrace/print records carrying it.
class MarkerCounter : public RecordSink {
 public:
  MarkerCounter(const EventFormat* print, const FieldFormat* buf)
      : print_id_(print->id), buf_(buf), seen(kMarkers, 0) {}
  void OnRecord(const RecordView& r) override {
    if (r.event_id() != static_cast<int32_t>(print_id_)) return;
    absl::string_view text;
    int n = 0;
    if (FieldString(r.payload, *buf_, &text) &&
        absl::ConsumePrefix(&text, "rwrec ") &&
        absl::SimpleAtoi(absl::StripSuffix(text, "\n"), &n) && n >= 0 &&
        n < kMarkers) {
      ++seen[n];
    } else {
      ++other;
    }
  }
  void OnLoss(const LossReport& loss) override { lost += loss.count + 1; }

  uint32_t print_id_;
  const FieldFormat* buf_;
  std::vector<int> seen;
  uint64_t other = 0;
  uint64_t lost = 0;
};

// How many markers are not seen exactly once, and the first of them.
std::string CheckOnce(const std::vector<int>& seen) {
  int wrong = 0, first = -1;
  for (int i = 0; i < kMarkers; ++i) {
    if (seen[i] != 1) {
      if (first < 0) first = i;
      ++wrong;
    }
  }
  if (wrong == 0) return "";
  return absl::StrCat(wrong, " markers not seen exactly once; first ",
                      MarkerText(first), " seen ", seen[first], " times");
}

class FlightRecorderLiveTest : public ::testing::TestWithParam<RingMode> {};

TEST_P(FlightRecorderLiveTest, EveryMarkerIsInTheSnapshotOnce) {
  RW_LIVE_INSTANCE_OR_SKIP(live,
                           absl::StrCat("recorder_", ModeName(GetParam())));
  absl::StatusOr<EventCatalog> catalog = live->LoadCatalog();
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  const EventFormat* print = catalog->FindByName("ftrace/print");
  ASSERT_NE(print, nullptr);
  const FieldFormat* buf = print->FindField("buf");
  ASSERT_NE(buf, nullptr);
  absl::StatusOr<std::vector<int>> cpus = OnlineCpus();
  ASSERT_TRUE(cpus.ok()) << cpus.status();
  ASSERT_FALSE(cpus->empty());
  ASSERT_TRUE(live->SetBufferSizeKb(2048).ok());
  ASSERT_TRUE(live->SetBufferPercent(0).ok());
  ASSERT_TRUE(live->SetTracingOn(true).ok());
  ScopedFd marker(
      ::open(live->File("trace_marker").c_str(), O_WRONLY | O_CLOEXEC));
  ASSERT_TRUE(marker.valid());

  FlightRecorderOptions options;
  options.page_size = InstanceSubbufSize(live->path());
  options.cpu_count =
      static_cast<uint32_t>(*std::max_element(cpus->begin(), cpus->end()) + 1);
  // Holds every marker even if each read() returned a page of its own (a
  // busy machine makes read() pages sparse: 4096 pages once held only 60%
  // of them).
  options.max_bytes_per_cpu = uint64_t{kMarkers} * options.page_size;
  options.header = catalog->header_page();
  auto recorder = FlightRecorder::Create(options);
  ASSERT_TRUE(recorder.ok()) << recorder.status();

  RingOptions ring_options;
  ring_options.mode = GetParam();
  auto rings =
      OpenCpuRings(live->path(), *cpus, catalog->header_page(), ring_options);
  ASSERT_TRUE(rings.ok()) << rings.status();
  for (auto& ring : *rings) ring->set_subbuf_observer(recorder->get());
  std::vector<RecordSink*> sinks;
  std::vector<std::unique_ptr<MarkerCounter>> counters;
  for (size_t i = 0; i < rings->size(); ++i) {
    counters.push_back(std::make_unique<MarkerCounter>(print, buf));
    sinks.push_back(counters.back().get());
  }
  auto pool = ReaderPool::Create(std::move(*rings), sinks);
  ASSERT_TRUE(pool.ok()) << pool.status();
  ASSERT_TRUE((*pool)->Start().ok());
  for (int i = 0; i < kMarkers; ++i) {
    const std::string text = MarkerText(i);
    ASSERT_EQ(::write(marker.get(), text.data(), text.size()),
              static_cast<ssize_t>(text.size()))
        << "marker " << i;
  }
  // Wait until the pool has delivered every marker (the bound only turns a
  // hang into a message), then snapshot while it still runs.
  const absl::Time deadline = absl::Now() + kDeliveryBound;
  while ((*pool)->Total().events < uint64_t{kMarkers} &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_GE((*pool)->Total().events, uint64_t{kMarkers});

  absl::StatusOr<TraceDatMetadata> metadata = [&] {
    TraceDatMetadataSources sources;
    sources.tracefs_root = live.tracefs_root();
    sources.instance_dir = live->path();
    sources.kallsyms_path = "";
    return LoadTraceDatMetadata(sources);
  }();
  ASSERT_TRUE(metadata.ok()) << metadata.status();
  const std::string trace_cmd = FindTraceCmd();
  auto snapshot_and_check = [&](const std::string& name,
                                TraceDatWriterOptions writer_options) {
    const std::string path = absl::StrCat(TestScratchDir(), "/", name, ".dat");
    auto writer = TraceDatWriter::Create(path, options.page_size,
                                         options.cpu_count, writer_options);
    ASSERT_TRUE(writer.ok()) << writer.status();
    auto snapshot = (*recorder)->Snapshot(0, writer->get());
    ASSERT_TRUE(snapshot.ok()) << snapshot.status();
    ASSERT_TRUE((*writer)->Finish(*metadata).ok());
    EXPECT_EQ(snapshot->pages_evicted_during, 0u);
    auto file = TraceDatFile::Open(path);
    ASSERT_TRUE(file.ok()) << file.status();
    MarkerCounter decoded(print, buf);
    DecodeCounters totals;
    ASSERT_TRUE((*file)->ReadAll(&decoded, &totals).ok());
    EXPECT_EQ(CheckOnce(decoded.seen), "") << name;
    EXPECT_EQ(totals.decode_errors, 0u) << name;
    std::printf("%s: %llu pages, %llu bytes\n", name.c_str(),
                static_cast<unsigned long long>(snapshot->pages),
                static_cast<unsigned long long>((*writer)->file_bytes()));
    if (trace_cmd.empty()) {
      std::printf("%s: trace-cmd not installed, not compared\n", name.c_str());
      return;
    }
    const std::string report = path + ".report";
    absl::Status ran = RunShell(
        absl::StrCat("'", trace_cmd, "' report -i '", path, "'"), report);
    ASSERT_TRUE(ran.ok()) << ran;
    absl::StatusOr<std::string> text = ReadFileToString(report);
    ASSERT_TRUE(text.ok());
    std::vector<int> seen(kMarkers, 0);
    static const std::regex kMarkerRe("rwrec ([0-9]+)\\b");
    for (std::sregex_iterator it(text->begin(), text->end(), kMarkerRe), end;
         it != end; ++it) {
      int n = 0;
      if (absl::SimpleAtoi((*it)[1].str(), &n) && n >= 0 && n < kMarkers) {
        ++seen[n];
      }
    }
    EXPECT_EQ(CheckOnce(seen), "") << name << " (trace-cmd report)";
  };
  const FlightRecorderCounters running = (*recorder)->counters();
  snapshot_and_check(absl::StrCat("running_", ModeName(GetParam())),
                     TraceDatWriterOptions());
  ASSERT_TRUE((*pool)->Stop(/*flush=*/true).ok());
  TraceDatWriterOptions v6;
  v6.version = 6;
  snapshot_and_check(absl::StrCat("stopped_", ModeName(GetParam())), v6);

  // The readers themselves got each marker once, and nothing was lost.
  std::vector<int> read(kMarkers, 0);
  for (const auto& c : counters) {
    EXPECT_EQ(c->lost, 0u);
    for (int i = 0; i < kMarkers; ++i) read[i] += c->seen[i];
  }
  EXPECT_EQ(CheckOnce(read), "");
  const FlightRecorderCounters c = (*recorder)->counters();
  EXPECT_EQ(c.pages_evicted_for_bytes + c.pages_evicted_for_age, 0u);
  EXPECT_EQ(c.appends_refused, 0u);
  std::printf("%s: %llu pages closed and %llu open while running; %llu held\n",
              ModeName(GetParam()),
              static_cast<unsigned long long>(running.pages_added),
              static_cast<unsigned long long>(running.pages_open),
              static_cast<unsigned long long>(c.pages_held));
}

INSTANTIATE_TEST_SUITE_P(Modes, FlightRecorderLiveTest,
                         ::testing::Values(RingMode::kMmap, RingMode::kRead),
                         [](const auto& info) {
                           return std::string(ModeName(info.param));
                         });

}  // namespace
}  // namespace ringwatch
