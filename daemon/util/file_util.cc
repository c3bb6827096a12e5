#include "daemon/util/file_util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "daemon/util/scoped_fd.h"

namespace ringwatch {

absl::Status PathError(int errno_value, absl::string_view what,
                       absl::string_view path) {
  return absl::ErrnoToStatus(errno_value, absl::StrCat(what, " ", path));
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return PathError(errno, "open", path);
  std::string contents;
  char buffer[8192];
  while (true) {
    ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      return PathError(errno, "read", path);
    }
    if (n == 0) break;
    contents.append(buffer, static_cast<size_t>(n));
  }
  return contents;
}

absl::Status WriteStringToFile(const std::string& path,
                               absl::string_view contents, bool append) {
  int flags = O_WRONLY | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
  ScopedFd fd(::open(path.c_str(), flags));
  if (!fd.valid()) return PathError(errno, "open", path);
  ssize_t n;
  do {
    n = ::write(fd.get(), contents.data(), contents.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return PathError(errno, absl::StrCat("write '", contents, "' to"), path);
  }
  if (static_cast<size_t>(n) != contents.size()) {
    return absl::DataLossError(absl::StrCat("short write to ", path, ": ", n,
                                            " of ", contents.size()));
  }
  return absl::OkStatus();
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace ringwatch
