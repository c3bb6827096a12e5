// The HTTP listener serving /metrics: a prometheus-cpp Exposer (its embedded
// civetweb) on one "host:port", with bind errors reported as a Status that
// names the address and the reason instead of an exception.
#ifndef RINGWATCH_DAEMON_METRICS_LISTENER_H_
#define RINGWATCH_DAEMON_METRICS_LISTENER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"

namespace ringwatch {
namespace metrics {

// The Prometheus exporter default port ringwatchd documents (docs/metrics.md
// says why this one).
inline constexpr int kDefaultMetricsPort = 10117;

// A parsed listen address: a numeric IPv4 address or a bracketed IPv6
// address, and a port (0: any free port).
struct ListenAddress {
  std::string host;  // "127.0.0.1" or "::1" (no brackets).
  bool ipv6 = false;
  int port = 0;
  // "127.0.0.1:10117" or "[::1]:10117".
  std::string ToString() const;
};

// INVALID_ARGUMENT naming `text` and what is wrong with it.
absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text);

class Listener {
 public:
  // Binds `address` and serves `collectables` on /metrics. Errors name the
  // address and the reason ("127.0.0.1:10117: Address already in use").
  static absl::StatusOr<std::unique_ptr<Listener>> Start(
      absl::string_view address,
      const std::vector<std::weak_ptr<prometheus::Collectable>>& collectables);

  // "127.0.0.1:10117": the port actually bound (useful with port 0).
  const std::string& address() const { return bound_; }
  // The text as configured, to tell whether a reload changes it.
  const std::string& configured() const { return configured_; }

 private:
  Listener() = default;

  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string bound_;
  std::string configured_;
};

}  // namespace metrics
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_METRICS_LISTENER_H_
