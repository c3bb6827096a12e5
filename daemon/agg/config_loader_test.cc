// Bad configs, one kind of error per test: each message names the file,
// the line and column, the aggregation, the field and the reason.
#include "daemon/agg/config_loader.h"

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "daemon/agg/testing/fixtures.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace agg {
namespace {

using ::testing::HasSubstr;

class ConfigLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<EventCatalog> catalog = testing::LoadFormatFixtures();
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    catalog_ = std::make_unique<EventCatalog>(*std::move(catalog));
  }

  // The error of parsing `text` as cfg.textproto.
  std::string Error(const std::string& text) {
    absl::StatusOr<v1::Config> c =
        ParseConfig(text, "cfg.textproto", catalog_.get());
    EXPECT_FALSE(c.ok());
    if (c.ok()) return "";
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(c.status().message());
  }

  std::unique_ptr<EventCatalog> catalog_;
};

TEST_F(ConfigLoaderTest, ValidConfigParses) {
  absl::StatusOr<v1::Config> c = ParseConfig(
      "trace_clock: \"mono\"\n"
      "aggregation { name: \"a\" event: \"sched/sched_switch\" key: "
      "\"prev_pid\" }\n",
      "cfg.textproto", catalog_.get());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->aggregation_size(), 1);
}

TEST_F(ConfigLoaderTest, SyntaxErrorNamesFileLineAndColumn) {
  EXPECT_EQ(Error("aggregation {\n"
                  "  name: \"a\"\n"
                  "  keys: \"pid\"\n"
                  "}\n"),
            "cfg.textproto:3:7: Message type \"ringwatch.v1.Aggregation\" has "
            "no field named \"keys\".");
  EXPECT_THAT(Error("aggregation {\n  name: \"a\"\n"),
              HasSubstr("cfg.textproto:3:1: "));
}

TEST_F(ConfigLoaderTest, UnknownEventSuggestsCloseMatches) {
  EXPECT_EQ(Error("aggregation {\n"
                  "  name: \"sw\"\n"
                  "  event: \"sched/sched_swich\"\n"
                  "}\n"),
            "cfg.textproto:3:3: aggregation \"sw\": event: unknown event "
            "'sched/sched_swich'; did you mean sched/sched_switch or "
            "sched/sched_waking?");
}

TEST_F(ConfigLoaderTest, UnknownFieldSuggestsCloseMatches) {
  EXPECT_THAT(
      Error("aggregation {\n"
            "  name: \"sw\"\n"
            "  event: \"sched/sched_switch\"\n"
            "  key: \"prev_pid\"\n"
            "  key: \"prev_pdi\"\n"
            "}\n"),
      HasSubstr("cfg.textproto:5:3: aggregation \"sw\": key[1]: no field "
                "\"prev_pdi\" in sched/sched_switch; did you mean "
                "\"prev_pid\""));
}

TEST_F(ConfigLoaderTest, SumOfAStringFieldIsATypeMismatch) {
  EXPECT_EQ(Error("aggregation {\n"
                  "  name: \"sw\"\n"
                  "  event: \"sched/sched_switch\"\n"
                  "  value { sum: \"prev_comm\" }\n"
                  "}\n"),
            "cfg.textproto:4:11: aggregation \"sw\": value[0].sum: sum of "
            "\"prev_comm\": field of sched/sched_switch is a string "
            "(char[16]); sum needs an integer field");
}

TEST_F(ConfigLoaderTest, HistogramOfAStringFieldIsATypeMismatch) {
  EXPECT_EQ(Error("aggregation {\n"
                  "  name: \"io\"\n"
                  "  event: \"block/block_rq_issue\"\n"
                  "  value {\n"
                  "    histogram { field: \"rwbs\" log2 {} }\n"
                  "  }\n"
                  "}\n"),
            "cfg.textproto:5:17: aggregation \"io\": value[0].histogram.field: "
            "histogram of \"rwbs\": field of block/block_rq_issue is a string "
            "(char[10]); histogram needs an integer field");
}

