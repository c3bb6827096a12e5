// Parses the kernel's text rendering of a buffer (the tracefs `trace` file)
// so tests can check decoded records against the kernel's own view.
#ifndef RINGWATCH_DAEMON_RING_TESTING_TRACE_TEXT_H_
#define RINGWATCH_DAEMON_RING_TESTING_TRACE_TEXT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ringwatch {

// One event line: "  python3-9156  [000] ...1. 1765.781170: print: text".
struct TraceLine {
  std::string task;  // "python3-9156".
  uint32_t cpu = 0;
  std::string flags;      // "...1.".
  std::string timestamp;  // As printed: "1765.781170" or "4319969091676".
  std::string event;      // "tracing_mark_write".
  std::string body;       // The rest of the line after "event: ".
};

// Every event line of `text`, in order; '#' comments and blank lines are
// skipped. InvalidArgument names the first line that is neither.
absl::StatusOr<std::vector<TraceLine>> ParseTraceText(absl::string_view text);

// `timestamp` as the `trace` file prints it: clocks counting nanoseconds
// ("local", "global", "mono", ...) in seconds with microseconds, rounded to
// the nearest microsecond as the kernel's ns2usecs() does; counters
// ("x86-tsc", "counter") as the raw value.
std::string FormatTraceTimestamp(uint64_t timestamp,
                                 absl::string_view trace_clock);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_RING_TESTING_TRACE_TEXT_H_
