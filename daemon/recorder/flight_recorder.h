// The daemon's flight recorder: keeps the last N seconds or bytes of raw
// ring-buffer sub-buffers per CPU, as the kernel wrote them, and writes the
// ones covering a requested span to a trace.dat on demand (issue 14, §3).
//
// The readers feed it as a SubbufObserver: each sub-buffer is rebuilt from
// its header and the stretches of records the ring decoded (Begin, Append...,
// End), one copy of each byte, on the reader thread that owns the CPU. The
// sub-buffer being built is the CPU's "open" page; Snapshot includes it, so
// an event the readers delivered is in the snapshot even while the kernel's
// writer is still on its sub-buffer. Whole pages can be added too (AddPage).
//
// Each CPU has its own lock, taken once per Begin/Append/End or page, never
// per event. Snapshot may run on any thread, concurrently with the readers:
// it copies pages out under a CPU's lock in small batches and writes them to
// the TraceDatWriter (file I/O, zstd) with no lock held, so a snapshot never
// stalls a reader for longer than one batch copy.
//
// Memory is bounded by max_bytes_per_cpu per CPU plus the open page
// (reserved_bytes(), what a memory budget should be charged); page storage
// is allocated on first use and reused after eviction. Pages past the byte
// bound or older than max_age (by the kernel's page timestamps) are evicted
// and counted.
#ifndef RINGWATCH_DAEMON_RECORDER_FLIGHT_RECORDER_H_
#define RINGWATCH_DAEMON_RECORDER_FLIGHT_RECORDER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "daemon/event/header_page.h"
#include "daemon/reader/subbuf_observer.h"
#include "daemon/tracedat/trace_dat_writer.h"

namespace ringwatch {

struct FlightRecorderOptions {
  uint32_t page_size = 4096;  // Sub-buffer size, header included.
  uint32_t cpu_count = 0;
  uint64_t max_bytes_per_cpu = 8 << 20;
  // Pages whose timestamp is older than the newest page seen (any CPU) by
  // more than this are evicted; in trace-clock units (ns for "local").
  uint64_t max_age = 30'000'000'000;
  // The kernel's sub-buffer header (events/header_page): where pages rebuilt
  // from BeginSubbuf/AppendData put their commit word and data.
  HeaderPageFormat header = HeaderPageFormat::Default64();
};

struct FlightRecorderCounters {
  uint64_t pages_added = 0;  // Closed pages stored (AddPage or EndSubbuf).
  uint64_t pages_held = 0;   // Closed pages held now.
  uint64_t bytes_held = 0;   // Their bytes (page_size each).
  uint64_t pages_open = 0;   // CPUs with a page being built now.
  uint64_t pages_evicted_for_bytes = 0;
  uint64_t pages_evicted_for_age = 0;
  uint64_t pages_refused = 0;  // Wrong size or CPU: never stored.
  // AppendData calls dropped: no open page, or more data than a page holds.
  uint64_t appends_refused = 0;
};

struct FlightSnapshot {
  uint64_t pages = 0;   // Pages written.
  uint64_t cut = 0;     // Trace-clock start of the span (0: everything held).
  uint64_t oldest = 0;  // Timestamp of the oldest page written (0 if none).
  uint64_t newest = 0;  // newest_timestamp() when the snapshot began.
  uint64_t pages_evicted_during = 0;  // Selected pages evicted before they
                                      // were copied.
};

class FlightRecorder : public SubbufObserver {
 public:
  // Caps: page size a power of two in [64, 16 MiB], 1..8192 CPUs, at least
  // one page per CPU, a header format whose data starts inside the page.
  static absl::StatusOr<std::unique_ptr<FlightRecorder>> Create(
      const FlightRecorderOptions& options);

  // Copies one whole sub-buffer of `cpu` (after closing the CPU's open page,
  // if any). Wrong sizes and CPUs are counted and refused (InvalidArgument),
  // never stored.
  absl::Status AddPage(uint32_t cpu, absl::Span<const uint8_t> page);

  // SubbufObserver: the page is rebuilt as header, data, commit word = the
  // header's flag bits | data length, then zeros to page_size. When the
  // header says the loss count was stored (RB_MISSED_STORED), or
  // `lost_events` is not 0 (a count the kernel reported elsewhere, as the
  // mapped ring's meta page does), `lost_events` is stored after the data
  // with both flags, as the kernel stores it; when it does not fit,
  // RB_MISSED_STORED is cleared (loss without a count). page_size must be
  // the rings' sub-buffer size: data past it is refused and counted. Calls
  // for an unknown CPU are ignored. Rings keep a plain pointer to their
  // observer: stop them before destroying the recorder.
  void BeginSubbuf(uint32_t cpu, absl::Span<const uint8_t> header,
                   uint64_t lost_events) override;
  void AppendData(uint32_t cpu, absl::Span<const uint8_t> data,
                  uint64_t last_timestamp) override;
  void EndSubbuf(uint32_t cpu) override;

