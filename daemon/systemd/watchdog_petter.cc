#include "daemon/systemd/watchdog_petter.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/systemd/log.h"

namespace ringwatch {

std::unique_ptr<WatchdogPetter> WatchdogPetter::Start(
    const SystemdNotifier* notifier, absl::Duration interval,
    HealthCheck health) {
  std::unique_ptr<WatchdogPetter> petter(
      new WatchdogPetter(notifier, interval / 2, std::move(health)));
  if (interval > absl::ZeroDuration()) {
    petter->thread_ = std::thread([p = petter.get()] { p->Run(); });
  }
  return petter;
}

WatchdogPetter::WatchdogPetter(const SystemdNotifier* notifier,
                               absl::Duration period, HealthCheck health)
    : notifier_(notifier), period_(period), health_(std::move(health)) {}

WatchdogPetter::~WatchdogPetter() { Stop(); }

void WatchdogPetter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t WatchdogPetter::pets() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pets_;
}

uint64_t WatchdogPetter::skipped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return skipped_;
}

void WatchdogPetter::Run() {
  const auto period = absl::ToChronoMicroseconds(period_);
  bool was_healthy = true;
  // The first round runs at once: a fresh daemon pets as soon as it is up.
  auto next = std::chrono::steady_clock::now();
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stop_cv_.wait_until(lock, next, [this] { return stop_; })) return;
    }
    next += period;
    // Outside the lock: the check may take a moment.
    absl::Status health = health_ ? health_() : absl::OkStatus();
    if (health.ok()) {
      if (!was_healthy) {
        RW_LOG(Severity::kNotice, "watchdog: healthy again, petting resumes");
      }
      absl::Status sent = notifier_->Watchdog();
      if (!sent.ok()) {
        RW_LOG_RATE_LIMITED(1, Severity::kWarning,
                            absl::StrCat("watchdog: ", sent.ToString()));
      }
      std::lock_guard<std::mutex> lock(mu_);
      ++pets_;
    } else {
      if (was_healthy) {
        RW_LOG(Severity::kError,
               absl::StrCat("watchdog: not petting, the daemon is unhealthy (",
                            health.message(),
                            "); systemd restarts it if this lasts"));
      }
      std::lock_guard<std::mutex> lock(mu_);
      ++skipped_;
    }
    was_healthy = health.ok();
  }
}

}  // namespace ringwatch
