#include "daemon/tracefs/testing/live_instance.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "daemon/tracefs/tracefs.h"

namespace ringwatch {
namespace {

constexpr char kPrefix[] = "rwtest_";

std::atomic<int> next_instance_number{0};

// Keeps instance names valid whatever the test calls itself.
std::string Sanitize(absl::string_view name) {
  std::string out;
  for (char c : name.substr(0, 80)) {
    out.push_back(absl::ascii_isalnum(c) ? c : '_');
  }
  return out.empty() ? "test" : out;
}

bool PidAlive(int pid) {
  // EPERM means it exists but belongs to someone else.
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

}  // namespace

int PidFromTestInstanceName(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, kPrefix)) return -1;
  size_t last = name.rfind('_');
  if (last == absl::string_view::npos) return -1;
  int number;
  if (!absl::SimpleAtoi(name.substr(last + 1), &number) || number < 0) {
    return -1;
  }
  absl::string_view rest = name.substr(0, last);
  size_t pid_sep = rest.rfind('_');
  if (pid_sep == absl::string_view::npos) return -1;
  int pid;
  if (!absl::SimpleAtoi(rest.substr(pid_sep + 1), &pid) || pid <= 0) {
    return -1;
  }
  return pid;
}

int LiveInstance::RemoveStaleInstances(const std::string& tracefs_root) {
  std::string dir = tracefs_root + "/instances";
  std::vector<std::string> stale;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (struct dirent* entry = ::readdir(d)) {
      int pid = PidFromTestInstanceName(entry->d_name);
      if (pid > 0 && pid != ::getpid() && !PidAlive(pid)) {
        stale.emplace_back(entry->d_name);
      }
    }
    ::closedir(d);
  }
  int removed = 0;
  for (const std::string& name : stale) {
    absl::StatusOr<std::unique_ptr<Instance>> instance =
        Instance::Open(tracefs_root, name);
    // Another test process may be cleaning up the same leftovers.
    if (instance.ok() && (*instance)->Remove().ok()) ++removed;
  }
  return removed;
}

LiveInstance LiveInstance::CreateOrSkipReason(absl::string_view test_name) {
  LiveInstance live;
  if (::geteuid() != 0 && !HasCapSysAdmin()) {
    live.skip_reason_ = absl::StrCat(
        "live tracefs test needs root (or CAP_SYS_ADMIN); running as uid ",
        ::geteuid());
    return live;
  }
  absl::StatusOr<std::string> root = FindOrMountTracefs();
  if (!root.ok()) {
    live.skip_reason_ =
        absl::StrCat("tracefs is not available: ", root.status().ToString());
    return live;
  }
  live.tracefs_root_ = *root;
  RemoveStaleInstances(*root);

  std::string name = absl::StrCat(kPrefix, Sanitize(test_name), "_", ::getpid(),
                                  "_", next_instance_number.fetch_add(1));
  absl::StatusOr<std::unique_ptr<Instance>> instance =
      Instance::Create(*root, name, /*reuse_existing=*/false);
  if (!instance.ok()) {
    live.error_ = instance.status().ToString();
    if (absl::StrContains(instance.status().message(), "Read-only")) {
      absl::StrAppend(&live.error_,
                      " (Bazel's sandbox makes tracefs read-only: tag the "
                      "test \"no-sandbox\")");
    }
    return live;
  }
  live.instance_ = *std::move(instance);
  return live;
}

LiveInstance::~LiveInstance() {
  if (instance_ == nullptr || !instance_->owned()) return;
  absl::Status removed = instance_->Remove();
  if (!removed.ok()) {
    ADD_FAILURE() << "could not remove test instance: " << removed;
  }
}

}  // namespace ringwatch
