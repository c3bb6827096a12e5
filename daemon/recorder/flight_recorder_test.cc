#include "daemon/recorder/flight_recorder.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "daemon/event/field_access.h"
#include "daemon/tracedat/cpu_page_reader.h"
#include "daemon/tracedat/trace_dat_file.h"
#include "daemon/tracedat/trace_dat_test_util.h"
#include "daemon/tracedat/trace_dat_writer.h"
#include "daemon/util/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

// An empty sub-buffer whose header says `timestamp`.
std::vector<uint8_t> EmptyPage(uint64_t timestamp, uint32_t size = 4096) {
  std::vector<uint8_t> page(size, 0);
  std::memcpy(page.data(), &timestamp, sizeof(timestamp));
  return page;
}

std::unique_ptr<FlightRecorder> MakeRecorder(uint64_t max_bytes,
                                             uint64_t max_age) {
  FlightRecorderOptions options;
  options.cpu_count = 2;
  options.max_bytes_per_cpu = max_bytes;
  options.max_age = max_age;
  auto recorder = FlightRecorder::Create(options);
  EXPECT_TRUE(recorder.ok()) << recorder.status();
  return *std::move(recorder);
}

// Writes a snapshot of `span` to a file and returns the pages it got.
uint64_t SnapshotPages(FlightRecorder* recorder, uint64_t span,
                       const std::string& name) {
  auto writer = TraceDatWriter::Create(
      absl::StrCat(testing::TempDir(), "/", name, ".dat"),
      recorder->options().page_size, recorder->options().cpu_count);
  EXPECT_TRUE(writer.ok()) << writer.status();
  auto snapshot = recorder->Snapshot(span, writer->get());
  EXPECT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_TRUE((*writer)->Finish(TraceDatMetadata()).ok());
  EXPECT_EQ(snapshot->pages, (*writer)->pages());
  return snapshot->pages;
}

TEST(FlightRecorderTest, HoldsAtMostItsBytesPerCpuAndCountsEvictions) {
  auto recorder = MakeRecorder(3 * 4096, ~uint64_t{0} / 2);
  for (uint64_t ts = 1; ts <= 10; ++ts) {
    ASSERT_TRUE(recorder->AddPage(0, EmptyPage(ts)).ok());
  }
  ASSERT_TRUE(recorder->AddPage(1, EmptyPage(5)).ok());
  const FlightRecorderCounters c = recorder->counters();
  EXPECT_EQ(c.pages_added, 11u);
  EXPECT_EQ(c.pages_held, 4u);
  EXPECT_EQ(c.bytes_held, 4u * 4096);
  EXPECT_EQ(c.pages_evicted_for_bytes, 7u);
  // Three held pages and the open one, per CPU.
  EXPECT_EQ(recorder->reserved_bytes(), 2u * 4 * 4096);
  EXPECT_EQ(SnapshotPages(recorder.get(), 0, "bytes"), 4u);
}

TEST(FlightRecorderTest, EvictsByAgeKeepingThePageThatSpansTheCut) {
  auto recorder = MakeRecorder(1 << 20, 100);
  for (uint64_t ts = 0; ts <= 250; ts += 50) {
    ASSERT_TRUE(recorder->AddPage(0, EmptyPage(ts)).ok());
  }
  // Newest 250, cut 150: the page from 100 may hold events up to 150.
  const FlightRecorderCounters c = recorder->counters();
  EXPECT_EQ(c.pages_held, 4u);
  EXPECT_EQ(c.pages_evicted_for_age, 2u);
}

TEST(FlightRecorderTest, SnapshotCoversTheRequestedSpan) {
  auto recorder = MakeRecorder(1 << 20, ~uint64_t{0} / 2);
  for (uint64_t ts = 0; ts <= 900; ts += 100) {
    ASSERT_TRUE(recorder->AddPage(0, EmptyPage(ts)).ok());
    ASSERT_TRUE(recorder->AddPage(1, EmptyPage(ts + 10)).ok());
  }
  // Newest 910, span 250: cut 660; per CPU the pages from 600/610 on.
  EXPECT_EQ(SnapshotPages(recorder.get(), 250, "span"), 8u);
  EXPECT_EQ(SnapshotPages(recorder.get(), 0, "all"), 20u);
  // Span 1, cut 909: CPU 0's page from 900, CPU 1's from 910 and the one
  // from 810, which may hold events up to 910.
  EXPECT_EQ(SnapshotPages(recorder.get(), 1, "newest"), 3u);
}

