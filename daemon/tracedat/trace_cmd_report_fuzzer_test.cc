// Replays the committed libFuzzer corpus of trace_cmd_report_fuzzer.cc (see
// tools/fuzz.sh) under g++, and pins the crash the campaign found.
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "daemon/tracedat/trace_cmd_report.h"
#include "gtest/gtest.h"
#include "tests/fuzz/corpus_replay.h"

namespace ringwatch {
namespace {

TEST(TraceCmdReportFuzzerTest, ReplaysCorpus) {
  EXPECT_GE(fuzz_testing::ReplayCorpus("trace_cmd_report"), 20u);
}

// The fuzzer's first find: numbers past 64 bits threw std::out_of_range
// from std::stoull (and a seconds value past 2^64 / 1e9 wrapped).
TEST(TraceCmdReportFuzzerTest, NumbersOutOfRangeAreErrors) {
  const std::string huge(30, '9');
  for (const std::string& line :
       {"bash-1 [000] " + huge + ".000001: sched_switch: x",
        std::string("bash-1 [000] 18446744074.000001: sched_switch: x"),
        "CPU:" + huge + " [EVENTS DROPPED]",
        "CPU:1 [" + huge + " EVENTS DROPPED]"}) {
    absl::StatusOr<std::vector<ReportLine>> lines =
        ParseTraceCmdReport(line, "");
    ASSERT_FALSE(lines.ok()) << line;
    EXPECT_TRUE(absl::StrContains(lines.status().message(), "report line 1"))
        << lines.status();
  }
  // The largest representable time still parses.
  absl::StatusOr<std::vector<ReportLine>> max =
      ParseTraceCmdReport("bash-1 [000] 18446744072.999999: e: x", "");
  ASSERT_TRUE(max.ok()) << max.status();
  EXPECT_EQ((*max)[0].timestamp, 18446744072999999000ull);
}

}  // namespace
}  // namespace ringwatch
