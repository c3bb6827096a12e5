#include "daemon/systemd/pid_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "daemon/util/file_util.h"

namespace ringwatch {
namespace {

pid_t ParsePid(const std::string& text) {
  int64_t pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &pid) || pid <= 0 ||
      pid > INT32_MAX) {
    return 0;
  }
  return static_cast<pid_t>(pid);
}

pid_t ReadPid(int fd) {
  char buf[32];
  ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return 0;
  return ParsePid(std::string(buf, static_cast<size_t>(n)));
}

absl::Status MakeParentDir(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return absl::OkStatus();
  std::string dir = path.substr(0, slash);
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return PathError(errno, "mkdir", dir);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PidFile>> PidFile::Acquire(
    const std::string& path) {
  absl::Status dir = MakeParentDir(path);
  if (!dir.ok()) return dir;
  // A holder that exits unlinks the file before unlocking: the file we
  // locked may have been unlinked meanwhile, so check it is still the one
  // at `path` and start again when not.
  for (int attempt = 0; attempt < 10; ++attempt) {
    ScopedFd fd(
        ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd.valid()) return PathError(errno, "open pid file", path);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK) return PathError(errno, "flock", path);
      pid_t holder = ReadPid(fd.get());
      return absl::FailedPreconditionError(absl::StrCat(
          "pid file ", path, " is held by a running ringwatchd (pid ", holder,
          "); stop it first, or give this one another pid file"));
    }
    struct stat locked, current;
    if (::fstat(fd.get(), &locked) != 0) {
      return PathError(errno, "fstat", path);
    }
    if (::stat(path.c_str(), &current) != 0 ||
        current.st_ino != locked.st_ino || current.st_dev != locked.st_dev) {
      continue;
    }
    std::string text = absl::StrCat(::getpid(), "\n");
    if (::ftruncate(fd.get(), 0) != 0)
      return PathError(errno, "truncate", path);
    if (::pwrite(fd.get(), text.data(), text.size(), 0) !=
        static_cast<ssize_t>(text.size())) {
      return PathError(errno, "write", path);
    }
    return std::unique_ptr<PidFile>(new PidFile(path, std::move(fd)));
  }
  return absl::AbortedError(
      absl::StrCat("pid file ", path, " keeps being replaced; giving up"));
}

PidFile::~PidFile() {
  // Unlink while still holding the lock, so no one locks a file that is
  // about to vanish without noticing (Acquire re-checks the inode).
  if (fd_.valid()) ::unlink(path_.c_str());
}

absl::StatusOr<PidFileState> InspectPidFile(const std::string& path) {
  PidFileState state;
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    if (errno == ENOENT) return state;
    return PathError(errno, "open pid file", path);
  }
  state.pid = ReadPid(fd.get());
  // A shared lock conflicts with the holder's exclusive one, even when the
  // holder is this very process (flock locks belong to open files).
  if (::flock(fd.get(), LOCK_SH | LOCK_NB) == 0) {
    state.owner = PidFileState::Owner::kStale;
    return state;  // Closing fd drops the lock.
  }
  if (errno != EWOULDBLOCK) return PathError(errno, "flock", path);
  state.owner = state.pid == ::getpid() ? PidFileState::Owner::kThisProcess
                                        : PidFileState::Owner::kOther;
  return state;
}

}  // namespace ringwatch
