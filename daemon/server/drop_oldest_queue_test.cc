#include "daemon/server/drop_oldest_queue.h"

#include <string>

#include "gtest/gtest.h"

namespace ringwatch {
namespace {

TEST(DropOldestQueueTest, FifoWithinCapacity) {
  DropOldestQueue<int> q(3);
  EXPECT_FALSE(q.Push(1));
  EXPECT_FALSE(q.Push(2));
  auto a = q.Pop();
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->value, 1);
  EXPECT_EQ(a->dropped_before, 0u);
  EXPECT_EQ(q.Pop()->value, 2);
  EXPECT_FALSE(q.Pop().has_value());
  EXPECT_EQ(q.dropped_total(), 0u);
}

TEST(DropOldestQueueTest, DropsOldestAndCarriesTheCount) {
  DropOldestQueue<int> q(2);
  for (int i = 1; i <= 5; ++i) q.Push(i);  // 1, 2, 3 dropped.
  EXPECT_EQ(q.dropped_total(), 3u);
  auto a = q.Pop();
  EXPECT_EQ(a->value, 4);
  EXPECT_EQ(a->dropped_before, 3u);
  auto b = q.Pop();
  EXPECT_EQ(b->value, 5);
  EXPECT_EQ(b->dropped_before, 0u);
}

TEST(DropOldestQueueTest, CapacityOneCarriesEveryLoss) {
  DropOldestQueue<std::string> q(1);
  q.Push("a");
  q.Push("b");
  q.Push("c");
  auto c = q.Pop();
  EXPECT_EQ(c->value, "c");
  EXPECT_EQ(c->dropped_before, 2u);
  q.Push("d");
  EXPECT_EQ(q.Pop()->dropped_before, 0u);
}

TEST(DropOldestQueueTest, DeliveredPlusDroppedEqualsPushed) {
  DropOldestQueue<int> q(4);
  uint64_t delivered = 0, dropped_seen = 0;
  for (int i = 0; i < 1000; ++i) {
    q.Push(i);
    if (i % 7 == 0) {  // A slow consumer: one pop per seven pushes.
      auto item = q.Pop();
      ++delivered;
      dropped_seen += item->dropped_before;
    }
  }
  while (auto item = q.Pop()) {
    ++delivered;
    dropped_seen += item->dropped_before;
  }
  EXPECT_EQ(delivered + dropped_seen, 1000u);
  EXPECT_EQ(dropped_seen, q.dropped_total());
}

TEST(DropOldestQueueTest, ZeroCapacityActsAsOne) {
  DropOldestQueue<int> q(0);
  EXPECT_EQ(q.capacity(), 1u);
  q.Push(1);
  EXPECT_TRUE(q.Push(2));
}

}  // namespace
}  // namespace ringwatch
