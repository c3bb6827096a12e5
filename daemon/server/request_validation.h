// Checks of API request arguments that need no server state beyond the
// limits and the kernel's event list, so they can be tested and fuzzed
// without a server (api_request_fuzzer.cc).
#ifndef RINGWATCH_DAEMON_SERVER_REQUEST_VALIDATION_H_
#define RINGWATCH_DAEMON_SERVER_REQUEST_VALIDATION_H_

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

// StreamEvents: max_events_per_second must be 0 (the default rate) or a
// positive number up to `max_rate`, and every event glob must match one of
// `events`. INVALID_ARGUMENT naming the argument and the reason otherwise.
absl::StatusOr<StreamRate> ValidateStreamEventsRequest(
    const v1::StreamEventsRequest& request, double default_rate,
    double max_rate, absl::Span<const v1::EventDescriptor> events);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SERVER_REQUEST_VALIDATION_H_
