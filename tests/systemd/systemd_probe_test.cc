// The daemon/systemd library in a separate process, driven the way systemd
// drives ringwatchd: the notify protocol with a watchdog (and pets that stop
// while the health check fails), socket activation through the real
// systemd-socket-activate, signals from outside, and structured lines sent
// to a journal socket.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/systemd/testing/notify_listener.h"
#include "daemon/util/file_util.h"
#include "daemon/util/scoped_fd.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/systemd/child_process.h"

namespace ringwatch {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;
using ::testing::StartsWith;

constexpr absl::Duration kTimeout = absl::Seconds(10);

std::string ProbePath() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  return absl::StrCat(srcdir ? srcdir : ".",
                      "/ringwatch/tests/systemd/systemd_probe");
}

std::unique_ptr<ChildProcess> SpawnOrDie(ChildProcess::Options options) {
  auto child = ChildProcess::Spawn(std::move(options));
  EXPECT_TRUE(child.ok()) << child.status();
  return child.ok() ? std::move(*child) : nullptr;
}

NotifyMessage NextMessage(NotifyListener& listener) {
  auto m = listener.Receive(kTimeout);
  EXPECT_TRUE(m.ok()) << m.status();
  if (!m.ok() || !m->has_value()) {
    ADD_FAILURE() << "no notify message within " << kTimeout;
    return NotifyMessage();
  }
  return **m;
}

bool IsWatchdog(const NotifyMessage& m) { return m.text == "WATCHDOG=1"; }

class ProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestSocketDir();
    auto listener = NotifyListener::Create(dir_ + "/notify.sock");
    ASSERT_TRUE(listener.ok()) << listener.status();
    listener_ = std::move(*listener);
  }
  std::string dir_;
  std::unique_ptr<NotifyListener> listener_;
};

TEST_F(ProbeTest, NotifyReadyStatusWatchdogReloadStop) {
  const std::string health = dir_ + "/healthy";
  ASSERT_TRUE(WriteStringToFile(health, "").ok() ||
              ::close(::creat(health.c_str(), 0644)) == 0);
  ChildProcess::Options o;
  o.argv = {ProbePath(), "notify", "--status=3 aggregations, 2 CPUs",
            "--health_file=" + health};
  // 200 ms: a pet every 100 ms.
  o.env = {"NOTIFY_SOCKET=" + listener_->path(), "WATCHDOG_USEC=200000"};
  o.watchdog_pid_self = true;
  auto child = SpawnOrDie(std::move(o));
  ASSERT_NE(child, nullptr);

  EXPECT_THAT(child->WaitForLine("notify_enabled=", kTimeout),
              Optional(std::string("notify_enabled=1 watchdog_usec=200000")));
  auto ready = listener_->WaitFor(
      [](const NotifyMessage& m) { return m.Has("READY"); }, kTimeout);
  ASSERT_TRUE(ready.ok()) << ready.status();
  EXPECT_EQ(ready->sender_pid, child->pid());
  auto status = listener_->WaitFor(
      [](const NotifyMessage& m) { return m.Has("STATUS"); }, kTimeout);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->fields.at("STATUS"), "3 aggregations, 2 CPUs");
  for (int i = 0; i < 3; ++i) {
    auto pet = listener_->WaitFor(IsWatchdog, kTimeout);
    ASSERT_TRUE(pet.ok()) << pet.status();
    EXPECT_EQ(pet->sender_pid, child->pid());
  }

  // Unhealthy: no pet once the petter has seen the health file gone, except
  // the one whose check ran before the unlink. Pets sent earlier may still
  // sit in the socket, so a fence tells them apart: our SIGHUP makes the
  // main thread send RELOADING=1 after every pet sent before the unlink.
  // (Counting pets over a time window instead would fail when a loaded
  // machine leaves old pets queued.)
  ASSERT_EQ(::unlink(health.c_str()), 0);
  ASSERT_EQ(::kill(child->pid(), SIGHUP), 0);
  auto reloading = listener_->WaitFor(
      [](const NotifyMessage& m) { return m.Has("RELOADING"); }, kTimeout);
  ASSERT_TRUE(reloading.ok()) << reloading.status();
  EXPECT_TRUE(reloading->Has("MONOTONIC_USEC")) << reloading->text;
  // Then READY=1 again, and over ten watchdog periods at most that one pet
  // (a slower machine only runs fewer rounds here; it cannot add pets).
  int pets_while_sick = 0;
  bool reloaded = false;
  const absl::Time watch_until = absl::Now() + absl::Seconds(1);
  const absl::Time reload_deadline = absl::Now() + kTimeout;
  while (absl::Now() < watch_until || !reloaded) {
    ASSERT_LT(absl::Now(), reload_deadline) << "no READY=1 after RELOADING=1";
    auto m = listener_->Receive(absl::Milliseconds(100));
    ASSERT_TRUE(m.ok()) << m.status();
    if (!m->has_value()) continue;
    if (IsWatchdog(**m)) ++pets_while_sick;
    if ((*m)->Has("READY")) {
      reloaded = true;
      EXPECT_EQ((*m)->fields.at("STATUS"), "reloaded");
    }
  }
  EXPECT_LE(pets_while_sick, 1);

  // Healthy again: pets resume.
  ASSERT_EQ(::close(::creat(health.c_str(), 0644)), 0);
  ASSERT_TRUE(listener_->WaitFor(IsWatchdog, kTimeout).ok());

  ASSERT_EQ(::kill(child->pid(), SIGTERM), 0);
  ASSERT_TRUE(
      listener_
          ->WaitFor([](const NotifyMessage& m) { return m.Has("STOPPING"); },
                    kTimeout)
          .ok());
  EXPECT_THAT(child->Wait(kTimeout), Optional(0));
  auto counts = child->WaitForLine("pets=", kTimeout);
  ASSERT_TRUE(counts.has_value()) << child->output();
  uint64_t skipped = 0;
  ASSERT_TRUE(
      absl::SimpleAtoi(counts->substr(counts->find("skipped=") + 8), &skipped))
      << *counts;
  // Rounds skipped while sick: how many depends on scheduling (ten when the
  // petter runs on time); over a second of sickness at least one.
  EXPECT_GE(skipped, 1u) << *counts;
}