TEST_F(ConfigLoaderTest, ArrayFieldIsNotAKey) {
  EXPECT_EQ(Error("aggregation {\n"
                  "  name: \"sc\"\n"
                  "  event: \"raw_syscalls/sys_enter\"\n"
                  "  key: \"args\"\n"
                  "}\n"),
            "cfg.textproto:4:3: aggregation \"sc\": key[0]: field \"args\" of "
            "raw_syscalls/sys_enter is an array (unsigned long[6]); keys need "
            "an integer or string field");
}

TEST_F(ConfigLoaderTest, BadFilterNamesTheEventAndReason) {
  const std::string e = Error(
      "aggregation {\n"
      "  name: \"sw\"\n"
      "  event: \"sched/sched_switch\"\n"
      "  filter: \"prev_pidd > 0\"\n"
      "}\n");
  EXPECT_THAT(e, HasSubstr("cfg.textproto:4:3: aggregation \"sw\": filter: bad "
                           "filter for sched/sched_switch: "));
  EXPECT_THAT(e, HasSubstr("prev_pidd"));
}

TEST_F(ConfigLoaderTest, DuplicateAggregationName) {
  EXPECT_EQ(Error("aggregation { name: \"a\" event: \"sched/sched_switch\" }\n"
                  "aggregation {\n"
                  "  name: \"a\"\n"
                  "  event: \"sched/sched_waking\"\n"
                  "}\n"),
            "cfg.textproto:3:3: aggregation \"a\": name: duplicate name (also "
            "aggregation #1)");
}

TEST_F(ConfigLoaderTest, BadWindows) {
  EXPECT_EQ(Error("aggregation {\n"
                  "  name: \"a\"\n"
                  "  event: \"sched/sched_switch\"\n"
                  "  window: \"fast\"\n"
                  "}\n"),
            "cfg.textproto:4:3: aggregation \"a\": window: bad window: bad "
            "duration \"fast\" (use e.g. \"250ms\", \"1s\", \"2m\")");
  EXPECT_THAT(
      Error("aggregation { name: \"a\" event: \"sched/sched_switch\" "
            "window: \"0s\" }"),
      HasSubstr("window: bad window: duration \"0s\" must be positive"));
  EXPECT_THAT(Error("aggregation { name: \"a\" event: \"sched/sched_switch\" "
                    "window: \"2h\" }"),
              HasSubstr("window: bad window: duration \"2h\" is out of range "
                        "[1ms, 1h]"));
}

TEST_F(ConfigLoaderTest, BadBucketSpec) {
  EXPECT_EQ(Error("aggregation {\n"
                  "  name: \"io\"\n"
                  "  event: \"block/block_rq_issue\"\n"
                  "  value { histogram {\n"
                  "    field: \"bytes\"\n"
                  "    linear { min: 10 max: 5 step: 1 }\n"
                  "  } }\n"
                  "}\n"),
            "cfg.textproto:6:5: aggregation \"io\": value[0].histogram.linear: "
            "linear buckets: max (5) must be greater than min (10)");
}

TEST_F(ConfigLoaderTest, LatencyKeysMustPairUp) {
  EXPECT_EQ(Error("aggregation {\n"
                  "  name: \"blk\"\n"
                  "  latency {\n"
                  "    start { event: \"block/block_rq_issue\" key: \"dev\" "
                  "key: \"sector\" }\n"
                  "    end {\n"
                  "      event: \"block/block_rq_complete\"\n"
                  "      key: \"dev\"\n"
                  "    }\n"
                  "  }\n"
                  "}\n"),
            "cfg.textproto:7:7: aggregation \"blk\": latency.end.key: end has "
            "1 key field(s) and start 2; they pair a start with its end field "
            "by field");
  EXPECT_THAT(
      Error("aggregation {\n"
            "  name: \"w\"\n"
            "  latency {\n"
            "    start { event: \"sched/sched_waking\" key: \"comm\" }\n"
            "    end { event: \"sched/sched_switch\" key: \"next_pid\" }\n"
            "  }\n"
            "}\n"),
      HasSubstr(
          "cfg.textproto:5:39: aggregation \"w\": latency.end.key[0]: end "
          "key \"next_pid\" is an integer but start key \"comm\" is a "
          "string"));
}

