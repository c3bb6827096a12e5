// The rings' reports to a SubbufObserver, without a kernel: a memfd laid out
// like a mapped ring (meta page, sub-buffers) whose GET_READER is played by
// this test (its ioctl() stands in for libc's for that descriptor), and
// files read with read(). The pages a FlightRecorder rebuilds from the
// reports, written to a trace.dat and decoded again, must give exactly the
// records and losses the sink got, including sub-buffers decoded in several
// steps, one cut short by a corrupt record and one resumed after an earlier
// reader.
#include "daemon/reader/subbuf_observer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "daemon/event/header_page.h"
#include "daemon/reader/cpu_ring.h"
#include "daemon/reader/mapped_ring.h"
#include "daemon/reader/read_ring.h"
#include "daemon/reader/trace_mmap_abi.h"
#include "daemon/recorder/flight_recorder.h"
#include "daemon/recorder/snapshot_file_testing.h"
#include "daemon/ring/subbuf_decoder.h"
#include "daemon/tracedat/trace_dat_file.h"
#include "daemon/tracedat/trace_dat_test_util.h"
#include "daemon/util/scoped_fd.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using trace_mmap::TraceBufferMeta;

// The kernel's side of GET_READER for one memfd: hands over the queued
// sub-buffers in order (with the loss the meta page reports for each), then
// keeps the reader where it is.
struct FakeKernel {
  int fd = -1;
  uint8_t* meta = nullptr;  // Writable view of the meta page.
  std::deque<std::pair<uint32_t, uint64_t>> handovers;
  int calls = 0;

  void GetReader() {
    ++calls;
    uint64_t lost = 0;
    if (!handovers.empty()) {
      const uint32_t id = handovers.front().first;
      lost = handovers.front().second;
      handovers.pop_front();
      const uint32_t read = 0;
      std::memcpy(meta + offsetof(TraceBufferMeta, reader.id), &id, 4);
      std::memcpy(meta + offsetof(TraceBufferMeta, reader.read), &read, 4);
    }
    std::memcpy(meta + offsetof(TraceBufferMeta, reader.lost_events), &lost, 8);
  }
};

FakeKernel* fake_kernel = nullptr;

}  // namespace
}  // namespace ringwatch

// Takes the place of libc's ioctl() in this test binary: GET_READER on the
// fake ring's descriptor is played by FakeKernel, everything else goes to
// the kernel.
extern "C" int ioctl(int fd, unsigned long request, ...) __THROW {
  va_list args;
  va_start(args, request);
  void* arg = va_arg(args, void*);
  va_end(args);
  ringwatch::FakeKernel* fake = ringwatch::fake_kernel;
  if (fake != nullptr && fd == fake->fd &&
      request == ringwatch::trace_mmap::kIoctlGetReader) {
    fake->GetReader();
    return 0;
  }
  return static_cast<int>(::syscall(SYS_ioctl, fd, request, arg));
}

namespace ringwatch {
namespace {

const uint32_t kPage = static_cast<uint32_t>(::getpagesize());
constexpr uint32_t kData = 16;  // Default64 header.
constexpr uint32_t kCpu = 1;

// Builds a sub-buffer's records as the kernel's writer does.
class SubbufWriter {
 public:
  explicit SubbufWriter(uint8_t* subbuf, uint64_t timestamp) : s_(subbuf) {
    std::memcpy(s_, &timestamp, 8);
    Commit();
  }
  // A data record of 8 payload bytes: u16 id, u16 0, u32 value.
  SubbufWriter& Record(uint32_t delta, uint16_t id, uint32_t value) {
    Put32((delta << 5) | 2u);
    std::memcpy(s_ + kData + off_, &id, 2);
    std::memset(s_ + kData + off_ + 2, 0, 2);
    off_ += 4;
    Put32(value);
    return *this;
  }
  // A time extend of `delta` (type_len 30).
  SubbufWriter& Extend(uint64_t delta) {
    Put32(static_cast<uint32_t>((delta & ((1u << 27) - 1)) << 5) | 30u);
    Put32(static_cast<uint32_t>(delta >> 27));
    return *this;
  }
  // A long-form record whose length word is below 4: corrupt.
  SubbufWriter& Corrupt() {
    Put32(0);
    Put32(2);
    return *this;
  }
  // Publishes the records written so far (commit = data size | flags).
  SubbufWriter& Commit(uint64_t flags = 0) {
    const uint64_t commit = flags | off_;
    std::memcpy(s_ + 8, &commit, 8);
    return *this;
  }
  // RB_MISSED_EVENTS as the 64-bit kernel adds it, and the stored count.
  SubbufWriter& Lost(uint64_t count) {
    std::memcpy(s_ + kData + off_, &count, 8);
    return Commit(uint64_t{0xffffffff} << 32 | (1u << 31) | (1u << 30));
  }
  uint32_t size() const { return off_; }

