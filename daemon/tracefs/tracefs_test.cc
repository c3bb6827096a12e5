#include "daemon/tracefs/tracefs.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(TracefsMountPointsTest, FindsTracefsLinesAndUnescapes) {
  const char kMounts[] =
      "sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n"
      "nodev /sys/kernel/tracing tracefs rw,relatime 0 0\n"
      "debugfs /sys/kernel/debug debugfs rw,relatime 0 0\n"
      "tracefs /mnt/my\\040traces tracefs rw 0 0\n"
      "tracefs /not/a/tracefs ext4 rw 0 0\n"
      "short line\n";
  EXPECT_THAT(TracefsMountPoints(kMounts),
              ElementsAre("/sys/kernel/tracing", "/mnt/my traces"));
  EXPECT_THAT(TracefsMountPoints(""), IsEmpty());
  // A truncated escape is kept as is.
  EXPECT_THAT(TracefsMountPoints("t /a\\04 tracefs rw 0 0"),
              ElementsAre("/a\\04"));
}

TEST(FilesystemListedTest, ReadsProcFilesystems) {
  const char kFilesystems[] =
      "nodev\tsysfs\nnodev\ttracefs\n\text4\nnodev\tdebugfs\n";
  EXPECT_TRUE(FilesystemListed(kFilesystems, "tracefs"));
  EXPECT_TRUE(FilesystemListed(kFilesystems, "ext4"));
  EXPECT_FALSE(FilesystemListed(kFilesystems, "trace"));
  EXPECT_FALSE(FilesystemListed("nodev\tsysfs\n", "tracefs"));
}

TEST(ParseCpuListTest, RangesAndSingles) {
  absl::StatusOr<std::vector<int>> cpus = ParseCpuList("0-3,5,7-8\n");
  ASSERT_TRUE(cpus.ok()) << cpus.status();
  EXPECT_THAT(*cpus, ElementsAre(0, 1, 2, 3, 5, 7, 8));
  cpus = ParseCpuList("1\n");
  ASSERT_TRUE(cpus.ok());
  EXPECT_THAT(*cpus, ElementsAre(1));
  cpus = ParseCpuList("3,1-2,2");
  ASSERT_TRUE(cpus.ok());
  EXPECT_THAT(*cpus, ElementsAre(1, 2, 3));
}

TEST(ParseCpuListTest, BadListsNameTheRange) {
  for (const char* bad :
       {"", "\n", "a", "3-1", "1-", "-1", "1,,2", "0-99999999", "1-2-3"}) {
    absl::StatusOr<std::vector<int>> cpus = ParseCpuList(bad);
    EXPECT_FALSE(cpus.ok()) << bad;
    EXPECT_EQ(cpus.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_THAT(std::string(ParseCpuList("0,x-2").status().message()),
              HasSubstr("bad CPU range 'x-2'"));
}

}  // namespace
}  // namespace ringwatch
