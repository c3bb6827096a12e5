// Every field of every event in a capture of every event type
// (all_events_v7.dat, tests/data/tracedat/capture_all_events.sh) decodes to
// the value `trace-cmd report -R -t` printed for it.
#include <string>

#include "absl/strings/str_cat.h"
#include "daemon/tracedat/raw_report_compare.h"
#include "daemon/tracedat/trace_dat_file.h"
#include "daemon/tracedat/trace_dat_test_util.h"
#include "daemon/util/file_util.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

TEST(IntegerRenderingTest, AcceptsTraceCmdRenderingsOfTheSameBits) {
  std::string r;
  EXPECT_TRUE(IntegerRenderingMatches("42", 42, 4, false, &r));
  EXPECT_EQ(r, "decimal");
  EXPECT_TRUE(IntegerRenderingMatches("-1", ~uint64_t{0}, 4, true, &r));
  EXPECT_EQ(r, "decimal");
  EXPECT_TRUE(IntegerRenderingMatches("4294967295", ~uint64_t{0}, 4, true, &r));
  EXPECT_TRUE(IntegerRenderingMatches("0x2a", 42, 8, false, &r));
  EXPECT_EQ(r, "0x");
  EXPECT_TRUE(IntegerRenderingMatches("6e0", 0x6e0, 4, false, &r));
  EXPECT_EQ(r, "hex");
  EXPECT_TRUE(IntegerRenderingMatches("0644", 0644, 2, false, &r));
  EXPECT_EQ(r, "octal");
  EXPECT_TRUE(IntegerRenderingMatches("ffffffff", ~uint64_t{0}, 4, true, &r));
  EXPECT_TRUE(IntegerRenderingMatches("do_sys_open+0x1c", 0xffffffff81000000ull,
                                      8, false, &r));
  EXPECT_EQ(r, "symbol");
}

TEST(IntegerRenderingTest, RejectsOtherValues) {
  std::string r;
  EXPECT_FALSE(IntegerRenderingMatches("43", 42, 4, false, &r));
  EXPECT_FALSE(IntegerRenderingMatches("0x2b", 42, 8, false, &r));
  EXPECT_FALSE(IntegerRenderingMatches("-2", ~uint64_t{0}, 4, true, &r));
  EXPECT_FALSE(IntegerRenderingMatches("", 0, 4, false, &r));
  EXPECT_FALSE(IntegerRenderingMatches("zz", 0, 4, false, &r));
  // A name stands for an address only when the value is a kernel address.
  EXPECT_FALSE(IntegerRenderingMatches("do_sys_open", 42, 8, false, &r));
}

TEST(AllEventsReportTest, EveryFieldOfEveryEventEqualsTraceCmdRawReport) {
  const std::string path = TraceDatFixture("all_events_v7.dat");
  absl::StatusOr<std::unique_ptr<TraceDatFile>> file = TraceDatFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  CapturingSink sink;
  DecodeCounters totals;
  ASSERT_TRUE((*file)->ReadAll(&sink, &totals).ok());
  EXPECT_EQ(totals.decode_errors, 0u);
  absl::StatusOr<std::string> report =
      ReadFileToString(TraceDatFixture("all_events_v7.raw-report.txt"));
  ASSERT_TRUE(report.ok()) << report.status();
  absl::StatusOr<RawReportCoverage> coverage =
      CompareEveryFieldWithRawReport(**file, sink, *report);
  ASSERT_TRUE(coverage.ok()) << coverage.status();
  EXPECT_EQ(coverage->events, sink.records.size());
  // The fixture was taken with every event enabled: it must show many
  // types, or it proves little.
  EXPECT_GE(coverage->event_types.size(), 100u);
  std::string renderings;
  for (const auto& [name, n] : coverage->renderings) {
    absl::StrAppend(&renderings, " ", name, "=", n);
  }
  std::cout << coverage->events << " events of " << coverage->event_types.size()
            << " types, " << coverage->fields << " fields:" << renderings
            << ", " << coverage->losses << " loss lines\n";
}

}  // namespace
}  // namespace ringwatch
