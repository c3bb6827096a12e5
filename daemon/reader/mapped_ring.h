// A CPU's ring buffer mapped into our address space (Linux 6.10+ mmap of
// per_cpu/cpuN/trace_pipe_raw), decoded in place.
#ifndef RINGWATCH_DAEMON_READER_MAPPED_RING_H_
#define RINGWATCH_DAEMON_READER_MAPPED_RING_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "daemon/event/header_page.h"
#include "daemon/reader/cpu_ring.h"
#include "daemon/reader/trace_mmap_abi.h"
#include "daemon/ring/subbuf_decoder.h"
#include "daemon/util/scoped_fd.h"

namespace ringwatch {

// Move-only owner of one read-only shared mapping.
class Mapping {
 public:
  Mapping() = default;
  Mapping(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  Mapping(Mapping&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}
  Mapping& operator=(Mapping&& other) noexcept;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() { Reset(); }

  // Maps `size` bytes of `fd` at offset 0, PROT_READ and MAP_SHARED (the
  // kernel refuses private or writable mappings of a ring).
  static absl::StatusOr<Mapping> Map(int fd, size_t size,
                                     const std::string& path);

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  void Reset();

 private:
  const uint8_t* data_ = nullptr;  // nullptr when empty.
  size_t size_ = 0;
};

// The meta page's figures, as of the last GET_READER.
struct MetaSnapshot {
  uint32_t meta_page_size = 0;
  uint32_t subbuf_size = 0;
  uint32_t nr_subbufs = 0;
  uint32_t reader_id = 0;
  uint32_t reader_read = 0;
  uint64_t reader_lost_events = 0;
  uint64_t entries = 0;
  uint64_t overrun = 0;
  uint64_t read = 0;
};

// Reads one CPU's ring through the mapping. Each ReadAvailable() takes every
// full sub-buffer with TRACE_MMAP_IOCTL_GET_READER and decodes it in place,
// then the part of the writer's sub-buffer committed so far; the next call
// resumes on that sub-buffer where the decoder stopped. Call it when poll()
// says the ring is readable (or on a tick): the ioctl walks the records it
// hands over, so calling it in a loop to chase the writer costs far more than
// waiting for the kernel's wake-up.
class MappedRing : public CpuRing {
 public:
  // Opens `path` (a trace_pipe_raw) O_RDONLY|O_NONBLOCK and maps it.
  static absl::StatusOr<std::unique_ptr<MappedRing>> Create(
      const std::string& path, uint32_t cpu, const HeaderPageFormat& format);
  // Maps an open trace_pipe_raw; takes `*fd` only on success, so a caller can
  // fall back to read() on the same descriptor.
  static absl::StatusOr<std::unique_ptr<MappedRing>> FromFd(
      ScopedFd* fd, const std::string& path, uint32_t cpu,
      const HeaderPageFormat& format);

  absl::StatusOr<bool> ReadAvailable(RecordSink* sink) override;
  int fd() const override { return fd_.get(); }
  bool mapped() const override { return true; }

  // The meta page now (owner thread, or any thread for a rough view: the
  // kernel rewrites it only inside GET_READER).
  MetaSnapshot meta() const;
  uint32_t subbuf_size() const { return subbuf_size_; }
  uint32_t nr_subbufs() const { return nr_subbufs_; }

 private:
  MappedRing(ScopedFd fd, Mapping mapping, std::string path, uint32_t cpu,
             const HeaderPageFormat& format, uint32_t meta_page_size,
             uint32_t subbuf_size, uint32_t nr_subbufs);

  absl::Status GetReader();
  // Folds the meta page's overrun and lost-event figures into the counters.
  void AccountMeta();
  // Starts decoding sub-buffer `id` from `skip_to` (bytes already consumed
  // by an earlier reader). False when its header is corrupt.
  bool StartSubbuf(uint32_t id, uint32_t skip_to, RecordSink* sink);
  // Decodes the current sub-buffer up to its commit as loaded now, and
  // reports what it decoded to the observer. Returns whether records were
  // delivered.
  bool DecodeCurrent(RecordSink* sink);
  // Reports the current sub-buffer's header to the observer. When the
  // decoder has already passed records (consumed by an earlier reader, or
  // before the observer was set), the header is one for the rest: the
  // running time there, no loss flags (they were reported with the part
  // not observed).
  void BeginObserved(uint64_t lost_events);
  // Commit word of the current sub-buffer, without the flag bits.
  uint32_t LoadCommittedSize() const;
  absl::Span<const uint8_t> Subbuf(uint32_t id) const;
  uint64_t LoadMeta64(size_t offset) const;
  uint32_t LoadMeta32(size_t offset) const;

  ScopedFd fd_;
  Mapping mapping_;  // Meta page followed by nr_subbufs_ sub-buffers.
  std::string path_;
  HeaderPageFormat format_;
  uint32_t meta_page_size_;
  uint32_t subbuf_size_;
  uint32_t nr_subbufs_;
  uint32_t data_capacity_;  // subbuf_size_ - header: the largest commit.

  bool have_subbuf_ = false;    // Whether current_id_ holds a sub-buffer.
  bool subbuf_failed_ = false;  // Header or record corrupt: skip the rest.
  bool observed_ = false;       // BeginSubbuf sent for current_id_.
  SubbufHeader header_;         // Of current_id_, as StartSubbuf parsed it.
  uint32_t current_id_ = 0;
  uint32_t decoded_end_ = 0;  // Data bytes of the sub-buffer decoded so far.
  SubbufDecoder decoder_;
  uint64_t overrun_base_ = 0;  // Meta overrun when we started reading.
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_READER_MAPPED_RING_H_
