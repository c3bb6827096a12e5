// The daemon's flight recorder: keeps the last N seconds or bytes of raw
// ring-buffer sub-buffers per CPU, as the kernel wrote them, and writes the
// ones covering a requested span to a trace.dat on demand (issue 14, §3).
//
// Feeding it is one copy per sub-buffer (AddPage) from the reader thread
// that owns the CPU; Snapshot may run on any thread. Each CPU has its own
// lock, taken once per sub-buffer, never per event. Memory is bounded by
// max_bytes_per_cpu * cpu_count (reserved_bytes(), what a memory budget
// should be charged); pages past the byte bound or older than max_age
// (by the kernel's page timestamps) are evicted and counted.
#ifndef RINGWATCH_DAEMON_RECORDER_FLIGHT_RECORDER_H_
#define RINGWATCH_DAEMON_RECORDER_FLIGHT_RECORDER_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "daemon/tracedat/trace_dat_writer.h"

namespace ringwatch {

struct FlightRecorderOptions {
  uint32_t page_size = 4096;  // Sub-buffer size, header included.
  uint32_t cpu_count = 0;
  uint64_t max_bytes_per_cpu = 8 << 20;
  // Pages whose timestamp is older than the newest page seen (any CPU) by
  // more than this are evicted; in trace-clock units (ns for "local").
  uint64_t max_age = 30'000'000'000;
};

struct FlightRecorderCounters {
  uint64_t pages_added = 0;
  uint64_t pages_held = 0;
  uint64_t bytes_held = 0;
  uint64_t pages_evicted_for_bytes = 0;
  uint64_t pages_evicted_for_age = 0;
  uint64_t pages_refused = 0;  // Wrong size or CPU: never stored.
};

class FlightRecorder {
 public:
  // Caps: page size a power of two in [64, 16 MiB], 1..8192 CPUs, at least
  // one page per CPU.
  static absl::StatusOr<std::unique_ptr<FlightRecorder>> Create(
      const FlightRecorderOptions& options);

  // Copies one sub-buffer of `cpu`. Wrong sizes and CPUs are counted and
  // refused (InvalidArgument), never stored.
  absl::Status AddPage(uint32_t cpu, absl::Span<const uint8_t> page);

  // Adds to `writer` every held page of every CPU that may hold events at
  // or after `newest - span` (the page before the cut is kept: it may end
  // after it), oldest first per CPU. span 0: everything held. Returns the
  // pages written. Pages are copied out under each CPU's lock in turn.
  absl::StatusOr<uint64_t> Snapshot(uint64_t span, TraceDatWriter* writer);

  // Newest page timestamp seen on any CPU (0 before the first page).
  uint64_t newest_timestamp() const;
  FlightRecorderCounters counters() const;
  uint64_t reserved_bytes() const {
    return options_.max_bytes_per_cpu * options_.cpu_count;
  }
  const FlightRecorderOptions& options() const { return options_; }

 private:
  struct Page {
    uint64_t timestamp;
    std::vector<uint8_t> bytes;
  };
  struct Cpu {
    mutable absl::Mutex mu;
    std::deque<Page> pages ABSL_GUARDED_BY(mu);
    uint64_t bytes ABSL_GUARDED_BY(mu) = 0;
    FlightRecorderCounters counters ABSL_GUARDED_BY(mu);
  };

  explicit FlightRecorder(const FlightRecorderOptions& options);
  void EvictLocked(Cpu* cpu, uint64_t newest)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(cpu->mu);

  const FlightRecorderOptions options_;
  std::vector<std::unique_ptr<Cpu>> cpus_;
  mutable absl::Mutex newest_mu_;
  uint64_t newest_ ABSL_GUARDED_BY(newest_mu_) = 0;
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_RECORDER_FLIGHT_RECORDER_H_
