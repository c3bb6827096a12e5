#include "daemon/server/proc_self.h"

#include "gtest/gtest.h"

namespace ringwatch {
namespace {

// A real /proc/<pid>/stat line, with a command name holding ") (".
constexpr char kStat[] =
    "4242 (ring) (watchd) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 130 0 0 "
    "20 0 7 0 123456 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 4096 "
    "0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

TEST(ProcSelfTest, ParsesFieldsAfterTheLastParenthesis) {
  auto usage = ParseProcStat(kStat, /*clock_ticks_per_second=*/100,
                             /*page_size=*/4096);
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_DOUBLE_EQ(usage->user_cpu_seconds, 2.5);
  EXPECT_DOUBLE_EQ(usage->system_cpu_seconds, 1.3);
  EXPECT_EQ(usage->threads, 7u);
  EXPECT_EQ(usage->vm_size_bytes, 104857600u);
  EXPECT_EQ(usage->rss_bytes, 2560u * 4096u);
}

TEST(ProcSelfTest, TruncatedLineNamesTheMissingField) {
  auto usage = ParseProcStat("1 (x) S 1 1 1 0 -1 0 0 0 0 0 5", 100, 4096);
  ASSERT_FALSE(usage.ok());
  EXPECT_EQ(usage.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(usage.status().message().find("field 15 (stime)"),
            absl::string_view::npos)
      << usage.status();
}

TEST(ProcSelfTest, NoCommandNameIsAnError) {
  EXPECT_FALSE(ParseProcStat("garbage", 100, 4096).ok());
}

TEST(ProcSelfTest, ReadsThisProcess) {
  auto usage = ReadProcessUsage();
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_GT(usage->rss_bytes, 0u);
  EXPECT_GE(usage->threads, 1u);
}

}  // namespace
}  // namespace ringwatch
