// The readers against the running kernel, each test in its own tracefs
// instance: markers come back exactly once and in order (mapped and read()),
// a page read while it grows, sched_switch decoded as the kernel's own
// `trace` file renders it, and loss reported as the kernel counts it.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdint>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "daemon/event/event_catalog.h"
#include "daemon/event/event_format.h"
#include "daemon/event/field_access.h"
#include "daemon/reader/cpu_ring.h"
#include "daemon/reader/reader_pool.h"
#include "daemon/ring/record.h"
#include "daemon/tracefs/instance.h"
#include "daemon/tracefs/testing/live_instance.h"
#include "daemon/tracefs/tracefs.h"
#include "daemon/util/file_util.h"
#include "daemon/util/scoped_fd.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::ElementsAreArray;
using ::testing::Gt;

const char* ModeName(RingMode mode) {
  switch (mode) {
    case RingMode::kAuto:
      return "auto";
    case RingMode::kMmap:
      return "mmap";
    case RingMode::kRead:
      return "read";
  }
  return "?";
}

bool PinToCpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return ::sched_setaffinity(0, sizeof(set), &set) == 0;
}

// Restores the calling thread's CPU affinity when it goes out of scope.
class ScopedPin {
 public:
  explicit ScopedPin(int cpu) {
    ok_ = ::sched_getaffinity(0, sizeof(saved_), &saved_) == 0 && PinToCpu(cpu);
  }
  ~ScopedPin() { ::sched_setaffinity(0, sizeof(saved_), &saved_); }
  bool ok() const { return ok_; }

 private:
  cpu_set_t saved_;
  bool ok_ = false;
};

std::string MarkerText(int i) { return absl::StrCat("rwmark ", i); }

// Writes markers i in [from, to) to the instance's trace_marker.
void WriteMarkers(const ScopedFd& marker, int from, int to) {
  for (int i = from; i < to; ++i) {
    std::string text = MarkerText(i);
    ASSERT_EQ(::write(marker.get(), text.data(), text.size()),
              static_cast<ssize_t>(text.size()))
        << "marker " << i;
  }
}

// Collects the text of ftrace/print records (trace_marker writes).
class MarkerSink : public RecordSink {
 public:
  MarkerSink(const EventFormat* print, const FieldFormat* buf)
      : print_id_(print->id), buf_(buf) {}
  void OnRecord(const RecordView& r) override {
    if (r.event_id() != static_cast<int32_t>(print_id_)) {
      ++others;
      return;
    }
    absl::string_view text;
    if (!FieldString(r.payload, *buf_, &text)) {
      ++bad;
      return;
    }
    markers.push_back(std::string(absl::StripSuffix(text, "\n")));
    cpus.push_back(r.cpu);
    if (!timestamps.empty() && r.timestamp < timestamps.back()) ++backwards;
    timestamps.push_back(r.timestamp);
  }
  void OnLoss(const LossReport& loss) override {
    lost += loss.count;
    if (loss.unknown) ++lost_unknown;
  }

  std::vector<std::string> markers;
  std::vector<uint32_t> cpus;
  std::vector<uint64_t> timestamps;
  uint64_t others = 0, bad = 0, backwards = 0, lost = 0, lost_unknown = 0;

 private:
  uint32_t print_id_;
  const FieldFormat* buf_;
};

std::vector<std::string> Markers(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(MarkerText(i));
  return out;
}

struct LiveSetup {
  EventCatalog catalog;
  const EventFormat* print = nullptr;
  const FieldFormat* buf = nullptr;
  std::vector<int> cpus;
};

// Loads what every marker test needs; fails the test when it cannot.
void LoadSetup(const Instance& instance, LiveSetup* setup) {
  absl::StatusOr<EventCatalog> catalog = instance.LoadCatalog();
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  setup->catalog = std::move(*catalog);
  setup->print = setup->catalog.FindByName("ftrace/print");
  ASSERT_NE(setup->print, nullptr);
  setup->buf = setup->print->FindField("buf");
  ASSERT_NE(setup->buf, nullptr);
  absl::StatusOr<std::vector<int>> cpus = OnlineCpus();
  ASSERT_TRUE(cpus.ok()) << cpus.status();
  ASSERT_FALSE(cpus->empty());
  setup->cpus = *cpus;
}

ScopedFd OpenMarker(const Instance& instance) {
  return ScopedFd(
      ::open(instance.File("trace_marker").c_str(), O_WRONLY | O_CLOEXEC));
}

