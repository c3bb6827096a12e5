// The engine on synthetic records laid out by the kernel's real formats
// (tests/data/formats), with hand-checked expectations.
#include "daemon/agg/engine.h"

#include <atomic>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "daemon/agg/config_loader.h"
#include "daemon/agg/testing/fixtures.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace agg {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::LoadFormatFixtures;
using testing::RecordBuilder;

constexpr uint64_t kMs = 1000000;

std::string KeyText(const v1::Row& row) {
  std::vector<std::string> parts;
  for (const v1::KeyValue& k : row.key()) {
    parts.push_back(k.has_string_value() ? k.string_value()
                                         : std::to_string(k.int_value()));
  }
  return absl::StrJoin(parts, ",");
}

const v1::ValueResult& Value(const v1::Row& row, const std::string& name) {
  for (const v1::ValueResult& v : row.value()) {
    if (v.name() == name) return v;
  }
  ADD_FAILURE() << "no value " << name;
  static const v1::ValueResult* empty = new v1::ValueResult();
  return *empty;
}

// "key=count" for every KEY row, then "other=N", "overflow=N".
std::vector<std::string> Counts(const v1::AggregationResult& r) {
  std::vector<std::string> out;
  for (const v1::Row& row : r.row()) {
    switch (row.kind()) {
      case v1::Row::KEY:
        out.push_back(KeyText(row) + "=" + std::to_string(row.count()));
        break;
      case v1::Row::OTHER:
        out.push_back("other=" + std::to_string(row.count()));
        break;
      case v1::Row::OVERFLOW:
        out.push_back("overflow=" + std::to_string(row.count()));
        break;
      default:
        break;
    }
  }
  return out;
}

uint64_t TotalCount(const v1::AggregationResult& r) {
  uint64_t n = 0;
  for (const v1::Row& row : r.row()) n += row.count();
  return n;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<EventCatalog> catalog = LoadFormatFixtures();
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    catalog_ = std::make_unique<EventCatalog>(*std::move(catalog));
  }

  std::unique_ptr<Engine> Make(const std::string& text,
                               EngineOptions options = EngineOptions()) {
    absl::StatusOr<v1::Config> config =
        ParseConfig(text, "test", catalog_.get());
    EXPECT_TRUE(config.ok()) << config.status();
    if (options.num_cpus == 0) options.num_cpus = 2;
    absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(
        config.ok() ? *config : v1::Config(), catalog_.get(), options);
    EXPECT_TRUE(engine.ok()) << engine.status();
    return engine.ok() ? *std::move(engine) : nullptr;
  }
  // One aggregation "w": raw_syscalls/sys_enter counted by id in 10 ms
  // windows.
  std::unique_ptr<Engine> MakeIdWindows(EngineOptions options) {
    return Make(R"pb(
                  aggregation {
                    name: "w"
                    event: "raw_syscalls/sys_enter"
                    key: "id"
                    window: "10ms"
                  }
                )pb",
                std::move(options));
  }
  static EngineOptions Replay() {
    EngineOptions o;
    o.live = false;
    return o;
  }

  RecordBuilder Ev(const std::string& name) {
    const EventFormat* f = catalog_->FindByName(name);
    EXPECT_NE(f, nullptr) << name;
    return RecordBuilder(f);
  }

  static void Feed(RecordSink* sink, uint32_t cpu, uint64_t ts,
                   const RecordBuilder& b) {
    RecordView v;
    v.cpu = cpu;
    v.timestamp = ts;
    v.payload = b.bytes();
    sink->OnRecord(v);
  }
  static void Feed(Engine* e, uint32_t cpu, uint64_t ts,
                   const RecordBuilder& b) {
    Feed(e->sink(cpu), cpu, ts, b);
  }

  RecordBuilder SysEnter(int64_t id, int64_t pid = 1) {
    return Ev("raw_syscalls/sys_enter").Set("id", id).Set("common_pid", pid);
  }
  RecordBuilder Switch(int64_t prev_pid, const std::string& prev_comm,
                       int64_t next_pid, const std::string& next_comm,
                       int64_t prev_state = 1) {
    return Ev("sched/sched_switch")
        .Set("common_pid", prev_pid)
        .Set("prev_pid", prev_pid)
        .SetString("prev_comm", prev_comm)
        .Set("prev_state", prev_state)
        .Set("next_pid", next_pid)
        .SetString("next_comm", next_comm);
  }

  static v1::AggregationResult Q(const Engine& e, const std::string& name,
                                 bool cumulative = true) {
    QueryRequest q;
    q.name = name;
    q.cumulative = cumulative;
    absl::StatusOr<v1::AggregationResult> r = e.Query(q);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::AggregationResult();
  }

  std::unique_ptr<EventCatalog> catalog_;
};

