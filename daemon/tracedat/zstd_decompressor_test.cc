#include "daemon/tracedat/zstd_decompressor.h"

#include <zstd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::HasSubstr;

std::vector<uint8_t> Compress(const std::vector<uint8_t>& in) {
  std::vector<uint8_t> out(ZSTD_compressBound(in.size()));
  const size_t n =
      ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

std::vector<uint8_t> Sample(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7 + i / 13);
  return v;
}

TEST(ZstdDecompressorTest, RoundTripsAndReusesTheBuffer) {
  ZstdDecompressor z;
  std::vector<uint8_t> out;
  const std::vector<uint8_t> a = Sample(10000);
  ASSERT_TRUE(z.Decompress(Compress(a), a.size(), &out).ok());
  EXPECT_EQ(out, a);
  const std::vector<uint8_t> b = Sample(300);
  ASSERT_TRUE(z.Decompress(Compress(b), b.size(), &out).ok());
  EXPECT_EQ(out, b);
}

TEST(ZstdDecompressorTest, RejectsSizeMismatchBeforeAllocating) {
  ZstdDecompressor z;
  std::vector<uint8_t> out;
  const std::vector<uint8_t> a = Sample(5000);
  absl::Status s = z.Decompress(Compress(a), 4096, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(),
              HasSubstr("frame holds 5000 bytes, the file says 4096"));
  EXPECT_TRUE(out.empty());
  s = z.Decompress(Compress(a), 8192, &out);
  EXPECT_THAT(s.message(),
              HasSubstr("decompressed to 5000 bytes, the file says 8192"));
}

// Like trace-cmd's: a frame that does not state its size.
std::vector<uint8_t> CompressStreaming(const std::vector<uint8_t>& in) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
  std::vector<uint8_t> out(ZSTD_compressBound(in.size()) + 64);
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  ZSTD_outBuffer output{out.data(), out.size(), 0};
  EXPECT_EQ(ZSTD_compressStream2(cctx, &output, &input, ZSTD_e_end), 0u);
  ZSTD_freeCCtx(cctx);
  out.resize(output.pos);
  EXPECT_EQ(ZSTD_getFrameContentSize(out.data(), out.size()),
            ZSTD_CONTENTSIZE_UNKNOWN);
  return out;
}

TEST(ZstdDecompressorTest, FramesWithoutStatedSize) {
  ZstdDecompressor z;
  std::vector<uint8_t> out;
  const std::vector<uint8_t> a = Sample(300000);
  const std::vector<uint8_t> c = CompressStreaming(a);
  ASSERT_TRUE(z.Decompress(c, a.size(), &out).ok());
  EXPECT_EQ(out, a);
  absl::Status s = z.Decompress(c, a.size() - 1, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("more than the 299999 bytes the file says"));
  EXPECT_TRUE(out.empty());
  s = z.Decompress(c, a.size() + 1, &out);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("decompressed to 300000 bytes, the file says 300001"));
}

TEST(ZstdDecompressorTest, CorruptSizeDoesNotAllocateIt) {
  ZstdDecompressor z;
  std::vector<uint8_t> out;
  const std::vector<uint8_t> c = CompressStreaming(Sample(1000));
  EXPECT_FALSE(z.Decompress(c, size_t{1} << 34, &out).ok());
  EXPECT_LT(out.capacity(), size_t{1} << 20);
}

TEST(ZstdDecompressorTest, RejectsGarbageAndCorruption) {
  ZstdDecompressor z;
  std::vector<uint8_t> out;
  const std::vector<uint8_t> garbage = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_THAT(std::string(z.Decompress(garbage, 8, &out).message()),
              HasSubstr("not a zstd frame"));
  std::vector<uint8_t> c = Compress(Sample(5000));
  c.resize(c.size() / 2);
  EXPECT_EQ(z.Decompress(c, 5000, &out).code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(z.Decompress({}, 0, &out).ok());
}

}  // namespace
}  // namespace ringwatch
