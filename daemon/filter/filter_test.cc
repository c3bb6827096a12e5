#include "daemon/filter/filter.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "daemon/event/event_format.h"
#include "daemon/filter/filter_testing.h"
#include "daemon/filter/glob.h"
#include "daemon/ring/record.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using filter_testing::PayloadBuilder;

EventFormat MustParse(absl::string_view system, absl::string_view text) {
  absl::StatusOr<EventFormat> format = ParseEventFormat(system, text);
  EXPECT_TRUE(format.ok()) << format.status();
  return format.ok() ? *std::move(format) : EventFormat{};
}

const EventFormat& SchedSwitch() {
  static const EventFormat* f =
      new EventFormat(MustParse("sched", filter_testing::kSchedSwitchFormat));
  return *f;
}
const EventFormat& ProcessExec() {
  static const EventFormat* f = new EventFormat(
      MustParse("sched", filter_testing::kSchedProcessExecFormat));
  return *f;
}
const EventFormat& FtracePrint() {
  static const EventFormat* f =
      new EventFormat(MustParse("ftrace", filter_testing::kFtracePrintFormat));
  return *f;
}
const EventFormat& SysEnter() {
  static const EventFormat* f = new EventFormat(
      MustParse("raw_syscalls", filter_testing::kRawSyscallsSysEnterFormat));
  return *f;
}
const EventFormat& SchedWakeup() {
  static const EventFormat* f =
      new EventFormat(MustParse("sched", filter_testing::kSchedWakeupFormat));
  return *f;
}
const EventFormat& WakeIdle() {
  static const EventFormat* f =
      new EventFormat(MustParse("sched", filter_testing::kSchedWakeIdleFormat));
  return *f;
}
const EventFormat& RelSample() {
  static const EventFormat* f =
      new EventFormat(MustParse("sample", filter_testing::kRelLocFormat));
  return *f;
}