TEST_F(EngineTest, CountsPerKeyWithTopNAndOtherRow) {
  auto e = Make(R"pb(
                  aggregation {
                    name: "sc"
                    event: "raw_syscalls/sys_enter"
                    key: "id"
                    top_n: 2
                  }
                )pb",
                Replay());
  ASSERT_NE(e, nullptr);
  uint64_t t = 1000;
  for (int i = 0; i < 5; ++i) Feed(e.get(), 0, t++, SysEnter(0));
  for (int i = 0; i < 3; ++i) Feed(e.get(), 0, t++, SysEnter(1));
  for (int i = 0; i < 2; ++i) Feed(e.get(), 1, t++, SysEnter(0));
  for (int i = 0; i < 4; ++i) Feed(e.get(), 1, t++, SysEnter(2));
  Feed(e.get(), 1, t++, SysEnter(3));
  e->Finish();
  const v1::AggregationResult r = Q(*e, "sc");
  EXPECT_THAT(Counts(r), ElementsAre("0=7", "2=4", "other=4"));
  EXPECT_THAT(r.key_names(), ElementsAre("id"));
  EXPECT_THAT(r.value_names(), ElementsAre("count"));
  EXPECT_EQ(r.distinct_keys(), 4u);
  EXPECT_EQ(r.counters().events_matched(), 15u);
  EXPECT_EQ(TotalCount(r), 15u);
  EXPECT_TRUE(r.cumulative());

  // A query's top_n overrides the aggregation's; 0 shows every row.
  QueryRequest q;
  q.name = "sc";
  q.top_n = 0;
  EXPECT_THAT(Counts(*e->Query(q)), ElementsAre("0=7", "2=4", "1=3", "3=1"));
  q.key_filter = {{"id", "1"}};
  absl::StatusOr<v1::AggregationResult> filtered = e->Query(q);
  ASSERT_TRUE(filtered.ok());
  EXPECT_THAT(Counts(*filtered), ElementsAre("1=3"));
  EXPECT_EQ(filtered->rows_filtered(), 3u);
  q.key_filter = {{"pid", "1"}};
  EXPECT_THAT(e->Query(q).status().message(),
              HasSubstr("aggregation \"sc\" has no key \"pid\" (keys: id)"));
}

TEST_F(EngineTest, SumMinMaxMeanHistogramAndPercentiles) {
  auto e = Make(R"pb(
                  aggregation {
                    name: "io"
                    event: "block/block_rq_issue"
                    key: "rwbs"
                    value { count: true }
                    value { sum: "bytes" }
                    value { min: "bytes" }
                    value { max: "bytes" }
                    value { mean: "bytes" }
                    value {
                      histogram {
                        field: "bytes"
                        linear { min: 0 max: 16384 step: 4096 }
                      }
                    }
                  }
                )pb",
                Replay());
  ASSERT_NE(e, nullptr);
  auto io = [&](const char* rwbs, int64_t bytes) {
    return Ev("block/block_rq_issue")
        .SetString("rwbs", rwbs)
        .Set("bytes", bytes);
  };
  Feed(e.get(), 0, 10, io("R", 4096));
  Feed(e.get(), 0, 11, io("R", 8192));
  Feed(e.get(), 1, 12, io("R", 512));
  Feed(e.get(), 1, 13, io("R", 20000));
  Feed(e.get(), 1, 14, io("W", 4096));
  e->Finish();
  const v1::AggregationResult r = Q(*e, "io");
  ASSERT_THAT(Counts(r), ElementsAre("R=4", "W=1"));
  EXPECT_THAT(r.value_names(),
              ElementsAre("count", "sum(bytes)", "min(bytes)", "max(bytes)",
                          "mean(bytes)", "histogram(bytes)"));
  const v1::Row& read = r.row(0);
  EXPECT_EQ(Value(read, "count").int_value(), 4);
  EXPECT_EQ(Value(read, "sum(bytes)").int_value(), 32800);
  EXPECT_EQ(Value(read, "min(bytes)").int_value(), 512);
  EXPECT_EQ(Value(read, "max(bytes)").int_value(), 20000);
  EXPECT_DOUBLE_EQ(Value(read, "mean(bytes)").double_value(), 8200.0);
  const v1::HistogramResult& h = Value(read, "histogram(bytes)").histogram();
  ASSERT_EQ(h.bucket_size(), 4);
  EXPECT_EQ(h.bucket(0).lower(), 0);
  EXPECT_EQ(h.bucket(0).upper(), 4095);
  EXPECT_EQ(h.bucket(0).count(), 1u);
  EXPECT_EQ(h.bucket(1).lower(), 4096);
  EXPECT_EQ(h.bucket(1).upper(), 8191);
  EXPECT_EQ(h.bucket(2).lower(), 8192);
  EXPECT_EQ(h.bucket(3).lower(), 16384);
  EXPECT_EQ(h.bucket(3).upper(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(h.bucket(3).count(), 1u);
  EXPECT_EQ(h.p50(), 8191);   // 2nd of 4 samples: bucket [4096, 8191].
  EXPECT_EQ(h.p90(), 20000);  // 4th: the overflow bucket, capped at max.
  EXPECT_EQ(h.p99(), 20000);
  EXPECT_EQ(h.max(), 20000);
}

TEST_F(EngineTest, FilterCountsMatchedAndFilteredOut) {
  auto e = Make(R"pb(
                  aggregation {
                    name: "f"
                    event: "raw_syscalls/sys_enter"
                    filter: "id == 39 || id == 186"
                    key: "id"
                  }
                )pb",
                Replay());
  ASSERT_NE(e, nullptr);
  uint64_t t = 1;
  for (int64_t id : {39, 0, 39, 186, 0, 0}) Feed(e.get(), 0, t++, SysEnter(id));
  e->Finish();
  const v1::AggregationResult r = Q(*e, "f");
  EXPECT_THAT(Counts(r), ElementsAre("39=2", "186=1"));
  EXPECT_EQ(r.counters().events_matched(), 3u);
  EXPECT_EQ(r.counters().events_filtered(), 3u);
}

