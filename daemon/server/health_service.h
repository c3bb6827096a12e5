// grpc.health.v1.Health served by the daemon itself (Check and Watch), in
// place of gRPC's built-in health service, whose descriptor is not in the
// reflection pool: with this one, reflection-driven clients such as grpcurl
// resolve and call it. The daemon sets ringwatch.v1.RingwatchService (and the
// server as a whole, "") to NOT_SERVING while its readers are stalled.
#ifndef RINGWATCH_DAEMON_SERVER_HEALTH_SERVICE_H_
#define RINGWATCH_DAEMON_SERVER_HEALTH_SERVICE_H_

#include <map>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "proto/grpc/health/v1/health.grpc.pb.h"

namespace ringwatch {

using HealthStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  HealthService() = default;
  ~HealthService() override;

  // Sets the status of `service` ("" for the whole server) and sends it to
  // every Watch of that service when it changed.
  void SetStatus(const std::string& service, HealthStatus status)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The status of `service`; SERVICE_UNKNOWN when it was never set.
  HealthStatus GetStatus(const std::string& service) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Every service NOT_SERVING, sent to the watchers, whose streams then end
  // (OK) so that server shutdown does not wait for them; later Watch calls
  // end at once.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);
  // Open Watch streams.
  size_t watchers() const ABSL_LOCKS_EXCLUDED(mu_);

  grpc::ServerUnaryReactor* Check(
      grpc::CallbackServerContext* context,
      const grpc::health::v1::HealthCheckRequest* request,
      grpc::health::v1::HealthCheckResponse* response) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* context,
      const grpc::health::v1::HealthCheckRequest* request) override;

 private:
  class Watcher;
  void Remove(Watcher* watcher) ABSL_LOCKS_EXCLUDED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, HealthStatus> statuses_ ABSL_GUARDED_BY(mu_);
  std::set<Watcher*> watchers_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SERVER_HEALTH_SERVICE_H_