// The error message CompileFilter gives, or "OK".
std::string CompileError(absl::string_view expression,
                         const EventFormat& format) {
  absl::StatusOr<CompiledFilter> filter = CompileFilter(expression, format);
  if (filter.ok()) return "OK";
  EXPECT_EQ(filter.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(filter.status().message());
}

// A sched_switch from swapper/1 (pid 0) to kworker/1:2 (pid 1234) on CPU 1,
// laid out as the format above says.
PayloadBuilder SwitchPayload(int64_t prev_state = 0) {
  PayloadBuilder b(64);
  b.Int(0, 2, 372)                                    // common_type
      .Int(2, 1, 0x01)                                // common_flags: irqs-off
      .Int(3, 1, 0)                                   // common_preempt_count
      .Int(4, 4, 0)                                   // common_pid
      .Text(8, "swapper/1")                           // prev_comm[16]
      .Int(24, 4, 0)                                  // prev_pid
      .Int(28, 4, 120)                                // prev_prio
      .Int(32, 8, static_cast<uint64_t>(prev_state))  // prev_state
      .Text(40, "kworker/1:2")                        // next_comm[16]
      .Int(56, 4, 1234)                               // next_pid
      .Int(60, 4, 120);                               // next_prio
  return b;
}

RecordView Record(absl::Span<const uint8_t> payload, uint32_t cpu = 1) {
  RecordView r;
  r.cpu = cpu;
  r.timestamp = 1000;
  r.payload = payload;
  return r;
}

// Compiles (asserting success) and evaluates.
FilterResult Eval(absl::string_view expression, const EventFormat& format,
                  absl::Span<const uint8_t> payload, uint32_t cpu = 1) {
  absl::StatusOr<CompiledFilter> filter = CompileFilter(expression, format);
  EXPECT_TRUE(filter.ok()) << expression << ": " << filter.status();
  if (!filter.ok()) return FilterResult::kTruncated;
  FilterResult result = filter->Evaluate(Record(payload, cpu));
  EXPECT_EQ(filter->Matches(Record(payload, cpu)),
            result == FilterResult::kMatch);
  return result;
}

bool Match(absl::string_view expression, const EventFormat& format,
           absl::Span<const uint8_t> payload, uint32_t cpu = 1) {
  return Eval(expression, format, payload, cpu) == FilterResult::kMatch;
}

TEST(CompileFilterTest, UnknownFieldSuggestsCloseMatches) {
  EXPECT_EQ(CompileError("prev_pdi == 1", SchedSwitch()),
            "filter on sched/sched_switch: column 1: unknown field 'prev_pdi' "
            "in sched/sched_switch; did you mean prev_pid, prev_prio?");
  EXPECT_EQ(CompileError("next_pid > 0 && pid == 1", SchedSwitch()),
            "filter on sched/sched_switch: column 17: unknown field 'pid' in "
            "sched/sched_switch; did you mean common_pid, prev_pid, next_pid?");
  EXPECT_EQ(CompileError("zzzzzz == 1", SchedSwitch()),
            "filter on sched/sched_switch: column 1: unknown field 'zzzzzz' in "
            "sched/sched_switch");
}

TEST(CompileFilterTest, CommOnlyWhereTheEventHasIt) {
  EXPECT_EQ(CompileError("comm == \"bash\"", SchedSwitch()),
            "filter on sched/sched_switch: column 1: event sched/sched_switch "
            "has no 'comm' field (comm is only available on events that record "
            "it); did you mean prev_comm, next_comm?");
  EXPECT_EQ(CompileError("comm == \"bash\"", SchedWakeup()), "OK");
}

TEST(CompileFilterTest, OperatorMustFitTheType) {
  EXPECT_EQ(CompileError("prev_comm > 3", SchedSwitch()),
            "filter on sched/sched_switch: column 11: operator '>' is not "
            "valid for string field 'prev_comm' (char[16]); use ==, != or ~");
  EXPECT_EQ(CompileError("filename & 1", ProcessExec()),
            "filter on sched/sched_process_exec: column 10: operator '&' is "
            "not valid for string field 'filename' (__data_loc char[]); use "
            "==, != or ~");
  EXPECT_EQ(CompileError("prev_pid ~ \"1*\"", SchedSwitch()),
            "filter on sched/sched_switch: column 10: operator '~' needs a "
            "string field; 'prev_pid' (pid_t) is an integer");
  EXPECT_EQ(CompileError("cpu ~ 1", SchedSwitch()),
            "filter on sched/sched_switch: column 5: operator '~' needs a "
            "string field; 'cpu' (cpu) is an integer");
}

TEST(CompileFilterTest, BadConstants) {
  const std::string prefix = "filter on sched/sched_switch: column 13: ";
  EXPECT_EQ(CompileError("prev_pid == abc", SchedSwitch()),
            prefix +
                "bad constant 'abc' for signed field 'prev_pid': not a "
                "decimal number");
  EXPECT_EQ(CompileError("prev_pid == 12x", SchedSwitch()),
            prefix +
                "bad constant '12x' for signed field 'prev_pid': not a "
                "decimal number");
  EXPECT_EQ(CompileError("prev_pid == 0xfg", SchedSwitch()),
            prefix +
                "bad constant '0xfg' for signed field 'prev_pid': not a hex "
                "number");
  EXPECT_EQ(
      CompileError("prev_pid == 0x", SchedSwitch()),
      prefix + "bad constant '0x' for signed field 'prev_pid': not a number");
  EXPECT_EQ(CompileError("prev_pid == 010", SchedSwitch()),
            prefix +
                "bad constant '010' for signed field 'prev_pid': leading zero "
                "(octal is not supported; write it in decimal or 0x hex)");
  EXPECT_EQ(CompileError("prev_pid == 18446744073709551616", SchedSwitch()),
            prefix +
                "bad constant '18446744073709551616' for signed field "
                "'prev_pid': out of the range of a 64-bit integer");
  EXPECT_EQ(CompileError("prev_pid == 9223372036854775808", SchedSwitch()),
            prefix +
                "bad constant '9223372036854775808' for signed field "
                "'prev_pid': out of the range of a signed 64-bit integer");
  EXPECT_EQ(CompileError("prev_pid == -9223372036854775808", SchedSwitch()),
            "OK");
  EXPECT_EQ(CompileError("prev_pid == \"5\"", SchedSwitch()),
            prefix +
                "integer field 'prev_pid' is compared with a string; "
                "expected a number");
  EXPECT_EQ(CompileError("common_type == -1", SchedSwitch()),
            "filter on sched/sched_switch: column 16: bad constant '-1' for "
            "unsigned field 'common_type': negative, but the field is "
            "unsigned");
  EXPECT_EQ(CompileError("common_type == -0", SchedSwitch()), "OK");
  EXPECT_EQ(CompileError("args[0] == 18446744073709551615", SysEnter()), "OK");
  EXPECT_EQ(CompileError("next_comm ~ \"kw[ab\"", SchedSwitch()),
            "filter on sched/sched_switch: column 13: unterminated '[' at "
            "offset 2 of the glob pattern");
}

TEST(CompileFilterTest, SyntaxErrorsNameTheEventAndColumn) {
  EXPECT_EQ(CompileError("(prev_pid == 1", SchedSwitch()),
            "filter on sched/sched_switch: column 1: unbalanced '(': no ')' "
            "closes it");
  EXPECT_EQ(CompileError("prev_pid == 1)", SchedSwitch()),
            "filter on sched/sched_switch: column 14: unbalanced ')': no '(' "
            "to close");
  EXPECT_EQ(CompileError("prev_pid == 1 next_pid", SchedSwitch()),
            "filter on sched/sched_switch: column 15: unexpected 'next_pid' "
            "after a complete expression; expected && or ||");
  EXPECT_EQ(CompileError("prev_pid ==", SchedSwitch()),
            "filter on sched/sched_switch: column 12: missing value after "
            "'=='");
  EXPECT_EQ(CompileError("prev_pid == 1 && ()", SchedSwitch()),
            "filter on sched/sched_switch: column 18: empty parentheses");
}

TEST(CompileFilterTest, ArraysAndIndexes) {
  EXPECT_EQ(CompileError("args == 1", SysEnter()),
            "filter on raw_syscalls/sys_enter: column 1: field 'args' "
            "(unsigned long[6]) is an array; compare one element, e.g. "
            "args[0]");
  EXPECT_EQ(CompileError("args[6] == 1", SysEnter()),
            "filter on raw_syscalls/sys_enter: column 1: index 6 is out of "
            "range for field 'args' (unsigned long[6]) of 6 elements");
  EXPECT_EQ(CompileError("id[0] == 1", SysEnter()),
            "filter on raw_syscalls/sys_enter: column 1: field 'id' (long) is "
            "not a fixed-size array and cannot be indexed");
  EXPECT_EQ(CompileError("cpu[0] == 1", SysEnter()),
            "filter on raw_syscalls/sys_enter: column 1: 'cpu' is not an "
            "array");
  EXPECT_EQ(CompileError("digest == 1", RelSample()),
            "filter on sample/rel_sample: column 1: field 'digest' (__u8[16]) "
            "is an array; compare one element, e.g. digest[0]");
  EXPECT_EQ(CompileError("args[5] == 1 && prev_comm[0] == 0x61", SysEnter()),
            "filter on raw_syscalls/sys_enter: column 17: unknown field "
            "'prev_comm' in raw_syscalls/sys_enter");
  // An element of a char array is an integer.
  EXPECT_EQ(CompileError("prev_comm[0] == 0x73", SchedSwitch()), "OK");
}

TEST(CompileFilterTest, EmptyExpressionIsAlwaysTrue) {
  for (absl::string_view text : {"", "   ", "\n\t"}) {
    absl::StatusOr<CompiledFilter> filter = CompileFilter(text, SchedSwitch());
    ASSERT_TRUE(filter.ok());
    EXPECT_TRUE(filter->always_true());
    EXPECT_EQ(filter->size(), 0);
    // Even a record too short for any field matches.
    EXPECT_TRUE(filter->Matches(Record({})));
  }
  CompiledFilter by_default;
  EXPECT_TRUE(by_default.always_true());
  EXPECT_TRUE(by_default.Matches(Record({})));

  absl::StatusOr<CompiledFilter> real =
      CompileFilter("prev_pid == 1 || next_pid == 2", SchedSwitch());
  ASSERT_TRUE(real.ok());
  EXPECT_FALSE(real->always_true());
  EXPECT_EQ(real->size(), 2);
  EXPECT_EQ(real->expression(), "prev_pid == 1 || next_pid == 2");
}

TEST(FilterEvalTest, SchedSwitchIntegers) {
  PayloadBuilder p = SwitchPayload();
  auto s = p.span();
  EXPECT_TRUE(Match("prev_pid == 0", SchedSwitch(), s));
  EXPECT_TRUE(Match("next_pid == 1234", SchedSwitch(), s));
  EXPECT_FALSE(Match("next_pid != 1234", SchedSwitch(), s));
  EXPECT_TRUE(Match("next_pid == 0x4d2", SchedSwitch(), s));
  EXPECT_TRUE(Match("next_pid > 1000 && next_pid < 2000", SchedSwitch(), s));
  EXPECT_TRUE(Match("next_pid >= 1234 && next_pid <= 1234", SchedSwitch(), s));
  EXPECT_FALSE(Match("next_pid > 1234", SchedSwitch(), s));
  EXPECT_FALSE(Match("next_pid < 1234", SchedSwitch(), s));
  EXPECT_TRUE(Match("next_prio == 120 && prev_prio == 120", SchedSwitch(), s));
  EXPECT_TRUE(Match("common_type == 372", SchedSwitch(), s));
  EXPECT_TRUE(Match("common_flags & 1", SchedSwitch(), s));
  EXPECT_FALSE(Match("common_flags & 2", SchedSwitch(), s));
  EXPECT_TRUE(Match("common_pid == 0", SchedSwitch(), s));
  EXPECT_TRUE(Match("prev_comm[0] == 0x73", SchedSwitch(), s));  // 's'
}

TEST(FilterEvalTest, SignedValuesCompareSigned) {
  // prev_state is a signed long; -1 must be below 0, not 2^64-1.
  PayloadBuilder p = SwitchPayload(-1);
  EXPECT_TRUE(Match("prev_state < 0", SchedSwitch(), p.span()));
  EXPECT_TRUE(Match("prev_state == -1", SchedSwitch(), p.span()));
  EXPECT_TRUE(Match("prev_state == -0x1", SchedSwitch(), p.span()));
  EXPECT_FALSE(Match("prev_state > 0", SchedSwitch(), p.span()));
  // Constants for a signed field must fit int64, hex ones too; bit 62 is set
  // in -1.
  EXPECT_EQ(CompileError("prev_state & 0x8000000000000000", SchedSwitch()),
            "filter on sched/sched_switch: column 14: bad constant "
            "'0x8000000000000000' for signed field 'prev_state': out of the "
            "range of a signed 64-bit integer");
  EXPECT_TRUE(
      Match("prev_state & 0x4000000000000000", SchedSwitch(), p.span()));

  // A 4-byte signed field sign-extends.
  PayloadBuilder q = SwitchPayload();
  q.Int(56, 4, 0xfffffffe);  // next_pid = -2
  EXPECT_TRUE(Match("next_pid == -2", SchedSwitch(), q.span()));
  EXPECT_TRUE(Match("next_pid < -1", SchedSwitch(), q.span()));
}

TEST(FilterEvalTest, UnsignedValuesCompareUnsigned) {
  PayloadBuilder p(64);
  p.Int(0, 2, 443).Int(8, 8, 0).Int(16, 8, ~uint64_t{0}).Int(24, 8, 3);
  // args[0] = 2^64-1 is above every signed constant.
  EXPECT_TRUE(Match("args[0] > 0x7fffffffffffffff", SysEnter(), p.span()));
  EXPECT_TRUE(Match("args[0] == 18446744073709551615", SysEnter(), p.span()));
  EXPECT_TRUE(Match("args[0] == 0xffffffffffffffff", SysEnter(), p.span()));
  EXPECT_TRUE(
      Match("id == 0 && args[1] & 2 && args[1] < 4", SysEnter(), p.span()));
  EXPECT_FALSE(Match("args[1] & 4", SysEnter(), p.span()));
  // A u8 holding 255 is 255, not -1.
  PayloadBuilder r(32);
  r.Int(14, 1, 0xff);
  EXPECT_TRUE(Match("flag == 255", RelSample(), r.span()));
  EXPECT_TRUE(Match("flag > 254", RelSample(), r.span()));
  EXPECT_FALSE(Match("flag == 0xffffffffffffffff", RelSample(), r.span()));
}

TEST(FilterEvalTest, BitTestOnPrevState) {
  // TASK_UNINTERRUPTIBLE is 2 ("D").
  EXPECT_TRUE(Match("prev_state & 2", SchedSwitch(), SwitchPayload(2).span()));
  EXPECT_FALSE(Match("prev_state & 2", SchedSwitch(), SwitchPayload(1).span()));
  EXPECT_TRUE(Match("prev_state & 3", SchedSwitch(), SwitchPayload(1).span()));
  EXPECT_FALSE(Match("prev_state & 0", SchedSwitch(), SwitchPayload(7).span()));
  EXPECT_TRUE(
      Match("!(prev_state & 2)", SchedSwitch(), SwitchPayload(0).span()));
}

TEST(FilterEvalTest, FixedCharArrays) {
  PayloadBuilder p = SwitchPayload();
  auto s = p.span();
  EXPECT_TRUE(Match("next_comm == \"kworker/1:2\"", SchedSwitch(), s));
  EXPECT_TRUE(Match("next_comm == kworker/1:2", SchedSwitch(), s));
  EXPECT_FALSE(Match("next_comm == \"kworker/1:\"", SchedSwitch(), s));
  EXPECT_FALSE(Match("next_comm == \"kworker/1:23\"", SchedSwitch(), s));
  EXPECT_TRUE(Match("next_comm != \"bash\"", SchedSwitch(), s));
  EXPECT_FALSE(Match("next_comm != \"kworker/1:2\"", SchedSwitch(), s));
  EXPECT_TRUE(Match("next_comm ~ \"kworker*\"", SchedSwitch(), s));
  EXPECT_TRUE(Match("next_comm ~ kworker/?:*", SchedSwitch(), s));
  EXPECT_TRUE(Match("prev_comm ~ \"swapper/[0-9]\"", SchedSwitch(), s));
  EXPECT_FALSE(Match("prev_comm ~ \"swapper\"", SchedSwitch(), s));
  EXPECT_TRUE(Match("prev_comm ~ '*'", SchedSwitch(), s));

  // A comm that fills all 16 bytes has no NUL: it ends at the array's end.
  PayloadBuilder full = SwitchPayload();
  full.Text(40, "0123456789abcdef");
  EXPECT_TRUE(
      Match("next_comm == \"0123456789abcdef\"", SchedSwitch(), full.span()));
  EXPECT_TRUE(Match("next_comm ~ \"*def\"", SchedSwitch(), full.span()));
  // And the empty comm.
  PayloadBuilder empty = SwitchPayload();
  empty.Text(40, std::string(16, '\0'));
  EXPECT_TRUE(Match("next_comm == \"\"", SchedSwitch(), empty.span()));
}

TEST(FilterEvalTest, GlobShortcutsAgreeWithGlobMatch) {
  // Prefix, suffix, contains and plain forms take shortcuts; all must agree
  // with the general matcher.
  const char* const kPatterns[] = {
      "",    "*",    "**",   "kw*",     "*:2",         "*work*",        "*1:2*",
      "k*2", "[k]*", "*[2]", "kworker", "kworker/1:2", "*kworker/1:2*", "?*",
      "*x*"};
  const char* const kComms[] = {"kworker/1:2", "", "k", "bash", "worker"};
  for (const char* comm : kComms) {
    PayloadBuilder p = SwitchPayload();
    p.Text(40, std::string(16, '\0')).Text(40, comm);
    for (const char* pattern : kPatterns) {
      std::string expression = absl::StrCat("next_comm ~ \"", pattern, "\"");
      EXPECT_EQ(Match(expression, SchedSwitch(), p.span()),
                GlobMatch(pattern, comm))
          << expression << " on '" << comm << "'";
    }
  }
}

TEST(FilterEvalTest, LogicAndPrecedence) {
  PayloadBuilder p = SwitchPayload();
  auto s = p.span();
  // a || b && c with a true, b false, c false: true only if && binds first.
  EXPECT_TRUE(Match("prev_pid == 0 || next_pid == 1 && next_prio == 1",
                    SchedSwitch(), s));
  EXPECT_FALSE(Match("(prev_pid == 0 || next_pid == 1) && next_prio == 1",
                     SchedSwitch(), s));
  EXPECT_FALSE(Match("!(next_pid == 1234)", SchedSwitch(), s));
  EXPECT_TRUE(Match("!!(next_pid == 1234)", SchedSwitch(), s));
  EXPECT_TRUE(Match("!next_pid == 1 && !(prev_pid != 0)", SchedSwitch(), s));
  EXPECT_TRUE(Match("!(prev_pid == 1 || next_pid == 1) && (prev_prio == 120)",
                    SchedSwitch(), s));
  EXPECT_FALSE(Match("prev_pid == 1 || next_pid == 1 || prev_prio == 1",
                     SchedSwitch(), s));
  EXPECT_TRUE(Match("prev_pid == 1 || next_pid == 1 || prev_prio == 120",
                    SchedSwitch(), s));
}

TEST(FilterEvalTest, CpuPseudoField) {
  PayloadBuilder p = SwitchPayload();
  EXPECT_TRUE(Match("cpu == 3", SchedSwitch(), p.span(), 3));
  EXPECT_FALSE(Match("cpu == 3", SchedSwitch(), p.span(), 1));
  EXPECT_TRUE(Match("CPU < 2 && next_pid == 1234", SchedSwitch(), p.span(), 1));
  EXPECT_EQ(CompileError("cpu == -1", SchedSwitch()),
            "filter on sched/sched_switch: column 8: bad constant '-1' for "
            "unsigned field 'cpu': negative, but the field is unsigned");
}

TEST(FilterEvalTest, EventFieldNamedCpuWinsOverThePseudoField) {
  PayloadBuilder p(12);
  p.Int(0, 2, 355).Int(8, 4, 7);  // The woken CPU is 7.
  EXPECT_TRUE(Match("cpu == 7", WakeIdle(), p.span(), /*cpu=*/0));
  EXPECT_FALSE(Match("cpu == 0", WakeIdle(), p.span(), /*cpu=*/0));
}

TEST(FilterEvalTest, CommWhereTheEventHasIt) {
  PayloadBuilder p(36);
  p.Int(0, 2, 374).Text(8, "bash").Int(24, 4, 999).Int(32, 4, 1);
  EXPECT_TRUE(
      Match("comm == \"bash\" && target_cpu == 1", SchedWakeup(), p.span()));
  EXPECT_TRUE(Match("comm ~ \"ba*\" && pid == 999", SchedWakeup(), p.span()));
}

TEST(FilterEvalTest, DataLocStrings) {
  // filename's locator at 8: 12 bytes ("/usr/bin/ls" and its NUL) at 20.
  PayloadBuilder p(32);
  p.Int(0, 2, 365).Loc(8, 20, 12).Int(12, 4, 42).Int(16, 4, 42).Text(
      20, "/usr/bin/ls");
  auto s = p.span();
  EXPECT_TRUE(Match("filename == \"/usr/bin/ls\"", ProcessExec(), s));
  EXPECT_FALSE(Match("filename == \"/usr/bin/l\"", ProcessExec(), s));
  EXPECT_TRUE(Match("filename ~ \"/usr/bin/*\"", ProcessExec(), s));
  EXPECT_TRUE(Match("filename ~ \"*/ls\" && pid == 42", ProcessExec(), s));
  EXPECT_TRUE(Match("filename != \"/bin/sh\"", ProcessExec(), s));

  // Zero length: the empty string.
  PayloadBuilder empty(32);
  empty.Loc(8, 20, 0);
  EXPECT_TRUE(Match("filename == \"\"", ProcessExec(), empty.span()));

  // A locator pointing past the payload: truncated, never a read past it.
  PayloadBuilder bad(32);
  bad.Loc(8, 30, 12);
  EXPECT_EQ(Eval("filename == \"x\"", ProcessExec(), bad.span()),
            FilterResult::kTruncated);
  EXPECT_EQ(Eval("filename != \"x\"", ProcessExec(), bad.span()),
            FilterResult::kTruncated);
  bad.Loc(8, 0xffff, 0xffff);
  EXPECT_EQ(Eval("filename ~ \"*\"", ProcessExec(), bad.span()),
            FilterResult::kTruncated);
}

TEST(FilterEvalTest, RelLocStrings) {
  // name's locator at 8 ends at 12; the text sits at 32 = 12 + 20.
  PayloadBuilder p(40);
  p.Int(0, 2, 900)
      .Loc(8, 20, 4)
      .Int(12, 2, 0xfffb)
      .Int(14, 1, 1)
      .Text(32, "abc");
  auto s = p.span();
  EXPECT_TRUE(Match("name == \"abc\"", RelSample(), s));
  EXPECT_TRUE(Match("name ~ \"a?c\" && delta == -5", RelSample(), s));
  EXPECT_TRUE(Match("delta < 0", RelSample(), s));
  // The same offset read as a __data_loc would point at other bytes: the
  // relative base matters.
  p.Loc(8, 30, 4);  // 42..46 is past the end; 30..34 would not be.
  EXPECT_EQ(Eval("name == \"abc\"", RelSample(), p.span()),
            FilterResult::kTruncated);
}

TEST(FilterEvalTest, FlexibleCharArray) {
  // ftrace/print: ip at 8, buf[] from 16 to the end of the record (which the
  // kernel pads to 4 bytes with NULs).
  PayloadBuilder p(32);
  p.Int(0, 2, 5).Int(8, 8, 0xffffffff81000000).Text(16, "hello world\n");
  auto s = p.span();
  EXPECT_TRUE(Match("buf ~ \"hello*\"", FtracePrint(), s));
  EXPECT_TRUE(Match("buf == \"hello world\\n\"", FtracePrint(), s));
  EXPECT_FALSE(Match("buf == \"hello world\"", FtracePrint(), s));
  EXPECT_TRUE(Match("ip == 0xffffffff81000000", FtracePrint(), s));

  // No NUL before the end: the text runs to the end.
  PayloadBuilder full(20);
  full.Text(16, "abcd");
  EXPECT_TRUE(Match("buf == abcd", FtracePrint(), full.span()));
  // Nothing after the fixed part: empty.
  PayloadBuilder bare(16);
  EXPECT_TRUE(Match("buf == \"\"", FtracePrint(), bare.span()));
  // Shorter than the fixed part: truncated.
  PayloadBuilder cut(12);
  EXPECT_EQ(Eval("buf ~ \"*\"", FtracePrint(), cut.span()),
            FilterResult::kTruncated);
}

TEST(FilterEvalTest, ShortRecordsAreTruncatedNotMatched) {
  PayloadBuilder p = SwitchPayload();
  auto cut = p.span().subspan(0, 30);  // prev_pid (24..28) fits, next_pid not.
  EXPECT_EQ(Eval("prev_pid == 0", SchedSwitch(), cut), FilterResult::kMatch);
  EXPECT_EQ(Eval("next_pid == 1234", SchedSwitch(), cut),
            FilterResult::kTruncated);
  EXPECT_EQ(Eval("!(next_pid == 1234)", SchedSwitch(), cut),
            FilterResult::kTruncated);
  EXPECT_EQ(Eval("next_comm ~ \"*\"", SchedSwitch(), cut),
            FilterResult::kTruncated);
  // Short-circuit: a field never reached does not make the record short.
  EXPECT_EQ(Eval("prev_pid == 0 || next_pid == 1", SchedSwitch(), cut),
            FilterResult::kMatch);
  EXPECT_EQ(Eval("prev_pid == 1 && next_pid == 1", SchedSwitch(), cut),
            FilterResult::kNoMatch);
  EXPECT_EQ(Eval("prev_pid == 0 && next_pid == 1", SchedSwitch(), cut),
            FilterResult::kTruncated);
  // The empty payload.
  EXPECT_EQ(Eval("common_type == 0", SchedSwitch(), {}),
            FilterResult::kTruncated);
  // cpu needs no payload.
  EXPECT_EQ(Eval("cpu == 1", SchedSwitch(), {}), FilterResult::kMatch);
}

TEST(FilterEvalTest, CopiesAndMovesAreIndependent) {
  PayloadBuilder p = SwitchPayload();
  CompiledFilter copy;
  CompiledFilter moved;
  {
    absl::StatusOr<CompiledFilter> filter =
        CompileFilter("next_comm ~ \"kworker*\" && prev_comm == \"swapper/1\"",
                      SchedSwitch());
    ASSERT_TRUE(filter.ok());
    copy = *filter;
    moved = *std::move(filter);
  }
  EXPECT_TRUE(copy.Matches(Record(p.span())));
  EXPECT_TRUE(moved.Matches(Record(p.span())));
  std::vector<CompiledFilter> many(3, copy);
  many.push_back(moved);
  for (const CompiledFilter& f : many) EXPECT_TRUE(f.Matches(Record(p.span())));
  EXPECT_EQ(copy.expression(), moved.expression());
}

TEST(FilterEvalTest, WorksOnHandBuiltFormats) {
  // Formats need not come from the parser: a struct filled by hand works.
  EventFormat format;
  format.system = "test";
  format.name = "manual";
  FieldFormat f;
  f.name = "value";
  f.type = "s16";
  f.offset = 2;
  f.size = 2;
  f.element_size = 2;
  f.is_signed = true;
  format.fields.push_back(f);
  PayloadBuilder p(4);
  p.Int(2, 2, 0x8000);  // -32768
  EXPECT_TRUE(Match("value == -32768", format, p.span()));
  EXPECT_EQ(CompileError("valeu == 1", format),
            "filter on test/manual: column 1: unknown field 'valeu' in "
            "test/manual; did you mean value?");
}

TEST(FilterEvalTest, OddFieldSizesAreRejected) {
  EventFormat format;
  format.system = "test";
  format.name = "odd";
  FieldFormat f;
  f.name = "wide";
  f.type = "__int128";
  f.offset = 8;
  f.size = 16;
  f.element_size = 16;
  format.fields.push_back(f);
  EXPECT_EQ(CompileError("wide == 1", format),
            "filter on test/odd: column 1: field 'wide' (__int128) is 16 "
            "bytes, not an integer's 1, 2, 4 or 8");
}

}  // namespace
}  // namespace ringwatch