TEST_F(EngineTest, KeysBeyondMaxKeysGoToTheOverflowRow) {
  auto e = Make(R"pb(
                  aggregation {
                    name: "o"
                    event: "raw_syscalls/sys_enter"
                    key: "id"
                    max_keys: 2
                  }
                )pb",
                Replay());
  ASSERT_NE(e, nullptr);
  uint64_t t = 1;
  for (int64_t id : {1, 2, 3, 4, 1}) Feed(e.get(), 0, t++, SysEnter(id));
  // CPU 1's own key fits its shard but not the merged table.
  Feed(e.get(), 1, t++, SysEnter(5));
  e->Finish();
  const v1::AggregationResult r = Q(*e, "o");
  EXPECT_THAT(Counts(r), ElementsAre("1=2", "2=1", "overflow=3"));
  EXPECT_EQ(r.counters().overflow_events(), 3u);
  EXPECT_EQ(TotalCount(r), 6u);
}

TEST_F(EngineTest, CommAndCpuPseudoKeys) {
  auto e = Make(R"pb(
                  aggregation {
                    name: "by_comm"
                    event: "raw_syscalls/sys_enter"
                    key: "comm"
                  }
                  aggregation {
                    name: "by_cpu"
                    event: "raw_syscalls/sys_enter"
                    key: "cpu"
                  }
                )pb",
                Replay());
  ASSERT_NE(e, nullptr);
  EXPECT_THAT(e->RequiredEvents(),
              ElementsAre("raw_syscalls/sys_enter", "sched/sched_switch"));
  // Before any switch on CPU 0 the running task is unknown.
  Feed(e.get(), 0, 10, SysEnter(0, 100));
  Feed(e.get(), 0, 20, Switch(100, "bash", 200, "make"));
  Feed(e.get(), 0, 30, SysEnter(0, 200));
  Feed(e.get(), 0, 40, SysEnter(0, 200));
  Feed(e.get(), 0, 50, SysEnter(0, 300));  // Not the task switched in.
  Feed(e.get(), 1, 15, Switch(0, "swapper/1", 100, "bash"));
  Feed(e.get(), 1, 25, SysEnter(0, 100));
  e->Finish();
  EXPECT_THAT(Counts(Q(*e, "by_comm")), ElementsAre("=2", "make=2", "bash=1"));
  EXPECT_THAT(Counts(Q(*e, "by_cpu")), ElementsAre("0=4", "1=1"));
}

TEST_F(EngineTest, CpuTimeAccruesSlicesToTheTaskSwitchedOut) {
  auto e = Make(R"pb(
                  aggregation {
                    name: "cpu"
                    cpu_time {}
                    order_by: "sum(on_cpu)"
                  }
                )pb",
                Replay());
  ASSERT_NE(e, nullptr);
  Feed(e.get(), 0, 1000, Switch(0, "swapper/0", 10, "a"));
  Feed(e.get(), 0, 1500, Switch(10, "a", 20, "b"));         // a: 500.
  Feed(e.get(), 0, 1800, Switch(20, "b", 10, "a"));         // b: 300.
  Feed(e.get(), 0, 2600, Switch(10, "a", 0, "swapper/0"));  // a: 800.
  Feed(e.get(), 0, 3000, Switch(0, "swapper/0", 20, "b"));  // Idle: excluded.
  Feed(e.get(), 1, 1200, Switch(30, "c", 20, "b"));         // Start unknown.
  Feed(e.get(), 1, 1700, Switch(20, "b", 30, "c"));         // b: 500.
  e->Finish();
  const v1::AggregationResult r = Q(*e, "cpu");
  EXPECT_THAT(r.key_names(), ElementsAre("pid", "comm"));
  EXPECT_THAT(r.value_names(), ElementsAre("count", "sum(on_cpu)"));
  ASSERT_THAT(Counts(r), ElementsAre("10,a=2", "20,b=2"));
  EXPECT_EQ(Value(r.row(0), "sum(on_cpu)").int_value(), 1300);
  EXPECT_EQ(Value(r.row(1), "sum(on_cpu)").int_value(), 800);
  EXPECT_EQ(r.counters().events_matched(), 4u);
  EXPECT_EQ(r.counters().events_filtered(), 2u);  // The idle task's slices.
  EXPECT_EQ(r.counters().unknown_slice_starts(), 1u);
}

