// One StreamEvents call: an event tap on the reader threads that filters,
// rate-limits (lock-free) and only then copies an event into the stream's
// drop-oldest queue.
#ifndef RINGWATCH_DAEMON_SERVER_EVENT_STREAM_H_
#define RINGWATCH_DAEMON_SERVER_EVENT_STREAM_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

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

 private:
  EventStream(WriteScheduler* scheduler, Backend* backend,
              StreamRegistry* registry, size_t queue_capacity, std::string peer,
              EventFilter filter);

  // Whether events with this id pass the globs; decided once per id.
  bool IdMatches(const EventFormat& format);

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
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SERVER_EVENT_STREAM_H_
