// Decompresses the zstd blocks of trace.dat version 7 files (compressed
// metadata sections and flyrecord chunks), each into a caller-provided,
// reusable buffer of exactly the size the file states.
#ifndef RINGWATCH_DAEMON_TRACEDAT_ZSTD_DECOMPRESSOR_H_
#define RINGWATCH_DAEMON_TRACEDAT_ZSTD_DECOMPRESSOR_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"

struct ZSTD_DCtx_s;

namespace ringwatch {

class ZstdDecompressor {
 public:
  ZstdDecompressor();
  ~ZstdDecompressor();
  ZstdDecompressor(ZstdDecompressor&&) noexcept;
  ZstdDecompressor& operator=(ZstdDecompressor&&) noexcept;

  // Decompresses `input` (one or more whole frames) into `output`, which
  // ends up exactly `expected_size` bytes (its capacity is reused between
  // calls). The output grows with what the data produces, so a corrupt
  // `expected_size` does not cause a large allocation. Fails when a frame
  // declares a larger size, when the data is corrupt or truncated, or when
  // it does not come out at exactly `expected_size`; `output` is then empty.
  // Errors give the reason only: callers add where the block is.
  absl::Status Decompress(absl::Span<const uint8_t> input, size_t expected_size,
                          std::vector<uint8_t>* output);

 private:
  struct Deleter {
    void operator()(ZSTD_DCtx_s* ctx) const;
  };
  std::unique_ptr<ZSTD_DCtx_s, Deleter>
      ctx_;  // Null if zstd ran out of memory.
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_TRACEDAT_ZSTD_DECOMPRESSOR_H_
