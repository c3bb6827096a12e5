#include "daemon/agg/pending_table.h"

#include <cstdint>
#include <cstring>

#include "daemon/agg/memory_budget.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace agg {
namespace {

using Result = PendingTable::InsertResult;

struct K {
  uint64_t v[1];
  explicit K(uint64_t x) { v[0] = x; }
  const uint8_t* data() const { return reinterpret_cast<const uint8_t*>(v); }
};

TEST(PendingTableTest, InsertTakeReplace) {
  PendingTable t(8, 8, 64);
  uint64_t payload = 42, out = 0, ts = 0;
  EXPECT_EQ(t.Insert(K(7).data(), 100, reinterpret_cast<uint8_t*>(&payload)),
            Result::kInserted);
  EXPECT_EQ(t.size(), 1u);
  payload = 43;
  EXPECT_EQ(t.Insert(K(7).data(), 150, reinterpret_cast<uint8_t*>(&payload)),
            Result::kReplaced);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_FALSE(t.Take(K(8).data(), &ts, reinterpret_cast<uint8_t*>(&out)));
  ASSERT_TRUE(t.Take(K(7).data(), &ts, reinterpret_cast<uint8_t*>(&out)));
  EXPECT_EQ(ts, 150u);
  EXPECT_EQ(out, 43u);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_FALSE(t.Take(K(7).data(), &ts, reinterpret_cast<uint8_t*>(&out)));
}

TEST(PendingTableTest, TimestampZeroIsAValidStart) {
  PendingTable t(8, 0, 8);
  uint64_t ts = 99;
  t.Insert(K(1).data(), 0, nullptr);
  ASSERT_TRUE(t.Take(K(1).data(), &ts, nullptr));
  EXPECT_EQ(ts, 0u);
}

TEST(PendingTableTest, FullSetEvictsItsOldestStart) {
  // Capacity 8: one set of 8 ways, so every key shares it.
  PendingTable t(8, 0, 8);
  ASSERT_EQ(t.capacity(), 8u);
  for (uint64_t k = 0; k < 8; ++k) {
    EXPECT_EQ(t.Insert(K(k).data(), 1000 - k, nullptr), Result::kInserted);
  }
  // Key 7 has the oldest start (993).
  EXPECT_EQ(t.Insert(K(100).data(), 2000, nullptr), Result::kEvicted);
  EXPECT_EQ(t.size(), 8u);
  uint64_t ts;
  EXPECT_FALSE(t.Take(K(7).data(), &ts, nullptr));
  ASSERT_TRUE(t.Take(K(100).data(), &ts, nullptr));
  EXPECT_EQ(ts, 2000u);
  for (uint64_t k = 0; k < 7; ++k) {
    ASSERT_TRUE(t.Take(K(k).data(), &ts, nullptr)) << k;
    EXPECT_EQ(ts, 1000 - k);
  }
  EXPECT_EQ(t.size(), 0u);
}

TEST(PendingTableTest, EveryStartIsKeptOrCountedAsEvicted) {
  PendingTable t(8, 0, 4096);
  uint64_t evicted = 0;
  for (uint64_t k = 0; k < 4096; ++k) {
    if (t.Insert(K(k * 2654435761u).data(), k, nullptr) == Result::kEvicted) {
      ++evicted;
    }
  }
  EXPECT_EQ(t.size() + evicted, 4096u);
  // At full load some sets fill before others; most starts still fit.
  EXPECT_LT(evicted, 4096u / 5);
  uint64_t taken = 0, ts;
  for (uint64_t k = 0; k < 4096; ++k) {
    if (t.Take(K(k * 2654435761u).data(), &ts, nullptr)) {
      EXPECT_EQ(ts, k);
      ++taken;
    }
  }
  EXPECT_EQ(taken, 4096u - evicted);
  EXPECT_EQ(t.size(), 0u);
}

TEST(PendingTableTest, StartsWithAFewSetsAndGrowsWithTheStarts) {
  MemoryAccount account(nullptr);
  PendingTable t(8, 8, 1 << 20, &account);
  EXPECT_EQ(t.capacity(), 1u << 20);
  EXPECT_EQ(t.allocated(), PendingTable::kInitialSets * PendingTable::kWays);
  EXPECT_EQ(account.bytes(), t.bytes());
  uint64_t evicted = 0;
  for (uint64_t k = 0; k < 10000; ++k) {
    uint64_t payload = k + 1;
    evicted += t.Insert(K(k).data(), k, reinterpret_cast<uint8_t*>(&payload)) ==
               Result::kEvicted;
  }
  // Far below capacity: a full set doubles the table instead of evicting.
  EXPECT_EQ(evicted, 0u);
  EXPECT_EQ(t.size(), 10000u);
  EXPECT_LT(t.allocated(), 1u << 17);
  EXPECT_EQ(account.bytes(), t.bytes());
  uint64_t ts, out;
  for (uint64_t k = 0; k < 10000; ++k) {
    ASSERT_TRUE(t.Take(K(k).data(), &ts, reinterpret_cast<uint8_t*>(&out)));
    EXPECT_EQ(ts, k);
    EXPECT_EQ(out, k + 1);
  }
}

TEST(PendingTableTest, ARefusedGrowthEvictsInstead) {
  auto budget = std::make_shared<MemoryBudget>(PendingTable::BytesFor(
      8, 0, PendingTable::kInitialSets * PendingTable::kWays));
  MemoryAccount account(budget);
  PendingTable t(8, 0, 1 << 20, &account);
  uint64_t evicted = 0;
  for (uint64_t k = 0; k < 1000; ++k) {
    evicted += t.Insert(K(k).data(), k, nullptr) == Result::kEvicted;
  }
  EXPECT_EQ(t.allocated(), PendingTable::kInitialSets * PendingTable::kWays);
  EXPECT_EQ(t.size() + evicted, 1000u);
  EXPECT_LE(t.size(), t.allocated());
  EXPECT_GE(account.denied(), 1u);
  EXPECT_LE(budget->used(), budget->limit());
}

}  // namespace
}  // namespace agg
}  // namespace ringwatch
