// A callback-API client reader for server-streaming calls in tests and
// benchmarks: collects every message, can stall (not read) until resumed,
// and lets the caller wait for counts and for the end of the call.
#ifndef RINGWATCH_DAEMON_SERVER_TESTING_COLLECTING_READER_H_
#define RINGWATCH_DAEMON_SERVER_TESTING_COLLECTING_READER_H_

#include <functional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/client_callback.h"

namespace ringwatch {
namespace testing {

template <typename Response>
class CollectingReader : public grpc::ClientReadReactor<Response> {
 public:
  using StartFn = std::function<void(grpc::ClientContext*,
                                     grpc::ClientReadReactor<Response>*)>;

  // `stalled`: do not read until Resume() (the server's writes then back
  // up through flow control into its queue).
  explicit CollectingReader(bool stalled = false) : stalled_(stalled) {}

  ~CollectingReader() override {
    if (!started_) return;
    context_.TryCancel();
    WaitForDone(absl::Seconds(30));
  }

  // `start` binds the call, e.g. stub->async()->Subscribe(ctx, &req, r).
  void Start(const StartFn& start) {
    started_ = true;
    start(&context_, this);
    if (!stalled_) this->StartRead(&incoming_);
    this->StartCall();
  }

  // Starts reading after a stall.
  void Resume() { this->StartRead(&incoming_); }
  void Cancel() { context_.TryCancel(); }

  // Called on gRPC's thread for each message, before it is stored.
  void set_on_message(std::function<void(const Response&)> f) {
    on_message_ = std::move(f);
  }

  // True once the server's initial metadata arrived (it sends it once the
  // stream is registered); false on timeout or when the call failed first.
  bool WaitForMetadata(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return metadata_ || done_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    return metadata_;
  }
  bool WaitForCount(size_t n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto ready = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return messages_.size() >= n || done_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    return messages_.size() >= n;
  }
  // The call's final status; DEADLINE_EXCEEDED (from the test) on timeout.
  grpc::Status WaitForDone(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done_; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&ready), timeout)) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                          "test: the call did not end in time");
    }
    return status_;
  }
  std::vector<Response> messages() const {
    absl::MutexLock lock(&mu_);
    return messages_;
  }
  size_t count() const {
    absl::MutexLock lock(&mu_);
    return messages_.size();
  }
  bool done() const {
    absl::MutexLock lock(&mu_);
    return done_;
  }

 private:
  void OnReadInitialMetadataDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    metadata_ = ok;
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows.
    if (on_message_) on_message_(incoming_);
    {
      absl::MutexLock lock(&mu_);
      messages_.push_back(incoming_);
    }
    this->StartRead(&incoming_);
  }
  void OnDone(const grpc::Status& status) override {
    absl::MutexLock lock(&mu_);
    status_ = status;
    done_ = true;
  }

  const bool stalled_;
  bool started_ = false;
  grpc::ClientContext context_;
  Response incoming_;
  std::function<void(const Response&)> on_message_;
  mutable absl::Mutex mu_;
  std::vector<Response> messages_ ABSL_GUARDED_BY(mu_);
  bool metadata_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace testing
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SERVER_TESTING_COLLECTING_READER_H_
