// Finding (and if need be mounting) tracefs, and the machine's online CPUs.
#ifndef RINGWATCH_DAEMON_TRACEFS_TRACEFS_H_
#define RINGWATCH_DAEMON_TRACEFS_TRACEFS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ringwatch {

// The standard mount point, where FindOrMountTracefs mounts it when absent.
inline constexpr char kTracefsMountPoint[] = "/sys/kernel/tracing";
// Where debugfs exposes (and automounts) tracefs on older setups.
inline constexpr char kDebugfsTracingDir[] = "/sys/kernel/debug/tracing";

// The tracefs root: /sys/kernel/tracing, else /sys/kernel/debug/tracing,
// else any other tracefs mount in /proc/mounts; when there is none, mounts
// tracefs at /sys/kernel/tracing. Errors: PermissionDenied when mounting
// needs root or CAP_SYS_ADMIN, Unimplemented when the kernel has no tracefs.
absl::StatusOr<std::string> FindOrMountTracefs();

// Where FindOrMountTracefs looks; tests point it at fake files.
struct TracefsLocations {
  std::string proc_mounts = "/proc/mounts";
  std::string proc_filesystems = "/proc/filesystems";
  std::string mount_point = kTracefsMountPoint;
  std::string debugfs_dir = kDebugfsTracingDir;
};
absl::StatusOr<std::string> FindOrMountTracefsAt(const TracefsLocations& where);

// The CPUs in /sys/devices/system/cpu/online, ascending.
absl::StatusOr<std::vector<int>> OnlineCpus();

// Parsers of the files above, exposed for tests.

// Mount points of every tracefs line of /proc/mounts text, in order, with
// the kernel's octal escapes (\040 for a space) undone.
std::vector<std::string> TracefsMountPoints(absl::string_view proc_mounts);

// Whether /proc/filesystems text lists `filesystem`.
bool FilesystemListed(absl::string_view proc_filesystems,
                      absl::string_view filesystem);

// A kernel CPU list ("0-3,5,7-8\n"), ascending and without duplicates.
absl::StatusOr<std::vector<int>> ParseCpuList(absl::string_view text);

// Whether this process may mount filesystems: CAP_SYS_ADMIN in CapEff of
// /proc/self/status (root normally has it).
bool HasCapSysAdmin();

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_TRACEFS_TRACEFS_H_
