#include "daemon/event/field_access.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "daemon/event/event_format.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

// A little-endian payload builder for crafted records.
class Payload {
 public:
  explicit Payload(size_t size) : bytes_(size, 0) {}
  template <typename T>
  void Put(size_t offset, T value) {
    ASSERT_LE(offset + sizeof(value), bytes_.size());
    std::memcpy(bytes_.data() + offset, &value, sizeof(value));
  }
  void PutBytes(size_t offset, const std::string& s) {
    ASSERT_LE(offset + s.size(), bytes_.size());
    std::memcpy(bytes_.data() + offset, s.data(), s.size());
  }
  absl::Span<const uint8_t> span() const { return bytes_; }
  absl::Span<const uint8_t> prefix(size_t n) const {
    return absl::Span<const uint8_t>(bytes_.data(), n);
  }

 private:
  std::vector<uint8_t> bytes_;
};

FieldFormat Field(FieldKind kind, uint32_t offset, uint32_t size,
                  bool is_string = false) {
  FieldFormat f;
  f.name = "f";
  f.kind = kind;
  f.offset = offset;
  f.size = size;
  f.element_size = 1;
  f.is_string = is_string;
  return f;
}

uint32_t Locator(uint32_t offset, uint32_t length) {
  return (length << 16) | offset;
}

TEST(LoadIntegerTest, SizesAndSignExtension) {
  Payload p(16);
  p.Put<uint8_t>(0, 0xFE);
  p.Put<uint16_t>(2, 0xFFFE);
  p.Put<uint32_t>(4, 0xFFFFFFFE);
  p.Put<uint64_t>(8, 0xFFFFFFFFFFFFFFFEull);
  int64_t v;
  ASSERT_TRUE(LoadInteger(p.span(), 0, 1, false, &v));
  EXPECT_EQ(v, 0xFE);
  ASSERT_TRUE(LoadInteger(p.span(), 0, 1, true, &v));
  EXPECT_EQ(v, -2);
  ASSERT_TRUE(LoadInteger(p.span(), 2, 2, false, &v));
  EXPECT_EQ(v, 0xFFFE);
  ASSERT_TRUE(LoadInteger(p.span(), 2, 2, true, &v));
  EXPECT_EQ(v, -2);
  ASSERT_TRUE(LoadInteger(p.span(), 4, 4, false, &v));
  EXPECT_EQ(v, 0xFFFFFFFE);
  ASSERT_TRUE(LoadInteger(p.span(), 4, 4, true, &v));
  EXPECT_EQ(v, -2);
  ASSERT_TRUE(LoadInteger(p.span(), 8, 8, true, &v));
  EXPECT_EQ(v, -2);
  ASSERT_TRUE(LoadInteger(p.span(), 8, 8, false, &v));
  EXPECT_EQ(static_cast<uint64_t>(v), 0xFFFFFFFFFFFFFFFEull);
}

TEST(LoadIntegerTest, OutOfBoundsAndOddSizesFail) {
  Payload p(16);
  int64_t v = 123;
  EXPECT_FALSE(LoadInteger(p.span(), 9, 8, false, &v));   // Runs past end.
  EXPECT_FALSE(LoadInteger(p.span(), 16, 1, false, &v));  // At end.
  EXPECT_FALSE(LoadInteger(p.span(), UINT32_MAX, 8, false, &v));
  EXPECT_FALSE(LoadInteger(p.span(), 0, 3, false, &v));
  EXPECT_FALSE(LoadInteger(p.span(), 0, 16, false, &v));
  EXPECT_FALSE(LoadInteger({}, 0, 1, false, &v));
  EXPECT_EQ(v, 123);                                    // Untouched on failure.
  EXPECT_TRUE(LoadInteger(p.span(), 8, 8, false, &v));  // Exactly at end.
}

TEST(FieldIntegerTest, UsesFieldSignedness) {
  Payload p(8);
  p.Put<int32_t>(4, -7);
  FieldFormat f = Field(FieldKind::kScalar, 4, 4);
  f.is_signed = true;
  int64_t v;
  ASSERT_TRUE(FieldInteger(p.span(), f, &v));
  EXPECT_EQ(v, -7);
}

TEST(FieldBytesTest, FixedArrayAndString) {
  Payload p(32);
  p.PutBytes(8, "swapper/0");  // Rest of the 16 bytes stays NUL.
  FieldFormat comm = Field(FieldKind::kFixedArray, 8, 16, true);
  absl::Span<const uint8_t> bytes;
  ASSERT_TRUE(FieldBytes(p.span(), comm, &bytes));
  EXPECT_EQ(bytes.size(), 16u);
  absl::string_view s;
  ASSERT_TRUE(FieldString(p.span(), comm, &s));
  EXPECT_EQ(s, "swapper/0");
  EXPECT_FALSE(FieldBytes(p.prefix(23), comm, &bytes));
  EXPECT_FALSE(FieldString(p.prefix(23), comm, &s));
}

TEST(FieldStringTest, UnterminatedStringStopsAtFieldEnd) {
  Payload p(32);
  p.PutBytes(8, "0123456789abcdefXYZ");
  FieldFormat comm = Field(FieldKind::kFixedArray, 8, 16, true);
  absl::string_view s;
  ASSERT_TRUE(FieldString(p.span(), comm, &s));
  EXPECT_EQ(s, "0123456789abcdef");
}