 private:
  void Put32(uint32_t v) {
    std::memcpy(s_ + kData + off_, &v, 4);
    off_ += 4;
  }
  uint8_t* s_;
  uint32_t off_ = 0;
};

// A memfd laid out like a mapped ring of `nr` sub-buffers, with a writable
// view for the test's "kernel".
class FakeRing {
 public:
  explicit FakeRing(uint32_t nr, uint32_t reader_id = 0,
                    uint32_t reader_read = 0)
      : nr_(nr), size_(size_t{kPage} * (1 + nr)) {
    fd_ = ScopedFd(::memfd_create("subbuf_observer_test", MFD_CLOEXEC));
    EXPECT_TRUE(fd_.valid());
    EXPECT_EQ(::ftruncate(fd_.get(), static_cast<off_t>(size_)), 0);
    void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED,
                     fd_.get(), 0);
    EXPECT_NE(p, MAP_FAILED);
    view_ = static_cast<uint8_t*>(p);
    TraceBufferMeta meta{};
    meta.meta_page_size = kPage;
    meta.meta_struct_len = sizeof(TraceBufferMeta);
    meta.subbuf_size = kPage;
    meta.nr_subbufs = nr;
    meta.reader.id = reader_id;
    meta.reader.read = reader_read;
    std::memcpy(view_, &meta, sizeof(meta));
    kernel_.fd = fd_.get();
    kernel_.meta = view_;
    fake_kernel = &kernel_;
  }
  ~FakeRing() {
    fake_kernel = nullptr;
    ::munmap(view_, size_);
  }

  uint8_t* subbuf(uint32_t id) { return view_ + size_t{kPage} * (1 + id); }
  std::vector<uint8_t> Copy(uint32_t id) {
    return std::vector<uint8_t>(subbuf(id), subbuf(id) + kPage);
  }
  FakeKernel& kernel() { return kernel_; }

  // The ring, reading the memfd as MappedRing reads trace_pipe_raw.
  std::unique_ptr<MappedRing> Open() {
    ScopedFd fd(::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0));
    kernel_.fd = fd.get();
    auto ring = MappedRing::FromFd(&fd, "fake/trace_pipe_raw", kCpu,
                                   HeaderPageFormat::Default64());
    EXPECT_TRUE(ring.ok()) << ring.status();
    return ring.ok() ? *std::move(ring) : nullptr;
  }

 private:
  uint32_t nr_;
  size_t size_;
  ScopedFd fd_;
  uint8_t* view_ = nullptr;
  FakeKernel kernel_;
};

// Logs the calls and passes them on to a FlightRecorder.
class LoggingObserver : public SubbufObserver {
 public:
  explicit LoggingObserver(SubbufObserver* next) : next_(next) {}
  void BeginSubbuf(uint32_t cpu, absl::Span<const uint8_t> header,
                   uint64_t lost_events) override {
    log.push_back(absl::StrCat("begin ", cpu, " lost ", lost_events));
    next_->BeginSubbuf(cpu, header, lost_events);
  }
  void AppendData(uint32_t cpu, absl::Span<const uint8_t> data,
                  uint64_t last_timestamp) override {
    log.push_back(
        absl::StrCat("append ", cpu, " ", data.size(), " @", last_timestamp));
    next_->AppendData(cpu, data, last_timestamp);
  }
  void EndSubbuf(uint32_t cpu) override {
    log.push_back(absl::StrCat("end ", cpu));
    next_->EndSubbuf(cpu);
  }
  std::vector<std::string> log;

 private:
  SubbufObserver* next_;
};

std::unique_ptr<FlightRecorder> MakeRecorder() {
  FlightRecorderOptions options;
  options.page_size = kPage;
  options.cpu_count = 2;
  options.max_bytes_per_cpu = 64 * kPage;
  auto recorder = FlightRecorder::Create(options);
  EXPECT_TRUE(recorder.ok()) << recorder.status();
  return recorder.ok() ? *std::move(recorder) : nullptr;
}

