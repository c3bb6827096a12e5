// Walks the sub-buffers (pages) of one CPU's flyrecord data in a trace.dat
// file: either stored as is (version 6, and version 7 without compression) or
// in zstd chunks (version 7), which it decompresses one at a time into a
// buffer it reuses, so memory stays at one chunk whatever the file size.
#ifndef RINGWATCH_DAEMON_TRACEDAT_CPU_PAGE_READER_H_
#define RINGWATCH_DAEMON_TRACEDAT_CPU_PAGE_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "daemon/tracedat/zstd_decompressor.h"

namespace ringwatch {

// Where one CPU's data lies in the file.
struct CpuDataExtent {
  uint32_t cpu = 0;
  uint64_t offset = 0;  // File offset of the data.
  uint64_t size = 0;    // Bytes at `offset` (compressed size when chunked).
  // Compressed chunks are read up to here (the end of the buffer's section):
  // trace-cmd's stored size leaves out the chunk count.
  uint64_t limit = 0;
  bool compressed = false;
};

class CpuPageReader {
 public:
  // Largest decompressed chunk accepted; trace-cmd writes far smaller ones.
  static constexpr uint64_t kMaxChunkBytes = 64 << 20;

  // `file` is the whole file; `where` prefixes errors ("v7.dat: cpu 1").
  // The extent must lie in `file` (the caller checks it on open).
  CpuPageReader(absl::Span<const uint8_t> file, const CpuDataExtent& extent,
                uint32_t page_size, std::string where);

  // Sets `page` to the next page: valid until the next call. Returns false at
  // the end. On a bad chunk or page it returns a DataLoss error naming it and
  // moves past it when it can (Next may then be called again), or ends.
  absl::Status Next(absl::Span<const uint8_t>* page, bool* has_page);

  // The location of the page Next returned last, for error messages:
  // "page at offset 12288" or "page 3 of chunk 1 (at offset 12288)".
  std::string PageLocation() const;

  bool done() const { return done_; }

 private:
  absl::Status NextChunk();

  absl::Span<const uint8_t> file_;
  CpuDataExtent extent_;
  uint32_t page_size_;
  std::string where_;
  bool done_ = false;

  // Uncompressed data: the next page's file offset.
  uint64_t next_offset_ = 0;

  // Compressed data.
  bool started_ = false;
  uint32_t chunk_count_ = 0;
  uint32_t chunk_index_ = 0;   // Of the next chunk to load.
  uint64_t chunk_offset_ = 0;  // File offset of the loaded chunk's header.
  uint64_t next_chunk_offset_ = 0;
  std::vector<uint8_t> chunk_;  // The loaded chunk, decompressed.
  size_t chunk_pos_ = 0;        // Next page within `chunk_`.
  ZstdDecompressor zstd_;

  uint64_t page_location_ = 0;  // Offset, or index within the chunk.
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_TRACEDAT_CPU_PAGE_READER_H_
