// Fuzz target for what systemd passes in the environment: LISTEN_PID,
// LISTEN_FDS and LISTEN_FDNAMES (InheritedListenFds) and WATCHDOG_USEC and
// WATCHDOG_PID (SystemdNotifier). Any values either give sockets / a
// watchdog interval or an error naming the variables, never a crash, never
// a descriptor outside the ones systemd would pass, and a watchdog that
// libsystemd reports enabled always gets a positive interval. Built by
// tools/fuzz.sh (systemd_env); systemd_env_fuzzer_test replays
// tests/data/fuzz/systemd_env.
//
// Input: five NUL-separated values, LISTEN_PID, LISTEN_FDS,
// LISTEN_FDNAMES, WATCHDOG_USEC, WATCHDOG_PID. A missing value leaves the
// variable unset; a PID value "0" stands for this process's pid.
//
// The first kSlots descriptors from SD_LISTEN_FDS_START hold sockets of each
// kind for the duration of one input (whatever was there is saved and put
// back), so a LISTEN_FDS up to kSlots takes real sockets and never one of
// the fuzzer's own descriptors.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "daemon/systemd/listen_fds.h"
#include "daemon/systemd/notifier.h"

namespace {

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "systemd_env_fuzzer invariant broken: %s\n", what);
    std::abort();
  }
}

constexpr int kSlots = 8;
constexpr int kParked = 900;  // Where the real occupants of the slots wait.

// One socket of each kind InheritedListenFds tells apart, made once.
const std::vector<int>& Templates() {
  static const std::vector<int>* fds = [] {
    auto* out = new std::vector<int>;
    int unix_listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    // Abstract name: nothing on disk to clean up.
    const std::string name = absl::StrCat("ringwatch-fuzz-", getpid());
    std::memcpy(sun.sun_path + 1, name.data(), name.size());
    Check(bind(unix_listener, reinterpret_cast<sockaddr*>(&sun),
               offsetof(sockaddr_un, sun_path) + 1 + name.size()) == 0 &&
              listen(unix_listener, 1) == 0,
          "unix listener");
    out->push_back(unix_listener);
    int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    Check(bind(tcp, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) == 0 &&
              listen(tcp, 1) == 0,
          "tcp listener");
    out->push_back(tcp);
    out->push_back(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    int pipe_fds[2];
    Check(pipe2(pipe_fds, O_CLOEXEC) == 0, "pipe");
    out->push_back(pipe_fds[0]);
    out->push_back(pipe_fds[1]);
    for (int fd : *out) Check(fd >= 0, "template descriptors");
    return out;
  }();
  return *fds;
}

// Sets `name` to `value`, or unsets it when absent; "0" in a PID means us.
void SetVariable(const char* name, const std::vector<std::string>& values,
                 size_t i, bool is_pid) {
  if (i >= values.size()) {
    unsetenv(name);
    return;
  }
  std::string value = values[i];
  if (is_pid && value == "0") value = std::to_string(getpid());
  setenv(name, value.c_str(), 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> values = absl::StrSplit(input, '\0');
  // setenv cannot hold a NUL, and StrSplit has removed them all.
  SetVariable("LISTEN_PID", values, 0, true);
  SetVariable("LISTEN_FDS", values, 1, false);
  SetVariable("LISTEN_FDNAMES", values, 2, false);
  SetVariable("WATCHDOG_USEC", values, 3, false);
  SetVariable("WATCHDOG_PID", values, 4, true);
  unsetenv("NOTIFY_SOCKET");  // Nothing is sent anywhere.

  // Park what occupies the slots; put sockets there instead.
  const std::vector<int>& templates = Templates();
  int parked[kSlots];
  for (int i = 0; i < kSlots; ++i) {
    const int slot = SD_LISTEN_FDS_START + i;
    parked[i] = fcntl(slot, F_DUPFD_CLOEXEC, kParked);
    Check(dup2(templates[i % templates.size()], slot) == slot, "fill slot");
  }

  absl::StatusOr<std::vector<ringwatch::ListenFd>> fds =
      ringwatch::InheritedListenFds();
  if (fds.ok()) {
    Check(fds->size() <= static_cast<size_t>(kSlots), "only the slots taken");
    for (size_t i = 0; i < fds->size(); ++i) {
      const ringwatch::ListenFd& fd = (*fds)[i];
      Check(fd.fd.get() == SD_LISTEN_FDS_START + static_cast<int>(i),
            "descriptors in order from SD_LISTEN_FDS_START");
      Check(!fd.address.empty(), "every descriptor is described");
    }
  } else {
    Check(absl::StrContains(fds.status().message(), "LISTEN_FDS"),
          "errors name the variables");
  }
  Check(getenv("LISTEN_FDS") == nullptr && getenv("LISTEN_PID") == nullptr,
        "the variables are consumed");
  fds = absl::StatusOr<std::vector<ringwatch::ListenFd>>();  // Close them.

  for (int i = 0; i < kSlots; ++i) {
    const int slot = SD_LISTEN_FDS_START + i;
    if (parked[i] >= 0) {
      Check(dup2(parked[i], slot) == slot, "restore slot");
      close(parked[i]);
    } else {
      close(slot);
    }
  }

  const ringwatch::SystemdNotifier notifier;
  uint64_t usec = 0;
  const int enabled = sd_watchdog_enabled(/*unset_environment=*/0, &usec);
  if (enabled > 0) {
    Check(notifier.WatchdogInterval() > absl::ZeroDuration(),
          "an enabled watchdog gets a positive interval");
    const absl::Duration year = absl::Hours(24 * 365);
    Check(notifier.WatchdogInterval() ==
              std::min(year, absl::Microseconds(static_cast<int64_t>(
                                 std::min<uint64_t>(usec, INT64_MAX)))),
          "the interval is WATCHDOG_USEC, capped at a year");
  } else {
    Check(notifier.WatchdogInterval() == absl::ZeroDuration(),
          "no watchdog, no interval");
  }
  Check(!notifier.enabled(), "no NOTIFY_SOCKET, nothing sent");
  return 0;
}
