#include "daemon/server/event_stream.h"

#include <algorithm>
#include <functional>
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
      id_cache_(new std::atomic<uint8_t>[kIdCacheSize]),
      max_held_(std::max<size_t>(queue_capacity, 1)) {
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

namespace {
// How far a reader's records must advance before it tries again to release
// held events (a busy CPU never reports its ring drained).
constexpr uint64_t kReleaseCheckNs = 1000000;

// Heap order: the smallest key on top.
bool LaterFirst(const std::tuple<uint64_t, uint32_t, uint64_t>& a,
                const std::tuple<uint64_t, uint32_t, uint64_t>& b) {
  return a > b;
}
}  // namespace

void EventStream::OnEvent(const RecordView& record, const EventFormat& format) {
  // Every record moves its CPU's watermark, matching or not: a reader on a
  // busy CPU releases what waited for it now and then.
  if (holding_.load(std::memory_order_relaxed) &&
      record.timestamp >= next_release_check_.load(std::memory_order_relaxed)) {
    next_release_check_.store(record.timestamp + kReleaseCheckNs,
                              std::memory_order_relaxed);
    Release();
  }
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
  // A backend that cannot order (its horizon is "everything") gets
  // arrival order too.
  if (filter_.arrival_order || backend_->EventTimeHorizon() == ~uint64_t{0}) {
    Push(std::move(event));
    return;
  }
  Hold(std::move(event));
  Release();
}

void EventStream::OnReaderDrained() {
  if (holding_.load(std::memory_order_relaxed)) Release();
}

void EventStream::Hold(v1::TraceEvent event) {
  absl::MutexLock lock(&order_mu_);
  if (event.timestamp_ns() < sent_through_) {
    // Its CPU delivered it after the horizon had passed it (a reader
    // starved for longer than the idle grace): sending it would break the
    // order this stream promises.
    AddDropped(1);
    return;
  }
  if (held_.size() >= max_held_) {
    // Full: the oldest goes out before its time.
    std::pop_heap(held_.begin(), held_.end(), [](const Held& a, const Held& b) {
      return LaterFirst(a.key, b.key);
    });
    sent_through_ = std::get<0>(held_.back().key);
    Push(std::move(held_.back().event));
    held_.pop_back();
  }
  Key key(event.timestamp_ns(), event.cpu(), arrivals_++);
  held_.push_back(Held{key, std::move(event)});
  std::push_heap(held_.begin(), held_.end(), [](const Held& a, const Held& b) {
    return LaterFirst(a.key, b.key);
  });
  holding_.store(true, std::memory_order_relaxed);
}

void EventStream::Release() {
  const uint64_t horizon = backend_->EventTimeHorizon();
  absl::MutexLock lock(&order_mu_);
  auto later_first = [](const Held& a, const Held& b) {
    return LaterFirst(a.key, b.key);
  };
  while (!held_.empty() && std::get<0>(held_.front().key) < horizon) {
    std::pop_heap(held_.begin(), held_.end(), later_first);
    sent_through_ = std::get<0>(held_.back().key);
    Push(std::move(held_.back().event));
    held_.pop_back();
  }
  holding_.store(!held_.empty(), std::memory_order_relaxed);
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
