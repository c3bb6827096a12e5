#include "daemon/tracedat/zstd_decompressor.h"

#include <zstd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ringwatch {

void ZstdDecompressor::Deleter::operator()(ZSTD_DCtx_s* ctx) const {
  ZSTD_freeDCtx(ctx);
}

ZstdDecompressor::ZstdDecompressor() : ctx_(ZSTD_createDCtx()) {}
ZstdDecompressor::~ZstdDecompressor() = default;
ZstdDecompressor::ZstdDecompressor(ZstdDecompressor&&) noexcept = default;
ZstdDecompressor& ZstdDecompressor::operator=(ZstdDecompressor&&) noexcept =
    default;

absl::Status ZstdDecompressor::Decompress(absl::Span<const uint8_t> input,
                                          size_t expected_size,
                                          std::vector<uint8_t>* output) {
  output->clear();
  if (ctx_ == nullptr) {
    return absl::ResourceExhaustedError("zstd: cannot create a context");
  }
  const unsigned long long declared =
      ZSTD_getFrameContentSize(input.data(), input.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) {
    return absl::DataLossError("zstd: not a zstd frame");
  }
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared > expected_size) {
    return absl::DataLossError(absl::StrCat("zstd: frame holds ", declared,
                                            " bytes, the file says ",
                                            expected_size));
  }
  // trace-cmd's frames do not declare their size, so the size the file
  // states is all there is: grow the output with what the data really
  // produces instead of trusting that size for the allocation.
  ZSTD_DCtx_reset(ctx_.get(), ZSTD_reset_session_only);
  const size_t limit = expected_size + 1;  // One more byte to see overflow.
  output->resize(std::min(limit, std::max<size_t>(input.size() * 4, 64 << 10)));
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  size_t produced = 0;
  for (;;) {
    ZSTD_outBuffer out{output->data(), output->size(), produced};
    const size_t ret = ZSTD_decompressStream(ctx_.get(), &out, &in);
    produced = out.pos;
    if (ZSTD_isError(ret)) {
      output->clear();
      return absl::DataLossError(
          absl::StrCat("zstd: ", ZSTD_getErrorName(ret)));
    }
    if (produced > expected_size) {
      output->clear();
      return absl::DataLossError(
          absl::StrCat("zstd: data decompresses to more than the ",
                       expected_size, " bytes the file says"));
    }
    if (ret == 0 && in.pos == in.size) break;  // Every frame complete.
    if (out.pos == out.size) {
      output->resize(std::min(limit, output->size() * 2));
    } else if (in.pos == in.size) {
      output->clear();
      return absl::DataLossError("zstd: truncated frame");
    }
  }
  if (produced != expected_size) {
    output->clear();
    return absl::DataLossError(absl::StrCat("zstd: decompressed to ", produced,
                                            " bytes, the file says ",
                                            expected_size));
  }
  output->resize(expected_size);
  return absl::OkStatus();
}

}  // namespace ringwatch
