// A bounded FIFO that, when full, drops its oldest element to make room and
// carries the count of dropped elements on the element that follows them.
// Not synchronised: the owner guards it (a subscriber's own short lock).
#ifndef RINGWATCH_DAEMON_SERVER_DROP_OLDEST_QUEUE_H_
#define RINGWATCH_DAEMON_SERVER_DROP_OLDEST_QUEUE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>

#include "absl/types/optional.h"

namespace ringwatch {

template <typename T>
class DropOldestQueue {
 public:
  struct Item {
    T value;
    // Elements dropped between the previously popped element and this one.
    uint64_t dropped_before = 0;
  };

  // `capacity` >= 1 (0 is treated as 1).
  explicit DropOldestQueue(size_t capacity)
      : capacity_(capacity == 0 ? 1 : capacity) {}

  // Appends `value`; when full, first drops the oldest element. Returns true
  // when an element was dropped.
  bool Push(T value) {
    bool dropped = false;
    if (items_.size() == capacity_) {
      const uint64_t lost = items_.front().dropped_before + 1;
      items_.pop_front();
      ++dropped_total_;
      // The loss shows up on whatever is delivered next.
      if (items_.empty()) {
        carried_ += lost;
      } else {
        items_.front().dropped_before += lost;
      }
      dropped = true;
    }
    items_.push_back(Item{std::move(value), carried_});
    carried_ = 0;
    return dropped;
  }

  // The oldest element, or nullopt when empty.
  absl::optional<Item> Pop() {
    if (items_.empty()) return absl::nullopt;
    Item item = std::move(items_.front());
    items_.pop_front();
    return item;
  }

  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  size_t capacity() const { return capacity_; }
  // Every element ever dropped.
  uint64_t dropped_total() const { return dropped_total_; }

 private:
  const size_t capacity_;
  std::deque<Item> items_;
  uint64_t carried_ = 0;  // Drops waiting for the next pushed element.
  uint64_t dropped_total_ = 0;
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SERVER_DROP_OLDEST_QUEUE_H_
