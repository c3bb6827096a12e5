#include "daemon/reader/mapped_ring.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "daemon/util/file_util.h"
#include "daemon/util/status_macros.h"

namespace ringwatch {

using trace_mmap::TraceBufferMeta;

Mapping& Mapping::operator=(Mapping&& other) noexcept {
  if (this != &other) {
    Reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void Mapping::Reset() {
  if (data_ != nullptr) {
    ::munmap(const_cast<uint8_t*>(data_), size_);
    data_ = nullptr;
    size_ = 0;
  }
}

absl::StatusOr<Mapping> Mapping::Map(int fd, size_t size,
                                     const std::string& path) {
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    return PathError(errno, absl::StrCat("mmap ", size, " bytes of"), path);
  }
  return Mapping(static_cast<const uint8_t*>(p), size);
}

absl::StatusOr<std::unique_ptr<MappedRing>> MappedRing::Create(
    const std::string& path, uint32_t cpu, const HeaderPageFormat& format) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return PathError(errno, "open", path);
  return FromFd(&fd, path, cpu, format);
}

absl::StatusOr<std::unique_ptr<MappedRing>> MappedRing::FromFd(
    ScopedFd* fd, const std::string& path, uint32_t cpu,
    const HeaderPageFormat& format) {
  const uint32_t page = static_cast<uint32_t>(::getpagesize());
  // The meta page first: it says how large everything else is. The sizes
  // are fixed while the ring is mapped (the kernel refuses resizes).
  uint32_t meta_page_size, meta_struct_len, subbuf_size, nr_subbufs;
  {
    ASSIGN_OR_RETURN(Mapping meta, Mapping::Map(fd->get(), page, path));
    const uint8_t* m = meta.data();
    std::memcpy(&meta_page_size, m + offsetof(TraceBufferMeta, meta_page_size),
                sizeof(uint32_t));
    std::memcpy(&meta_struct_len,
                m + offsetof(TraceBufferMeta, meta_struct_len),
                sizeof(uint32_t));
    std::memcpy(&subbuf_size, m + offsetof(TraceBufferMeta, subbuf_size),
                sizeof(uint32_t));
    std::memcpy(&nr_subbufs, m + offsetof(TraceBufferMeta, nr_subbufs),
                sizeof(uint32_t));
  }
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(
        "meta page of ", path, ": ", what, " (meta_page_size ", meta_page_size,
        ", meta_struct_len ", meta_struct_len, ", subbuf_size ", subbuf_size,
        ", nr_subbufs ", nr_subbufs, ")"));
  };
  if (meta_struct_len < trace_mmap::kMinMetaStructLen) {
    return bad(absl::StrCat("meta_struct_len is shorter than the ",
                            trace_mmap::kMinMetaStructLen,
                            " bytes of the fields we read"));
  }
  if (meta_page_size < page || meta_page_size % page != 0 ||
      meta_struct_len > meta_page_size) {
    return bad(
        "meta_page_size is not a whole number of pages holding the "
        "structure");
  }
  if (subbuf_size < page || subbuf_size % page != 0 ||
      subbuf_size > (1u << 24) ||
      subbuf_size <= format.data_offset + sizeof(uint64_t)) {
    return bad("subbuf_size is not a plausible sub-buffer size");
  }
  if (nr_subbufs < 2 || nr_subbufs > (1u << 24)) {
    return bad("nr_subbufs is out of range");
  }
  if (format.commit_offset + format.commit_size > format.data_offset) {
    return absl::InvalidArgumentError(absl::StrCat(
        "header_page: commit at ", format.commit_offset, " size ",
        format.commit_size, " overlaps data at ", format.data_offset));
  }
  const uint64_t length =
      uint64_t{meta_page_size} + uint64_t{nr_subbufs} * subbuf_size;
  ASSIGN_OR_RETURN(Mapping mapping,
                   Mapping::Map(fd->get(), static_cast<size_t>(length), path));
  std::unique_ptr<MappedRing> ring(
      new MappedRing(std::move(*fd), std::move(mapping), path, cpu, format,
                     meta_page_size, subbuf_size, nr_subbufs));
  return ring;
}

MappedRing::MappedRing(ScopedFd fd, Mapping mapping, std::string path,
                       uint32_t cpu, const HeaderPageFormat& format,
                       uint32_t meta_page_size, uint32_t subbuf_size,
                       uint32_t nr_subbufs)
    : CpuRing(cpu),
      fd_(std::move(fd)),
      mapping_(std::move(mapping)),
      path_(std::move(path)),
      format_(format),
      meta_page_size_(meta_page_size),
      subbuf_size_(subbuf_size),
      nr_subbufs_(nr_subbufs),
      data_capacity_(subbuf_size - format.data_offset) {
  MetaSnapshot m = meta();
  overrun_base_ = m.overrun;
  kernel_entries_ = m.entries;
  kernel_overrun_ = m.overrun;
  kernel_read_ = m.read;
  // The reader sub-buffer may hold records an earlier reader consumed
  // (trace_pipe, a previous mapping): resume after them. Until the first
  // GET_READER the page cannot be swapped away, so reading it is safe.
  if (m.reader_id < nr_subbufs_) {
    have_subbuf_ = true;
    current_id_ = m.reader_id;
    StartSubbuf(m.reader_id, m.reader_read, /*sink=*/nullptr);
  }
  Publish();
}

