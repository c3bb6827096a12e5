#include "daemon/server/stream_registry.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ringwatch {

StreamRegistry::StreamRegistry(uint32_t max_subscribers,
                               uint32_t max_event_streams)
    : max_subscribers_(max_subscribers),
      max_event_streams_(max_event_streams) {}

absl::StatusOr<uint64_t> StreamRegistry::Register(
    v1::StreamStatus::Kind kind, std::shared_ptr<Stream> stream) {
  absl::MutexLock lock(&mu_);
  if (closed_) {
    return absl::UnavailableError("ringwatchd is shutting down");
  }
  const bool subscribe = kind == v1::StreamStatus::KIND_SUBSCRIBE;
  if (subscribers_ + event_streams_ >= max_subscribers_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "too many subscribers: ", subscribers_ + event_streams_,
        " streams open (Subscribe and StreamEvents together), the server's "
        "cap is ",
        max_subscribers_,
        "; close one, or raise limits.max_subscribers in the daemon's "
        "config"));
  }
  if (!subscribe && event_streams_ >= max_event_streams_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("too many event streams: ", event_streams_,
                     " StreamEvents calls open, the server's cap is ",
                     max_event_streams_, "; close one"));
  }
  uint32_t& open = subscribe ? subscribers_ : event_streams_;
  ++open;
  const uint64_t handle = next_handle_++;
  streams_.emplace(handle, Entry{kind, std::move(stream)});
  return handle;
}

void StreamRegistry::Unregister(uint64_t handle) {
  std::shared_ptr<Stream> gone;  // Released outside the lock.
  absl::MutexLock lock(&mu_);
  auto it = streams_.find(handle);
  if (it == streams_.end()) return;
  (it->second.kind == v1::StreamStatus::KIND_SUBSCRIBE ? subscribers_
                                                       : event_streams_)--;
  retired_dropped_ += it->second.stream->Describe().dropped();
  gone = std::move(it->second.stream);
  streams_.erase(it);
}

std::vector<std::shared_ptr<Stream>> StreamRegistry::Snapshot() const {
  std::vector<std::shared_ptr<Stream>> out;
  absl::MutexLock lock(&mu_);
  out.reserve(streams_.size());
  for (const auto& [handle, entry] : streams_) out.push_back(entry.stream);
  return out;
}

void StreamRegistry::FinishAll(const grpc::Status& status) {
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  // Outside the lock: RequestFinish may run the stream's OnDone, which
  // unregisters.
  for (const auto& stream : Snapshot()) stream->RequestFinish(status);
}

bool StreamRegistry::WaitUntilEmpty(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto empty = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return streams_.empty();
  };
  return mu_.AwaitWithDeadline(absl::Condition(&empty), deadline);
}

uint32_t StreamRegistry::count(v1::StreamStatus::Kind kind) const {
  absl::MutexLock lock(&mu_);
  return kind == v1::StreamStatus::KIND_SUBSCRIBE ? subscribers_
                                                  : event_streams_;
}

uint32_t StreamRegistry::max(v1::StreamStatus::Kind kind) const {
  return kind == v1::StreamStatus::KIND_SUBSCRIBE ? max_subscribers_
                                                  : max_event_streams_;
}

uint64_t StreamRegistry::dropped_total() const {
  uint64_t open_dropped = 0;
  for (const auto& stream : Snapshot()) {
    open_dropped += stream->Describe().dropped();
  }
  absl::MutexLock lock(&mu_);
  return retired_dropped_ + open_dropped;
}

std::vector<v1::StreamStatus> StreamRegistry::DescribeAll() const {
  std::vector<v1::StreamStatus> out;
  for (const auto& stream : Snapshot()) out.push_back(stream->Describe());
  std::sort(out.begin(), out.end(),
            [](const v1::StreamStatus& a, const v1::StreamStatus& b) {
              return a.start_time().seconds() != b.start_time().seconds()
                         ? a.start_time().seconds() < b.start_time().seconds()
                         : a.start_time().nanos() < b.start_time().nanos();
            });
  return out;
}

}  // namespace ringwatch