TEST_F(ProbeTest, WatchdogOfAnotherPidIsNotPetted) {
  ChildProcess::Options o;
  o.argv = {ProbePath(), "notify"};
  o.env = {"NOTIFY_SOCKET=" + listener_->path(), "WATCHDOG_USEC=200000",
           absl::StrCat("WATCHDOG_PID=", ::getpid())};
  auto child = SpawnOrDie(std::move(o));
  ASSERT_NE(child, nullptr);
  EXPECT_THAT(child->WaitForLine("notify_enabled=", kTimeout),
              Optional(std::string("notify_enabled=1 watchdog_usec=0")));
  ASSERT_TRUE(child->WaitForLine("ready", kTimeout).has_value());
  ASSERT_EQ(::kill(child->pid(), SIGTERM), 0);
  EXPECT_THAT(child->Wait(kTimeout), Optional(0));
  EXPECT_THAT(child->WaitForLine("pets=", kTimeout),
              Optional(std::string("pets=0 skipped=0")));
}

TEST_F(ProbeTest, WithoutNotifySocketNothingIsSent) {
  ChildProcess::Options o;
  o.argv = {ProbePath(), "notify"};
  auto child = SpawnOrDie(std::move(o));
  ASSERT_NE(child, nullptr);
  EXPECT_THAT(child->WaitForLine("notify_enabled=", kTimeout),
              Optional(std::string("notify_enabled=0 watchdog_usec=0")));
  ASSERT_TRUE(child->WaitForLine("ready", kTimeout).has_value());
  ASSERT_EQ(::kill(child->pid(), SIGINT), 0);
  EXPECT_THAT(child->Wait(kTimeout), Optional(0));
  auto m = listener_->Receive(absl::ZeroDuration());
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->has_value());
}

TEST_F(ProbeTest, SignalsReachTheWatcherNotTheThreads) {
  ChildProcess::Options o;
  o.argv = {ProbePath(), "signals"};
  auto child = SpawnOrDie(std::move(o));
  ASSERT_NE(child, nullptr);
  ASSERT_THAT(child->WaitForLine("ready", kTimeout),
              Optional(StartsWith("ready pid=")));
  ASSERT_EQ(::kill(child->pid(), SIGHUP), 0);
  EXPECT_THAT(child->WaitForLine("signal=", kTimeout),
              Optional(absl::StrCat("signal=SIGHUP sender_pid=", ::getpid())));
  ASSERT_EQ(::kill(child->pid(), SIGHUP), 0);
  EXPECT_THAT(child->WaitForLine("signal=", kTimeout),
              Optional(StartsWith("signal=SIGHUP")));
  ASSERT_EQ(::kill(child->pid(), SIGTERM), 0);
  EXPECT_THAT(child->WaitForLine("signal=", kTimeout),
              Optional(StartsWith("signal=SIGTERM")));
  EXPECT_THAT(child->WaitForLine("worker_mask_ok=", kTimeout),
              Optional(std::string("worker_mask_ok=1")));
  EXPECT_THAT(child->Wait(kTimeout), Optional(0));
}

// Connects to a unix stream socket, returns the first line it sends.
std::string ConnectAndRead(const std::string& path) {
  ScopedFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  struct sockaddr_un sun;
  std::memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  std::strncpy(sun.sun_path, path.c_str(), sizeof(sun.sun_path) - 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof(sun)) !=
      0) {
    return absl::StrCat("connect ", path, ": ", strerror(errno));
  }
  std::string line;
  char c;
  while (::read(fd.get(), &c, 1) == 1 && c != '\n') line.push_back(c);
  return line;
}

