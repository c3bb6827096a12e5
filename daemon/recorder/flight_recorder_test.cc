#include "daemon/recorder/flight_recorder.h"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "daemon/event/field_access.h"
#include "daemon/recorder/snapshot_file_testing.h"
#include "daemon/ring/subbuf_decoder.h"
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

constexpr uint32_t kPage = 4096;
constexpr uint32_t kData = 16;  // Default64 header bytes.
constexpr uint32_t kMissedEvents = 1u << 31;
constexpr uint32_t kMissedStored = 1u << 30;

// A sub-buffer as the kernel writes it (64-bit header) with `n` records of
// 8 payload bytes (type_len 2), `delta` apart; payload: u16 event id
// `first_id + i`, u16 0, u32 `first_id + i`. `ends` gets each record's end
// (an offset into the data area).
struct BuiltPage {
  std::vector<uint8_t> bytes;
  std::vector<uint32_t> ends;
  uint32_t data_size = 0;
};

BuiltPage MakePage(uint64_t timestamp, int n, uint32_t delta, uint32_t first_id,
                   uint32_t size = kPage) {
  BuiltPage p;
  p.bytes.assign(size, 0);
  uint32_t off = 0;
  for (int i = 0; i < n; ++i) {
    const uint32_t header = (delta << 5) | 2u;
    const uint16_t id = static_cast<uint16_t>(first_id + i);
    const uint32_t value = first_id + i;
    std::memcpy(p.bytes.data() + kData + off, &header, 4);
    std::memcpy(p.bytes.data() + kData + off + 4, &id, 2);
    std::memcpy(p.bytes.data() + kData + off + 8, &value, 4);
    off += 12;
    p.ends.push_back(off);
  }
  p.data_size = off;
  std::memcpy(p.bytes.data(), &timestamp, 8);
  const uint64_t commit = off;
  std::memcpy(p.bytes.data() + 8, &commit, 8);
  return p;
}

// Marks `page` as the kernel does after a loss: RB_MISSED_EVENTS added to
// the 64-bit commit as a negative int, and with room the count after the
// data with RB_MISSED_STORED.
void MarkLoss(BuiltPage* page, uint64_t count) {
  uint64_t commit = uint64_t{0xffffffff} << 32 | kMissedEvents | kMissedStored |
                    page->data_size;
  std::memcpy(page->bytes.data() + 8, &commit, 8);
  std::memcpy(page->bytes.data() + kData + page->data_size, &count, 8);
}

absl::Span<const uint8_t> HeaderOf(const BuiltPage& page) {
  return absl::MakeConstSpan(page.bytes).first(kData);
}

// Feeds `page` through the observer interface: its header, then its data
// cut at the record ends in `cuts` (indexes into page.ends), then the rest.
void Feed(FlightRecorder* recorder, uint32_t cpu, const BuiltPage& page,
          uint64_t lost, std::vector<size_t> cuts = {}) {
  recorder->BeginSubbuf(cpu, HeaderOf(page), lost);
  uint32_t from = 0;
  cuts.push_back(page.ends.size() - 1);
  for (size_t cut : cuts) {
    const uint32_t to = page.ends.empty() ? 0 : page.ends[cut];
    recorder->AppendData(
        cpu, absl::MakeConstSpan(page.bytes).subspan(kData + from, to - from),
        0);
    from = to;
  }
}

// The u32 values of the records of `cpu` in a written snapshot.
std::vector<uint32_t> ValuesOf(const WrittenSnapshot& w, uint32_t cpu,
                               DecodeCounters* counters = nullptr) {
  CapturingSink sink;
  DecodeCounters local;
  if (w.file != nullptr) {
    EXPECT_TRUE(w.file->ReadCpu(cpu, &sink, counters ? counters : &local).ok());
  }
  std::vector<uint32_t> values;
  for (const CapturedRecord& r : sink.records) {
    uint32_t v = 0;
    if (r.payload.size() >= 8) std::memcpy(&v, r.payload.data() + 4, 4);
    values.push_back(v);
  }
  return values;
}