struct Decoded {
  CapturingSink sink;
  DecodeCounters counters;
  std::vector<std::vector<uint8_t>> pages;  // kCpu's, in file order.
};

// Snapshots `recorder` to a trace.dat and decodes kCpu's pages again.
Decoded SnapshotAndDecode(FlightRecorder* recorder, const std::string& name) {
  Decoded out;
  WrittenSnapshot w = WriteSnapshotFile(recorder, 0, name);
  if (w.file == nullptr) return out;
  EXPECT_TRUE(w.file->ReadCpu(kCpu, &out.sink, &out.counters).ok());
  out.pages = w.PagesOf(kCpu);
  return out;
}

std::vector<uint64_t> LossCounts(const CapturingSink& sink) {
  std::vector<uint64_t> out;
  for (const auto& [before, loss] : sink.losses) out.push_back(loss.count);
  return out;
}

TEST(MappedRingObserverTest, RebuiltPagesDecodeToWhatTheSinkGot) {
  FakeRing fake(4);
  // Sub-buffer 0, the reader's: three records, more to come.
  SubbufWriter s0(fake.subbuf(0), 1000);
  s0.Record(10, 1, 1).Record(10, 2, 2).Record(10, 3, 3).Commit();
  std::unique_ptr<MappedRing> ring = fake.Open();
  ASSERT_NE(ring, nullptr);
  auto recorder = MakeRecorder();
  LoggingObserver observer(recorder.get());
  ring->set_subbuf_observer(&observer);
  CapturingSink sink;

  absl::StatusOr<bool> got = ring->ReadAvailable(&sink);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(sink.records.size(), 3u);

  // The writer adds two records (and a time extend) to sub-buffer 0, fills
  // sub-buffer 1 (which carries a stored loss of 7), and starts on
  // sub-buffer 2, whose loss of 3 only the meta page reports.
  s0.Extend(1 << 28).Record(5, 4, 4).Record(5, 5, 5).Commit();
  SubbufWriter s1(fake.subbuf(1), 2000);
  for (uint32_t i = 10; i < 15; ++i) s1.Record(3, i, i);
  s1.Lost(7);
  SubbufWriter s2(fake.subbuf(2), 3000);
  s2.Record(1, 20, 20).Record(1, 21, 21).Commit();
  fake.kernel().handovers = {{1, 0}, {2, 3}};
  got = ring->ReadAvailable(&sink);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(sink.records.size(), 12u);

  // More on sub-buffer 2, then sub-buffer 3 with a corrupt second record:
  // only what the sink got is reported.
  s2.Record(2, 22, 22).Record(2, 23, 23).Commit();
  SubbufWriter s3(fake.subbuf(3), 4000);
  s3.Record(1, 30, 30).Corrupt().Record(1, 31, 31).Commit();
  fake.kernel().handovers = {{3, 0}};
  got = ring->ReadAvailable(&sink);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(sink.records.size(), 15u);
  EXPECT_EQ(ring->counters().decode_errors, 1u);

  EXPECT_THAT(observer.log,
              ::testing::ElementsAre(
                  "begin 1 lost 0", "append 1 36 @1030",
                  // Extend of 2^28, then two records 5 apart.
                  absl::StrCat("append 1 32 @", 1030 + (1 << 28) + 10), "end 1",
                  "begin 1 lost 7", "append 1 60 @2015", "end 1",
                  "begin 1 lost 3", "append 1 24 @3002", "append 1 24 @3006",
                  "end 1", "begin 1 lost 0", "append 1 12 @4001"));

  Decoded decoded = SnapshotAndDecode(recorder.get(), "mapped");
  EXPECT_TRUE(decoded.sink.records == sink.records);
  EXPECT_EQ(decoded.sink.records.size(), 15u);
  EXPECT_THAT(LossCounts(decoded.sink), ::testing::ElementsAre(7, 3));
  EXPECT_THAT(LossCounts(sink), ::testing::ElementsAre(7, 3));
  EXPECT_EQ(decoded.counters.decode_errors, 0u);
  // Pages the writer had finished are the kernel's bytes exactly; the one
  // whose loss only the meta page had now stores it; the open one holds
  // what was decoded.
  ASSERT_EQ(decoded.pages.size(), 4u);
  EXPECT_TRUE(decoded.pages[0] == fake.Copy(0));
  EXPECT_TRUE(decoded.pages[1] == fake.Copy(1));
  SubbufHeader header;
  ASSERT_TRUE(ParseSubbufHeader(decoded.pages[2], HeaderPageFormat::Default64(),
                                &header)
                  .ok());
  EXPECT_TRUE(header.missed_stored);
  EXPECT_EQ(header.missed_count, 3u);
  EXPECT_EQ(header.data_size, s2.size());
  ASSERT_TRUE(ParseSubbufHeader(decoded.pages[3], HeaderPageFormat::Default64(),
                                &header)
                  .ok());
  EXPECT_EQ(header.data_size, 12u);
  EXPECT_EQ(recorder->counters().appends_refused, 0u);
}

