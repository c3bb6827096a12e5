// CpuRing selection and the mapped/read() readers on files that imitate a
// ring (no kernel needed): fallback when mmap is refused or the meta page is
// not one we understand, resuming after what an earlier reader consumed.
#include "daemon/reader/cpu_ring.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "daemon/event/header_page.h"
#include "daemon/reader/mapped_ring.h"
#include "daemon/reader/read_ring.h"
#include "daemon/reader/trace_mmap_abi.h"
#include "daemon/ring/record.h"
#include "daemon/util/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr uint32_t kPage = 4096;

struct Collected {
  uint64_t timestamp;
  int32_t id;
  uint32_t cpu;
};

class CollectingSink : public RecordSink {
 public:
  void OnRecord(const RecordView& r) override {
    records.push_back({r.timestamp, r.event_id(), r.cpu});
  }
  void OnLoss(const LossReport& loss) override { losses.push_back(loss); }
  std::vector<Collected> records;
  std::vector<LossReport> losses;
};

std::vector<uint64_t> Timestamps(const CollectingSink& sink) {
  std::vector<uint64_t> out;
  for (const Collected& c : sink.records) out.push_back(c.timestamp);
  return out;
}

void Put32(std::vector<uint8_t>* b, size_t at, uint32_t v) {
  std::memcpy(b->data() + at, &v, sizeof(v));
}
void Put64(std::vector<uint8_t>* b, size_t at, uint64_t v) {
  std::memcpy(b->data() + at, &v, sizeof(v));
}

// A sub-buffer (64-bit header: u64 timestamp, u64 commit) holding `n` data
// records of 8 payload bytes each (type_len 2), `delta` apart, with event
// ids first_id, first_id + 1, ...
std::vector<uint8_t> MakeSubbuf(uint64_t base, int n, uint32_t delta,
                                uint16_t first_id) {
  std::vector<uint8_t> s(kPage, 0);
  size_t off = 16;
  for (int i = 0; i < n; ++i) {
    Put32(&s, off, (delta << 5) | 2u);
    uint16_t id = first_id + i;
    std::memcpy(s.data() + off + 4, &id, sizeof(id));
    off += 12;
  }
  Put64(&s, 0, base);
  Put64(&s, 8, off - 16);
  return s;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        absl::StrCat(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp",
                     "/cpu_ring_test_XXXXXX");
    path_ = mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~TempDir() {
    if (!path_.empty()) {
      std::string cmd = absl::StrCat("rm -rf '", path_, "'");
      if (system(cmd.c_str()) != 0)
        ADD_FAILURE() << "could not remove " << path_;
    }
  }
  const std::string& path() const { return path_; }
  std::string Write(absl::string_view name, const std::vector<uint8_t>& bytes) {
    std::string p = absl::StrCat(path_, "/", name);
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    EXPECT_GE(fd, 0) << p;
    EXPECT_EQ(::write(fd, bytes.data(), bytes.size()),
              static_cast<ssize_t>(bytes.size()));
    ::close(fd);
    return p;
  }

 private:
  std::string path_;
};

// A file laid out like a mapped ring: meta page, then `nr` sub-buffers.
std::vector<uint8_t> MakeRingImage(uint32_t nr, uint32_t reader_id,
                                   uint32_t reader_read,
                                   const std::vector<uint8_t>& reader_subbuf) {
  std::vector<uint8_t> image(kPage * (1 + nr), 0);
  Put32(&image, 0, kPage);  // meta_page_size
  Put32(&image, 4, sizeof(trace_mmap::TraceBufferMeta));
  Put32(&image, 8, kPage);  // subbuf_size
  Put32(&image, 12, nr);
  Put32(&image, offsetof(trace_mmap::TraceBufferMeta, reader.id), reader_id);
  Put32(&image, offsetof(trace_mmap::TraceBufferMeta, reader.read),
        reader_read);
  Put64(&image, offsetof(trace_mmap::TraceBufferMeta, entries), 3);
  std::memcpy(image.data() + kPage * (1 + reader_id), reader_subbuf.data(),
              kPage);
  return image;
}