uint64_t MappedRing::LoadMeta64(size_t offset) const {
  // The kernel rewrites the meta page in rb_update_meta_page() (under its
  // reader lock, from our GET_READER or another mapper's): load each field
  // atomically so that no load is torn or elided.
  return __atomic_load_n(
      reinterpret_cast<const uint64_t*>(mapping_.data() + offset),
      __ATOMIC_RELAXED);
}

uint32_t MappedRing::LoadMeta32(size_t offset) const {
  return __atomic_load_n(
      reinterpret_cast<const uint32_t*>(mapping_.data() + offset),
      __ATOMIC_RELAXED);
}

MetaSnapshot MappedRing::meta() const {
  MetaSnapshot m;
  m.meta_page_size = LoadMeta32(offsetof(TraceBufferMeta, meta_page_size));
  m.subbuf_size = LoadMeta32(offsetof(TraceBufferMeta, subbuf_size));
  m.nr_subbufs = LoadMeta32(offsetof(TraceBufferMeta, nr_subbufs));
  m.reader_id = LoadMeta32(offsetof(TraceBufferMeta, reader.id));
  m.reader_read = LoadMeta32(offsetof(TraceBufferMeta, reader.read));
  m.reader_lost_events =
      LoadMeta64(offsetof(TraceBufferMeta, reader.lost_events));
  m.entries = LoadMeta64(offsetof(TraceBufferMeta, entries));
  m.overrun = LoadMeta64(offsetof(TraceBufferMeta, overrun));
  m.read = LoadMeta64(offsetof(TraceBufferMeta, read));
  return m;
}

absl::Span<const uint8_t> MappedRing::Subbuf(uint32_t id) const {
  return absl::MakeConstSpan(
      mapping_.data() + meta_page_size_ + size_t{id} * subbuf_size_,
      subbuf_size_);
}

uint32_t MappedRing::LoadCommittedSize() const {
  const uint8_t* word = Subbuf(current_id_).data() + format_.commit_offset;
  uint64_t commit;
  // Pairs with the writer publishing its records by storing the commit word
  // (rb_set_commit_to_write() in kernel/trace/ring_buffer.c): every record
  // below the commit we load is complete.
  if (format_.commit_size == 8 &&
      reinterpret_cast<uintptr_t>(word) % alignof(uint64_t) == 0) {
    commit = __atomic_load_n(reinterpret_cast<const uint64_t*>(word),
                             __ATOMIC_ACQUIRE);
  } else if (format_.commit_size == 4 &&
             reinterpret_cast<uintptr_t>(word) % alignof(uint32_t) == 0) {
    commit = __atomic_load_n(reinterpret_cast<const uint32_t*>(word),
                             __ATOMIC_ACQUIRE);
  } else {
    uint32_t low;  // Unaligned (never seen): the low word holds the size.
    std::memcpy(&low, word, sizeof(low));
    std::atomic_thread_fence(std::memory_order_acquire);
    commit = low;
  }
  return static_cast<uint32_t>(commit & trace_mmap::kCommitSizeMask);
}

bool MappedRing::StartSubbuf(uint32_t id, uint32_t skip_to, RecordSink* sink) {
  // GET_READER has handed the previous sub-buffer back to the kernel; what
  // the observer holds of it is all it will get.
  if (observed_) {
    observer_->EndSubbuf(cpu_);
    observed_ = false;
  }
  have_subbuf_ = true;
  current_id_ = id;
  subbuf_failed_ = false;
  absl::Span<const uint8_t> subbuf = Subbuf(id);
  header_ = SubbufHeader();
  absl::Status status = ParseSubbufHeader(subbuf, format_, &header_);
  if (!status.ok()) {
    ++decode_.decode_errors;
    subbuf_failed_ = true;
    return false;
  }
  // Loss reports go to the sink; with no sink yet (at construction, for a
  // page an earlier reader had started) the decoder still counts them.
  struct NullSink : RecordSink {
    void OnRecord(const RecordView&) override {}
  } null_sink;
  decoder_.Start(cpu_, subbuf, format_, header_,
                 sink != nullptr ? sink : &null_sink, &decode_);
  if (skip_to > 0) {
    const uint64_t errors_before = decode_.decode_errors;
    if (!decoder_.Skip(skip_to, &decode_).ok()) {
      // The decoder counts corrupt records; an offset that is not a record
      // boundary is as bad and counts once too.
      if (decode_.decode_errors == errors_before) ++decode_.decode_errors;
      subbuf_failed_ = true;
      return false;
    }
  }
  return true;
}

