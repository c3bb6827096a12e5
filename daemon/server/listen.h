// Where the server listens: unix socket preparation, and serving a socket
// that is already listening (systemd socket activation).
#ifndef RINGWATCH_DAEMON_SERVER_LISTEN_H_
#define RINGWATCH_DAEMON_SERVER_LISTEN_H_

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "daemon/util/scoped_fd.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace ringwatch {

// Makes `path` ready for gRPC to bind: creates the parent directory (mode
// 0755) when missing and removes a stale socket left by a daemon that died.
// Fails when another process still accepts on the socket, or when the path
// is something other than a socket.
absl::Status PrepareUnixSocketPath(const std::string& path);

// Sets the socket file's mode after gRPC created it (0660: the owner and
// its group may connect).
absl::Status SetSocketMode(const std::string& path, mode_t mode);

// "unix:///run/x.sock" or "unix:/run/x.sock" -> "/run/x.sock"; empty when
// `address` is not a unix address.
std::string UnixSocketPathFromAddress(absl::string_view address);

// Serves connections accepted on a listening socket the process inherited
// (sd_listen_fds). gRPC 1.51 cannot adopt a listening socket, so a thread
// accepts each connection and hands it to grpc::AddInsecureChannelFromFd.
// Connections carry no TLS: use it for unix sockets and loopback.
class InheritedSocketAcceptor {
 public:
  // Starts accepting on `listen_fd` (owned from now on) for `server`, which
  // must be started and outlive Stop(). Fails when `listen_fd` is not a
  // listening socket.
  static absl::StatusOr<std::unique_ptr<InheritedSocketAcceptor>> Start(
      grpc::Server* server, int listen_fd);

  ~InheritedSocketAcceptor();  // Stops.

  // Stops accepting and joins the thread. Connections already handed over
  // stay with the server. Idempotent.
  void Stop();

  // Connections handed to the server so far.
  uint64_t accepted() const { return accepted_.load(); }

 private:
  InheritedSocketAcceptor(grpc::Server* server, ScopedFd listen_fd,
                          ScopedFd wake_fd);
  void Run();

  grpc::Server* const server_;
  const ScopedFd listen_fd_;
  const ScopedFd wake_fd_;  // An eventfd written to stop the loop.
  std::atomic<uint64_t> accepted_{0};
  std::thread thread_;
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SERVER_LISTEN_H_