  // Adds to `writer` every held page of every CPU that may hold events at
  // or after `cut = newest - span` (the page before the cut is kept: it may
  // end after it), oldest first per CPU, then the CPU's open page as it was
  // when the snapshot began. span 0: everything held. Pages closed after the
  // snapshot began are not included (their events are, in the open page
  // copy, as far as they had been delivered). Pages are copied in small
  // batches under the CPU's lock and written with no lock held; a selected
  // page evicted before its batch is counted in pages_evicted_during, never
  // replaced by a newer one.
  absl::StatusOr<FlightSnapshot> Snapshot(uint64_t span,
                                          TraceDatWriter* writer);

  // Newest page timestamp or appended record timestamp seen on any CPU (0
  // before the first).
  uint64_t newest_timestamp() const {
    return newest_.load(std::memory_order_relaxed);
  }
  FlightRecorderCounters counters() const;
  // max_bytes_per_cpu for each CPU plus its open page.
  uint64_t reserved_bytes() const {
    return (options_.max_bytes_per_cpu + options_.page_size) *
           options_.cpu_count;
  }
  const FlightRecorderOptions& options() const { return options_; }

  // Tests: called on Snapshot's thread after each batch is copied, with no
  // lock held (a test adds pages there to evict selected ones). Set before
  // any Snapshot runs.
  void set_snapshot_batch_hook_for_testing(std::function<void()> hook) {
    snapshot_batch_hook_ = std::move(hook);
  }

 private:
  struct Page {
    std::unique_ptr<uint8_t[]> bytes;  // page_size bytes once allocated.
    uint64_t timestamp = 0;
    uint32_t used = 0;  // Past this, the bytes are zero.
  };
  // Aligned so that two CPUs' reader threads never share its cache lines.
  struct alignas(64) Cpu {
    mutable absl::Mutex mu;
    // A ring of `capacity` slots: the held pages are slots[(head + i) %
    // capacity] for i < count, oldest first. Pages are numbered per CPU in
    // the order they were closed: the held ones are next_seq - count + i,
    // so a snapshot finds where it left off, or how many it lost to
    // eviction, across batches.
    std::vector<Page> slots ABSL_GUARDED_BY(mu);
    size_t head ABSL_GUARDED_BY(mu) = 0;
    size_t count ABSL_GUARDED_BY(mu) = 0;
    uint64_t next_seq ABSL_GUARDED_BY(mu) = 0;
    // The page being built. Past open_used, its bytes are zero.
    std::unique_ptr<uint8_t[]> open ABSL_GUARDED_BY(mu);
    bool is_open ABSL_GUARDED_BY(mu) = false;
    uint32_t open_data ABSL_GUARDED_BY(mu) = 0;    // Data bytes appended.
    uint32_t open_used ABSL_GUARDED_BY(mu) = 0;    // Bytes possibly non-zero.
    uint64_t open_commit ABSL_GUARDED_BY(mu) = 0;  // Header's commit word.
    uint64_t open_lost ABSL_GUARDED_BY(mu) = 0;
    FlightRecorderCounters counters ABSL_GUARDED_BY(mu);
  };
  // One CPU's part of a snapshot: what was selected when it began.
  struct Selection;

  explicit FlightRecorder(const FlightRecorderOptions& options);

  void NoteTimestamp(uint64_t timestamp);
  // Closes the open page into a slot (no copy: buffers are swapped).
  void CloseLocked(Cpu* cpu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(cpu->mu);
  // The slot the next page goes into, evicting the oldest when all are
  // held; its storage is allocated on first use.
  Page* NextSlotLocked(Cpu* cpu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(cpu->mu);
  void EvictForAgeLocked(Cpu* cpu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(cpu->mu);
  // Writes the open page's commit word and stored lost count into `page`, a
  // copy of (or the) open buffer; returns the bytes possibly non-zero.
  uint32_t FinishOpenPage(const Cpu& cpu, uint8_t* page) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(cpu.mu);
  uint64_t PageTimestamp(const uint8_t* page) const;

  const FlightRecorderOptions options_;
  const size_t capacity_;  // Pages per CPU: max_bytes_per_cpu / page_size.
  std::vector<std::unique_ptr<Cpu>> cpus_;
  std::atomic<uint64_t> newest_{0};
  std::function<void()> snapshot_batch_hook_;
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_RECORDER_FLIGHT_RECORDER_H_
