// Fuzz target for the mapped ring's meta page and the sub-buffer it points
// at: any meta page values (sizes, reader id and read offset, counters) and
// any sub-buffer bytes give a ring or a clear error, never a crash or a
// record outside the reader's sub-buffer. The ring is a memfd laid out as
// the kernel maps trace_pipe_raw (meta page, then nr_subbufs sub-buffers),
// so MappedRing::FromFd, its constructor (which resumes the reader
// sub-buffer at reader.read) and ReadAvailable's decode of the committed
// part all run; GET_READER then fails on the memfd, which must come back as
// a status. Built by tools/fuzz.sh (mapped_ring); mapped_ring_fuzzer_test
// replays tests/data/fuzz/mapped_ring.
//
// Input: the 80-byte struct trace_buffer_meta, one flags byte (bit 0: the
// 32-bit header_page layout), then the bytes of the sub-buffers in order.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "absl/status/statusor.h"
#include "daemon/event/header_page.h"
#include "daemon/reader/mapped_ring.h"
#include "daemon/reader/trace_mmap_abi.h"
#include "daemon/recorder/flight_recorder.h"
#include "daemon/ring/record.h"
#include "daemon/util/scoped_fd.h"

namespace {

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "mapped_ring_fuzzer invariant broken: %s\n", what);
    std::abort();
  }
}

// The kernel backs the whole declared ring; a sparse memfd does too, up to
// this size (larger layouts are skipped, not mapped).
constexpr uint64_t kMaxRingBytes = uint64_t{1} << 30;

// Remembers the span the records' payloads cover.
class SpanSink : public ringwatch::RecordSink {
 public:
  void OnRecord(const ringwatch::RecordView& record) override {
    const uint8_t* p = record.payload.data();
    lowest = std::min(lowest, p);
    highest = std::max(highest, p + record.payload.size());
    uint8_t x = 0;
    for (uint8_t b : record.payload) x ^= b;  // Touch every byte.
    checksum += x;
    ++records;
  }
  void OnLoss(const ringwatch::LossReport&) override { ++losses; }

  const uint8_t* lowest = reinterpret_cast<const uint8_t*>(UINTPTR_MAX);
  const uint8_t* highest = nullptr;
  uint64_t records = 0;
  uint64_t losses = 0;
  uint64_t checksum = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ringwatch::trace_mmap::TraceBufferMeta;
  if (size < sizeof(TraceBufferMeta) + 1) return 0;
  TraceBufferMeta meta;
  std::memcpy(&meta, data, sizeof(meta));
  const uint8_t flags = data[sizeof(meta)];
  const uint8_t* subbufs = data + sizeof(meta) + 1;
  const size_t subbufs_size = size - sizeof(meta) - 1;

  const uint64_t page = static_cast<uint64_t>(getpagesize());
  const uint64_t length = std::max<uint64_t>(
      page, uint64_t{meta.meta_page_size} +
                uint64_t{meta.nr_subbufs} * meta.subbuf_size);
  if (length > kMaxRingBytes) return 0;

  ringwatch::ScopedFd fd(memfd_create("ringwatch-fuzz-ring", MFD_CLOEXEC));
  Check(fd.valid(), "memfd_create");
  Check(ftruncate(fd.get(), static_cast<off_t>(length)) == 0, "ftruncate");
  Check(pwrite(fd.get(), &meta, sizeof(meta), 0) == sizeof(meta),
        "write the meta page");
  if (meta.meta_page_size >= sizeof(meta) && meta.meta_page_size < length) {
    const size_t n = static_cast<size_t>(
        std::min<uint64_t>(subbufs_size, length - meta.meta_page_size));
    Check(pwrite(fd.get(), subbufs, n, meta.meta_page_size) ==
              static_cast<ssize_t>(n),
          "write the sub-buffers");
  }

  ringwatch::HeaderPageFormat format = ringwatch::HeaderPageFormat::Default64();
  if (flags & 1) {
    format.commit_size = 4;
    format.data_offset = 12;
  }
  absl::StatusOr<std::unique_ptr<ringwatch::MappedRing>> ring =
      ringwatch::MappedRing::FromFd(&fd, "fuzz/trace_pipe_raw", 0, format);
  if (!ring.ok()) {
    Check(!ring.status().message().empty(), "errors say why");
    Check(fd.valid(), "a failed FromFd leaves the descriptor");
    return 0;
  }
  Check(!fd.valid(), "FromFd takes the descriptor");
  const ringwatch::MetaSnapshot snapshot = (*ring)->meta();
  Check(snapshot.subbuf_size == meta.subbuf_size &&
            snapshot.nr_subbufs == meta.nr_subbufs,
        "the snapshot reads the meta page");

  // The flight recorder sees the same bytes the sink's records came from
  // (SubbufObserver): whatever the header says, it must never be handed
  // more than a page holds, nor store a page of the wrong size.
  std::unique_ptr<ringwatch::FlightRecorder> recorder;
  ringwatch::FlightRecorderOptions recorder_options;
  recorder_options.page_size = meta.subbuf_size;
  recorder_options.cpu_count = 1;
  recorder_options.max_bytes_per_cpu = uint64_t{meta.subbuf_size} * 4;
  recorder_options.header = format;
  if (auto created = ringwatch::FlightRecorder::Create(recorder_options);
      created.ok()) {
    recorder = *std::move(created);
    (*ring)->set_subbuf_observer(recorder.get());
  }

  SpanSink sink;
  absl::StatusOr<bool> read = (*ring)->ReadAvailable(&sink);
  Check(!read.ok(), "GET_READER fails on a memfd");
  Check(!read.status().message().empty(), "the failed ioctl says why");
  if (sink.records > 0) {
    // Every record came from the one sub-buffer the reader held.
    Check(static_cast<uint64_t>(sink.highest - sink.lowest) <=
              meta.subbuf_size - format.data_offset,
          "records lie inside one sub-buffer");
  }
  const ringwatch::RingCounters counters = (*ring)->counters();
  Check(counters.events == sink.records, "events counted as delivered");
  Check(counters.mapped, "a mapped ring says so");
  if (recorder != nullptr) {
    const ringwatch::FlightRecorderCounters held = recorder->counters();
    Check(held.appends_refused == 0, "the ring never over-fills a page");
    Check(held.pages_refused == 0, "no page of the wrong size");
    if (sink.records > 0) {
      Check(held.pages_open == 1, "decoded records are on an open page");
    }
  }
  return 0;
}
