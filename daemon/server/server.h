// The ringwatch API server: RingwatchService plus health checking and
// reflection, on a unix socket, optional TCP (with optional TLS or mutual
// TLS), and sockets inherited from systemd.
#ifndef RINGWATCH_DAEMON_SERVER_SERVER_H_
#define RINGWATCH_DAEMON_SERVER_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "daemon/server/backend.h"
#include "daemon/server/health_service.h"
#include "daemon/server/listen.h"
#include "daemon/server/service.h"
#include "grpcpp/server.h"

namespace ringwatch {

inline constexpr char kDefaultUnixSocket[] = "/run/ringwatch/ringwatch.sock";
// The service name health checks report on.
inline constexpr char kRingwatchServiceName[] = "ringwatch.v1.RingwatchService";

struct ServerOptions {
  // A unix socket path; empty for none. Its parent directory is created
  // when missing and a stale socket is replaced.
  std::string unix_socket = kDefaultUnixSocket;
  mode_t unix_socket_mode = 0660;

  // "host:port" for TCP; empty for none. Port 0 picks a free port (see
  // Server::tcp_port). Only loopback hosts unless allow_remote_tcp.
  std::string tcp_address;
  bool allow_remote_tcp = false;
  // TLS for the TCP port when both are set (PEM files).
  std::string tls_cert_file;
  std::string tls_key_file;
  // Mutual TLS: clients must present a certificate signed by this CA.
  std::string tls_client_ca_file;

  ServiceLimits limits;

  // HTTP/2 keepalive: ping an idle client every keepalive_time and drop it
  // when no answer comes within keepalive_timeout; accept client pings no
  // more often than min_client_ping_interval.
  absl::Duration keepalive_time = absl::Seconds(30);
  absl::Duration keepalive_timeout = absl::Seconds(10);
  absl::Duration min_client_ping_interval = absl::Seconds(10);
};

class Server {
 public:
  // Validates the options, binds every address and starts serving
  // `backend` (which must outlive the Server).
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      const ServerOptions& options, Backend* backend);

  // Shuts down (see Shutdown) with a 2 s bound.
  ~Server();

  // Serves connections accepted on `listen_fd`, an inherited listening
  // socket (systemd socket activation: pass each fd from sd_listen_fds).
  // Takes ownership of the fd. Plaintext: for unix sockets and loopback.
  absl::Status ServeListeningFd(int listen_fd);

  // Stops accepting connections, ends every stream with UNAVAILABLE
  // ("ringwatchd is shutting down"), waits for them and stops the server,
  // all within `timeout`: calls still running then are cancelled.
  // Removes the unix socket. Idempotent.
  void Shutdown(absl::Duration timeout);

  // The port bound for ServerOptions::tcp_address (useful with port 0); 0
  // without TCP.
  int tcp_port() const { return tcp_port_; }
  // "unix:///run/ringwatch/ringwatch.sock", "127.0.0.1:7117", "fd:3".
  // Not to be called while ServeListeningFd runs on another thread.
  const std::vector<std::string>& listen_addresses() const {
    return listen_addresses_;
  }
  RingwatchServiceImpl& service() { return *service_; }
  // grpc.health.v1: the daemon sets its service NOT_SERVING while the
  // readers are stalled.
  HealthService& health() { return *health_; }

 private:
  Server() = default;

  ServerOptions options_;
  std::unique_ptr<RingwatchServiceImpl> service_;
  std::unique_ptr<HealthService> health_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::string> listen_addresses_;
  int tcp_port_ = 0;

  absl::Mutex mu_;
  std::vector<std::unique_ptr<InheritedSocketAcceptor>> acceptors_
      ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

// Whether `host_port`'s host is a loopback address ("127.0.0.1:1",
// "[::1]:1", "localhost:1"). False when it cannot be parsed.
bool IsLoopbackAddress(absl::string_view host_port);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SERVER_SERVER_H_
