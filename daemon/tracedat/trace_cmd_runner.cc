#include "daemon/tracedat/trace_cmd_runner.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "daemon/util/file_util.h"

namespace ringwatch {

std::string FindTraceCmd() {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir :
       absl::StrSplit(path == nullptr ? "/usr/bin:/bin" : path, ':')) {
    const std::string candidate = absl::StrCat(dir, "/trace-cmd");
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

absl::Status RunShell(const std::string& command, const std::string& out) {
  const std::string err = absl::StrCat(out, ".err");
  const int status =
      std::system(absl::StrCat(command, " >", out, " 2>", err).c_str());
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  absl::StatusOr<std::string> text = ReadFileToString(err);
  std::string tail = text.ok() ? *text : "";
  if (tail.size() > 2000) tail = tail.substr(tail.size() - 2000);
  return absl::InternalError(
      absl::StrCat("'", command, "' failed (status ", status, "): ", tail));
}

absl::Status ExtractInstance(const std::string& trace_cmd, Instance* instance,
                             const std::string& out, const std::string& log) {
  instance->Release();
  absl::Status run = RunShell(
      absl::StrCat(trace_cmd, " extract -B ", instance->name(), " -o ", out),
      log);
  absl::Status removed = instance->Remove();
  if (!removed.ok() && removed.code() != absl::StatusCode::kNotFound) {
    run.Update(absl::InternalError(absl::StrCat(
        "could not remove the test instance: ", removed.ToString())));
  }
  return run;
}

std::string TestScratchDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return tmp != nullptr ? tmp : "/tmp";
}

}  // namespace ringwatch
