// Bad trace.dat input: every damaged file must give a clear error naming the
// file and where, never a crash or an out-of-bounds read (run it with
// --config=asan).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "daemon/tracedat/trace_dat_file.h"
#include "daemon/tracedat/trace_dat_test_util.h"
#include "daemon/util/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kName[] = "bad.dat";

// Sanitized builds run ~16x slower: they try fewer cuts and mutations.
#if defined(__SANITIZE_ADDRESS__)
constexpr int kSlowdown = 4;
#else
constexpr int kSlowdown = 1;
#endif

// Messages as std::string: gMock's matchers and printers want std types.
std::string Msg(const absl::Status& s) { return std::string(s.message()); }

std::vector<uint8_t> Fixture(const std::string& name) {
  absl::StatusOr<std::string> text = ReadFileToString(TraceDatFixture(name));
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? std::vector<uint8_t>(text->begin(), text->end())
                   : std::vector<uint8_t>();
}

absl::StatusOr<std::unique_ptr<TraceDatFile>> OpenBytes(
    const std::vector<uint8_t>& bytes) {
  return TraceDatFile::OpenBuffer(kName, bytes);
}

absl::Status OpenStatus(const std::vector<uint8_t>& bytes) {
  return OpenBytes(bytes).status();
}

template <typename T>
T Get(const std::vector<uint8_t>& b, size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof(T));
  return v;
}

template <typename T>
void Put(std::vector<uint8_t>* b, size_t at, T v) {
  std::memcpy(b->data() + at, &v, sizeof(T));
}

// The v7 fixture's sections, walked from the first one (right after the
// file header: magic, "7", endian, long size, page size, "zstd", "1.5.4",
// options offset).
struct SectionHeader {
  size_t offset;
  uint16_t id;
  uint16_t flags;
  uint64_t size;
};

std::vector<SectionHeader> V7Sections(const std::vector<uint8_t>& b) {
  std::vector<SectionHeader> out;
  size_t at = 10 + 2 + 1 + 1 + 4 + 5 + 6 + 8;
  while (at + 16 <= b.size()) {
    SectionHeader s{at, Get<uint16_t>(b, at), Get<uint16_t>(b, at + 2),
                    Get<uint64_t>(b, at + 8)};
    out.push_back(s);
    at += 16 + s.size;
  }
  EXPECT_EQ(at, b.size());
  return out;
}

const SectionHeader* FindSection(const std::vector<SectionHeader>& sections,
                                 uint16_t id) {
  for (const SectionHeader& s : sections) {
    if (s.id == id) return &s;
  }
  ADD_FAILURE() << "no section " << id;
  return nullptr;
}

// Whole-file decode of an opened file: OK with every event, or an error
// naming the file.
struct Decoded {
  absl::Status status;
  size_t records = 0;
  DecodeCounters totals;
};

Decoded DecodeAll(const TraceDatFile& f) {
  CapturingSink sink;
  Decoded d;
  d.status = f.ReadAll(&sink, &d.totals);
  d.records = sink.records.size();
  return d;
}

TEST(TraceDatBadInputTest, WrongMagicOrEmpty) {
  std::vector<uint8_t> b = Fixture("v7.dat");
  b[1] = 0;
  absl::Status s = OpenStatus(b);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Msg(s), "bad.dat: not a trace.dat file (bad magic)");
  EXPECT_EQ(OpenStatus({}).code(), absl::StatusCode::kInvalidArgument);

  // An empty file on disk (nothing to map).
  const std::string path = absl::StrCat(testing::TempDir(), "/empty.dat");
  std::ofstream(path).close();
  s = TraceDatFile::Open(path).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(s), StartsWith(path));
}

TEST(TraceDatBadInputTest, UnsupportedVersionEndiannessCompression) {
  std::vector<uint8_t> b = Fixture("v7.dat");
  b[10] = '8';
  absl::Status s = OpenStatus(b);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(Msg(s),
            "bad.dat: unsupported trace.dat version '8' (supported: 6, 7)");

  b = Fixture("v6.dat");
  b[10] = '5';
  EXPECT_THAT(Msg(OpenStatus(b)), HasSubstr("version '5'"));

  b = Fixture("v7.dat");
  b[12] = 1;
  s = OpenStatus(b);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(Msg(s), HasSubstr("big-endian"));

  b = Fixture("v7.dat");
  std::memcpy(b.data() + 18, "zlib", 4);
  s = OpenStatus(b);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(Msg(s), HasSubstr("compression 'zlib' is not supported"));

  b = Fixture("v6.dat");
  Put<uint32_t>(&b, 14, 1000);
  s = OpenStatus(b);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Msg(s), "bad.dat: file header at offset 18: bad page size 1000");
}