TEST(MappedRingObserverTest, ResumedSubbufStartsAtTheRunningTime) {
  // An earlier reader consumed the first record and a time extend.
  FakeRing fake(3, /*reader_id=*/1, /*reader_read=*/20);
  SubbufWriter s1(fake.subbuf(1), 1000);
  s1.Record(10, 1, 1).Extend(1000).Record(10, 2, 2).Record(10, 3, 3).Commit();
  std::unique_ptr<MappedRing> ring = fake.Open();
  ASSERT_NE(ring, nullptr);
  auto recorder = MakeRecorder();
  LoggingObserver observer(recorder.get());
  ring->set_subbuf_observer(&observer);
  CapturingSink sink;
  ASSERT_TRUE(ring->ReadAvailable(&sink).ok());
  ASSERT_EQ(sink.records.size(), 2u);
  EXPECT_EQ(sink.records[0].timestamp, 2020u);
  EXPECT_THAT(observer.log,
              ::testing::ElementsAre("begin 1 lost 0", "append 1 24 @2030"));
  Decoded decoded = SnapshotAndDecode(recorder.get(), "resumed");
  EXPECT_TRUE(decoded.sink.records == sink.records);
}

TEST(ReadRingObserverTest, EachReadIsOneRebuiltPage) {
  std::vector<uint8_t> pages(3 * kPage, 0);
  SubbufWriter(pages.data(), 500).Record(1, 1, 1).Record(1, 2, 2).Commit();
  SubbufWriter lossy(pages.data() + kPage, 900);
  lossy.Record(5, 3, 3).Lost(4);
  SubbufWriter(pages.data() + 2 * kPage, 1000)
      .Record(1, 4, 4)
      .Corrupt()
      .Record(1, 5, 5)
      .Commit();
  const std::string path = absl::StrCat(testing::TempDir(), "/pipe");
  {
    ScopedFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(::write(fd.get(), pages.data(), pages.size()),
              static_cast<ssize_t>(pages.size()));
  }
  auto ring =
      ReadRing::Create(path, kCpu, HeaderPageFormat::Default64(), kPage);
  ASSERT_TRUE(ring.ok()) << ring.status();
  auto recorder = MakeRecorder();
  LoggingObserver observer(recorder.get());
  (*ring)->set_subbuf_observer(&observer);
  CapturingSink sink;
  ASSERT_TRUE((*ring)->ReadAvailable(&sink).ok());
  EXPECT_EQ(sink.records.size(), 4u);
  EXPECT_THAT(
      observer.log,
      ::testing::ElementsAre("begin 1 lost 0", "append 1 24 @502", "end 1",
                             "begin 1 lost 4", "append 1 12 @905", "end 1",
                             "begin 1 lost 0", "append 1 12 @1001", "end 1"));
  Decoded decoded = SnapshotAndDecode(recorder.get(), "read");
  EXPECT_TRUE(decoded.sink.records == sink.records);
  EXPECT_THAT(LossCounts(decoded.sink), ::testing::ElementsAre(4));
  ASSERT_EQ(decoded.pages.size(), 3u);
  EXPECT_TRUE(decoded.pages[0] ==
              std::vector<uint8_t>(pages.begin(), pages.begin() + kPage));
  EXPECT_TRUE(
      decoded.pages[1] ==
      std::vector<uint8_t>(pages.begin() + kPage, pages.begin() + 2 * kPage));
}

}  // namespace
}  // namespace ringwatch
