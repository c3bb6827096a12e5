#include "daemon/event/event_format.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::HasSubstr;

// Fixtures captured from this kernel's tracefs (tests/data/formats).
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

// One expected field, written out by hand from the format file.
struct Expected {
  const char* name;
  const char* type;
  uint32_t offset;
  uint32_t size;
  bool is_signed;
  FieldKind kind;
  uint32_t element_size;
  uint32_t array_length;
  bool is_string;
};

constexpr FieldKind kScalar = FieldKind::kScalar;
constexpr FieldKind kFixed = FieldKind::kFixedArray;
constexpr FieldKind kDataLoc = FieldKind::kDataLoc;
constexpr FieldKind kRelLoc = FieldKind::kRelLoc;
constexpr FieldKind kFlex = FieldKind::kFlexArray;

// The four common fields every event of this kernel starts with.
const std::vector<Expected>& CommonFields() {
  static const auto* const kCommon = new std::vector<Expected>{
      {"common_type", "unsigned short", 0, 2, false, kScalar, 2, 0, false},
      {"common_flags", "unsigned char", 2, 1, false, kScalar, 1, 0, false},
      {"common_preempt_count", "unsigned char", 3, 1, false, kScalar, 1, 0,
       false},
      {"common_pid", "int", 4, 4, true, kScalar, 4, 0, false},
  };
  return *kCommon;
}

void ExpectField(const FieldFormat& got, const Expected& want, bool common) {
  SCOPED_TRACE(want.name);
  EXPECT_EQ(got.name, want.name);
  EXPECT_EQ(got.type, want.type);
  EXPECT_EQ(got.offset, want.offset);
  EXPECT_EQ(got.size, want.size);
  EXPECT_EQ(got.is_signed, want.is_signed);
  EXPECT_EQ(got.kind, want.kind);
  EXPECT_EQ(got.element_size, want.element_size);
  EXPECT_EQ(got.array_length, want.array_length);
  EXPECT_EQ(got.is_string, want.is_string);
  EXPECT_EQ(got.is_common, common);
}

// Parses fixture `system/event.format` and checks id, name and every field.
void ExpectLayout(const std::string& system, const std::string& event,
                  uint32_t id, const std::vector<Expected>& fields) {
  SCOPED_TRACE(system + "/" + event);
  absl::StatusOr<EventFormat> format =
      ParseEventFormat(system, Fixture(system + "/" + event + ".format"));
  ASSERT_TRUE(format.ok()) << format.status();
  EXPECT_EQ(format->system, system);
  EXPECT_EQ(format->name, event);
  EXPECT_EQ(format->FullName(), system + "/" + event);
  EXPECT_EQ(format->id, id);
  const std::vector<Expected>& common = CommonFields();
  ASSERT_EQ(format->fields.size(), common.size() + fields.size());
  for (size_t i = 0; i < common.size(); ++i) {
    ExpectField(format->fields[i], common[i], true);
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    ExpectField(format->fields[common.size() + i], fields[i], false);
  }
  EXPECT_FALSE(format->print_fmt.empty());
  EXPECT_EQ(format->print_fmt.front(), '"');
}

TEST(EventFormatTest, SchedSwitch) {
  ExpectLayout(
      "sched", "sched_switch", 372,
      {
          {"prev_comm", "char[16]", 8, 16, false, kFixed, 1, 16, true},
          {"prev_pid", "pid_t", 24, 4, true, kScalar, 4, 0, false},
          {"prev_prio", "int", 28, 4, true, kScalar, 4, 0, false},
          {"prev_state", "long", 32, 8, true, kScalar, 8, 0, false},
          {"next_comm", "char[16]", 40, 16, false, kFixed, 1, 16, true},
          {"next_pid", "pid_t", 56, 4, true, kScalar, 4, 0, false},
          {"next_prio", "int", 60, 4, true, kScalar, 4, 0, false},
      });
}

