#include "daemon/metrics/process_collector.h"

#include <ctime>
#include <map>
#include <string>

#include "gtest/gtest.h"

namespace ringwatch {
namespace metrics {
namespace {

// /proc/self/stat of a real process (Linux 6.18), command name with a space
// and a parenthesis; starttime (field 22) is 1234500.
constexpr char kStat[] =
    "4242 (ring (x) d) S 1 4242 4242 0 -1 4194560 1041 0 0 0 12 7 0 0 20 0 "
    "9 0 1234500 1093312512 3212 18446744073709551615 1 1 0 0 0 0 0 4096 "
    "16384 0 0 0 17 1 0 0 0 0 0";
constexpr char kProcStat[] =
    "cpu  1 2 3 4\nintr 5\nctxt 6\nbtime 1765000000\nprocesses 7\n";

TEST(ParseStartTimeSecondsTest, AddsBootTimeToTicksAfterBoot) {
  absl::StatusOr<double> start = ParseStartTimeSeconds(kStat, kProcStat, 100);
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_DOUBLE_EQ(*start, 1765000000.0 + 12345.0);
}

TEST(ParseStartTimeSecondsTest, NamesWhatIsMissing) {
  EXPECT_EQ(
      ParseStartTimeSeconds("1 (x) S 1 2", kProcStat, 100).status().message(),
      "/proc/self/stat: field 22 (starttime) missing or not a number");
  EXPECT_EQ(ParseStartTimeSeconds(kStat, "cpu 1\n", 100).status().message(),
            "/proc/stat: no btime line");
}

TEST(ProcessCollectorTest, ReportsThisProcess) {
  std::map<std::string, double> values;
  for (const auto& family : ProcessCollector().Collect()) {
    ASSERT_EQ(family.metric.size(), 1u) << family.name;
    ASSERT_FALSE(family.help.empty()) << family.name;
    const auto& m = family.metric[0];
    values[family.name] = family.type == prometheus::MetricType::Counter
                              ? m.counter.value
                              : m.gauge.value;
  }
  // stdin, stdout and stderr at least.
  EXPECT_GE(values["process_open_fds"], 3);
  EXPECT_GE(values["process_max_fds"], values["process_open_fds"]);
  EXPECT_GT(values["process_resident_memory_bytes"], 0);
  EXPECT_GE(values["process_virtual_memory_bytes"],
            values["process_resident_memory_bytes"]);
  EXPECT_GE(values["process_threads"], 1);
  EXPECT_GE(values["process_cpu_seconds_total"], 0);
  ASSERT_EQ(values.count("process_cpu_seconds_total"), 1u);
  // Started within the last hour, not in the future.
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(values["process_start_time_seconds"], now + 1);
  EXPECT_GT(values["process_start_time_seconds"], now - 3600);
}

}  // namespace
}  // namespace metrics
}  // namespace ringwatch
