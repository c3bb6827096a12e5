#include "daemon/server/subscribe_stream.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace ringwatch {

grpc::ServerWriteReactor<v1::SubscribeResponse>* SubscribeStream::Start(
    WriteScheduler* scheduler, Hub* hub, StreamRegistry* registry,
    size_t queue_capacity, std::string peer,
    std::vector<std::string> aggregation_ids, ResultShape shape,
    const LatestFn& latest) {
  std::shared_ptr<SubscribeStream> stream(
      new SubscribeStream(scheduler, hub, registry, queue_capacity,
                          std::move(peer), aggregation_ids, std::move(shape)));
  absl::StatusOr<uint64_t> handle =
      registry->Register(v1::StreamStatus::KIND_SUBSCRIBE, stream);
  if (!handle.ok()) {
    return new RejectedStream<v1::SubscribeResponse>(
        grpc::Status(static_cast<grpc::StatusCode>(handle.status().code()),
                     std::string(handle.status().message())));
  }
  stream->registry_handle_ = *handle;
  stream->hub_handle_ = hub->Add(aggregation_ids, stream);
  // Fetched after joining the hub so that no window is missed; one closing
  // right now may come twice (with the same window_start_ns).
  if (latest) {
    for (auto& window : latest()) stream->Offer(window);
  }
  SubscribeStream* raw = stream.get();
  raw->Activate(std::move(stream));
  return raw;
}

SubscribeStream::SubscribeStream(WriteScheduler* scheduler, Hub* hub,
                                 StreamRegistry* registry,
                                 size_t queue_capacity, std::string peer,
                                 std::vector<std::string> aggregation_ids,
                                 ResultShape shape)
    : QueuedStream(scheduler, v1::StreamStatus::KIND_SUBSCRIBE, queue_capacity,
                   std::move(peer), std::move(aggregation_ids)),
      hub_(hub),
      registry_(registry),
      shape_(std::move(shape)) {}

void SubscribeStream::Offer(
    const std::shared_ptr<const v1::AggregationResult>& window) {
  Push(SubscribeItem{window, nullptr});
}

void SubscribeStream::OfferSnapshot(
    const std::shared_ptr<const v1::SnapshotInfo>& info) {
  Push(SubscribeItem{nullptr, info});
}

void SubscribeStream::AggregationDeleted(const std::string& aggregation_id) {
  RequestFinish(
      grpc::Status(grpc::StatusCode::NOT_FOUND,
                   absl::StrCat("aggregation '", aggregation_id,
                                "' was deleted; the subscription ends")));
}

void SubscribeStream::Fill(SubscribeItem item, uint64_t dropped_before,
                           uint64_t sequence, v1::SubscribeResponse* out) {
  // `out` is reused from message to message: clear what this one lacks.
  if (item.snapshot != nullptr) {
    out->clear_result();
    *out->mutable_snapshot_taken() = *item.snapshot;
  } else {
    out->clear_snapshot_taken();
    ShapeResult(*item.window, shape_, out->mutable_result());
  }
  out->set_dropped_before(dropped_before);
  out->set_sequence(sequence);
}

void SubscribeStream::Cleanup() {
  hub_->Remove(hub_handle_);
  registry_->Unregister(registry_handle_);
}

}  // namespace ringwatch