TEST_F(EngineTest, SameCpuLatencyPairsOnTheReaderThread) {
  auto e = Make(R"pb(
                  aggregation {
                    name: "irq"
                    latency {
                      start { event: "irq/irq_handler_entry" key: "irq" }
                      end { event: "irq/irq_handler_exit" key: "irq" }
                      same_cpu: true
                    }
                    key: "irq"
                    key: "start.name"
                    value {
                      histogram {
                        field: "latency"
                        log2 {}
                      }
                    }
                    value { max: "latency" }
                  }
                )pb",
                Replay());
  ASSERT_NE(e, nullptr);
  auto entry = [&](int64_t irq, const char* name) {
    return Ev("irq/irq_handler_entry").Set("irq", irq).SetString("name", name);
  };
  auto exit = [&](int64_t irq) {
    return Ev("irq/irq_handler_exit").Set("irq", irq);
  };
  Feed(e.get(), 0, 100, entry(11, "virtio0"));
  Feed(e.get(), 0, 150, exit(11));  // 50.
  Feed(e.get(), 0, 200, entry(11, "virtio0"));
  Feed(e.get(), 0, 300, exit(11));  // 100.
  Feed(e.get(), 0, 310, exit(12));  // No start.
  Feed(e.get(), 0, 400, entry(24, "ahci"));
  Feed(e.get(), 0, 1400, exit(24));  // 1000.
  Feed(e.get(), 1, 120, entry(11, "virtio0"));
  Feed(e.get(), 1, 125, exit(11));  // 5.
  e->Finish();
  const v1::AggregationResult r = Q(*e, "irq");
  ASSERT_THAT(Counts(r), ElementsAre("11,virtio0=3", "24,ahci=1"));
  const v1::HistogramResult& h =
      Value(r.row(0), "histogram(latency)").histogram();
  ASSERT_EQ(h.bucket_size(), 3);
  EXPECT_EQ(h.bucket(0).lower(), 4);   // 5.
  EXPECT_EQ(h.bucket(1).lower(), 32);  // 50.
  EXPECT_EQ(h.bucket(2).lower(), 64);  // 100.
  EXPECT_EQ(h.p50(), 63);
  EXPECT_EQ(h.p90(), 100);
  EXPECT_EQ(Value(r.row(0), "max(latency)").int_value(), 100);
  EXPECT_EQ(Value(r.row(1), "histogram(latency)").histogram().p50(), 1000);
  EXPECT_EQ(r.counters().starts(), 4u);
  EXPECT_EQ(r.counters().ends(), 5u);
  EXPECT_EQ(r.counters().unmatched_ends(), 1u);
  EXPECT_EQ(r.counters().events_matched(), 9u);
}

TEST_F(EngineTest, FullPendingTableEvictsTheOldestStart) {
  auto e = Make(R"pb(
                  aggregation {
                    name: "irq"
                    latency {
                      start { event: "irq/irq_handler_entry" key: "irq" }
                      end { event: "irq/irq_handler_exit" key: "irq" }
                      same_cpu: true
                      max_pending: 8
                    }
                    key: "irq"
                  }
                )pb",
                Replay());
  ASSERT_NE(e, nullptr);
  uint64_t t = 100;
  for (int64_t irq = 1; irq <= 9; ++irq) {
    Feed(e.get(), 0, t++, Ev("irq/irq_handler_entry").Set("irq", irq));
  }
  Feed(e.get(), 0, t++, Ev("irq/irq_handler_exit").Set("irq", 1));  // Evicted.
  Feed(e.get(), 0, t++, Ev("irq/irq_handler_exit").Set("irq", 9));
  e->Finish();
  const v1::AggregationResult r = Q(*e, "irq");
  EXPECT_THAT(Counts(r), ElementsAre("9=1"));
  EXPECT_EQ(r.counters().evicted_starts(), 1u);
  EXPECT_EQ(r.counters().unmatched_ends(), 1u);
  v1::EngineStats stats = e->Stats();
  ASSERT_EQ(stats.aggregation_size(), 1);
  EXPECT_EQ(stats.aggregation(0).pending_starts(), 7u);
}

