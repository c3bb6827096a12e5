// A lock-free token bucket (GCRA form) that limits how many events per second
// a StreamEvents call forwards. Safe to call from every reader thread at once.
#ifndef RINGWATCH_DAEMON_SERVER_TOKEN_BUCKET_H_
#define RINGWATCH_DAEMON_SERVER_TOKEN_BUCKET_H_

#include <atomic>
#include <cstdint>

namespace ringwatch {

class TokenBucket {
 public:
  // `rate_per_second` > 0 tokens are added per second, up to `burst` >= 1
  // held at once. The bucket starts full.
  TokenBucket(double rate_per_second, uint32_t burst);

  // Takes one token at time `now_ns` (any monotonic clock, in ns); false when
  // none is left. Never blocks: one CAS loop on a single atomic.
  bool TryTake(int64_t now_ns);

  // Takes one token using the monotonic clock.
  bool TryTake();

  int64_t interval_ns() const { return interval_ns_; }

 private:
  const int64_t interval_ns_;   // Time one token takes to refill. >= 1.
  const int64_t tolerance_ns_;  // (burst - 1) * interval: how far ahead the
                                // theoretical arrival time may run.
  // GCRA's theoretical arrival time of the next conforming event; a value
  // that low means the bucket is full.
  std::atomic<int64_t> tat_ns_{INT64_MIN / 2};
};

// Monotonic clock in nanoseconds.
int64_t MonotonicNowNs();

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SERVER_TOKEN_BUCKET_H_
