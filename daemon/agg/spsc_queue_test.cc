#include "daemon/agg/spsc_queue.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <thread>
#include <utility>

#include "gtest/gtest.h"

namespace ringwatch {
namespace agg {
namespace {

// The producer side of a two-thread test. Leaving the test, also through a
// failed ASSERT in the consumer, stops and joins it: the failure is then
// reported, instead of std::terminate on a joinable thread or a producer
// spinning forever on a full ring.
class Producer {
 public:
  // `body` pushes until it is done or `stop` turns true.
  template <typename Body>
  explicit Producer(Body body)
      : thread_([this, body = std::move(body)] { body(stop_); }) {}
  ~Producer() { Join(); }

  void Join() {
    stop_.store(true, std::memory_order_relaxed);
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(SpscQueueTest, FifoAndCapacity) {
  SpscQueue<int> q(3);  // Rounded to 4.
  EXPECT_EQ(q.capacity(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(q.Push(i));
  EXPECT_FALSE(q.Push(99));
  int v;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(q.Pop(&v));
    EXPECT_EQ(v, i);
  }
  EXPECT_FALSE(q.Pop(&v));
}

TEST(SpscQueueTest, TwoThreadsDeliverEveryItemInOrder) {
  SpscQueue<uint64_t> q(64);
  constexpr uint64_t kItems = 200000;
  Producer producer([&](const std::atomic<bool>& stop) {
    for (uint64_t i = 0; i < kItems && !stop.load(std::memory_order_relaxed);) {
      if (q.Push(i)) ++i;
    }
  });
  uint64_t expected = 0, v;
  while (expected < kItems) {
    if (q.Pop(&v)) {
      ASSERT_EQ(v, expected);
      ++expected;
    }
  }
  producer.Join();
  EXPECT_FALSE(q.Pop(&v));
}

TEST(SpscRecordRingTest, RecordsOfAnySizeInOrder) {
  SpscRecordRing ring(20, 8);  // 24-byte records.
  EXPECT_EQ(ring.record_bytes(), 24u);
  constexpr uint64_t kItems = 100000;
  Producer producer([&](const std::atomic<bool>& stop) {
    for (uint64_t i = 0; i < kItems && !stop.load(std::memory_order_relaxed);) {
      uint8_t* slot = ring.Reserve();
      if (slot == nullptr) continue;
      std::memcpy(slot, &i, 8);
      const uint64_t twice = i * 2;
      std::memcpy(slot + 16, &twice, 8);
      ring.Commit();
      ++i;
    }
  });
  for (uint64_t expected = 0; expected < kItems;) {
    const uint8_t* r = ring.Front();
    if (r == nullptr) continue;
    uint64_t a, b;
    std::memcpy(&a, r, 8);
    std::memcpy(&b, r + 16, 8);
    ASSERT_EQ(a, expected);
    ASSERT_EQ(b, expected * 2);
    ring.Release();
    ++expected;
  }
  producer.Join();
  EXPECT_EQ(ring.Front(), nullptr);
}

}  // namespace
}  // namespace agg
}  // namespace ringwatch