TEST_F(EngineTest, CrossCpuWakeupLatencyIsPairedInTimestampOrder) {
  auto e = Make(R"pb(
                  aggregation {
                    name: "wakeup"
                    latency {
                      start { event: "sched/sched_waking" key: "pid" }
                      end { event: "sched/sched_switch" key: "next_pid" }
                    }
                    key: "next_comm"
                    value { histogram { field: "latency" } }
                    value { sum: "latency" }
                  }
                )pb",
                Replay());
  ASSERT_NE(e, nullptr);
  auto waking = [&](int64_t pid, const char* comm) {
    return Ev("sched/sched_waking").Set("pid", pid).SetString("comm", comm);
  };
  // CPU 1's reader runs ahead of CPU 0's: the switches arrive before the
  // wake-ups they end. The stage still pairs them by timestamp.
  Feed(e.get(), 1, 1300, Switch(0, "swapper/1", 42, "worker"));
  Feed(e.get(), 1, 2000, Switch(42, "worker", 0, "swapper/1"));  // No start.
  Feed(e.get(), 1, 6000, Switch(0, "swapper/1", 43, "other"));
  Feed(e.get(), 0, 1000, waking(42, "worker"));
  Feed(e.get(), 0, 5000, waking(43, "other"));
  Feed(e.get(), 0, 5100, waking(43, "other"));  // Replaces the start.
  e->Finish();
  const v1::AggregationResult r = Q(*e, "wakeup");
  ASSERT_THAT(Counts(r), ElementsAre("other=1", "worker=1"));
  EXPECT_EQ(Value(r.row(0), "sum(latency)").int_value(), 900);
  EXPECT_EQ(Value(r.row(1), "sum(latency)").int_value(), 300);
  EXPECT_EQ(Value(r.row(1), "histogram(latency)").histogram().max(), 300);
  EXPECT_EQ(r.counters().starts(), 3u);
  EXPECT_EQ(r.counters().replaced_starts(), 1u);
  EXPECT_EQ(r.counters().ends(), 3u);
  EXPECT_EQ(r.counters().unmatched_ends(), 1u);
}

TEST_F(EngineTest, SyscallLatencyAcrossCpusGroupedByStartField) {
  auto e =
      Make(R"pb(
             aggregation {
               name: "sl"
               latency {
                 start { event: "raw_syscalls/sys_enter" key: "common_pid" }
                 end { event: "raw_syscalls/sys_exit" key: "common_pid" }
               }
               key: "start.id"
               value { sum: "latency" }
             }
           )pb",
           Replay());
  ASSERT_NE(e, nullptr);
  auto exit = [&](int64_t id, int64_t pid) {
    return Ev("raw_syscalls/sys_exit").Set("id", id).Set("common_pid", pid);
  };
  Feed(e.get(), 0, 100, SysEnter(0, 7));  // read() blocks ...
  Feed(e.get(), 1, 900, exit(0, 7));      // ... and returns on CPU 1: 800.
  Feed(e.get(), 0, 200, SysEnter(39, 8));
  Feed(e.get(), 0, 210, exit(39, 8));  // 10.
  e->Finish();
  const v1::AggregationResult r = Q(*e, "sl");
  ASSERT_THAT(Counts(r), ElementsAre("0=1", "39=1"));
  EXPECT_EQ(Value(r.row(0), "sum(latency)").int_value(), 800);
  EXPECT_EQ(Value(r.row(1), "sum(latency)").int_value(), 10);
}

// Backpressure: a reader whose pairing ring cannot take another
// sub-buffer's items is told so (and leaves them in the kernel's ring)
// instead of dropping them; a merger pass makes room.
TEST_F(EngineTest, FullPairingRingHoldsTheReaderBackInsteadOfDropping) {
  EngineOptions options;
  options.limits.pairing_items = 64;
  auto e =
      Make(R"pb(
             aggregation {
               name: "sl"
               latency {
                 start { event: "raw_syscalls/sys_enter" key: "common_pid" }
                 end { event: "raw_syscalls/sys_exit" key: "common_pid" }
               }
               key: "common_pid"
             }
           )pb",
           options);
  ASSERT_NE(e, nullptr);
  RecordSink* sink = e->sink(0);
  const RecordBuilder enter = SysEnter(39, 7);
  const RecordBuilder exit =
      Ev("raw_syscalls/sys_exit").Set("id", 39).Set("common_pid", 7);
  constexpr uint32_t kSubbuf = 8;  // Records per "sub-buffer".
  uint64_t ts = 1000, pairs = 0;
  for (int round = 0; round < 3; ++round) {
    while (sink->HasRoomFor(kSubbuf)) {
      for (uint32_t i = 0; i < kSubbuf / 2; ++i, ++pairs) {
        Feed(sink, 0, ts++, enter);
        Feed(sink, 0, ts++, exit);
      }
    }
    // Two items a record at most: held back before the 64-slot ring
    // could overflow.
    EXPECT_GE(pairs * 2, 64u - 2 * kSubbuf) << round;
    e->Poll();
    EXPECT_TRUE(sink->HasRoomFor(kSubbuf)) << round;
  }
  e->Finish();
  const v1::AggregationResult r = Q(*e, "sl");
  ASSERT_THAT(Counts(r), ElementsAre(absl::StrCat("7=", pairs)));
  EXPECT_EQ(r.counters().events_dropped(), 0u);
  EXPECT_EQ(r.counters().ends(), pairs);
}