// Cut the file everywhere (every byte of the headers, then strided): each
// cut either fails to open with an error naming the file and an offset, or
// (cut in data not needed to decode) decodes the complete stream, or fails
// to decode with an error naming the file.
void CheckTruncations(const std::string& fixture) {
  const std::vector<uint8_t> full = Fixture(fixture);
  ASSERT_FALSE(full.empty());
  std::unique_ptr<TraceDatFile> whole = *OpenBytes(full);
  const Decoded expected = DecodeAll(*whole);
  ASSERT_TRUE(expected.status.ok());
  size_t opened = 0;
  size_t failed = 0;
  const size_t stride = std::max<size_t>(1, full.size() * kSlowdown / 1000);
  for (size_t cut = 0; cut < full.size(); cut += cut < 1024 ? 1 : stride) {
    std::vector<uint8_t> b(full.begin(), full.begin() + cut);
    absl::StatusOr<std::unique_ptr<TraceDatFile>> f = OpenBytes(b);
    if (!f.ok()) {
      ++failed;
      const absl::Status& s = f.status();
      ASSERT_THAT(Msg(s), StartsWith("bad.dat: ")) << "cut " << cut;
      if (cut < 10) {
        ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
      } else {
        ASSERT_EQ(s.code(), absl::StatusCode::kDataLoss) << "cut " << cut << s;
        ASSERT_THAT(Msg(s), AnyOf(HasSubstr("offset"), HasSubstr("section")))
            << "cut " << cut;
      }
      continue;
    }
    ++opened;
    const Decoded d = DecodeAll(**f);
    if (d.status.ok()) {
      ASSERT_EQ(d.records, expected.records) << "cut " << cut;
    } else {
      ASSERT_THAT(Msg(d.status), StartsWith("bad.dat: ")) << "cut " << cut;
    }
  }
  EXPECT_GT(failed, 800u / kSlowdown);
}

TEST(TraceDatBadInputTest, TruncatedVersion7) { CheckTruncations("v7.dat"); }
TEST(TraceDatBadInputTest, TruncatedVersion6) { CheckTruncations("v6.dat"); }

// Random damage: whatever happens, errors name the file.
void CheckCorruption(const std::string& fixture, uint32_t seed) {
  const std::vector<uint8_t> full = Fixture(fixture);
  std::mt19937 rng(seed);
  size_t open_errors = 0;
  for (int i = 0; i < 700 / kSlowdown; ++i) {
    std::vector<uint8_t> b = full;
    const int flips = 1 + rng() % 4;
    for (int k = 0; k < flips; ++k) b[rng() % b.size()] ^= 1 + rng() % 255;
    absl::StatusOr<std::unique_ptr<TraceDatFile>> f = OpenBytes(b);
    if (!f.ok()) {
      ++open_errors;
      ASSERT_THAT(Msg(f.status()), StartsWith("bad.dat: "));
      continue;
    }
    const Decoded d = DecodeAll(**f);
    if (!d.status.ok()) {
      ASSERT_THAT(Msg(d.status), StartsWith("bad.dat: "));
      ASSERT_GT(d.totals.decode_errors, 0u);
    }
  }
  EXPECT_GT(open_errors, 0u);
}

TEST(TraceDatBadInputTest, CorruptedBytesVersion7) {
  CheckCorruption("v7.dat", 7);
}
TEST(TraceDatBadInputTest, CorruptedBytesVersion6) {
  CheckCorruption("v6.dat", 6);
}

