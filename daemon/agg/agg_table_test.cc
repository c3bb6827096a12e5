#include "daemon/agg/agg_table.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "daemon/agg/memory_budget.h"
#include "daemon/agg/row_layout.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace agg {
namespace {

std::array<uint8_t, 16> Key(int64_t a, int64_t b = 0) {
  std::array<uint8_t, 16> k{};
  std::memcpy(k.data(), &a, 8);
  std::memcpy(k.data() + 8, &b, 8);
  return k;
}

TEST(RowLayoutTest, AddAndMergeKeepSumMinMaxAndBuckets) {
  const RowLayout layout(16, 1, {{BucketSpec::Log2(), 0, 0}});
  EXPECT_EQ(layout.key_words(), 2u);
  EXPECT_EQ(layout.value_words(), 1u + 3u + 64u);
  std::vector<uint64_t> a(layout.value_words()), b(layout.value_words());
  layout.Init(a.data());
  layout.Init(b.data());
  EXPECT_EQ(RowLayout::Min(a.data(), 0), 0);  // Empty rows report 0.
  for (int64_t v : {5, 9, -2}) layout.Add(a.data(), &v);
  const int64_t v = 1000;
  layout.Add(b.data(), &v);
  layout.Merge(a.data(), b.data());
  EXPECT_EQ(RowLayout::Count(a.data()), 4u);
  EXPECT_EQ(RowLayout::Sum(a.data(), 0), 1012);
  EXPECT_EQ(RowLayout::Min(a.data(), 0), -2);
  EXPECT_EQ(RowLayout::Max(a.data(), 0), 1000);
  EXPECT_DOUBLE_EQ(RowLayout::Mean(a.data(), 0), 253.0);
  const uint64_t* buckets = layout.Buckets(a.data(), 0);
  EXPECT_EQ(buckets[0], 1u);   // -2.
  EXPECT_EQ(buckets[3], 1u);   // 5.
  EXPECT_EQ(buckets[4], 1u);   // 9.
  EXPECT_EQ(buckets[10], 1u);  // 1000.
}

TEST(AggTableTest, FindsInsertsAndOverflows) {
  const RowLayout layout(16, 1, {});
  AggTable table(&layout, 3);
  bool overflow;
  for (int i = 0; i < 3; ++i) {
    auto k = Key(i, 100 + i);
    int64_t v = i;
    layout.Add(table.FindOrInsert(k.data(), &overflow), &v);
    EXPECT_FALSE(overflow);
  }
  // Existing keys are found even when the table is full.
  auto k1 = Key(1, 101);
  int64_t v = 10;
  layout.Add(table.FindOrInsert(k1.data(), &overflow), &v);
  EXPECT_FALSE(overflow);
  auto k9 = Key(9);
  layout.Add(table.FindOrInsert(k9.data(), &overflow), &v);
  EXPECT_TRUE(overflow);
  EXPECT_EQ(table.size(), 3u);
  const uint64_t* row1 = table.Find(k1.data());
  ASSERT_NE(row1, nullptr);
  EXPECT_EQ(RowLayout::Count(row1), 2u);
  EXPECT_EQ(RowLayout::Sum(row1, 0), 11);
  EXPECT_EQ(table.Find(k9.data()), nullptr);
  EXPECT_EQ(RowLayout::Count(table.overflow_values()), 1u);
  table.Clear();
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.Find(k1.data()), nullptr);
  EXPECT_EQ(RowLayout::Count(table.overflow_values()), 0u);
}

TEST(AggTableTest, ManyKeysSurviveCollisionsAndClear) {
  const RowLayout layout(8, 0, {});
  AggTable table(&layout, 5000);
  for (int round = 0; round < 2; ++round) {
    bool overflow;
    for (int64_t i = 0; i < 5000; ++i) {
      for (int rep = 0; rep <= i % 3; ++rep) {
        layout.Add(table.FindOrInsert(Key(i * 7919).data(), &overflow),
                   nullptr);
        ASSERT_FALSE(overflow);
      }
    }
    EXPECT_EQ(table.size(), 5000u);
    for (int64_t i = 0; i < 5000; ++i) {
      const uint64_t* row = table.Find(Key(i * 7919).data());
      ASSERT_NE(row, nullptr);
      EXPECT_EQ(RowLayout::Count(row), static_cast<uint64_t>(i % 3 + 1));
    }
    table.Clear();
  }
}

TEST(AggTableTest, MergeFromFoldsRowsBeyondCapacityIntoOverflow) {
  const RowLayout layout(8, 0, {});
  AggTable a(&layout, 2), b(&layout, 3);
  bool overflow;
  layout.Add(a.FindOrInsert(Key(1).data(), &overflow), nullptr);
  for (int64_t k : {1, 2, 3}) {
    layout.Add(b.FindOrInsert(Key(k).data(), &overflow), nullptr);
  }
  layout.Add(b.overflow_values(), nullptr);  // b had overflowed once.
  a.MergeFrom(b);
  EXPECT_EQ(a.size(), 2u);
  EXPECT_EQ(RowLayout::Count(a.Find(Key(1).data())), 2u);
  EXPECT_EQ(RowLayout::Count(a.Find(Key(2).data())), 1u);
  EXPECT_EQ(RowLayout::Count(a.overflow_values()), 2u);  // Key 3 + b's.
}