std::vector<uint32_t> Range(uint32_t from, uint32_t to) {  // [from, to)
  std::vector<uint32_t> out;
  for (uint32_t i = from; i < to; ++i) out.push_back(i);
  return out;
}

std::unique_ptr<FlightRecorder> MakeObserved(uint64_t max_bytes,
                                             uint64_t max_age = ~0ull / 2,
                                             uint32_t cpus = 2) {
  FlightRecorderOptions options;
  options.cpu_count = cpus;
  options.max_bytes_per_cpu = max_bytes;
  options.max_age = max_age;
  auto recorder = FlightRecorder::Create(options);
  EXPECT_TRUE(recorder.ok()) << recorder.status();
  return *std::move(recorder);
}

TEST(FlightRecorderObserverTest, RebuildsTheKernelsPageByteForByte) {
  auto recorder = MakeObserved(1 << 20);
  // Fed in one stretch, in three, and with the stored loss count.
  BuiltPage plain = MakePage(1000, 5, 10, 1);
  BuiltPage split = MakePage(2000, 9, 7, 10);
  BuiltPage lossy = MakePage(3000, 4, 3, 20);
  MarkLoss(&lossy, 77);
  Feed(recorder.get(), 0, plain, 0);
  recorder->EndSubbuf(0);
  Feed(recorder.get(), 0, split, 0, {0, 4});
  recorder->EndSubbuf(0);
  Feed(recorder.get(), 0, lossy, 77, {1});
  recorder->EndSubbuf(0);
  WrittenSnapshot w = WriteSnapshotFile(recorder.get(), 0, "rebuild");
  std::vector<std::vector<uint8_t>> pages = w.PagesOf(0);
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_TRUE(pages[0] == plain.bytes);
  EXPECT_TRUE(pages[1] == split.bytes);
  EXPECT_TRUE(pages[2] == lossy.bytes);
  DecodeCounters counters;
  std::vector<uint32_t> expected = Range(1, 6);
  for (uint32_t v : Range(10, 19)) expected.push_back(v);
  for (uint32_t v : Range(20, 24)) expected.push_back(v);
  EXPECT_EQ(ValuesOf(w, 0, &counters), expected);
  EXPECT_EQ(counters.lost_events, 77u);
  EXPECT_EQ(counters.decode_errors, 0u);
  EXPECT_EQ(recorder->counters().appends_refused, 0u);
}

TEST(FlightRecorderObserverTest, StoresALossCountOnlyWhereItFits) {
  auto recorder = MakeObserved(1 << 20);
  // A loss the kernel reported outside the page (the mapped ring's meta
  // page): stored as the kernel would have.
  BuiltPage flagless = MakePage(100, 2, 1, 1);
  Feed(recorder.get(), 0, flagless, 5);
  recorder->EndSubbuf(0);
  // A full page: no room for the count, so RB_MISSED_STORED is cleared and
  // the loss stays flagged without a count.
  const int full_records = (kPage - kData) / 12;  // 340, 4 bytes to spare.
  BuiltPage full = MakePage(200, full_records, 1, 1000);
  uint64_t commit = uint64_t{0xffffffff} << 32 | kMissedEvents | kMissedStored |
                    full.data_size;
  std::memcpy(full.bytes.data() + 8, &commit, 8);
  Feed(recorder.get(), 0, full, 9);
  recorder->EndSubbuf(0);
  WrittenSnapshot w = WriteSnapshotFile(recorder.get(), 0, "loss");
  std::vector<std::vector<uint8_t>> pages = w.PagesOf(0);
  ASSERT_EQ(pages.size(), 2u);
  BuiltPage expected = flagless;
  MarkLoss(&expected, 5);
  EXPECT_TRUE(pages[0] == expected.bytes);
  SubbufHeader header;
  ASSERT_TRUE(
      ParseSubbufHeader(pages[1], HeaderPageFormat::Default64(), &header).ok());
  EXPECT_TRUE(header.missed_events);
  EXPECT_FALSE(header.missed_stored);
  EXPECT_EQ(header.data_size, full.data_size);
  DecodeCounters counters;
  EXPECT_EQ(ValuesOf(w, 0, &counters).size(), 2u + full_records);
  EXPECT_EQ(counters.lost_events, 5u);
  EXPECT_EQ(counters.lost_unknown, 1u);
}

