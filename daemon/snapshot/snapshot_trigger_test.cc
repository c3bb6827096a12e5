#include "daemon/snapshot/snapshot_trigger.h"

#include <atomic>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;
using Decision = TriggerState::Decision;

TriggerSettings Settings(double above, uint64_t min_interval_ns) {
  TriggerSettings s;
  s.name = "spike";
  s.aggregation = "lat";
  s.value = "p99";
  s.above = above;
  s.min_interval_ns = min_interval_ns;
  s.span_ns = 5 * kSecond;
  return s;
}

TEST(TriggerStateTest, FiresOncePerCrossingAndNotAgainWithinItsInterval) {
  TriggerState t(Settings(/*above=*/100, /*min_interval_ns=*/60 * kSecond));
  EXPECT_EQ(t.OnWindow(50, 1 * kSecond), Decision::kNothing);
  EXPECT_EQ(t.OnWindow(150, 2 * kSecond), Decision::kFire);  // Crossing.
  // Still above: the same crossing.
  EXPECT_EQ(t.OnWindow(300, 3 * kSecond), Decision::kNothing);
  EXPECT_EQ(t.OnWindow(101, 4 * kSecond), Decision::kNothing);
  EXPECT_EQ(t.OnWindow(100, 5 * kSecond), Decision::kNothing);  // Not above.
  // A second crossing inside the interval: counted, not fired.
  EXPECT_EQ(t.OnWindow(200, 6 * kSecond), Decision::kRateLimited);
  EXPECT_EQ(t.OnWindow(absl::nullopt, 7 * kSecond), Decision::kNothing);
  EXPECT_EQ(t.OnWindow(200, 61 * kSecond), Decision::kRateLimited);
  EXPECT_EQ(t.OnWindow(0, 62 * kSecond), Decision::kNothing);
  // Past the interval since the last firing: fires again.
  EXPECT_EQ(t.OnWindow(200, 62 * kSecond + 1), Decision::kFire);
}

TEST(TriggerStateTest, AboveAtTheFirstWindowIsACrossing) {
  TriggerState t(Settings(10, kSecond));
  EXPECT_EQ(t.OnWindow(11, 0), Decision::kFire);
}

v1::AggregationResult Window(const std::string& text) {
  v1::AggregationResult r;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &r)) << text;
  return r;
}

TEST(WindowValueTest, TakesTheLargestOverRows) {
  const v1::AggregationResult w = Window(R"pb(
    name: "lat"
    value_names: "count"
    value_names: "max(bytes)"
    value_names: "histogram(latency)"
    row {
      count: 3
      value { int_value: 3 }
      value { int_value: 70 }
      value { histogram { p50: 5 p90: 9 p99: 40 max: 44 } }
    }
    row {
      count: 9
      value { int_value: 9 }
      value { int_value: 20 }
      value { histogram { p50: 7 p90: 8 p99: 12 max: 13 } }
    }
  )pb");
  EXPECT_EQ(WindowValue(w, "count").value(), 9.0);
  EXPECT_EQ(WindowValue(w, "p99").value(), 40.0);
  EXPECT_EQ(WindowValue(w, "p50").value(), 7.0);
  EXPECT_EQ(WindowValue(w, "max").value(), 70.0);  // max(bytes) comes first.
  absl::StatusOr<absl::optional<double>> mean = WindowValue(w, "mean");
  ASSERT_FALSE(mean.ok());
  EXPECT_TRUE(absl::StrContains(mean.status().message(), "has no mean value"))
      << mean.status();
  // An empty window has no value, which is not above anything.
  absl::StatusOr<absl::optional<double>> empty =
      WindowValue(Window("name: \"lat\""), "p99");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->has_value());
}

TEST(SnapshotTriggersTest, WritesOnItsOwnThreadAndAnnounces) {
  absl::Mutex mu;
  std::vector<std::string> written;
  std::vector<std::string> announced;
  std::atomic<int> fired{0}, limited{0};
  uint64_t now = 0;
  SnapshotTriggers triggers(
      {Settings(100, 60 * kSecond)},
      [&](uint64_t span_ns,
          const std::string& name) -> absl::StatusOr<v1::SnapshotInfo> {
        EXPECT_EQ(span_ns, 5 * kSecond);
        absl::MutexLock lock(&mu);
        written.push_back(name);
        v1::SnapshotInfo info;
        info.set_path("/snapshots/" + name + ".dat");
        return info;
      },
      [&](const std::string& aggregation, const v1::SnapshotInfo& info) {
        absl::MutexLock lock(&mu);
        announced.push_back(aggregation + " " + info.path());
      },
      [&](bool rate_limited) { ++(rate_limited ? limited : fired); },
      [](const std::string&) {}, [&] { return now; });
  auto window = [](const std::string& name, int64_t p99) {
    auto w = std::make_shared<v1::AggregationResult>();
    w->set_name(name);
    w->add_value_names("histogram(latency)");
    v1::Row* row = w->add_row();
    row->set_count(1);
    row->add_value()->mutable_histogram()->set_p99(p99);
    return w;
  };
  now = 1 * kSecond;
  triggers.OnWindowClosed(window("lat", 500));
  triggers.OnWindowClosed(window("other", 500));  // Not its aggregation.
  now = 2 * kSecond;
  triggers.OnWindowClosed(window("lat", 10));
  now = 3 * kSecond;
  triggers.OnWindowClosed(window("aggregations/lat", 900));  // Rate limited.
  {
    absl::MutexLock lock(&mu);
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return !announced.empty();
    };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(30)));
    EXPECT_EQ(written, std::vector<std::string>{"spike"});
    EXPECT_EQ(announced, std::vector<std::string>{"lat /snapshots/spike.dat"});
  }
  EXPECT_EQ(fired.load(), 1);
  EXPECT_EQ(limited.load(), 1);
}

}  // namespace
}  // namespace ringwatch
