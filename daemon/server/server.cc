#include "daemon/server/server.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <chrono>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/util/file_util.h"
#include "daemon/util/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace ringwatch {

namespace {

int ToMillis(absl::Duration d) {
  return static_cast<int>(absl::ToInt64Milliseconds(d));
}

absl::Status ValidateOptions(const ServerOptions& o) {
  const bool tls = !o.tls_cert_file.empty() || !o.tls_key_file.empty();
  if (tls && (o.tls_cert_file.empty() || o.tls_key_file.empty())) {
    return absl::InvalidArgumentError(
        "TLS needs both a certificate and a key file (tls_cert_file and "
        "tls_key_file)");
  }
  if (!o.tls_client_ca_file.empty() && !tls) {
    return absl::InvalidArgumentError(
        "tls_client_ca_file (mutual TLS) needs tls_cert_file and "
        "tls_key_file too");
  }
  if (tls && o.tcp_address.empty()) {
    return absl::InvalidArgumentError(
        "TLS files are set but no tcp_address: TLS applies to TCP only (the "
        "unix socket is guarded by its file mode)");
  }
  if (!o.tcp_address.empty() && !o.allow_remote_tcp &&
      !IsLoopbackAddress(o.tcp_address)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tcp_address '", o.tcp_address,
        "' is not a loopback address; use 127.0.0.1:PORT or [::1]:PORT, or "
        "allow remote TCP explicitly (preferably with mutual TLS)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TcpCredentials(
    const ServerOptions& o) {
  if (o.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  ASSIGN_OR_RETURN(std::string cert, ReadFileToString(o.tls_cert_file));
  ASSIGN_OR_RETURN(std::string key, ReadFileToString(o.tls_key_file));
  const bool mutual = !o.tls_client_ca_file.empty();
  grpc::SslServerCredentialsOptions ssl(
      mutual ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
             : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (mutual) {
    ASSIGN_OR_RETURN(ssl.pem_root_certs,
                     ReadFileToString(o.tls_client_ca_file));
  }
  ssl.pem_key_cert_pairs.push_back({key, cert});
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

bool IsLoopbackAddress(absl::string_view host_port) {
  absl::string_view host;
  if (absl::StartsWith(host_port, "[")) {
    const size_t close = host_port.find(']');
    if (close == absl::string_view::npos) return false;
    host = host_port.substr(1, close - 1);
  } else {
    const size_t colon = host_port.rfind(':');
    if (colon == absl::string_view::npos) return false;
    host = host_port.substr(0, colon);
  }
  if (host == "localhost" || host == "ip6-localhost") return true;
  const std::string h(host);
  struct in_addr v4;
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  struct in6_addr v6;
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6);
  }
  return false;
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    const ServerOptions& options, Backend* backend) {
  RETURN_IF_ERROR(ValidateOptions(options));
  std::unique_ptr<Server> s(new Server());
  s->options_ = options;
  s->service_ = std::make_unique<RingwatchServiceImpl>(backend, options.limits);
  // Our own grpc.health.v1 (health_service.h) instead of gRPC's built-in
  // one, whose descriptor reflection cannot resolve.
  s->health_ = std::make_unique<HealthService>();
  grpc::EnableDefaultHealthCheckService(false);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  if (!options.unix_socket.empty()) {
    RETURN_IF_ERROR(PrepareUnixSocketPath(options.unix_socket));
    builder.AddListeningPort(absl::StrCat("unix:", options.unix_socket),
                             grpc::InsecureServerCredentials());
    s->listen_addresses_.push_back(
        absl::StrCat("unix://", options.unix_socket));
  }
  if (!options.tcp_address.empty()) {
    ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> creds,
                     TcpCredentials(options));
    builder.AddListeningPort(options.tcp_address, creds, &s->tcp_port_);
  }
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             ToMillis(options.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             ToMillis(options.keepalive_timeout));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      ToMillis(options.min_client_ping_interval));
  builder.RegisterService(s->service_.get());
  builder.RegisterService(s->health_.get());
  s->service_->Attach();
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("gRPC could not start the server on ",
                     options.unix_socket.empty() ? "" : options.unix_socket,
                     " ", options.tcp_address, " (its log above says why)"));
  }
  if (!options.tcp_address.empty()) {
    if (s->tcp_port_ == 0) {
      return absl::UnavailableError(
          absl::StrCat("could not listen on tcp_address '", options.tcp_address,
                       "' (in use, or not an address of this host)"));
    }
    const size_t colon = options.tcp_address.rfind(':');
    s->listen_addresses_.push_back(
        absl::StrCat(options.tcp_address.substr(0, colon), ":", s->tcp_port_));
  }
  if (!options.unix_socket.empty()) {
    RETURN_IF_ERROR(
        SetSocketMode(options.unix_socket, options.unix_socket_mode));
  }
  s->health_->SetStatus("", grpc::health::v1::HealthCheckResponse::SERVING);
  s->health_->SetStatus(kRingwatchServiceName,
                        grpc::health::v1::HealthCheckResponse::SERVING);
  s->service_->set_listen_addresses(s->listen_addresses_);
  return s;
}

Server::~Server() { Shutdown(absl::Seconds(2)); }

absl::Status Server::ServeListeningFd(int listen_fd) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) {
    close(listen_fd);
    return absl::FailedPreconditionError("the server is shut down");
  }
  // Listed before the first connection can be served.
  std::vector<std::string> addresses = listen_addresses_;
  addresses.push_back(absl::StrCat("fd:", listen_fd));
  service_->set_listen_addresses(addresses);
  absl::StatusOr<std::unique_ptr<InheritedSocketAcceptor>> acceptor =
      InheritedSocketAcceptor::Start(server_.get(), listen_fd);
  if (!acceptor.ok()) {
    service_->set_listen_addresses(listen_addresses_);
    return acceptor.status();
  }
  acceptors_.push_back(*std::move(acceptor));
  listen_addresses_ = std::move(addresses);
  return absl::OkStatus();
}

void Server::Shutdown(absl::Duration timeout) {
  std::vector<std::unique_ptr<InheritedSocketAcceptor>> acceptors;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_ || server_ == nullptr) return;
    shut_down_ = true;
    acceptors = std::move(acceptors_);
  }
  const absl::Time deadline = absl::Now() + timeout;
  for (auto& a : acceptors) a->Stop();
  // Watchers see NOT_SERVING and their streams end.
  health_->Shutdown();
  // Streams first, with half the time: each gets a clean UNAVAILABLE.
  service_->FinishStreams(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                       "ringwatchd is shutting down"),
                          absl::Now() + timeout / 2);
  // Then the server: unary calls in progress get until the deadline, after
  // which gRPC cancels whatever is left (a stream stuck on a stalled
  // client's flow control).
  server_->Shutdown(absl::ToChronoTime(deadline));
  server_->Wait();
  if (!options_.unix_socket.empty()) unlink(options_.unix_socket.c_str());
}

}  // namespace ringwatch
