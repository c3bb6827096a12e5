#include "daemon/metrics/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "daemon/util/scoped_fd.h"

namespace ringwatch {
namespace metrics {
namespace {

// Binds (without listening) to learn whether civetweb can, and why not: its
// own failure is an exception that says little. SO_REUSEADDR as civetweb
// sets it, so a port in TIME_WAIT is not reported as taken.
absl::Status ProbeBind(const ListenAddress& a) {
  ScopedFd fd(
      ::socket(a.ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    return absl::UnavailableError(
        absl::StrCat(a.ToString(), ": socket: ", std::strerror(errno)));
  }
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int rc;
  if (a.ipv6) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(static_cast<uint16_t>(a.port));
    ::inet_pton(AF_INET6, a.host.c_str(), &sa.sin6_addr);
    rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  } else {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(a.port));
    ::inet_pton(AF_INET, a.host.c_str(), &sa.sin_addr);
    rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  }
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on metrics address ", a.ToString(), ": ",
                     std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

std::string ListenAddress::ToString() const {
  return ipv6 ? absl::StrCat("[", host, "]:", port)
              : absl::StrCat(host, ":", port);
}

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metrics.listen '", text, "': ", why,
        " (expected a numeric address and a port, e.g. \"127.0.0.1:",
        kDefaultMetricsPort, "\" or \"[::1]:", kDefaultMetricsPort, "\")"));
  };
  ListenAddress a;
  absl::string_view port;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos || close + 1 >= text.size() ||
        text[close + 1] != ':') {
      return bad("an IPv6 address needs the form [ADDRESS]:PORT");
    }
    a.host = std::string(text.substr(1, close - 1));
    a.ipv6 = true;
    port = text.substr(close + 2);
    in6_addr v6;
    if (::inet_pton(AF_INET6, a.host.c_str(), &v6) != 1) {
      return bad("not an IPv6 address");
    }
  } else {
    const size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) return bad("no port");
    a.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
    in_addr v4;
    if (::inet_pton(AF_INET, a.host.c_str(), &v4) != 1) {
      return bad("not a numeric IPv4 address (host names are not resolved)");
    }
  }
  if (!absl::SimpleAtoi(port, &a.port) || a.port < 0 || a.port > 65535) {
    return bad("the port must be a number from 0 to 65535");
  }
  return a;
}

absl::StatusOr<std::unique_ptr<Listener>> Listener::Start(
    absl::string_view address,
    const std::vector<std::weak_ptr<prometheus::Collectable>>& collectables) {
  absl::StatusOr<ListenAddress> parsed = ParseListenAddress(address);
  if (!parsed.ok()) return parsed.status();
  absl::Status probe = ProbeBind(*parsed);
  if (!probe.ok()) return probe;
  std::unique_ptr<Listener> listener(new Listener());
  listener->configured_ = std::string(address);
  // prometheus-cpp reports a failed bind only by throwing (civetweb's
  // CivetException); the probe above catches the usual causes, this catches
  // a race with another process taking the port in between.
  try {
    listener->exposer_ =
        std::make_unique<prometheus::Exposer>(std::vector<std::string>{
            "listening_ports", parsed->ToString(), "num_threads", "2"});
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on metrics address ", parsed->ToString(),
                     ": ", e.what()));
  }
  for (const auto& collectable : collectables) {
    listener->exposer_->RegisterCollectable(collectable);
  }
  std::vector<int> ports = listener->exposer_->GetListeningPorts();
  ListenAddress bound = *parsed;
  if (!ports.empty()) bound.port = ports[0];
  listener->bound_ = bound.ToString();
  return listener;
}

}  // namespace metrics
}  // namespace ringwatch