TEST(EventFormatTest, SchedSwitchPrintFormat) {
  absl::StatusOr<EventFormat> format =
      ParseEventFormat("sched", Fixture("sched/sched_switch.format"));
  ASSERT_TRUE(format.ok()) << format.status();
  EXPECT_THAT(format->print_fmt,
              ::testing::StartsWith("\"prev_comm=%s prev_pid=%d"));
  EXPECT_THAT(format->print_fmt, ::testing::EndsWith("REC->next_prio"));
}

TEST(EventFormatTest, SchedWakingAndWakeup) {
  std::vector<Expected> fields = {
      {"comm", "char[16]", 8, 16, false, kFixed, 1, 16, true},
      {"pid", "pid_t", 24, 4, true, kScalar, 4, 0, false},
      {"prio", "int", 28, 4, true, kScalar, 4, 0, false},
      {"target_cpu", "int", 32, 4, true, kScalar, 4, 0, false},
  };
  ExpectLayout("sched", "sched_waking", 375, fields);
  ExpectLayout("sched", "sched_wakeup", 374, fields);
}

TEST(EventFormatTest, SchedProcessExecHasDataLoc) {
  ExpectLayout(
      "sched", "sched_process_exec", 365,
      {
          {"filename", "__data_loc char[]", 8, 4, false, kDataLoc, 1, 0, true},
          {"pid", "pid_t", 12, 4, true, kScalar, 4, 0, false},
          {"old_pid", "pid_t", 16, 4, true, kScalar, 4, 0, false},
      });
}

TEST(EventFormatTest, SysEnterHasUnsignedLongArray) {
  ExpectLayout(
      "raw_syscalls", "sys_enter", 443,
      {
          {"id", "long", 8, 8, true, kScalar, 8, 0, false},
          {"args", "unsigned long[6]", 16, 48, false, kFixed, 8, 6, false},
      });
}

TEST(EventFormatTest, SysExit) {
  ExpectLayout("raw_syscalls", "sys_exit", 442,
               {
                   {"id", "long", 8, 8, true, kScalar, 8, 0, false},
                   {"ret", "long", 16, 8, true, kScalar, 8, 0, false},
               });
}

TEST(EventFormatTest, FtracePrintHasFlexibleCharArray) {
  ExpectLayout("ftrace", "print", 5,
               {
                   {"ip", "unsigned long", 8, 8, false, kScalar, 8, 0, false},
                   {"buf", "char[]", 16, 0, false, kFlex, 1, 0, true},
               });
}

TEST(EventFormatTest, FtraceBprintAndFunctionHaveTypedFlexibleArrays) {
  ExpectLayout("ftrace", "bprint", 6,
               {
                   {"ip", "unsigned long", 8, 8, false, kScalar, 8, 0, false},
                   {"fmt", "const char *", 16, 8, false, kScalar, 8, 0, false},
                   {"buf", "u32[]", 24, 0, false, kFlex, 4, 0, false},
               });
  ExpectLayout(
      "ftrace", "function", 1,
      {
          {"ip", "unsigned long", 8, 8, false, kScalar, 8, 0, false},
          {"parent_ip", "unsigned long", 16, 8, false, kScalar, 8, 0, false},
          {"args", "unsigned long[]", 24, 0, false, kFlex, 8, 0, false},
      });
}

TEST(EventFormatTest, IrqHandlerEntryHasDataLocName) {
  ExpectLayout(
      "irq", "irq_handler_entry", 225,
      {
          {"irq", "int", 8, 4, true, kScalar, 4, 0, false},
          {"name", "__data_loc char[]", 12, 4, false, kDataLoc, 1, 0, true},
      });
}

TEST(EventFormatTest, IrqHandlerExit) {
  ExpectLayout("irq", "irq_handler_exit", 224,
               {
                   {"irq", "int", 8, 4, true, kScalar, 4, 0, false},
                   {"ret", "int", 12, 4, true, kScalar, 4, 0, false},
               });
}

