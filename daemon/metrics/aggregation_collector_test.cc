#include "daemon/metrics/aggregation_collector.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"

namespace ringwatch {
namespace metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

template <typename T>
T Parse(const std::string& text) {
  T message;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &message))
      << text;
  return message;
}

std::string Export(const v1::Aggregation& spec,
                   const v1::AggregationResult& result, ExportState* state) {
  std::vector<prometheus::MetricFamily> families;
  AggregationFamilies(spec, result, state, &families);
  return prometheus::TextSerializer().Serialize(families);
}

const v1::Aggregation kSyscalls = Parse<v1::Aggregation>(R"pb(
  name: "sys-calls"
  event: "raw_syscalls/sys_enter"
  key: "comm"
  value { sum: "args_bytes" }
  metrics { enabled: true max_series: 2 }
)pb");

v1::AggregationResult SyscallResult(uint64_t a, uint64_t b, uint64_t c) {
  auto result = Parse<v1::AggregationResult>(absl::StrCat(
      R"pb(name: "sys-calls"
           key_names: "comm"
           value_names: "sum(args_bytes)"
           cumulative: true
      )pb",
      // Rows in the aggregation's order (largest count first).
      a >= c ? ""
             : absl::StrCat(R"(row { key { string_value: "c" } count: )", c,
                            R"( value { int_value: 1 } } )"),
      R"(row { key { string_value: "a" } count: )", a,
      R"( value { int_value: 100 } } )",
      R"(row { key { string_value: "b" } count: )", b,
      R"( value { int_value: 10 } } )",
      a >= c ? absl::StrCat(R"(row { key { string_value: "c" } count: )", c,
                            R"( value { int_value: 1 } } )")
             : "",
      R"(row { kind: OTHER count: 4 value { int_value: 7 } } )",
      R"(row { kind: OVERFLOW count: 2 value { int_value: 0 } })"));
  // A task name with a quote, a newline and a byte that is not UTF-8 (set
  // here: the text format parser would refuse it).
  for (v1::Row& row : *result.mutable_row()) {
    if (row.key_size() == 1 && row.key(0).string_value() == "b") {
      row.mutable_key(0)->set_string_value("b\"\n\xff");
    }
  }
  return result;
}

TEST(AggregationFamiliesTest, CapsSeriesAndFoldsTheRestIntoOther) {
  ExportState state;
  const std::string text = Export(kSyscalls, SyscallResult(50, 20, 5), &state);
  EXPECT_THAT(text, HasSubstr("# TYPE ringwatch_agg_sys_calls_events_total "
                              "counter"));
  EXPECT_THAT(text,
              HasSubstr("ringwatch_agg_sys_calls_events_total{comm=\"a\"} 50"));
  // Quote, newline escaped by the serializer; the invalid byte by us.
  EXPECT_THAT(text, HasSubstr("ringwatch_agg_sys_calls_events_total{comm=\"b"
                              "\\\"\\n\\\\xff\"} 20"));
  // c (5), OTHER (4) and OVERFLOW (2): totals stay exact.
  EXPECT_THAT(text,
              HasSubstr("ringwatch_agg_sys_calls_events_total{row=\"other\"} "
                        "11"));
  EXPECT_THAT(
      text, HasSubstr("ringwatch_agg_sys_calls_args_bytes_total{row=\"other\"} "
                      "8"));
  EXPECT_THAT(text, HasSubstr("ringwatch_aggregation_cut_series{aggregation="
                              "\"sys-calls\"} 1"));
}

TEST(AggregationFamiliesTest, KeysKeepTheirSeriesSoCountersStayMonotonic) {
  ExportState state;
  Export(kSyscalls, SyscallResult(50, 20, 5), &state);
  // c overtakes both: it stays folded into other, a and b keep theirs.
  const std::string text = Export(kSyscalls, SyscallResult(51, 21, 90), &state);
  EXPECT_THAT(text,
              HasSubstr("ringwatch_agg_sys_calls_events_total{comm=\"a\"} 51"));
  EXPECT_THAT(text, Not(HasSubstr("comm=\"c\"")));
  EXPECT_THAT(text,
              HasSubstr("ringwatch_agg_sys_calls_events_total{row=\"other\"} "
                        "96"));
  // A new spec (a reload) starts afresh: c now gets a series.
  v1::Aggregation changed = kSyscalls;
  changed.set_description("reloaded");
  EXPECT_THAT(Export(changed, SyscallResult(51, 21, 90), &state),
              HasSubstr("ringwatch_agg_sys_calls_events_total{comm=\"c\"} 90"));
}

