#include "daemon/metrics/metrics_service.h"

#include <time.h>

#include <string>

#include "daemon/server/testing/fake_backend.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

absl::StatusOr<v1::DaemonStatus> FakeStatus() {
  v1::DaemonStatus status;
  status.set_version("9.9.9");
  status.set_kernel_release("6.18.0-test");
  status.set_instance("metrics_test");
  v1::CpuReaderStatus* cpu = status.add_cpus();
  cpu->set_cpu(1);
  cpu->set_mode(v1::READ_MODE_MMAP);
  cpu->set_events(1234);
  cpu->set_lost_events(5);
  v1::AggregationStats* a = status.add_aggregations();
  a->set_name("aggregations/syscalls");
  a->mutable_counters()->set_events_matched(77);
  a->mutable_counters()->set_late_events(2);
  a->set_memory_bytes(4096);
  a->set_memory_reserved_bytes(65536);
  status.mutable_engine()->set_memory_bytes(8192);
  status.mutable_engine()->set_memory_reserved_bytes(131072);
  status.mutable_engine()->set_memory_limit_bytes(268435456);
  status.mutable_server()->set_dropped_messages(3);
  status.mutable_flight_recorder()->set_reserved_bytes(33554432);
  status.mutable_flight_recorder()->set_bytes_held(40960);
  status.mutable_flight_recorder()->set_pages_evicted_for_bytes(7);
  status.mutable_flight_recorder()->set_pages_evicted_for_age(2);
  status.mutable_flight_recorder()->set_triggers_rate_limited(4);
  return status;
}

uint64_t MonotonicNs() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
}

TEST(MetricsServiceTest, ScrapeHasSelfProcessAndReloadMetrics) {
  testing::FakeBackend backend;
  MetricsService service(&backend, FakeStatus, /*monotonic=*/true);
  service.CountReload(true);
  service.CountReload(false);
  service.CountReload(false);
  const std::string text = service.Scrape();
  for (const char* line :
       {"ringwatch_build_info{version=\"9.9.9\",kernel_release=\"6.18.0-"
        "test\",instance=\"metrics_test\"} 1",
        "ringwatch_reader_mode{cpu=\"1\",mode=\"mmap\"} 1",
        "ringwatch_reader_events_total{cpu=\"1\"} 1234",
        "ringwatch_reader_lost_events_total{cpu=\"1\"} 5",
        "ringwatch_aggregation_events_matched_total{aggregation=\"syscalls\""
        "} 77",
        "ringwatch_aggregation_events_late_total{aggregation=\"syscalls\"} "
        "2",
        "ringwatch_stream_dropped_messages_total 3",
        "ringwatch_aggregation_memory_bytes{aggregation=\"syscalls\"} 4096",
        "ringwatch_aggregation_memory_reserved_bytes{aggregation="
        "\"syscalls\"} 65536",
        "ringwatch_memory_bytes 8192",
        "ringwatch_memory_reserved_bytes 131072",
        "ringwatch_memory_limit_bytes 268435456",
        "ringwatch_flight_recorder_reserved_bytes 33554432",
        "ringwatch_flight_recorder_bytes 40960",
        "ringwatch_flight_recorder_pages_evicted_total 9",
        "ringwatch_snapshot_triggers_rate_limited_total 4",
        "ringwatch_config_reloads_total{result=\"ok\"} 1",
        "ringwatch_config_reloads_total{result=\"failed\"} 2",
        "# TYPE process_cpu_seconds_total counter",
        "# TYPE process_resident_memory_bytes gauge",
        "# TYPE process_start_time_seconds gauge",
        "# HELP ringwatch_reader_events_total "}) {
    EXPECT_THAT(text, HasSubstr(line));
  }
}

// Records the window listener the service registers, as the daemon's
// backend does when it calls a copy of its listener list outside its lock.
class CapturingBackend : public testing::FakeBackend {
 public:
  uint64_t AddWindowListener(
      std::shared_ptr<WindowListener> listener) override {
    captured = listener;
    return FakeBackend::AddWindowListener(std::move(listener));
  }
  std::shared_ptr<WindowListener> captured;
};

// Shutdown destroys the service while the engine's thread may still be in a
// listener call it copied before the removal (a SIGSEGV at shutdown, seen
// in lifecycle_test): that call must still find its histogram. ASan (the
// suite's --config=asan run) reports the use-after-free without the fix.
TEST(MetricsServiceTest, ListenerCallInFlightOutlivesTheService) {
  CapturingBackend backend;
  auto service = std::make_unique<MetricsService>(&backend, FakeStatus,
                                                  /*monotonic=*/true);
  std::shared_ptr<WindowListener> in_flight = std::move(backend.captured);
  ASSERT_NE(in_flight, nullptr);
  service.reset();
  auto window = std::make_shared<v1::AggregationResult>(
      testing::FakeBackend::MakeWindow("syscalls", 0, {{"a", 1}}));
  window->set_window_end_ns(MonotonicNs() - 1000000);
  in_flight->OnWindowClosed(window);
  EXPECT_EQ(in_flight.use_count(), 1);  // The service let go of it.
}

TEST(MetricsServiceTest, ObservesWindowPublicationDelay) {
  testing::FakeBackend backend;
  MetricsService service(&backend, FakeStatus, /*monotonic=*/true);
  v1::AggregationResult window =
      testing::FakeBackend::MakeWindow("syscalls", 0, {{"a", 1}});
  // Ended 2 s ago (the fake's window start is ours to choose).
  window.set_window_end_ns(MonotonicNs() - 2000000000);
  backend.PublishWindow(window);
  const std::string text = service.Scrape();
  EXPECT_THAT(text,
              HasSubstr("ringwatch_window_publish_delay_seconds_count 1"));
  EXPECT_THAT(
      text, HasSubstr("ringwatch_window_publish_delay_seconds_bucket{le=\"1\"}"
                      " 0"));
  EXPECT_THAT(text,
              HasSubstr("ringwatch_window_publish_delay_seconds_bucket{le=\"2.5"
                        "\"} 1"));
}

TEST(MetricsServiceTest, ListenMovesOnlyWhenTheNewAddressBinds) {
  testing::FakeBackend backend;
  MetricsService service(&backend, FakeStatus, /*monotonic=*/true);
  EXPECT_EQ(service.address(), "");
  ASSERT_TRUE(service.Listen("127.0.0.1:0").ok());
  const std::string first = service.address();
  ASSERT_THAT(first, HasSubstr("127.0.0.1:"));
  EXPECT_THAT(first, Not(HasSubstr(":0")));

  // Another service holds a port: moving there fails and the old listener
  // keeps serving.
  MetricsService other(&backend, FakeStatus, /*monotonic=*/true);
  ASSERT_TRUE(other.Listen("127.0.0.1:0").ok());
  absl::Status moved = service.Listen(other.address());
  EXPECT_FALSE(moved.ok());
  EXPECT_THAT(std::string(moved.message()), HasSubstr(other.address()));
  EXPECT_THAT(std::string(moved.message()),
              HasSubstr("Address already in use"));
  EXPECT_EQ(service.address(), first);

  absl::Status bad = service.Listen("metrics.example:80");
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(service.address(), first);

  ASSERT_TRUE(service.Listen("").ok());
  EXPECT_EQ(service.address(), "");
}

}  // namespace
}  // namespace metrics
}  // namespace ringwatch
