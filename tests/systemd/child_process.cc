#include "tests/systemd/child_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace ringwatch {
namespace {

bool Dropped(absl::string_view entry) {
  for (absl::string_view prefix :
       {"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=", "LISTEN_FDS=",
        "LISTEN_PID=", "LISTEN_FDNAMES=", "JOURNAL_STREAM=",
        "INVOCATION_ID="}) {
    if (absl::StartsWith(entry, prefix)) return true;
  }
  return false;
}

int PollMillis(absl::Time deadline) {
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(
    Options options) {
  // Everything the child needs is allocated before fork.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!Dropped(*e)) env_strings.push_back(*e);
  }
  for (const std::string& e : options.env) env_strings.push_back(e);
  // "WATCHDOG_PID=" and room for the digits, filled in by the child.
  std::string watchdog_pid(40, '\0');
  std::memcpy(&watchdog_pid[0], "WATCHDOG_PID=", 13);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(&e[0]);
  if (options.watchdog_pid_self) envp.push_back(&watchdog_pid[0]);
  envp.push_back(nullptr);
  std::vector<char*> argv;
  for (std::string& a : options.argv) argv.push_back(&a[0]);
  argv.push_back(nullptr);

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe2");
  pid_t pid = ::fork();
  if (pid < 0) return absl::ErrnoToStatus(errno, "fork");
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    // The test's own signal mask must not leak into the child.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (options.watchdog_pid_self) {
      char digits[16];
      int n = 0;
      for (pid_t p = ::getpid(); p > 0; p /= 10) digits[n++] = '0' + p % 10;
      char* w = &watchdog_pid[13];
      while (n > 0) *w++ = digits[--n];
      *w = '\0';
    }
    if (options.before_exec && !options.before_exec()) ::_exit(127);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ScopedFd stdout_fd(out[0]);
  ScopedFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd.valid()) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return absl::ErrnoToStatus(errno, "pidfd_open");
  }
  return std::unique_ptr<ChildProcess>(
      new ChildProcess(pid, std::move(stdout_fd), std::move(pidfd)));
}

ChildProcess::~ChildProcess() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

absl::optional<std::string> ChildProcess::ReadLine(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      absl::StrAppend(&output_, line, "\n");
      return line;
    }
    struct pollfd pfd = {stdout_.get(), POLLIN, 0};
    int r = ::poll(&pfd, 1, PollMillis(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return absl::nullopt;
    char buf[4096];
    ssize_t n = ::read(stdout_.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::nullopt;
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

absl::optional<std::string> ChildProcess::WaitForLine(const std::string& prefix,
                                                      absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    absl::Duration left = deadline - absl::Now();
    if (left < absl::ZeroDuration()) return absl::nullopt;
    absl::optional<std::string> line = ReadLine(left);
    if (!line.has_value()) return absl::nullopt;
    if (absl::StartsWith(*line, prefix)) return line;
  }
}

absl::optional<int> ChildProcess::Wait(absl::Duration timeout) {
  if (reaped_) return exit_code_;
  struct pollfd pfd = {pidfd_.get(), POLLIN, 0};
  const absl::Time deadline = absl::Now() + timeout;
  int r;
  do {
    r = ::poll(&pfd, 1, PollMillis(deadline));
  } while (r < 0 && errno == EINTR);
  if (r <= 0) return absl::nullopt;
  int status = 0;
  if (::waitpid(pid_, &status, 0) != pid_) return absl::nullopt;
  reaped_ = true;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return exit_code_;
}

}  // namespace ringwatch
