// Pets the systemd watchdog from a thread of its own, but only while the
// daemon reports itself healthy: a reader that hangs stops the pets, and
// systemd (WatchdogSec=, Restart=on-failure) restarts the daemon.
#ifndef RINGWATCH_DAEMON_SYSTEMD_WATCHDOG_PETTER_H_
#define RINGWATCH_DAEMON_SYSTEMD_WATCHDOG_PETTER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "daemon/systemd/notifier.h"

namespace ringwatch {

class WatchdogPetter {
 public:
  // OK: healthy, pet. An error: do not pet; its message is logged once
  // when health is lost (and once again when it comes back). Called from
  // the petter's thread, so it must be thread-safe and must not block.
  using HealthCheck = std::function<absl::Status()>;

  // Every `interval` / 2 (WatchdogInterval()), asks `health` and sends
  // WATCHDOG=1 when it is OK. When `interval` is zero (no watchdog) no
  // thread is started and nothing is ever sent. `notifier` must outlive
  // the petter.
  static std::unique_ptr<WatchdogPetter> Start(const SystemdNotifier* notifier,
                                               absl::Duration interval,
                                               HealthCheck health);

  WatchdogPetter(const WatchdogPetter&) = delete;
  WatchdogPetter& operator=(const WatchdogPetter&) = delete;
  ~WatchdogPetter();  // Stops.

  // Joins the thread; no pet is sent after it returns. Idempotent.
  void Stop();

  // Whether a thread pets at all (a watchdog is configured).
  bool running() const { return thread_.joinable(); }
  // WATCHDOG=1 messages sent, and rounds skipped because unhealthy.
  uint64_t pets() const;
  uint64_t skipped() const;

 private:
  WatchdogPetter(const SystemdNotifier* notifier, absl::Duration period,
                 HealthCheck health);
  void Run();

  const SystemdNotifier* const notifier_;  // Never null.
  const absl::Duration period_;
  const HealthCheck health_;

  // A std::condition_variable because it waits on the steady clock: a
  // wall-clock step (NTP at boot) must not delay a pet.
  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;     // Guarded by mu_.
  uint64_t pets_ = 0;     // Guarded by mu_.
  uint64_t skipped_ = 0;  // Guarded by mu_.
  std::thread thread_;
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SYSTEMD_WATCHDOG_PETTER_H_
