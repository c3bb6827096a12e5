#include "daemon/event/event_catalog.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

EventFormat Event(const std::string& system, const std::string& name,
                  uint32_t id) {
  EventFormat f;
  f.system = system;
  f.name = name;
  f.id = id;
  return f;
}

std::string Message(const absl::Status& s) { return std::string(s.message()); }

class EventCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(catalog_.Add(Event("sched", "sched_switch", 372)).ok());
    ASSERT_TRUE(catalog_.Add(Event("sched", "sched_waking", 375)).ok());
    ASSERT_TRUE(catalog_.Add(Event("sched", "sched_wakeup", 374)).ok());
    ASSERT_TRUE(catalog_.Add(Event("raw_syscalls", "sys_enter", 443)).ok());
    ASSERT_TRUE(catalog_.Add(Event("raw_syscalls", "sys_exit", 442)).ok());
    ASSERT_TRUE(catalog_.Add(Event("irq", "irq_handler_entry", 225)).ok());
    // Two systems with the same event name (as with some probes).
    ASSERT_TRUE(catalog_.Add(Event("kprobes", "open", 2000)).ok());
    ASSERT_TRUE(catalog_.Add(Event("uprobes", "open", 2001)).ok());
  }
  EventCatalog catalog_;
};

TEST_F(EventCatalogTest, FindById) {
  ASSERT_NE(catalog_.FindById(372), nullptr);
  EXPECT_EQ(catalog_.FindById(372)->FullName(), "sched/sched_switch");
  EXPECT_EQ(catalog_.FindById(373), nullptr);  // A hole in the table.
  EXPECT_EQ(catalog_.FindById(0), nullptr);
  EXPECT_EQ(catalog_.FindById(65535), nullptr);
  EXPECT_EQ(catalog_.FindById(UINT32_MAX), nullptr);
  EXPECT_EQ(catalog_.size(), 8u);
}

TEST_F(EventCatalogTest, FindByFullAndUniqueBareName) {
  EXPECT_EQ(catalog_.FindByName("sched/sched_switch"), catalog_.FindById(372));
  EXPECT_EQ(catalog_.FindByName("sched_switch"), catalog_.FindById(372));
  EXPECT_EQ(catalog_.FindByName("kprobes/open"), catalog_.FindById(2000));
  EXPECT_EQ(catalog_.FindByName("open"), nullptr);  // Ambiguous.
  EXPECT_EQ(catalog_.FindByName("irq/sched_switch"), nullptr);
  EXPECT_EQ(catalog_.FindByName(""), nullptr);
}

TEST_F(EventCatalogTest, LookupSuggestsCloseMatches) {
  absl::StatusOr<const EventFormat*> f = catalog_.Lookup("sched/sched_swtich");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(f.status()),
              HasSubstr("unknown event 'sched/sched_swtich'; did you mean "
                        "sched/sched_switch"));
}

TEST_F(EventCatalogTest, LookupBareTypoSuggestsFullNames) {
  absl::StatusOr<const EventFormat*> f = catalog_.Lookup("sched_wake");
  ASSERT_FALSE(f.ok());
  // wakeup is 2 edits away, waking 3; switch is too far to suggest.
  EXPECT_EQ(Message(f.status()),
            "unknown event 'sched_wake'; did you mean sched/sched_wakeup or "
            "sched/sched_waking?");
}

TEST_F(EventCatalogTest, LookupSubstringFindsEvent) {
  absl::StatusOr<const EventFormat*> f = catalog_.Lookup("handler");
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(Message(f.status()),
              HasSubstr("did you mean irq/irq_handler_entry?"));
}

TEST_F(EventCatalogTest, LookupFarOffHasNoSuggestion) {
  absl::StatusOr<const EventFormat*> f = catalog_.Lookup("zzzzzzzzzzzz");
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(Message(f.status()), HasSubstr("unknown event 'zzzzzzzzzzzz'"));
  EXPECT_THAT(Message(f.status()), Not(HasSubstr("did you mean")));
}

TEST_F(EventCatalogTest, LookupAmbiguousBareName) {
  absl::StatusOr<const EventFormat*> f = catalog_.Lookup("open");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(f.status()),
              HasSubstr("'open' is ambiguous: kprobes/open, uprobes/open"));
}

TEST_F(EventCatalogTest, LookupFound) {
  absl::StatusOr<const EventFormat*> f = catalog_.Lookup("sys_exit");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->id, 442u);
}

TEST_F(EventCatalogTest, DuplicatesRejected) {
  absl::Status dup_id = catalog_.Add(Event("other", "thing", 372));
  EXPECT_EQ(dup_id.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(Message(dup_id), HasSubstr("already used by sched/sched_switch"));
  absl::Status dup_name = catalog_.Add(Event("sched", "sched_switch", 9));
  EXPECT_EQ(dup_name.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(catalog_.FindById(9), nullptr);  // Nothing half-added.
  EXPECT_EQ(catalog_.Add(Event("x", "big", 70000)).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(EventCatalogTest, AllIsSortedById) {
  std::vector<uint32_t> ids;
  for (const EventFormat* f : catalog_.All()) ids.push_back(f->id);
  EXPECT_THAT(ids, ElementsAre(225, 372, 374, 375, 442, 443, 2000, 2001));
}

TEST_F(EventCatalogTest, SkippedFormatsKeepFirstError) {
  EXPECT_EQ(catalog_.skipped(), 0u);
  catalog_.NoteSkipped("a: first");
  catalog_.NoteSkipped("b: second");
  EXPECT_EQ(catalog_.skipped(), 2u);
  EXPECT_EQ(catalog_.first_skip_error(), "a: first");
}

TEST_F(EventCatalogTest, MovedCatalogKeepsPointers) {
  const EventFormat* before = catalog_.FindById(372);
  EventCatalog moved = std::move(catalog_);
  EXPECT_EQ(moved.FindById(372), before);
  EXPECT_EQ(moved.FindByName("sched_switch"), before);
}

TEST(ClosestMatchesTest, AtMostThreeOrderedByDistance) {
  std::vector<std::string> names = {"a/abcd", "a/abce", "a/abcf", "a/abcg",
                                    "a/xyz"};
  EXPECT_THAT(ClosestMatches("abcd", names),
              ElementsAre("a/abcd", "a/abce", "a/abcf"));
  EXPECT_THAT(ClosestMatches("qqqqqqq", names), IsEmpty());
  EXPECT_THAT(ClosestMatches("abcd", {}), IsEmpty());
}

TEST(ClosestMatchesTest, HugeQueryIsCheap) {
  std::string huge(100000, 'a');
  EXPECT_THAT(ClosestMatches(huge, {"sched/sched_switch"}), IsEmpty());
}

}  // namespace
}  // namespace ringwatch