TEST(EventFormatTest, BlockRqIssue) {
  ExpectLayout(
      "block", "block_rq_issue", 2104,
      {
          {"dev", "dev_t", 8, 4, false, kScalar, 4, 0, false},
          {"sector", "sector_t", 16, 8, false, kScalar, 8, 0, false},
          {"nr_sector", "unsigned int", 24, 4, false, kScalar, 4, 0, false},
          {"bytes", "unsigned int", 28, 4, false, kScalar, 4, 0, false},
          {"ioprio", "unsigned short", 32, 2, false, kScalar, 2, 0, false},
          {"rwbs", "char[10]", 34, 10, false, kFixed, 1, 10, true},
          {"comm", "char[16]", 44, 16, false, kFixed, 1, 16, true},
          {"cmd", "__data_loc char[]", 60, 4, false, kDataLoc, 1, 0, true},
      });
}

TEST(EventFormatTest, BlockRqComplete) {
  ExpectLayout(
      "block", "block_rq_complete", 2107,
      {
          {"dev", "dev_t", 8, 4, false, kScalar, 4, 0, false},
          {"sector", "sector_t", 16, 8, false, kScalar, 8, 0, false},
          {"nr_sector", "unsigned int", 24, 4, false, kScalar, 4, 0, false},
          {"error", "int", 28, 4, true, kScalar, 4, 0, false},
          {"ioprio", "unsigned short", 32, 2, false, kScalar, 2, 0, false},
          {"rwbs", "char[10]", 34, 10, false, kFixed, 1, 10, true},
          {"cmd", "__data_loc char[]", 44, 4, false, kDataLoc, 1, 0, true},
      });
}

TEST(EventFormatTest, SysEnterOpenatHasPointerAndWidenedInts) {
  // Syscall events store every argument in 8 bytes whatever its C type.
  ExpectLayout(
      "syscalls", "sys_enter_openat", 782,
      {
          {"__syscall_nr", "int", 8, 4, true, kScalar, 4, 0, false},
          {"dfd", "int", 16, 8, false, kScalar, 8, 0, false},
          {"filename", "const char *", 24, 8, false, kScalar, 8, 0, false},
          {"flags", "int", 32, 8, false, kScalar, 8, 0, false},
          {"mode", "umode_t", 40, 8, false, kScalar, 8, 0, false},
      });
}

TEST(EventFormatTest, IpiSendCpumaskHasDataLocOfOpaqueType) {
  ExpectLayout("ipi", "ipi_send_cpumask", 353,
               {
                   {"cpumask", "__data_loc cpumask_t", 8, 4, false, kDataLoc, 1,
                    0, false},
                   {"callsite", "void *", 16, 8, false, kScalar, 8, 0, false},
                   {"callback", "void *", 24, 8, false, kScalar, 8, 0, false},
               });
}

// No event on this kernel uses __rel_loc (grep found none, and there is no
// user_events support to make one), so this is the layout the kernel's
// samples/trace_events module prints for its foo_rel_loc event.
constexpr char kRelLocFormat[] =
    "name: foo_rel_loc\n"
    "ID: 1700\n"
    "format:\n"
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;"
    "\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
    "\n"
    "\tfield:u64 foo;\toffset:8;\tsize:8;\tsigned:0;\n"
    "\tfield:__rel_loc char[] foo;\toffset:16;\tsize:4;\tsigned:0;\n"
    "\tfield:__rel_loc u32[] bitmask;\toffset:20;\tsize:4;\tsigned:0;\n"
    "\n"
    "print fmt: \"foo_rel_loc %s, %u\", __get_rel_str(foo), REC->foo\n";

TEST(EventFormatTest, RelLocFields) {
  std::string text = kRelLocFormat;
  // Rename the first `foo` so names are unique (the sample's real one is
  // `bar`).
  text.replace(text.find("u64 foo"), 7, "u64 bar");
  absl::StatusOr<EventFormat> format = ParseEventFormat("sample", text);
  ASSERT_TRUE(format.ok()) << format.status();
  ASSERT_EQ(format->fields.size(), 7u);
  ExpectField(format->fields[5],
              {"foo", "__rel_loc char[]", 16, 4, false, kRelLoc, 1, 0, true},
              false);
  ExpectField(
      format->fields[6],
      {"bitmask", "__rel_loc u32[]", 20, 4, false, kRelLoc, 4, 0, false},
      false);
}