// Windows through the replay sink: [0,10ms) [10,20ms) [20,30ms) [30,40ms);
// a record exactly on a boundary opens the next window.
TEST_F(EngineTest, WindowsPartitionRecordsAndAddUpToCumulative) {
  auto e = MakeIdWindows(Replay());
  ASSERT_NE(e, nullptr);
  std::vector<v1::AggregationResult> windows;
  e->Subscribe([&](const v1::AggregationResult& r) { windows.push_back(r); });
  RecordSink* sink = e->replay_sink();
  Feed(sink, 0, 5 * kMs, SysEnter(1));
  Feed(sink, 1, 10 * kMs - 1, SysEnter(1));
  Feed(sink, 0, 10 * kMs, SysEnter(2));
  Feed(sink, 0, 15 * kMs, SysEnter(1));
  Feed(sink, 1, 20 * kMs, SysEnter(3));
  Feed(sink, 1, 25 * kMs, SysEnter(3));
  // Windows close as time passes, before Finish: window 0 once a record at
  // or past 20ms shows every record before 15ms was delivered.
  ASSERT_EQ(windows.size(), 1u);
  Feed(sink, 0, 30 * kMs, SysEnter(1));
  ASSERT_EQ(windows.size(), 2u);
  e->Finish();
  ASSERT_EQ(windows.size(), 4u);
  EXPECT_THAT(Counts(windows[0]), ElementsAre("1=2"));
  EXPECT_THAT(Counts(windows[1]), ElementsAre("1=1", "2=1"));
  EXPECT_THAT(Counts(windows[2]), ElementsAre("3=2"));
  EXPECT_THAT(Counts(windows[3]), ElementsAre("1=1"));
  for (size_t i = 0; i < windows.size(); ++i) {
    EXPECT_EQ(windows[i].window_start_ns(), i * 10 * kMs);
    EXPECT_EQ(windows[i].window_end_ns(), (i + 1) * 10 * kMs);
    EXPECT_FALSE(windows[i].cumulative());
    EXPECT_EQ(windows[i].counters().late_events(), 0u);
  }
  const v1::AggregationResult cumulative = Q(*e, "w");
  EXPECT_THAT(Counts(cumulative), ElementsAre("1=4", "3=2", "2=1"));
  EXPECT_EQ(cumulative.windows(), 4u);
  EXPECT_EQ(cumulative.window_start_ns(), 0u);
  EXPECT_EQ(cumulative.window_end_ns(), 40 * kMs);
  EXPECT_THAT(Counts(Q(*e, "w", /*cumulative=*/false)), ElementsAre("1=1"));
}

// Live: CPU 1 goes quiet with a record in window 0; once the clock is past
// the window's end by the grace period, the merger steals CPU 1's open
// partial so window 0 is complete. A record of window 0 that arrives after
// that is counted in window 1, as late.
TEST_F(EngineTest, QuietCpuPartialIsStolenAndLateRecordsMoveOn) {
  std::atomic<uint64_t> now{0};
  EngineOptions o;
  o.idle_grace_ns = 5 * kMs;
  o.now_ns = [&now] { return now.load(); };
  auto e = MakeIdWindows(o);
  ASSERT_NE(e, nullptr);
  std::vector<v1::AggregationResult> windows;
  e->Subscribe([&](const v1::AggregationResult& r) { windows.push_back(r); });
  Feed(e.get(), 0, 1 * kMs, SysEnter(1));
  Feed(e.get(), 1, 2 * kMs, SysEnter(2));
  now = 5 * kMs;
  e->Poll();
  EXPECT_TRUE(windows.empty());
  Feed(e.get(), 0, 12 * kMs, SysEnter(1));
  now = 13 * kMs;  // CPU 1 is quiet but within the grace period.
  e->Poll();
  EXPECT_TRUE(windows.empty());
  now = 16 * kMs;
  e->Poll();
  ASSERT_EQ(windows.size(), 1u);
  EXPECT_THAT(Counts(windows[0]), ElementsAre("1=1", "2=1"));
  EXPECT_GE(e->Stats().steals(), 1u);

  Feed(e.get(), 1, 5 * kMs, SysEnter(2));  // Late: window 0 has closed.
  Feed(e.get(), 1, 15 * kMs, SysEnter(2));
  e->Finish();
  ASSERT_EQ(windows.size(), 2u);
  EXPECT_THAT(Counts(windows[1]), ElementsAre("2=2", "1=1"));
  EXPECT_EQ(windows[1].counters().late_events(), 1u);
  const v1::AggregationResult cumulative = Q(*e, "w");
  EXPECT_EQ(TotalCount(cumulative), 5u);
  EXPECT_EQ(cumulative.counters().late_events(), 1u);
}

