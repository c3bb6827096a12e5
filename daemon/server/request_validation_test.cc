#include "daemon/server/request_validation.h"

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

std::vector<v1::EventDescriptor> Events() {
  std::vector<v1::EventDescriptor> events(2);
  events[0].set_system("sched");
  events[0].set_event("sched_switch");
  events[1].set_system("raw_syscalls");
  events[1].set_event("sys_enter");
  return events;
}

absl::StatusOr<StreamRate> Validate(const v1::StreamEventsRequest& request) {
  return ValidateStreamEventsRequest(request, /*default_rate=*/100,
                                     /*max_rate=*/10000, Events());
}

TEST(ValidateStreamEventsRequestTest, DefaultsRateAndBurst) {
  v1::StreamEventsRequest request;
  absl::StatusOr<StreamRate> rate = Validate(request);
  ASSERT_TRUE(rate.ok()) << rate.status();
  EXPECT_EQ(rate->events_per_second, 100);
  EXPECT_EQ(rate->burst, 100u);
  request.set_max_events_per_second(0.25);
  rate = Validate(request);
  ASSERT_TRUE(rate.ok()) << rate.status();
  EXPECT_EQ(rate->burst, 1u);  // At least one event may pass.
  request.set_burst(7);
  EXPECT_EQ(Validate(request)->burst, 7u);
}

TEST(ValidateStreamEventsRequestTest, RefusesBadRates) {
  for (double bad :
       {-1.0, std::nan(""), 10000.5, std::numeric_limits<double>::infinity()}) {
    v1::StreamEventsRequest request;
    request.set_max_events_per_second(bad);
    absl::StatusOr<StreamRate> rate = Validate(request);
    ASSERT_FALSE(rate.ok()) << bad;
    EXPECT_EQ(rate.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(
        absl::StrContains(rate.status().message(), "max_events_per_second"))
        << rate.status();
  }
}

TEST(ValidateStreamEventsRequestTest, EveryGlobMustMatchAnEvent) {
  v1::StreamEventsRequest request;
  request.add_events("sched/*");
  request.add_events("sys_enter");
  EXPECT_TRUE(Validate(request).ok());
  request.add_events("irq/*");
  absl::StatusOr<StreamRate> rate = Validate(request);
  ASSERT_FALSE(rate.ok());
  EXPECT_TRUE(absl::StrContains(rate.status().message(), "'irq/*'"))
      << rate.status();
}

TEST(ValidateStreamEventsRequestTest, CapsWhatOneRequestMayList) {
  struct Case {
    std::string name;
    std::function<void(v1::StreamEventsRequest*)> fill;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"globs",
       [](v1::StreamEventsRequest* r) {
         for (int i = 0; i <= kMaxStreamGlobs; ++i) r->add_events("sched/*");
       },
       "globs; at most 64"},
      {"long glob",
       [](v1::StreamEventsRequest* r) {
         r->add_events(std::string(kMaxStreamGlobLength + 1, '*'));
       },
       "bytes; at most 256"},
      {"cpus",
       [](v1::StreamEventsRequest* r) {
         for (int i = 0; i <= kMaxStreamCpus; ++i) r->add_cpus(0);
       },
       "CPUs; at most 1024"},
      {"cpu number",
       [](v1::StreamEventsRequest* r) { r->add_cpus(kMaxCpuNumber + 1); },
       "cpus: 8192 is not a CPU number"},
      {"pids",
       [](v1::StreamEventsRequest* r) {
         for (int i = 0; i <= kMaxStreamPids; ++i) r->add_pids(1);
       },
       "pids; at most 1024"},
      {"negative pid", [](v1::StreamEventsRequest* r) { r->add_pids(-5); },
       "pids: -5 is not a pid"},
      {"burst", [](v1::StreamEventsRequest* r) { r->set_burst(10001); },
       "burst 10001 is above the server's cap"},
  };
  for (const Case& c : cases) {
    v1::StreamEventsRequest request;
    c.fill(&request);
    absl::StatusOr<StreamRate> rate = Validate(request);
    ASSERT_FALSE(rate.ok()) << c.name;
    EXPECT_EQ(rate.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(rate.status().message(), c.expected))
        << c.name << ": " << rate.status();
  }
  // At the caps, accepted.
  v1::StreamEventsRequest request;
  for (int i = 0; i < kMaxStreamGlobs; ++i) request.add_events("sched/*");
  for (int i = 0; i < kMaxStreamCpus; ++i) request.add_cpus(kMaxCpuNumber);
  for (int i = 0; i < kMaxStreamPids; ++i) request.add_pids(kMaxPid);
  request.set_burst(10000);
  EXPECT_TRUE(Validate(request).ok()) << Validate(request).status();
}

TEST(ValidateSnapshotRequestTest, DefaultsAndRefusals) {
  v1::SnapshotRequest request;
  int version = 0;
  absl::StatusOr<uint64_t> span = ValidateSnapshotRequest(request, &version);
  ASSERT_TRUE(span.ok()) << span.status();
  EXPECT_EQ(*span, 0u);
  EXPECT_EQ(version, 7);
  request.set_seconds(2.5);
  request.set_file_version(6);
  span = ValidateSnapshotRequest(request, &version);
  ASSERT_TRUE(span.ok()) << span.status();
  EXPECT_EQ(*span, 2'500'000'000u);
  EXPECT_EQ(version, 6);
  for (double bad : {-1.0, 3601.0, std::nan("")}) {
    request.set_seconds(bad);
    span = ValidateSnapshotRequest(request, &version);
    ASSERT_FALSE(span.ok()) << bad;
    EXPECT_TRUE(absl::StrContains(span.status().message(), "seconds is"))
        << span.status();
  }
  request.set_seconds(1);
  request.set_file_version(5);
  span = ValidateSnapshotRequest(request, &version);
  ASSERT_FALSE(span.ok());
  EXPECT_TRUE(absl::StrContains(span.status().message(), "file_version 5"))
      << span.status();
}

}  // namespace
}  // namespace ringwatch