TEST(FieldBytesTest, DataLoc) {
  // sched_process_exec: filename locator at 8, string after the fields.
  Payload p(32);
  p.Put<uint32_t>(8, Locator(20, 9));
  p.PutBytes(20, "/bin/true");
  FieldFormat f = Field(FieldKind::kDataLoc, 8, 4, true);
  absl::string_view s;
  ASSERT_TRUE(FieldString(p.span(), f, &s));
  EXPECT_EQ(s, "/bin/true");
  // The same, with the terminating NUL counted in the length (as the kernel
  // does for __string).
  p.Put<uint32_t>(8, Locator(20, 10));
  ASSERT_TRUE(FieldString(p.span(), f, &s));
  EXPECT_EQ(s, "/bin/true");
  absl::Span<const uint8_t> bytes;
  ASSERT_TRUE(FieldBytes(p.span(), f, &bytes));
  EXPECT_EQ(bytes.size(), 10u);
}

TEST(FieldBytesTest, DataLocOutOfBounds) {
  Payload p(32);
  FieldFormat f = Field(FieldKind::kDataLoc, 8, 4, true);
  absl::Span<const uint8_t> bytes;
  p.Put<uint32_t>(8, Locator(30, 3));  // Ends 1 past the payload.
  EXPECT_FALSE(FieldBytes(p.span(), f, &bytes));
  p.Put<uint32_t>(8, Locator(0xFFFF, 0xFFFF));
  EXPECT_FALSE(FieldBytes(p.span(), f, &bytes));
  p.Put<uint32_t>(8, Locator(33, 0));  // Empty but past the end.
  EXPECT_FALSE(FieldBytes(p.span(), f, &bytes));
  p.Put<uint32_t>(8, Locator(32, 0));  // Empty, at the end: fine.
  ASSERT_TRUE(FieldBytes(p.span(), f, &bytes));
  EXPECT_TRUE(bytes.empty());
  absl::string_view s = "x";
  ASSERT_TRUE(FieldString(p.span(), f, &s));
  EXPECT_EQ(s, "");
  // The locator itself cut off.
  EXPECT_FALSE(FieldBytes(p.prefix(11), f, &bytes));
  // A format that claims a locator of the wrong size.
  FieldFormat wrong = Field(FieldKind::kDataLoc, 8, 2, true);
  EXPECT_FALSE(FieldBytes(p.span(), wrong, &bytes));
}

TEST(FieldBytesTest, RelLocIsRelativeToEndOfLocator) {
  Payload p(40);
  // Locator at 16 ends at 20; data 4 bytes further, at 24.
  p.Put<uint32_t>(16, Locator(4, 6));
  p.PutBytes(24, "hello");
  FieldFormat f = Field(FieldKind::kRelLoc, 16, 4, true);
  absl::string_view s;
  ASSERT_TRUE(FieldString(p.span(), f, &s));
  EXPECT_EQ(s, "hello");
  absl::Span<const uint8_t> bytes;
  p.Put<uint32_t>(16, Locator(15, 6));  // 20 + 15 + 6 = 41 > 40.
  EXPECT_FALSE(FieldBytes(p.span(), f, &bytes));
  p.Put<uint32_t>(16, Locator(14, 6));  // Exactly to the end.
  EXPECT_TRUE(FieldBytes(p.span(), f, &bytes));
  EXPECT_EQ(bytes.size(), 6u);
  // Read as data_loc, the same word would point elsewhere.
  p.Put<uint32_t>(16, Locator(4, 6));
  FieldFormat as_data_loc = Field(FieldKind::kDataLoc, 16, 4, true);
  ASSERT_TRUE(FieldString(p.span(), as_data_loc, &s));
  EXPECT_NE(s, "hello");
}

TEST(FieldBytesTest, FlexArrayRunsToPayloadEnd) {
  // ftrace/print: ip at 8, buf at 16.
  Payload p(28);
  p.PutBytes(16, "marker\n");
  FieldFormat buf = Field(FieldKind::kFlexArray, 16, 0, true);
  absl::Span<const uint8_t> bytes;
  ASSERT_TRUE(FieldBytes(p.span(), buf, &bytes));
  EXPECT_EQ(bytes.size(), 12u);
  absl::string_view s;
  ASSERT_TRUE(FieldString(p.span(), buf, &s));
  EXPECT_EQ(s, "marker\n");
  ASSERT_TRUE(FieldBytes(p.prefix(16), buf, &bytes));
  EXPECT_TRUE(bytes.empty());
  EXPECT_FALSE(FieldBytes(p.prefix(15), buf, &bytes));
}

TEST(FieldBytesTest, ScalarBounds) {
  Payload p(12);
  FieldFormat f = Field(FieldKind::kScalar, 8, 8);
  absl::Span<const uint8_t> bytes;
  EXPECT_FALSE(FieldBytes(p.span(), f, &bytes));
  f.offset = 4;
  ASSERT_TRUE(FieldBytes(p.span(), f, &bytes));
  EXPECT_EQ(bytes.data(), p.span().data() + 4);
  f.offset = UINT32_MAX;
  f.size = 2;
  EXPECT_FALSE(FieldBytes(p.span(), f, &bytes));
}

}  // namespace
}  // namespace ringwatch
