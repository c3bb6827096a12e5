#include "daemon/tracedat/trace_dat_file.h"

#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "daemon/tracedat/trace_dat_test_util.h"
#include "daemon/util/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::unique_ptr<TraceDatFile> OpenFixture(const std::string& name) {
  absl::StatusOr<std::unique_ptr<TraceDatFile>> file =
      TraceDatFile::Open(TraceDatFixture(name));
  EXPECT_TRUE(file.ok()) << file.status();
  return file.ok() ? *std::move(file) : nullptr;
}

std::string ReadFixture(const std::string& name) {
  absl::StatusOr<std::string> text = ReadFileToString(TraceDatFixture(name));
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

TEST(TraceDatFileTest, OpensVersion7WithZstd) {
  std::unique_ptr<TraceDatFile> f = OpenFixture("v7.dat");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->version(), 7);
  EXPECT_EQ(f->compression(), "zstd");
  EXPECT_EQ(f->page_size(), 4096u);
  // trace-cmd extract -B: an empty top-level buffer and the instance.
  ASSERT_EQ(f->buffers().size(), 2u);
  EXPECT_EQ(f->buffers()[0].name, "");
  EXPECT_EQ(f->buffers()[0].data_bytes(), 0u);
  const TraceDatBuffer& inst = f->buffers()[f->default_buffer()];
  EXPECT_THAT(inst.name, StartsWith("rwdat_"));
  EXPECT_EQ(inst.clock, "local");
  EXPECT_EQ(inst.page_size, 4096u);
  ASSERT_EQ(inst.cpus.size(), 2u);
  EXPECT_TRUE(inst.cpus[0].compressed);
  EXPECT_EQ(f->cpu_count(), 2u);
  EXPECT_EQ(f->options().cpu_count, 2u);
  EXPECT_THAT(f->options().uname, StartsWith("Linux "));
  EXPECT_THAT(f->options().tracer_version, StartsWith("3.1.6"));
  EXPECT_THAT(f->options().trace_clocks, StartsWith("[local]"));
  EXPECT_EQ(f->options().timestamp_offset, 0);
  // The formats the file stores, and the ring-buffer header layout.
  for (const char* name : {"sched/sched_switch", "sched/sched_waking",
                           "ftrace/print", "raw_syscalls/sys_enter"}) {
    EXPECT_NE(f->catalog().FindByName(name), nullptr) << name;
  }
  EXPECT_EQ(f->header_page().commit_size, 8u);
  EXPECT_EQ(f->header_page().data_offset, 16u);
  EXPECT_EQ(f->Comm(0), "");
  EXPECT_GT(f->cmdlines().size(), 10u);
}

TEST(TraceDatFileTest, OpensVersion6) {
  std::unique_ptr<TraceDatFile> f = OpenFixture("v6.dat");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->version(), 6);
  EXPECT_EQ(f->compression(), "none");
  ASSERT_EQ(f->buffers().size(), 2u);
  const TraceDatBuffer& inst = f->buffers()[f->default_buffer()];
  EXPECT_THAT(inst.name, StartsWith("rwdat_"));
  EXPECT_EQ(inst.clock, "local");
  ASSERT_EQ(inst.cpus.size(), 2u);
  EXPECT_FALSE(inst.cpus[0].compressed);
  // v6 stores whole pages.
  EXPECT_EQ(inst.cpus[0].size % 4096, 0u);
  EXPECT_EQ(f->cpu_count(), 2u);
  EXPECT_NE(f->catalog().FindByName("sched/sched_switch"), nullptr);
}

class ReportTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ReportTest, DecodesWhatTraceCmdReportPrints) {
  std::unique_ptr<TraceDatFile> f = OpenFixture(GetParam() + ".dat");
  ASSERT_NE(f, nullptr);
  CapturingSink sink;
  DecodeCounters totals;
  ASSERT_TRUE(f->ReadAll(&sink, &totals).ok());
  // Not vacuous: the capture holds every kind of event it made.
  EXPECT_GT(sink.records.size(), 200u);
  EXPECT_EQ(totals.events, sink.records.size());
  EXPECT_EQ(totals.decode_errors, 0u);
  const std::string report = ReadFixture(GetParam() + ".report.txt");
  EXPECT_TRUE(CompareWithReport(*f, sink, report).ok())
      << CompareWithReport(*f, sink, report);
}

TEST_P(ReportTest, EveryFieldMatchesTheRawReport) {
  std::unique_ptr<TraceDatFile> f = OpenFixture(GetParam() + ".dat");
  ASSERT_NE(f, nullptr);
  CapturingSink sink;
  ASSERT_TRUE(f->ReadAll(&sink).ok());
  const std::string raw = ReadFixture(GetParam() + ".raw-report.txt");
  const absl::Status status = CompareWithRawReport(*f, sink, raw);
  EXPECT_TRUE(status.ok()) << status;
}

