#include "daemon/systemd/listen_fds.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace ringwatch {
namespace {

std::string UnixAddress(const struct sockaddr_un& sun, socklen_t len) {
  size_t path_len = len > offsetof(struct sockaddr_un, sun_path)
                        ? len - offsetof(struct sockaddr_un, sun_path)
                        : 0;
  if (path_len == 0) return "unix:(unnamed)";
  if (sun.sun_path[0] == '\0') {
    return absl::StrCat("unix-abstract:",
                        absl::string_view(sun.sun_path + 1, path_len - 1));
  }
  return absl::StrCat(
      "unix:", std::string(sun.sun_path, strnlen(sun.sun_path, path_len)));
}

}  // namespace

const char* ListenFdKindName(ListenFd::Kind kind) {
  switch (kind) {
    case ListenFd::Kind::kUnix:
      return "unix";
    case ListenFd::Kind::kTcp:
      return "tcp";
    case ListenFd::Kind::kOther:
      return "other";
  }
  return "other";
}

ListenFd::Kind ClassifyListenFd(int fd, std::string* address) {
  if (sd_is_socket_unix(fd, SOCK_STREAM, /*listening=*/1, nullptr, 0) > 0) {
    struct sockaddr_un sun;
    socklen_t len = sizeof(sun);
    std::memset(&sun, 0, sizeof(sun));
    if (::getsockname(fd, reinterpret_cast<struct sockaddr*>(&sun), &len) ==
        0) {
      *address = UnixAddress(sun, len);
    }
    return ListenFd::Kind::kUnix;
  }
  if (sd_is_socket_inet(fd, 0, SOCK_STREAM, /*listening=*/1, 0) > 0) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "";
    if (::getsockname(fd, reinterpret_cast<struct sockaddr*>(&ss), &len) == 0) {
      if (ss.ss_family == AF_INET) {
        const auto* in = reinterpret_cast<const struct sockaddr_in*>(&ss);
        ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        *address = absl::StrCat(host, ":", ntohs(in->sin_port));
      } else if (ss.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const struct sockaddr_in6*>(&ss);
        ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        *address = absl::StrCat("[", host, "]:", ntohs(in6->sin6_port));
      }
    }
    return ListenFd::Kind::kTcp;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    *address = absl::StrCat("fd ", fd, ": ", strerror(errno));
  } else if (S_ISSOCK(st.st_mode)) {
    *address = absl::StrCat("fd ", fd,
                            ": a socket that is not a listening stream socket");
  } else if (S_ISFIFO(st.st_mode)) {
    *address = absl::StrCat("fd ", fd, ": a FIFO");
  } else {
    *address = absl::StrCat("fd ", fd, ": not a socket");
  }
  return ListenFd::Kind::kOther;
}

absl::StatusOr<std::vector<ListenFd>> InheritedListenFds() {
  char** names = nullptr;
  int n = sd_listen_fds_with_names(/*unset_environment=*/1, &names);
  if (n < 0) {
    return absl::ErrnoToStatus(
        -n, "sd_listen_fds: LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES are invalid");
  }
  std::vector<ListenFd> fds;
  fds.reserve(n);
  for (int i = 0; i < n; ++i) {
    ListenFd lf;
    lf.fd.reset(SD_LISTEN_FDS_START + i);
    if (names != nullptr && names[i] != nullptr) lf.name = names[i];
    lf.kind = ClassifyListenFd(lf.fd.get(), &lf.address);
    fds.push_back(std::move(lf));
  }
  if (names != nullptr) {
    for (int i = 0; i < n; ++i) free(names[i]);
    free(names);
  }
  return fds;
}

}  // namespace ringwatch
