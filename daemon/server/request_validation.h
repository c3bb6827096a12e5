// Checks of API request arguments that need no server state beyond the
// limits and the kernel's event list, so they can be tested and fuzzed
// without a server (api_request_fuzzer.cc).
#ifndef RINGWATCH_DAEMON_SERVER_REQUEST_VALIDATION_H_
#define RINGWATCH_DAEMON_SERVER_REQUEST_VALIDATION_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "proto/ringwatch/v1/ringwatch.pb.h"

namespace ringwatch {

// The rate a StreamEvents stream gets.
struct StreamRate {
  double events_per_second = 0;
  uint32_t burst = 0;
};

// Caps on what one StreamEvents request may list. Every event is checked
// against the request's globs, CPUs and pids, so their number bounds the
// per-event cost a client can impose; the values are the kernel's own
// limits (NR_CPUS at most 8192, PID_MAX_LIMIT 4194304).
inline constexpr int kMaxStreamGlobs = 64;
inline constexpr size_t kMaxStreamGlobLength = 256;
inline constexpr int kMaxStreamCpus = 1024;
inline constexpr uint32_t kMaxCpuNumber = 8191;
inline constexpr int kMaxStreamPids = 1024;
inline constexpr int32_t kMaxPid = 4194304;

// StreamEvents: max_events_per_second must be 0 (the default rate) or a
// positive number up to `max_rate`, burst at most `max_rate`, every event
// glob must match one of `events`, and the globs, CPUs and pids stay within
// the caps above. INVALID_ARGUMENT naming the argument and the reason
// otherwise.
absl::StatusOr<StreamRate> ValidateStreamEventsRequest(
    const v1::StreamEventsRequest& request, double default_rate,
    double max_rate, absl::Span<const v1::EventDescriptor> events);

// Snapshot: seconds finite in [0, 3600], file_version 0 (7), 6 or 7.
// Returns the span in nanoseconds and sets `*file_version`.
absl::StatusOr<uint64_t> ValidateSnapshotRequest(
    const v1::SnapshotRequest& request, int* file_version);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SERVER_REQUEST_VALIDATION_H_