TEST_P(ReportTest, ReadCpuGivesEachCpuInFileOrder) {
  std::unique_ptr<TraceDatFile> f = OpenFixture(GetParam() + ".dat");
  ASSERT_NE(f, nullptr);
  CapturingSink all;
  ASSERT_TRUE(f->ReadAll(&all).ok());
  size_t total = 0;
  for (uint32_t cpu = 0; cpu < f->cpu_count(); ++cpu) {
    CapturingSink one;
    DecodeCounters counters;
    ASSERT_TRUE(f->ReadCpu(cpu, &one, &counters).ok());
    std::vector<CapturedRecord> expected;
    for (const CapturedRecord& r : all.records) {
      if (r.cpu == cpu) expected.push_back(r);
    }
    EXPECT_FALSE(one.records.empty()) << "cpu " << cpu;
    EXPECT_TRUE(one.records == expected) << "cpu " << cpu;
    EXPECT_EQ(counters.events, one.records.size());
    const CpuDataExtent& extent = f->buffers()[f->default_buffer()].cpus[cpu];
    ASSERT_EQ(extent.cpu, cpu);
    // Uncompressed data is whole pages; v7's count is checked against v6's.
    if (!extent.compressed) {
      EXPECT_EQ(counters.subbufs, extent.size / 4096);
    }
    total += one.records.size();
    // Per CPU, time never goes back.
    for (size_t i = 1; i < one.records.size(); ++i) {
      EXPECT_LE(one.records[i - 1].timestamp, one.records[i].timestamp);
    }
  }
  EXPECT_EQ(total, all.records.size());
  // Merged: never back in time either.
  for (size_t i = 1; i < all.records.size(); ++i) {
    ASSERT_LE(all.records[i - 1].timestamp, all.records[i].timestamp) << i;
  }
}

// The comparisons above would catch a wrong decode: each of these changes to
// the decoded stream makes them fail.
TEST(TraceDatFileTest, ReportComparisonCatchesDifferences) {
  std::unique_ptr<TraceDatFile> f = OpenFixture("v7.dat");
  ASSERT_NE(f, nullptr);
  CapturingSink good;
  ASSERT_TRUE(f->ReadAll(&good).ok());
  const std::string report = ReadFixture("v7.report.txt");
  const std::string raw = ReadFixture("v7.raw-report.txt");
  ASSERT_TRUE(CompareWithReport(*f, good, report).ok());

  CapturingSink later = good;
  later.records[10].timestamp += 1000;
  EXPECT_THAT(CompareWithReport(*f, later, report).message(),
              HasSubstr("timestamp"));
  CapturingSink nanos = good;
  nanos.records[10].timestamp += 1;
  EXPECT_THAT(CompareWithRawReport(*f, nanos, raw).message(),
              HasSubstr("timestamp"));

  CapturingSink fewer = good;
  fewer.records.pop_back();
  EXPECT_THAT(CompareWithReport(*f, fewer, report).message(),
              HasSubstr("more events"));

  // A changed next_pid in the first sched_switch (offset from the format).
  const EventFormat* sw = f->catalog().FindByName("sched/sched_switch");
  ASSERT_NE(sw, nullptr);
  const FieldFormat* next_pid = sw->FindField("next_pid");
  ASSERT_NE(next_pid, nullptr);
  CapturingSink changed = good;
  for (CapturedRecord& r : changed.records) {
    uint16_t id = 0;
    std::memcpy(&id, r.payload.data(), 2);
    if (id != sw->id) continue;
    r.payload[next_pid->offset] ^= 1;
    break;
  }
  EXPECT_THAT(CompareWithReport(*f, changed, report).message(),
              HasSubstr("next_pid"));
  EXPECT_THAT(CompareWithRawReport(*f, changed, raw).message(),
              HasSubstr("next_pid"));

  CapturingSink lost = good;
  lost.losses.push_back({5, LossReport{0, 0, 3, false}});
  EXPECT_THAT(CompareWithReport(*f, lost, report).message(),
              HasSubstr("losses"));
}

INSTANTIATE_TEST_SUITE_P(Versions, ReportTest, ::testing::Values("v7", "v6"),
                         [](const auto& info) { return info.param; });

TEST(TraceDatFileTest, Version6And7DecodeToTheSameStream) {
  std::unique_ptr<TraceDatFile> v7 = OpenFixture("v7.dat");
  std::unique_ptr<TraceDatFile> v6 = OpenFixture("v6.dat");
  ASSERT_NE(v7, nullptr);
  ASSERT_NE(v6, nullptr);
  CapturingSink a, b;
  DecodeCounters ca, cb;
  ASSERT_TRUE(v7->ReadAll(&a, &ca).ok());
  ASSERT_TRUE(v6->ReadAll(&b, &cb).ok());
  ASSERT_EQ(a.records.size(), b.records.size());
  EXPECT_TRUE(a.records == b.records);
  EXPECT_EQ(a.losses.size(), b.losses.size());
  EXPECT_EQ(ca.subbufs, cb.subbufs);
  EXPECT_EQ(ca.bytes, cb.bytes);
  EXPECT_EQ(v7->cmdlines(), v6->cmdlines());
  EXPECT_EQ(v7->catalog().size(), v6->catalog().size());
}

