// SignalWatcher in this process: signals blocked first, then delivered to
// the process (as systemd and kill(1) do) and read from the signalfd.
// tests/systemd delivers them to a child process too.
#include "daemon/systemd/signal_watcher.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::HasSubstr;

class SignalWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(BlockStopSignals().ok());
    auto watcher = SignalWatcher::Create();
    ASSERT_TRUE(watcher.ok()) << watcher.status();
    watcher_ = std::move(*watcher);
  }
  std::unique_ptr<SignalWatcher> watcher_;
};

TEST_F(SignalWatcherTest, TimesOutWhenNothingIsPending) {
  auto none = watcher_->Wait(absl::ZeroDuration());
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  auto later = watcher_->Wait(absl::Milliseconds(20));
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_FALSE(later->has_value());
}

TEST_F(SignalWatcherTest, ReadsEachSignalWithItsSender) {
  ASSERT_EQ(::kill(::getpid(), SIGHUP), 0);
  auto hup = watcher_->Wait(absl::Seconds(10));
  ASSERT_TRUE(hup.ok()) << hup.status();
  ASSERT_TRUE(hup->has_value());
  EXPECT_EQ((*hup)->signo, SIGHUP);
  EXPECT_EQ((*hup)->sender_pid, ::getpid());
  EXPECT_EQ((*hup)->sender_uid, ::getuid());

  ASSERT_EQ(::kill(::getpid(), SIGINT), 0);
  auto in = watcher_->Wait(absl::Seconds(10));
  ASSERT_TRUE(in.ok() && in->has_value());
  EXPECT_EQ((*in)->signo, SIGINT);
  EXPECT_STREQ(SignalName((*in)->signo), "SIGINT");
}

TEST_F(SignalWatcherTest, SignalFromAnotherThreadWakesAnEndlessWait) {
  // The thread inherits the blocked mask, so the process-directed signal
  // can only be taken from the signalfd, not by the thread.
  std::thread sender([] { ::kill(::getpid(), SIGTERM); });
  auto term = watcher_->Wait(absl::InfiniteDuration());
  sender.join();
  ASSERT_TRUE(term.ok()) << term.status();
  ASSERT_TRUE(term->has_value());
  EXPECT_EQ((*term)->signo, SIGTERM);
}

TEST(SignalWatcherCreateTest, RefusesWhenSignalsAreNotBlocked) {
  absl::Status status;
  std::thread t([&status] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    status = SignalWatcher::Create().status();
  });
  t.join();
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("BlockStopSignals"));
}

}  // namespace
}  // namespace ringwatch