bool MappedRing::DecodeCurrent(RecordSink* sink) {
  if (!have_subbuf_ || subbuf_failed_) return false;
  const uint32_t end = LoadCommittedSize();
  if (end > data_capacity_) {
    ++decode_.decode_errors;
    subbuf_failed_ = true;
    return false;
  }
  const uint32_t before = decoder_.offset();
  if (end <= before) return false;
  if (observer_ != nullptr && !observed_) BeginObserved(0);
  if (!decoder_.Decode(end, sink, &decode_).ok()) {
    subbuf_failed_ = true;  // The decoder counted the error.
  }
  const uint32_t after = decoder_.offset();
  if (observer_ != nullptr && after != before) {
    // Exactly the records just delivered (up to a corrupt one), while the
    // sub-buffer is still ours.
    observer_->AppendData(
        cpu_,
        Subbuf(current_id_)
            .subspan(format_.data_offset + before, after - before),
        decoder_.timestamp());
  }
  Publish();
  return after != before;
}

void MappedRing::BeginObserved(uint64_t lost_events) {
  absl::Span<const uint8_t> header =
      Subbuf(current_id_).first(format_.data_offset);
  observed_ = true;
  if (decoder_.offset() == 0) {
    observer_->BeginSubbuf(cpu_, header, lost_events);
    return;
  }
  // Rare (once per ring at most): an allocation is fine.
  std::vector<uint8_t> rest(format_.data_offset, 0);
  const uint64_t timestamp = decoder_.timestamp();
  std::memcpy(rest.data() + format_.timestamp_offset, &timestamp,
              sizeof(timestamp));
  observer_->BeginSubbuf(cpu_, rest, 0);
}

absl::Status MappedRing::GetReader() {
  ++syscalls_;
  while (::ioctl(fd_.get(), trace_mmap::kIoctlGetReader) < 0) {
    if (errno != EINTR) {
      return PathError(errno, "ioctl TRACE_MMAP_IOCTL_GET_READER on", path_);
    }
  }
  return absl::OkStatus();
}

void MappedRing::AccountMeta() {
  kernel_entries_ = LoadMeta64(offsetof(TraceBufferMeta, entries));
  kernel_overrun_ = LoadMeta64(offsetof(TraceBufferMeta, overrun));
  kernel_read_ = LoadMeta64(offsetof(TraceBufferMeta, read));
  if (kernel_overrun_ >= overrun_base_) {
    overrun_ = kernel_overrun_ - overrun_base_;
  }
}

absl::StatusOr<bool> MappedRing::ReadAvailable(RecordSink* sink) {
  drained_ = false;
  // Backpressure: each decoding step below delivers at most one
  // sub-buffer's records, so the sink is asked for that much room before
  // each; on no, the rest stays in the kernel's ring (no GET_READER).
  if (!SinkHasRoom(sink, data_capacity_)) return false;
  // Records the writer committed to our sub-buffer since the last call.
  bool progressed = DecodeCurrent(sink);
  int same_in_a_row = 0;
  // A bound so that a writer as fast as we are cannot keep one call (and the
  // other rings of this thread) busy forever: one lap of the ring.
  for (uint32_t swaps = 0; swaps <= nr_subbufs_;) {
    if (!SinkHasRoom(sink, data_capacity_)) break;
    absl::Status status = GetReader();
    if (!status.ok()) {
      Publish();
      return status;
    }
    AccountMeta();
    const uint32_t id = LoadMeta32(offsetof(TraceBufferMeta, reader.id));
    if (id >= nr_subbufs_) {
      Publish();
      return absl::InternalError(absl::StrCat("GET_READER on ", path_,
                                              " gave sub-buffer id ", id,
                                              " of ", nr_subbufs_));
    }
    if (have_subbuf_ && id == current_id_) {
      // Same sub-buffer: the writer is still on it, or the kernel has only
      // now accounted for records we had decoded and the next call swaps.
      // Only the latter leaves unread entries behind; ask once more then,
      // never twice in a row (that would chase the writer).
      progressed |= DecodeCurrent(sink);
      const uint64_t consumed = kernel_overrun_ + kernel_read_;
      const uint64_t unread =
          kernel_entries_ > consumed ? kernel_entries_ - consumed : 0;
      if (unread == 0) {
        drained_ = true;
        break;
      }
      if (++same_in_a_row >= 2) break;
      continue;
    }
    same_in_a_row = 0;
    ++swaps;
    progressed = true;
    const uint64_t lost_before = decode_.lost_events + decode_.lost_unknown;
    if (StartSubbuf(id, 0, sink)) {
      // Kernels that do not store the count on the page still report it in
      // the meta page; count it once, and only then.
      const uint64_t reader_lost =
          LoadMeta64(offsetof(TraceBufferMeta, reader.lost_events));
      if (reader_lost > 0 &&
          decode_.lost_events + decode_.lost_unknown == lost_before) {
        decode_.lost_events += reader_lost;
        LossReport loss;
        loss.cpu = cpu_;
        loss.count = reader_lost;
        loss.timestamp = decoder_.timestamp();
        sink->OnLoss(loss);
      }
      if (observer_ != nullptr) {
        BeginObserved(header_.missed_stored ? header_.missed_count
                                            : reader_lost);
      }
      DecodeCurrent(sink);
    }
  }
  Publish();
  return progressed;
}

}  // namespace ringwatch
