// The user-space ABI of a memory-mapped ftrace ring buffer, as defined by
// Linux 6.10+ in include/uapi/linux/trace_mmap.h (see also
// Documentation/trace/ring-buffer-map.rst). Debian 12's kernel headers predate
// it, so we define the layout ourselves and check it with static_asserts.
//
// Mapping of per_cpu/cpuN/trace_pipe_raw (read-only, MAP_SHARED):
//   [0, meta_page_size)                     the meta page (zero padded)
//   [meta_page_size + id * subbuf_size, +subbuf_size)  sub-buffer `id`
// TRACE_MMAP_IOCTL_GET_READER hands the reader the next sub-buffer and
// refreshes the meta page; reader.id names the sub-buffer the reader owns.
#ifndef RINGWATCH_DAEMON_READER_TRACE_MMAP_ABI_H_
#define RINGWATCH_DAEMON_READER_TRACE_MMAP_ABI_H_

#include <sys/ioctl.h>

#include <cstddef>
#include <cstdint>

namespace ringwatch {
namespace trace_mmap {

// struct trace_buffer_meta. Field names follow the kernel's.
struct TraceBufferMeta {
  uint32_t meta_page_size;   // Size of the meta page, padding included.
  uint32_t meta_struct_len;  // Size of this structure as the kernel knows it.
  uint32_t subbuf_size;      // Size of one sub-buffer, header included.
  uint32_t nr_subbufs;       // Sub-buffers in the ring, the reader's included.
  struct {
    uint64_t lost_events;  // Events lost at the time of the reader swap.
    uint32_t id;           // Sub-buffer the reader owns: [0, nr_subbufs).
    uint32_t read;         // Bytes of the reader sub-buffer already consumed.
  } reader;
  uint64_t flags;      // 0 until the kernel defines some.
  uint64_t entries;    // Events written to this CPU's ring.
  uint64_t overrun;    // Events overwritten before anyone read them.
  uint64_t read;       // Events the kernel counts as read.
  uint64_t reserved1;  // Kernel-internal.
  uint64_t reserved2;  // Kernel-internal.
};

static_assert(offsetof(TraceBufferMeta, meta_page_size) == 0, "ABI");
static_assert(offsetof(TraceBufferMeta, meta_struct_len) == 4, "ABI");
static_assert(offsetof(TraceBufferMeta, subbuf_size) == 8, "ABI");
static_assert(offsetof(TraceBufferMeta, nr_subbufs) == 12, "ABI");
static_assert(offsetof(TraceBufferMeta, reader.lost_events) == 16, "ABI");
static_assert(offsetof(TraceBufferMeta, reader.id) == 24, "ABI");
static_assert(offsetof(TraceBufferMeta, reader.read) == 28, "ABI");
static_assert(offsetof(TraceBufferMeta, flags) == 32, "ABI");
static_assert(offsetof(TraceBufferMeta, entries) == 40, "ABI");
static_assert(offsetof(TraceBufferMeta, overrun) == 48, "ABI");
static_assert(offsetof(TraceBufferMeta, read) == 56, "ABI");
static_assert(offsetof(TraceBufferMeta, reserved1) == 64, "ABI");
static_assert(offsetof(TraceBufferMeta, reserved2) == 72, "ABI");
static_assert(sizeof(TraceBufferMeta) == 80, "ABI");

// The fields this reader needs end with `read`; a kernel whose structure is
// shorter than that is not one we understand.
constexpr uint32_t kMinMetaStructLen =
    offsetof(TraceBufferMeta, read) + sizeof(uint64_t);

// _IO('R', 0x20): no argument; returns 0 or -1 with errno.
constexpr unsigned long kIoctlGetReader = _IO('R', 0x20);
static_assert(kIoctlGetReader == 0x5220, "ABI");

// Flags in the high bits of a sub-buffer's commit word (kernel/trace/
// ring_buffer.c): RB_MISSED_EVENTS and RB_MISSED_STORED.
constexpr uint64_t kMissedEvents = 1ull << 31;
constexpr uint64_t kMissedStored = 1ull << 30;
constexpr uint64_t kCommitSizeMask = (1ull << 30) - 1;

}  // namespace trace_mmap
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_READER_TRACE_MMAP_ABI_H_
