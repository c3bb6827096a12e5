// The engine's memory budget: admission of configs and runtime additions by
// their worst case (EstimateBytes), tables that grow with use, and the
// budget holding at run time (new keys go to the overflow row, counted).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "daemon/agg/config_loader.h"
#include "daemon/agg/engine.h"
#include "daemon/agg/testing/fixtures.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace agg {
namespace {

using ::testing::HasSubstr;
using testing::LoadFormatFixtures;
using testing::RecordBuilder;

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kMs = 1000000;

class EngineMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<EventCatalog> catalog = LoadFormatFixtures();
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    catalog_ = std::make_unique<EventCatalog>(*std::move(catalog));
  }

  absl::StatusOr<std::unique_ptr<Engine>> Create(const std::string& text,
                                                 uint64_t max_memory) {
    absl::StatusOr<v1::Config> config =
        ParseConfig(text, "test", catalog_.get());
    EXPECT_TRUE(config.ok()) << config.status();
    EngineOptions options;
    options.live = false;
    options.num_cpus = 2;
    options.max_memory_bytes = max_memory;
    return Engine::Create(config.ok() ? *config : v1::Config(), catalog_.get(),
                          options);
  }

  static v1::Aggregation Wide(const std::string& name) {
    v1::Aggregation a;
    a.set_name(name);
    a.set_event("raw_syscalls/sys_enter");
    a.add_key("common_pid");
    a.add_key("id");
    a.set_window("1ms");
    a.set_max_keys(1048576);
    return a;
  }

  void Feed(Engine* e, uint32_t cpu, uint64_t ts, int64_t id, int64_t pid = 1) {
    RecordBuilder b(catalog_->FindByName("raw_syscalls/sys_enter"));
    b.Set("id", id).Set("common_pid", pid);
    RecordView v;
    v.cpu = cpu;
    v.timestamp = ts;
    v.payload = b.bytes();
    e->sink(cpu)->OnRecord(v);
  }

  static const v1::EngineStats::Aggregation& Agg(const v1::EngineStats& s,
                                                 const std::string& name) {
    for (const auto& a : s.aggregation()) {
      if (a.name() == name) return a;
    }
    ADD_FAILURE() << "no aggregation " << name;
    static const auto* empty = new v1::EngineStats::Aggregation();
    return *empty;
  }

  static uint64_t Count(const Engine& e, const std::string& name) {
    QueryRequest q;
    q.name = name;
    absl::StatusOr<v1::AggregationResult> r = e.Query(q);
    EXPECT_TRUE(r.ok()) << r.status();
    uint64_t n = 0;
    if (r.ok()) {
      for (const v1::Row& row : r->row()) n += row.count();
    }
    return n;
  }

  std::unique_ptr<EventCatalog> catalog_;
};

TEST_F(EngineMemoryTest, TablesStartSmallWhateverMaxKeys) {
  absl::StatusOr<std::unique_ptr<Engine>> e = Create("", 1024 * kMiB);
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_TRUE((*e)->AddAggregation(Wide("wide")).ok());
  for (int i = 0; i < 1000; ++i) Feed(e->get(), i % 2, 1 + i, i % 7, 100);
  (*e)->Finish();
  EXPECT_EQ(Count(**e, "wide"), 1000u);
  const v1::EngineStats stats = (*e)->Stats();
  const auto& wide = Agg(stats, "wide");
  // Worst case: 5 tables (3 merger, 1 per CPU) of 2^20 keys, 40 bytes each.
  EXPECT_GE(wide.memory_reserved_bytes(), 5 * 40 * kMiB);
  // Held: a few small tables for 7 keys.
  EXPECT_LT(wide.memory_bytes(), 64 * 1024u);
  EXPECT_EQ(stats.memory_bytes(), wide.memory_bytes());
  EXPECT_EQ(stats.memory_reserved_bytes(), wide.memory_reserved_bytes());
  EXPECT_EQ(stats.memory_limit_bytes(), 1024 * kMiB);
}

TEST_F(EngineMemoryTest, ConfigOverTheBudgetIsRefusedNamingEachEstimate) {
  absl::StatusOr<std::unique_ptr<Engine>> e = Create(
      R"pb(
        aggregation {
          name: "big"
          event: "raw_syscalls/sys_enter"
          key: "id"
          max_keys: 1048576
        }
        aggregation { name: "small" event: "raw_syscalls/sys_enter" key: "id" }
      )pb",
      16 * kMiB);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(e.status().message(),
              HasSubstr("the config's aggregations need up to"));
  EXPECT_THAT(e.status().message(), HasSubstr("big "));
  EXPECT_THAT(e.status().message(), HasSubstr("small "));
  EXPECT_THAT(e.status().message(),
              HasSubstr("over the memory budget of 16.0 MiB "
                        "(limits.max_memory)"));
}