uint64_t StatsField(const Instance& instance, int cpu, absl::string_view key) {
  absl::StatusOr<std::string> text =
      ReadFileToString(instance.CpuFile(cpu, "stats"));
  if (!text.ok()) return ~0ull;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (absl::ConsumePrefix(&line, key) && absl::ConsumePrefix(&line, ":")) {
      uint64_t v;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &v)) return v;
    }
  }
  return ~0ull;
}

// How long the writer waits for the pool to read anything before calling it
// a hang; well inside the target's timeout (medium, 300 s).
constexpr absl::Duration kReadWhileWritingBound = absl::Seconds(120);

class ReaderModeLiveTest : public ::testing::TestWithParam<RingMode> {};

// Test 1: 20000 markers written by a thread while the pool reads come back
// exactly once each, in order, with nothing lost; the tail that no wake-up
// announced is read by Stop(flush).
TEST_P(ReaderModeLiveTest, MarkersComeBackExactlyOnceInOrder) {
  RW_LIVE_INSTANCE_OR_SKIP(live,
                           absl::StrCat("markers_", ModeName(GetParam())));
  LiveSetup setup;
  ASSERT_NO_FATAL_FAILURE(LoadSetup(*live, &setup));
  ASSERT_TRUE(live->SetBufferSizeKb(2048).ok());
  // Wake the reader on every write, so that it races the writer on the
  // sub-buffer being filled rather than reading it all at Stop().
  ASSERT_TRUE(live->SetBufferPercent(0).ok());
  ASSERT_TRUE(live->SetTracingOn(true).ok());
  ScopedFd marker = OpenMarker(*live);
  ASSERT_TRUE(marker.valid());

  RingOptions options;
  options.mode = GetParam();
  absl::StatusOr<std::vector<std::unique_ptr<CpuRing>>> rings = OpenCpuRings(
      live->path(), setup.cpus, setup.catalog.header_page(), options);
  ASSERT_TRUE(rings.ok()) << rings.status();
  std::vector<MarkerSink> sinks(rings->size(),
                                MarkerSink(setup.print, setup.buf));
  std::vector<RecordSink*> sink_ptrs;
  for (MarkerSink& s : sinks) sink_ptrs.push_back(&s);
  absl::StatusOr<std::unique_ptr<ReaderPool>> pool =
      ReaderPool::Create(std::move(*rings), sink_ptrs);
  ASSERT_TRUE(pool.ok()) << pool.status();
  ASSERT_TRUE((*pool)->Start().ok());

  constexpr int kMarkers = 20000;
  const int writer_cpu = setup.cpus.back();
  // The reader reads while the writer writes, not only at Stop(): the
  // writer goes on to the second half only once the pool has read some of
  // the first (awaited, so a slow machine only makes it wait longer).
  uint64_t read_while_writing = 0;
  std::thread writer([&] {
    ASSERT_TRUE(PinToCpu(writer_cpu));
    WriteMarkers(marker, 0, kMarkers / 2);
    const absl::Time deadline = absl::Now() + kReadWhileWritingBound;
    while ((read_while_writing = (*pool)->Total().events) == 0 &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    ASSERT_GT(read_while_writing, 0u)
        << "the pool read nothing of " << kMarkers / 2
        << " markers while the writer waited";
    WriteMarkers(marker, kMarkers / 2, kMarkers);
  });
  writer.join();
  const RingCounters before_stop = (*pool)->Total();
  absl::Status stopped = (*pool)->Stop(/*flush=*/true);
  ASSERT_TRUE(stopped.ok()) << stopped;

  const size_t writer_index = setup.cpus.size() - 1;
  for (size_t i = 0; i < sinks.size(); ++i) {
    if (i != writer_index) {
      EXPECT_TRUE(sinks[i].markers.empty()) << i;
    }
    EXPECT_EQ(sinks[i].bad, 0u);
    EXPECT_EQ(sinks[i].lost, 0u);
  }
  const MarkerSink& got = sinks[writer_index];
  EXPECT_THAT(got.markers, ElementsAreArray(Markers(0, kMarkers)));
  EXPECT_EQ(got.backwards, 0u);
  for (uint32_t cpu : got.cpus) ASSERT_EQ(cpu, uint32_t(writer_cpu));

  RingCounters total = (*pool)->Total();
  EXPECT_EQ(total.mapped, GetParam() != RingMode::kRead);
  EXPECT_EQ(total.events, uint64_t{kMarkers});
  EXPECT_EQ(total.lost, 0u);
  EXPECT_EQ(total.lost_unknown, 0u);
  EXPECT_EQ(total.overrun, 0u);
  EXPECT_EQ(total.decode_errors, 0u);
  EXPECT_THAT(total.subbufs, Gt(1u));
  // How much was read before Stop() is a figure, not asserted: it depends
  // on scheduling.
  std::printf(
      "%s: %d markers, %llu read while writing, %llu before Stop, %llu "
      "sub-buffers, %llu syscalls\n",
      ModeName(GetParam()), kMarkers,
      static_cast<unsigned long long>(read_while_writing),
      static_cast<unsigned long long>(before_stop.events),
      static_cast<unsigned long long>(total.subbufs),
      static_cast<unsigned long long>(total.syscalls));
}

// Test 3: the sub-buffer the writer is filling is read, grows, and is read
// again from where the decoder stopped: after every batch everything written
// so far has been delivered once, in order.
TEST_P(ReaderModeLiveTest, GrowingPageIsReadOnceInOrder) {
  RW_LIVE_INSTANCE_OR_SKIP(live,
                           absl::StrCat("growing_", ModeName(GetParam())));
  LiveSetup setup;
  ASSERT_NO_FATAL_FAILURE(LoadSetup(*live, &setup));
  ASSERT_TRUE(live->SetTracingOn(true).ok());
  ScopedFd marker = OpenMarker(*live);
  ASSERT_TRUE(marker.valid());
  const int cpu = setup.cpus.back();
  ScopedPin pin(cpu);
  ASSERT_TRUE(pin.ok());

  RingOptions options;
  options.mode = GetParam();
  absl::StatusOr<std::unique_ptr<CpuRing>> ring =
      OpenCpuRing(live->CpuFile(cpu, "trace_pipe_raw"), cpu,
                  setup.catalog.header_page(), options);
  ASSERT_TRUE(ring.ok()) << ring.status();
  MarkerSink sink(setup.print, setup.buf);
  constexpr int kBatches = 300, kBatch = 7;
  for (int b = 0; b < kBatches; ++b) {
    WriteMarkers(marker, b * kBatch, (b + 1) * kBatch);
    absl::StatusOr<bool> got = (*ring)->ReadAvailable(&sink);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(*got) << "batch " << b;
    ASSERT_THAT(sink.markers, ElementsAreArray(Markers(0, (b + 1) * kBatch)))
        << "after batch " << b;
    // Nothing else writes to this ring: the read left it empty and says so
    // (the engine closes windows of quiet CPUs on that).
    EXPECT_TRUE((*ring)->drained()) << "batch " << b;
  }
  RingCounters c = (*ring)->counters();
  EXPECT_EQ(c.events, uint64_t{kBatches * kBatch});
  EXPECT_EQ(c.lost + c.lost_unknown + c.decode_errors, 0u);
  // Batches share sub-buffers: the mapped reader re-read growing pages
  // rather than taking one per batch.
  if (GetParam() == RingMode::kMmap) {
    EXPECT_LT(c.subbufs, uint64_t{kBatches});
  }
  // Nothing more, and nothing twice.
  absl::StatusOr<bool> again = (*ring)->ReadAvailable(&sink);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(*again);
  EXPECT_TRUE((*ring)->drained());
  EXPECT_EQ(sink.markers.size(), size_t{kBatches * kBatch});
}

// Test 4: a small ring flooded before anyone reads overwrites its oldest
// records; the reader reports as lost exactly what the kernel counts as
// overrun, and delivers the newest records in order.
TEST_P(ReaderModeLiveTest, LossMatchesKernelOverrun) {
  RW_LIVE_INSTANCE_OR_SKIP(live, absl::StrCat("loss_", ModeName(GetParam())));
  LiveSetup setup;
  ASSERT_NO_FATAL_FAILURE(LoadSetup(*live, &setup));
  ASSERT_TRUE(live->SetBufferSizeKb(16).ok());
  ASSERT_TRUE(live->SetTracingOn(true).ok());
  ScopedFd marker = OpenMarker(*live);
  ASSERT_TRUE(marker.valid());
  const int cpu = setup.cpus.back();
  ScopedPin pin(cpu);
  ASSERT_TRUE(pin.ok());

  RingOptions options;
  options.mode = GetParam();
  absl::StatusOr<std::unique_ptr<CpuRing>> ring =
      OpenCpuRing(live->CpuFile(cpu, "trace_pipe_raw"), cpu,
                  setup.catalog.header_page(), options);
  ASSERT_TRUE(ring.ok()) << ring.status();
  constexpr int kMarkers = 5000;
  WriteMarkers(marker, 0, kMarkers);
  ASSERT_TRUE(live->SetTracingOn(false).ok());
  const uint64_t kernel_overrun = StatsField(*live, cpu, "overrun");
  ASSERT_NE(kernel_overrun, ~0ull);
  ASSERT_GT(kernel_overrun, 0u) << "the flood did not overrun a 16 KiB ring";

  MarkerSink sink(setup.print, setup.buf);
  for (int round = 0; round < 64; ++round) {
    absl::StatusOr<bool> got = (*ring)->ReadAvailable(&sink);
    ASSERT_TRUE(got.ok()) << got.status();
    if (!*got) break;
  }
  RingCounters c = (*ring)->counters();
  EXPECT_EQ(c.lost, kernel_overrun);
  EXPECT_EQ(sink.lost, kernel_overrun);
  EXPECT_EQ(c.lost_unknown, 0u);
  if (GetParam() == RingMode::kMmap) {
    EXPECT_EQ(c.overrun, kernel_overrun);
    EXPECT_EQ(c.kernel_overrun, kernel_overrun);
  }
  // Every marker is either delivered or counted lost, and what is delivered
  // is the newest ones, in order.
  EXPECT_EQ(sink.markers.size() + c.lost, uint64_t{kMarkers});
  ASSERT_FALSE(sink.markers.empty());
  EXPECT_THAT(sink.markers, ElementsAreArray(Markers(
                                kMarkers - sink.markers.size(), kMarkers)));
  std::printf(
      "%s: %d markers into 16 KiB: %zu delivered, %llu lost, kernel "
      "overrun %llu\n",
      ModeName(GetParam()), kMarkers, sink.markers.size(),
      static_cast<unsigned long long>(c.lost),
      static_cast<unsigned long long>(kernel_overrun));
}

INSTANTIATE_TEST_SUITE_P(Modes, ReaderModeLiveTest,
                         ::testing::Values(RingMode::kMmap, RingMode::kRead),
                         [](const ::testing::TestParamInfo<RingMode>& info) {
                           return std::string(ModeName(info.param));
                         });

// One sched_switch as both sides render it.
struct Switch {
  uint32_t cpu = 0;
  uint64_t ts = 0;
  std::string prev_comm, prev_state, next_comm;
  int64_t prev_pid = 0, prev_prio = 0, next_pid = 0, next_prio = 0;

  std::string ToString() const {
    return absl::StrCat("[", cpu, "] ", ts, " ", prev_comm, ":", prev_pid, ":",
                        prev_prio, ":", prev_state, " ==> ", next_comm, ":",
                        next_pid, ":", next_prio);
  }
  bool operator==(const Switch& o) const { return ToString() == o.ToString(); }
};

void PrintTo(const Switch& s, std::ostream* os) { *os << s.ToString(); }

// prev_state as the print fmt renders it: the letters of the flags below
// TASK_REPORT_MAX joined with '|' ("R" for none), then "+" for preemption.
// The flag table is read from the format's own print fmt.
class StateRenderer {
 public:
  explicit StateRenderer(const std::string& print_fmt) {
    std::regex pair(R"re(\{\s*(0x[0-9a-fA-F]+)\s*,\s*"([^"]+)"\s*\})re");
    for (std::sregex_iterator it(print_fmt.begin(), print_fmt.end(), pair), end;
         it != end; ++it) {
      uint64_t bit = std::stoull((*it)[1].str(), nullptr, 16);
      flags_.emplace_back(bit, (*it)[2].str());
      max_ = std::max(max_, bit);
    }
  }
  bool ok() const { return !flags_.empty(); }
  std::string Render(int64_t state) const {
    const uint64_t report_max = max_ << 1;  // TASK_REPORT_MAX.
    const uint64_t bits = uint64_t(state) & (report_max - 1);
    std::vector<std::string> letters;
    for (const auto& [bit, letter] : flags_) {
      if (bits & bit) letters.push_back(letter);
    }
    std::string out = letters.empty() ? "R" : absl::StrJoin(letters, "|");
    if (uint64_t(state) & report_max) out += "+";
    return out;
  }

 private:
  std::vector<std::pair<uint64_t, std::string>> flags_;
  uint64_t max_ = 0;
};

class SwitchSink : public RecordSink {
 public:
  SwitchSink(const EventFormat* format, const StateRenderer* states)
      : format_(format), states_(states) {}
  void OnRecord(const RecordView& r) override {
    if (r.event_id() != static_cast<int32_t>(format_->id)) {
      ++others;
      return;
    }
    Switch s;
    s.cpu = r.cpu;
    s.ts = r.timestamp;
    absl::string_view text;
    int64_t v;
    bool ok = true;
    ok &= FieldString(r.payload, *format_->FindField("prev_comm"), &text);
    s.prev_comm = std::string(text);
    ok &= FieldString(r.payload, *format_->FindField("next_comm"), &text);
    s.next_comm = std::string(text);
    ok &= FieldInteger(r.payload, *format_->FindField("prev_pid"), &s.prev_pid);
    ok &=
        FieldInteger(r.payload, *format_->FindField("prev_prio"), &s.prev_prio);
    ok &= FieldInteger(r.payload, *format_->FindField("prev_state"), &v);
    s.prev_state = states_->Render(v);
    ok &= FieldInteger(r.payload, *format_->FindField("next_pid"), &s.next_pid);
    ok &=
        FieldInteger(r.payload, *format_->FindField("next_prio"), &s.next_prio);
    if (!ok) ++bad;
    switches.push_back(s);
  }
  std::vector<Switch> switches;
  uint64_t others = 0, bad = 0;

 private:
  const EventFormat* format_;
  const StateRenderer* states_;
};

// Parses the sched_switch lines of a `trace` file. `raw_clock`: the
// timestamp column is the raw clock value (non-nanosecond clocks); else it
// is seconds.microseconds and is returned in microseconds.
std::vector<Switch> ParseTrace(const std::string& text, bool raw_clock,
                               int* lost_lines) {
  std::vector<Switch> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    if (line.find("LOST") != absl::string_view::npos) ++*lost_lines;
    size_t tag = line.find(": sched_switch: ");
    if (tag == absl::string_view::npos) continue;
    Switch s;
    size_t open = line.find('[');
    size_t close = line.find(']', open);
    if (open == absl::string_view::npos || close == absl::string_view::npos ||
        !absl::SimpleAtoi(line.substr(open + 1, close - open - 1), &s.cpu)) {
      continue;
    }
    absl::string_view head = line.substr(0, tag);
    absl::string_view ts = head.substr(head.rfind(' ') + 1);
    if (raw_clock) {
      if (!absl::SimpleAtoi(ts, &s.ts)) continue;
    } else {
      std::pair<absl::string_view, absl::string_view> parts =
          absl::StrSplit(ts, '.');
      uint64_t sec, usec;
      if (!absl::SimpleAtoi(parts.first, &sec) ||
          !absl::SimpleAtoi(parts.second, &usec)) {
        continue;
      }
      s.ts = sec * 1000000 + usec;
    }
    absl::string_view rest = line.substr(tag + strlen(": sched_switch: "));
    // Comms may hold spaces: cut at the next known key instead of splitting.
    auto between = [&rest](absl::string_view key, absl::string_view next) {
      size_t a = rest.find(key);
      if (a == absl::string_view::npos) return std::string();
      a += key.size();
      size_t b = next.empty() ? rest.size() : rest.find(next, a);
      return std::string(rest.substr(a, b - a));
    };
    s.prev_comm = between("prev_comm=", " prev_pid=");
    s.prev_state = between(" prev_state=", " ==> ");
    s.next_comm = between("next_comm=", " next_pid=");
    bool ok =
        absl::SimpleAtoi(between(" prev_pid=", " prev_prio="), &s.prev_pid) &&
        absl::SimpleAtoi(between(" prev_prio=", " prev_state="),
                         &s.prev_prio) &&
        absl::SimpleAtoi(between(" next_pid=", " next_prio="), &s.next_pid) &&
        absl::SimpleAtoi(between(" next_prio=", ""), &s.next_prio);
    if (ok) out.push_back(s);
  }
  return out;
}

// Test 2: sched_switch fields and timestamps decoded from the mapped rings
// equal what the kernel's `trace` file prints for the same events.
TEST(ReaderLiveTest, SchedSwitchMatchesKernelTraceFile) {
  RW_LIVE_INSTANCE_OR_SKIP(live, "sched_switch");
  absl::StatusOr<EventCatalog> catalog = live->LoadCatalog();
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  const EventFormat* format = catalog->FindByName("sched/sched_switch");
  ASSERT_NE(format, nullptr);
  StateRenderer states(format->print_fmt);
  ASSERT_TRUE(states.ok()) << format->print_fmt;
  // A clock that is not in nanoseconds is printed raw, so timestamps compare
  // exactly; otherwise compare at the microseconds `trace` prints.
  absl::StatusOr<std::vector<std::string>> clocks =
      live->AvailableTraceClocks();
  ASSERT_TRUE(clocks.ok()) << clocks.status();
  bool raw_clock = false;
  for (const char* clock : {"x86-tsc", "counter"}) {
    if (std::find(clocks->begin(), clocks->end(), clock) != clocks->end()) {
      ASSERT_TRUE(live->SetTraceClock(clock).ok());
      raw_clock = true;
      break;
    }
  }
  ASSERT_TRUE(live->SetBufferSizeKb(4096).ok());
  ASSERT_TRUE(live->EnableEvent("sched/sched_switch").ok());
  ASSERT_TRUE(live->SetTracingOn(true).ok());
  {
    // Two threads handing a token back and forth through pipes switch on
    // every hand-over.
    int ping[2], pong[2];
    ASSERT_EQ(::pipe(ping), 0);
    ASSERT_EQ(::pipe(pong), 0);
    ScopedFd ping_r(ping[0]), ping_w(ping[1]), pong_r(pong[0]), pong_w(pong[1]);
    constexpr int kRounds = 500;
    std::thread echo([&] {
      char c;
      for (int i = 0; i < kRounds; ++i) {
        if (::read(ping_r.get(), &c, 1) != 1) return;
        if (::write(pong_w.get(), &c, 1) != 1) return;
      }
    });
    char c = 'x';
    for (int i = 0; i < kRounds; ++i) {
      ASSERT_EQ(::write(ping_w.get(), &c, 1), 1);
      ASSERT_EQ(::read(pong_r.get(), &c, 1), 1);
    }
    echo.join();
  }
  ASSERT_TRUE(live->SetTracingOn(false).ok());
  // `trace` iterates without consuming: read it first, then drain the rings.
  absl::StatusOr<std::string> text = ReadFileToString(live->File("trace"));
  ASSERT_TRUE(text.ok()) << text.status();
  int lost_lines = 0;
  std::vector<Switch> expected = ParseTrace(*text, raw_clock, &lost_lines);
  ASSERT_EQ(lost_lines, 0);
  ASSERT_GT(expected.size(), 500u);

  absl::StatusOr<std::vector<int>> cpus = OnlineCpus();
  ASSERT_TRUE(cpus.ok()) << cpus.status();
  RingOptions options;
  options.mode = RingMode::kMmap;
  absl::StatusOr<std::vector<std::unique_ptr<CpuRing>>> rings =
      OpenCpuRings(live->path(), *cpus, catalog->header_page(), options);
  ASSERT_TRUE(rings.ok()) << rings.status();
  std::vector<SwitchSink> sinks(rings->size(), SwitchSink(format, &states));
  std::vector<RecordSink*> sink_ptrs;
  for (SwitchSink& s : sinks) sink_ptrs.push_back(&s);
  absl::StatusOr<std::unique_ptr<ReaderPool>> pool =
      ReaderPool::Create(std::move(*rings), sink_ptrs);
  ASSERT_TRUE(pool.ok()) << pool.status();
  ASSERT_TRUE((*pool)->Drain().ok());
  EXPECT_EQ((*pool)->Total().decode_errors, 0u);
  EXPECT_EQ((*pool)->Total().lost, 0u);

  // Per CPU, in ring order (the file merges CPUs by time).
  std::map<uint32_t, std::vector<Switch>> want, got;
  for (const Switch& s : expected) want[s.cpu].push_back(s);
  for (const SwitchSink& sink : sinks) {
    EXPECT_EQ(sink.bad, 0u);
    for (Switch s : sink.switches) {
      if (!raw_clock) s.ts /= 1000;  // Nanoseconds to the file's microseconds.
      got[s.cpu].push_back(s);
    }
  }
  size_t compared = 0;
  for (const auto& [cpu, list] : want) {
    EXPECT_THAT(got[cpu], ElementsAreArray(list)) << "cpu " << cpu;
    compared += list.size();
  }
  EXPECT_EQ(got.size(), want.size());
  std::printf("compared %zu sched_switch events (%s clock)\n", compared,
              raw_clock ? "raw" : "ns");
}

}  // namespace
}  // namespace ringwatch