// Live: a reader that found CPU 1's ring empty says so; window 0 then
// closes as soon as that report is past its end (less the 1 ms margin for
// records the kernel had not committed yet), long before the grace period.
// The report is in CLOCK_MONOTONIC, which here runs 100 ms behind the trace
// clock. A report that does not reach past the end closes nothing.
TEST_F(EngineTest, DrainedReportClosesAQuietCpuWithoutTheGrace) {
  std::atomic<uint64_t> now{0};
  constexpr uint64_t kMonotonicBehind = 100 * kMs;
  EngineOptions o;
  o.idle_grace_ns = 1000 * kMs;
  o.now_ns = [&now] { return now.load(); };
  o.monotonic_ns = [&now] { return now.load() - kMonotonicBehind; };
  auto e = MakeIdWindows(o);
  ASSERT_NE(e, nullptr);
  std::vector<v1::AggregationResult> windows;
  e->Subscribe([&](const v1::AggregationResult& r) { windows.push_back(r); });
  now = 200 * kMs;
  Feed(e.get(), 0, 201 * kMs, SysEnter(1));
  Feed(e.get(), 1, 202 * kMs, SysEnter(2));
  Feed(e.get(), 0, 212 * kMs, SysEnter(1));  // CPU 0 is past window 20.
  now = 213 * kMs;
  // Drained as of trace time 210.5 ms: minus the margin, before the end.
  e->sink(1)->OnDrained(
      static_cast<int64_t>(210 * kMs + kMs / 2 - kMonotonicBehind));
  e->Poll();
  EXPECT_TRUE(windows.empty());
  // Drained as of 211.5 ms: 210.5 with the margin, past the end at 210.
  e->sink(1)->OnDrained(
      static_cast<int64_t>(211 * kMs + kMs / 2 - kMonotonicBehind));
  e->Poll();
  ASSERT_EQ(windows.size(), 1u);
  EXPECT_EQ(windows[0].window_start_ns(), 200 * kMs);
  EXPECT_THAT(Counts(windows[0]), ElementsAre("1=1", "2=1"));
  EXPECT_EQ(windows[0].counters().late_events(), 0u);
}

// Without a monotonic clock to convert them (a trace clock with no POSIX
// clock, or a test clock alone), drained reports are ignored.
TEST_F(EngineTest, DrainedReportIgnoredWithoutAClockToConvertIt) {
  std::atomic<uint64_t> now{0};
  EngineOptions o;
  o.idle_grace_ns = 1000 * kMs;
  o.now_ns = [&now] { return now.load(); };
  auto e = MakeIdWindows(o);
  ASSERT_NE(e, nullptr);
  std::vector<v1::AggregationResult> windows;
  e->Subscribe([&](const v1::AggregationResult& r) { windows.push_back(r); });
  now = 200 * kMs;
  Feed(e.get(), 0, 201 * kMs, SysEnter(1));
  Feed(e.get(), 1, 202 * kMs, SysEnter(2));
  Feed(e.get(), 0, 212 * kMs, SysEnter(1));
  now = 213 * kMs;
  e->sink(1)->OnDrained(static_cast<int64_t>(300 * kMs));
  e->Poll();
  EXPECT_TRUE(windows.empty());
}

TEST_F(EngineTest, AggregationsAddedAndRemovedAtRunTime) {
  auto e = Make("", Replay());
  ASSERT_NE(e, nullptr);
  Feed(e.get(), 0, 1, SysEnter(1));
  v1::Aggregation a;
  a.set_name("late");
  a.set_event("raw_syscalls/sys_enter");
  a.add_key("id");
  ASSERT_TRUE(e->AddAggregation(a).ok());
  EXPECT_EQ(e->AddAggregation(a).code(), absl::StatusCode::kAlreadyExists);
  v1::Aggregation bad = a;
  bad.set_name("bad");
  bad.set_key(0, "idd");
  absl::Status s = e->AddAggregation(bad);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("aggregation \"bad\": key[0]: no field "
                                     "\"idd\" in raw_syscalls/sys_enter; did "
                                     "you mean \"id\"?"));
  Feed(e.get(), 0, 2, SysEnter(1));
  Feed(e.get(), 0, 3, SysEnter(1));
  e->Finish();
  EXPECT_THAT(Counts(Q(*e, "late")), ElementsAre("1=2"));
  ASSERT_EQ(e->ListAggregations().size(), 1u);
  EXPECT_TRUE(e->RemoveAggregation("late").ok());
  EXPECT_EQ(e->RemoveAggregation("late").code(), absl::StatusCode::kNotFound);
  QueryRequest q;
  q.name = "late";
  EXPECT_EQ(e->Query(q).status().code(), absl::StatusCode::kNotFound);
  Feed(e.get(), 0, 4, SysEnter(1));  // No program left: counted only.
  EXPECT_EQ(e->Stats().cpu(0).records(), 4u);
}

