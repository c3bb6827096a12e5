#include "daemon/systemd/stale_instances.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "daemon/systemd/pid_file.h"
#include "daemon/tracefs/instance.h"
#include "daemon/util/file_util.h"

namespace ringwatch {
namespace {

absl::StatusOr<std::vector<std::string>> ListInstances(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), &::closedir);
  if (d == nullptr) return PathError(errno, "list tracefs instances in", dir);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d.get())) {
    absl::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Why the exact-named instance is stale, or an empty string when it is in
// use (then `*kept_reason` says by whom).
std::string ExactNameStaleReason(const std::string& pid_file,
                                 std::string* kept_reason) {
  absl::StatusOr<PidFileState> state = InspectPidFile(pid_file);
  if (!state.ok()) {
    *kept_reason =
        absl::StrCat("cannot tell who owns it: ", state.status().ToString());
    return "";
  }
  switch (state->owner) {
    case PidFileState::Owner::kAbsent:
      return absl::StrCat("no pid file ", pid_file, " claims it");
    case PidFileState::Owner::kStale:
      return absl::StrCat("pid file ", pid_file, " names pid ", state->pid,
                          ", which is gone");
    case PidFileState::Owner::kThisProcess:
      return "we hold the pid file, so it predates us";
    case PidFileState::Owner::kOther:
      *kept_reason = absl::StrCat("ringwatchd pid ", state->pid,
                                  " holds pid file ", pid_file);
      return "";
  }
  return "";
}

}  // namespace

int ParseInstancePid(absl::string_view name, absl::string_view prefix) {
  if (!absl::StartsWith(name, prefix)) return 0;
  absl::string_view rest = name.substr(prefix.size());
  if (rest.size() < 2 || rest[0] != '_') return 0;
  rest.remove_prefix(1);
  for (char c : rest) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return 0;
  }
  int64_t pid = 0;
  if (!absl::SimpleAtoi(rest, &pid) || pid <= 0 || pid > INT32_MAX) return 0;
  return static_cast<int>(pid);
}

absl::StatusOr<StaleInstanceReport> RemoveStaleInstances(
    absl::string_view tracefs_root, absl::string_view prefix,
    const std::string& pid_file) {
  if (prefix.empty()) {
    return absl::InvalidArgumentError(
        "RemoveStaleInstances: empty instance prefix would match everything");
  }
  absl::StatusOr<std::vector<std::string>> names =
      ListInstances(absl::StrCat(tracefs_root, "/instances"));
  if (!names.ok()) return names.status();

  StaleInstanceReport report;
  for (const std::string& name : *names) {
    std::string kept_reason;
    if (name == prefix) {
      if (ExactNameStaleReason(pid_file, &kept_reason).empty()) {
        report.kept.emplace_back(name, kept_reason);
        continue;
      }
    } else {
      int pid = ParseInstancePid(name, prefix);
      if (pid == 0) continue;
      if (pid != ::getpid() && !(::kill(pid, 0) != 0 && errno == ESRCH)) {
        report.kept.emplace_back(name, absl::StrCat("pid ", pid, " is alive"));
        continue;
      }
    }
    absl::StatusOr<std::unique_ptr<Instance>> instance =
        Instance::Open(tracefs_root, name);
    absl::Status removed =
        instance.ok() ? (*instance)->Remove() : instance.status();
    if (removed.ok() || absl::IsNotFound(removed)) {
      report.removed.push_back(name);
    } else {
      report.failed.emplace_back(name, removed);
    }
  }
  return report;
}

std::string StaleInstanceReport::Summary() const {
  std::vector<std::string> parts;
  if (!removed.empty()) {
    parts.push_back(absl::StrCat("removed ", absl::StrJoin(removed, ", ")));
  }
  for (const auto& [name, reason] : kept) {
    parts.push_back(absl::StrCat("kept ", name, " (", reason, ")"));
  }
  for (const auto& [name, status] : failed) {
    parts.push_back(
        absl::StrCat("could not remove ", name, ": ", status.ToString()));
  }
  if (parts.empty()) return "no stale instances";
  return absl::StrJoin(parts, "; ");
}

}  // namespace ringwatch
