// For live tests that compare with trace-cmd: finding the binary and running
// it with its output in a file.
#ifndef RINGWATCH_DAEMON_TRACEDAT_TRACE_CMD_RUNNER_H_
#define RINGWATCH_DAEMON_TRACEDAT_TRACE_CMD_RUNNER_H_

#include <string>

#include "absl/status/status.h"

namespace ringwatch {

// The trace-cmd binary on PATH, or "".
std::string FindTraceCmd();

// Runs `command` (a shell command line) with stdout to `out` and stderr to
// `out`.err; on failure the error holds the exit status and the end of
// stderr.
absl::Status RunShell(const std::string& command, const std::string& out);

// The test's scratch directory (TEST_TMPDIR).
std::string TestScratchDir();

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_TRACEDAT_TRACE_CMD_RUNNER_H_
