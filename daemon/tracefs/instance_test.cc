// Instance and LoadEventCatalog against a fake tracefs tree in a temporary
// directory: the error paths and file contents, without root or a kernel.
#include "daemon/tracefs/instance.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "daemon/util/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

std::string Fixture(const std::string& relative) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  std::string path = absl::StrCat(srcdir ? srcdir : ".",
                                  "/ringwatch/tests/data/formats/", relative);
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "missing fixture " << path;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void MakeDirs(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      ::mkdir(path.substr(0, i).c_str(), 0755);
    }
  }
}

void WriteFile(const std::string& path, const std::string& contents) {
  MakeDirs(path.substr(0, path.rfind('/')));
  std::ofstream out(path);
  out << contents;
}

std::string ReadFile(const std::string& path) {
  absl::StatusOr<std::string> s = ReadFileToString(path);
  return s.ok() ? *s : "<missing>";
}

class FakeTracefsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    root_ = absl::StrCat(
        tmp ? tmp : "/tmp", "/fake_tracefs_",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    MakeDirs(root_ + "/instances");
    WriteFile(root_ + "/events/header_page", Fixture("header_page"));
  }

  // Populates events/ of an instance like the kernel would.
  void AddEvent(const std::string& instance_path, const std::string& system,
                const std::string& event, const std::string& format) {
    std::string dir =
        absl::StrCat(instance_path, "/events/", system, "/", event);
    WriteFile(dir + "/format", format);
    WriteFile(dir + "/enable", "0\n");
  }

  std::string root_;
};

TEST_F(FakeTracefsTest, CreateOwnsAndRemovesOnDestruction) {
  std::string path;
  {
    absl::StatusOr<std::unique_ptr<Instance>> inst =
        Instance::Create(root_, "rw_a", false);
    ASSERT_TRUE(inst.ok()) << inst.status();
    path = (*inst)->path();
    EXPECT_EQ(path, root_ + "/instances/rw_a");
    EXPECT_TRUE((*inst)->owned());
    EXPECT_EQ((*inst)->CpuFile(1, "trace_pipe_raw"),
              path + "/per_cpu/cpu1/trace_pipe_raw");
    EXPECT_TRUE(PathExists(path));
  }
  EXPECT_FALSE(PathExists(path));
}

TEST_F(FakeTracefsTest, ReleaseKeepsTheDirectory) {
  std::string path;
  {
    absl::StatusOr<std::unique_ptr<Instance>> inst =
        Instance::Create(root_, "rw_b", false);
    ASSERT_TRUE(inst.ok());
    path = (*inst)->path();
    (*inst)->Release();
  }
  EXPECT_TRUE(PathExists(path));
}