TEST(TraceDatBadInputTest, BogusCompressedSectionSizes) {
  const std::vector<uint8_t> full = Fixture("v7.dat");
  const std::vector<SectionHeader> sections = V7Sections(full);
  const SectionHeader* events = FindSection(sections, 18);
  ASSERT_NE(events, nullptr);
  ASSERT_EQ(events->flags, 1);
  const size_t csize_at = events->offset + 16;
  const size_t rsize_at = csize_at + 4;
  const uint32_t rsize = Get<uint32_t>(full, rsize_at);
  const std::string where = absl::StrCat("bad.dat: section 'event formats'");

  std::vector<uint8_t> b = full;
  Put<uint32_t>(&b, rsize_at, 0xffffffff);
  absl::Status s = OpenStatus(b);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(Msg(s), StartsWith(where));
  EXPECT_THAT(Msg(s), HasSubstr("uncompressed size 4294967295 exceeds"));

  b = full;
  Put<uint32_t>(&b, rsize_at, rsize - 1);
  s = OpenStatus(b);
  EXPECT_THAT(Msg(s), StartsWith(where));
  EXPECT_THAT(Msg(s),
              HasSubstr(absl::StrCat("data decompresses to more than the ",
                                     rsize - 1, " bytes the file says")));

  b = full;
  Put<uint32_t>(&b, rsize_at, rsize + 1);
  EXPECT_THAT(Msg(OpenStatus(b)),
              HasSubstr(absl::StrCat("decompressed to ", rsize,
                                     " bytes, the file says ", rsize + 1)));

  b = full;
  Put<uint32_t>(&b, csize_at, 0x7fffffff);
  s = OpenStatus(b);
  EXPECT_THAT(Msg(s), StartsWith(where));
  EXPECT_THAT(Msg(s), HasSubstr("truncated (need 2147483647 bytes"));

  b = full;
  Put<uint64_t>(&b, events->offset + 8, uint64_t{1} << 62);
  s = OpenStatus(b);
  EXPECT_EQ(Msg(s),
            absl::StrCat(where, " at offset ", events->offset + 16,
                         ": truncated (need 4611686018427387904 bytes, have ",
                         full.size() - events->offset - 16, ")"));

  b = full;
  b[csize_at + 8 + 6] ^= 0x55;  // Inside the zstd frame.
  s = OpenStatus(b);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(Msg(s), StartsWith(where));
  EXPECT_THAT(Msg(s), HasSubstr("zstd"));
}

TEST(TraceDatBadInputTest, BogusChunkSizes) {
  const std::vector<uint8_t> full = Fixture("v7.dat");
  std::unique_ptr<TraceDatFile> good = *OpenBytes(full);
  const TraceDatBuffer& buffer = good->buffers()[good->default_buffer()];
  const size_t count_at = buffer.cpus[0].offset;
  const size_t rsize_at = count_at + 4 + 4;
  const Decoded baseline = DecodeAll(*good);

  std::vector<uint8_t> b = full;
  Put<uint32_t>(&b, rsize_at, Get<uint32_t>(full, rsize_at) + 4096);
  std::unique_ptr<TraceDatFile> f = *OpenBytes(b);
  Decoded d = DecodeAll(*f);
  EXPECT_EQ(d.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(Msg(d.status), StartsWith(absl::StrCat(
                                 "bad.dat: buffer '", buffer.name,
                                 "' cpu 0 chunk 0 at offset ", count_at + 4,
                                 ": zstd: decompressed to")));
  // CPU 1 still decodes.
  EXPECT_GT(d.records, 0u);
  EXPECT_LT(d.records, baseline.records);
  EXPECT_EQ(d.totals.decode_errors, 1u);

  b = full;
  Put<uint32_t>(&b, count_at, 0xffffffff);
  d = DecodeAll(**OpenBytes(b));
  EXPECT_THAT(Msg(d.status), HasSubstr("claims 4294967295 chunks"));

  b = full;
  Put<uint32_t>(&b, count_at + 4, 0x7ffffff0);
  d = DecodeAll(**OpenBytes(b));
  EXPECT_THAT(Msg(d.status), HasSubstr("truncated (need 2147483632"));

  b = full;
  Put<uint32_t>(&b, rsize_at, 100);
  d = DecodeAll(**OpenBytes(b));
  EXPECT_THAT(Msg(d.status),
              HasSubstr("uncompressed size 100 is not a whole number"));
}

TEST(TraceDatBadInputTest, OptionsThatLoopOrPointAtTheWrongSection) {
  const std::vector<uint8_t> full = Fixture("v7.dat");
  const std::vector<SectionHeader> sections = V7Sections(full);
  const SectionHeader* options = FindSection(sections, 0);
  const SectionHeader* ftrace = FindSection(sections, 17);
  ASSERT_NE(options, nullptr);
  ASSERT_NE(ftrace, nullptr);
  // DONE is the last option: its 8 bytes end the section.
  const size_t next_at = options->offset + 16 + options->size - 8;
  std::vector<uint8_t> b = full;
  Put<uint64_t>(&b, next_at, options->offset);
  absl::Status s = OpenStatus(b);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Msg(s), absl::StrCat("bad.dat: options sections loop back "
                                 "to offset ",
                                 options->offset));

  // The first option is HEADER_INFO (id 16, 8 bytes): aim it at ftrace's.
  const size_t first = options->offset + 16;
  ASSERT_EQ(Get<uint16_t>(full, first), 16);
  b = full;
  Put<uint64_t>(&b, first + 6, ftrace->offset);
  s = OpenStatus(b);
  EXPECT_EQ(
      Msg(s),
      absl::StrCat("bad.dat: section 'header_page' at offset ", ftrace->offset,
                   ": section id 17 ('ftrace formats'), expected 16"));

  b = full;
  Put<uint64_t>(&b, first + 6, full.size() + 5);
  EXPECT_THAT(Msg(OpenStatus(b)), HasSubstr("past the end of the file"));

  // Without HEADER_INFO nothing can be decoded.
  b = full;
  Put<uint16_t>(&b, first, 999);
  s = OpenStatus(b);
  EXPECT_THAT(Msg(s), HasSubstr("no header_page section"));
}

