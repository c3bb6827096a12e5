// Live kernel + trace-cmd: every event of the running kernel enabled in an
// instance of our own while the machine does its work, extracted with
// `trace-cmd extract`; every field of every event must decode to what
// `trace-cmd report -R -t` prints (with the file's kallsyms: symbols for
// kernel addresses). The live twin of all_events_report_test.
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "daemon/tracedat/raw_report_compare.h"
#include "daemon/tracedat/trace_cmd_runner.h"
#include "daemon/tracedat/trace_dat_file.h"
#include "daemon/tracedat/trace_dat_test_util.h"
#include "daemon/tracefs/testing/live_instance.h"
#include "daemon/util/file_util.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

TEST(AllEventsLiveTest, EveryFieldOfEveryEventEqualsTraceCmdRawReport) {
  const std::string trace_cmd = FindTraceCmd();
  if (trace_cmd.empty()) {
    RW_SKIP("no trace-cmd binary on PATH (tools/setup.sh installs it)");
  }
  RW_LIVE_INSTANCE_OR_SKIP(live, "all_events");
  const std::string name = live->name();
  // Small rings: the file holds the last 256 KB per CPU, loss included.
  ASSERT_TRUE(live->SetBufferSizeKb(256).ok());
  ASSERT_TRUE(WriteStringToFile(live->path() + "/events/enable", "1").ok());
  ASSERT_TRUE(live->SetTracingOn(true).ok());
  // Work of our own beside whatever the machine does: forks, execs, files.
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(live->WriteMarker(absl::StrCat("rw all events ", i)).ok());
    const pid_t pid = fork();
    if (pid == 0) {
      execl("/bin/ls", "ls", "/proc/self/", static_cast<char*>(nullptr));
      _exit(127);
    }
    if (pid > 0) waitpid(pid, nullptr, 0);
  }
  ASSERT_TRUE(live->SetTracingOn(false).ok());
  ASSERT_TRUE(WriteStringToFile(live->path() + "/events/enable", "0").ok());

  const std::string dir = TestScratchDir();
  const std::string file = absl::StrCat(dir, "/all_events_live.dat");
  absl::Status run = ExtractInstance(trace_cmd, live.get(), file,
                                     absl::StrCat(dir, "/extract.log"));
  ASSERT_TRUE(run.ok()) << run;
  const std::string raw = absl::StrCat(file, ".raw-report.txt");
  run = RunShell(absl::StrCat(trace_cmd, " report -R -t -i ", file), raw);
  ASSERT_TRUE(run.ok()) << run;

  absl::StatusOr<std::unique_ptr<TraceDatFile>> f = TraceDatFile::Open(file);
  ASSERT_TRUE(f.ok()) << f.status();
  CapturingSink sink;
  DecodeCounters totals;
  ASSERT_TRUE((*f)->ReadAll(&sink, &totals).ok());
  EXPECT_EQ(totals.decode_errors, 0u);
  absl::StatusOr<std::string> text = ReadFileToString(raw);
  ASSERT_TRUE(text.ok());
  absl::StatusOr<RawReportCoverage> coverage =
      CompareEveryFieldWithRawReport(**f, sink, *text);
  ASSERT_TRUE(coverage.ok()) << coverage.status();
  EXPECT_EQ(coverage->events, sink.records.size());
  // Every event enabled on a working machine: far more than a handful.
  EXPECT_GE(coverage->event_types.size(), 20u);
  std::string renderings;
  for (const auto& [rendering, n] : coverage->renderings) {
    absl::StrAppend(&renderings, " ", rendering, "=", n);
  }
  std::cout << coverage->events << " events of " << coverage->event_types.size()
            << " types, " << coverage->fields << " fields:" << renderings
            << "\n";
}

}  // namespace
}  // namespace ringwatch