TEST_F(EngineMemoryTest, AdditionsAreAdmittedUntilTheBudgetIsReserved) {
  // The estimate of one Wide aggregation, from an engine without limits.
  uint64_t estimate;
  {
    absl::StatusOr<std::unique_ptr<Engine>> probe = Create("", 1 << 30);
    ASSERT_TRUE(probe.ok());
    ASSERT_TRUE((*probe)->AddAggregation(Wide("probe")).ok());
    estimate = (*probe)->Stats().memory_reserved_bytes();
  }
  absl::StatusOr<std::unique_ptr<Engine>> e =
      Create("", estimate * 5 / 2);  // Room for two.
  ASSERT_TRUE(e.ok());
  ASSERT_TRUE((*e)->AddAggregation(Wide("a")).ok());
  ASSERT_TRUE((*e)->CheckAddAggregation(Wide("b")).ok());
  ASSERT_TRUE((*e)->AddAggregation(Wide("b")).ok());
  EXPECT_EQ((*e)->CheckAddAggregation(Wide("c")).code(),
            absl::StatusCode::kResourceExhausted);
  Feed(e->get(), 0, 1, 39);
  const absl::Status refused = (*e)->AddAggregation(Wide("c"));
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.message(), HasSubstr("aggregation \"c\" needs up to"));
  EXPECT_THAT(refused.message(),
              HasSubstr("worst case with every table at max_keys 1048576, on "
                        "2 CPUs"));
  EXPECT_THAT(refused.message(), HasSubstr("is reserved by 2 aggregations"));
  EXPECT_THAT(refused.message(), HasSubstr("in use"));
  EXPECT_THAT(refused.message(), HasSubstr("limits.max_memory"));
  // Nothing running was disturbed: both still count every record.
  Feed(e->get(), 1, 2, 39);
  (*e)->Finish();
  EXPECT_EQ((*e)->ListAggregations().size(), 2u);
  EXPECT_EQ(Count(**e, "a"), 2u);
  EXPECT_EQ(Count(**e, "b"), 2u);
  // Deleting one makes room again.
  ASSERT_TRUE((*e)->RemoveAggregation("a").ok());
  EXPECT_TRUE((*e)->AddAggregation(Wide("c")).ok());
}

TEST_F(EngineMemoryTest, CheckAdmissionJudgesAWholeSet) {
  absl::StatusOr<std::unique_ptr<Engine>> e = Create("", 64 * kMiB);
  ASSERT_TRUE(e.ok());
  v1::Aggregation small = Wide("small");
  small.set_max_keys(4096);
  EXPECT_TRUE((*e)->CheckAdmission({small, small}, 64 * kMiB).ok());
  const absl::Status s = (*e)->CheckAdmission({small, Wide("wide")}, 64 * kMiB);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("wide "));
  EXPECT_THAT(s.message(), HasSubstr("64.0 MiB"));
  // Larger budgets (a reload) are judged by the budget given.
  EXPECT_TRUE((*e)->CheckAdmission({small, Wide("wide")}, 1 << 30).ok());
}

TEST_F(EngineMemoryTest, AtRunTimeTheBudgetHoldsAndNewKeysOverflow) {
  // Admitted (its worst case fits), but fifty windows queued at once, each
  // with 2000 new keys, would take ~3 MiB of partials.
  absl::StatusOr<std::unique_ptr<Engine>> e =
      Create(R"pb(
               aggregation {
                 name: "burst"
                 event: "raw_syscalls/sys_enter"
                 key: "id"
                 window: "10ms"
               }
             )pb",
             1 * kMiB);
  ASSERT_TRUE(e.ok()) << e.status();
  const uint64_t limit = (*e)->Stats().memory_limit_bytes();
  // Past the budget, a new partial still gets the overflow row and two slots
  // every table needs (24 bytes here), never room for keys.
  const uint64_t slack = 50 * 24;
  uint64_t fed = 0;
  for (uint64_t w = 0; w < 50; ++w) {
    for (int64_t k = 0; k < 2000; ++k) {
      Feed(e->get(), 0, (w + 1) * 10 * kMs + k, w * 2000 + k);
      ++fed;
    }
    EXPECT_LE((*e)->Stats().memory_bytes(), limit + slack) << w;
  }
  (*e)->Finish();
  const v1::EngineStats stats = (*e)->Stats();
  EXPECT_LE(stats.memory_bytes(), limit + slack);
  const auto& burst = Agg(stats, "burst");
  EXPECT_GT(burst.memory_denied(), 0u);
  // Every event is counted, in a row or in the overflow row.
  EXPECT_EQ(Count(**e, "burst"), fed);
  EXPECT_EQ(burst.counters().events_matched(), fed);
  EXPECT_GT(burst.counters().overflow_events(), 0u);
}

}  // namespace
}  // namespace agg
}  // namespace ringwatch
