// The daemon's own resource use, read from /proc/self (for GetStatus).
#ifndef RINGWATCH_DAEMON_SERVER_PROC_SELF_H_
#define RINGWATCH_DAEMON_SERVER_PROC_SELF_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ringwatch {

struct ProcessUsage {
  double user_cpu_seconds = 0;
  double system_cpu_seconds = 0;
  uint64_t rss_bytes = 0;
  uint64_t vm_size_bytes = 0;
  uint32_t threads = 0;
};

// Parses /proc/<pid>/stat text. Errors name the field that is missing.
absl::StatusOr<ProcessUsage> ParseProcStat(absl::string_view text,
                                           long clock_ticks_per_second,
                                           long page_size);

// Reads /proc/self/stat.
absl::StatusOr<ProcessUsage> ReadProcessUsage();

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SERVER_PROC_SELF_H_
