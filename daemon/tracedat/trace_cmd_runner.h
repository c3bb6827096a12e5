// For live tests that compare with trace-cmd: finding the binary and running
// it with its output in a file.
#ifndef RINGWATCH_DAEMON_TRACEDAT_TRACE_CMD_RUNNER_H_
#define RINGWATCH_DAEMON_TRACEDAT_TRACE_CMD_RUNNER_H_

#include <string>

#include "absl/status/status.h"
#include "daemon/tracefs/instance.h"

namespace ringwatch {

// The trace-cmd binary on PATH, or "".
std::string FindTraceCmd();

// Runs `command` (a shell command line) with stdout to `out` and stderr to
// `out`.err; on failure the error holds the exit status and the end of
// stderr.
absl::Status RunShell(const std::string& command, const std::string& out);

// `trace-cmd extract -B` of `instance` into `out` (its log in `log`). The
// extract removes the instance it read, so `instance` is released first and
// removed here only if it is still there; an error names what failed.
absl::Status ExtractInstance(const std::string& trace_cmd, Instance* instance,
                             const std::string& out, const std::string& log);

// The test's scratch directory (TEST_TMPDIR).
std::string TestScratchDir();

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_TRACEDAT_TRACE_CMD_RUNNER_H_
