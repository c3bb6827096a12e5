#include "daemon/tracedat/zstd_decompressor.h"

#include <zstd.h>

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
  if (ctx_ == nullptr) {
    return absl::ResourceExhaustedError("zstd: cannot create a context");
  }
  // The frame header states the content size (trace-cmd's one-shot
  // compression writes it): check it before allocating anything.
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
  output->resize(expected_size);
  const size_t n = ZSTD_decompressDCtx(
      ctx_.get(), output->data(), output->size(), input.data(), input.size());
  if (ZSTD_isError(n)) {
    return absl::DataLossError(absl::StrCat("zstd: ", ZSTD_getErrorName(n)));
  }
  if (n != expected_size) {
    return absl::DataLossError(absl::StrCat(
        "zstd: decompressed to ", n, " bytes, the file says ", expected_size));
  }
  return absl::OkStatus();
}

}  // namespace ringwatch
