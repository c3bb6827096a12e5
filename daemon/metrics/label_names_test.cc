#include "daemon/metrics/label_names.h"

#include "gtest/gtest.h"

namespace ringwatch {
namespace metrics {
namespace {

TEST(SanitizeLabelNameTest, ReplacesInvalidCharacters) {
  EXPECT_EQ(SanitizeLabelName("pid"), "pid");
  EXPECT_EQ(SanitizeLabelName("start.pid"), "start_pid");
  EXPECT_EQ(SanitizeLabelName("a-b c"), "a_b_c");
  EXPECT_EQ(SanitizeLabelName("9lives"), "_9lives");
  EXPECT_EQ(SanitizeLabelName(""), "_");
}

TEST(SanitizeLabelNameTest, PrefixesReservedAndExporterLabels) {
  EXPECT_EQ(SanitizeLabelName("__syscall_nr"), "key___syscall_nr");
  EXPECT_EQ(SanitizeLabelName("le"), "key_le");
  EXPECT_EQ(SanitizeLabelName("row"), "key_row");
  EXPECT_EQ(SanitizeLabelName("instance"), "key_instance");
  EXPECT_EQ(SanitizeLabelName("aggregation"), "key_aggregation");
}

TEST(SanitizeMetricNameTest, KeepsColonsAndFixesTheRest) {
  EXPECT_EQ(SanitizeMetricName("wakeup-latency.v2"), "wakeup_latency_v2");
  EXPECT_EQ(SanitizeMetricName("a:b"), "a:b");
  EXPECT_EQ(SanitizeMetricName("1s"), "_1s");
}

TEST(LabelValueTest, KeepsValidUtf8) {
  EXPECT_EQ(LabelValue("nginx"), "nginx");
  EXPECT_EQ(LabelValue("caf\xc3\xa9 \"q\"\n"), "caf\xc3\xa9 \"q\"\n");
  EXPECT_EQ(LabelValue("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");
}

TEST(LabelValueTest, EscapesInvalidBytes) {
  EXPECT_EQ(LabelValue("a\xff"
                       "b"),
            "a\\xffb");
  // A truncated sequence, an overlong '/', and a UTF-16 surrogate.
  EXPECT_EQ(LabelValue("x\xc3"), "x\\xc3");
  EXPECT_EQ(LabelValue("\xc0\xaf"), "\\xc0\\xaf");
  EXPECT_EQ(LabelValue("\xed\xa0\x80"), "\\xed\\xa0\\x80");
}

}  // namespace
}  // namespace metrics
}  // namespace ringwatch
