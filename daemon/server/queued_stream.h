// The writing half of a server-streaming call: a bounded queue that drops
// its oldest message when full, with one write in flight. Producers (the
// engine's or readers' threads) only take this stream's short lock to
// enqueue; they never wait for the client.
//
// Whoever holds the "writer token" is the only thread that may call
// StartWrite or Finish. A producer that enqueues onto an idle stream takes
// the token and hands the stream to the WriteScheduler, whose thread starts
// the write; OnWriteDone passes the token on to the next write or releases
// it. Finish is only ever called with the token held, and the
// token is never released after it, so OnDone cannot run while another
// thread is about to start a write.
#ifndef RINGWATCH_DAEMON_SERVER_QUEUED_STREAM_H_
#define RINGWATCH_DAEMON_SERVER_QUEUED_STREAM_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/types/optional.h"
#include "daemon/server/drop_oldest_queue.h"
#include "daemon/server/stream_registry.h"
#include "daemon/server/write_scheduler.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/support/server_callback.h"
#include "proto/ringwatch/v1/ringwatch.pb.h"

namespace ringwatch {

template <typename Item, typename Response>
class QueuedStream : public grpc::ServerWriteReactor<Response>,
                     public Stream,
                     public Kickable {
 public:
  // Enqueues `item`, dropping the oldest queued one when full. Any thread;
  // never blocks on the client. Ignored once the stream is finishing.
  void Push(Item item) {
    {
      absl::MutexLock lock(&mu_);
      if (finish_.has_value()) return;
      queue_.Push(std::move(item));
      if (token_held_) return;
      token_held_ = true;
    }
    // With the token held OnDone cannot run, so self_ is set and stays set.
    scheduler_->Schedule(self_);
  }

  // Counts `n` messages lost before reaching the queue (a rate limit); they
  // are reported on the next message. Lock-free.
  void AddDropped(uint64_t n) {
    external_dropped_.fetch_add(n, std::memory_order_relaxed);
    external_dropped_total_.fetch_add(n, std::memory_order_relaxed);
  }

  void RequestFinish(grpc::Status status) override {
    {
      absl::MutexLock lock(&mu_);
      if (finish_.has_value()) return;
      finish_ = std::move(status);
      if (token_held_) return;  // The holder finishes after its write.
      token_held_ = true;
    }
    Continue();
  }

  v1::StreamStatus Describe() const override {
    v1::StreamStatus s;
    s.set_kind(kind_);
    s.set_peer(peer_);
    *s.mutable_start_time() = start_time_;
    for (const std::string& t : targets_) s.add_targets(t);
    absl::MutexLock lock(&mu_);
    s.set_sent(sent_);
    s.set_dropped(queue_.dropped_total() + external_dropped_total_.load());
    s.set_queued(static_cast<uint32_t>(queue_.size()));
    s.set_queue_capacity(static_cast<uint32_t>(queue_.capacity()));
    return s;
  }

 protected:
  // `scheduler` must outlive every call of this stream (the server's does).
  QueuedStream(WriteScheduler* scheduler, v1::StreamStatus::Kind kind,
               size_t capacity, std::string peer,
               std::vector<std::string> targets)
      : scheduler_(scheduler),
        kind_(kind),
        peer_(std::move(peer)),
        targets_(std::move(targets)),
        start_time_(google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
            absl::ToUnixNanos(absl::Now()))),
        queue_(capacity) {}

  // Makes `self` own this stream until OnDone, sends the initial metadata
  // (so a client knows the subscription is in place) and starts writing
  // whatever was pushed meanwhile. Call once, before handing the reactor to
  // gRPC.
  // Until then the constructor's writer token keeps producers to enqueueing.
  void Activate(std::shared_ptr<QueuedStream> self) {
    self_ = std::move(self);
    this->StartSendInitialMetadata();
    Continue();
  }

  // Builds the message for `item`; `dropped_before` counts the messages lost
  // since the previous one, and `sequence` numbers messages from 1 counting
  // the lost ones. Runs with the writer token: one at a time.
  virtual void Fill(Item item, uint64_t dropped_before, uint64_t sequence,
                    Response* out) = 0;

  // Unregisters the stream from whatever feeds it; called once, from OnDone.
  virtual void Cleanup() = 0;

 private:
  // With the writer token held: finishes, writes the next message, or
  // releases the token when there is nothing to do.
  void Continue() {
    absl::optional<typename DropOldestQueue<Item>::Item> next;
    absl::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      if (finish_.has_value()) {
        if (finish_called_) return;
        finish_called_ = true;
        finish = *finish_;
      } else {
        next = queue_.Pop();
        if (!next.has_value()) {
          token_held_ = false;
          return;
        }
      }
    }
    // Neither Finish nor StartWrite is followed by any access to members:
    // gRPC may run OnWriteDone or OnDone (which can delete this) before they
    // return.
    if (finish.has_value()) {
      this->Finish(std::move(*finish));
      return;
    }
    const uint64_t dropped =
        next->dropped_before + external_dropped_.exchange(0);
    sequence_ += dropped + 1;
    Fill(std::move(next->value), dropped, sequence_, &current_);
    this->StartWrite(&current_);
  }

  // Kickable: on the scheduler's thread, with the token.
  void Kicked() override { Continue(); }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      if (ok) {
        ++sent_;
      } else if (!finish_.has_value()) {
        // The call is broken (the client went away): nothing more can be
        // written.
        finish_ = grpc::Status(grpc::StatusCode::CANCELLED,
                               "stream write failed: the client is gone");
      }
    }
    Continue();
  }

  void OnCancel() override {
    RequestFinish(grpc::Status(grpc::StatusCode::CANCELLED,
                               "the client cancelled the stream"));
  }

  void OnDone() override {
    Cleanup();
    // May delete this: the last statement.
    std::shared_ptr<QueuedStream> self = std::move(self_);
  }

  WriteScheduler* const scheduler_;
  const v1::StreamStatus::Kind kind_;
  const std::string peer_;
  const std::vector<std::string> targets_;
  const google::protobuf::Timestamp start_time_;

  mutable absl::Mutex mu_;
  DropOldestQueue<Item> queue_ ABSL_GUARDED_BY(mu_);
  // Held from construction until Activate hands it on.
  bool token_held_ ABSL_GUARDED_BY(mu_) = true;
  absl::optional<grpc::Status> finish_ ABSL_GUARDED_BY(mu_);
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t sent_ ABSL_GUARDED_BY(mu_) = 0;
  // Losses before the queue: not yet reported, and ever.
  std::atomic<uint64_t> external_dropped_{0};
  std::atomic<uint64_t> external_dropped_total_{0};

  // Owned by the writer-token holder.
  Response current_;
  uint64_t sequence_ = 0;
  std::shared_ptr<QueuedStream> self_;  // Set until OnDone.
};

// A write reactor that only finishes with an error (a rejected call).
template <typename Response>
class RejectedStream : public grpc::ServerWriteReactor<Response> {
 public:
  explicit RejectedStream(grpc::Status status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SERVER_QUEUED_STREAM_H_
