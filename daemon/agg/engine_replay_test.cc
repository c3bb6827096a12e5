// The engine over the committed trace.dat captures (tests/data/tracedat),
// read by daemon/tracedat, against figures computed independently from
// trace-cmd's own rendering of the same files by
//
//   daemon/agg/testing/report_figures.py tests/data/tracedat/v7.raw-report.txt
//
// which Bazel runs for this test (genrule :replay_figures; pairing and slice
// rules as documented in docs/aggregation.md). One of them checked by hand in
// the report: the four openat (257) calls of capture.sh-4138 took
// 16080 + 6513 + 5971 + 10259 = 38823 ns.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "daemon/agg/config_loader.h"
#include "daemon/agg/engine.h"
#include "daemon/agg/testing/fixtures.h"
#include "daemon/tracedat/trace_dat_file.h"
#include "daemon/util/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace agg {
namespace {

using ::testing::ElementsAreArray;

constexpr char kConfig[] = R"pb(
  aggregation {
    name: "switches"
    event: "sched/sched_switch"
    key: "prev_comm"
    top_n: 5
  }
  aggregation { name: "syscalls" event: "raw_syscalls/sys_enter" key: "id" }
  aggregation {
    name: "cpu"
    cpu_time {}
    key: "pid"
    key: "comm"
    top_n: 5
    order_by: "sum(on_cpu)"
  }
  aggregation {
    name: "wakeup"
    latency {
      start { event: "sched/sched_waking" key: "pid" }
      end { event: "sched/sched_switch" key: "next_pid" }
    }
    key: "next_comm"
    value { sum: "latency" }
    top_n: 5
  }
  aggregation {
    name: "syscall_latency"
    latency {
      start { event: "raw_syscalls/sys_enter" key: "common_pid" }
      end { event: "raw_syscalls/sys_exit" key: "common_pid" }
    }
    key: "id"
    value { sum: "latency" }
  }
  aggregation {
    name: "windowed"
    event: "sched/sched_switch"
    key: "prev_comm"
    window: "10ms"
  }
)pb";

std::string KeyText(const v1::Row& row) {
  std::vector<std::string> parts;
  for (const v1::KeyValue& k : row.key()) {
    parts.push_back(k.has_string_value() ? k.string_value()
                                         : std::to_string(k.int_value()));
  }
  return absl::StrJoin(parts, ",");
}

// "key=count" or "key=count/sum" for the value at `value` (when >= 0).
std::vector<std::string> Rows(const v1::AggregationResult& r, int value = -1) {
  std::vector<std::string> out;
  for (const v1::Row& row : r.row()) {
    std::string s = row.kind() == v1::Row::KEY     ? KeyText(row)
                    : row.kind() == v1::Row::OTHER ? "other"
                                                   : "overflow";
    s += "=" + std::to_string(row.count());
    if (value >= 0) s += "/" + std::to_string(row.value(value).int_value());
    out.push_back(s);
  }
  return out;
}

// The output of report_figures.py: "NAME\tVALUE" lines; a NAME that
// stands for rows repeats, one line per row in order.
class Figures {
 public:
  // From daemon/agg/testing/<capture stem>.figures.txt in the runfiles.
  static absl::StatusOr<Figures> Load(absl::string_view capture) {
    absl::ConsumeSuffix(&capture, ".dat");
    const std::string path = testing::RunfilePath(
        absl::StrCat("daemon/agg/testing/", capture, ".figures.txt"));
    absl::StatusOr<std::string> text = ReadFileToString(path);
    if (!text.ok()) return text.status();
    Figures figures;
    for (absl::string_view line :
         absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
      std::pair<std::string, std::string> kv = absl::StrSplit(line, '\t');
      figures.values_[kv.first].push_back(kv.second);
    }
    return figures;
  }

  // The rows of one figure; a failure when the script wrote none.
  std::vector<std::string> Rows(const std::string& name) const {
    auto it = values_.find(name);
    EXPECT_TRUE(it != values_.end()) << "report_figures.py wrote no " << name;
    return it == values_.end() ? std::vector<std::string>() : it->second;
  }

  uint64_t Number(const std::string& name) const {
    std::vector<std::string> rows = Rows(name);
    uint64_t n = 0;
    EXPECT_TRUE(rows.size() == 1 && absl::SimpleAtoi(rows[0], &n))
        << name << ": " << absl::StrJoin(rows, "|");
    return n;
  }

  // The count in the row of `key` ("key=count" or "key=count/sum").
  uint64_t CountOf(const std::string& name, const std::string& key) const {
    for (const std::string& row : Rows(name)) {
      absl::string_view rest = row;
      uint64_t n = 0;
      if (absl::ConsumePrefix(&rest, key + "=") &&
          absl::SimpleAtoi(rest.substr(0, rest.find('/')), &n)) {
        return n;
      }
    }
    ADD_FAILURE() << name << " has no row " << key;
    return 0;
  }

 private:
  std::map<std::string, std::vector<std::string>> values_;
};

class ReplayTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<TraceDatFile>> file = TraceDatFile::Open(
        testing::RunfilePath(std::string("tests/data/tracedat/") + GetParam()));
    ASSERT_TRUE(file.ok()) << file.status();
    file_ = *std::move(file);
    absl::StatusOr<Figures> figures = Figures::Load(GetParam());
    ASSERT_TRUE(figures.ok()) << figures.status();
    figures_ = *std::move(figures);
  }

  // Replays the file: all CPUs merged in time order through the replay
  // sink (`merged`), or each CPU in turn into its own sink, as live readers
  // would deliver them.
  std::unique_ptr<Engine> Replay(bool merged,
                                 std::vector<v1::AggregationResult>* windows) {
    absl::StatusOr<v1::Config> config =
        ParseConfig(kConfig, "replay", &file_->catalog());
    EXPECT_TRUE(config.ok()) << config.status();
    EngineOptions options;
    options.live = false;
    options.num_cpus = file_->cpu_count();
    absl::StatusOr<std::unique_ptr<Engine>> engine =
        Engine::Create(*config, &file_->catalog(), options);
    EXPECT_TRUE(engine.ok()) << engine.status();
    if (!engine.ok()) return nullptr;
    if (windows != nullptr) {
      (*engine)->Subscribe([windows](const v1::AggregationResult& r) {
        if (r.name() == "windowed") windows->push_back(r);
      });
    }
    if (merged) {
      EXPECT_TRUE(file_->ReadAll((*engine)->replay_sink()).ok());
    } else {
      for (uint32_t cpu = 0; cpu < file_->cpu_count(); ++cpu) {
        DecodeCounters counters;
        EXPECT_TRUE(file_->ReadCpu(cpu, (*engine)->sink(cpu), &counters).ok());
      }
    }
    (*engine)->Finish();
    return *std::move(engine);
  }

  static v1::AggregationResult Q(const Engine& e, const std::string& name) {
    QueryRequest q;
    q.name = name;
    absl::StatusOr<v1::AggregationResult> r = e.Query(q);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::AggregationResult();
  }

  std::unique_ptr<TraceDatFile> file_;
  Figures figures_;
};

TEST_P(ReplayTest, FiguresMatchTheReport) {
  std::unique_ptr<Engine> e = Replay(/*merged=*/true, nullptr);
  ASSERT_NE(e, nullptr);
  const Figures& want = figures_;
  EXPECT_THAT(Rows(Q(*e, "switches")), ElementsAreArray(want.Rows("switches")));
  EXPECT_THAT(Rows(Q(*e, "syscalls")), ElementsAreArray(want.Rows("syscalls")));

  const v1::AggregationResult cpu = Q(*e, "cpu");
  EXPECT_THAT(Rows(cpu, 1), ElementsAreArray(want.Rows("cpu")));
  EXPECT_EQ(cpu.counters().unknown_slice_starts(),
            want.Number("cpu.unknown_slice_starts"));
  EXPECT_EQ(cpu.counters().events_matched(), want.Number("cpu.events_matched"));

  const v1::AggregationResult wakeup = Q(*e, "wakeup");
  EXPECT_THAT(Rows(wakeup, 0), ElementsAreArray(want.Rows("wakeup")));
  EXPECT_EQ(wakeup.counters().starts(), want.Number("wakeup.starts"));
  EXPECT_EQ(wakeup.counters().replaced_starts(),
            want.Number("wakeup.replaced_starts"));
  EXPECT_EQ(wakeup.counters().ends(), want.Number("wakeup.ends"));
  EXPECT_EQ(wakeup.counters().unmatched_ends(),
            want.Number("wakeup.unmatched_ends"));

  const v1::AggregationResult sl = Q(*e, "syscall_latency");
  // Count order, ties by key.
  EXPECT_THAT(Rows(sl, 0), ElementsAreArray(want.Rows("syscall_latency")));
  EXPECT_EQ(sl.counters().unmatched_ends(),
            want.Number("syscall_latency.unmatched_ends"));
}

// The same records, delivered per CPU (as live readers do) instead of merged
// in time order, give the same results; and the windows add up to the
// cumulative view.
TEST_P(ReplayTest, PerCpuDeliveryGivesTheSameResults) {
  std::vector<v1::AggregationResult> merged_windows, per_cpu_windows;
  std::unique_ptr<Engine> merged = Replay(true, &merged_windows);
  std::unique_ptr<Engine> per_cpu = Replay(false, &per_cpu_windows);
  ASSERT_NE(merged, nullptr);
  ASSERT_NE(per_cpu, nullptr);
  for (const char* name : {"switches", "syscalls", "cpu", "wakeup",
                           "syscall_latency", "windowed"}) {
    SCOPED_TRACE(name);
    const v1::AggregationResult a = Q(*merged, name);
    const v1::AggregationResult b = Q(*per_cpu, name);
    EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString());
  }
  // At least the 10 ms windows the capture's span covers, none late.
  ASSERT_EQ(merged_windows.size(), per_cpu_windows.size());
  constexpr uint64_t kWindowNs = 10'000'000;
  EXPECT_GE(merged_windows.size(),
            (figures_.Number("span_ns") + kWindowNs - 1) / kWindowNs);
  std::map<std::string, uint64_t> sums;
  for (size_t i = 0; i < merged_windows.size(); ++i) {
    EXPECT_EQ(merged_windows[i].SerializeAsString(),
              per_cpu_windows[i].SerializeAsString());
    EXPECT_EQ(merged_windows[i].counters().late_events(), 0u);
    if (i > 0) {
      EXPECT_EQ(merged_windows[i].window_start_ns(),
                merged_windows[i - 1].window_end_ns());
    }
    for (const v1::Row& row : merged_windows[i].row()) {
      sums[KeyText(row)] += row.count();
    }
  }
  std::map<std::string, uint64_t> cumulative;
  const v1::AggregationResult windowed = Q(*merged, "windowed");
  for (const v1::Row& row : windowed.row()) {
    cumulative[KeyText(row)] = row.count();
  }
  EXPECT_EQ(sums, cumulative);
  EXPECT_EQ(cumulative["sleep"], figures_.CountOf("switches", "sleep"));
}

INSTANTIATE_TEST_SUITE_P(Captures, ReplayTest,
                         ::testing::Values("v7.dat", "v6.dat"));

}  // namespace
}  // namespace agg
}  // namespace ringwatch
