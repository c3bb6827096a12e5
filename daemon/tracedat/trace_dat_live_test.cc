// Live kernel: fill a tracefs instance of our own, have trace-cmd extract it
// (file version 7, zstd) and convert it to version 6, then check that both
// decode to the events `trace-cmd report` prints for them. Skips, saying
// why, without root, tracefs or the trace-cmd binary.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "daemon/event/field_access.h"
#include "daemon/tracedat/trace_cmd_runner.h"
#include "daemon/tracedat/trace_dat_file.h"
#include "daemon/tracedat/trace_dat_test_util.h"
#include "daemon/tracefs/testing/live_instance.h"
#include "daemon/util/file_util.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

// Short-lived children: each makes wake-ups and context switches.
void SpawnChildren(int n) {
  for (int i = 0; i < n; ++i) {
    const pid_t pid = fork();
    if (pid == 0) {
      execl("/bin/true", "true", static_cast<char*>(nullptr));
      _exit(127);
    }
    if (pid > 0) waitpid(pid, nullptr, 0);
  }
}

size_t CountMarkers(const TraceDatFile& f, const CapturingSink& sink) {
  const EventFormat* print = f.catalog().FindByName("ftrace/print");
  if (print == nullptr) return 0;
  const FieldFormat* buf = print->FindField("buf");
  size_t n = 0;
  for (const CapturedRecord& r : sink.records) {
    absl::string_view text;
    if (r.payload.size() >= 2 && r.payload[0] == (print->id & 0xff) &&
        r.payload[1] == (print->id >> 8) && buf != nullptr &&
        FieldString(r.payload, *buf, &text) &&
        absl::StartsWith(text, "rwdat live marker")) {
      ++n;
    }
  }
  return n;
}

TEST(TraceDatLiveTest, TraceCmdExtractDecodesLikeItsReport) {
  const std::string trace_cmd = FindTraceCmd();
  if (trace_cmd.empty()) GTEST_SKIP() << "no trace-cmd binary on PATH";
  RW_LIVE_INSTANCE_OR_SKIP(live, "tracedat");
  const std::string name = live->name();
  // Only this test's process tree is traced, so builds and tests running
  // beside it cannot overrun the rings and overwrite the markers.
  ASSERT_TRUE(live->SetEventPid({getpid()}, /*follow_forks=*/true).ok());
  ASSERT_TRUE(live->SetBufferSizeKb(1024).ok());
  ASSERT_TRUE(live->EnableEvent("sched/sched_switch").ok());
  ASSERT_TRUE(live->EnableEvent("sched/sched_waking").ok());
  ASSERT_TRUE(live->SetTracingOn(true).ok());
  constexpr int kMarkers = 20;
  for (int i = 0; i < kMarkers; ++i) {
    ASSERT_TRUE(live->WriteMarker(absl::StrCat("rwdat live marker ", i)).ok());
    if (i == kMarkers / 2) {
      ASSERT_TRUE(live->EnableEvent("raw_syscalls/sys_enter").ok());
    }
    SpawnChildren(2);
  }
  ASSERT_TRUE(live->DisableEvent("raw_syscalls/sys_enter").ok());
  ASSERT_TRUE(live->SetTracingOn(false).ok());

  const std::string dir = TestScratchDir();
  const std::string v7 = absl::StrCat(dir, "/live7.dat");
  const std::string v6 = absl::StrCat(dir, "/live6.dat");
  absl::Status run = ExtractInstance(trace_cmd, live.get(), v7,
                                     absl::StrCat(dir, "/extract.log"));
  ASSERT_TRUE(run.ok()) << run;
  run = RunShell(
      absl::StrCat(trace_cmd, " convert --file-version 6 -i ", v7, " -o ", v6),
      absl::StrCat(dir, "/convert.log"));
  ASSERT_TRUE(run.ok()) << run;

  CapturingSink streams[2];
  const std::string files[2] = {v7, v6};
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE(files[i]);
    const std::string report = absl::StrCat(files[i], ".report.txt");
    const std::string raw = absl::StrCat(files[i], ".raw-report.txt");
    run = RunShell(absl::StrCat(trace_cmd, " report -i ", files[i]), report);
    ASSERT_TRUE(run.ok()) << run;
    run = RunShell(absl::StrCat(trace_cmd, " report -R -t -i ", files[i]), raw);
    ASSERT_TRUE(run.ok()) << run;
    absl::StatusOr<std::unique_ptr<TraceDatFile>> f =
        TraceDatFile::Open(files[i]);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ((*f)->version(), i == 0 ? 7 : 6);
    EXPECT_EQ((*f)->buffers()[(*f)->default_buffer()].name, name);
    DecodeCounters totals;
    ASSERT_TRUE((*f)->ReadAll(&streams[i], &totals).ok());
    EXPECT_EQ(totals.decode_errors, 0u);
    EXPECT_EQ(CountMarkers(**f, streams[i]), static_cast<size_t>(kMarkers));
    absl::StatusOr<std::string> report_text = ReadFileToString(report);
    absl::StatusOr<std::string> raw_text = ReadFileToString(raw);
    ASSERT_TRUE(report_text.ok() && raw_text.ok());
    const absl::Status plain = CompareWithReport(**f, streams[i], *report_text);
    EXPECT_TRUE(plain.ok()) << plain;
    const absl::Status exact = CompareWithRawReport(**f, streams[i], *raw_text);
    EXPECT_TRUE(exact.ok()) << exact;
  }
  EXPECT_GT(streams[0].records.size(), static_cast<size_t>(kMarkers));
  EXPECT_TRUE(streams[0].records == streams[1].records);
}

}  // namespace
}  // namespace ringwatch
