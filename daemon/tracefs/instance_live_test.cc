// Instance against the running kernel, each test in its own instance.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "daemon/event/event_format.h"
#include "daemon/tracefs/instance.h"
#include "daemon/tracefs/testing/live_instance.h"
#include "daemon/util/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

bool DirExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string ReadTrimmed(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  return text.ok() ? std::string(absl::StripAsciiWhitespace(*text))
                   : "<" + text.status().ToString() + ">";
}

TEST(InstanceLiveTest, LiveInstanceIsRemovedAtScopeEnd) {
  std::string path;
  {
    RW_LIVE_INSTANCE_OR_SKIP(live, "scope");
    path = live->path();
    EXPECT_TRUE(DirExists(path));
    EXPECT_TRUE(live->owned());
    EXPECT_THAT(live->name(),
                HasSubstr(absl::StrCat("rwtest_scope_", ::getpid(), "_")));
  }
  EXPECT_FALSE(DirExists(path)) << path;
}

TEST(InstanceLiveTest, StaleInstanceOfDeadPidIsRemoved) {
  RW_LIVE_INSTANCE_OR_SKIP(live, "stale");
  // A child that exits at once leaves a pid that is certainly dead (it is
  // reaped before we look) and cannot be reused while we hold no reference;
  // the name mimics a test killed with -9.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  int status;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  std::string stale_name = absl::StrCat("rwtest_killed_", child, "_0");
  absl::StatusOr<std::unique_ptr<Instance>> stale =
      Instance::Create(live.tracefs_root(), stale_name, false);
  ASSERT_TRUE(stale.ok()) << stale.status();
  std::string stale_path = (*stale)->path();
  (*stale)->Release();  // As if its owner had been killed.
  // Live tests running beside this one sweep the same leftovers, so which
  // sweep removed it is not fixed; that it is gone after ours is.
  LiveInstance::RemoveStaleInstances(live.tracefs_root());
  EXPECT_FALSE(DirExists(stale_path));
  // Our own (live pid) instance is left alone.
  EXPECT_TRUE(DirExists(live->path()));
}

TEST(InstanceLiveTest, CreateExistingWithoutReuseFails) {
  RW_LIVE_INSTANCE_OR_SKIP(live, "exists");
  absl::StatusOr<std::unique_ptr<Instance>> again =
      Instance::Create(live.tracefs_root(), live->name(), false);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr(live->path()));
}

TEST(InstanceLiveTest, ReuseExistingDoesNotOwnIt) {
  RW_LIVE_INSTANCE_OR_SKIP(live, "reuse");
  {
    absl::StatusOr<std::unique_ptr<Instance>> reused =
        Instance::Create(live.tracefs_root(), live->name(), true);
    ASSERT_TRUE(reused.ok()) << reused.status();
    EXPECT_FALSE((*reused)->owned());
    EXPECT_EQ((*reused)->path(), live->path());
  }
  // Destroying the non-owning handle left the directory in place.
  EXPECT_TRUE(DirExists(live->path()));
}

TEST(InstanceLiveTest, OpenMissingIsNotFound) {
  RW_LIVE_INSTANCE_OR_SKIP(live, "open_missing");
  absl::StatusOr<std::unique_ptr<Instance>> missing =
      Instance::Open(live.tracefs_root(), "rw_no_such_instance_here");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(),
              HasSubstr("instances/rw_no_such_instance_here"));
}

TEST(InstanceLiveTest, RemoveThenVanishedIsNotFound) {
  RW_LIVE_INSTANCE_OR_SKIP(live, "remove");
  absl::StatusOr<std::unique_ptr<Instance>> other = Instance::Create(
      live.tracefs_root(), live->name() + "_b", /*reuse_existing=*/false);
  ASSERT_TRUE(other.ok()) << other.status();
  std::string path = (*other)->path();
  // Someone else removes it underneath the owner.
  ASSERT_EQ(::rmdir(path.c_str()), 0);
  absl::Status removed = (*other)->Remove();
  EXPECT_EQ(removed.code(), absl::StatusCode::kNotFound) << removed;
  EXPECT_THAT(removed.message(), HasSubstr(path));
  EXPECT_FALSE((*other)->owned());
}