TEST(OpenCpuRingTest, MmapRefusedFallsBackToRead) {
  // /dev/null has no mmap: the kernel says ENODEV, as it does for a
  // trace_pipe_raw on kernels before 6.10.
  HeaderPageFormat format = HeaderPageFormat::Default64();
  RingOptions mmap_only;
  mmap_only.mode = RingMode::kMmap;
  absl::StatusOr<std::unique_ptr<CpuRing>> refused =
      OpenCpuRing("/dev/null", 3, format, mmap_only);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("mmap"));
  EXPECT_THAT(refused.status().message(), HasSubstr("/dev/null"));

  absl::StatusOr<std::unique_ptr<CpuRing>> ring =
      OpenCpuRing("/dev/null", 3, format);
  ASSERT_TRUE(ring.ok()) << ring.status();
  EXPECT_FALSE((*ring)->mapped());
  EXPECT_EQ((*ring)->cpu(), 3u);
  CollectingSink sink;
  absl::StatusOr<bool> got = (*ring)->ReadAvailable(&sink);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(*got);
  EXPECT_FALSE((*ring)->counters().mapped);
}

TEST(OpenCpuRingTest, MissingFileIsAnErrorNotAFallback) {
  absl::StatusOr<std::unique_ptr<CpuRing>> ring =
      OpenCpuRing("/nonexistent/per_cpu/cpu0/trace_pipe_raw", 0,
                  HeaderPageFormat::Default64());
  ASSERT_FALSE(ring.ok());
  EXPECT_EQ(ring.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ring.status().message(), HasSubstr("/nonexistent/per_cpu"));
}

TEST(MappedRingTest, RejectsMetaPageItDoesNotUnderstand) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string zeros = dir.Write("zeros", std::vector<uint8_t>(4 * kPage, 0));
  absl::StatusOr<std::unique_ptr<MappedRing>> ring =
      MappedRing::Create(zeros, 0, HeaderPageFormat::Default64());
  ASSERT_FALSE(ring.ok());
  EXPECT_EQ(ring.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ring.status().message(), HasSubstr("meta_struct_len"));
  EXPECT_THAT(ring.status().message(), HasSubstr(zeros));

  std::vector<uint8_t> image = MakeRingImage(3, 0, 0, MakeSubbuf(100, 0, 0, 1));
  Put32(&image, 8, 1000);  // subbuf_size not a whole number of pages.
  std::string odd = dir.Write("odd", image);
  ring = MappedRing::Create(odd, 0, HeaderPageFormat::Default64());
  ASSERT_FALSE(ring.ok());
  EXPECT_THAT(ring.status().message(), HasSubstr("subbuf_size"));

  image = MakeRingImage(3, 0, 0, MakeSubbuf(100, 0, 0, 1));
  Put32(&image, 12, 1);  // A ring needs a reader page and a writer page.
  std::string tiny = dir.Write("tiny", image);
  ring = MappedRing::Create(tiny, 0, HeaderPageFormat::Default64());
  ASSERT_FALSE(ring.ok());
  EXPECT_THAT(ring.status().message(), HasSubstr("nr_subbufs"));

  // kAuto falls back to read() on the same file.
  absl::StatusOr<std::unique_ptr<CpuRing>> fallback =
      OpenCpuRing(zeros, 0, HeaderPageFormat::Default64());
  ASSERT_TRUE(fallback.ok()) << fallback.status();
  EXPECT_FALSE((*fallback)->mapped());
}

TEST(MappedRingTest, ResumesAfterWhatAnEarlierReaderConsumed) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  // Reader sub-buffer 1 with records at 1010, 1020, 1030; an earlier reader
  // consumed the first (12 bytes).
  std::string path =
      dir.Write("ring", MakeRingImage(3, 1, 12, MakeSubbuf(1000, 3, 10, 7)));
  absl::StatusOr<std::unique_ptr<MappedRing>> ring =
      MappedRing::Create(path, 5, HeaderPageFormat::Default64());
  ASSERT_TRUE(ring.ok()) << ring.status();
  EXPECT_TRUE((*ring)->mapped());
  EXPECT_EQ((*ring)->subbuf_size(), kPage);
  EXPECT_EQ((*ring)->nr_subbufs(), 3u);
  MetaSnapshot meta = (*ring)->meta();
  EXPECT_EQ(meta.reader_id, 1u);
  EXPECT_EQ(meta.reader_read, 12u);
  EXPECT_EQ(meta.entries, 3u);

  CollectingSink sink;
  // The records are delivered before GET_READER, which a regular file
  // refuses (ENOTTY): the error names the ioctl and the file.
  absl::StatusOr<bool> got = (*ring)->ReadAvailable(&sink);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(got.status().message(), HasSubstr("GET_READER"));
  EXPECT_THAT(got.status().message(), HasSubstr(path));
  EXPECT_THAT(Timestamps(sink), ElementsAre(1020, 1030));
  ASSERT_EQ(sink.records.size(), 2u);
  EXPECT_EQ(sink.records[0].id, 8);
  EXPECT_EQ(sink.records[1].id, 9);
  EXPECT_EQ(sink.records[0].cpu, 5u);
  RingCounters c = (*ring)->counters();
  EXPECT_EQ(c.events, 2u);
  EXPECT_EQ(c.syscalls, 1u);
  EXPECT_EQ(c.decode_errors, 0u);

  // Nothing is delivered twice.
  sink.records.clear();
  got = (*ring)->ReadAvailable(&sink);
  EXPECT_FALSE(got.ok());
  EXPECT_TRUE(sink.records.empty());
}

