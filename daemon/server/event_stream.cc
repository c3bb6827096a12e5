#include "daemon/server/event_stream.h"

#include <algorithm>
#include <utility>

#include "daemon/event/field_access.h"
#include "daemon/server/event_encoder.h"
#include "daemon/server/names.h"

namespace ringwatch {

namespace {
grpc::Status ToGrpc(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      std::string(s.message()));
}
}  // namespace

grpc::ServerWriteReactor<v1::StreamEventsResponse>* EventStream::Start(
    WriteScheduler* scheduler, Backend* backend, StreamRegistry* registry,
    size_t queue_capacity, std::string peer, EventFilter filter) {
  std::shared_ptr<EventStream> stream(
      new EventStream(scheduler, backend, registry, queue_capacity,
                      std::move(peer), std::move(filter)));
  absl::StatusOr<uint64_t> handle =
      registry->Register(v1::StreamStatus::KIND_STREAM_EVENTS, stream);
  if (!handle.ok()) {
    return new RejectedStream<v1::StreamEventsResponse>(
        ToGrpc(handle.status()));
  }
  stream->registry_handle_ = *handle;
  absl::StatusOr<uint64_t> tap = backend->AddEventTap(stream);
  if (!tap.ok()) {
    registry->Unregister(*handle);
    return new RejectedStream<v1::StreamEventsResponse>(ToGrpc(tap.status()));
  }
  stream->tap_handle_ = *tap;
  stream->tap_added_ = true;
  EventStream* raw = stream.get();
  raw->Activate(std::move(stream));
  return raw;
}

EventStream::EventStream(WriteScheduler* scheduler, Backend* backend,
                         StreamRegistry* registry, size_t queue_capacity,
                         std::string peer, EventFilter filter)
    : QueuedStream(scheduler, v1::StreamStatus::KIND_STREAM_EVENTS,
                   queue_capacity, std::move(peer), filter.globs),
      backend_(backend),
      registry_(registry),
      filter_(std::move(filter)),
      bucket_(filter_.events_per_second, filter_.burst),
      id_cache_(new std::atomic<uint8_t>[kIdCacheSize]) {
  for (size_t i = 0; i < kIdCacheSize; ++i) {
    id_cache_[i].store(kUnknown, std::memory_order_relaxed);
  }
}

bool EventStream::IdMatches(const EventFormat& format) {
  auto decide = [&] {
    if (filter_.globs.empty()) return true;
    return std::any_of(filter_.globs.begin(), filter_.globs.end(),
                       [&](const std::string& g) {
                         return EventGlobMatches(g, format.system, format.name);
                       });
  };
  if (format.id >= kIdCacheSize) return decide();
  const uint8_t cached = id_cache_[format.id].load(std::memory_order_relaxed);
  if (cached != kUnknown) return cached == kMatch;
  const bool match = decide();
  id_cache_[format.id].store(match ? kMatch : kNoMatch,
                             std::memory_order_relaxed);
  return match;
}

void EventStream::OnEvent(const RecordView& record, const EventFormat& format) {
  if (!IdMatches(format)) return;
  if (!filter_.cpus.empty() &&
      std::find(filter_.cpus.begin(), filter_.cpus.end(), record.cpu) ==
          filter_.cpus.end()) {
    return;
  }
  if (!filter_.pids.empty()) {
    const FieldFormat* pid_field = format.FindField("common_pid");
    int64_t pid;
    if (pid_field == nullptr ||
        !FieldInteger(record.payload, *pid_field, &pid) ||
        std::find(filter_.pids.begin(), filter_.pids.end(),
                  static_cast<int32_t>(pid)) == filter_.pids.end()) {
      return;
    }
  }
  if (!bucket_.TryTake()) {
    AddDropped(1);
    return;
  }
  // Past the rate limit only: the copy out of the ring allocates.
  v1::TraceEvent event;
  EncodeTraceEvent(record, format, &event);
  Push(std::move(event));
}

void EventStream::Fill(v1::TraceEvent event, uint64_t dropped_before,
                       uint64_t sequence, v1::StreamEventsResponse* out) {
  *out->mutable_event() = std::move(event);
  out->set_dropped_before(dropped_before);
}

void EventStream::Cleanup() {
  if (tap_added_) backend_->RemoveEventTap(tap_handle_);
  registry_->Unregister(registry_handle_);
}

}  // namespace ringwatch
