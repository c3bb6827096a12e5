#include "daemon/tracedat/trace_dat_writer.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "daemon/tracedat/trace_dat_file.h"
#include "daemon/tracedat/trace_dat_test_util.h"
#include "daemon/util/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

// Metadata for the v7.dat fixture: the kernel's header_page and the formats
// of the events it holds, its command lines.
TraceDatMetadata FixtureMetadata(const TraceDatFile& source) {
  TraceDatMetadata m;
  auto header_page = ReadFileToString("tests/data/formats/header_page");
  auto header_event = ReadFileToString("tests/data/formats/header_event");
  EXPECT_TRUE(header_page.ok() && header_event.ok());
  m.header_page = *header_page;
  m.header_event = *header_event;
  for (const char* name : {"sched_switch", "sched_waking"}) {
    auto text = ReadFileToString(
        absl::StrCat("tests/data/formats/sched/", name, ".format"));
    EXPECT_TRUE(text.ok()) << text.status();
    if (m.event_systems.empty()) m.event_systems.push_back({"sched", {}});
    m.event_systems[0].second.push_back(*text);
  }
  for (const auto& [pid, comm] : source.cmdlines()) {
    absl::StrAppend(&m.cmdlines, pid, " ", comm, "\n");
  }
  m.trace_clock = "[local] global counter";
  m.uname = "Linux test 6.18.0 x86_64";
  m.kallsyms = "ffffffff81000000 T _stext\n";
  return m;
}

struct Case {
  int version;
  TraceDatCompression compression;
  uint32_t pages_per_chunk;
  const char* name;
};

class TraceDatWriterRoundTrip : public ::testing::TestWithParam<Case> {};

TEST_P(TraceDatWriterRoundTrip, PagesComeBackAsTheyWentIn) {
  const Case& c = GetParam();
  const std::string source_path = TraceDatFixture("v7.dat");
  auto source = TraceDatFile::Open(source_path);
  ASSERT_TRUE(source.ok()) << source.status();
  auto source_bytes = ReadFileToString(source_path);
  ASSERT_TRUE(source_bytes.ok());
  auto stored = StoredPages(**source, *source_bytes, source_path);
  ASSERT_TRUE(stored.ok()) << stored.status();
  const std::vector<StoredPage>& pages = *stored;
  ASSERT_GT(pages.size(), 2u);

  const std::string path =
      absl::StrCat(testing::TempDir(), "/", c.name, ".dat");
  TraceDatWriterOptions options;
  options.version = c.version;
  options.compression = c.compression;
  options.pages_per_chunk = c.pages_per_chunk;
  auto writer = TraceDatWriter::Create(
      path, (*source)->buffers()[(*source)->default_buffer()].page_size,
      (*source)->cpu_count(), options);
  ASSERT_TRUE(writer.ok()) << writer.status();
  // Interleave CPUs as live readers do: per-CPU order is what counts.
  std::vector<std::vector<const StoredPage*>> per_cpu((*source)->cpu_count());
  for (const StoredPage& p : pages) per_cpu[p.cpu].push_back(&p);
  for (size_t i = 0;; ++i) {
    bool any = false;
    for (const auto& cpu_pages : per_cpu) {
      if (i >= cpu_pages.size()) continue;
      any = true;
      ASSERT_TRUE(
          (*writer)->AddPage(cpu_pages[i]->cpu, cpu_pages[i]->bytes).ok());
    }
    if (!any) break;
  }
  ASSERT_TRUE((*writer)->Finish(FixtureMetadata(**source)).ok());
  EXPECT_EQ((*writer)->pages(), pages.size());

  auto written = TraceDatFile::Open(path);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ((*written)->version(), c.version);
  EXPECT_EQ((*written)->compression(),
            c.compression == TraceDatCompression::kZstd && c.version == 7
                ? "zstd"
                : "none");
  EXPECT_EQ((*written)->options().uname, "Linux test 6.18.0 x86_64");
  EXPECT_EQ((*written)->options().trace_clocks, "[local] global counter");
  EXPECT_EQ((*written)->options().cpu_count, (*source)->cpu_count());
  EXPECT_EQ((*written)->buffers()[(*written)->default_buffer()].clock, "local");
  EXPECT_EQ((*written)->cmdlines(), (*source)->cmdlines());
  EXPECT_NE((*written)->catalog().FindByName("sched/sched_switch"), nullptr);

  // Byte for byte the same pages, and so the same records and losses.
  auto written_bytes = ReadFileToString(path);
  ASSERT_TRUE(written_bytes.ok());
  auto again = StoredPages(**written, *written_bytes, path);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(again->size(), pages.size());
  for (size_t i = 0; i < pages.size(); ++i) {
    EXPECT_EQ((*again)[i].cpu, pages[i].cpu) << "page " << i;
    EXPECT_TRUE((*again)[i].bytes == pages[i].bytes) << "page " << i;
  }
  CapturingSink before, after;
  ASSERT_TRUE((*source)->ReadAll(&before).ok());
  ASSERT_TRUE((*written)->ReadAll(&after).ok());
  EXPECT_GT(after.records.size(), 0u);
  EXPECT_TRUE(before.records == after.records);
  EXPECT_EQ(before.losses.size(), after.losses.size());
}

INSTANTIATE_TEST_SUITE_P(
    Versions, TraceDatWriterRoundTrip,
    ::testing::Values(Case{7, TraceDatCompression::kZstd, 64, "v7_zstd"},
                      Case{7, TraceDatCompression::kZstd, 1, "v7_zstd_small"},
                      Case{7, TraceDatCompression::kNone, 64, "v7_none"},
                      Case{6, TraceDatCompression::kNone, 64, "v6"}),
    [](const ::testing::TestParamInfo<Case>& info) {
      return std::string(info.param.name);
    });

TEST(TraceDatWriterTest, RefusesBadSettings) {
  const std::string path = absl::StrCat(testing::TempDir(), "/bad.dat");
  TraceDatWriterOptions options;
  options.version = 5;
  EXPECT_THAT(TraceDatWriter::Create(path, 4096, 2, options).status().message(),
              ::testing::HasSubstr("version 5"));
  EXPECT_THAT(TraceDatWriter::Create(path, 3000, 2).status().message(),
              ::testing::HasSubstr("bad page size 3000"));
  EXPECT_THAT(TraceDatWriter::Create(path, 4096, 0).status().message(),
              ::testing::HasSubstr("cpu count 0"));
  EXPECT_EQ(
      TraceDatWriter::Create("/nonexistent-dir/x.dat", 4096, 2).status().code(),
      absl::StatusCode::kNotFound);
}

TEST(TraceDatWriterTest, RefusesBadPagesAndUseAfterFinish) {
  const std::string path = absl::StrCat(testing::TempDir(), "/pages.dat");
  auto writer = TraceDatWriter::Create(path, 4096, 2);
  ASSERT_TRUE(writer.ok()) << writer.status();
  std::vector<uint8_t> page(4096, 0);
  EXPECT_THAT((*writer)->AddPage(2, page).message(),
              ::testing::HasSubstr("cpu 2 out of range"));
  page.resize(100);
  EXPECT_THAT((*writer)->AddPage(0, page).message(),
              ::testing::HasSubstr("page of 100 bytes"));
  ASSERT_TRUE((*writer)->Finish(TraceDatMetadata()).ok());
  page.resize(4096);
  EXPECT_EQ((*writer)->AddPage(0, page).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*writer)->Finish(TraceDatMetadata()).code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace ringwatch