TEST_F(ConfigLoaderTest, LatencyEndpointErrorsPointIntoTheEndpoint) {
  EXPECT_EQ(
      Error("aggregation {\n"
            "  name: \"w\"\n"
            "  latency {\n"
            "    start { event: \"sched/sched_waking\" key: \"pid\" }\n"
            "    end {\n"
            "      event: \"sched/sched_switch\"\n"
            "      key: \"nxt_pid\"\n"
            "    }\n"
            "  }\n"
            "}\n"),
      "cfg.textproto:7:7: aggregation \"w\": latency.end.key[0]: no field "
      "\"nxt_pid\" in sched/sched_switch; did you mean \"next_pid\"?");
}

TEST_F(ConfigLoaderTest, MissingSourceAndUnknownOrderBy) {
  EXPECT_EQ(Error("aggregation {\n"
                  "  name: \"a\"\n"
                  "}\n"),
            "cfg.textproto:1:1: aggregation \"a\": missing source: set one of "
            "event, latency or cpu_time");
  EXPECT_EQ(Error("aggregation {\n"
                  "  name: \"a\"\n"
                  "  event: \"block/block_rq_issue\"\n"
                  "  value { sum: \"bytes\" }\n"
                  "  order_by: \"p99(bytes)\"\n"
                  "}\n"),
            "cfg.textproto:5:3: aggregation \"a\": order_by: cannot order by "
            "\"p99(bytes)\": not one of the values; choose from count, "
            "max(bytes), mean(bytes), min(bytes), sum(bytes)");
}

TEST_F(ConfigLoaderTest, SettingsErrors) {
  EXPECT_THAT(
      Error("events: \"sched/sched_switch\"\n"
            "events: \"sched/sched_wakep\"\n"),
      HasSubstr("cfg.textproto:2:1: events[1]: unknown event "
                "'sched/sched_wakep'; did you mean sched/sched_wakeup"));
  EXPECT_EQ(Error("buffer_percent: 150\n"),
            "cfg.textproto:1:1: buffer_percent: buffer_percent 150 is not a "
            "percentage (1..100)");
  EXPECT_THAT(Error("buffer_percent: 0\n"),
              HasSubstr("cfg.textproto:1:1: buffer_percent: buffer_percent 0 "
                        "wakes a reader on every event"));
  EXPECT_THAT(Error("reader_tick: \"10s\"\n"),
              HasSubstr("cfg.textproto:1:1: reader_tick: bad reader_tick: "));
  EXPECT_EQ(Error("reader_tick: \"1s\"\n"),
            "cfg.textproto:1:1: reader_tick: reader_tick \"1s\" must be "
            "shorter than idle_grace (500ms), or windows close before busy "
            "CPUs are read");
  EXPECT_TRUE(ParseConfig("idle_grace: \"5s\"\nreader_tick: \"1s\"\n",
                          "cfg.textproto", catalog_.get())
                  .ok());
  // An idle_grace at or below the default reader_tick (200ms) was accepted,
  // then refused once the defaults were filled in (config_loader_fuzzer,
  // tests/data/fuzz/config_loader/regression-idle-grace-below-default-tick).
  EXPECT_EQ(Error("idle_grace: \"001ms\"\n"),
            "cfg.textproto:1:1: idle_grace: reader_tick \"200ms\" (the "
            "default) must be shorter than idle_grace (001ms), or windows "
            "close before busy CPUs are read");
  EXPECT_TRUE(ParseConfig("idle_grace: \"1ms\"\nreader_tick: \"1ms\"\n",
                          "cfg.textproto", catalog_.get())
                  .status()
                  .message()
                  .find("must be shorter") != absl::string_view::npos);
  EXPECT_TRUE(
      ParseConfig("idle_grace: \"300ms\"\n", "cfg.textproto", catalog_.get())
          .ok());
  EXPECT_THAT(Error("trace_clock: \"monotonic\"\n"),
              HasSubstr("cfg.textproto:1:1: trace_clock: unknown trace clock "
                        "\"monotonic\"; one of local, global"));
  EXPECT_EQ(Error("listen {\n"
                  "  tls { cert_file: \"a.pem\" key_file: \"a.key\" }\n"
                  "}\n"),
            "cfg.textproto:2:3: listen.tls: tls applies to the TCP listener, "
            "but tcp_address is not set");
  EXPECT_EQ(Error("listen { unix_socket: \"rw.sock\" }\n"),
            "cfg.textproto:1:10: listen.unix_socket: unix_socket \"rw.sock\" "
            "must be an absolute path (or \"none\")");
  EXPECT_EQ(Error("idle_grace: \"soon\"\n"),
            "cfg.textproto:1:1: idle_grace: bad idle_grace: bad duration "
            "\"soon\" (use e.g. \"250ms\", \"1s\", \"2m\")");
}

