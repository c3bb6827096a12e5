#include "daemon/snapshot/recorder_settings.h"

#include <string>

#include "absl/strings/match.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

absl::StatusOr<RecorderSettings> FromText(const std::string& text) {
  v1::FlightRecorderConfig config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &config))
      << text;
  return RecorderSettingsFromConfig(config);
}

TEST(RecorderSettingsTest, DefaultsWhenUnset) {
  absl::StatusOr<RecorderSettings> s = FromText("");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->enabled);
  EXPECT_EQ(s->max_bytes, 32u << 20);
  EXPECT_EQ(s->max_age_ns, 60'000'000'000u);
  EXPECT_EQ(s->snapshot_dir, "/var/lib/ringwatch/snapshots");
  EXPECT_TRUE(s->triggers.empty());
}

TEST(RecorderSettingsTest, ZeroTurnsItOffAndReservesNothing) {
  absl::StatusOr<RecorderSettings> s = FromText("max_size: \"0\"");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->enabled);
  EXPECT_EQ(s->ReservedBytes(8, 4096), 0u);
}

TEST(RecorderSettingsTest, SplitsTheSizeOverCpusInWholePages) {
  absl::StatusOr<RecorderSettings> s = FromText("max_size: \"1MiB\"");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->BytesPerCpu(3, 4096), 85u * 4096);  // 1 MiB / 3, whole pages.
  EXPECT_EQ(s->ReservedBytes(3, 4096), (85u + 1) * 4096 * 3);
  // More CPUs than pages: one page each, whatever max_size says.
  EXPECT_EQ(s->BytesPerCpu(1024, 4096), 4096u);
}

TEST(RecorderSettingsTest, ReadsATrigger) {
  absl::StatusOr<RecorderSettings> s = FromText(R"pb(
    trigger {
      name: "slow-reads"
      aggregation: "read_latency"
      value: "p99"
      above: 1e7
      min_interval: "30s"
      span: "5s"
    }
  )pb");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->triggers.size(), 1u);
  EXPECT_EQ(s->triggers[0].name, "slow-reads");
  EXPECT_EQ(s->triggers[0].value, "p99");
  EXPECT_EQ(s->triggers[0].above, 1e7);
  EXPECT_EQ(s->triggers[0].min_interval_ns, 30'000'000'000u);
  EXPECT_EQ(s->triggers[0].span_ns, 5'000'000'000u);
}

TEST(RecorderSettingsTest, NamesEveryBadFieldAndWhy) {
  absl::StatusOr<RecorderSettings> s = FromText(R"pb(
    max_size: "lots"
    max_age: "0s"
    snapshot_dir: "relative/dir"
    max_snapshot_files: 5000
    trigger { name: "a b" aggregation: "" value: "p42" above: inf }
    trigger { name: "t" aggregation: "x" value: "max" min_interval: "1ms" }
    trigger { name: "t" aggregation: "x" value: "max" span: "2h" }
  )pb");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(s.status().message());
  for (const char* expected : {
           "flight_recorder.max_size: ",
           "flight_recorder.max_age: ",
           "flight_recorder.snapshot_dir: \"relative/dir\" must be an absolute",
           "flight_recorder.max_snapshot_files: 5000 is above 1000",
           "flight_recorder.trigger[0].name: \"a b\"",
           "flight_recorder.trigger[0].aggregation: is empty",
           "flight_recorder.trigger[0].value: \"p42\" is not one of",
           "flight_recorder.trigger[0].above: must be finite",
           "flight_recorder.trigger[1].min_interval: ",
           "flight_recorder.trigger[2].name: duplicate name",
           "flight_recorder.trigger[2].span: ",
       }) {
    EXPECT_TRUE(absl::StrContains(message, expected))
        << "missing \"" << expected << "\" in:\n"
        << message;
  }
}

TEST(RecorderSettingsTest, CapsTheNumberOfTriggers) {
  std::string text;
  for (int i = 0; i <= kMaxSnapshotTriggers; ++i) {
    text += "trigger { name: \"t" + std::to_string(i) +
            "\" aggregation: \"x\" value: \"count\" }\n";
  }
  absl::StatusOr<RecorderSettings> s = FromText(text);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(
      absl::StrContains(s.status().message(), "17 triggers; at most 16"))
      << s.status();
}

}  // namespace
}  // namespace ringwatch
