// ringwatch-test-server: the real API server over the FakeBackend, with a
// synthetic engine (a window of each aggregation every --window_ms) and
// synthetic readers (--events_per_second decoded events). For the Python
// and CLI end-to-end tests until they run against ringwatchd itself.
//
// Listens on --socket, on --tcp, and on sockets passed by systemd
// (LISTEN_FDS, e.g. under systemd-socket-activate). Stops on SIGINT or
// SIGTERM.
#include <signal.h>
#include <systemd/sd-daemon.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "daemon/server/server.h"
#include "daemon/server/testing/fake_backend.h"

ABSL_FLAG(std::string, socket, "", "Unix socket path; empty for none.");
ABSL_FLAG(std::string, tcp, "", "TCP address (loopback), e.g. 127.0.0.1:0.");
ABSL_FLAG(int, window_ms, 200, "Period of the synthetic windows; 0: none.");
ABSL_FLAG(double, events_per_second, 200,
          "Rate of the synthetic events; 0: none.");
ABSL_FLAG(int, max_subscribers, 64, "Cap on open streams.");
ABSL_FLAG(std::string, tls_cert, "", "TLS certificate (PEM) for --tcp.");
ABSL_FLAG(std::string, tls_key, "", "TLS key (PEM) for --tcp.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "Mutual TLS: CA (PEM) client certificates must be signed by.");

namespace ringwatch {
namespace {

v1::Aggregation Spec(const std::string& name, const std::string& event,
                     const std::string& key) {
  v1::Aggregation a;
  a.set_name(name);
  a.set_event(event);
  a.add_key(key);
  a.set_window("1s");
  return a;
}

int Main() {
  testing::FakeBackend backend;
  backend.AddConfigAggregation(
      Spec("syscalls", "raw_syscalls/sys_enter", "id"));
  backend.AddConfigAggregation(
      Spec("switches_by_comm", "sched/sched_switch", "prev_comm"));

  ServerOptions options;
  options.unix_socket = absl::GetFlag(FLAGS_socket);
  options.tcp_address = absl::GetFlag(FLAGS_tcp);
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  options.tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  options.limits.max_subscribers =
      static_cast<uint32_t>(absl::GetFlag(FLAGS_max_subscribers));

  // Block the stop signals in every thread; main waits for them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  absl::StatusOr<std::unique_ptr<Server>> server =
      Server::Start(options, &backend);
  if (!server.ok()) {
    fprintf(stderr, "ringwatch-test-server: %s\n",
            server.status().ToString().c_str());
    return 1;
  }
  const int fds = sd_listen_fds(/*unset_environment=*/1);
  for (int i = 0; i < fds; ++i) {
    absl::Status s = (*server)->ServeListeningFd(SD_LISTEN_FDS_START + i);
    if (!s.ok()) {
      fprintf(stderr, "ringwatch-test-server: %s\n", s.ToString().c_str());
      return 1;
    }
  }

  absl::Notification done;
  std::thread engine([&] {
    const int ms = absl::GetFlag(FLAGS_window_ms);
    if (ms <= 0) return;
    const std::vector<std::string> comms = {"bash", "nginx", "sshd", "postgres",
                                            "kworker/0:1"};
    for (uint64_t w = 1;
         !done.WaitForNotificationWithTimeout(absl::Milliseconds(ms)); ++w) {
      const uint64_t start = w * 1000000000ull;
      std::vector<std::pair<std::string, uint64_t>> rows;
      for (size_t i = 0; i < comms.size(); ++i) {
        rows.emplace_back(comms[i], (w * (i + 3)) % 97 + 10 * i);
      }
      backend.PublishWindow(
          testing::FakeBackend::MakeWindow("switches_by_comm", start, rows));
      backend.PublishWindow(testing::FakeBackend::MakeWindow(
          "syscalls", start,
          {{"read", 100 + w % 13}, {"write", 50 + w % 7}, {"openat", 9}}));
    }
  });
  std::thread readers([&] {
    const double rate = absl::GetFlag(FLAGS_events_per_second);
    if (rate <= 0) return;
    const auto sw = backend.MakePayload(
        "sched/sched_switch", 1234, {{"prev_pid", 1234}, {"next_pid", 0}},
        {{"prev_comm", "bash"}, {"next_comm", "swapper/0"}});
    const auto sys =
        backend.MakePayload("raw_syscalls/sys_enter", 1234, {{"id", 0}}, {});
    const absl::Duration gap = absl::Seconds(1) / rate;
    for (uint64_t n = 0; !done.WaitForNotificationWithTimeout(gap); ++n) {
      const uint64_t ts = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
      backend.EmitEvent(
          RecordView{static_cast<uint32_t>(n % 2), ts,
                     n % 2 ? absl::MakeSpan(sys) : absl::MakeSpan(sw)});
    }
  });

  printf("ringwatch-test-server: serving on %s\n",
         absl::StrJoin((*server)->listen_addresses(), ", ").c_str());
  fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  done.Notify();
  engine.join();
  readers.join();
  (*server)->Shutdown(absl::Seconds(2));
  return 0;
}

}  // namespace
}  // namespace ringwatch

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return ringwatch::Main();
}