TEST_F(EngineTest, QueryErrors) {
  auto e = Make(
      R"pb(
        aggregation { name: "c" event: "raw_syscalls/sys_enter" }
        aggregation { name: "w" event: "raw_syscalls/sys_enter" window: "1s" }
      )pb",
      Replay());
  ASSERT_NE(e, nullptr);
  QueryRequest q;
  q.name = "c";
  q.cumulative = false;
  EXPECT_EQ(e->Query(q).status().code(), absl::StatusCode::kFailedPrecondition);
  q.name = "w";
  EXPECT_EQ(e->Query(q).status().code(), absl::StatusCode::kUnavailable);
  q.cumulative = true;
  absl::StatusOr<v1::AggregationResult> r = e->Query(q);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->row_size(), 0);  // Nothing yet: an empty view, not an error.
}

TEST_F(EngineTest, RecordsOfUnknownCpuOrTooShortAreCounted) {
  auto e = Make(
      R"pb(
        aggregation { name: "io" event: "block/block_rq_issue" key: "rwbs" }
      )pb",
      Replay());
  ASSERT_NE(e, nullptr);
  RecordBuilder b = Ev("block/block_rq_issue").SetString("rwbs", "R");
  RecordView v;
  v.cpu = 7;  // Only CPUs 0 and 1 exist.
  v.timestamp = 5;
  v.payload = b.bytes();
  e->replay_sink()->OnRecord(v);
  v.cpu = 0;
  v.payload = absl::MakeConstSpan(b.bytes()).subspan(0, 36);  // Cuts rwbs.
  e->replay_sink()->OnRecord(v);
  e->Finish();
  const v1::AggregationResult r = Q(*e, "io");
  EXPECT_EQ(r.row_size(), 0);
  EXPECT_EQ(r.counters().events_dropped(), 1u);
  EXPECT_EQ(e->Stats().bad_cpu_records(), 1u);
}

// Two reader threads and the merger thread at once, over many small
// windows: every record is counted exactly once, and the published windows
// add up to the cumulative view key by key.
TEST_F(EngineTest, ConcurrentReadersAndMergerLoseNothing) {
  std::atomic<uint64_t> clock{0};
  EngineOptions o;
  o.idle_grace_ns = 2 * kMs;
  o.merge_tick_ns = kMs / 2;
  o.now_ns = [&clock] { return clock.load(); };
  // On two cores the merger may not run for a while: let readers queue
  // windows rather than drop records.
  o.limits.max_partials = 4096;
  auto e = Make(
      R"pb(
        aggregation {
          name: "w"
          event: "raw_syscalls/sys_enter"
          key: "id"
          window: "1ms"
        }
        aggregation { name: "c" event: "raw_syscalls/sys_enter" key: "cpu" }
      )pb",
      o);
  ASSERT_NE(e, nullptr);
  absl::Mutex mu;
  std::map<std::string, uint64_t> window_sums;
  uint64_t window_total = 0;
  e->Subscribe([&](const v1::AggregationResult& r) {
    absl::MutexLock lock(&mu);
    for (const v1::Row& row : r.row()) {
      window_sums[KeyText(row)] += row.count();
      window_total += row.count();
    }
  });
  ASSERT_TRUE(e->Start().ok());
  constexpr int kRecords = 200000;
  std::vector<RecordBuilder> records;
  for (int64_t id = 0; id < 5; ++id) records.push_back(SysEnter(id));
  auto reader = [&](uint32_t cpu) {
    for (int i = 0; i < kRecords; ++i) {
      const uint64_t ts = 1000 + static_cast<uint64_t>(i) * 2000 + cpu;
      Feed(e.get(), cpu, ts, records[i % 5]);
      if (cpu == 0 && i % 64 == 0) clock.store(ts);
    }
  };
  std::thread r0(reader, 0), r1(reader, 1);
  r0.join();
  r1.join();
  e->Stop();
  e->Finish();
  const v1::AggregationResult cumulative = Q(*e, "w");
  EXPECT_EQ(TotalCount(cumulative), 2u * kRecords);
  std::map<std::string, uint64_t> cumulative_sums;
  for (const v1::Row& row : cumulative.row()) {
    cumulative_sums[KeyText(row)] = row.count();
    EXPECT_EQ(row.count(), 2u * kRecords / 5) << KeyText(row);
  }
  absl::MutexLock lock(&mu);
  EXPECT_EQ(window_total, 2u * kRecords);
  EXPECT_EQ(window_sums, cumulative_sums);
  EXPECT_THAT(Counts(Q(*e, "c")), ElementsAre("0=" + std::to_string(kRecords),
                                              "1=" + std::to_string(kRecords)));
}

}  // namespace
}  // namespace agg
}  // namespace ringwatch