TEST(AggregationFamiliesTest, LatencyHistogramsInSecondsWithBucketBounds) {
  const auto spec = Parse<v1::Aggregation>(R"pb(
    name: "wakeup"
    latency {
      start { event: "sched/sched_waking" key: "pid" }
      end { event: "sched/sched_switch" key: "next_pid" }
    }
    key: "cpu"
    metrics { enabled: true }
  )pb");
  // Log2 buckets: [2,3] holds 2 samples and [8,15] holds 1.
  const auto result = Parse<v1::AggregationResult>(R"pb(
    name: "wakeup"
    key_names: "cpu"
    value_names: "histogram(latency)"
    row {
      key { int_value: 1 }
      count: 3
      value {
        name: "histogram(latency)"
        histogram {
          bucket { lower: 2 upper: 3 count: 2 }
          bucket { lower: 8 upper: 15 count: 1 }
          sum: 17
        }
      }
    }
  )pb");
  ExportState state;
  const std::string text = Export(spec, result, &state);
  EXPECT_THAT(text, HasSubstr("# TYPE ringwatch_agg_wakeup_latency_seconds "
                              "histogram"));
  EXPECT_THAT(text, HasSubstr("ringwatch_agg_wakeup_samples_total{cpu=\"1\"} "
                              "3"));
  for (const char* line :
       {"ringwatch_agg_wakeup_latency_seconds_bucket{cpu=\"1\",le=\"0\"} 0",
        "ringwatch_agg_wakeup_latency_seconds_bucket{cpu=\"1\",le=\"1e-09\"}"
        " 0",
        "ringwatch_agg_wakeup_latency_seconds_bucket{cpu=\"1\",le=\"3e-09\"}"
        " 2",
        "ringwatch_agg_wakeup_latency_seconds_bucket{cpu=\"1\",le=\"7e-09\"}"
        " 2",
        "ringwatch_agg_wakeup_latency_seconds_bucket{cpu=\"1\",le=\"1.5e-08"
        "\"} 3",
        "ringwatch_agg_wakeup_latency_seconds_bucket{cpu=\"1\",le=\"+Inf\"}"
        " 3",
        "ringwatch_agg_wakeup_latency_seconds_sum{cpu=\"1\"} 1.7e-08",
        "ringwatch_agg_wakeup_latency_seconds_count{cpu=\"1\"} 3"}) {
    EXPECT_THAT(text, HasSubstr(line));
  }
  // Bounds stop at the highest bucket seen.
  EXPECT_THAT(text, Not(HasSubstr("le=\"3.1e-08\"")));
}

TEST(AggregationFamiliesTest, SyscallNamesBesideNumbersAndSafeLabelNames) {
  const auto spec = Parse<v1::Aggregation>(R"pb(
    name: "by_id"
    event: "raw_syscalls/sys_enter"
    key: "id"
    key: "le"
    metrics { enabled: true }
  )pb");
  const auto result = Parse<v1::AggregationResult>(R"pb(
    name: "by_id"
    key_names: "id"
    key_names: "le"
    row {
      key { int_value: 257 display: "openat" }
      key { int_value: 3 }
      count: 9
    }
  )pb");
  ExportState state;
  EXPECT_THAT(Export(spec, result, &state),
              HasSubstr("ringwatch_agg_by_id_events_total{id=\"257\",syscall="
                        "\"openat\",key_le=\"3\"} 9"));
}

TEST(ValidateAggregationMetricsTest, CapsMaxSeries) {
  auto spec = Parse<v1::Aggregation>(
      R"pb(name: "x"
           metrics { enabled: true max_series: 1001 })pb");
  absl::Status status = ValidateAggregationMetrics(spec);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("metrics.max_series 1001 is over the limit of 1000"));
  spec.mutable_metrics()->set_max_series(1000);
  EXPECT_TRUE(ValidateAggregationMetrics(spec).ok());
}

}  // namespace
}  // namespace metrics
}  // namespace ringwatch