TEST_F(ConfigLoaderTest, EveryProblemIsReportedOnItsOwnLine) {
  const std::string e = Error(
      "aggregation {\n"
      "  name: \"a\"\n"
      "  event: \"sched/sched_switch\"\n"
      "  key: \"x\"\n"
      "  key: \"y\"\n"
      "}\n");
  EXPECT_THAT(e, HasSubstr("cfg.textproto:4:3: aggregation \"a\": key[0]"));
  EXPECT_THAT(e, HasSubstr("\ncfg.textproto:5:3: aggregation \"a\": key[1]"));
}

TEST_F(ConfigLoaderTest, MissingFileNamesThePath) {
  absl::StatusOr<v1::Config> c =
      LoadConfigFile("/nonexistent/ringwatch.textproto", *catalog_);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              HasSubstr("/nonexistent/ringwatch.textproto"));
}

TEST_F(ConfigLoaderTest, ValidateAggregationForRuntimeCreate) {
  v1::Aggregation a;
  a.set_name("cpu");
  a.mutable_cpu_time();
  a.add_key("pid");
  EXPECT_TRUE(ValidateAggregation(a, *catalog_).ok());
  a.add_key("tgid");
  absl::Status s = ValidateAggregation(a, *catalog_);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(),
              HasSubstr("aggregation \"cpu\": key[1]: no field \"tgid\" in "
                        "sched/sched_switch"));
  a.set_name("bad name");
  EXPECT_THAT(ValidateAggregation(a, *catalog_).message(),
              HasSubstr("name: bad name \"bad name\": use 1-64 characters"));
}

TEST_F(ConfigLoaderTest, WithoutCatalogOnlyCatalogFreeChecksRun) {
  absl::StatusOr<v1::Config> c = ParseConfig(
      "aggregation { name: \"a\" event: \"no/such\" }", "x", nullptr);
  EXPECT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(
      ParseConfig("aggregation { name: \"a\" window: \"x\" }", "x", nullptr)
          .status()
          .message(),
      HasSubstr("x:1:25: aggregation \"a\": window: bad window"));
}

TEST_F(ConfigLoaderTest, DefaultsFillUnsetFields) {
  const v1::Config c = WithDefaults(v1::Config());
  EXPECT_EQ(c.trace_clock(), "mono");
  EXPECT_EQ(c.instance(), "ringwatch");
  EXPECT_EQ(c.listen().unix_socket(), "/run/ringwatch/ringwatch.sock");
  EXPECT_EQ(c.buffer_size_kb(), 4096u);
  EXPECT_EQ(c.buffer_percent(), 50u);
  EXPECT_EQ(c.reader_tick(), "200ms");
  v1::Config set;
  set.set_buffer_percent(7);
  EXPECT_EQ(WithDefaults(set).buffer_percent(), 7u);
}

}  // namespace
}  // namespace agg
}  // namespace ringwatch
