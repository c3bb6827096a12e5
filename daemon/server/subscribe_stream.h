// One Subscribe call: receives closed windows from the Hub and writes them
// to the client through a drop-oldest queue.
#ifndef RINGWATCH_DAEMON_SERVER_SUBSCRIBE_STREAM_H_
#define RINGWATCH_DAEMON_SERVER_SUBSCRIBE_STREAM_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "daemon/server/hub.h"
#include "daemon/server/queued_stream.h"
#include "daemon/server/result_shaping.h"
#include "daemon/server/stream_registry.h"
#include "proto/ringwatch/v1/ringwatch.pb.h"

namespace ringwatch {

// What a Subscribe stream queues: a closed window, or (instead) the
// announcement of a triggered snapshot.
struct SubscribeItem {
  std::shared_ptr<const v1::AggregationResult> window;
  std::shared_ptr<const v1::SnapshotInfo> snapshot;
};

class SubscribeStream final
    : public QueuedStream<SubscribeItem, v1::SubscribeResponse>,
      public WindowSubscriber {
 public:
  // Returns the latest closed window of each subscribed aggregation.
  using LatestFn = std::function<
      std::vector<std::shared_ptr<const v1::AggregationResult>>()>;

  // Registers with `registry` (which enforces the cap) and `hub`, then,
  // when `latest` is set, queues what it returns, and returns the reactor
  // to hand to gRPC; a RejectedStream when the registry refuses.
  static grpc::ServerWriteReactor<v1::SubscribeResponse>* Start(
      WriteScheduler* scheduler, Hub* hub, StreamRegistry* registry,
      size_t queue_capacity, std::string peer,
      std::vector<std::string> aggregation_ids, ResultShape shape,
      const LatestFn& latest);

  // WindowSubscriber.
  void Offer(
      const std::shared_ptr<const v1::AggregationResult>& window) override;
  void AggregationDeleted(const std::string& aggregation_id) override;
  void OfferSnapshot(
      const std::shared_ptr<const v1::SnapshotInfo>& info) override;

 private:
  SubscribeStream(WriteScheduler* scheduler, Hub* hub, StreamRegistry* registry,
                  size_t queue_capacity, std::string peer,
                  std::vector<std::string> aggregation_ids, ResultShape shape);

  void Fill(SubscribeItem item, uint64_t dropped_before, uint64_t sequence,
            v1::SubscribeResponse* out) override;
  void Cleanup() override;

  Hub* const hub_;
  StreamRegistry* const registry_;
  const ResultShape shape_;
  uint64_t hub_handle_ = 0;       // Set in Start, before any Cleanup.
  uint64_t registry_handle_ = 0;  // Likewise.
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SERVER_SUBSCRIBE_STREAM_H_
