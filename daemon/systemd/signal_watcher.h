// SIGTERM, SIGINT and SIGHUP read from a signalfd by the main loop instead
// of handled asynchronously: no handler runs in a random thread, and main
// decides what a signal means (reload, shut down) between two of its ticks.
#ifndef RINGWATCH_DAEMON_SYSTEMD_SIGNAL_WATCHER_H_
#define RINGWATCH_DAEMON_SYSTEMD_SIGNAL_WATCHER_H_

#include <sys/types.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "daemon/util/scoped_fd.h"

namespace ringwatch {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread. Call it first
// in main, before any thread starts: threads inherit the mask, so the
// signals then stay pending for the SignalWatcher instead of killing the
// process or landing in another thread.
absl::Status BlockStopSignals();

struct ReceivedSignal {
  int signo = 0;
  pid_t sender_pid = 0;  // 0 for the kernel.
  uid_t sender_uid = 0;
};

class SignalWatcher {
 public:
  // FailedPrecondition when BlockStopSignals() was not called in this
  // thread (the signals would never reach the fd).
  static absl::StatusOr<std::unique_ptr<SignalWatcher>> Create();

  // The next signal, waiting up to `timeout` (zero: do not wait;
  // absl::InfiniteDuration(): no limit); nullopt when the time ran out.
  absl::StatusOr<absl::optional<ReceivedSignal>> Wait(absl::Duration timeout);

  // The signalfd, readable when a signal is pending (for a poll loop of
  // the caller's own).
  int fd() const { return fd_.get(); }

 private:
  explicit SignalWatcher(ScopedFd fd) : fd_(std::move(fd)) {}

  const ScopedFd fd_;  // signalfd, non-blocking.
};

// "SIGTERM", "SIGHUP", ...; "signal" for others.
const char* SignalName(int signo);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SYSTEMD_SIGNAL_WATCHER_H_
