#include "daemon/agg/record_reader.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ringwatch {
namespace agg {
namespace {

FieldFormat CharArray(uint32_t offset, uint32_t size) {
  FieldFormat f;
  f.offset = offset;
  f.size = size;
  f.kind = FieldKind::kFixedArray;
  f.is_string = true;
  f.element_size = 1;
  f.array_length = size;
  return f;
}

std::string Read(const std::vector<uint8_t>& payload, const FieldFormat& f,
                 uint32_t width, bool* ok) {
  std::vector<uint8_t> dst(width, 0);
  *ok = ReadFixedString(payload, f, width, dst.data());
  return std::string(reinterpret_cast<const char*>(dst.data()), width);
}

// Every NUL position in a 16- and a 10-byte field, with stale bytes after
// the NUL as the kernel leaves them, against a byte-by-byte reference.
TEST(ReadFixedStringTest, StopsAtTheFirstNulAndClearsTheRest) {
  for (uint32_t size : {16u, 10u, 3u}) {
    for (uint32_t nul = 0; nul <= size; ++nul) {
      std::vector<uint8_t> payload(4 + size, 0);
      for (uint32_t i = 0; i < size; ++i) payload[4 + i] = 'a' + i;
      if (nul < size) payload[4 + nul] = 0;
      bool ok;
      const std::string got = Read(payload, CharArray(4, size), size, &ok);
      ASSERT_TRUE(ok);
      std::string want(size, '\0');
      for (uint32_t i = 0; i < nul && i < size; ++i) want[i] = 'a' + i;
      EXPECT_EQ(got, want) << "size " << size << " nul at " << nul;
    }
  }
}

TEST(ReadFixedStringTest, WidthCutsLongFields) {
  std::vector<uint8_t> payload = {'a', 'b', 'c', 'd', 'e', 'f',
                                  'g', 'h', 'i', 'j', 'k', 'l'};
  bool ok;
  EXPECT_EQ(Read(payload, CharArray(0, 12), 8, &ok), "abcdefgh");
  EXPECT_TRUE(ok);
}

TEST(ReadFixedStringTest, FieldPastTheEndFails) {
  std::vector<uint8_t> payload(10, 'x');
  bool ok;
  Read(payload, CharArray(4, 16), 16, &ok);
  EXPECT_FALSE(ok);
  Read(payload, CharArray(0xFFFFFFF0u, 16), 16, &ok);
  EXPECT_FALSE(ok);
}

TEST(ReadIntegerTest, SizesAndSignedness) {
  std::vector<uint8_t> payload(16, 0xFF);
  FieldFormat f;
  int64_t v;
  for (uint32_t size : {1u, 2u, 4u}) {
    f.offset = 0;
    f.size = size;
    f.is_signed = true;
    ASSERT_TRUE(ReadInteger(payload, f, &v));
    EXPECT_EQ(v, -1);
    f.is_signed = false;
    ASSERT_TRUE(ReadInteger(payload, f, &v));
    EXPECT_EQ(v, (int64_t{1} << (8 * size)) - 1);
  }
  f.size = 8;
  ASSERT_TRUE(ReadInteger(payload, f, &v));
  EXPECT_EQ(v, -1);
  f.offset = 12;
  EXPECT_FALSE(ReadInteger(payload, f, &v));
  f.size = 3;
  f.offset = 0;
  EXPECT_FALSE(ReadInteger(payload, f, &v));
}

}  // namespace
}  // namespace agg
}  // namespace ringwatch
