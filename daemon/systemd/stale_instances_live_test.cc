// RemoveStaleInstances on the live kernel's tracefs: instances left by a
// "killed daemon" (with events enabled) go, a live one stays, one still in
// use is reported. Needs root and tracefs; skips with the reason otherwise.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "daemon/systemd/stale_instances.h"
#include "daemon/tracefs/instance.h"
#include "daemon/tracefs/tracefs.h"
#include "daemon/util/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

pid_t DeadPid() {
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status;
  ::waitpid(child, &status, 0);
  return child;
}

// Removes every instance it was told about, even when the test failed.
class InstanceCleanup {
 public:
  explicit InstanceCleanup(std::string root) : root_(std::move(root)) {}
  ~InstanceCleanup() {
    for (const std::string& name : names_) {
      std::string path = root_ + "/instances/" + name;
      if (PathExists(path) && ::rmdir(path.c_str()) != 0) {
        std::fprintf(stderr, "could not remove %s: %s\n", path.c_str(),
                     strerror(errno));
      }
    }
  }
  void Add(const std::string& name) { names_.push_back(name); }

 private:
  const std::string root_;
  std::vector<std::string> names_;
};

TEST(StaleInstancesLiveTest, RemovesWhatAKilledDaemonLeft) {
  if (::geteuid() != 0)
    GTEST_SKIP() << "needs root to create tracefs instances";
  auto root = FindOrMountTracefs();
  if (!root.ok()) GTEST_SKIP() << "no tracefs: " << root.status();

  const std::string prefix = absl::StrCat("rwtest_stale", ::getpid());
  const std::string dead = absl::StrCat(prefix, "_", DeadPid());
  const std::string busy = absl::StrCat(prefix, "_", DeadPid());
  const std::string live = absl::StrCat(prefix, "_", ::getppid());
  InstanceCleanup cleanup(*root);
  for (const std::string& name : {prefix, dead, busy, live}) {
    cleanup.Add(name);
    auto instance = Instance::Create(*root, name, /*reuse_existing=*/false);
    ASSERT_TRUE(instance.ok()) << instance.status();
    // Left behind as a crashed daemon leaves it: tracing, events on.
    ASSERT_TRUE((*instance)->EnableEvent("sched/sched_switch").ok());
    (*instance)->Release();
  }
  // A reader still has one open: the kernel refuses to remove it.
  int busy_fd = ::open(
      absl::StrCat(*root, "/instances/", busy, "/per_cpu/cpu0/trace_pipe_raw")
          .c_str(),
      O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(busy_fd, 0) << strerror(errno);

  auto report = RemoveStaleInstances(
      *root, prefix, absl::StrCat(::testing::TempDir(), "/none.pid"));
  ::close(busy_fd);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->removed, UnorderedElementsAre(prefix, dead));
  ASSERT_EQ(report->kept.size(), 1u) << report->Summary();
  EXPECT_EQ(report->kept[0].first, live);
  ASSERT_EQ(report->failed.size(), 1u) << report->Summary();
  EXPECT_EQ(report->failed[0].first, busy);
  EXPECT_THAT(report->failed[0].second.ToString(), HasSubstr("busy"));

  EXPECT_FALSE(PathExists(*root + "/instances/" + prefix));
  EXPECT_FALSE(PathExists(*root + "/instances/" + dead));
  EXPECT_TRUE(PathExists(*root + "/instances/" + live));

  // Once closed, the busy one goes too.
  report = RemoveStaleInstances(
      *root, prefix, absl::StrCat(::testing::TempDir(), "/none.pid"));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->removed, UnorderedElementsAre(busy));
}

}  // namespace
}  // namespace ringwatch
