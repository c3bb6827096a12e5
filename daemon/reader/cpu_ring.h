// One CPU's ftrace ring buffer as a source of decoded records, whichever way
// it is read: mapped (MappedRing, Linux 6.10+) or with read() (ReadRing).
#ifndef RINGWATCH_DAEMON_READER_CPU_RING_H_
#define RINGWATCH_DAEMON_READER_CPU_RING_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "daemon/event/header_page.h"
#include "daemon/reader/subbuf_observer.h"
#include "daemon/ring/record.h"
#include "daemon/ring/subbuf_decoder.h"

namespace ringwatch {

// A snapshot of one ring's counters, readable from any thread.
struct RingCounters {
  uint32_t cpu = 0;
  bool mapped = false;         // mmap (true) or read() (false).
  uint64_t events = 0;         // Data records delivered.
  uint64_t bytes = 0;          // Payload bytes delivered.
  uint64_t subbufs = 0;        // Sub-buffers started.
  uint64_t padding = 0;        // Padding and discarded records skipped.
  uint64_t lost = 0;           // Lost events the kernel counted for us.
  uint64_t lost_unknown = 0;   // Loss flagged without a count.
  uint64_t decode_errors = 0;  // Corrupt or truncated sub-buffers.
  // Events the kernel overwrote since this ring was opened, from the meta
  // page (mapped rings only; 0 for read()).
  uint64_t overrun = 0;
  uint64_t syscalls = 0;  // GET_READER ioctls or read() calls.
  // The meta page as of the last GET_READER (mapped rings only).
  uint64_t kernel_entries = 0;
  uint64_t kernel_overrun = 0;
  uint64_t kernel_read = 0;
};

// Base class of the per-CPU readers. A ring is used by one thread at a time
// (its owner); only counters() may be called from other threads.
class CpuRing {
 public:
  virtual ~CpuRing() = default;
  CpuRing(const CpuRing&) = delete;
  CpuRing& operator=(const CpuRing&) = delete;

  // Delivers to `sink` every record the kernel holds for this CPU now,
  // including those on the sub-buffer the writer is still filling, each
  // exactly once across calls. Returns whether anything was consumed (records,
  // loss or padding). Corrupt sub-buffers are counted and skipped, not
  // returned as errors; errors are failed syscalls.
  virtual absl::StatusOr<bool> ReadAvailable(RecordSink* sink) = 0;

  // The descriptor to poll() for POLLIN (the kernel wakes readers as its
  // buffer_percent says).
  virtual int fd() const = 0;
  virtual bool mapped() const = 0;
  // Whether the last ReadAvailable left the ring empty (it stopped because
  // nothing was left, not at a bound).
  bool drained() const { return drained_; }
  // Whether the last ReadAvailable stopped because its sink had no room
  // (RecordSink::HasRoomFor): the rest waits in the kernel's ring, and
  // polling the descriptor would only report it again.
  bool held_back() const { return held_back_; }

  uint32_t cpu() const { return cpu_; }

  // Reports the raw bytes of every sub-buffer consumed from now on to
  // `observer` (not owned; nullptr: none, at the cost of one branch per
  // decoding step). Set before reading starts, from the owner thread. The
  // ring does not end its open sub-buffer when destroyed: the observer may
  // be gone by then, and a new ring's first sub-buffer ends it.
  void set_subbuf_observer(SubbufObserver* observer) { observer_ = observer; }

  // Thread-safe; values are published once per sub-buffer.
  RingCounters counters() const;

 protected:
  explicit CpuRing(uint32_t cpu);

  // Copies the owner's counters to the published atomics (relaxed stores).
  void Publish();
  // Asks `sink` for room for a whole sub-buffer of `data_bytes` (every
  // record takes at least kMinRecordBytes) before decoding any of it; sets
  // held_back_ on no.
  bool SinkHasRoom(RecordSink* sink, uint32_t data_bytes);
  // A 4-byte record header and the 4 bytes of common_type, flags and
  // preempt_count that every event starts with.
  static constexpr uint32_t kMinRecordBytes = 8;

  uint32_t cpu_;
  // Written by the owner thread only.
  DecodeCounters decode_;
  uint64_t overrun_ = 0;
  uint64_t syscalls_ = 0;
  uint64_t kernel_entries_ = 0;
  uint64_t kernel_overrun_ = 0;
  uint64_t kernel_read_ = 0;
  bool drained_ = false;
  bool held_back_ = false;
  SubbufObserver* observer_ = nullptr;  // Not owned; may be null.

 private:
  struct Published {
    std::atomic<uint64_t> events{0}, bytes{0}, subbufs{0}, padding{0}, lost{0},
        lost_unknown{0}, decode_errors{0}, overrun{0}, syscalls{0},
        kernel_entries{0}, kernel_overrun{0}, kernel_read{0};
  };
  Published published_;
};

// How OpenCpuRing reads a ring.
enum class RingMode {
  kAuto,  // mmap when the kernel supports it, otherwise read() (logged once).
  kMmap,  // mmap or fail.
  kRead,  // read() only.
};

struct RingOptions {
  RingMode mode = RingMode::kAuto;
  // Sub-buffer size for read(), header included; 0 reads it from the
  // instance's buffer_subbuf_size_kb, or uses the page size when that file
  // does not exist (kernels before 6.8).
  uint32_t read_subbuf_size = 0;
};

// Opens per_cpu/cpuN/trace_pipe_raw at `path` for `cpu`. In kAuto mode a
// failed mmap (ENODEV on kernels without the interface, EBUSY while a
// snapshot is armed, a meta page we do not understand...) falls back to
// read() and says why on stderr, once per process.
absl::StatusOr<std::unique_ptr<CpuRing>> OpenCpuRing(
    const std::string& path, uint32_t cpu, const HeaderPageFormat& format,
    const RingOptions& options = RingOptions());

// Opens `<instance_dir>/per_cpu/cpu<N>/trace_pipe_raw` for each of `cpus`.
absl::StatusOr<std::vector<std::unique_ptr<CpuRing>>> OpenCpuRings(
    const std::string& instance_dir, absl::Span<const int> cpus,
    const HeaderPageFormat& format, const RingOptions& options = RingOptions());

// The sub-buffer size of the instance that holds `trace_pipe_raw_path`
// (from buffer_subbuf_size_kb two directories up), or the page size.
uint32_t SubbufSizeForPipe(const std::string& trace_pipe_raw_path);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_READER_CPU_RING_H_