TEST(MappedRingTest, CorruptCommitIsCountedNotDelivered) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::vector<uint8_t> subbuf = MakeSubbuf(1000, 3, 10, 7);
  Put64(&subbuf, 8, kPage);  // Commit beyond the data area.
  std::string path = dir.Write("ring", MakeRingImage(3, 0, 0, subbuf));
  absl::StatusOr<std::unique_ptr<MappedRing>> ring =
      MappedRing::Create(path, 0, HeaderPageFormat::Default64());
  ASSERT_TRUE(ring.ok()) << ring.status();
  CollectingSink sink;
  (void)(*ring)->ReadAvailable(&sink);
  EXPECT_TRUE(sink.records.empty());
  EXPECT_GE((*ring)->counters().decode_errors, 1u);
}

TEST(ReadRingTest, DecodesEachReadAsOneSubbuf) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::vector<uint8_t> two = MakeSubbuf(500, 2, 1, 20);
  std::vector<uint8_t> one = MakeSubbuf(900, 1, 5, 30);
  two.insert(two.end(), one.begin(), one.end());
  std::string path = dir.Write("pipe", two);
  absl::StatusOr<std::unique_ptr<ReadRing>> ring =
      ReadRing::Create(path, 1, HeaderPageFormat::Default64(), kPage);
  ASSERT_TRUE(ring.ok()) << ring.status();
  CollectingSink sink;
  absl::StatusOr<bool> got = (*ring)->ReadAvailable(&sink);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got);
  EXPECT_THAT(Timestamps(sink), ElementsAre(501, 502, 905));
  RingCounters c = (*ring)->counters();
  EXPECT_EQ(c.events, 3u);
  EXPECT_EQ(c.subbufs, 2u);
  EXPECT_FALSE(c.mapped);
  got = (*ring)->ReadAvailable(&sink);
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(*got);
}

TEST(ReadRingTest, RejectsSubbufSizeNotAboveHeader) {
  absl::StatusOr<std::unique_ptr<ReadRing>> ring =
      ReadRing::Create("/dev/null", 0, HeaderPageFormat::Default64(), 16);
  ASSERT_FALSE(ring.ok());
  EXPECT_EQ(ring.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ring.status().message(), HasSubstr("/dev/null"));
}

TEST(SubbufSizeForPipeTest, ReadsInstanceFileOrUsesPageSize) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string cpu_dir = absl::StrCat(dir.path(), "/per_cpu/cpu0");
  ASSERT_EQ(::mkdir(absl::StrCat(dir.path(), "/per_cpu").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(cpu_dir.c_str(), 0755), 0);
  std::string pipe = cpu_dir + "/trace_pipe_raw";
  EXPECT_EQ(SubbufSizeForPipe(pipe), static_cast<uint32_t>(getpagesize()));
  std::string kb = "8\n";
  dir.Write("buffer_subbuf_size_kb",
            std::vector<uint8_t>(kb.begin(), kb.end()));
  EXPECT_EQ(SubbufSizeForPipe(pipe), 8192u);
  std::string junk = "eight\n";
  dir.Write("buffer_subbuf_size_kb",
            std::vector<uint8_t>(junk.begin(), junk.end()));
  EXPECT_EQ(SubbufSizeForPipe(pipe), static_cast<uint32_t>(getpagesize()));
}

}  // namespace
}  // namespace ringwatch
