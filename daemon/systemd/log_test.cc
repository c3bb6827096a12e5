// The logger's choice of destination, what a record becomes in the journal
// and on stderr, and the per-call-site rate limit.
#include "daemon/systemd/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ChooseLogTargetTest, JournalWhenStderrIsTheJournalStream) {
  EXPECT_EQ(ChooseLogTarget("64768:1234", nullptr, true, 64768, 1234, false),
            LogTarget::kJournal);
  // Redirected elsewhere by the user: plain lines where they asked.
  EXPECT_EQ(ChooseLogTarget("64768:1234", nullptr, true, 64768, 99, false),
            LogTarget::kStderr);
  EXPECT_EQ(ChooseLogTarget("64768:1234", nullptr, false, 0, 0, false),
            LogTarget::kStderr);
  EXPECT_EQ(ChooseLogTarget("garbage", nullptr, true, 64768, 1234, false),
            LogTarget::kStderr);
  EXPECT_EQ(ChooseLogTarget("64768:1234:5", nullptr, true, 64768, 1234, false),
            LogTarget::kStderr);
}

TEST(ChooseLogTargetTest, InvocationIdNeedsAJournalSocket) {
  EXPECT_EQ(ChooseLogTarget(nullptr, "0123abcd", true, 1, 2, true),
            LogTarget::kJournal);
  EXPECT_EQ(ChooseLogTarget(nullptr, "0123abcd", true, 1, 2, false),
            LogTarget::kStderr);
  EXPECT_EQ(ChooseLogTarget(nullptr, "", true, 1, 2, true), LogTarget::kStderr);
  EXPECT_EQ(ChooseLogTarget(nullptr, nullptr, true, 1, 2, true),
            LogTarget::kStderr);
}

TEST(JournalFieldNameTest, MadeValid) {
  EXPECT_EQ(JournalFieldName("RINGWATCH_CPU"), "RINGWATCH_CPU");
  EXPECT_EQ(JournalFieldName("ringwatch.cpu-id"), "RINGWATCH_CPU_ID");
  EXPECT_EQ(JournalFieldName("_PID"), "F_PID");
  EXPECT_EQ(JournalFieldName("3D"), "F3D");
  EXPECT_EQ(JournalFieldName(""), "F");
}

TEST(JournalFieldsTest, StructuredFields) {
  LogField fields[] = {
      CpuField(3), AggregationField("syscalls"), {"ringwatch_lost", 17}};
  LogRecord record{{"daemon/reader/reader.cc", 42, "Drain", 0},
                   Severity::kWarning,
                   fields,
                   "lost events"};
  EXPECT_THAT(JournalFields(record, "ringwatchd"),
              ElementsAre("MESSAGE=lost events", "PRIORITY=4",
                          "CODE_FILE=daemon/reader/reader.cc", "CODE_LINE=42",
                          "CODE_FUNC=Drain", "SYSLOG_IDENTIFIER=ringwatchd",
                          "RINGWATCH_CPU=3", "RINGWATCH_AGGREGATION=syscalls",
                          "RINGWATCH_LOST=17"));
}

TEST(JournalFieldsTest, SuppressedCountIsAFieldAndInTheMessage) {
  LogRecord record{{nullptr, 0, nullptr, 5}, Severity::kError, {}, "bad page"};
  EXPECT_THAT(JournalFields(record, ""),
              ElementsAre("MESSAGE=bad page (5 similar messages suppressed)",
                          "PRIORITY=3", "RINGWATCH_SUPPRESSED=5"));
}

TEST(StderrLineTest, PlainLine) {
  LogField fields[] = {CpuField(1)};
  LogRecord record{
      {"daemon/x/y.cc", 7, "F", 0}, Severity::kError, fields, "two\nlines"};
  absl::Time t = absl::FromCivil(absl::CivilSecond(2024, 11, 24, 22, 12, 1),
                                 absl::UTCTimeZone()) +
                 absl::Milliseconds(123);
  EXPECT_EQ(StderrLine(record, t, absl::UTCTimeZone()),
            "E 2024-11-24 22:12:01.123 y.cc:7] two lines RINGWATCH_CPU=1\n");
}

TEST(LogTest, WritesToStderrWhenToldTo) {
  std::string path = absl::StrCat(::testing::TempDir(), "/stderr.txt");
  int file = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(file, 0);
  int saved = ::dup(STDERR_FILENO);
  ::dup2(file, STDERR_FILENO);
  SetLogTarget(LogTarget::kStderr);
  RW_LOG(Severity::kWarning, {CpuField(2)}, "hello journal");
  RW_LOG(Severity::kDebug, "hidden below the minimum severity");
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  char buf[512] = {};
  ssize_t n = ::pread(file, buf, sizeof(buf) - 1, 0);
  ::close(file);
  ASSERT_GT(n, 0);
  std::string text(buf, n);
  EXPECT_THAT(text, HasSubstr("log_test.cc:"));
  EXPECT_THAT(text, HasSubstr("] hello journal RINGWATCH_CPU=2\n"));
  EXPECT_EQ(text[0], 'W');
  EXPECT_EQ(text.find("hidden"), std::string::npos);
}

TEST(LogRateLimiterTest, AtMostNPerSecondThenCountsTheRest) {
  LogRateLimiter limiter(3);
  uint64_t suppressed = 99;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limiter.AllowAt(100, &suppressed));
    EXPECT_EQ(suppressed, 0u);
  }
  EXPECT_FALSE(limiter.AllowAt(100, &suppressed));
  EXPECT_FALSE(limiter.AllowAt(100, &suppressed));
  EXPECT_TRUE(limiter.AllowAt(101, &suppressed));
  EXPECT_EQ(suppressed, 2u);
  EXPECT_TRUE(limiter.AllowAt(101, &suppressed));
  EXPECT_EQ(suppressed, 0u);
}

TEST(LogRateLimiterTest, ExactUnderContention) {
  LogRateLimiter limiter(10);
  std::atomic<int> allowed{0};
  std::atomic<uint64_t> reported{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      uint64_t s;
      for (int i = 0; i < 20000; ++i) {
        if (limiter.AllowAt(7, &s)) {
          allowed.fetch_add(1);
          reported.fetch_add(s);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 10);
  uint64_t suppressed = 0;
  ASSERT_TRUE(limiter.AllowAt(8, &suppressed));
  // Every refusal is reported exactly once, by some later allowed call.
  EXPECT_EQ(reported.load() + suppressed, 4u * 20000 - 10);
}

}  // namespace
}  // namespace ringwatch
