// A small program on the daemon/systemd library, run by the tests in this
// directory the way systemd runs ringwatchd: under NOTIFY_SOCKET and
// WATCHDOG_USEC, with sockets from systemd-socket-activate, with signals
// from outside, and inside the hardened ringwatch.service sandbox.
//
//   systemd_probe notify [--status=TEXT] [--health_file=PATH]
//   systemd_probe listen-fds
//   systemd_probe signals
//   systemd_probe log
//   systemd_probe tracefs --instance=NAME [--socket=PATH] [--pid_file=PATH]
//
// Each mode prints what it saw on stdout, one "key=value ..." line per fact,
// and exits 0 on SIGTERM/SIGINT (1 on errors, 2 on usage errors).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/event/event_catalog.h"
#include "daemon/reader/mapped_ring.h"
#include "daemon/ring/record.h"
#include "daemon/systemd/listen_fds.h"
#include "daemon/systemd/log.h"
#include "daemon/systemd/notifier.h"
#include "daemon/systemd/pid_file.h"
#include "daemon/systemd/signal_watcher.h"
#include "daemon/systemd/stale_instances.h"
#include "daemon/systemd/watchdog_petter.h"
#include "daemon/tracefs/instance.h"
#include "daemon/tracefs/tracefs.h"
#include "daemon/util/file_util.h"
#include "daemon/util/scoped_fd.h"

ABSL_FLAG(std::string, status, "probe running", "notify: the STATUS= line");
ABSL_FLAG(std::string, health_file, "",
          "notify: healthy while this file exists (empty: always healthy)");
ABSL_FLAG(std::string, instance, "", "tracefs: the instance to own");
ABSL_FLAG(std::string, socket, "", "tracefs: a unix socket to listen on");
ABSL_FLAG(std::string, pid_file, ringwatch::kDefaultPidFile,
          "tracefs: the pid file");

namespace ringwatch {
namespace {

void Say(const std::string& line) {
  std::string text = line + "\n";
  // Unbuffered: tests read these lines while we run.
  if (::write(STDOUT_FILENO, text.data(), text.size()) < 0) return;
}

int Fail(const absl::Status& status) {
  Say(absl::StrCat("error=", status.ToString()));
  RW_LOG(Severity::kError, status.ToString());
  return 1;
}

// Waits for SIGTERM/SIGINT; SIGHUP runs `on_hup`.
int WaitForStop(SignalWatcher& watcher, const std::function<void()>& on_hup) {
  while (true) {
    auto got = watcher.Wait(absl::InfiniteDuration());
    if (!got.ok()) return Fail(got.status());
    if (!got->has_value()) continue;
    int signo = (*got)->signo;
    Say(absl::StrCat("signal=", SignalName(signo),
                     " sender_pid=", (*got)->sender_pid));
    if (signo == SIGHUP) {
      if (on_hup) on_hup();
      continue;
    }
    return 0;
  }
}

int Notify(SignalWatcher& watcher) {
  SystemdNotifier notifier;
  Say(absl::StrCat("notify_enabled=", notifier.enabled(), " watchdog_usec=",
                   absl::ToInt64Microseconds(notifier.WatchdogInterval())));
  const std::string health_file = absl::GetFlag(FLAGS_health_file);
  auto petter = WatchdogPetter::Start(
      &notifier, notifier.WatchdogInterval(), [health_file]() -> absl::Status {
        if (health_file.empty() || PathExists(health_file)) {
          return absl::OkStatus();
        }
        return absl::UnavailableError(
            absl::StrCat("health file ", health_file, " is gone"));
      });
  absl::Status s = notifier.Ready();
  if (s.ok()) s = notifier.Status(absl::GetFlag(FLAGS_status));
  if (!s.ok()) return Fail(s);
  Say("ready");
  int rc = WaitForStop(watcher, [&notifier] {
    absl::Status r = notifier.Reloading();
    if (r.ok()) r = notifier.ReadyAfterReload("reloaded");
    Say(r.ok() ? "reloaded" : absl::StrCat("error=", r.ToString()));
  });
  notifier.Stopping().IgnoreError();
  petter->Stop();
  Say(absl::StrCat("pets=", petter->pets(), " skipped=", petter->skipped()));
  return rc;
}

int ListenFds() {
  auto fds = InheritedListenFds();
  if (!fds.ok()) return Fail(fds.status());
  Say(absl::StrCat("count=", fds->size()));
  for (const ListenFd& fd : *fds) {
    Say(absl::StrCat("fd=", fd.fd.get(), " kind=", ListenFdKindName(fd.kind),
                     " name=", fd.name, " address=", fd.address));
  }
  // Serve one connection per socket so the test knows the fd is live.
  for (const ListenFd& fd : *fds) {
    if (fd.kind == ListenFd::Kind::kOther) continue;
    ScopedFd conn(::accept4(fd.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) return Fail(absl::ErrnoToStatus(errno, "accept"));
    std::string hello = absl::StrCat("hello from ", fd.name, "\n");
    if (::write(conn.get(), hello.data(), hello.size()) < 0) {
      return Fail(absl::ErrnoToStatus(errno, "write"));
    }
    Say(absl::StrCat("served=", fd.name));
  }
  return 0;
}

int Signals(SignalWatcher& watcher) {
  // A thread started after BlockStopSignals(): signals must not land in it.
  std::atomic<bool> done{false};
  std::atomic<int> stray{0};
  std::thread worker([&] {
    sigset_t set;
    pthread_sigmask(SIG_BLOCK, nullptr, &set);
    if (sigismember(&set, SIGTERM) != 1) stray.store(1);
    while (!done.load()) {
      struct pollfd none;
      ::poll(&none, 0, 20);
    }
  });
  Say(absl::StrCat("ready pid=", ::getpid()));
  int rc = WaitForStop(watcher, nullptr);
  done.store(true);
  worker.join();
  Say(absl::StrCat("worker_mask_ok=", stray.load() == 0));
  return rc;
}

int LogMode() {
  Say(absl::StrCat("log_target=", ActiveLogTarget() == LogTarget::kJournal
                                      ? "journal"
                                      : "stderr"));
  RW_LOG(Severity::kWarning, {CpuField(1), AggregationField("probe_agg")},
         "probe structured line");
  for (int i = 0; i < 50; ++i) {
    RW_LOG_RATE_LIMITED(2, Severity::kError, {CpuField(i)},
                        "probe repeated error");
  }
  Say("logged");
  return 0;
}

class CountingSink : public RecordSink {
 public:
  void OnRecord(const RecordView&) override { ++events; }
  uint64_t events = 0;
};

absl::StatusOr<ScopedFd> ListenUnix(const std::string& path) {
  struct sockaddr_un sun;
  std::memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  if (path.size() >= sizeof(sun.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("path too long: ", path));
  }
  std::memcpy(sun.sun_path, path.data(), path.size());
  ScopedFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "socket(AF_UNIX)");
  ::unlink(path.c_str());
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof(sun)) != 0) {
    return PathError(errno, "bind", path);
  }
  if (::listen(fd.get(), 16) != 0) return PathError(errno, "listen", path);
  if (::chmod(path.c_str(), 0660) != 0) return PathError(errno, "chmod", path);
  return fd;
}