TEST(TraceDatBadInputTest, Version6CpuDataOutsideTheFile) {
  const std::vector<uint8_t> full = Fixture("v6.dat");
  std::unique_ptr<TraceDatFile> good = *OpenBytes(full);
  const CpuDataExtent extent = good->buffers()[good->default_buffer()].cpus[1];
  // Find the instance's CPU table entry (offset, size) in the file.
  std::vector<uint8_t> needle(16);
  std::memcpy(needle.data(), &extent.offset, 8);
  std::memcpy(needle.data() + 8, &extent.size, 8);
  auto it = std::search(full.begin(), full.end(), needle.begin(), needle.end());
  ASSERT_NE(it, full.end());
  std::vector<uint8_t> b = full;
  Put<uint64_t>(&b, (it - full.begin()) + 8, extent.size + full.size());
  absl::Status s = OpenStatus(b);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(Msg(s), HasSubstr("cpu 1 data at offset"));
  EXPECT_THAT(Msg(s), HasSubstr("(the file)"));
}

TEST(TraceDatBadInputTest, CorruptPageIsSkippedCountedAndReported) {
  const std::vector<uint8_t> full = Fixture("v6.dat");
  std::unique_ptr<TraceDatFile> good = *OpenBytes(full);
  const TraceDatBuffer& buffer = good->buffers()[good->default_buffer()];
  const size_t page = buffer.cpus[1].offset;
  const Decoded baseline = DecodeAll(*good);
  std::vector<uint8_t> b = full;
  Put<uint64_t>(&b, page + 8, 0x0fffffff);  // Commit: data beyond the page.
  std::unique_ptr<TraceDatFile> f = *OpenBytes(b);
  Decoded d = DecodeAll(*f);
  EXPECT_EQ(d.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(Msg(d.status),
              StartsWith(absl::StrCat("bad.dat: buffer '", buffer.name,
                                      "' cpu 1 page at offset ", page, ": ")));
  EXPECT_EQ(d.totals.decode_errors, 1u);
  EXPECT_GT(d.records, baseline.records / 2);
  EXPECT_LT(d.records, baseline.records);

  CapturingSink one;
  DecodeCounters counters;
  EXPECT_EQ(f->ReadCpu(1, &one, &counters).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(counters.decode_errors, 1u);
  EXPECT_FALSE(one.records.empty());
}

TEST(TraceDatBadInputTest, UnparsableFormatIsSkippedNotFatal) {
  std::vector<uint8_t> b = Fixture("v6.dat");
  const std::string marker = "name: sched_switch\nID:";
  auto it = std::search(b.begin(), b.end(), marker.begin(), marker.end());
  ASSERT_NE(it, b.end());
  // "ID:" -> "IX:": that format no longer parses.
  *(it + marker.size() - 2) = 'X';
  absl::StatusOr<std::unique_ptr<TraceDatFile>> f = OpenBytes(b);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->catalog().FindByName("sched/sched_switch"), nullptr);
  EXPECT_EQ((*f)->catalog().skipped(), 1u);
  EXPECT_THAT((*f)->catalog().first_skip_error(),
              StartsWith("bad.dat: event formats format at offset"));
  // The records are still there; only their format is unknown.
  const Decoded d = DecodeAll(**f);
  EXPECT_TRUE(d.status.ok());
  EXPECT_GT(d.records, 500u);
}

}  // namespace
}  // namespace ringwatch
