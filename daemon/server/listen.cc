#include "daemon/server/listen.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "daemon/util/file_util.h"
#include "grpcpp/server.h"
#include "grpcpp/server_posix.h"

namespace ringwatch {

namespace {

absl::Status MakeDirs(const std::string& dir) {
  if (dir.empty() || dir == "/") return absl::OkStatus();
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat(dir, ": exists and is not a directory"));
  }
  const size_t slash = dir.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    absl::Status parent = MakeDirs(dir.substr(0, slash));
    if (!parent.ok()) return parent;
  }
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return PathError(errno, "mkdir", dir);
  }
  return absl::OkStatus();
}

// True when something accepts connections on the unix socket at `path`.
bool SocketIsLive(const std::string& path) {
  ScopedFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return false;
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return false;
  std::memcpy(addr.sun_path, path.data(), path.size());
  return connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr),
                 sizeof(addr)) == 0;
}

}  // namespace

absl::Status PrepareUnixSocketPath(const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("unix socket path '", path, "' must be absolute"));
  }
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unix socket path '", path, "' is longer than ",
                     sizeof(sockaddr_un::sun_path) - 1, " bytes"));
  }
  absl::Status dirs = MakeDirs(path.substr(0, path.rfind('/')));
  if (!dirs.ok()) return dirs;
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return PathError(errno, "lstat", path);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        path,
        ": exists and is not a socket; remove it or choose another "
        "path"));
  }
  if (SocketIsLive(path)) {
    return absl::AlreadyExistsError(absl::StrCat(
        path,
        ": another process (a running ringwatchd?) accepts connections "
        "on this socket"));
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return PathError(errno, "unlink stale socket", path);
  }
  return absl::OkStatus();
}

absl::Status SetSocketMode(const std::string& path, mode_t mode) {
  if (chmod(path.c_str(), mode) != 0) return PathError(errno, "chmod", path);
  return absl::OkStatus();
}

std::string UnixSocketPathFromAddress(absl::string_view address) {
  if (absl::StartsWith(address, "unix://")) {
    return std::string(address.substr(7));
  }
  if (absl::StartsWith(address, "unix:")) return std::string(address.substr(5));
  return "";
}

absl::StatusOr<std::unique_ptr<InheritedSocketAcceptor>>
InheritedSocketAcceptor::Start(grpc::Server* server, int listen_fd) {
  ScopedFd fd(listen_fd);
  int listening = 0;
  socklen_t len = sizeof(listening);
  if (getsockopt(fd.get(), SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inherited fd ", listen_fd, " is not a socket: ", strerror(errno)));
  }
  if (!listening) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inherited fd ", listen_fd,
        " is a socket but not listening (systemd: use ListenStream=, "
        "Accept=no)"));
  }
  // Non-blocking, so a connection reset between poll() and accept() cannot
  // block the loop.
  const int flags = fcntl(fd.get(), F_GETFL);
  if (flags < 0 || fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return absl::InternalError(absl::StrCat("fcntl O_NONBLOCK on fd ",
                                            listen_fd, ": ", strerror(errno)));
  }
  ScopedFd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) {
    return absl::InternalError(absl::StrCat("eventfd: ", strerror(errno)));
  }
  std::unique_ptr<InheritedSocketAcceptor> acceptor(
      new InheritedSocketAcceptor(server, std::move(fd), std::move(wake)));
  acceptor->thread_ = std::thread([a = acceptor.get()] { a->Run(); });
  return acceptor;
}

InheritedSocketAcceptor::InheritedSocketAcceptor(grpc::Server* server,
                                                 ScopedFd listen_fd,
                                                 ScopedFd wake_fd)
    : server_(server),
      listen_fd_(std::move(listen_fd)),
      wake_fd_(std::move(wake_fd)) {}

InheritedSocketAcceptor::~InheritedSocketAcceptor() { Stop(); }

void InheritedSocketAcceptor::Stop() {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  // An eventfd write of 1 cannot fail short of a counter overflow.
  (void)!write(wake_fd_.get(), &one, sizeof(one));
  thread_.join();
}

void InheritedSocketAcceptor::Run() {
  for (;;) {
    struct pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0},
                            {wake_fd_.get(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents & (POLLERR | POLLNVAL)) return;
    for (;;) {
      const int conn = accept4(listen_fd_.get(), nullptr, nullptr,
                               SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (conn < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
            errno == ENOMEM) {
          // Out of descriptors or memory: back off (waking early on Stop)
          // rather than spin on a socket that stays readable.
          struct pollfd wake = {wake_fd_.get(), POLLIN, 0};
          if (poll(&wake, 1, 100) > 0) return;
        }
        break;  // EAGAIN, or a connection already gone.
      }
      // gRPC owns `conn` from here on.
      grpc::AddInsecureChannelFromFd(server_, conn);
      accepted_.fetch_add(1);
    }
  }
}

}  // namespace ringwatch
