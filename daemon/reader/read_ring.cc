#include "daemon/reader/read_ring.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "daemon/ring/subbuf_decoder.h"
#include "daemon/util/file_util.h"

namespace ringwatch {
namespace {
constexpr int kMaxReadsPerCall = 1024;
}  // namespace

absl::StatusOr<std::unique_ptr<ReadRing>> ReadRing::Create(
    const std::string& path, uint32_t cpu, const HeaderPageFormat& format,
    uint32_t subbuf_size) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return PathError(errno, "open", path);
  return FromFd(std::move(fd), path, cpu, format, subbuf_size);
}

absl::StatusOr<std::unique_ptr<ReadRing>> ReadRing::FromFd(
    ScopedFd fd, const std::string& path, uint32_t cpu,
    const HeaderPageFormat& format, uint32_t subbuf_size) {
  if (subbuf_size <= format.data_offset || subbuf_size > (1u << 24)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sub-buffer size ", subbuf_size, " for ", path,
                     " is not above the header (", format.data_offset,
                     " bytes) or is over 16 MiB"));
  }
  // The kernel hands out whole sub-buffers: a smaller buffer would get the
  // rest of one on the next read(), which we could not decode on its own.
  const size_t alignment = static_cast<size_t>(::getpagesize());
  const size_t size = (subbuf_size + alignment - 1) / alignment * alignment;
  void* memory = std::aligned_alloc(alignment, size);
  if (memory == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("allocating a ", size, "-byte read buffer for ", path));
  }
  std::unique_ptr<uint8_t, FreeDeleter> buffer(static_cast<uint8_t*>(memory));
  return std::unique_ptr<ReadRing>(new ReadRing(
      std::move(fd), path, cpu, format, subbuf_size, std::move(buffer)));
}

ReadRing::ReadRing(ScopedFd fd, std::string path, uint32_t cpu,
                   const HeaderPageFormat& format, uint32_t subbuf_size,
                   std::unique_ptr<uint8_t, FreeDeleter> buffer)
    : CpuRing(cpu),
      fd_(std::move(fd)),
      path_(std::move(path)),
      format_(format),
      subbuf_size_(subbuf_size),
      buffer_(std::move(buffer)) {}

absl::StatusOr<bool> ReadRing::ReadAvailable(RecordSink* sink) {
  bool progressed = false;
  drained_ = false;
  // Bounded, so that a writer as fast as we are cannot hold this thread (and
  // its other rings) forever; poll() reports what is left.
  for (int reads = 0; reads < kMaxReadsPerCall; ++reads) {
    // Backpressure: a read takes a whole sub-buffer out of the kernel's
    // ring, so ask for room for all of it first.
    if (!SinkHasRoom(sink, subbuf_size_)) break;
    ++syscalls_;
    ssize_t n = ::read(fd_.get(), buffer_.get(), subbuf_size_);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {  // Empty: the writer has nothing new.
        drained_ = true;
        break;
      }
      Publish();
      return PathError(errno, "read", path_);
    }
    if (n == 0) {
      drained_ = true;
      break;
    }
    progressed = true;
    const absl::Span<const uint8_t> page =
        absl::MakeConstSpan(buffer_.get(), size_t(n));
    SubbufHeader header;
    if (!ParseSubbufHeader(page, format_, &header).ok()) {
      ++decode_.decode_errors;
      Publish();
      continue;
    }
    SubbufDecoder decoder;
    decoder.Start(cpu_, page, format_, header, sink, &decode_);
    const uint64_t errors_before = decode_.decode_errors;
    absl::Status status = decoder.Decode(header.data_size, sink, &decode_);
    // Whatever the decoder's own accounting, a bad sub-buffer counts once.
    if (!status.ok() && decode_.decode_errors == errors_before) {
      ++decode_.decode_errors;
    }
    if (observer_ != nullptr) {
      // The copy is ours: the whole page at once, up to what was decoded.
      observer_->BeginSubbuf(cpu_, page.first(format_.data_offset),
                             header.missed_stored ? header.missed_count : 0);
      observer_->AppendData(cpu_,
                            page.subspan(format_.data_offset, decoder.offset()),
                            decoder.timestamp());
      observer_->EndSubbuf(cpu_);
    }
    Publish();
  }
  return progressed;
}

}  // namespace ringwatch