TEST(EventFormatTest, DataLocOfU32Array) {
  absl::StatusOr<FieldFormat> f = ParseFieldLine(
      "\tfield:__data_loc u32[] ids;\toffset:8;\tsize:4;\tsigned:0;");
  ASSERT_TRUE(f.ok()) << f.status();
  ExpectField(*f,
              {"ids", "__data_loc u32[]", 8, 4, false, kDataLoc, 4, 0, false},
              false);
}

TEST(EventFormatTest, MacroArrayLengthIsDerivedFromSize) {
  absl::StatusOr<FieldFormat> comm = ParseFieldLine(
      "field:char comm[TASK_COMM_LEN];\toffset:8;\tsize:16;\tsigned:0;");
  ASSERT_TRUE(comm.ok()) << comm.status();
  ExpectField(
      *comm, {"comm", "char[TASK_COMM_LEN]", 8, 16, false, kFixed, 1, 16, true},
      false);
  absl::StatusOr<FieldFormat> words = ParseFieldLine(
      "field:unsigned long mask[BITS_TO_LONGS(64)];\toffset:24;\tsize:16;"
      "\tsigned:0;");
  ASSERT_TRUE(words.ok()) << words.status();
  EXPECT_EQ(words->element_size, 8u);
  EXPECT_EQ(words->array_length, 2u);
  EXPECT_EQ(words->type, "unsigned long[BITS_TO_LONGS(64)]");
}

TEST(EventFormatTest, UnknownTypesAreOpaqueBytes) {
  absl::StatusOr<FieldFormat> s = ParseFieldLine(
      "field:struct in6_addr saddr;\toffset:8;\tsize:16;\tsigned:0;");
  ASSERT_TRUE(s.ok()) << s.status();
  ExpectField(*s,
              {"saddr", "struct in6_addr", 8, 16, false, kScalar, 16, 0, false},
              false);
  absl::StatusOr<FieldFormat> arr = ParseFieldLine(
      "field:struct foo things[SOME_LEN];\toffset:8;\tsize:24;\tsigned:0;");
  ASSERT_TRUE(arr.ok()) << arr.status();
  EXPECT_EQ(arr->kind, kFixed);
  EXPECT_EQ(arr->element_size, 1u);
  EXPECT_EQ(arr->array_length, 24u);
}

TEST(EventFormatTest, BoolPointerPointerAndUnsignedCharArray) {
  absl::StatusOr<FieldFormat> b =
      ParseFieldLine("field:bool ok;\toffset:8;\tsize:1;\tsigned:0;");
  ASSERT_TRUE(b.ok());
  ExpectField(*b, {"ok", "bool", 8, 1, false, kScalar, 1, 0, false}, false);
  absl::StatusOr<FieldFormat> pp = ParseFieldLine(
      "field:struct iocb * * iocbpp;\toffset:16;\tsize:8;\tsigned:0;");
  ASSERT_TRUE(pp.ok());
  EXPECT_EQ(pp->name, "iocbpp");
  EXPECT_EQ(pp->type, "struct iocb * *");
  absl::StatusOr<FieldFormat> mac = ParseFieldLine(
      "field:unsigned char addr[6];\toffset:8;\tsize:6;\tsigned:0;");
  ASSERT_TRUE(mac.ok());
  EXPECT_TRUE(mac->is_string);
  EXPECT_EQ(mac->array_length, 6u);
  absl::StatusOr<FieldFormat> u8s =
      ParseFieldLine("field:u8 key[16];\toffset:8;\tsize:16;\tsigned:0;");
  ASSERT_TRUE(u8s.ok());
  EXPECT_FALSE(u8s->is_string);
}

TEST(EventFormatTest, SignedIsOptionalAsOnOldKernels) {
  absl::StatusOr<FieldFormat> f =
      ParseFieldLine("field:int x;\toffset:8;\tsize:4;");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_FALSE(f->is_signed);
}

TEST(EventFormatTest, FindField) {
  absl::StatusOr<EventFormat> format =
      ParseEventFormat("sched", Fixture("sched/sched_switch.format"));
  ASSERT_TRUE(format.ok());
  ASSERT_NE(format->FindField("next_pid"), nullptr);
  EXPECT_EQ(format->FindField("next_pid")->offset, 56u);
  EXPECT_EQ(format->FindField("no_such_field"), nullptr);
}

