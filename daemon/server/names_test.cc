#include "daemon/server/names.h"

#include "gtest/gtest.h"

namespace ringwatch {
namespace {

TEST(NamesTest, AggregationIdAcceptsBothForms) {
  EXPECT_EQ(*AggregationIdFromName("aggregations/syscalls"), "syscalls");
  EXPECT_EQ(*AggregationIdFromName("sched-lat_1.v2"), "sched-lat_1.v2");
  EXPECT_EQ(AggregationName("x"), "aggregations/x");
}

TEST(NamesTest, AggregationIdRejectsWhatIsNotAnId) {
  for (const char* bad : {"", "aggregations/", "a/b", "aggregations/a b",
                          "events/sched/sched_switch"}) {
    auto id = AggregationIdFromName(bad);
    ASSERT_FALSE(id.ok()) << bad;
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(id.status().message().find("aggregations/{id}"),
              absl::string_view::npos)
        << id.status();
  }
}

TEST(NamesTest, EventGlobs) {
  EXPECT_TRUE(EventGlobMatches("", "sched", "sched_switch"));
  EXPECT_TRUE(EventGlobMatches("sched/*", "sched", "sched_switch"));
  EXPECT_TRUE(EventGlobMatches("events/sched/*", "sched", "sched_switch"));
  EXPECT_TRUE(EventGlobMatches("sched_switch", "sched", "sched_switch"));
  EXPECT_TRUE(EventGlobMatches("*switch", "sched", "sched_switch"));
  EXPECT_FALSE(EventGlobMatches("sched/*", "irq", "irq_handler_entry"));
  EXPECT_FALSE(EventGlobMatches("sched", "sched", "sched_switch"));
  EXPECT_TRUE(
      EventGlobMatches("*/sys_enter_open?t", "syscalls", "sys_enter_openat"));
}

TEST(NamesTest, KeyFilterIsSubstringUnlessItHasWildcards) {
  EXPECT_TRUE(KeyFilterMatches("", "anything"));
  EXPECT_TRUE(KeyFilterMatches("ngin", "nginx,1234"));
  EXPECT_FALSE(KeyFilterMatches("ngin*", "worker,nginx"));
  EXPECT_TRUE(KeyFilterMatches("*,1234", "nginx,1234"));
  EXPECT_FALSE(KeyFilterMatches("*,123", "nginx,1234"));
}

TEST(NamesTest, JoinNamesCapsTheList) {
  EXPECT_EQ(JoinNames({}), "(none)");
  EXPECT_EQ(JoinNames({"a", "b"}), "a, b");
  EXPECT_EQ(JoinNames({"a", "b", "c", "d"}, 2), "a, b and 2 more");
}

}  // namespace
}  // namespace ringwatch
