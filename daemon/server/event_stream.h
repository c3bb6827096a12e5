// One StreamEvents call: an event tap on the reader threads that filters,
// rate-limits (lock-free) and only then copies an event out of the ring.
// Each reader thread delivers its own CPU's events, so by default the copies
// wait in a small heap until every CPU is past their timestamp
// (Backend::EventTimeHorizon) and go to the stream's drop-oldest queue in
// (timestamp, cpu) order; with arrival_order they go at once.
#ifndef RINGWATCH_DAEMON_SERVER_EVENT_STREAM_H_
#define RINGWATCH_DAEMON_SERVER_EVENT_STREAM_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "daemon/server/backend.h"
#include "daemon/server/queued_stream.h"
#include "daemon/server/stream_registry.h"
#include "daemon/server/token_bucket.h"
#include "proto/ringwatch/v1/ringwatch.pb.h"

namespace ringwatch {

struct EventFilter {
  std::vector<std::string> globs;  // Empty: every event.
  std::vector<uint32_t> cpus;      // Empty: every CPU.
  std::vector<int32_t> pids;       // Empty: every pid.
  double events_per_second = 100;
  uint32_t burst = 100;
  // Send events as the readers deliver them (CPU by CPU, so time may run
  // backwards between CPUs) rather than in timestamp order.
  bool arrival_order = false;
};

class EventStream final
    : public QueuedStream<v1::TraceEvent, v1::StreamEventsResponse>,
      public EventTap {
 public:
  // Registers with `registry` (the cap) and `backend` (the tap) and returns
  // the reactor for gRPC; a RejectedStream when either refuses.
  static grpc::ServerWriteReactor<v1::StreamEventsResponse>* Start(
      WriteScheduler* scheduler, Backend* backend, StreamRegistry* registry,
      size_t queue_capacity, std::string peer, EventFilter filter);

  // EventTap: runs on reader threads.
  void OnEvent(const RecordView& record, const EventFormat& format) override;
  void OnReaderDrained() override;

 private:
  EventStream(WriteScheduler* scheduler, Backend* backend,
              StreamRegistry* registry, size_t queue_capacity, std::string peer,
              EventFilter filter);

  // Whether events with this id pass the globs; decided once per id.
  bool IdMatches(const EventFormat& format);
  // Time order: holds `event` back until the horizon passes it.
  void Hold(v1::TraceEvent event);
  // Sends every held event older than the backend's horizon, oldest first.
  void Release();

  void Fill(v1::TraceEvent event, uint64_t dropped_before, uint64_t sequence,
            v1::StreamEventsResponse* out) override;
  void Cleanup() override;

  static constexpr size_t kIdCacheSize = 65536;  // common_type is a u16.
  enum : uint8_t { kUnknown = 0, kMatch = 1, kNoMatch = 2 };

  Backend* const backend_;
  StreamRegistry* const registry_;
  const EventFilter filter_;
  TokenBucket bucket_;
  // Per event id: kUnknown, kMatch or kNoMatch. Written by whichever reader
  // thread sees the id first; every writer stores the same answer.
  std::unique_ptr<std::atomic<uint8_t>[]> id_cache_;
  uint64_t tap_handle_ = 0;       // Set in Start, before any Cleanup.
  uint64_t registry_handle_ = 0;  // Likewise.
  bool tap_added_ = false;

  // Time order. Held events, a min-heap by (timestamp, cpu, arrival); at
  // most queue capacity of them (beyond it the oldest goes out early).
  using Key = std::tuple<uint64_t, uint32_t, uint64_t>;
  struct Held {
    Key key;
    v1::TraceEvent event;
  };
  const size_t max_held_;
  // Taken before the queue's lock (Release pushes under it, so that two
  // readers releasing at once keep the order).
  absl::Mutex order_mu_;
  std::vector<Held> held_ ABSL_GUARDED_BY(order_mu_);
  uint64_t arrivals_ ABSL_GUARDED_BY(order_mu_) = 0;
  // Timestamp of the newest event sent; an event older than it (a CPU
  // that delivered later than the horizon allowed for) is dropped and
  // counted rather than sent out of order.
  uint64_t sent_through_ ABSL_GUARDED_BY(order_mu_) = 0;
  // Lock-free hints for the readers: whether anything is held, and the
  // record timestamp after which a reader should try to release again.
  std::atomic<bool> holding_{false};
  std::atomic<uint64_t> next_release_check_{0};
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SERVER_EVENT_STREAM_H_