TEST(InstanceLiveTest, RemoveWhileFileOpenIsBusy) {
  RW_LIVE_INSTANCE_OR_SKIP(live, "busy");
  absl::StatusOr<std::unique_ptr<Instance>> other = Instance::Create(
      live.tracefs_root(), live->name() + "_b", /*reuse_existing=*/false);
  ASSERT_TRUE(other.ok()) << other.status();
  int fd = ::open((*other)->CpuFile(0, "trace_pipe_raw").c_str(),
                  O_RDONLY | O_NONBLOCK);
  ASSERT_GE(fd, 0);
  absl::Status busy = (*other)->Remove();
  EXPECT_EQ(busy.code(), absl::StatusCode::kFailedPrecondition) << busy;
  EXPECT_THAT(busy.message(), HasSubstr("EBUSY"));
  EXPECT_TRUE((*other)->owned());
  ::close(fd);
  EXPECT_TRUE((*other)->Remove().ok());
  EXPECT_FALSE(DirExists((*other)->path()));
}

TEST(InstanceLiveTest, EnableAndDisableRealEvent) {
  RW_LIVE_INSTANCE_OR_SKIP(live, "enable");
  ASSERT_TRUE(live->EnableEvent("sched/sched_switch").ok());
  ASSERT_TRUE(live->EnableEvent("sched_waking").ok());  // Unique bare name.
  EXPECT_THAT(ReadTrimmed(live->File("set_event")),
              HasSubstr("sched:sched_switch"));
  absl::StatusOr<std::vector<std::string>> enabled = live->EnabledEvents();
  ASSERT_TRUE(enabled.ok()) << enabled.status();
  EXPECT_THAT(*enabled,
              ElementsAre("sched/sched_switch", "sched/sched_waking"));

  ASSERT_TRUE(live->DisableEvent("sched/sched_switch").ok());
  enabled = live->EnabledEvents();
  ASSERT_TRUE(enabled.ok());
  EXPECT_THAT(*enabled, ElementsAre("sched/sched_waking"));

  ASSERT_TRUE(live->DisableAllEvents().ok());
  enabled = live->EnabledEvents();
  ASSERT_TRUE(enabled.ok());
  EXPECT_THAT(*enabled, IsEmpty());
}

TEST(InstanceLiveTest, FtraceOwnEventsAreAlwaysOn) {
  RW_LIVE_INSTANCE_OR_SKIP(live, "always_on");
  // ftrace/print (trace_marker) has no enable file; an aggregation on it
  // once stopped the daemon from starting.
  absl::Status s = live->EnableEvent("ftrace/print");
  EXPECT_TRUE(s.ok()) << s;
  s = live->DisableEvent("ftrace/print");
  EXPECT_TRUE(s.ok()) << s;
  absl::StatusOr<std::vector<std::string>> enabled = live->EnabledEvents();
  ASSERT_TRUE(enabled.ok());
  EXPECT_THAT(*enabled, IsEmpty());
}

TEST(InstanceLiveTest, UnknownEventSuggestsCloseNames) {
  RW_LIVE_INSTANCE_OR_SKIP(live, "unknown");
  absl::Status s = live->EnableEvent("sched/sched_swtich");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("unknown event 'sched/sched_swtich'"));
  EXPECT_THAT(s.message(), HasSubstr("did you mean sched/sched_switch"));
  // Nothing was written anywhere.
  absl::StatusOr<std::vector<std::string>> enabled = live->EnabledEvents();
  ASSERT_TRUE(enabled.ok());
  EXPECT_THAT(*enabled, IsEmpty());
}

TEST(InstanceLiveTest, BufferSizeClockAndPercent) {
  RW_LIVE_INSTANCE_OR_SKIP(live, "settings");
  ASSERT_TRUE(live->SetBufferSizeKb(256).ok());
  absl::StatusOr<uint32_t> kb = live->BufferSizeKb();
  ASSERT_TRUE(kb.ok()) << kb.status();
  // The kernel rounds up to whole sub-buffers (258 here for 256).
  EXPECT_GE(*kb, 256u);
  EXPECT_LT(*kb, 256u + 16u);
  ASSERT_TRUE(live->SetBufferSizeKb(1024).ok());
  kb = live->BufferSizeKb();
  ASSERT_TRUE(kb.ok());
  EXPECT_GE(*kb, 1024u);
  EXPECT_LT(*kb, 1024u + 32u);
  EXPECT_EQ(live->SetBufferSizeKb(0).code(),
            absl::StatusCode::kInvalidArgument);

  ASSERT_TRUE(live->SetTraceClock("mono").ok());
  EXPECT_THAT(ReadTrimmed(live->File("trace_clock")), HasSubstr("[mono]"));
  absl::StatusOr<std::string> clock = live->TraceClock();
  ASSERT_TRUE(clock.ok());
  EXPECT_EQ(*clock, "mono");
  absl::Status bad_clock = live->SetTraceClock("sundial");
  EXPECT_EQ(bad_clock.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_clock.message(), HasSubstr("unknown trace clock 'sundial'"));
  EXPECT_THAT(bad_clock.message(), HasSubstr("boot"));

  ASSERT_TRUE(live->SetBufferPercent(25).ok());
  EXPECT_EQ(ReadTrimmed(live->File("buffer_percent")), "25");
  EXPECT_EQ(live->SetBufferPercent(101).code(),
            absl::StatusCode::kInvalidArgument);

  ASSERT_TRUE(live->SetTracingOn(false).ok());
  EXPECT_EQ(ReadTrimmed(live->File("tracing_on")), "0");
  ASSERT_TRUE(live->SetTracingOn(true).ok());
  absl::StatusOr<bool> on = live->TracingOn();
  ASSERT_TRUE(on.ok());
  EXPECT_TRUE(*on);
}

