#include "clients/cli/format.h"

#include "gtest/gtest.h"

namespace ringwatch {
namespace cli {
namespace {

TEST(FormatTest, TableAlignsTextLeftAndNumbersRight) {
  Table t({"NAME", ">COUNT"});
  t.AddRow({"bash", "5"});
  t.AddRow({"postgres", "12345"});
  EXPECT_EQ(t.Render(),
            "NAME      COUNT\n"
            "bash          5\n"
            "postgres  12345\n");
}

TEST(FormatTest, HumanFigures) {
  EXPECT_EQ(HumanBytes(512), "512 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(3ull << 30), "3.0 GiB");
  EXPECT_EQ(HumanCount(9999), "9999");
  EXPECT_EQ(HumanCount(2.5), "2.5");
  EXPECT_EQ(HumanCount(1234567), "1.2M");
  EXPECT_EQ(HumanDuration(59), "59s");
  EXPECT_EQ(HumanDuration(3723), "1h02m03s");
  EXPECT_EQ(HumanDuration(90061), "1d01h01m");
  EXPECT_EQ(HumanNanos(812), "812ns");
  EXPECT_EQ(HumanNanos(3400), "3.4us");
  EXPECT_EQ(HumanNanos(1500000000), "1.50s");
}

v1::AggregationResult LatencyResult() {
  v1::AggregationResult r;
  r.set_name("wakeup_latency");
  r.add_key_names("comm");
  r.add_key_names("cpu");
  r.add_value_names("count");
  r.add_value_names("histogram(latency)");
  v1::Row* row = r.add_row();
  row->add_key()->set_string_value("nginx");
  row->add_key()->set_int_value(1);
  row->set_count(42);
  row->add_value()->set_int_value(42);
  v1::ValueResult* h = row->add_value();
  h->set_name("histogram(latency)");
  h->mutable_histogram()->set_p50(1000);
  h->mutable_histogram()->set_p90(4000);
  h->mutable_histogram()->set_p99(8200);
  h->mutable_histogram()->set_max(12000);
  v1::Row* other = r.add_row();
  other->set_kind(v1::Row::OTHER);
  other->set_count(3);
  return r;
}

TEST(FormatTest, ResultTableHasKeyColumnsCountAndValues) {
  EXPECT_EQ(FormatResult(LatencyResult()),
            "COMM     CPU  COUNT                        HISTOGRAM(LATENCY)\n"
            "nginx    1       42  p50=1.0us p90=4.0us p99=8.2us max=12.0us\n"
            "(other)           3                                         -\n");
  EXPECT_EQ(FormatResult(LatencyResult(), 1),
            "COMM   CPU  COUNT                        HISTOGRAM(LATENCY)\n"
            "nginx  1       42  p50=1.0us p90=4.0us p99=8.2us max=12.0us\n"
            "... 1 more rows\n");
}

TEST(FormatTest, KeysWithControlCharactersAreEscaped) {
  v1::Row row;
  row.add_key()->set_string_value("a\nb");
  EXPECT_EQ(FormatKey(row), "a\\x0ab");
}

TEST(FormatTest, KeyShowsSyscallNameBesideNumber) {
  v1::Row row;
  v1::KeyValue* id = row.add_key();
  id->set_int_value(257);
  id->set_display("openat");
  row.add_key()->set_int_value(7);
  EXPECT_EQ(FormatKey(row), "openat(257),7");
}

TEST(FormatTest, EventLine) {
  v1::TraceEvent e;
  e.set_name("events/sched/sched_switch");
  e.set_cpu(1);
  e.set_timestamp_ns(12000000345);
  e.set_pid(42);
  v1::FieldValue* f = e.add_fields();
  f->set_name("prev_comm");
  f->set_string_value("bash");
  f = e.add_fields();
  f->set_name("next_pid");
  f->set_int_value(7);
  f = e.add_fields();
  f->set_name("raw");
  f->set_bytes_value(std::string("\x01\xff", 2));
  EXPECT_EQ(FormatEvent(e),
            "12.000000345 [001]      42 sched/sched_switch prev_comm=bash "
            "next_pid=7 raw=01ff");
}

TEST(FormatTest, StatusMentionsEveryFigureGroup) {
  v1::DaemonStatus s;
  s.set_version("0.1.0");
  s.set_kernel_release("6.18.0");
  s.set_tracefs_path("/sys/kernel/tracing");
  s.set_instance("ringwatch");
  s.mutable_uptime()->set_seconds(3723);
  s.mutable_process()->set_rss_bytes(25 << 20);
  v1::CpuReaderStatus* c = s.add_cpus();
  c->set_cpu(0);
  c->set_mode(v1::READ_MODE_MMAP);
  c->set_events(12345678);
  c->set_lost_events(17);
  v1::AggregationStats* a = s.add_aggregations();
  a->set_name("aggregations/syscalls");
  a->set_subscribers(2);
  a->set_memory_bytes(3 << 20);
  a->set_memory_reserved_bytes(40 << 20);
  s.mutable_engine()->set_memory_bytes(5 << 20);
  s.mutable_engine()->set_memory_reserved_bytes(60 << 20);
  s.mutable_engine()->set_memory_limit_bytes(256 << 20);
  s.mutable_server()->set_subscribers(2);
  s.mutable_server()->set_max_subscribers(64);
  s.mutable_server()->set_dropped_messages(5);
  s.mutable_server()->add_listen_addresses("unix:///run/ringwatch/x.sock");
  const std::string text = FormatStatus(s);
  for (const char* want :
       {"ringwatchd 0.1.0 on Linux 6.18.0", "up 1h02m03s", "RSS 25.0 MiB",
        "0    mmap   12.3M", "syscalls", "2 subscribers", "cap 64",
        "5 messages dropped", "listening: unix:///run/ringwatch/x.sock",
        "3.0 MiB", "40.0 MiB",
        "memory: 5.0 MiB in use, 60.0 MiB reserved (worst case at max_keys) "
        "of a 256.0 MiB budget"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
}

}  // namespace
}  // namespace cli
}  // namespace ringwatch
