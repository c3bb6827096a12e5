#include "daemon/server/token_bucket.h"

#include <time.h>

#include <algorithm>
#include <cmath>

namespace ringwatch {

namespace {
int64_t IntervalFor(double rate_per_second) {
  // A zero rate refills once every 10^15 ns (11 days): never, in practice.
  constexpr double kNever = 1e15;
  if (!(rate_per_second > 0)) return static_cast<int64_t>(kNever);
  const double ns = std::min(1e9 / rate_per_second, kNever);
  return ns < 1 ? 1 : static_cast<int64_t>(std::llround(ns));
}

// (burst - 1) * interval, saturated far below INT64_MAX so that adding an
// interval to a clock reading cannot overflow.
int64_t ToleranceFor(int64_t interval_ns, uint32_t burst) {
  const double tolerance =
      static_cast<double>(interval_ns) * (std::max<uint32_t>(burst, 1) - 1);
  return static_cast<int64_t>(std::min(tolerance, 4e18));
}
}  // namespace

TokenBucket::TokenBucket(double rate_per_second, uint32_t burst)
    : interval_ns_(IntervalFor(rate_per_second)),
      tolerance_ns_(ToleranceFor(interval_ns_, burst)) {}

bool TokenBucket::TryTake(int64_t now_ns) {
  int64_t tat = tat_ns_.load(std::memory_order_relaxed);
  for (;;) {
    const int64_t start = std::max(tat, now_ns);
    if (start - now_ns > tolerance_ns_) return false;
    if (tat_ns_.compare_exchange_weak(tat, start + interval_ns_,
                                      std::memory_order_relaxed)) {
      return true;
    }
  }
}

bool TokenBucket::TryTake() { return TryTake(MonotonicNowNs()); }

int64_t MonotonicNowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace ringwatch