TEST(InstanceLiveTest, EventPidIsSetWithForkFollowingAndCleared) {
  RW_LIVE_INSTANCE_OR_SKIP(live, "eventpid");
  ASSERT_TRUE(live->SetEventPid({::getpid()}, /*follow_forks=*/true).ok());
  EXPECT_EQ(ReadTrimmed(live->File("set_event_pid")), absl::StrCat(::getpid()));
  EXPECT_EQ(ReadTrimmed(live->File("options/event-fork")), "1");
  ASSERT_TRUE(live->SetEventPid({}, /*follow_forks=*/false).ok());
  EXPECT_EQ(ReadTrimmed(live->File("set_event_pid")), "");
  EXPECT_EQ(ReadTrimmed(live->File("options/event-fork")), "0");
  EXPECT_EQ(live->SetEventPid({0}, false).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(InstanceLiveTest, MarkerLandsInTheInstanceAndClearEmptiesIt) {
  RW_LIVE_INSTANCE_OR_SKIP(live, "marker");
  ASSERT_TRUE(live->SetTracingOn(true).ok());
  ASSERT_TRUE(live->WriteMarker("ringwatch-live-marker").ok());
  EXPECT_THAT(ReadTrimmed(live->File("trace")),
              HasSubstr("ringwatch-live-marker"));
  ASSERT_TRUE(live->Clear().ok());
  EXPECT_THAT(ReadTrimmed(live->File("trace")),
              Not(HasSubstr("ringwatch-live-marker")));
}

TEST(InstanceLiveTest, LoadCatalogMatchesFormatFile) {
  RW_LIVE_INSTANCE_OR_SKIP(live, "catalog");
  absl::StatusOr<EventCatalog> catalog = live->LoadCatalog();
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  EXPECT_GT(catalog->size(), 100u);
  EXPECT_EQ(catalog->skipped(), 0u) << catalog->first_skip_error();
  EXPECT_EQ(catalog->header_page().commit_size, 8u);
  EXPECT_EQ(catalog->header_page().data_offset, 16u);

  const EventFormat* sw = catalog->FindByName("sched/sched_switch");
  ASSERT_NE(sw, nullptr);
  // The id the kernel prints in the format file.
  std::string text =
      ReadTrimmed(live->File("events/sched/sched_switch/format"));
  size_t id_pos = text.find("ID: ");
  ASSERT_NE(id_pos, std::string::npos);
  uint32_t id;
  ASSERT_TRUE(absl::SimpleAtoi(
      text.substr(id_pos + 4, text.find('\n', id_pos) - id_pos - 4), &id));
  EXPECT_EQ(sw->id, id);
  EXPECT_EQ(catalog->FindById(id), sw);

  const FieldFormat* prev_comm = sw->FindField("prev_comm");
  ASSERT_NE(prev_comm, nullptr);
  EXPECT_EQ(prev_comm->kind, FieldKind::kFixedArray);
  EXPECT_EQ(prev_comm->size, 16u);
  EXPECT_TRUE(prev_comm->is_string);
  const FieldFormat* next_pid = sw->FindField("next_pid");
  ASSERT_NE(next_pid, nullptr);
  EXPECT_EQ(next_pid->size, 4u);
  EXPECT_TRUE(next_pid->is_signed);
  EXPECT_EQ(sw->fields.front().name, "common_type");
}

}  // namespace
}  // namespace ringwatch
