// A child process for the tests in this directory: fork + execve with a
// chosen environment, stdout read line by line with deadlines, exit
// awaited on a pidfd (no sleeps).
#ifndef RINGWATCH_TESTS_SYSTEMD_CHILD_PROCESS_H_
#define RINGWATCH_TESTS_SYSTEMD_CHILD_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "daemon/util/scoped_fd.h"

namespace ringwatch {

class ChildProcess {
 public:
  struct Options {
    std::vector<std::string> argv;
    // Added to (or replacing) this process's environment. NOTIFY_SOCKET,
    // WATCHDOG_*, LISTEN_*, JOURNAL_STREAM and INVOCATION_ID are dropped
    // from the inherited environment first.
    std::vector<std::string> env;
    // Sets WATCHDOG_PID to the child's own pid (as systemd does).
    bool watchdog_pid_self = false;
    // Runs in the child between fork and exec (only async-signal-safe
    // calls). Returns false to make the child exit 127.
    std::function<bool()> before_exec;
  };

  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(Options options);
  ~ChildProcess();  // SIGKILLs and reaps the child if still running.

  pid_t pid() const { return pid_; }

  // The next stdout line (without '\n'); nullopt on timeout or EOF.
  absl::optional<std::string> ReadLine(absl::Duration timeout);
  // Lines until one starts with `prefix` (returned); nullopt on timeout or
  // EOF. Every line read is kept in output().
  absl::optional<std::string> WaitForLine(const std::string& prefix,
                                          absl::Duration timeout);
  const std::string& output() const { return output_; }

  // Exit code (128+N when killed by signal N); nullopt on timeout.
  absl::optional<int> Wait(absl::Duration timeout);

 private:
  ChildProcess(pid_t pid, ScopedFd stdout_fd, ScopedFd pidfd)
      : pid_(pid), stdout_(std::move(stdout_fd)), pidfd_(std::move(pidfd)) {}

  pid_t pid_;
  ScopedFd stdout_;
  ScopedFd pidfd_;
  std::string buffer_;  // Read but not yet returned.
  std::string output_;  // Every line returned so far.
  bool reaped_ = false;
  int exit_code_ = -1;
};

}  // namespace ringwatch

#endif  // RINGWATCH_TESTS_SYSTEMD_CHILD_PROCESS_H_