TEST(FlightRecorderObserverTest, OpenPageIsInTheSnapshotExactlyOnce) {
  auto recorder = MakeObserved(1 << 20);
  BuiltPage first = MakePage(1000, 6, 10, 1);
  recorder->BeginSubbuf(1, HeaderOf(first), 0);
  auto append = [&](const BuiltPage& page, size_t from, size_t to) {
    const uint32_t begin = from == 0 ? 0 : page.ends[from - 1];
    const uint32_t end = page.ends[to - 1];
    recorder->AppendData(
        1, absl::MakeConstSpan(page.bytes).subspan(kData + begin, end - begin),
        0);
  };
  append(first, 0, 2);
  EXPECT_EQ(recorder->counters().pages_open, 1u);
  WrittenSnapshot w = WriteSnapshotFile(recorder.get(), 0, "open1");
  EXPECT_EQ(w.snapshot.pages, 1u);
  EXPECT_EQ(ValuesOf(w, 1), Range(1, 3));
  append(first, 2, 6);
  w = WriteSnapshotFile(recorder.get(), 0, "open2");
  EXPECT_EQ(w.snapshot.pages, 1u);
  EXPECT_EQ(ValuesOf(w, 1), Range(1, 7));
  ASSERT_EQ(w.PagesOf(1).size(), 1u);
  EXPECT_TRUE(w.PagesOf(1)[0] == first.bytes);
  // Closed: the same page, once.
  recorder->EndSubbuf(1);
  EXPECT_EQ(recorder->counters().pages_open, 0u);
  w = WriteSnapshotFile(recorder.get(), 0, "closed");
  EXPECT_EQ(w.snapshot.pages, 1u);
  EXPECT_EQ(ValuesOf(w, 1), Range(1, 7));
  // A new open page after it.
  BuiltPage second = MakePage(2000, 3, 10, 7);
  recorder->BeginSubbuf(1, HeaderOf(second), 0);
  append(second, 0, 1);
  w = WriteSnapshotFile(recorder.get(), 0, "open3");
  EXPECT_EQ(w.snapshot.pages, 2u);
  EXPECT_EQ(ValuesOf(w, 1), Range(1, 8));
  EXPECT_EQ(w.snapshot.oldest, 1000u);
  EXPECT_EQ(ValuesOf(w, 0), std::vector<uint32_t>());
  // A Begin closes the open page first.
  BuiltPage third = MakePage(3000, 1, 10, 8);
  recorder->BeginSubbuf(1, HeaderOf(third), 0);
  w = WriteSnapshotFile(recorder.get(), 0, "open4");
  EXPECT_EQ(w.snapshot.pages, 2u);  // The empty open page is left out.
  EXPECT_EQ(ValuesOf(w, 1), Range(1, 8));
}

TEST(FlightRecorderObserverTest, RefusesDataWithoutAnOpenPageOrRoom) {
  auto recorder = MakeObserved(1 << 20);
  BuiltPage page = MakePage(1000, 2, 10, 1);
  recorder->AppendData(0, absl::MakeConstSpan(page.bytes).subspan(kData, 12),
                       0);
  recorder->BeginSubbuf(0, HeaderOf(page), 0);
  recorder->AppendData(0, std::vector<uint8_t>(kPage - kData + 1, 0), 0);
  recorder->AppendData(7, absl::MakeConstSpan(page.bytes).subspan(kData, 12),
                       0);  // Unknown CPU: ignored.
  EXPECT_EQ(recorder->counters().appends_refused, 2u);
  WrittenSnapshot w = WriteSnapshotFile(recorder.get(), 0, "refused");
  EXPECT_EQ(w.snapshot.pages, 0u);
}

