// Bounded single-producer single-consumer queues: the handoff between a
// reader thread and the merger. Push and Pop are a load, a copy and a release
// store; no read-modify-write, no lock, no allocation.
#ifndef RINGWATCH_DAEMON_AGG_SPSC_QUEUE_H_
#define RINGWATCH_DAEMON_AGG_SPSC_QUEUE_H_

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>

namespace ringwatch {
namespace agg {

// Positions only grow; index = position & mask. Each side caches the other
// side's position to touch the shared cache line only when it must.
template <typename T>
class SpscQueue {
  static_assert(std::is_trivially_copyable<T>::value,
                "SpscQueue holds trivially copyable values");

 public:
  // Capacity is rounded up to a power of two.
  explicit SpscQueue(uint32_t capacity) {
    uint64_t n = 1;
    while (n < capacity) n <<= 1;
    mask_ = n - 1;
    items_.reset(new T[n]);
  }
  SpscQueue(const SpscQueue&) = delete;
  SpscQueue& operator=(const SpscQueue&) = delete;

  // Producer only. False when full.
  bool Push(const T& item) {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_cache_ > mask_) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (tail - head_cache_ > mask_) return false;
    }
    items_[tail & mask_] = item;
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Consumer only. False when empty.
  bool Pop(T* item) {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_cache_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (head == tail_cache_) return false;
    }
    *item = items_[head & mask_];
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // Any thread; a snapshot.
  uint64_t SizeApprox() const {
    return tail_.load(std::memory_order_acquire) -
           head_.load(std::memory_order_acquire);
  }
  uint64_t capacity() const { return mask_ + 1; }

 private:
  uint64_t mask_ = 0;
  std::unique_ptr<T[]> items_;
  alignas(64) std::atomic<uint64_t> head_{0};  // Written by the consumer.
  uint64_t tail_cache_ = 0;                    // Consumer's copy of tail_.
  alignas(64) std::atomic<uint64_t> tail_{0};  // Written by the producer.
  uint64_t head_cache_ = 0;                    // Producer's copy of head_.
};

// The same for fixed-size byte records written in place (the cross-CPU
// pairing items, whose size depends on the aggregation's keys).
class SpscRecordRing {
 public:
  // `record_bytes` is rounded up to whole words; capacity to a power of two.
  SpscRecordRing(uint32_t record_bytes, uint32_t capacity)
      : stride_((record_bytes + 7) / 8 * 8) {
    uint64_t n = 1;
    while (n < capacity) n <<= 1;
    mask_ = n - 1;
    // Uninitialized: pages are touched only as records are written.
    bytes_.reset(new uint8_t[n * stride_]);
  }
  SpscRecordRing(const SpscRecordRing&) = delete;
  SpscRecordRing& operator=(const SpscRecordRing&) = delete;

  uint32_t record_bytes() const { return stride_; }
  uint64_t capacity() const { return mask_ + 1; }
  // Any thread; a snapshot. The producer's own view is exact as a lower
  // bound of the free slots (the consumer only frees more).
  uint64_t SizeApprox() const {
    return tail_.load(std::memory_order_acquire) -
           head_.load(std::memory_order_acquire);
  }

  // Producer: a slot to fill, or nullptr when full; then Commit().
  uint8_t* Reserve() {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_cache_ > mask_) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (tail - head_cache_ > mask_) return nullptr;
    }
    return bytes_.get() + (tail & mask_) * stride_;
  }
  void Commit() {
    tail_.store(tail_.load(std::memory_order_relaxed) + 1,
                std::memory_order_release);
  }

  // Consumer: the oldest record, or nullptr when empty; then Release().
  const uint8_t* Front() {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_cache_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (head == tail_cache_) return nullptr;
    }
    return bytes_.get() + (head & mask_) * stride_;
  }
  void Release() {
    head_.store(head_.load(std::memory_order_relaxed) + 1,
                std::memory_order_release);
  }

 private:
  uint32_t stride_;
  uint64_t mask_ = 0;
  std::unique_ptr<uint8_t[]> bytes_;
  alignas(64) std::atomic<uint64_t> head_{0};
  uint64_t tail_cache_ = 0;
  alignas(64) std::atomic<uint64_t> tail_{0};
  uint64_t head_cache_ = 0;
};

}  // namespace agg
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_AGG_SPSC_QUEUE_H_
