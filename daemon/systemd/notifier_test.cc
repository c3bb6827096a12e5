// SystemdNotifier and WatchdogPetter against a fake service manager: a
// datagram socket in the test's temporary directory named by NOTIFY_SOCKET.
#include "daemon/systemd/notifier.h"

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/systemd/testing/notify_listener.h"
#include "daemon/systemd/watchdog_petter.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kTimeout = absl::Seconds(10);

class NotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    auto listener = NotifyListener::Create(TestSocketDir() + "/notify.sock");
    ASSERT_TRUE(listener.ok()) << listener.status();
    listener_ = std::move(*listener);
    ::setenv("NOTIFY_SOCKET", listener_->path().c_str(), 1);
  }
  void TearDown() override { ::unsetenv("NOTIFY_SOCKET"); }

  NotifyMessage Next() {
    auto m = listener_->Receive(kTimeout);
    EXPECT_TRUE(m.ok()) << m.status();
    if (!m.ok() || !m->has_value()) {
      ADD_FAILURE() << "no notify message within " << kTimeout;
      return NotifyMessage();
    }
    return **m;
  }

  std::unique_ptr<NotifyListener> listener_;
};

TEST_F(NotifierTest, EveryMessageArrivesFromThisProcess) {
  SystemdNotifier notifier;
  ASSERT_TRUE(notifier.enabled());
  ASSERT_TRUE(notifier.Ready().ok());
  NotifyMessage ready = Next();
  EXPECT_EQ(ready.text, "READY=1");
  EXPECT_EQ(ready.sender_pid, ::getpid());

  ASSERT_TRUE(notifier.Status("3 aggregations, 4 CPUs, 1200 ev/s").ok());
  EXPECT_EQ(Next().fields["STATUS"], "3 aggregations, 4 CPUs, 1200 ev/s");

  ASSERT_TRUE(notifier.Watchdog().ok());
  EXPECT_EQ(Next().text, "WATCHDOG=1");

  ASSERT_TRUE(notifier.Reloading().ok());
  NotifyMessage reloading = Next();
  EXPECT_EQ(reloading.fields["RELOADING"], "1");
  int64_t usec = 0;
  ASSERT_TRUE(absl::SimpleAtoi(reloading.fields["MONOTONIC_USEC"], &usec))
      << reloading.text;
  struct timespec now;
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  EXPECT_GT(usec, 0);
  EXPECT_LE(usec, now.tv_sec * 1000000 + now.tv_nsec / 1000);

  ASSERT_TRUE(notifier.ReadyAfterReload("reloaded: 4 aggregations").ok());
  NotifyMessage after = Next();
  EXPECT_EQ(after.fields["READY"], "1");
  EXPECT_EQ(after.fields["STATUS"], "reloaded: 4 aggregations");

  ASSERT_TRUE(notifier.Stopping().ok());
  EXPECT_EQ(Next().text, "STOPPING=1");
}

TEST_F(NotifierTest, StatusCannotInjectOtherAssignments) {
  SystemdNotifier notifier;
  ASSERT_TRUE(notifier.Status("bad config\nREADY=1\rx").ok());
  NotifyMessage m = Next();
  EXPECT_FALSE(m.Has("READY")) << m.text;
  EXPECT_EQ(m.fields["STATUS"], "bad config READY=1 x");
}

TEST_F(NotifierTest, NothingIsSentWithoutNotifySocket) {
  ::unsetenv("NOTIFY_SOCKET");
  SystemdNotifier notifier;
  EXPECT_FALSE(notifier.enabled());
  EXPECT_TRUE(notifier.Ready().ok());
  EXPECT_TRUE(notifier.Status("x").ok());
  EXPECT_TRUE(notifier.Watchdog().ok());
  EXPECT_EQ(notifier.WatchdogInterval(), absl::ZeroDuration());
  auto m = listener_->Receive(absl::ZeroDuration());
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->has_value()) << (*m)->text;
}

TEST_F(NotifierTest, UnreachableSocketIsAnErrorNamingIt) {
  std::string missing = TestSocketDir() + "/nobody-listens.sock";
  ::setenv("NOTIFY_SOCKET", missing.c_str(), 1);
  SystemdNotifier notifier;
  absl::Status s = notifier.Ready();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(missing));
  EXPECT_THAT(std::string(s.message()), HasSubstr("READY=1"));
}

TEST_F(NotifierTest, WatchdogIntervalIsOursOnlyForOurPid) {
  ::setenv("WATCHDOG_USEC", "2500000", 1);
  EXPECT_EQ(SystemdNotifier().WatchdogInterval(), absl::Milliseconds(2500));
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  EXPECT_EQ(SystemdNotifier().WatchdogInterval(), absl::Milliseconds(2500));
  // The parent's (or a sibling's) watchdog is not ours to pet.
  ::setenv("WATCHDOG_PID", std::to_string(::getppid()).c_str(), 1);
  EXPECT_EQ(SystemdNotifier().WatchdogInterval(), absl::ZeroDuration());
  ::unsetenv("WATCHDOG_PID");
  ::setenv("WATCHDOG_USEC", "soon", 1);
  EXPECT_EQ(SystemdNotifier().WatchdogInterval(), absl::ZeroDuration());
  // The environment stays for whoever reads it next.
  EXPECT_NE(::getenv("WATCHDOG_USEC"), nullptr);
}

// Polls `pred` until true or a deadline; for counters another thread
// advances.
template <typename Pred>
bool Eventually(Pred pred) {
  const absl::Time deadline = absl::Now() + kTimeout;
  while (!pred()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

TEST_F(NotifierTest, PetterPetsOnlyWhileHealthy) {
  SystemdNotifier notifier;
  std::atomic<bool> healthy{true};
  auto petter = WatchdogPetter::Start(
      &notifier, absl::Milliseconds(40), [&healthy]() -> absl::Status {
        if (healthy.load()) return absl::OkStatus();
        return absl::UnavailableError("reader cpu1 made no progress");
      });
  ASSERT_TRUE(petter->running());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Next().text, "WATCHDOG=1");

  healthy.store(false);
  ASSERT_TRUE(Eventually([&] { return petter->skipped() >= 1; }));
  const uint64_t pets_when_sick = petter->pets();
  ASSERT_TRUE(Eventually([&] { return petter->skipped() >= 5; }));
  EXPECT_EQ(petter->pets(), pets_when_sick)
      << "pets continued while the health check failed";

  healthy.store(true);
  ASSERT_TRUE(Eventually([&] { return petter->pets() > pets_when_sick; }));
  petter->Stop();
  const uint64_t pets = petter->pets();
  // Every pet reached the socket, and none was sent while unhealthy.
  uint64_t received = 0;
  while (true) {
    auto m = listener_->Receive(absl::ZeroDuration());
    ASSERT_TRUE(m.ok());
    if (!m->has_value()) break;
    EXPECT_EQ((*m)->text, "WATCHDOG=1");
    ++received;
  }
  EXPECT_EQ(received + 3, pets);
}

TEST_F(NotifierTest, PetterWithoutWatchdogStartsNothing) {
  SystemdNotifier notifier;
  bool asked = false;
  auto petter =
      WatchdogPetter::Start(&notifier, absl::ZeroDuration(), [&asked] {
        asked = true;
        return absl::OkStatus();
      });
  EXPECT_FALSE(petter->running());
  petter->Stop();
  EXPECT_FALSE(asked);
  EXPECT_EQ(petter->pets(), 0u);
}

}  // namespace
}  // namespace ringwatch
