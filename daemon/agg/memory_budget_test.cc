#include "daemon/agg/memory_budget.h"

#include <memory>

#include "gtest/gtest.h"

namespace ringwatch {
namespace agg {
namespace {

TEST(ParseMemorySizeTest, UnitsAndBytes) {
  EXPECT_EQ(*ParseMemorySize("256MiB"), uint64_t{256} << 20);
  EXPECT_EQ(*ParseMemorySize("1GiB"), uint64_t{1} << 30);
  EXPECT_EQ(*ParseMemorySize("2048KiB"), uint64_t{2} << 20);
  EXPECT_EQ(*ParseMemorySize("64MB"), uint64_t{64} * 1000 * 1000);
  EXPECT_EQ(*ParseMemorySize(" 3m "), uint64_t{3} << 20);
  EXPECT_EQ(*ParseMemorySize("1048576"), uint64_t{1} << 20);
}

TEST(ParseMemorySizeTest, ErrorsSayWhy) {
  absl::StatusOr<uint64_t> r = ParseMemorySize("lots");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not a whole number"), std::string::npos)
      << r.status();
  r = ParseMemorySize("12PB");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown unit \"PB\""), std::string::npos)
      << r.status();
  r = ParseMemorySize("1KiB");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("out of range"), std::string::npos)
      << r.status();
  EXPECT_FALSE(ParseMemorySize("2TiB").ok());
  EXPECT_FALSE(ParseMemorySize("999999999999999999GiB").ok());
}

TEST(FormatMemoryTest, PicksAUnit) {
  EXPECT_EQ(FormatMemory(512), "512 B");
  EXPECT_EQ(FormatMemory(1536), "1.5 KiB");
  EXPECT_EQ(FormatMemory(uint64_t{256} << 20), "256.0 MiB");
  EXPECT_EQ(FormatMemory(uint64_t{3} << 30), "3.00 GiB");
}

TEST(MemoryBudgetTest, TryChargeStopsAtTheLimit) {
  MemoryBudget budget(1000);
  EXPECT_TRUE(budget.TryCharge(600));
  EXPECT_FALSE(budget.TryCharge(401));
  EXPECT_TRUE(budget.TryCharge(400));
  EXPECT_EQ(budget.used(), 1000u);
  budget.Release(500);
  EXPECT_TRUE(budget.TryCharge(500));
  // Charge ignores the limit (admitted fixed allocations).
  budget.Charge(10);
  EXPECT_EQ(budget.used(), 1010u);
}

TEST(MemoryAccountTest, ChargesTheBudgetAndGivesEverythingBack) {
  auto budget = std::make_shared<MemoryBudget>(1000);
  {
    MemoryAccount a(budget);
    MemoryAccount b(budget);
    EXPECT_TRUE(a.TryCharge(700));
    EXPECT_FALSE(b.TryCharge(400));
    EXPECT_EQ(b.denied(), 1u);
    EXPECT_EQ(b.bytes(), 0u);
    EXPECT_TRUE(b.TryCharge(300));
    EXPECT_EQ(budget->used(), 1000u);
    a.Release(200);
    EXPECT_EQ(a.bytes(), 500u);
    EXPECT_EQ(budget->used(), 800u);
  }
  EXPECT_EQ(budget->used(), 0u);
}

TEST(MemoryAccountTest, WithoutABudgetNothingIsRefused) {
  MemoryAccount a(nullptr);
  EXPECT_TRUE(a.TryCharge(uint64_t{1} << 40));
  EXPECT_EQ(a.bytes(), uint64_t{1} << 40);
}

}  // namespace
}  // namespace agg
}  // namespace ringwatch
