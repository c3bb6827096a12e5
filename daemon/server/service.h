// The RingwatchService implementation (gRPC callback API) over a Backend.
#ifndef RINGWATCH_DAEMON_SERVER_SERVICE_H_
#define RINGWATCH_DAEMON_SERVER_SERVICE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "daemon/server/backend.h"
#include "daemon/server/hub.h"
#include "daemon/server/stream_registry.h"
#include "daemon/server/write_scheduler.h"
#include "proto/ringwatch/v1/ringwatch.grpc.pb.h"

namespace ringwatch {

struct ServiceLimits {
  // Subscribe and StreamEvents streams open at once, together.
  uint32_t max_subscribers = 64;
  // StreamEvents streams among them.
  uint32_t max_event_streams = 8;
  // Windows a subscriber may fall behind before the oldest are dropped.
  uint32_t subscriber_queue = 64;
  // Events a StreamEvents client may fall behind.
  uint32_t event_stream_queue = 1024;
  // StreamEvents rate when the request gives none, and the most a request
  // may ask for.
  double default_events_per_second = 100;
  double max_events_per_second = 10000;
};

// absl::Status -> grpc::Status, keeping the code and message.
grpc::Status ToGrpcStatus(const absl::Status& status);

class RingwatchServiceImpl final
    : public v1::RingwatchService::CallbackService {
 public:
  // `backend` must outlive this. Call Attach before serving.
  RingwatchServiceImpl(Backend* backend, const ServiceLimits& limits);
  ~RingwatchServiceImpl() override;

  // Registers the hub as the backend's window listener.
  void Attach();
  // Finishes every stream with `status`, waits for them until `deadline`,
  // and detaches from the backend. True when every stream ended in time.
  bool FinishStreams(const grpc::Status& status, absl::Time deadline);

  // Shown in GetStatus. Thread-safe.
  void set_listen_addresses(std::vector<std::string> addresses)
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    listen_addresses_ = std::move(addresses);
  }
  const StreamRegistry& registry() const { return registry_; }
  Hub& hub() { return *hub_; }

  // The RPCs (see ringwatch.proto).
  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* context,
                                      const v1::GetStatusRequest* request,
                                      v1::DaemonStatus* response) override;
  grpc::ServerUnaryReactor* ListEvents(
      grpc::CallbackServerContext* context,
      const v1::ListEventsRequest* request,
      v1::ListEventsResponse* response) override;
  grpc::ServerUnaryReactor* ListAggregations(
      grpc::CallbackServerContext* context,
      const v1::ListAggregationsRequest* request,
      v1::ListAggregationsResponse* response) override;
  grpc::ServerUnaryReactor* GetAggregation(
      grpc::CallbackServerContext* context,
      const v1::GetAggregationRequest* request,
      v1::AggregationInfo* response) override;
  grpc::ServerUnaryReactor* CreateAggregation(
      grpc::CallbackServerContext* context,
      const v1::CreateAggregationRequest* request,
      v1::AggregationInfo* response) override;
  grpc::ServerUnaryReactor* DeleteAggregation(
      grpc::CallbackServerContext* context,
      const v1::DeleteAggregationRequest* request,
      google::protobuf::Empty* response) override;
  grpc::ServerUnaryReactor* Query(grpc::CallbackServerContext* context,
                                  const v1::QueryRequest* request,
                                  v1::QueryResponse* response) override;
  grpc::ServerWriteReactor<v1::SubscribeResponse>* Subscribe(
      grpc::CallbackServerContext* context,
      const v1::SubscribeRequest* request) override;
  grpc::ServerWriteReactor<v1::StreamEventsResponse>* StreamEvents(
      grpc::CallbackServerContext* context,
      const v1::StreamEventsRequest* request) override;
  grpc::ServerWriteReactor<v1::SnapshotChunk>* Snapshot(
      grpc::CallbackServerContext* context,
      const v1::SnapshotRequest* request) override;

  // The same handlers as plain functions (the unary RPCs call them).
  absl::Status DoGetStatus(const v1::GetStatusRequest& request,
                           v1::DaemonStatus* response);
  absl::Status DoListEvents(const v1::ListEventsRequest& request,
                            v1::ListEventsResponse* response);
  absl::Status DoGetAggregation(const v1::GetAggregationRequest& request,
                                v1::AggregationInfo* response);
  absl::Status DoCreateAggregation(const v1::CreateAggregationRequest& request,
                                   v1::AggregationInfo* response);
  absl::Status DoDeleteAggregation(const v1::DeleteAggregationRequest& request);
  absl::Status DoQuery(const v1::QueryRequest& request,
                       v1::QueryResponse* response);

 private:
  // The bare id of an existing aggregation; NOT_FOUND listing the known
  // ones otherwise.
  absl::StatusOr<std::string> ExistingAggregationId(absl::string_view name);

  Backend* const backend_;
  const ServiceLimits limits_;
  const absl::Time start_time_;
  // Starts the streams' writes. Declared first among the stream machinery
  // so that it is destroyed last.
  WriteScheduler scheduler_;
  std::shared_ptr<Hub> hub_;
  StreamRegistry registry_;
  uint64_t listener_handle_ = 0;
  bool attached_ = false;
  absl::Mutex mu_;
  std::vector<std::string> listen_addresses_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SERVER_SERVICE_H_