// Replaces the first occurrence of `from` in the sched_switch fixture.
std::string MutatedSchedSwitch(const std::string& from, const std::string& to) {
  std::string text = Fixture("sched/sched_switch.format");
  size_t pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) text.replace(pos, from.size(), to);
  return text;
}

void ExpectError(const std::string& text, const std::string& line,
                 const std::string& reason) {
  absl::StatusOr<EventFormat> format = ParseEventFormat("sched", text);
  ASSERT_FALSE(format.ok());
  EXPECT_EQ(format.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(format.status().message()), HasSubstr(line));
  EXPECT_THAT(std::string(format.status().message()), HasSubstr(reason));
}

TEST(EventFormatTest, ErrorsNameTheLineAndReason) {
  ExpectError(MutatedSchedSwitch("offset:24;", "offset:x24;"), "line 10",
              "'offset' has value 'x24'");
  ExpectError(MutatedSchedSwitch("\tsize:4;\tsigned:1;\n\tfield:int prev_prio",
                                 "\tsigned:1;\n\tfield:int prev_prio"),
              "line 10", "has no size");
  ExpectError(MutatedSchedSwitch("ID: 372", "ID: 70000"), "line 2",
              "exceeds 65535");
  ExpectError(MutatedSchedSwitch("ID: 372", "ID: -1"), "line 2",
              "ID '-1' is not a number");
  ExpectError(MutatedSchedSwitch("prev_prio;", "prev_pid;"), "line 11",
              "duplicate field 'prev_pid'");
  ExpectError(MutatedSchedSwitch("prev_comm[16];\toffset:8;\tsize:16",
                                 "prev_comm[3];\toffset:8;\tsize:16"),
              "line 9", "not a multiple of its length");
  ExpectError(MutatedSchedSwitch("signed:1;", "signed:2;"), "line 7",
              "'signed' is 2");
  ExpectError(MutatedSchedSwitch("format:\n", "format:\nbogus line\n"),
              "line 4", "unexpected line 'bogus line'");
  ExpectError(MutatedSchedSwitch("field:pid_t prev_pid;", "field:pid_t;"),
              "line 10", "no type for field 'pid_t'");
  ExpectError(MutatedSchedSwitch("field:pid_t prev_pid;", "field:[;"),
              "line 10", "");
  ExpectError(MutatedSchedSwitch("\nprint fmt:", "\nprint fnt:"), "line 17",
              "unexpected line");
  ExpectError(MutatedSchedSwitch("name: sched_switch\n", ""), "event format",
              "no 'name:' line");
  ExpectError(MutatedSchedSwitch("ID: 372\n", ""), "sched/sched_switch",
              "no 'ID:' line");
}

TEST(EventFormatTest, DataLocMustBeFourBytes) {
  absl::StatusOr<FieldFormat> f = ParseFieldLine(
      "field:__data_loc char[] name;\toffset:12;\tsize:2;\tsigned:0;");
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(std::string(f.status().message()),
              HasSubstr("__data_loc field 'name' has size 2"));
}

TEST(EventFormatTest, OffsetPlusSizeOverflowIsRejected) {
  absl::StatusOr<FieldFormat> f = ParseFieldLine(
      "field:char x[8];\toffset:4294967295;\tsize:8;\tsigned:0;");
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(std::string(f.status().message()), HasSubstr("overflows"));
}

TEST(EventFormatTest, EmptyInputIsAnError) {
  absl::StatusOr<EventFormat> f = ParseEventFormat("x", "");
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(std::string(f.status().message()), HasSubstr("no 'name:' line"));
}

TEST(EventFormatTest, KnownTypeSizes) {
  EXPECT_EQ(KnownTypeSize("unsigned long"), 8u);
  EXPECT_EQ(KnownTypeSize("const char *"), 8u);
  EXPECT_EQ(KnownTypeSize("pid_t"), 4u);
  EXPECT_EQ(KnownTypeSize("const unsigned char"), 1u);
  EXPECT_EQ(KnownTypeSize("struct foo"), 0u);
}

}  // namespace
}  // namespace ringwatch
