#include "daemon/tracefs/tracefs.h"

#include <errno.h>
#include <sys/mount.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "daemon/util/file_util.h"

namespace ringwatch {
namespace {

constexpr char kCpuOnline[] = "/sys/devices/system/cpu/online";
constexpr int kCapSysAdmin = 21;  // linux/capability.h
// Bounds a CPU list against hostile or corrupt text.
constexpr int kMaxCpus = 1 << 16;

// Undoes the \ooo escapes the kernel writes for space, tab, newline and
// backslash in /proc/mounts fields.
std::string UnescapeMountField(absl::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && field.size() - i > 3) {
      int value = 0;
      bool octal = true;
      for (size_t k = 1; k <= 3; ++k) {
        char c = field[i + k];
        if (c < '0' || c > '7') {
          octal = false;
          break;
        }
        value = value * 8 + (c - '0');
      }
      if (octal && value < 256) {
        out.push_back(static_cast<char>(value));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

// A usable tracefs root has the top-level `trace` file.
bool LooksLikeTracefs(const std::string& dir) {
  return PathExists(dir + "/trace") && PathExists(dir + "/events");
}

}  // namespace

std::vector<std::string> TracefsMountPoints(absl::string_view proc_mounts) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(proc_mounts, '\n')) {
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.size() >= 3 && fields[2] == "tracefs") {
      out.push_back(UnescapeMountField(fields[1]));
    }
  }
  return out;
}

bool FilesystemListed(absl::string_view proc_filesystems,
                      absl::string_view filesystem) {
  for (absl::string_view line : absl::StrSplit(proc_filesystems, '\n')) {
    // "nodev\ttracefs" or "\text4".
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (!fields.empty() && fields.back() == filesystem) return true;
  }
  return false;
}

absl::StatusOr<std::vector<int>> ParseCpuList(absl::string_view text) {
  std::vector<int> cpus;
  absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  if (trimmed.empty()) {
    return absl::InvalidArgumentError("empty CPU list");
  }
  for (absl::string_view range : absl::StrSplit(trimmed, ',')) {
    std::vector<absl::string_view> ends = absl::StrSplit(range, '-');
    int first, last;
    if (ends.size() == 1 && absl::SimpleAtoi(ends[0], &first)) {
      last = first;
    } else if (ends.size() == 2 && absl::SimpleAtoi(ends[0], &first) &&
               absl::SimpleAtoi(ends[1], &last)) {
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad CPU range '", range, "' in CPU list '", trimmed, "'"));
    }
    if (first < 0 || last < first || last >= kMaxCpus) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad CPU range '", range, "' in CPU list '", trimmed, "'"));
    }
    for (int cpu = first; cpu <= last; ++cpu) cpus.push_back(cpu);
    if (cpus.size() > static_cast<size_t>(kMaxCpus)) {
      return absl::InvalidArgumentError(
          absl::StrCat("CPU list '", trimmed, "' is too long"));
    }
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

bool HasCapSysAdmin() {
  absl::StatusOr<std::string> status = ReadFileToString("/proc/self/status");
  if (!status.ok()) return false;
  for (absl::string_view line : absl::StrSplit(*status, '\n')) {
    if (!absl::ConsumePrefix(&line, "CapEff:")) continue;
    uint64_t caps;
    if (!absl::SimpleHexAtoi(absl::StripAsciiWhitespace(line), &caps)) {
      return false;
    }
    return (caps >> kCapSysAdmin) & 1;
  }
  return false;
}

absl::StatusOr<std::string> FindOrMountTracefs() {
  return FindOrMountTracefsAt(TracefsLocations());
}

absl::StatusOr<std::string> FindOrMountTracefsAt(
    const TracefsLocations& where) {
  absl::StatusOr<std::string> mounts = ReadFileToString(where.proc_mounts);
  std::vector<std::string> mount_points;
  if (mounts.ok()) mount_points = TracefsMountPoints(*mounts);
  auto mounted = [&](const std::string& dir) {
    return std::find(mount_points.begin(), mount_points.end(), dir) !=
           mount_points.end();
  };

  const std::string& standard = where.mount_point;
  if ((mounted(standard) || !mounts.ok()) && LooksLikeTracefs(standard)) {
    return standard;
  }
  // Under debugfs, looking at the directory automounts tracefs.
  if (LooksLikeTracefs(where.debugfs_dir)) return where.debugfs_dir;
  for (const std::string& dir : mount_points) {
    if (LooksLikeTracefs(dir)) return dir;
  }

  absl::StatusOr<std::string> filesystems =
      ReadFileToString(where.proc_filesystems);
  if (filesystems.ok() && !FilesystemListed(*filesystems, "tracefs")) {
    return absl::UnimplementedError(
        "this kernel has no tracefs (not in /proc/filesystems): it was built "
        "without CONFIG_FTRACE/CONFIG_TRACING, so ring buffers cannot be read");
  }
  if (!HasCapSysAdmin()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "tracefs is not mounted and mounting it at ", standard,
        " needs root or CAP_SYS_ADMIN; run as root, or mount it first: "
        "mount -t tracefs nodev ",
        standard));
  }
  if (!PathExists(standard)) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot mount tracefs: mount point ", standard,
                     " does not exist (is sysfs mounted at /sys?)"));
  }
  if (::mount("nodev", standard.c_str(), "tracefs", 0, nullptr) != 0) {
    int err = errno;
    if (err == EPERM || err == EACCES) {
      return absl::PermissionDeniedError(absl::StrCat(
          "mount tracefs at ", standard, ": ", strerror(err),
          " (needs root or CAP_SYS_ADMIN in the initial namespace)"));
    }
    return PathError(err, "mount tracefs at", standard);
  }
  if (!LooksLikeTracefs(standard)) {
    return absl::InternalError(absl::StrCat("mounted tracefs at ", standard,
                                            " but it has no 'trace' file"));
  }
  return standard;
}

absl::StatusOr<std::vector<int>> OnlineCpus() {
  absl::StatusOr<std::string> text = ReadFileToString(kCpuOnline);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::vector<int>> cpus = ParseCpuList(*text);
  if (!cpus.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(kCpuOnline, ": ", cpus.status().message()));
  }
  return cpus;
}

}  // namespace ringwatch
