#include "daemon/tracedat/cpu_page_reader.h"

#include <zstd.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::HasSubstr;

constexpr uint32_t kPage = 4096;

std::vector<uint8_t> Page(uint8_t fill) {
  return std::vector<uint8_t>(kPage, fill);
}

void Append(std::vector<uint8_t>* out, const std::vector<uint8_t>& bytes) {
  out->insert(out->end(), bytes.begin(), bytes.end());
}

void AppendU32(std::vector<uint8_t>* out, uint32_t v) {
  uint8_t b[4];
  std::memcpy(b, &v, 4);
  out->insert(out->end(), b, b + 4);
}

// A chunk as trace-cmd writes it: compressed size, size, zstd data.
void AppendChunk(std::vector<uint8_t>* out, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> c(ZSTD_compressBound(data.size()));
  c.resize(ZSTD_compress(c.data(), c.size(), data.data(), data.size(), 1));
  AppendU32(out, c.size());
  AppendU32(out, data.size());
  Append(out, c);
}

// Drains the reader: the first byte of each page, and every error.
struct Drained {
  std::vector<uint8_t> first_bytes;
  std::vector<std::string> errors;
};

Drained Drain(CpuPageReader& reader) {
  Drained d;
  for (int guard = 0; guard < 1000; ++guard) {
    absl::Span<const uint8_t> page;
    bool has_page = false;
    absl::Status s = reader.Next(&page, &has_page);
    if (!s.ok()) {
      d.errors.push_back(std::string(s.message()));
      continue;
    }
    if (!has_page) break;
    EXPECT_EQ(page.size(), kPage);
    d.first_bytes.push_back(page[0]);
  }
  EXPECT_TRUE(reader.done());
  return d;
}

TEST(CpuPageReaderTest, PlainPagesInFileOrder) {
  std::vector<uint8_t> file = Page(0);  // Whatever precedes the data.
  for (uint8_t i = 1; i <= 3; ++i) Append(&file, Page(i));
  CpuDataExtent e{0, kPage, 3 * kPage, file.size(), false};
  CpuPageReader reader(file, e, kPage, "f: cpu 0");
  Drained d = Drain(reader);
  EXPECT_EQ(d.first_bytes, (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_TRUE(d.errors.empty());
}

TEST(CpuPageReaderTest, PlainTrailingPartialPageIsAnError) {
  std::vector<uint8_t> file = Page(1);
  file.resize(kPage + 100, 2);
  CpuDataExtent e{1, 0, file.size(), file.size(), false};
  CpuPageReader reader(file, e, kPage, "f: cpu 1");
  Drained d = Drain(reader);
  EXPECT_EQ(d.first_bytes, (std::vector<uint8_t>{1}));
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_EQ(d.errors[0],
            "f: cpu 1 page at offset 4096: truncated page (100 of 4096 bytes)");
}

TEST(CpuPageReaderTest, EmptyExtentHasNoPages) {
  const std::vector<uint8_t> file(10);
  CpuPageReader reader(file, CpuDataExtent{0, 5, 0, 10, true}, kPage, "f");
  EXPECT_TRUE(Drain(reader).first_bytes.empty());
}

TEST(CpuPageReaderTest, CompressedChunksDecompressOneAtATime) {
  std::vector<uint8_t> file(64, 0xee);
  const uint64_t offset = file.size();
  AppendU32(&file, 2);
  std::vector<uint8_t> two = Page(1);
  Append(&two, Page(2));
  AppendChunk(&file, two);
  AppendChunk(&file, Page(3));
  // trace-cmd's stored size leaves out the 4-byte chunk count.
  CpuDataExtent e{0, offset, file.size() - offset - 4, file.size(), true};
  CpuPageReader reader(file, e, kPage, "f: cpu 0");
  Drained d = Drain(reader);
  EXPECT_EQ(d.first_bytes, (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_TRUE(d.errors.empty());
}

TEST(CpuPageReaderTest, CorruptChunkIsSkippedAndReported) {
  std::vector<uint8_t> file;
  AppendU32(&file, 3);
  AppendChunk(&file, Page(1));
  const size_t bad = file.size();
  AppendChunk(&file, Page(2));
  file[bad + 8 + 4] ^= 0xff;  // Inside the second chunk's zstd frame.
  file[bad + 8 + 5] ^= 0xff;
  AppendChunk(&file, Page(3));
  CpuPageReader reader(file,
                       CpuDataExtent{0, 0, file.size(), file.size(), true},
                       kPage, "f: cpu 0");
  Drained d = Drain(reader);
  EXPECT_EQ(d.first_bytes, (std::vector<uint8_t>{1, 3}));
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_THAT(d.errors[0], HasSubstr("f: cpu 0 chunk 1 at offset "));
  EXPECT_THAT(d.errors[0], HasSubstr("zstd"));
}

TEST(CpuPageReaderTest, ChunkSizeNotWholePages) {
  std::vector<uint8_t> file;
  AppendU32(&file, 1);
  std::vector<uint8_t> odd(kPage + 1, 5);
  AppendChunk(&file, odd);
  CpuPageReader reader(file,
                       CpuDataExtent{0, 0, file.size(), file.size(), true},
                       kPage, "f: cpu 0");
  Drained d = Drain(reader);
  EXPECT_TRUE(d.first_bytes.empty());
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_THAT(d.errors[0],
              HasSubstr("uncompressed size 4097 is not a whole number of "
                        "4096-byte pages"));
}

TEST(CpuPageReaderTest, BogusCountsAndSizesEndTheCpu) {
  {
    std::vector<uint8_t> file;
    AppendU32(&file, 1000000);  // Far more chunks than bytes.
    AppendChunk(&file, Page(1));
    CpuPageReader reader(file,
                         CpuDataExtent{0, 0, file.size(), file.size(), true},
                         kPage, "f: cpu 0");
    Drained d = Drain(reader);
    ASSERT_EQ(d.errors.size(), 1u);
    EXPECT_THAT(d.errors[0], HasSubstr("claims 1000000 chunks"));
  }
  {
    std::vector<uint8_t> file;
    AppendU32(&file, 1);
    AppendU32(&file, 0x7fffffff);  // Compressed size past the end.
    AppendU32(&file, kPage);
    file.resize(64);
    CpuPageReader reader(file,
                         CpuDataExtent{0, 0, file.size(), file.size(), true},
                         kPage, "f: cpu 0");
    Drained d = Drain(reader);
    ASSERT_EQ(d.errors.size(), 1u);
    EXPECT_THAT(d.errors[0], HasSubstr("truncated (need 2147483647 bytes"));
  }
  {
    std::vector<uint8_t> file;
    AppendU32(&file, 1);
    AppendU32(&file, 8);
    AppendU32(&file, 0x40000000);  // 1 GiB uncompressed: over the cap.
    file.resize(64);
    CpuPageReader reader(file,
                         CpuDataExtent{0, 0, file.size(), file.size(), true},
                         kPage, "f: cpu 0");
    Drained d = Drain(reader);
    ASSERT_EQ(d.errors.size(), 1u);
    EXPECT_THAT(d.errors[0], HasSubstr("exceeds the limit"));
  }
}

}  // namespace
}  // namespace ringwatch
