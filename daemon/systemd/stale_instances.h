// Removing tracefs instances left behind by an earlier ringwatchd that was
// killed before it could clean up (kill -9, OOM killer, watchdog restart).
#ifndef RINGWATCH_DAEMON_SYSTEMD_STALE_INSTANCES_H_
#define RINGWATCH_DAEMON_SYSTEMD_STALE_INSTANCES_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ringwatch {

struct StaleInstanceReport {
  std::vector<std::string> removed;
  // Instances that matched the prefix but are in use, with the reason.
  std::vector<std::pair<std::string, std::string>> kept;
  // Stale instances that could not be removed, with the error.
  std::vector<std::pair<std::string, absl::Status>> failed;

  // One line for the log: "removed ringwatch; kept ringwatch_12 (...)".
  std::string Summary() const;
};

// Looks at tracefs_root/instances and removes (disables events, rmdir) the
// instances named:
//   <prefix>        when `pid_file` is not held by another live process
//                   (absent, stale, or held by us: we own the name now, so
//                   what exists predates us);
//   <prefix>_<pid>  when process <pid> is gone, or is us (call this before
//                   creating any instance: one with our pid is then from an
//                   earlier process that had the same pid).
// Call it after PidFile::Acquire(pid_file) and before creating the
// instance. Other names are never touched. Errors only when the instances
// directory cannot be listed; per-instance failures are in the report.
absl::StatusOr<StaleInstanceReport> RemoveStaleInstances(
    absl::string_view tracefs_root, absl::string_view prefix,
    const std::string& pid_file);

// The pid in "<prefix>_<pid>", 0 when `name` is not of that form.
int ParseInstancePid(absl::string_view name, absl::string_view prefix);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SYSTEMD_STALE_INSTANCES_H_
