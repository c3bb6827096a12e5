// The sd_notify(3) protocol: readiness, status, reload and watchdog
// messages to the service manager. Every call is a no-op when the process
// was not started by systemd with Type=notify (NOTIFY_SOCKET unset).
#ifndef RINGWATCH_DAEMON_SYSTEMD_NOTIFIER_H_
#define RINGWATCH_DAEMON_SYSTEMD_NOTIFIER_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace ringwatch {

// Sends state changes to systemd. Stateless apart from what it read from
// the environment at construction, so it is safe to use from several
// threads at once (the watchdog thread pets while main sends STATUS=).
class SystemdNotifier {
 public:
  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID now. The
  // environment is left as it is (children do not inherit anything we
  // would need to hide: ringwatchd starts none).
  SystemdNotifier();

  // Whether NOTIFY_SOCKET is set: the messages below go somewhere.
  bool enabled() const { return enabled_; }

  // READY=1. Send it once the daemon really serves: readers run and the
  // server listens.
  absl::Status Ready() const;
  // STATUS=<line>: the one-line summary `systemctl status` shows. Newlines
  // in `line` become spaces (each line of a message is an assignment).
  absl::Status Status(absl::string_view line) const;
  // WATCHDOG=1.
  absl::Status Watchdog() const;
  // RELOADING=1 with MONOTONIC_USEC (systemd 253 wants it, older ones
  // ignore it). Follow with ReadyAfterReload() whether the reload
  // succeeded or not.
  absl::Status Reloading() const;
  // READY=1 after a reload, with a STATUS= line saying how it went.
  absl::Status ReadyAfterReload(absl::string_view status_line) const;
  // STOPPING=1.
  absl::Status Stopping() const;

  // The watchdog timeout systemd enforces for this process
  // (WatchdogSec=), zero when there is none or it is meant for another
  // pid. Pet at half of it.
  absl::Duration WatchdogInterval() const { return watchdog_interval_; }

  // Sends `message` ("KEY=value\nKEY=value") as is.
  absl::Status Send(absl::string_view message) const;

 private:
  bool enabled_ = false;
  absl::Duration watchdog_interval_ = absl::ZeroDuration();
};

// `line` with CR and LF replaced by spaces, for a STATUS= value.
std::string SanitizeStatusLine(absl::string_view line);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SYSTEMD_NOTIFIER_H_
