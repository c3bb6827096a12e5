#include "daemon/agg/histogram.h"

#include <cstdint>
#include <limits>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace agg {
namespace {

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

TEST(Log2BucketsTest, IndexAndBounds) {
  const BucketSpec b = BucketSpec::Log2();
  EXPECT_EQ(b.num_buckets(), 64u);
  EXPECT_EQ(b.Index(-5), 0u);
  EXPECT_EQ(b.Index(0), 0u);
  EXPECT_EQ(b.Index(1), 1u);
  EXPECT_EQ(b.Index(2), 2u);
  EXPECT_EQ(b.Index(3), 2u);
  EXPECT_EQ(b.Index(4), 3u);
  EXPECT_EQ(b.Index(1023), 10u);
  EXPECT_EQ(b.Index(1024), 11u);
  EXPECT_EQ(b.Index(kMax), 63u);
  EXPECT_EQ(b.Lower(0), kMin);
  EXPECT_EQ(b.Upper(0), 0);
  EXPECT_EQ(b.Lower(11), 1024);
  EXPECT_EQ(b.Upper(11), 2047);
  EXPECT_EQ(b.Upper(63), kMax);
  // Every value lies within its bucket's bounds.
  for (int64_t v : {int64_t{-3}, int64_t{0}, int64_t{1}, int64_t{7}, int64_t{8},
                    int64_t{1} << 40, kMax}) {
    const uint32_t i = b.Index(v);
    EXPECT_LE(b.Lower(i), v) << v;
    EXPECT_GE(b.Upper(i), v) << v;
  }
}

TEST(LinearBucketsTest, IndexAndBounds) {
  const BucketSpec b = BucketSpec::Linear(10, 50, 10).value();
  // Underflow, [10,20) [20,30) [30,40) [40,50), overflow.
  ASSERT_EQ(b.num_buckets(), 6u);
  EXPECT_EQ(b.Index(9), 0u);
  EXPECT_EQ(b.Index(10), 1u);
  EXPECT_EQ(b.Index(19), 1u);
  EXPECT_EQ(b.Index(20), 2u);
  EXPECT_EQ(b.Index(49), 4u);
  EXPECT_EQ(b.Index(50), 5u);
  EXPECT_EQ(b.Index(kMin), 0u);
  EXPECT_EQ(b.Index(kMax), 5u);
  EXPECT_EQ(b.Lower(0), kMin);
  EXPECT_EQ(b.Upper(0), 9);
  EXPECT_EQ(b.Lower(1), 10);
  EXPECT_EQ(b.Upper(1), 19);
  EXPECT_EQ(b.Lower(4), 40);
  EXPECT_EQ(b.Upper(4), 49);
  EXPECT_EQ(b.Lower(5), 50);
  EXPECT_EQ(b.Upper(5), kMax);
}

TEST(LinearBucketsTest, LastInnerBucketCutAtMax) {
  const BucketSpec b = BucketSpec::Linear(0, 25, 10).value();
  ASSERT_EQ(b.num_buckets(), 5u);  // [0,10) [10,20) [20,25) + 2.
  EXPECT_EQ(b.Upper(3), 24);
  EXPECT_EQ(b.Index(24), 3u);
  EXPECT_EQ(b.Index(25), 4u);
}

TEST(LinearBucketsTest, ExtremeRangeDoesNotOverflow) {
  const BucketSpec b = BucketSpec::Linear(kMin, kMax, kMax / 8).value();
  EXPECT_EQ(b.Index(kMin), 1u);
  EXPECT_EQ(b.Index(kMax), b.num_buckets() - 1);
  EXPECT_EQ(b.Index(0), 9u);
}

TEST(LinearBucketsTest, BadSpecs) {
  EXPECT_THAT(BucketSpec::Linear(0, 10, 0).status().message(),
              ::testing::HasSubstr("step must be > 0"));
  EXPECT_THAT(BucketSpec::Linear(10, 10, 1).status().message(),
              ::testing::HasSubstr("max (10) must be greater than min (10)"));
  EXPECT_THAT(BucketSpec::Linear(0, 1000000, 1).status().message(),
              ::testing::HasSubstr("1000000 buckets, more than the limit"));
  EXPECT_FALSE(BucketSpec::Linear(kMin, kMax, 1).ok());
}

TEST(PercentileTest, UpperBoundOfBucketClampedToExactRange) {
  const BucketSpec b = BucketSpec::Linear(0, 100, 10).value();
  std::vector<uint64_t> buckets(b.num_buckets(), 0);
  // 100 samples: 50 in [0,10), 40 in [10,20), 9 in [20,30), 1 in [90,100).
  buckets[1] = 50;
  buckets[2] = 40;
  buckets[3] = 9;
  buckets[10] = 1;
  EXPECT_EQ(EstimatePercentile(b, buckets.data(), 100, 50, 0, 95), 9);
  EXPECT_EQ(EstimatePercentile(b, buckets.data(), 100, 90, 0, 95), 19);
  EXPECT_EQ(EstimatePercentile(b, buckets.data(), 100, 99, 0, 95), 29);
  EXPECT_EQ(EstimatePercentile(b, buckets.data(), 100, 100, 0, 95), 95);
  // Clamped to the exact min when a bucket's bound lies below it.
  EXPECT_EQ(EstimatePercentile(b, buckets.data(), 100, 50, 12, 95), 12);
  EXPECT_EQ(EstimatePercentile(b, buckets.data(), 0, 50, 0, 0), 0);
}

TEST(PercentileTest, RankRoundsUp) {
  const BucketSpec b = BucketSpec::Log2();
  std::vector<uint64_t> buckets(64, 0);
  buckets[1] = 1;  // One sample of 1.
  buckets[3] = 1;  // One of [4,7].
  // p50 of 2 samples is the 1st; p90 the 2nd.
  EXPECT_EQ(EstimatePercentile(b, buckets.data(), 2, 50, 1, 6), 1);
  EXPECT_EQ(EstimatePercentile(b, buckets.data(), 2, 90, 1, 6), 6);
}

}  // namespace
}  // namespace agg
}  // namespace ringwatch
