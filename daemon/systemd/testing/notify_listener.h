// The service manager's end of the sd_notify protocol, for tests: an
// AF_UNIX datagram socket whose path goes into NOTIFY_SOCKET, and that
// reads each message with the sender's pid (SCM_CREDENTIALS).
#ifndef RINGWATCH_DAEMON_SYSTEMD_TESTING_NOTIFY_LISTENER_H_
#define RINGWATCH_DAEMON_SYSTEMD_TESTING_NOTIFY_LISTENER_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "daemon/util/scoped_fd.h"

namespace ringwatch {

struct NotifyMessage {
  std::string text;  // "READY=1\nSTATUS=..."
  pid_t sender_pid = 0;
  // text split into KEY=value assignments.
  std::map<std::string, std::string> fields;
  bool Has(const std::string& key) const { return fields.count(key) > 0; }
};

class NotifyListener {
 public:
  // Binds a datagram socket at `path` (removed first if it exists).
  static absl::StatusOr<std::unique_ptr<NotifyListener>> Create(
      const std::string& path);
  ~NotifyListener();  // Unlinks the socket.

  const std::string& path() const { return path_; }

  // The next message; nullopt when none came within `timeout`.
  absl::StatusOr<absl::optional<NotifyMessage>> Receive(absl::Duration timeout);

  // Messages until one satisfies `pred` (returned) or `timeout` passes
  // (DeadlineExceeded, listing what did arrive).
  absl::StatusOr<NotifyMessage> WaitFor(
      const std::function<bool(const NotifyMessage&)>& pred,
      absl::Duration timeout);

 private:
  NotifyListener(std::string path, ScopedFd fd)
      : path_(std::move(path)), fd_(std::move(fd)) {}

  const std::string path_;
  const ScopedFd fd_;
};

// A directory for test sockets: $TEST_TMPDIR when socket paths under it
// fit in sockaddr_un (108 bytes), else a fresh /tmp/rwsockXXXXXX.
std::string TestSocketDir();

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SYSTEMD_TESTING_NOTIFY_LISTENER_H_
