#include "daemon/tracefs/tracefs.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
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

// A fake /proc and mount point under TEST_TMPDIR. Nothing here can mount for
// real: each case fails before mount(2) or finds an existing "tracefs".
class FindOrMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    dir_ = absl::StrCat(
        tmp ? tmp : "/tmp", "/find_or_mount_",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ::mkdir(dir_.c_str(), 0755);
    where_.proc_mounts = dir_ + "/mounts";
    where_.proc_filesystems = dir_ + "/filesystems";
    where_.mount_point = dir_ + "/tracing";
    where_.debugfs_dir = dir_ + "/debug/tracing";
  }
  void Write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
  }
  // Makes `dir` look like a tracefs root.
  void MakeTracefs(const std::string& dir) {
    ::mkdir(dir.c_str(), 0755);
    ::mkdir((dir + "/events").c_str(), 0755);
    Write(dir + "/trace", "");
  }

  std::string dir_;
  TracefsLocations where_;
};

TEST_F(FindOrMountTest, FindsMountedStandardPoint) {
  MakeTracefs(where_.mount_point);
  Write(where_.proc_mounts,
        absl::StrCat("nodev ", where_.mount_point, " tracefs rw 0 0\n"));
  absl::StatusOr<std::string> root = FindOrMountTracefsAt(where_);
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(*root, where_.mount_point);
}

TEST_F(FindOrMountTest, FallsBackToDebugfsThenOtherMounts) {
  ::mkdir((dir_ + "/debug").c_str(), 0755);
  MakeTracefs(where_.debugfs_dir);
  Write(where_.proc_mounts, "");
  absl::StatusOr<std::string> root = FindOrMountTracefsAt(where_);
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(*root, where_.debugfs_dir);

  where_.debugfs_dir = dir_ + "/no_debugfs";
  std::string elsewhere = dir_ + "/my traces";
  MakeTracefs(elsewhere);
  Write(where_.proc_mounts,
        absl::StrCat("nodev ", dir_, "/my\\040traces tracefs rw 0 0\n"));
  root = FindOrMountTracefsAt(where_);
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(*root, elsewhere);
}

TEST_F(FindOrMountTest, KernelWithoutTracefsIsUnimplemented) {
  Write(where_.proc_mounts, "");
  Write(where_.proc_filesystems, "nodev\tsysfs\n\text4\n");
  absl::StatusOr<std::string> root = FindOrMountTracefsAt(where_);
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(root.status().message()),
              HasSubstr("this kernel has no tracefs"));
}

TEST_F(FindOrMountTest, MissingMountPointNamesIt) {
  if (!HasCapSysAdmin()) GTEST_SKIP() << "needs CAP_SYS_ADMIN to get there";
  Write(where_.proc_mounts, "");
  Write(where_.proc_filesystems, "nodev\ttracefs\n");
  absl::StatusOr<std::string> root = FindOrMountTracefsAt(where_);
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(
      std::string(root.status().message()),
      HasSubstr("mount point " + where_.mount_point + " does not exist"));
}

TEST_F(FindOrMountTest, NotRootIsPermissionDenied) {
  Write(where_.proc_mounts, "");
  Write(where_.proc_filesystems, "nodev\ttracefs\n");
  ::mkdir(where_.mount_point.c_str(), 0755);
  if (!HasCapSysAdmin()) {
    absl::StatusOr<std::string> root = FindOrMountTracefsAt(where_);
    EXPECT_EQ(root.status().code(), absl::StatusCode::kPermissionDenied);
    return;
  }
  // As root: drop to nobody in a child, which reports the status code.
  ::chmod(dir_.c_str(), 0755);
  for (const std::string& f : {where_.proc_mounts, where_.proc_filesystems}) {
    ::chmod(f.c_str(), 0644);
  }
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    char result = 'S';  // Could not drop privileges.
    if (::setresgid(65534, 65534, 65534) == 0 &&
        ::setresuid(65534, 65534, 65534) == 0) {
      absl::StatusOr<std::string> root = FindOrMountTracefsAt(where_);
      bool denied =
          root.status().code() == absl::StatusCode::kPermissionDenied &&
          root.status().message().find("root or CAP_SYS_ADMIN") !=
              absl::string_view::npos;
      result = denied ? 'D' : 'X';
    }
    (void)!::write(fds[1], &result, 1);
    ::_exit(0);
  }
  ::close(fds[1]);
  char result = 0;
  ASSERT_EQ(::read(fds[0], &result, 1), 1);
  ::close(fds[0]);
  int status;
  ::waitpid(child, &status, 0);
  if (result == 'S') GTEST_SKIP() << "cannot drop privileges here";
  EXPECT_EQ(result, 'D') << "a non-root child was not told it needs root";
}

}  // namespace
}  // namespace ringwatch
