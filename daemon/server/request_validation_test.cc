#include "daemon/server/request_validation.h"

#include <cmath>
#include <limits>
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

}  // namespace
}  // namespace ringwatch
