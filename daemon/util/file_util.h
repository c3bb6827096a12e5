// Small file helpers whose errors name the path and the reason.
#ifndef RINGWATCH_DAEMON_UTIL_FILE_UTIL_H_
#define RINGWATCH_DAEMON_UTIL_FILE_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ringwatch {

// Error status for a failed syscall `what` on `path`, from `errno_value`.
absl::Status PathError(int errno_value, absl::string_view what,
                       absl::string_view path);

// Reads a whole file (tracefs files report size 0, so reads until EOF).
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Writes `contents` to an existing file with one write() (as tracefs wants),
// truncating it unless `append`.
absl::Status WriteStringToFile(const std::string& path,
                               absl::string_view contents, bool append = false);

bool PathExists(const std::string& path);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_UTIL_FILE_UTIL_H_
