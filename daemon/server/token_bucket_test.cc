#include "daemon/server/token_bucket.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace ringwatch {
namespace {

constexpr int64_t kSecond = 1000000000;

TEST(TokenBucketTest, StartsFullThenRefillsAtRate) {
  TokenBucket bucket(/*rate_per_second=*/10, /*burst=*/3);
  const int64_t t0 = 5 * kSecond;
  EXPECT_TRUE(bucket.TryTake(t0));
  EXPECT_TRUE(bucket.TryTake(t0));
  EXPECT_TRUE(bucket.TryTake(t0));
  EXPECT_FALSE(bucket.TryTake(t0));
  // One token every 100 ms.
  EXPECT_FALSE(bucket.TryTake(t0 + 99 * kSecond / 1000));
  EXPECT_TRUE(bucket.TryTake(t0 + 100 * kSecond / 1000));
  EXPECT_FALSE(bucket.TryTake(t0 + 100 * kSecond / 1000));
  // A long idle period refills to the burst, not beyond.
  const int64_t t1 = t0 + 60 * kSecond;
  int taken = 0;
  while (bucket.TryTake(t1)) ++taken;
  EXPECT_EQ(taken, 3);
}

TEST(TokenBucketTest, SteadyRateOverOneSimulatedSecond) {
  TokenBucket bucket(/*rate_per_second=*/1000, /*burst=*/1);
  int taken = 0;
  // Offer an event every 100 us for one second: 10x the rate.
  for (int64_t t = 0; t < kSecond; t += 100000) {
    if (bucket.TryTake(kSecond + t)) ++taken;
  }
  EXPECT_EQ(taken, 1000);
}

TEST(TokenBucketTest, ConcurrentTakersNeverExceedTheBurst) {
  TokenBucket bucket(/*rate_per_second=*/1, /*burst=*/100);
  std::atomic<int> taken{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 1000; ++j) {
        if (bucket.TryTake(kSecond)) taken.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(taken.load(), 100);
}

TEST(TokenBucketTest, ZeroRateNeverRefills) {
  TokenBucket bucket(/*rate_per_second=*/0, /*burst=*/2);
  EXPECT_TRUE(bucket.TryTake(kSecond));
  EXPECT_TRUE(bucket.TryTake(kSecond));
  EXPECT_FALSE(bucket.TryTake(1000 * kSecond));
}

}  // namespace
}  // namespace ringwatch
