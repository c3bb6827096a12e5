// Test support for filters: format files of a few events captured from
// Linux 6.18's /sys/kernel/tracing/events/<system>/<event>/format (so tests,
// the fuzzer and benchmarks run anywhere), and a payload builder.
#ifndef RINGWATCH_DAEMON_FILTER_FILTER_TESTING_H_
#define RINGWATCH_DAEMON_FILTER_FILTER_TESTING_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace ringwatch {
namespace filter_testing {

// sched/sched_switch
inline constexpr char kSchedSwitchFormat[] = R"fmt(name: sched_switch
ID: 372
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:char prev_comm[16];	offset:8;	size:16;	signed:0;
	field:pid_t prev_pid;	offset:24;	size:4;	signed:1;
	field:int prev_prio;	offset:28;	size:4;	signed:1;
	field:long prev_state;	offset:32;	size:8;	signed:1;
	field:char next_comm[16];	offset:40;	size:16;	signed:0;
	field:pid_t next_pid;	offset:56;	size:4;	signed:1;
	field:int next_prio;	offset:60;	size:4;	signed:1;

print fmt: "prev_comm=%s prev_pid=%d prev_prio=%d prev_state=%s%s ==> next_comm=%s next_pid=%d next_prio=%d", REC->prev_comm, REC->prev_pid, REC->prev_prio, (REC->prev_state & ((((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) - 1)) ? __print_flags(REC->prev_state & ((((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) - 1), "|", { 0x00000001, "S" }, { 0x00000002, "D" }, { 0x00000004, "T" }, { 0x00000008, "t" }, { 0x00000010, "X" }, { 0x00000020, "Z" }, { 0x00000040, "P" }, { 0x00000080, "I" }) : "R", REC->prev_state & (((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) ? "+" : "", REC->next_comm, REC->next_pid, REC->next_prio
)fmt";

// sched/sched_process_exec
inline constexpr char kSchedProcessExecFormat[] = R"fmt(name: sched_process_exec
ID: 365
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:__data_loc char[] filename;	offset:8;	size:4;	signed:0;
	field:pid_t pid;	offset:12;	size:4;	signed:1;
	field:pid_t old_pid;	offset:16;	size:4;	signed:1;

print fmt: "filename=%s pid=%d old_pid=%d", __get_str(filename), REC->pid, REC->old_pid
)fmt";

// ftrace/print
inline constexpr char kFtracePrintFormat[] = R"fmt(name: print
ID: 5
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:unsigned long ip;	offset:8;	size:8;	signed:0;
	field:char buf[];	offset:16;	size:0;	signed:0;

print fmt: "%ps: %s", (void *)REC->ip, REC->buf
)fmt";

// raw_syscalls/sys_enter
inline constexpr char kRawSyscallsSysEnterFormat[] = R"fmt(name: sys_enter
ID: 443
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:long id;	offset:8;	size:8;	signed:1;
	field:unsigned long args[6];	offset:16;	size:48;	signed:0;

print fmt: "NR %ld (%lx, %lx, %lx, %lx, %lx, %lx)", REC->id, REC->args[0], REC->args[1], REC->args[2], REC->args[3], REC->args[4], REC->args[5]
)fmt";

// sched/sched_wakeup
inline constexpr char kSchedWakeupFormat[] = R"fmt(name: sched_wakeup
ID: 374
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:char comm[16];	offset:8;	size:16;	signed:0;
	field:pid_t pid;	offset:24;	size:4;	signed:1;
	field:int prio;	offset:28;	size:4;	signed:1;
	field:int target_cpu;	offset:32;	size:4;	signed:1;

print fmt: "comm=%s pid=%d prio=%d target_cpu=%03d", REC->comm, REC->pid, REC->prio, REC->target_cpu
)fmt";

// sched/sched_wake_idle_without_ipi: has a field named like the `cpu`
// pseudo-field.
inline constexpr char kSchedWakeIdleFormat[] =
    R"fmt(name: sched_wake_idle_without_ipi
ID: 355
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:int cpu;	offset:8;	size:4;	signed:1;

print fmt: "cpu=%d", REC->cpu
)fmt";

// No event of this kernel uses __rel_loc (only sample and BPF-test events
// do), so this one is written by hand in the same layout: a __rel_loc
// string, whose offset counts from the end of its 4-byte locator.
inline constexpr char kRelLocFormat[] = R"fmt(name: rel_sample
ID: 900
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:__rel_loc char[] name;	offset:8;	size:4;	signed:0;
	field:s16 delta;	offset:12;	size:2;	signed:1;
	field:u8 flag;	offset:14;	size:1;	signed:0;
	field:__u8 digest[16];	offset:16;	size:16;	signed:0;

print fmt: "name=%s delta=%d", __get_rel_str(name), REC->delta
)fmt";

// Lays out a record payload byte by byte, little-endian as the kernel
// writes it on x86-64 and arm64. Starts zero-filled.
class PayloadBuilder {
 public:
  explicit PayloadBuilder(size_t size) : bytes_(size, 0) {}

  // Writes the low `size` bytes of `value` at `offset`.
  PayloadBuilder& Int(size_t offset, size_t size, uint64_t value) {
    for (size_t i = 0; i < size; ++i) {
      bytes_.at(offset + i) = static_cast<uint8_t>(value >> (8 * i));
    }
    return *this;
  }
  // Copies `text` to `offset` (no NUL added; the buffer starts zeroed).
  PayloadBuilder& Text(size_t offset, absl::string_view text) {
    for (size_t i = 0; i < text.size(); ++i) {
      bytes_.at(offset + i) = static_cast<uint8_t>(text[i]);
    }
    return *this;
  }
  // A __data_loc locator at `field_offset` for `length` bytes at
  // `data_offset` (from the payload start, or for __rel_loc from the end of
  // the locator: the caller passes the value to store).
  PayloadBuilder& Loc(size_t field_offset, uint32_t data_offset,
                      uint32_t length) {
    return Int(field_offset, 4, (uint64_t{length} << 16) | data_offset);
  }

  absl::Span<const uint8_t> span() const { return bytes_; }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace filter_testing
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_FILTER_FILTER_TESTING_H_