TEST(FlightRecorderTest, RefusesBadPagesAndSettings) {
  auto recorder = MakeRecorder(1 << 20, 1000);
  EXPECT_THAT(recorder->AddPage(2, EmptyPage(1)).message(),
              ::testing::HasSubstr("cpu 2"));
  EXPECT_THAT(recorder->AddPage(0, EmptyPage(1, 100)).message(),
              ::testing::HasSubstr("page of 100 bytes"));
  EXPECT_EQ(recorder->counters().pages_refused, 2u);
  EXPECT_EQ(recorder->counters().pages_held, 0u);
  FlightRecorderOptions options;
  options.cpu_count = 1;
  options.max_bytes_per_cpu = 100;
  EXPECT_FALSE(FlightRecorder::Create(options).ok());
  options.max_bytes_per_cpu = 1 << 20;
  options.cpu_count = 0;
  EXPECT_FALSE(FlightRecorder::Create(options).ok());
}

// Real sub-buffers (the v7.dat fixture, 40 markers among sched events) fed
// CPU by CPU: the snapshot file decodes to the same records, each marker
// exactly once.
TEST(FlightRecorderTest, SnapshotOfRealPagesHasEveryMarkerOnce) {
  const std::string path = TraceDatFixture("v7.dat");
  auto source = TraceDatFile::Open(path);
  ASSERT_TRUE(source.ok()) << source.status();
  auto bytes = ReadFileToString(path);
  ASSERT_TRUE(bytes.ok());
  const TraceDatBuffer& buffer =
      (*source)->buffers()[(*source)->default_buffer()];
  FlightRecorderOptions options;
  options.page_size = buffer.page_size;
  options.cpu_count = (*source)->cpu_count();
  options.max_bytes_per_cpu = 1 << 20;
  auto recorder = FlightRecorder::Create(options);
  ASSERT_TRUE(recorder.ok());
  for (const CpuDataExtent& extent : buffer.cpus) {
    CpuPageReader pages(
        absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(bytes->data()),
                            bytes->size()),
        extent, buffer.page_size, path);
    for (;;) {
      absl::Span<const uint8_t> page;
      bool has_page = false;
      ASSERT_TRUE(pages.Next(&page, &has_page).ok());
      if (!has_page) break;
      ASSERT_TRUE((*recorder)->AddPage(extent.cpu, page).ok());
    }
  }
  const std::string out = absl::StrCat(testing::TempDir(), "/snapshot.dat");
  auto writer =
      TraceDatWriter::Create(out, options.page_size, options.cpu_count);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*recorder)->Snapshot(0, writer->get()).ok());
  TraceDatMetadata metadata;
  auto header_page = ReadFileToString("tests/data/formats/header_page");
  auto print_format =
      ReadFileToString("tests/data/formats/ftrace/print.format");
  ASSERT_TRUE(header_page.ok() && print_format.ok());
  metadata.header_page = *header_page;
  metadata.ftrace_formats = {*print_format};
  ASSERT_TRUE((*writer)->Finish(metadata).ok());
  auto snapshot = TraceDatFile::Open(out);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  CapturingSink before, after;
  ASSERT_TRUE((*source)->ReadAll(&before).ok());
  ASSERT_TRUE((*snapshot)->ReadAll(&after).ok());
  EXPECT_TRUE(before.records == after.records);
  const EventFormat* print = (*snapshot)->catalog().FindByName("ftrace/print");
  ASSERT_NE(print, nullptr);
  const FieldFormat* buf = print->FindField("buf");
  ASSERT_NE(buf, nullptr);
  std::vector<int> seen(41, 0);
  for (const CapturedRecord& r : after.records) {
    absl::string_view text;
    uint16_t id = 0;
    std::memcpy(&id, r.payload.data(), 2);
    if (id != print->id || !FieldString(r.payload, *buf, &text)) continue;
    int n = 0;
    if (absl::ConsumePrefix(&text, "rwdat marker ") &&
        absl::SimpleAtoi(absl::StripSuffix(text, "\n"), &n) && n >= 1 &&
        n <= 40) {
      ++seen[n];
    }
  }
  for (int n = 1; n <= 40; ++n) EXPECT_EQ(seen[n], 1) << "marker " << n;
}

}  // namespace
}  // namespace ringwatch
