// PidFile and InspectPidFile, including a holder in another process that
// is killed with SIGKILL (its lock goes with it).
#include "daemon/systemd/pid_file.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "daemon/util/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::HasSubstr;

// A path under a fresh directory named after the test.
std::string TempPath(const std::string& name) {
  std::string dir = absl::StrCat(
      ::testing::TempDir(), "/",
      ::testing::UnitTest::GetInstance()->current_test_info()->name());
  ::mkdir(dir.c_str(), 0755);
  return absl::StrCat(dir, "/", name);
}

TEST(PidFileTest, AcquireWritesOurPidAndRemovesItAtTheEnd) {
  std::string path = TempPath("run/ringwatchd.pid");  // Parent is created.
  {
    auto pid_file = PidFile::Acquire(path);
    ASSERT_TRUE(pid_file.ok()) << pid_file.status();
    auto text = ReadFileToString(path);
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(*text, absl::StrCat(::getpid(), "\n"));
    auto state = InspectPidFile(path);
    ASSERT_TRUE(state.ok()) << state.status();
    EXPECT_EQ(state->owner, PidFileState::Owner::kThisProcess);
    EXPECT_EQ(state->pid, ::getpid());

    auto second = PidFile::Acquire(path);
    ASSERT_FALSE(second.ok());
    EXPECT_TRUE(absl::IsFailedPrecondition(second.status()));
    EXPECT_THAT(std::string(second.status().message()),
                HasSubstr(absl::StrCat("pid ", ::getpid())));
  }
  EXPECT_FALSE(PathExists(path));
  auto state = InspectPidFile(path);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->owner, PidFileState::Owner::kAbsent);
}

TEST(PidFileTest, UnlockedFileIsStaleAndTakenOver) {
  std::string path = TempPath("ringwatchd.pid");
  FILE* f = ::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  ::fputs("4194000\n", f);
  ::fclose(f);
  auto state = InspectPidFile(path);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->owner, PidFileState::Owner::kStale);
  EXPECT_EQ(state->pid, 4194000);
  auto pid_file = PidFile::Acquire(path);
  ASSERT_TRUE(pid_file.ok()) << pid_file.status();
  EXPECT_EQ(*ReadFileToString(path), absl::StrCat(::getpid(), "\n"));
}

TEST(PidFileTest, HolderKilledWithSigkillLeavesAStaleFile) {
  std::string path = TempPath("ringwatchd.pid");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    auto pid_file = PidFile::Acquire(path);
    char ok = pid_file.ok() ? 'y' : 'n';
    if (::write(ready[1], &ok, 1) != 1) ::_exit(1);
    ::pause();  // Until SIGKILL.
    ::_exit(0);
  }
  ::close(ready[1]);
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ::close(ready[0]);
  ASSERT_EQ(ok, 'y');

  auto state = InspectPidFile(path);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->owner, PidFileState::Owner::kOther);
  EXPECT_EQ(state->pid, child);
  auto refused = PidFile::Acquire(path);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr(absl::StrCat("pid ", child)));

  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int wstatus;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  state = InspectPidFile(path);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->owner, PidFileState::Owner::kStale);
  EXPECT_EQ(state->pid, child);
  EXPECT_TRUE(PidFile::Acquire(path).ok());
}

TEST(PidFileTest, UnwritableDirectoryIsAnErrorNamingIt) {
  auto pid_file = PidFile::Acquire("/proc/ringwatch-test/ringwatchd.pid");
  ASSERT_FALSE(pid_file.ok());
  EXPECT_THAT(std::string(pid_file.status().message()),
              HasSubstr("/proc/ringwatch-test"));
}

}  // namespace
}  // namespace ringwatch
