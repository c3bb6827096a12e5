// The service manager's end of NOTIFY_SOCKET for shell tests: binds a
// datagram socket and prints every message as one line,
//   pid=123 READY=1 STATUS=reading 2 CPUs
// (newlines of a message become spaces), until SIGTERM. When a message
// carries READY=1 it also says whether the daemon really was ready at that
// moment: "ready_socket=1" when --check_socket accepted a connection, and
// "ready_file=<contents>" for --check_file (e.g. the instance's tracing_on).
//
//   notify_listen --socket=PATH [--check_socket=PATH] [--check_file=PATH]
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "daemon/systemd/testing/notify_listener.h"
#include "daemon/util/file_util.h"
#include "daemon/util/scoped_fd.h"

ABSL_FLAG(std::string, socket, "", "where to bind the notify socket");
ABSL_FLAG(std::string, check_socket, "",
          "a unix stream socket to connect to when READY=1 arrives");
ABSL_FLAG(std::string, check_file, "", "a file to read when READY=1 arrives");

namespace {

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

bool CanConnect(const std::string& path) {
  ringwatch::ScopedFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  struct sockaddr_un sun;
  std::memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  std::strncpy(sun.sun_path, path.c_str(), sizeof(sun.sun_path) - 1);
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof(sun)) ==
         0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnSignal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  auto listener =
      ringwatch::NotifyListener::Create(absl::GetFlag(FLAGS_socket));
  if (!listener.ok()) {
    std::fprintf(stderr, "notify_listen: %s\n",
                 listener.status().ToString().c_str());
    return 1;
  }
  std::printf("listening\n");
  std::fflush(stdout);
  while (!g_stop) {
    auto m = (*listener)->Receive(absl::Milliseconds(100));
    if (!m.ok()) {
      std::fprintf(stderr, "notify_listen: %s\n",
                   m.status().ToString().c_str());
      return 1;
    }
    if (!m->has_value()) continue;
    std::string line =
        absl::StrCat("pid=", (*m)->sender_pid, " ",
                     absl::StrReplaceAll(absl::StripSuffix((*m)->text, "\n"),
                                         {{"\n", " "}}));
    if ((*m)->Has("READY")) {
      if (!absl::GetFlag(FLAGS_check_socket).empty()) {
        absl::StrAppend(&line, " ready_socket=",
                        CanConnect(absl::GetFlag(FLAGS_check_socket)));
      }
      if (!absl::GetFlag(FLAGS_check_file).empty()) {
        auto text =
            ringwatch::ReadFileToString(absl::GetFlag(FLAGS_check_file));
        absl::StrAppend(
            &line, " ready_file=",
            text.ok() ? absl::StripAsciiWhitespace(*text) : "<unreadable>");
      }
    }
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
  return 0;
}
