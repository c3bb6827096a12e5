#include "daemon/systemd/notifier.h"

#include <errno.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"

namespace ringwatch {

SystemdNotifier::SystemdNotifier() {
  const char* socket = ::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && socket[0] != '\0';
  uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID (if any) is ours.
  if (sd_watchdog_enabled(/*unset_environment=*/0, &usec) > 0) {
    // libsystemd accepts any WATCHDOG_USEC below 2^64-1: above 2^63 the cast
    // went negative (no petting at all), and intervals of centuries overflow
    // the petter's clock arithmetic. Petting early is always fine, so cap
    // the interval at a year.
    constexpr uint64_t kMaxUsec = uint64_t{365} * 24 * 3600 * 1000000;
    watchdog_interval_ =
        absl::Microseconds(static_cast<int64_t>(std::min(usec, kMaxUsec)));
  }
}

absl::Status SystemdNotifier::Send(absl::string_view message) const {
  if (!enabled_) return absl::OkStatus();
  std::string text(message);
  int r = sd_notify(/*unset_environment=*/0, text.c_str());
  if (r < 0) {
    const char* socket = ::getenv("NOTIFY_SOCKET");
    return absl::ErrnoToStatus(
        -r, absl::StrCat("sd_notify to NOTIFY_SOCKET=", socket ? socket : "",
                         " (", text.substr(0, text.find('\n')), ")"));
  }
  return absl::OkStatus();
}

absl::Status SystemdNotifier::Ready() const { return Send("READY=1"); }

absl::Status SystemdNotifier::Status(absl::string_view line) const {
  return Send(absl::StrCat("STATUS=", SanitizeStatusLine(line)));
}

absl::Status SystemdNotifier::Watchdog() const { return Send("WATCHDOG=1"); }

absl::Status SystemdNotifier::Reloading() const {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t usec = static_cast<uint64_t>(ts.tv_sec) * 1000000 +
                  static_cast<uint64_t>(ts.tv_nsec) / 1000;
  return Send(absl::StrCat("RELOADING=1\nMONOTONIC_USEC=", usec));
}

absl::Status SystemdNotifier::ReadyAfterReload(
    absl::string_view status_line) const {
  return Send(
      absl::StrCat("READY=1\nSTATUS=", SanitizeStatusLine(status_line)));
}

absl::Status SystemdNotifier::Stopping() const { return Send("STOPPING=1"); }

std::string SanitizeStatusLine(absl::string_view line) {
  std::string out(line);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

}  // namespace ringwatch
