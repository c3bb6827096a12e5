// Fans each closed window out to the subscribers of its aggregation. The
// engine's thread calls OnWindowClosed; it copies a snapshot pointer under
// a short lock and then only enqueues onto each subscriber's own bounded
// queue, so a slow or stalled subscriber never slows the engine or the
// others.
#ifndef RINGWATCH_DAEMON_SERVER_HUB_H_
#define RINGWATCH_DAEMON_SERVER_HUB_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "daemon/server/backend.h"

namespace ringwatch {

// One subscriber's end of the hub.
class WindowSubscriber {
 public:
  virtual ~WindowSubscriber() = default;
  // Never blocks.
  virtual void Offer(
      const std::shared_ptr<const v1::AggregationResult>& window) = 0;
  // An aggregation this subscriber follows was deleted.
  virtual void AggregationDeleted(const std::string& aggregation_id) = 0;
  // A trigger on one of its aggregations wrote a snapshot. Never blocks.
  virtual void OfferSnapshot(
      const std::shared_ptr<const v1::SnapshotInfo>& info) {}
};

class Hub : public WindowListener {
 public:
  Hub() = default;

  // Subscribes to the windows of `aggregation_ids` (bare ids). Returns a
  // handle for Remove.
  uint64_t Add(const std::vector<std::string>& aggregation_ids,
               std::shared_ptr<WindowSubscriber> subscriber);
  void Remove(uint64_t handle);

  // WindowListener.
  void OnWindowClosed(
      std::shared_ptr<const v1::AggregationResult> window) override;
  void OnAggregationDeleted(absl::string_view aggregation_id) override;
  void OnSnapshotTaken(absl::string_view aggregation_id,
                       std::shared_ptr<const v1::SnapshotInfo> info) override;

  // Subscribers per aggregation id.
  absl::flat_hash_map<std::string, uint32_t> SubscriberCounts() const;
  size_t size() const;
  uint64_t windows_published() const;

 private:
  struct Entry {
    uint64_t handle;
    std::shared_ptr<WindowSubscriber> subscriber;
  };
  // Subscribers by aggregation id. Copied on write, so the publisher reads a
  // snapshot without holding the lock while it enqueues.
  using Table = absl::flat_hash_map<std::string, std::vector<Entry>>;

  std::shared_ptr<const Table> Snapshot() const;

  mutable absl::Mutex mu_;
  std::shared_ptr<const Table> table_ ABSL_GUARDED_BY(mu_) =
      std::make_shared<const Table>();
  uint64_t next_handle_ ABSL_GUARDED_BY(mu_) = 1;
  size_t size_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t published_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SERVER_HUB_H_