// A ring the writer overran: the pages carry the kernel's missed-events
// counts, which trace-cmd prints as "CPU:N [M EVENTS DROPPED]" lines. Both
// renderings of `trace-cmd report` are compared with the decoded stream, so
// each loss must sit before the same event with the same CPU and count.
TEST(TraceDatFileTest, LossFromOverrunPagesMatchesTraceCmdDroppedLines) {
  std::unique_ptr<TraceDatFile> f = OpenFixture("lossy_v7.dat");
  ASSERT_NE(f, nullptr);
  CapturingSink sink;
  DecodeCounters totals;
  ASSERT_TRUE(f->ReadAll(&sink, &totals).ok());
  ASSERT_FALSE(sink.losses.empty());
  uint64_t lost = 0;
  for (const auto& [position, loss] : sink.losses) {
    EXPECT_FALSE(loss.unknown);
    lost += loss.count;
  }
  EXPECT_EQ(totals.lost_events, lost);
  const std::string report = ReadFixture("lossy_v7.report.txt");
  const std::string raw = ReadFixture("lossy_v7.raw-report.txt");
  // The fixture is useful only if trace-cmd saw loss in it.
  ASSERT_THAT(report, HasSubstr("EVENTS DROPPED"));
  ASSERT_THAT(raw, HasSubstr("EVENTS DROPPED"));
  absl::Status compared = CompareWithReport(*f, sink, report);
  EXPECT_TRUE(compared.ok()) << compared;
  compared = CompareWithRawReport(*f, sink, raw);
  EXPECT_TRUE(compared.ok()) << compared;

  // The loss branch of the comparison can fail: a loss one event later, or
  // with another count, or missing.
  CapturingSink moved = sink;
  ++moved.losses[0].first;
  EXPECT_THAT(CompareWithReport(*f, moved, report).message(),
              HasSubstr("loss #0"));
  CapturingSink recounted = sink;
  ++recounted.losses[0].second.count;
  EXPECT_THAT(CompareWithRawReport(*f, recounted, raw).message(),
              HasSubstr("loss #0"));
  CapturingSink unseen = sink;
  unseen.losses.erase(unseen.losses.begin());
  EXPECT_THAT(CompareWithReport(*f, unseen, report).message(),
              HasSubstr("report shows a loss"));
}

TEST(TraceDatFileTest, BuffersByName) {
  std::unique_ptr<TraceDatFile> f = OpenFixture("v7.dat");
  ASSERT_NE(f, nullptr);
  absl::StatusOr<size_t> top = f->FindBuffer("");
  ASSERT_TRUE(top.ok());
  CapturingSink sink;
  EXPECT_TRUE(f->ReadBufferAll(*top, &sink).ok());
  EXPECT_TRUE(sink.records.empty());
  const std::string inst = f->buffers()[f->default_buffer()].name;
  absl::StatusOr<size_t> found = f->FindBuffer(inst);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(*found, f->default_buffer());
  absl::StatusOr<size_t> missing = f->FindBuffer("nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("no buffer 'nope'"));
  EXPECT_THAT(missing.status().message(), HasSubstr(inst));
  EXPECT_EQ(f->ReadBufferAll(7, &sink).code(), absl::StatusCode::kNotFound);
}

TEST(TraceDatFileTest, CpuOutOfRangeIsInvalidArgument) {
  std::unique_ptr<TraceDatFile> f = OpenFixture("v6.dat");
  ASSERT_NE(f, nullptr);
  CapturingSink sink;
  DecodeCounters counters;
  const absl::Status s = f->ReadCpu(2, &sink, &counters);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("cpu 2 out of range"));
}

TEST(TraceDatFileTest, OpenErrorsNameThePath) {
  absl::StatusOr<std::unique_ptr<TraceDatFile>> f =
      TraceDatFile::Open("/nonexistent/x.dat");
  EXPECT_EQ(f.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(f.status().message(), HasSubstr("/nonexistent/x.dat"));
  f = TraceDatFile::Open(testing::TempDir());
  EXPECT_FALSE(f.ok());
  EXPECT_THAT(f.status().message(), HasSubstr("not a regular file"));
}

TEST(TraceDatFileTest, OpenBufferMatchesOpen) {
  const std::string bytes = ReadFixture("v7.dat");
  absl::StatusOr<std::unique_ptr<TraceDatFile>> f = TraceDatFile::OpenBuffer(
      "mem.dat",
      absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(bytes.data()),
                          bytes.size()));
  ASSERT_TRUE(f.ok()) << f.status();
  std::unique_ptr<TraceDatFile> g = OpenFixture("v7.dat");
  ASSERT_NE(g, nullptr);
  CapturingSink a, b;
  ASSERT_TRUE((*f)->ReadAll(&a).ok());
  ASSERT_TRUE(g->ReadAll(&b).ok());
  EXPECT_TRUE(a.records == b.records);
  EXPECT_FALSE(a.records.empty());
}

}  // namespace
}  // namespace ringwatch