TEST(FlightRecorderObserverTest, EvictsObservedPagesByBytesAndAge) {
  // Three pages per CPU: the oldest go first, their storage reused.
  auto recorder = MakeObserved(3 * kPage, 1000);
  for (uint32_t i = 0; i < 5; ++i) {
    Feed(recorder.get(), 0, MakePage(100 + i * 10, 1, 1, i), 0);
    recorder->EndSubbuf(0);
  }
  FlightRecorderCounters c = recorder->counters();
  EXPECT_EQ(c.pages_added, 5u);
  EXPECT_EQ(c.pages_held, 3u);
  EXPECT_EQ(c.pages_evicted_for_bytes, 2u);
  WrittenSnapshot w = WriteSnapshotFile(recorder.get(), 0, "evict_bytes");
  EXPECT_EQ(ValuesOf(w, 0), Range(2, 5));
  EXPECT_EQ(w.snapshot.oldest, 120u);
  // CPU 1: pages from 100 and 110, then one from 1130 whose record at 1135
  // moves the newest time: when it closes, the page from 100 is too old
  // (max_age 1000, cut 135); the one from 110 may run up to 1130: kept.
  for (uint32_t i = 0; i < 2; ++i) {
    Feed(recorder.get(), 1, MakePage(100 + i * 10, 1, 1, 10 + i), 0);
    recorder->EndSubbuf(1);
  }
  BuiltPage late = MakePage(1130, 1, 5, 50);
  recorder->BeginSubbuf(1, HeaderOf(late), 0);
  recorder->AppendData(1, absl::MakeConstSpan(late.bytes).subspan(kData, 12),
                       1135);
  EXPECT_EQ(recorder->newest_timestamp(), 1135u);
  recorder->EndSubbuf(1);
  c = recorder->counters();
  EXPECT_EQ(c.pages_evicted_for_age, 1u);
  EXPECT_EQ(c.pages_held, 5u);
  w = WriteSnapshotFile(recorder.get(), 0, "evict_age");
  EXPECT_EQ(ValuesOf(w, 1), std::vector<uint32_t>({11, 50}));
  EXPECT_EQ(w.snapshot.newest, 1135u);
  EXPECT_EQ(w.snapshot.oldest, 110u);
}

TEST(FlightRecorderObserverTest, SpanCutKeepsThePageBeforeAndTheOpenPage) {
  auto recorder = MakeObserved(1 << 20);
  for (uint32_t i = 0; i < 5; ++i) {
    Feed(recorder.get(), 0, MakePage(i * 100, 1, 1, i), 0);
    recorder->EndSubbuf(0);
  }
  BuiltPage open = MakePage(500, 1, 1, 5);
  recorder->BeginSubbuf(0, HeaderOf(open), 0);
  recorder->AppendData(0, absl::MakeConstSpan(open.bytes).subspan(kData, 12),
                       501);
  // Newest 501, span 150: cut 351; the page from 300 may run past it.
  WrittenSnapshot w = WriteSnapshotFile(recorder.get(), 150, "cut");
  EXPECT_EQ(w.snapshot.cut, 351u);
  EXPECT_EQ(w.snapshot.newest, 501u);
  EXPECT_EQ(w.snapshot.oldest, 300u);
  EXPECT_EQ(ValuesOf(w, 0), Range(3, 6));
}