TEST_F(ProbeTest, SocketActivationHandsOverNamedSockets) {
  const char* activate = "/usr/bin/systemd-socket-activate";
  if (::access(activate, X_OK) != 0) {
    std::cout << "RINGWATCH-SKIP: " << activate
              << " is missing (Debian package systemd)" << std::endl;
    GTEST_SKIP() << activate << " is missing (Debian package systemd)";
  }
  const std::string api = dir_ + "/x.sock";
  const std::string second = dir_ + "/y.sock";
  ::unlink(api.c_str());
  ::unlink(second.c_str());
  ChildProcess::Options o;
  o.argv = {activate,    "-l",        api, "-l", second, "--fdname=api:second",
            ProbePath(), "listen-fds"};
  auto child = SpawnOrDie(std::move(o));
  ASSERT_NE(child, nullptr);
  // systemd-socket-activate starts the program on the first connection,
  // as a socket unit does.
  const absl::Time deadline = absl::Now() + kTimeout;
  while (!(PathExists(api) && PathExists(second)) && absl::Now() < deadline) {
    auto early = child->Wait(absl::Milliseconds(5));
    ASSERT_FALSE(early.has_value()) << "exited " << *early;
  }
  EXPECT_EQ(ConnectAndRead(api), "hello from api");
  EXPECT_EQ(ConnectAndRead(second), "hello from second");
  EXPECT_THAT(child->WaitForLine("count=", kTimeout),
              Optional(std::string("count=2")));
  EXPECT_THAT(
      child->ReadLine(kTimeout),
      Optional(absl::StrCat("fd=3 kind=unix name=api address=unix:", api)));
  EXPECT_THAT(child->ReadLine(kTimeout),
              Optional(absl::StrCat("fd=4 kind=unix name=second address=unix:",
                                    second)));
  EXPECT_THAT(child->Wait(kTimeout), Optional(0)) << child->output();
}

TEST_F(ProbeTest, JournalGetsStructuredRateLimitedLines) {
  if (::geteuid() != 0) {
    constexpr char kReason[] =
        "needs root for a private mount namespace in which the journal "
        "socket is ours";
    std::cout << "RINGWATCH-SKIP: " << kReason << std::endl;
    GTEST_SKIP() << kReason;
  }
  // In the child's own mount namespace, /run/systemd/journal/socket is our
  // listener (bind-mounted), so the real sd_journal_sendv reaches it.
  auto journal = NotifyListener::Create(dir_ + "/journal.sock");
  ASSERT_TRUE(journal.ok()) << journal.status();
  std::string source = (*journal)->path();
  ChildProcess::Options o;
  o.argv = {ProbePath(), "log"};
  o.env = {"INVOCATION_ID=0123456789abcdef0123456789abcdef"};
  o.before_exec = [source] {
    if (::unshare(CLONE_NEWNS) != 0) return false;
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      return false;
    }
    if (::mkdir("/run/systemd", 0755) != 0 && errno != EEXIST) return false;
    if (::mount("tmpfs", "/run/systemd", "tmpfs", 0, "mode=0755") != 0) {
      return false;
    }
    if (::mkdir("/run/systemd/journal", 0755) != 0) return false;
    int fd = ::open("/run/systemd/journal/socket", O_CREAT | O_WRONLY, 0644);
    if (fd < 0) return false;
    ::close(fd);
    return ::mount(source.c_str(), "/run/systemd/journal/socket", nullptr,
                   MS_BIND, nullptr) == 0;
  };
  auto child = SpawnOrDie(std::move(o));
  ASSERT_NE(child, nullptr);
  EXPECT_THAT(child->WaitForLine("log_target=", kTimeout),
              Optional(std::string("log_target=journal")));
  ASSERT_THAT(child->Wait(kTimeout), Optional(0)) << child->output();

  auto line = (*journal)->WaitFor(
      [](const NotifyMessage& m) {
        return m.Has("MESSAGE") &&
               m.fields.at("MESSAGE") == "probe structured line";
      },
      kTimeout);
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->sender_pid, child->pid());
  EXPECT_EQ(line->fields.at("PRIORITY"), "4");
  EXPECT_EQ(line->fields.at("RINGWATCH_CPU"), "1");
  EXPECT_EQ(line->fields.at("RINGWATCH_AGGREGATION"), "probe_agg");
  EXPECT_EQ(line->fields.at("SYSLOG_IDENTIFIER"), "systemd_probe");
  EXPECT_THAT(line->fields.at("CODE_FILE"), HasSubstr("systemd_probe.cc"));
  EXPECT_TRUE(line->Has("CODE_LINE"));

  // 50 identical errors in a burst: 2 per second get through.
  int repeated = 0;
  while (true) {
    auto m = (*journal)->Receive(absl::ZeroDuration());
    ASSERT_TRUE(m.ok());
    if (!m->has_value()) break;
    if (absl::StartsWith((*m)->fields["MESSAGE"], "probe repeated error")) {
      ++repeated;
    }
  }
  EXPECT_GE(repeated, 2);
  EXPECT_LE(repeated, 4);  // The burst may straddle a second boundary.
}

}  // namespace
}  // namespace ringwatch