TEST(AggTableTest, ZeroKeysIsOverflowOnly) {
  const RowLayout layout(8, 0, {});
  AggTable table(&layout, 0);
  bool overflow;
  EXPECT_EQ(table.FindOrInsert(Key(1).data(), &overflow),
            table.overflow_values());
  EXPECT_TRUE(overflow);
}

TEST(AggTableTest, StartsSmallAndGrowsWithTheKeysUpToMaxKeys) {
  const RowLayout layout(16, 1, {});
  MemoryAccount account(nullptr);
  AggTable table(&layout, 1 << 20, &account);
  // Sized for a few keys, not for max_keys.
  EXPECT_EQ(table.capacity(), AggTable::kInitialKeys);
  EXPECT_EQ(account.bytes(), table.bytes());
  EXPECT_LT(table.bytes(), 1024u);
  bool overflow;
  for (int i = 0; i < 1000; ++i) {
    auto k = Key(i, -i);
    int64_t v = i;
    layout.Add(table.FindOrInsert(k.data(), &overflow), &v);
    ASSERT_FALSE(overflow) << i;
  }
  EXPECT_EQ(table.size(), 1000u);
  EXPECT_EQ(table.capacity(), 1024u);
  EXPECT_EQ(table.bytes(), AggTable::BytesFor(layout, 1024));
  EXPECT_EQ(account.bytes(), table.bytes());
  // Every row survived the doublings.
  for (int i = 0; i < 1000; ++i) {
    auto k = Key(i, -i);
    const uint64_t* row = table.Find(k.data());
    ASSERT_NE(row, nullptr) << i;
    EXPECT_EQ(RowLayout::Count(row), 1u);
    EXPECT_EQ(RowLayout::Sum(row, 0), i);
  }
}

TEST(AggTableTest, GrowthStopsAtMaxKeysThatIsNotAPowerOfTwo) {
  const RowLayout layout(16, 1, {});
  AggTable table(&layout, 100);
  bool overflow;
  int overflowed = 0;
  for (int i = 0; i < 150; ++i) {
    auto k = Key(i);
    int64_t v = 1;
    layout.Add(table.FindOrInsert(k.data(), &overflow), &v);
    overflowed += overflow;
  }
  EXPECT_EQ(table.size(), 100u);
  EXPECT_EQ(table.capacity(), 100u);
  EXPECT_EQ(overflowed, 50);
  EXPECT_EQ(RowLayout::Count(table.overflow_values()), 50u);
}

TEST(AggTableTest, ARefusedGrowthSendsNewKeysToTheOverflowRow) {
  const RowLayout layout(16, 1, {});
  // Room for the first table and one doubling, not the second.
  auto budget = std::make_shared<MemoryBudget>(AggTable::BytesFor(layout, 16));
  MemoryAccount account(budget);
  AggTable table(&layout, 4096, &account);
  bool overflow;
  int overflowed = 0;
  for (int i = 0; i < 100; ++i) {
    auto k = Key(i);
    int64_t v = 1;
    layout.Add(table.FindOrInsert(k.data(), &overflow), &v);
    overflowed += overflow;
  }
  EXPECT_EQ(table.capacity(), 16u);
  EXPECT_EQ(table.size(), 16u);
  EXPECT_EQ(overflowed, 84);
  EXPECT_EQ(RowLayout::Count(table.overflow_values()), 84u);
  EXPECT_LE(budget->used(), budget->limit());
  EXPECT_GE(account.denied(), 1u);
  // Keys already in the table are still found, not overflowed.
  auto k = Key(3);
  int64_t v = 1;
  layout.Add(table.FindOrInsert(k.data(), &overflow), &v);
  EXPECT_FALSE(overflow);
}

TEST(AggTableTest, ClearGivesBackMemoryAMostlyEmptyWindowDidNotUse) {
  const RowLayout layout(16, 1, {});
  MemoryAccount account(nullptr);
  AggTable table(&layout, 1 << 20, &account);
  bool overflow;
  int64_t v = 1;
  for (int i = 0; i < 5000; ++i) {
    auto k = Key(i);
    layout.Add(table.FindOrInsert(k.data(), &overflow), &v);
  }
  const uint32_t grown = table.capacity();
  EXPECT_EQ(grown, 8192u);
  // A window that used most of it keeps it...
  table.Clear();
  EXPECT_EQ(table.capacity(), grown);
  EXPECT_EQ(table.size(), 0u);
  for (int i = 0; i < 100; ++i) {
    auto k = Key(i);
    layout.Add(table.FindOrInsert(k.data(), &overflow), &v);
  }
  // ...one that used under a quarter gives the rest back.
  table.Clear();
  EXPECT_EQ(table.capacity(), 256u);
  EXPECT_EQ(account.bytes(), AggTable::BytesFor(layout, 256));
  auto k = Key(7);
  EXPECT_EQ(table.Find(k.data()), nullptr);
}

}  // namespace
}  // namespace agg
}  // namespace ringwatch
