// A pid file that proves liveness: the owner holds an exclusive flock on
// it for as long as it runs, so a pid file left by a daemon that was
// killed (-9, OOM, crash) is recognisably stale, whatever pid it names and
// whoever reuses that pid since.
#ifndef RINGWATCH_DAEMON_SYSTEMD_PID_FILE_H_
#define RINGWATCH_DAEMON_SYSTEMD_PID_FILE_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/util/scoped_fd.h"

namespace ringwatch {

inline constexpr char kDefaultPidFile[] = "/run/ringwatch/ringwatchd.pid";

class PidFile {
 public:
  // Creates (or takes over a stale) `path`, locks it and writes our pid.
  // Creates the parent directory (0755) when missing. FailedPrecondition
  // naming the pid when a live process holds it.
  static absl::StatusOr<std::unique_ptr<PidFile>> Acquire(
      const std::string& path);

  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;
  // Removes the file, then drops the lock.
  ~PidFile();

  const std::string& path() const { return path_; }

 private:
  PidFile(std::string path, ScopedFd fd)
      : path_(std::move(path)), fd_(std::move(fd)) {}

  const std::string path_;
  ScopedFd fd_;  // Holds the flock.
};

struct PidFileState {
  enum class Owner {
    kAbsent,  // No pid file.
    kStale,   // A pid file nobody holds: its daemon is gone.
    kThisProcess,
    kOther,  // A live process holds it.
  };
  Owner owner = Owner::kAbsent;
  pid_t pid = 0;  // The pid written in it; 0 when absent or unreadable.
};

// Who holds `path`, without disturbing its holder.
absl::StatusOr<PidFileState> InspectPidFile(const std::string& path);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SYSTEMD_PID_FILE_H_