// Pages evicted between two batches of a snapshot are counted and skipped,
// never replaced by newer ones or written twice.
TEST(FlightRecorderObserverTest, CountsPagesEvictedDuringTheSnapshot) {
  constexpr uint32_t kHeld = 200;
  auto recorder = MakeObserved(kHeld * kPage, ~0ull / 2, 1);
  for (uint32_t i = 0; i < kHeld; ++i) {
    Feed(recorder.get(), 0, MakePage(1000 + i, 1, 1, i), 0);
    recorder->EndSubbuf(0);
  }
  BuiltPage open = MakePage(1000 + kHeld, 1, 1, kHeld);
  Feed(recorder.get(), 0, open, 0);
  int batches = 0;
  recorder->set_snapshot_batch_hook_for_testing([&] {
    if (++batches != 1) return;
    // After the first batch (64 pages): the open page closes and 100 new
    // pages follow, evicting seq 0..100, of which 64..100 (37) were
    // selected and not copied yet.
    for (uint32_t i = 0; i < 100; ++i) {
      Feed(recorder.get(), 0, MakePage(5000 + i, 1, 1, 5000 + i), 0);
      recorder->EndSubbuf(0);
    }
  });
  WrittenSnapshot w = WriteSnapshotFile(recorder.get(), 0, "evicted_during");
  EXPECT_EQ(w.snapshot.pages_evicted_during, 37u);
  // 0..63, 101..199, then the open page as it was when the snapshot began.
  EXPECT_EQ(w.snapshot.pages, 64u + 99u + 1u);
  std::vector<uint32_t> expected = Range(0, 64);
  for (uint32_t v : Range(101, kHeld + 1)) expected.push_back(v);
  EXPECT_EQ(ValuesOf(w, 0), expected);
}

// Readers adding pages on their own threads while snapshots run (TSan runs
// this too): every snapshot has each CPU's pages in order, none twice. The
// readers run from before the first snapshot until after the fifth.
TEST(FlightRecorderObserverTest, SnapshotsWhileReadersRun) {
  constexpr int kSnapshots = 5;
  auto recorder = MakeObserved(64 * kPage, ~0ull / 2, 2);
  std::atomic<int> snapshots{0};
  std::atomic<int> started{0};
  uint32_t added[2] = {0, 0};
  std::vector<std::thread> readers;
  for (uint32_t cpu = 0; cpu < 2; ++cpu) {
    readers.emplace_back([&, cpu] {
      uint32_t i = 0;
      for (; i < 1000 || snapshots.load() < kSnapshots; ++i) {
        BuiltPage page = MakePage(1000 + i * 10, 3, 1, i * 3);
        Feed(recorder.get(), cpu, page, 0, {0, 1});
        recorder->EndSubbuf(cpu);
        if (i == 100) started.fetch_add(1);
      }
      added[cpu] = i;
    });
  }
  while (started.load() < 2) std::this_thread::yield();
  uint64_t evicted_during = 0;
  for (int n = 0; n < kSnapshots; ++n) {
    WrittenSnapshot w =
        WriteSnapshotFile(recorder.get(), 0, absl::StrCat("concurrent", n));
    for (uint32_t cpu = 0; cpu < 2; ++cpu) {
      std::vector<uint32_t> values = ValuesOf(w, cpu);
      // In order and never twice; pages evicted before their batch leave
      // gaps (counted).
      for (size_t i = 1; i < values.size(); ++i) {
        EXPECT_LT(values[i - 1], values[i])
            << "cpu " << cpu << " snapshot " << n;
      }
    }
    EXPECT_LE(w.snapshot.pages + w.snapshot.pages_evicted_during,
              2u * (64 + 1));
    evicted_during += w.snapshot.pages_evicted_during;
    snapshots.fetch_add(1);
  }
  for (std::thread& t : readers) t.join();
  WrittenSnapshot last = WriteSnapshotFile(recorder.get(), 0, "final");
  EXPECT_EQ(last.snapshot.pages, 2u * 64);
  EXPECT_EQ(last.snapshot.pages_evicted_during, 0u);
  for (uint32_t cpu = 0; cpu < 2; ++cpu) {
    EXPECT_EQ(ValuesOf(last, cpu),
              Range((added[cpu] - 64) * 3, added[cpu] * 3));
  }
  std::printf("pages per CPU %u and %u; %llu evicted during the snapshots\n",
              added[0], added[1],
              static_cast<unsigned long long>(evicted_during));
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
  auto pages = StoredPages(**source, *bytes, path);
  ASSERT_TRUE(pages.ok()) << pages.status();
  for (const StoredPage& page : *pages) {
    ASSERT_TRUE((*recorder)->AddPage(page.cpu, page.bytes).ok());
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
