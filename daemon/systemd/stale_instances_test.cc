// RemoveStaleInstances against a fake tracefs tree (empty directories under
// instances/) and a real pid file: which names go, which stay and why.
#include "daemon/systemd/stale_instances.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "daemon/systemd/pid_file.h"
#include "daemon/util/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// A pid that no longer exists: a child that has exited and been reaped.
pid_t DeadPid() {
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status;
  ::waitpid(child, &status, 0);
  return child;
}

class StaleInstancesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = absl::StrCat(
        ::testing::TempDir(), "/tracefs_",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ::mkdir(root_.c_str(), 0755);
    ::mkdir((root_ + "/instances").c_str(), 0755);
    pid_file_ = root_ + "/ringwatchd.pid";
  }
  void AddInstance(const std::string& name) {
    ASSERT_EQ(::mkdir((root_ + "/instances/" + name).c_str(), 0755), 0) << name;
  }
  bool Exists(const std::string& name) {
    return PathExists(root_ + "/instances/" + name);
  }

  std::string root_;
  std::string pid_file_;
};

TEST_F(StaleInstancesTest, RemovesDeadPidsAndTheUnclaimedName) {
  const pid_t dead = DeadPid();
  const std::string dead_name = absl::StrCat("ringwatch_", dead);
  const std::string live_name = absl::StrCat("ringwatch_", ::getppid());
  const std::string own_name = absl::StrCat("ringwatch_", ::getpid());
  for (const std::string& n :
       {std::string("ringwatch"), dead_name, live_name, own_name,
        std::string("ringwatch_test"), std::string("ringwatchx_1"),
        std::string("ringcat_1"), std::string("ringwatch_")}) {
    AddInstance(n);
  }
  auto report = RemoveStaleInstances(root_, "ringwatch", pid_file_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->removed,
              UnorderedElementsAre("ringwatch", dead_name, own_name));
  EXPECT_THAT(report->kept,
              ElementsAre(Pair(live_name, HasSubstr("is alive"))));
  EXPECT_THAT(report->failed, IsEmpty());
  EXPECT_FALSE(Exists("ringwatch"));
  EXPECT_FALSE(Exists(dead_name));
  EXPECT_TRUE(Exists(live_name));
  // Names that merely look alike are not ours.
  EXPECT_TRUE(Exists("ringwatch_test"));
  EXPECT_TRUE(Exists("ringwatchx_1"));
  EXPECT_TRUE(Exists("ringcat_1"));
  EXPECT_TRUE(Exists("ringwatch_"));
  EXPECT_THAT(report->Summary(), HasSubstr("removed "));
  EXPECT_THAT(report->Summary(), HasSubstr("kept " + live_name));
}

TEST_F(StaleInstancesTest, KeepsTheNameWhileAnotherDaemonHoldsThePidFile) {
  AddInstance("ringwatch");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t holder = ::fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {
    auto pid_file = PidFile::Acquire(pid_file_);
    char ok = pid_file.ok() ? 'y' : 'n';
    if (::write(ready[1], &ok, 1) != 1) ::_exit(1);
    ::pause();
    ::_exit(0);
  }
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ASSERT_EQ(ok, 'y');

  auto report = RemoveStaleInstances(root_, "ringwatch", pid_file_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->removed, IsEmpty());
  EXPECT_THAT(
      report->kept,
      ElementsAre(Pair("ringwatch", HasSubstr(absl::StrCat("pid ", holder)))));
  EXPECT_TRUE(Exists("ringwatch"));

  // Killed: its lock is gone, the instance it left is stale.
  ::kill(holder, SIGKILL);
  int status;
  ::waitpid(holder, &status, 0);
  report = RemoveStaleInstances(root_, "ringwatch", pid_file_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->removed, ElementsAre("ringwatch"));
  EXPECT_FALSE(Exists("ringwatch"));
}

TEST_F(StaleInstancesTest, OurOwnPidFileMeansTheNameIsLeftOver) {
  AddInstance("ringwatch");
  auto pid_file = PidFile::Acquire(pid_file_);
  ASSERT_TRUE(pid_file.ok()) << pid_file.status();
  auto report = RemoveStaleInstances(root_, "ringwatch", pid_file_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->removed, ElementsAre("ringwatch"));
}

TEST_F(StaleInstancesTest, FailuresAreReportedPerInstance) {
  AddInstance("ringwatch");
  // A fake instance that is not empty cannot be rmdir'ed (real tracefs
  // would say EBUSY for one in use): reported, not fatal.
  FILE* f = ::fopen((root_ + "/instances/ringwatch/keep").c_str(), "w");
  ASSERT_NE(f, nullptr);
  ::fclose(f);
  auto report = RemoveStaleInstances(root_, "ringwatch", pid_file_);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->failed.size(), 1u);
  EXPECT_EQ(report->failed[0].first, "ringwatch");
  EXPECT_THAT(report->Summary(), HasSubstr("could not remove ringwatch"));
}

TEST_F(StaleInstancesTest, MissingTracefsIsAnErrorNamingThePath) {
  auto report = RemoveStaleInstances(root_ + "/nope", "ringwatch", pid_file_);
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(std::string(report.status().message()),
              HasSubstr(root_ + "/nope/instances"));
  EXPECT_FALSE(RemoveStaleInstances(root_, "", pid_file_).ok());
}

TEST(ParseInstancePidTest, OnlyPrefixUnderscoreDigits) {
  EXPECT_EQ(ParseInstancePid("ringwatch_123", "ringwatch"), 123);
  EXPECT_EQ(ParseInstancePid("ringwatch", "ringwatch"), 0);
  EXPECT_EQ(ParseInstancePid("ringwatch_", "ringwatch"), 0);
  EXPECT_EQ(ParseInstancePid("ringwatch_12a", "ringwatch"), 0);
  EXPECT_EQ(ParseInstancePid("ringwatch_-1", "ringwatch"), 0);
  EXPECT_EQ(ParseInstancePid("ringwatch_0", "ringwatch"), 0);
  EXPECT_EQ(ParseInstancePid("ringwatch_99999999999", "ringwatch"), 0);
  EXPECT_EQ(ParseInstancePid("ringwatch-12", "ringwatch"), 0);
  EXPECT_EQ(ParseInstancePid("xringwatch_12", "ringwatch"), 0);
}

}  // namespace
}  // namespace ringwatch
