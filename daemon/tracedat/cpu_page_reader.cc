#include "daemon/tracedat/cpu_page_reader.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/tracedat/byte_reader.h"
#include "daemon/util/status_macros.h"

namespace ringwatch {

CpuPageReader::CpuPageReader(absl::Span<const uint8_t> file,
                             const CpuDataExtent& extent, uint32_t page_size,
                             std::string where)
    : file_(file),
      extent_(extent),
      page_size_(page_size),
      where_(std::move(where)),
      next_offset_(extent.offset) {
  // Nothing stored for this CPU (or nothing that can be read).
  if (extent_.size == 0 || page_size_ == 0) done_ = true;
}

std::string CpuPageReader::PageLocation() const {
  if (!extent_.compressed)
    return absl::StrCat("page at offset ", page_location_);
  return absl::StrCat("page ", page_location_, " of chunk ", chunk_index_ - 1,
                      " (at offset ", chunk_offset_, ")");
}

absl::Status CpuPageReader::NextChunk() {
  const uint64_t limit = std::min<uint64_t>(extent_.limit, file_.size());
  ByteReader reader(file_.first(limit), where_);
  if (!started_) {
    started_ = true;
    absl::Status status = reader.Seek(extent_.offset);
    if (status.ok()) status = reader.Read(&chunk_count_);
    if (!status.ok()) {
      done_ = true;
      return status;
    }
    // Each chunk has at least its 8-byte header.
    if (chunk_count_ > reader.remaining() / 8) {
      done_ = true;
      return reader.Error(absl::StrCat("compressed data claims ", chunk_count_,
                                       " chunks; at most ",
                                       reader.remaining() / 8, " fit"));
    }
    next_chunk_offset_ = reader.offset();
  }
  if (chunk_index_ >= chunk_count_) {
    done_ = true;
    return absl::OkStatus();
  }
  chunk_.clear();
  chunk_pos_ = 0;
  chunk_offset_ = next_chunk_offset_;
  const uint32_t index = chunk_index_++;
  const std::string chunk_where = absl::StrCat(where_, " chunk ", index);
  ByteReader chunk_reader(file_.first(limit), chunk_where);
  uint32_t compressed_size = 0;
  uint32_t size = 0;
  absl::Span<const uint8_t> compressed;
  absl::Status status = chunk_reader.Seek(chunk_offset_);
  if (status.ok()) status = chunk_reader.Read(&compressed_size);
  if (status.ok()) status = chunk_reader.Read(&size);
  if (status.ok())
    status = chunk_reader.ReadBytes(compressed_size, &compressed);
  if (!status.ok()) {
    done_ = true;  // The chunk's extent is unknown: nothing after it is.
    return status;
  }
  next_chunk_offset_ = chunk_reader.offset();
  ByteReader at_chunk(file_.first(limit), chunk_where);
  at_chunk.Seek(chunk_offset_).IgnoreError();  // Read from there above.
  if (size == 0 || size % page_size_ != 0) {
    return at_chunk.Error(absl::StrCat("uncompressed size ", size,
                                       " is not a whole number of ", page_size_,
                                       "-byte pages"));
  }
  if (size > kMaxChunkBytes) {
    return at_chunk.Error(absl::StrCat(
        "uncompressed size ", size, " exceeds the limit of ", kMaxChunkBytes));
  }
  status = zstd_.Decompress(compressed, size, &chunk_);
  if (!status.ok()) {
    chunk_.clear();
    return at_chunk.Error(status.message());
  }
  return absl::OkStatus();
}

absl::Status CpuPageReader::Next(absl::Span<const uint8_t>* page,
                                 bool* has_page) {
  *has_page = false;
  if (done_) return absl::OkStatus();
  if (!extent_.compressed) {
    const uint64_t end = extent_.offset + extent_.size;
    if (next_offset_ >= end) {
      done_ = true;
      return absl::OkStatus();
    }
    page_location_ = next_offset_;
    const uint64_t left = end - next_offset_;
    if (left < page_size_) {
      done_ = true;
      return absl::DataLossError(absl::StrCat(where_, " ", PageLocation(),
                                              ": truncated page (", left,
                                              " of ", page_size_, " bytes)"));
    }
    *page = file_.subspan(next_offset_, page_size_);
    next_offset_ += page_size_;
    *has_page = true;
    return absl::OkStatus();
  }
  while (chunk_pos_ >= chunk_.size()) {
    RETURN_IF_ERROR(NextChunk());
    if (done_) return absl::OkStatus();
  }
  page_location_ = chunk_pos_ / page_size_;
  *page = absl::MakeConstSpan(chunk_).subspan(chunk_pos_, page_size_);
  chunk_pos_ += page_size_;
  *has_page = true;
  return absl::OkStatus();
}

}  // namespace ringwatch
