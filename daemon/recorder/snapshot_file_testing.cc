#include "daemon/recorder/snapshot_file_testing.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/util/file_util.h"
#include "gtest/gtest.h"

namespace ringwatch {

std::vector<std::vector<uint8_t>> WrittenSnapshot::PagesOf(uint32_t cpu) const {
  std::vector<std::vector<uint8_t>> out;
  for (const StoredPage& page : pages) {
    if (page.cpu == cpu) out.push_back(page.bytes);
  }
  return out;
}

WrittenSnapshot WriteSnapshotFile(FlightRecorder* recorder, uint64_t span,
                                  const std::string& name,
                                  TraceDatWriterOptions writer_options) {
  WrittenSnapshot w;
  w.path = absl::StrCat(testing::TempDir(), "/", name, ".dat");
  auto writer =
      TraceDatWriter::Create(w.path, recorder->options().page_size,
                             recorder->options().cpu_count, writer_options);
  EXPECT_TRUE(writer.ok()) << writer.status();
  if (!writer.ok()) return w;
  auto snapshot = recorder->Snapshot(span, writer->get());
  EXPECT_TRUE(snapshot.ok()) << snapshot.status();
  if (snapshot.ok()) w.snapshot = *snapshot;
  TraceDatMetadata metadata;
  auto header_page = ReadFileToString("tests/data/formats/header_page");
  EXPECT_TRUE(header_page.ok());
  metadata.header_page = header_page.ok() ? *header_page : "";
  EXPECT_TRUE((*writer)->Finish(metadata).ok());
  EXPECT_EQ(w.snapshot.pages, (*writer)->pages());
  auto file = TraceDatFile::Open(w.path);
  EXPECT_TRUE(file.ok()) << file.status();
  if (!file.ok()) return w;
  w.file = *std::move(file);
  auto bytes = ReadFileToString(w.path);
  EXPECT_TRUE(bytes.ok());
  if (!bytes.ok()) return w;
  auto pages = StoredPages(*w.file, *bytes, w.path);
  EXPECT_TRUE(pages.ok()) << pages.status();
  if (pages.ok()) w.pages = *std::move(pages);
  return w;
}

}  // namespace ringwatch