// What ringwatchd does with tracefs, in the order it does it: enough to
// prove the service sandbox lets it through.
int Tracefs(SignalWatcher& watcher) {
  SystemdNotifier notifier;
  const std::string name = absl::GetFlag(FLAGS_instance);
  if (name.empty()) {
    Say("usage: tracefs needs --instance");
    return 2;
  }
  auto root = FindOrMountTracefs();
  if (!root.ok()) return Fail(root.status());
  Say(absl::StrCat("tracefs=", *root));
  auto pid_file = PidFile::Acquire(absl::GetFlag(FLAGS_pid_file));
  if (!pid_file.ok()) return Fail(pid_file.status());
  auto stale = RemoveStaleInstances(*root, name, absl::GetFlag(FLAGS_pid_file));
  if (!stale.ok()) return Fail(stale.status());
  Say(absl::StrCat("stale: ", stale->Summary()));
  auto instance = Instance::Create(*root, name, /*reuse_existing=*/false);
  if (!instance.ok()) return Fail(instance.status());
  absl::Status s = (*instance)->EnableEvent("sched/sched_switch");
  if (!s.ok()) return Fail(s);
  auto catalog = (*instance)->LoadCatalog();
  if (!catalog.ok()) return Fail(catalog.status());
  auto cpus = OnlineCpus();
  if (!cpus.ok()) return Fail(cpus.status());
  auto ring =
      MappedRing::Create((*instance)->CpuFile(cpus->front(), "trace_pipe_raw"),
                         cpus->front(), catalog->header_page());
  if (!ring.ok()) return Fail(ring.status());
  CountingSink sink;
  // sched_switch fires constantly; wait for the first few, on the ring's
  // own wake-ups, with a deadline.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (sink.events == 0 && absl::Now() < deadline) {
    struct pollfd pfd = {(*ring)->fd(), POLLIN, 0};
    ::poll(&pfd, 1, 100);
    auto read = (*ring)->ReadAvailable(&sink);
    if (!read.ok()) return Fail(read.status());
  }
  Say(absl::StrCat("mapped_events=", sink.events));
  ScopedFd listener;
  if (!absl::GetFlag(FLAGS_socket).empty()) {
    auto fd = ListenUnix(absl::GetFlag(FLAGS_socket));
    if (!fd.ok()) return Fail(fd.status());
    listener = std::move(*fd);
    Say(absl::StrCat("listening=", absl::GetFlag(FLAGS_socket)));
  }
  s = notifier.Ready();
  if (s.ok()) {
    s = notifier.Status(absl::StrCat("probe: ", sink.events,
                                     " events mapped on cpu", cpus->front()));
  }
  if (!s.ok()) return Fail(s);
  RW_LOG(Severity::kInfo, {{"RINGWATCH_INSTANCE", name}},
         absl::StrCat("probe ready, ", sink.events, " events"));
  Say("ready");
  int rc = WaitForStop(watcher, nullptr);
  ring->reset();
  s = (*instance)->Remove();
  Say(s.ok() ? "removed=" + name : "error=" + s.ToString());
  return s.ok() ? rc : 1;
}

}  // namespace
}  // namespace ringwatch

int main(int argc, char** argv) {
  using namespace ringwatch;
  // First, before any thread exists.
  if (!BlockStopSignals().ok()) return 1;
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    std::fprintf(stderr,
                 "usage: %s notify|listen-fds|signals|log|tracefs [flags]\n",
                 argv[0]);
    return 2;
  }
  auto watcher = SignalWatcher::Create();
  if (!watcher.ok()) return Fail(watcher.status());
  const std::string mode = args[1];
  if (mode == "notify") return Notify(**watcher);
  if (mode == "listen-fds") return ListenFds();
  if (mode == "signals") return Signals(**watcher);
  if (mode == "log") return LogMode();
  if (mode == "tracefs") return Tracefs(**watcher);
  std::fprintf(stderr, "unknown mode '%s'\n", mode.c_str());
  return 2;
}
