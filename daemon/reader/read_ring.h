// A CPU's ring buffer read with read() of trace_pipe_raw: the fallback for
// kernels (or configurations) where the ring cannot be mapped.
#ifndef RINGWATCH_DAEMON_READER_READ_RING_H_
#define RINGWATCH_DAEMON_READER_READ_RING_H_

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/event/header_page.h"
#include "daemon/reader/cpu_ring.h"
#include "daemon/util/scoped_fd.h"

namespace ringwatch {

// Each read() of trace_pipe_raw returns one whole sub-buffer (header
// included) that the kernel copied out for us, holding the records not yet
// consumed; a partly filled one when the writer is still on it. The copy is
// ours, so it is decoded complete, from an owned aligned buffer.
class ReadRing : public CpuRing {
 public:
  // Opens `path` O_RDONLY|O_NONBLOCK. `subbuf_size` is the instance's
  // sub-buffer size, header included (see SubbufSizeForPipe()).
  static absl::StatusOr<std::unique_ptr<ReadRing>> Create(
      const std::string& path, uint32_t cpu, const HeaderPageFormat& format,
      uint32_t subbuf_size);
  // Takes an open (non-blocking) trace_pipe_raw.
  static absl::StatusOr<std::unique_ptr<ReadRing>> FromFd(
      ScopedFd fd, const std::string& path, uint32_t cpu,
      const HeaderPageFormat& format, uint32_t subbuf_size);

  absl::StatusOr<bool> ReadAvailable(RecordSink* sink) override;
  int fd() const override { return fd_.get(); }
  bool mapped() const override { return false; }
  uint32_t subbuf_size() const { return subbuf_size_; }

 private:
  struct FreeDeleter {
    void operator()(uint8_t* p) const { std::free(p); }
  };

  ReadRing(ScopedFd fd, std::string path, uint32_t cpu,
           const HeaderPageFormat& format, uint32_t subbuf_size,
           std::unique_ptr<uint8_t, FreeDeleter> buffer);

  ScopedFd fd_;
  std::string path_;
  HeaderPageFormat format_;
  uint32_t subbuf_size_;
  // subbuf_size_ bytes, page aligned like the kernel's own sub-buffers.
  std::unique_ptr<uint8_t, FreeDeleter> buffer_;
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_READER_READ_RING_H_
