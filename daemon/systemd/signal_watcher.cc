#include "daemon/systemd/signal_watcher.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace ringwatch {
namespace {

constexpr int kStopSignals[] = {SIGTERM, SIGINT, SIGHUP};

sigset_t StopSignalSet() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : kStopSignals) sigaddset(&set, s);
  return set;
}

int64_t MonotonicMillis() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

absl::Status BlockStopSignals() {
  sigset_t set = StopSignalSet();
  int r = ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (r != 0) {
    return absl::ErrnoToStatus(r, "pthread_sigmask(SIG_BLOCK, TERM INT HUP)");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SignalWatcher>> SignalWatcher::Create() {
  sigset_t current;
  int r = ::pthread_sigmask(SIG_BLOCK, nullptr, &current);
  if (r != 0) return absl::ErrnoToStatus(r, "pthread_sigmask (query)");
  for (int s : kStopSignals) {
    if (sigismember(&current, s) != 1) {
      return absl::FailedPreconditionError(absl::StrCat(
          SignalName(s),
          " is not blocked: call BlockStopSignals() at the start of main, "
          "before any thread starts, so signals reach the signalfd"));
    }
  }
  sigset_t set = StopSignalSet();
  ScopedFd fd(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "signalfd");
  return std::unique_ptr<SignalWatcher>(new SignalWatcher(std::move(fd)));
}

absl::StatusOr<absl::optional<ReceivedSignal>> SignalWatcher::Wait(
    absl::Duration timeout) {
  const bool forever = timeout == absl::InfiniteDuration();
  const int64_t deadline =
      forever ? 0
              : MonotonicMillis() + absl::ToInt64Milliseconds(absl::Ceil(
                                        timeout, absl::Milliseconds(1)));
  while (true) {
    struct signalfd_siginfo info;
    ssize_t n = ::read(fd_.get(), &info, sizeof(info));
    if (n == static_cast<ssize_t>(sizeof(info))) {
      ReceivedSignal received;
      received.signo = static_cast<int>(info.ssi_signo);
      received.sender_pid = static_cast<pid_t>(info.ssi_pid);
      received.sender_uid = static_cast<uid_t>(info.ssi_uid);
      return absl::optional<ReceivedSignal>(received);
    }
    if (n >= 0) {
      return absl::InternalError(
          absl::StrCat("signalfd: short read of ", n, " bytes"));
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return absl::ErrnoToStatus(errno, "read signalfd");

    int wait_ms = -1;
    if (!forever) {
      int64_t left = deadline - MonotonicMillis();
      if (left <= 0) return absl::optional<ReceivedSignal>();
      wait_ms = static_cast<int>(left > INT32_MAX ? INT32_MAX : left);
    }
    struct pollfd pfd = {fd_.get(), POLLIN, 0};
    int r = ::poll(&pfd, 1, wait_ms);
    if (r < 0 && errno != EINTR)
      return absl::ErrnoToStatus(errno, "poll signalfd");
  }
}

const char* SignalName(int signo) {
  switch (signo) {
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    case SIGHUP:
      return "SIGHUP";
    case SIGKILL:
      return "SIGKILL";
    case SIGQUIT:
      return "SIGQUIT";
    case SIGUSR1:
      return "SIGUSR1";
    case SIGUSR2:
      return "SIGUSR2";
  }
  return "signal";
}

}  // namespace ringwatch
