#include "daemon/tracedat/byte_reader.h"

#include <cstdint>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::HasSubstr;

TEST(ByteReaderTest, ReadsLittleEndianIntegersAndStrings) {
  const std::vector<uint8_t> bytes = {0x34, 0x12, 0x78, 0x56, 0x34,
                                      0x12, 'a',  'b',  0,    'x'};
  ByteReader r(bytes, "f: part", 100);
  uint16_t u16 = 0;
  uint32_t u32 = 0;
  absl::string_view s;
  ASSERT_TRUE(r.Read(&u16).ok());
  ASSERT_TRUE(r.Read(&u32).ok());
  ASSERT_TRUE(r.ReadCString(16, &s).ok());
  EXPECT_EQ(u16, 0x1234);
  EXPECT_EQ(u32, 0x12345678u);
  EXPECT_EQ(s, "ab");
  EXPECT_EQ(r.offset(), 109u);
  EXPECT_EQ(r.remaining(), 1u);
}

TEST(ByteReaderTest, TruncatedReadNamesWhereOffsetAndSizes) {
  const std::vector<uint8_t> bytes = {1, 2, 3};
  ByteReader r(bytes, "trace.dat: section 'header_page'", 1234);
  uint64_t v = 0;
  absl::Status s = r.Read(&v);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(s.message(),
            "trace.dat: section 'header_page' at offset 1234: truncated "
            "(need 8 bytes, have 3)");
  EXPECT_EQ(r.pos(), 0u);  // Nothing consumed on failure.
}

TEST(ByteReaderTest, DecompressedOffsetsSaySo) {
  const std::vector<uint8_t> bytes = {1};
  ByteReader r(bytes, "f: section 'x'", 0, /*decompressed=*/true);
  ASSERT_TRUE(r.Skip(1).ok());
  EXPECT_THAT(r.Skip(5).message(), HasSubstr("at uncompressed offset 1"));
}

TEST(ByteReaderTest, HugeSizesFailWithoutOverflow) {
  const std::vector<uint8_t> bytes(16);
  ByteReader r(bytes, "f");
  absl::Span<const uint8_t> out;
  EXPECT_FALSE(r.ReadBytes(~uint64_t{0}, &out).ok());
  EXPECT_FALSE(r.Skip(~uint64_t{0} - 3).ok());
  EXPECT_FALSE(r.Seek(17).ok());
  EXPECT_TRUE(r.Seek(16).ok());
  EXPECT_TRUE(r.at_end());
}

TEST(ByteReaderTest, CStringWithoutNulOrTooLong) {
  const std::vector<uint8_t> unterminated = {'a', 'b', 'c'};
  ByteReader r1(unterminated, "f");
  absl::string_view s;
  EXPECT_THAT(r1.ReadCString(16, &s).message(),
              HasSubstr("no terminating NUL"));
  const std::vector<uint8_t> long_string = {'a', 'b', 'c', 'd', 0};
  ByteReader r2(long_string, "f");
  EXPECT_THAT(r2.ReadCString(3, &s).message(),
              HasSubstr("string longer than 3 bytes"));
  ByteReader r3(long_string, "f");
  ASSERT_TRUE(r3.ReadCString(4, &s).ok());
  EXPECT_EQ(s, "abcd");
  ByteReader empty({}, "f");
  EXPECT_FALSE(empty.ReadCString(4, &s).ok());
}

TEST(ByteReaderTest, ExpectMatchesExactBytes) {
  const std::vector<uint8_t> bytes = {'h', 'i', 0, 'x'};
  ByteReader r(bytes, "f");
  EXPECT_THAT(r.Expect(absl::string_view("ho\0", 3), "\"ho\"").message(),
              HasSubstr("expected \"ho\""));
  EXPECT_TRUE(r.Expect(absl::string_view("hi\0", 3), "\"hi\"").ok());
  EXPECT_EQ(r.pos(), 3u);
}

}  // namespace
}  // namespace ringwatch
