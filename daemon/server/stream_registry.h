// Every open server stream (Subscribe, StreamEvents): the caps on how many
// may be open, their figures for GetStatus, and finishing them all at
// shutdown.
#ifndef RINGWATCH_DAEMON_SERVER_STREAM_REGISTRY_H_
#define RINGWATCH_DAEMON_SERVER_STREAM_REGISTRY_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/support/status.h"
#include "proto/ringwatch/v1/ringwatch.pb.h"

namespace ringwatch {

// One open stream as the registry sees it.
class Stream {
 public:
  virtual ~Stream() = default;
  // Ends the stream with `status` once the write in flight (if any) is done.
  // Any thread; only the first call counts.
  virtual void RequestFinish(grpc::Status status) = 0;
  // Figures for GetStatus.
  virtual v1::StreamStatus Describe() const = 0;
};

class StreamRegistry {
 public:
  StreamRegistry(uint32_t max_subscribers, uint32_t max_event_streams);

  // Adds `stream` of `kind` (KIND_SUBSCRIBE or KIND_STREAM_EVENTS).
  // RESOURCE_EXHAUSTED, naming the cap, when max_subscribers streams of
  // both kinds are open, or max_event_streams StreamEvents ones;
  // UNAVAILABLE once FinishAll has run.
  absl::StatusOr<uint64_t> Register(v1::StreamStatus::Kind kind,
                                    std::shared_ptr<Stream> stream);
  // Removes a stream (from its OnDone), keeping its drops in the totals.
  void Unregister(uint64_t handle);

  // Refuses new streams and asks every open one to finish with `status`.
  void FinishAll(const grpc::Status& status);
  // Waits until every stream has unregistered, or `deadline`. True when
  // none is left.
  bool WaitUntilEmpty(absl::Time deadline);

  uint32_t count(v1::StreamStatus::Kind kind) const;
  // KIND_SUBSCRIBE: the cap on both kinds together.
  uint32_t max(v1::StreamStatus::Kind kind) const;
  // Drops of every stream, open or gone.
  uint64_t dropped_total() const;
  std::vector<v1::StreamStatus> DescribeAll() const;

 private:
  struct Entry {
    v1::StreamStatus::Kind kind;
    std::shared_ptr<Stream> stream;
  };

  std::vector<std::shared_ptr<Stream>> Snapshot() const;

  const uint32_t max_subscribers_;
  const uint32_t max_event_streams_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, Entry> streams_ ABSL_GUARDED_BY(mu_);
  uint64_t next_handle_ ABSL_GUARDED_BY(mu_) = 1;
  uint32_t subscribers_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t event_streams_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t retired_dropped_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SERVER_STREAM_REGISTRY_H_