TEST_F(FakeTracefsTest, MoveTransfersOwnership) {
  absl::StatusOr<std::unique_ptr<Instance>> inst =
      Instance::Create(root_, "rw_move", false);
  ASSERT_TRUE(inst.ok());
  std::string path = (*inst)->path();
  {
    Instance moved = std::move(**inst);
    EXPECT_TRUE(moved.owned());
    EXPECT_FALSE((*inst)->owned());
    EXPECT_TRUE((*inst)->path().empty());
  }
  // The moved-to object removed it; the moved-from one has nothing to do.
  EXPECT_FALSE(PathExists(path));
  EXPECT_EQ((*inst)->Remove().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(FakeTracefsTest, ExistingInstance) {
  MakeDirs(root_ + "/instances/rw_taken");
  absl::StatusOr<std::unique_ptr<Instance>> inst =
      Instance::Create(root_, "rw_taken", false);
  ASSERT_FALSE(inst.ok());
  EXPECT_EQ(inst.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(Message(inst.status()),
              HasSubstr("tracefs instance 'rw_taken' already exists at " +
                        root_ + "/instances/rw_taken"));
  inst = Instance::Create(root_, "rw_taken", true);
  ASSERT_TRUE(inst.ok());
  EXPECT_FALSE((*inst)->owned());
  inst->reset();
  EXPECT_TRUE(PathExists(root_ + "/instances/rw_taken"));
}

TEST_F(FakeTracefsTest, NoInstancesDirectory) {
  absl::StatusOr<std::unique_ptr<Instance>> inst =
      Instance::Create(root_ + "/nowhere", "rw_x", false);
  ASSERT_FALSE(inst.ok());
  EXPECT_EQ(inst.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(inst.status()),
              HasSubstr(root_ + "/nowhere/instances does not exist"));
}

TEST_F(FakeTracefsTest, InvalidNames) {
  for (const char* bad : {"", ".", "..", "a/b", "a b", "x\n"}) {
    absl::StatusOr<std::unique_ptr<Instance>> inst =
        Instance::Create(root_, bad, false);
    EXPECT_EQ(inst.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_THAT(Message(ValidateInstanceName("a/b")),
              HasSubstr("character '/' is not allowed"));
  EXPECT_TRUE(ValidateInstanceName("ringwatch-1.x_y").ok());
}

TEST_F(FakeTracefsTest, EnableWritesTheEnableFile) {
  absl::StatusOr<std::unique_ptr<Instance>> inst =
      Instance::Create(root_, "rw_events", false);
  ASSERT_TRUE(inst.ok());
  Instance& i = **inst;
  AddEvent(i.path(), "sched", "sched_switch", "");
  AddEvent(i.path(), "sched", "sched_wakeup", "");
  AddEvent(i.path(), "kprobes", "open", "");
  AddEvent(i.path(), "uprobes", "open", "");
  ASSERT_TRUE(i.EnableEvent("sched/sched_switch").ok());
  EXPECT_EQ(ReadFile(i.File("events/sched/sched_switch/enable")), "1");
  ASSERT_TRUE(i.DisableEvent("sched_switch").ok());
  EXPECT_EQ(ReadFile(i.File("events/sched/sched_switch/enable")), "0");

  absl::StatusOr<std::vector<std::string>> names = i.EventNames();
  ASSERT_TRUE(names.ok());
  EXPECT_THAT(*names, ElementsAre("kprobes/open", "sched/sched_switch",
                                  "sched/sched_wakeup", "uprobes/open"));

  absl::Status unknown = i.EnableEvent("sched/sched_wakeupp");
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Message(unknown),
            "unknown event 'sched/sched_wakeupp'; did you mean "
            "sched/sched_wakeup?");
  absl::Status ambiguous = i.EnableEvent("open");
  EXPECT_EQ(ambiguous.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(ambiguous), HasSubstr("kprobes/open, uprobes/open"));
  // Names that could smuggle a path or a command are just unknown.
  EXPECT_EQ(i.EnableEvent("sched/../sched/sched_switch").code(),
            absl::StatusCode::kNotFound);
  (*inst)->Release();  // The fake events/ tree makes rmdir fail.
}

TEST_F(FakeTracefsTest, ControlFileErrorsNameThePath) {
  absl::StatusOr<std::unique_ptr<Instance>> inst =
      Instance::Create(root_, "rw_ctl", false);
  ASSERT_TRUE(inst.ok());
  absl::Status s = (*inst)->SetBufferPercent(50);  // No such file here.
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(s), HasSubstr("set buffer_percent: write '50' to " +
                                    (*inst)->path() + "/buffer_percent"));
  WriteFile((*inst)->File("buffer_percent"), "");
  ASSERT_TRUE((*inst)->SetBufferPercent(50).ok());
  EXPECT_EQ(ReadFile((*inst)->File("buffer_percent")), "50");
  WriteFile((*inst)->File("trace_clock"),
            "[local] global counter uptime perf mono mono_raw boot\n");
  absl::StatusOr<std::vector<std::string>> clocks =
      (*inst)->AvailableTraceClocks();
  ASSERT_TRUE(clocks.ok());
  EXPECT_EQ(clocks->size(), 8u);
  EXPECT_EQ(clocks->front(), "local");
  EXPECT_EQ(*(*inst)->TraceClock(), "local");
  WriteFile((*inst)->File("buffer_size_kb"), "7 (expanded: 1408)\n");
  absl::StatusOr<uint32_t> kb = (*inst)->BufferSizeKb();
  ASSERT_TRUE(kb.ok()) << kb.status();
  EXPECT_EQ(*kb, 1408u);
  (*inst)->Release();
}

TEST_F(FakeTracefsTest, LoadCatalogSkipsAndCountsBadFormats) {
  absl::StatusOr<std::unique_ptr<Instance>> inst =
      Instance::Create(root_, "rw_cat", false);
  ASSERT_TRUE(inst.ok());
  Instance& i = **inst;
  AddEvent(i.path(), "sched", "sched_switch",
           Fixture("sched/sched_switch.format"));
  AddEvent(i.path(), "raw_syscalls", "sys_enter",
           Fixture("raw_syscalls/sys_enter.format"));
  AddEvent(i.path(), "broken", "bad", "name: bad\nID: 9\nformat:\n\tjunk\n");
  // Same id as sched_switch, read after it (systems are read in sorted
  // order): left out, counted.
  std::string clash = Fixture("irq/irq_handler_exit.format");
  clash.replace(clash.find("ID: 224"), 7, "ID: 372");
  AddEvent(i.path(), "zz", "irq_handler_exit", clash);
  WriteFile(i.File("events/enable"), "0\n");  // Files are not systems.

  absl::StatusOr<EventCatalog> catalog = i.LoadCatalog();
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  EXPECT_EQ(catalog->size(), 2u);
  EXPECT_NE(catalog->FindByName("sched/sched_switch"), nullptr);
  EXPECT_NE(catalog->FindById(443), nullptr);
  EXPECT_EQ(catalog->skipped(), 2u);
  // Directories are read in sorted order: broken/ comes first.
  EXPECT_THAT(
      catalog->first_skip_error(),
      HasSubstr(i.path() + "/events/broken/bad/format: event 'broken/bad' "
                           "format line 4: unexpected line 'junk'"));
  // header_page came from the top level (instances have none).
  EXPECT_EQ(catalog->header_page().data_offset, 16u);
  (*inst)->Release();
}

TEST_F(FakeTracefsTest, LoadCatalogWithoutHeaderPageFails) {
  absl::StatusOr<EventCatalog> catalog =
      LoadEventCatalog(root_ + "/events", root_ + "/no_header_page");
  ASSERT_FALSE(catalog.ok());
  EXPECT_THAT(Message(catalog.status()), HasSubstr(root_ + "/no_header_page"));
}

}  // namespace
}  // namespace ringwatch
