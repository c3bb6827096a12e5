#include "daemon/ring/subbuf_decoder.h"

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "daemon/event/event_format.h"
#include "daemon/event/field_access.h"
#include "daemon/event/header_page.h"
#include "daemon/ring/record.h"
#include "daemon/ring/testing/recording_sink.h"
#include "daemon/ring/testing/subbuf_builder.h"
#include "daemon/ring/testing/subbuf_fixtures.h"
#include "daemon/ring/testing/trace_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

const HeaderPageFormat kFormat = HeaderPageFormat::Default64();
constexpr uint64_t kBase = 1000000;  // Base time of hand-built pages.

// Exact copies sized to the bytes given, so ASan flags any read past them.
std::vector<uint8_t> Copy(absl::Span<const uint8_t> bytes) {
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

void Put32(std::vector<uint8_t>* page, size_t at, uint32_t v) {
  std::memcpy(page->data() + at, &v, 4);
}

uint32_t Get32(absl::Span<const uint8_t> page, size_t at) {
  uint32_t v;
  std::memcpy(&v, page.data() + at, 4);
  return v;
}

struct Decoded {
  absl::Status status;
  RecordingSink sink;
  DecodeCounters counters;
};

Decoded DecodeWhole(absl::Span<const uint8_t> page, uint32_t cpu = 0,
                    const HeaderPageFormat& format = kFormat) {
  Decoded d;
  d.status = DecodeSubbuf(cpu, page, format, &d.sink, &d.counters);
  return d;
}

SubbufHeader MustParse(absl::Span<const uint8_t> page) {
  SubbufHeader h;
  absl::Status s = ParseSubbufHeader(page, kFormat, &h);
  EXPECT_TRUE(s.ok()) << s;
  return h;
}

// Offsets of every record in [0, data_size), from the documented layout
// (independent of the decoder, for tests that damage a record).
std::vector<uint32_t> RecordOffsets(absl::Span<const uint8_t> page) {
  SubbufHeader h = MustParse(page);
  std::vector<uint32_t> out;
  const uint8_t* data = page.data() + 16;
  uint32_t off = 0;
  while (off < h.data_size) {
    out.push_back(off);
    uint32_t header;
    std::memcpy(&header, data + off, 4);
    uint32_t type_len = header & 31;
    uint32_t array0;
    std::memcpy(&array0, data + off + 4, 4);
    if (type_len >= 1 && type_len <= 28) {
      off += 4 + type_len * 4;
    } else if (type_len == 0 || type_len == 29) {
      off += 4 + array0;
    } else {
      off += 8;
    }
  }
  return out;
}

// --- Fixture helpers -------------------------------------------------------

SubbufCapture MustLoad(absl::string_view name) {
  absl::StatusOr<SubbufCapture> c = LoadSubbufCapture(name);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : SubbufCapture();
}

EventFormat MustFormat(absl::string_view system, absl::string_view event) {
  absl::StatusOr<EventFormat> f = LoadCaptureEventFormat(system, event);
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() ? *std::move(f) : EventFormat();
}

// Every record of one CPU's pages, decoded page by page.
RecordingSink DecodeCpu(const CpuSubbufs& cpu, DecodeCounters* counters) {
  RecordingSink sink;
  for (const std::vector<uint8_t>& page : cpu.pages) {
    absl::Status s = DecodeSubbuf(cpu.cpu, page, kFormat, &sink, counters);
    EXPECT_TRUE(s.ok()) << s;
  }
  return sink;
}

// markers.txt: "<cpu> '<text>'" per marker (the strings hold no quotes).
std::map<uint32_t, std::vector<std::string>> LoadMarkers(
    absl::string_view scenario) {
  std::map<uint32_t, std::vector<std::string>> out;
  absl::StatusOr<std::string> root = SubbufFixtureRoot();
  EXPECT_TRUE(root.ok()) << root.status();
  if (!root.ok()) return out;
  absl::StatusOr<std::string> text =
      ReadTextFile(absl::StrCat(*root, "/", scenario, "/markers.txt"));
  EXPECT_TRUE(text.ok()) << text.status();
  if (!text.ok()) return out;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (line.empty()) continue;
    std::pair<absl::string_view, absl::string_view> parts =
        absl::StrSplit(line, absl::MaxSplits(' ', 1));
    uint32_t cpu = 0;
    EXPECT_TRUE(absl::SimpleAtoi(parts.first, &cpu)) << line;
    absl::string_view s = parts.second;
    EXPECT_TRUE(absl::ConsumePrefix(&s, "'") && absl::ConsumeSuffix(&s, "'"))
        << line;
    out[cpu].emplace_back(s);
  }
  return out;
}

// The text of every ftrace/print record, in order.
std::vector<std::string> MarkerTexts(const std::vector<RecordedRecord>& records,
                                     const EventFormat& print) {
  std::vector<std::string> out;
  const FieldFormat* buf = print.FindField("buf");
  EXPECT_NE(buf, nullptr);
  if (buf == nullptr) return out;
  for (const RecordedRecord& r : records) {
    if (r.event_id != static_cast<int32_t>(print.id)) continue;
    absl::Span<const uint8_t> payload(
        reinterpret_cast<const uint8_t*>(r.payload.data()), r.payload.size());
    absl::string_view text;
    EXPECT_TRUE(FieldString(payload, *buf, &text));
    out.emplace_back(text);
  }
  return out;
}

// --- Header ----------------------------------------------------------------

TEST(ParseSubbufHeaderTest, ReadsACapturedPage) {
  SubbufCapture basic = MustLoad("basic");
  ASSERT_FALSE(basic.cpus.empty());
  ASSERT_FALSE(basic.cpus[0].pages.empty());
  const std::vector<uint8_t>& page = basic.cpus[0].pages[0];
  SubbufHeader h;
  ASSERT_TRUE(ParseSubbufHeader(page, kFormat, &h).ok());
  uint64_t ts;
  std::memcpy(&ts, page.data(), 8);
  EXPECT_EQ(h.timestamp, ts);
  EXPECT_EQ(h.data_size, Get32(page, 8));
  EXPECT_FALSE(h.missed_events);
  EXPECT_FALSE(h.missed_stored);
}

TEST(ParseSubbufHeaderTest, TheCaptureKernelsHeaderPageIsTheDefault) {
  absl::StatusOr<HeaderPageFormat> f = LoadCaptureHeaderPage();
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->timestamp_offset, kFormat.timestamp_offset);
  EXPECT_EQ(f->commit_offset, kFormat.commit_offset);
  EXPECT_EQ(f->commit_size, kFormat.commit_size);
  EXPECT_EQ(f->data_offset, kFormat.data_offset);
}

TEST(ParseSubbufHeaderTest, RejectsAFormatThatCannotDescribeASubbuf) {
  std::vector<uint8_t> page = SubbufBuilder(kBase).Build();
  SubbufHeader h;
  HeaderPageFormat f = kFormat;
  f.commit_size = 2;
  EXPECT_THAT(std::string(ParseSubbufHeader(page, f, &h).message()),
              HasSubstr("commit size 2"));
  f = kFormat;
  f.data_offset = 12;
  absl::Status s = ParseSubbufHeader(page, f, &h);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("overlaps the data at 12"));
}

TEST(ParseSubbufHeaderTest, RejectsADataSizeBeyondTheSubbuf) {
  std::vector<uint8_t> page = SubbufBuilder(kBase).Build();
  Put32(&page, 8, 4081);
  SubbufHeader h;
  absl::Status s = ParseSubbufHeader(page, kFormat, &h);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("data size 4081 exceeds the 4080-byte"));
}

TEST(ParseSubbufHeaderTest, ReadsA32BitKernelsLayout) {
  // u64 timestamp, 4-byte local_t commit, data at 12.
  HeaderPageFormat f;
  f.commit_size = 4;
  f.data_offset = 12;
  std::vector<uint8_t> page(64, 0);
  uint64_t ts = 777;
  std::memcpy(page.data(), &ts, 8);
  Put32(&page, 8, 8 | (1u << 31) | (1u << 30));
  Put32(&page, 12, 1 | (5 << 5));  // type_len 1, delta 5
  Put32(&page, 16, 0xabcd);
  Put32(&page, 20, 42);  // Lost count: a 4-byte unsigned long.
  Decoded d = DecodeWhole(page, 3, f);
  ASSERT_TRUE(d.status.ok()) << d.status;
  ASSERT_THAT(d.sink.records, SizeIs(1));
  EXPECT_EQ(d.sink.records[0].timestamp, 782u);
  EXPECT_EQ(d.sink.records[0].cpu, 3u);
  ASSERT_THAT(d.sink.losses, SizeIs(1));
  EXPECT_EQ(d.sink.losses[0].count, 42u);
}

// --- Record forms ----------------------------------------------------------

TEST(SubbufDecoderTest, ShortAndLongDataRecords) {
  const std::string small = SubbufBuilder::Payload(7, "abcd");  // 12 bytes
  const std::string big = SubbufBuilder::Payload(8, std::string(200, 'x'));
  const std::string forced = SubbufBuilder::Payload(9, "tiny");
  std::vector<uint8_t> page = SubbufBuilder(kBase)
                                  .Data(0, small)
                                  .Data(10, big)
                                  .LongData(3, forced)
                                  .Build();
  Decoded d = DecodeWhole(Copy(page), 2);
  ASSERT_TRUE(d.status.ok()) << d.status;
  ASSERT_THAT(d.sink.records, SizeIs(3));
  EXPECT_EQ(d.sink.records[0].payload, small);
  EXPECT_EQ(d.sink.records[0].timestamp, kBase);
  EXPECT_EQ(d.sink.records[0].event_id, 7);
  EXPECT_EQ(d.sink.records[0].cpu, 2u);
  EXPECT_EQ(d.sink.records[1].payload, big);  // 208 bytes, a multiple of 4
  EXPECT_EQ(d.sink.records[1].timestamp, kBase + 10);
  EXPECT_EQ(d.sink.records[2].payload, forced);
  EXPECT_EQ(d.sink.records[2].timestamp, kBase + 13);
  EXPECT_EQ(d.counters.events, 3u);
  EXPECT_EQ(d.counters.bytes, small.size() + big.size() + forced.size());
  EXPECT_EQ(d.counters.subbufs, 1u);
  EXPECT_EQ(d.counters.decode_errors, 0u);
}

TEST(SubbufDecoderTest, PayloadsAreRoundedUpToFourBytes) {
  std::vector<uint8_t> page = SubbufBuilder(kBase)
                                  .Data(0, "12345")
                                  .Data(0, std::string(113, 'q'))
                                  .Build();
  Decoded d = DecodeWhole(page);
  ASSERT_TRUE(d.status.ok()) << d.status;
  ASSERT_THAT(d.sink.records, SizeIs(2));
  EXPECT_EQ(d.sink.records[0].payload, std::string("12345\0\0\0", 8));
  EXPECT_EQ(d.sink.records[1].payload.size(), 116u);  // Long form.
}

TEST(SubbufDecoderTest, DiscardedEventsAreCountedAndDoNotMoveTheTime) {
  // The kernel's readers ignore a discarded event's time_delta
  // (rb_update_read_stamp returns early for RINGBUF_TYPE_PADDING).
  std::vector<uint8_t> page = SubbufBuilder(kBase)
                                  .Data(10, SubbufBuilder::Payload(1, "a"))
                                  .Discarded(5, 24)
                                  .Data(7, SubbufBuilder::Payload(2, "b"))
                                  .Build();
  Decoded d = DecodeWhole(page);
  ASSERT_TRUE(d.status.ok()) << d.status;
  ASSERT_THAT(d.sink.records, SizeIs(2));
  EXPECT_EQ(d.sink.records[1].timestamp, kBase + 17);
  EXPECT_EQ(d.counters.padding, 1u);
  EXPECT_EQ(d.counters.events, 2u);
}

TEST(SubbufDecoderTest, EndPaddingEndsThePage) {
  // Padding with time_delta 0 (rb_event_set_padding): nothing after it is a
  // record, even when the commit says there is more. Built by hand: this
  // kernel writes it only past the commit (rb_reset_tail with < 8 bytes
  // left), so no capture holds one inside the data.
  SubbufBuilder b(kBase);
  b.Data(1, SubbufBuilder::Payload(1, "kept")).EndPadding().Raw32(0xffffffff);
  std::vector<uint8_t> page = b.Build();
  SubbufHeader h = MustParse(page);
  SubbufDecoder decoder;
  RecordingSink sink;
  DecodeCounters counters;
  decoder.Start(0, page, kFormat, h, &sink, &counters);
  ASSERT_TRUE(decoder.Decode(h.data_size, &sink, &counters).ok());
  ASSERT_THAT(sink.records, SizeIs(1));
  EXPECT_EQ(counters.padding, 1u);
  // A larger data_end later delivers nothing more.
  ASSERT_TRUE(decoder.Decode(4080, &sink, &counters).ok());
  EXPECT_THAT(sink.records, SizeIs(1));
  EXPECT_EQ(counters.decode_errors, 0u);
  EXPECT_EQ(counters.padding, 1u);
}

TEST(SubbufDecoderTest, TimeExtendAddsItsDelta) {
  const uint64_t extend = (uint64_t{5} << 27) | 3;
  std::vector<uint8_t> page = SubbufBuilder(kBase)
                                  .Data(1, SubbufBuilder::Payload(1, "a"))
                                  .TimeExtend(extend)
                                  .Data(2, SubbufBuilder::Payload(1, "b"))
                                  .Build();
  Decoded d = DecodeWhole(page);
  ASSERT_TRUE(d.status.ok()) << d.status;
  ASSERT_THAT(d.sink.records, SizeIs(2));
  EXPECT_EQ(d.sink.records[0].timestamp, kBase + 1);
  EXPECT_EQ(d.sink.records[1].timestamp, kBase + 1 + extend + 2);
}

TEST(SubbufDecoderTest, AbsoluteTimestampReplacesTheRunningTime) {
  std::vector<uint8_t> page = SubbufBuilder(kBase)
                                  .Data(100, SubbufBuilder::Payload(1, "a"))
                                  .TimeStamp(kBase + 5000)
                                  .Data(0, SubbufBuilder::Payload(1, "b"))
                                  .Data(4, SubbufBuilder::Payload(1, "c"))
                                  .Build();
  Decoded d = DecodeWhole(page);
  ASSERT_TRUE(d.status.ok()) << d.status;
  ASSERT_THAT(d.sink.records, SizeIs(3));
  EXPECT_EQ(d.sink.records[1].timestamp, kBase + 5000);
  EXPECT_EQ(d.sink.records[2].timestamp, kBase + 5004);
}

TEST(SubbufDecoderTest, AbsoluteTimestampTakesItsTopBitsFromTheRunningTime) {
  // Only 59 bits are stored (array[0] << 27 | time_delta); rb_fix_abs_ts
  // restores bits 59..63 from the running time. Built by hand: no clock on
  // the capture machine is anywhere near 2^59.
  const uint64_t top = uint64_t{0x12} << 59;
  const uint64_t low_mask = (uint64_t{1} << 59) - 1;
  const uint64_t base = top | 1000;
  std::vector<uint8_t> page = SubbufBuilder(base)
                                  .Data(0, SubbufBuilder::Payload(1, "a"))
                                  .TimeStamp((top | 250000) & low_mask)
                                  .Data(0, SubbufBuilder::Payload(1, "b"))
                                  .Build();
  Decoded d = DecodeWhole(page);
  ASSERT_TRUE(d.status.ok()) << d.status;
  ASSERT_THAT(d.sink.records, SizeIs(2));
  EXPECT_EQ(d.sink.records[0].timestamp, base);
  EXPECT_EQ(d.sink.records[1].timestamp, top | 250000);
}

TEST(SubbufDecoderTest, AbsoluteTimestampBelowTheRunningTimeWrapsItsLowBits) {
  // Running time just below a 2^59 boundary, absolute low bits just past it:
  // the kernel adds 1 << 59.
  const uint64_t top = uint64_t{0x3} << 59;
  const uint64_t running = top | ((uint64_t{1} << 59) - 10);
  std::vector<uint8_t> page = SubbufBuilder(running)
                                  .Data(0, SubbufBuilder::Payload(1, "a"))
                                  .TimeStamp(5)
                                  .Data(0, SubbufBuilder::Payload(1, "b"))
                                  .Build();
  Decoded d = DecodeWhole(page);
  ASSERT_TRUE(d.status.ok()) << d.status;
  ASSERT_THAT(d.sink.records, SizeIs(2));
  EXPECT_EQ(d.sink.records[1].timestamp, (uint64_t{0x4} << 59) | 5);
}

// --- Loss ------------------------------------------------------------------

TEST(SubbufDecoderTest, CapturedOverrunPageReportsTheKernelsCount) {
  SubbufCapture overrun = MustLoad("overrun");
  ASSERT_THAT(overrun.cpus, SizeIs(1));
  ASSERT_GE(overrun.cpus[0].pages.size(), 2u);
  uint64_t expected = 0;
  ASSERT_TRUE(absl::SimpleAtoi(overrun.info["overrun.cpu0"], &expected));
  ASSERT_GT(expected, 0u);

  const std::vector<uint8_t>& first = overrun.cpus[0].pages[0];
  SubbufHeader h = MustParse(first);
  EXPECT_TRUE(h.missed_events);
  EXPECT_TRUE(h.missed_stored);
  EXPECT_EQ(h.missed_count, expected);
  // The upper half of the 8-byte commit is sign-extended by the kernel.
  EXPECT_EQ(Get32(first, 12), 0xffffffffu);

  RecordingSink sink;
  DecodeCounters counters;
  for (const std::vector<uint8_t>& page : overrun.cpus[0].pages) {
    ASSERT_TRUE(DecodeSubbuf(0, page, kFormat, &sink, &counters).ok());
  }
  ASSERT_THAT(sink.losses, SizeIs(1));  // Once, for the first page only.
  EXPECT_EQ(sink.losses[0].count, expected);
  EXPECT_FALSE(sink.losses[0].unknown);
  EXPECT_EQ(sink.losses[0].timestamp, h.timestamp);
  EXPECT_EQ(counters.lost_events, expected);
  EXPECT_EQ(counters.lost_unknown, 0u);
  // Every record the kernel kept is there: entries in stats.
  uint64_t entries = 0;
  absl::StatusOr<std::string> stats =
      ReadTextFile(overrun.dir + "/stats.cpu0.txt");
  ASSERT_TRUE(stats.ok());
  for (absl::string_view line : absl::StrSplit(*stats, '\n')) {
    if (absl::ConsumePrefix(&line, "entries: ")) {
      ASSERT_TRUE(absl::SimpleAtoi(line, &entries));
    }
  }
  EXPECT_EQ(counters.events, entries);
}

TEST(SubbufDecoderTest, LossWithoutAStoredCountIsUnknown) {
  std::vector<uint8_t> page = SubbufBuilder(kBase)
                                  .Data(0, SubbufBuilder::Payload(1, "a"))
                                  .MissedUnknown()
                                  .Build();
  Decoded d = DecodeWhole(page, 1);
  ASSERT_TRUE(d.status.ok()) << d.status;
  ASSERT_THAT(d.sink.losses, SizeIs(1));
  EXPECT_TRUE(d.sink.losses[0].unknown);
  EXPECT_EQ(d.sink.losses[0].cpu, 1u);
  EXPECT_EQ(d.counters.lost_unknown, 1u);
  EXPECT_EQ(d.counters.lost_events, 0u);
  EXPECT_THAT(d.sink.records, SizeIs(1));
}

TEST(SubbufDecoderTest, StoredCountThatDoesNotFitIsDataLoss) {
  std::vector<uint8_t> page = SubbufBuilder(kBase).MissedStored(9).Build();
  Put32(&page, 8, 4076 | (3u << 30));  // 4 bytes left: the count needs 8.
  Decoded d = DecodeWhole(page);
  EXPECT_EQ(d.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(d.status.message()),
              HasSubstr("lost count after 4076 bytes"));
  EXPECT_EQ(d.counters.decode_errors, 1u);
  EXPECT_THAT(d.sink.losses, SizeIs(0));
}

TEST(SubbufDecoderTest, StoredFlagWithoutMissedFlagIsDataLoss) {
  std::vector<uint8_t> page = SubbufBuilder(kBase).Build();
  Put32(&page, 8, 1u << 30);
  Decoded d = DecodeWhole(page);
  EXPECT_EQ(d.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(d.status.message()),
              HasSubstr("without RB_MISSED_EVENTS"));
}

// --- Captured pages against the kernel's own rendering ---------------------

// The `trace` file of the same capture, CPU by CPU, against the decoded
// records: same count, same times as the kernel prints them, same event, and
// for markers, sched_switch and sys_enter the same field values.
void CheckAgainstTraceText(absl::string_view scenario, bool check_events) {
  SCOPED_TRACE(scenario);
  SubbufCapture capture = MustLoad(scenario);
  ASSERT_FALSE(capture.trace_text.empty());
  absl::StatusOr<std::vector<TraceLine>> lines =
      ParseTraceText(capture.trace_text);
  ASSERT_TRUE(lines.ok()) << lines.status();
  std::map<uint32_t, std::vector<TraceLine>> by_cpu;
  for (TraceLine& line : *lines) by_cpu[line.cpu].push_back(line);

  const EventFormat print = MustFormat("ftrace", "print");
  const EventFormat sys_enter = MustFormat("raw_syscalls", "sys_enter");
  const EventFormat sys_exit = MustFormat("raw_syscalls", "sys_exit");
  const EventFormat sched_switch = MustFormat("sched", "sched_switch");
  const EventFormat sched_waking = MustFormat("sched", "sched_waking");
  std::map<int32_t, std::string> names = {
      {static_cast<int32_t>(print.id), "tracing_mark_write"},
      {static_cast<int32_t>(sys_enter.id), "sys_enter"},
      {static_cast<int32_t>(sys_exit.id), "sys_exit"},
      {static_cast<int32_t>(sched_switch.id), "sched_switch"},
      {static_cast<int32_t>(sched_waking.id), "sched_waking"},
  };

  size_t total = 0;
  for (const CpuSubbufs& cpu : capture.cpus) {
    SCOPED_TRACE(absl::StrCat("cpu ", cpu.cpu));
    DecodeCounters counters;
    RecordingSink sink = DecodeCpu(cpu, &counters);
    const std::vector<TraceLine>& expected = by_cpu[cpu.cpu];
    ASSERT_EQ(sink.records.size(), expected.size());
    total += expected.size();
    for (size_t i = 0; i < expected.size(); ++i) {
      SCOPED_TRACE(absl::StrCat("record ", i, ": ", expected[i].event, " ",
                                expected[i].body));
      const RecordedRecord& r = sink.records[i];
      absl::Span<const uint8_t> payload(
          reinterpret_cast<const uint8_t*>(r.payload.data()), r.payload.size());
      ASSERT_EQ(FormatTraceTimestamp(r.timestamp, capture.trace_clock),
                expected[i].timestamp);
      if (!check_events) continue;
      auto name = names.find(r.event_id);
      ASSERT_NE(name, names.end()) << "event id " << r.event_id;
      ASSERT_EQ(name->second, expected[i].event);
      int64_t pid = 0;
      ASSERT_TRUE(FieldInteger(payload, *print.FindField("common_pid"), &pid));
      EXPECT_THAT(expected[i].task,
                  ::testing::EndsWith(absl::StrCat("-", pid)));
      if (r.event_id == static_cast<int32_t>(print.id)) {
        absl::string_view text;
        ASSERT_TRUE(FieldString(payload, *print.FindField("buf"), &text));
        EXPECT_EQ(absl::StrCat(expected[i].body, "\n"), text);
      } else if (r.event_id == static_cast<int32_t>(sched_switch.id)) {
        int64_t prev = 0, next = 0;
        ASSERT_TRUE(
            FieldInteger(payload, *sched_switch.FindField("prev_pid"), &prev));
        ASSERT_TRUE(
            FieldInteger(payload, *sched_switch.FindField("next_pid"), &next));
        EXPECT_THAT(expected[i].body,
                    HasSubstr(absl::StrCat(" prev_pid=", prev, " ")));
        EXPECT_THAT(expected[i].body,
                    HasSubstr(absl::StrCat(" next_pid=", next, " ")));
      } else if (r.event_id == static_cast<int32_t>(sys_enter.id)) {
        int64_t id = 0;
        ASSERT_TRUE(FieldInteger(payload, *sys_enter.FindField("id"), &id));
        EXPECT_THAT(expected[i].body,
                    ::testing::StartsWith(absl::StrCat("NR ", id, " (")));
      }
    }
  }
  // Every line of the text belongs to a CPU whose pages were captured.
  EXPECT_EQ(total, lines->size());
}

TEST(SubbufDecoderFixtureTest, BasicMatchesTheKernelsTraceFile) {
  CheckAgainstTraceText("basic", /*check_events=*/true);
}

TEST(SubbufDecoderFixtureTest, TscMatchesTheKernelsTraceFileExactly) {
  CheckAgainstTraceText("tsc", /*check_events=*/true);
}

TEST(SubbufDecoderFixtureTest, OverrunMatchesTheKernelsTraceFile) {
  CheckAgainstTraceText("overrun", /*check_events=*/true);
}

TEST(SubbufDecoderFixtureTest, AbsoluteTimestampPagesMatchExactly) {
  SubbufCapture abs = MustLoad("abs");
  size_t with_abs = 0;
  for (const CpuSubbufs& cpu : abs.cpus) {
    for (const std::vector<uint8_t>& page : cpu.pages) {
      for (uint32_t off : RecordOffsets(page)) {
        if ((Get32(page, 16 + off) & 31) == 31) ++with_abs;
      }
    }
  }
  ASSERT_GT(with_abs, 0u) << "the abs capture holds no type-31 record";
  CheckAgainstTraceText("abs", /*check_events=*/false);
}

TEST(SubbufDecoderFixtureTest, CapturesHoldEveryRecordForm) {
  // What the tests above rely on the captures to contain.
  std::map<std::string, int> forms;
  for (absl::string_view name : {"basic", "tsc", "abs"}) {
    SubbufCapture c = MustLoad(name);
    for (absl::Span<const uint8_t> page : c.AllPages()) {
      for (uint32_t off : RecordOffsets(page)) {
        uint32_t type_len = Get32(page, 16 + off) & 31;
        forms[type_len == 0    ? "long"
              : type_len <= 28 ? "short"
              : type_len == 30 ? "extend"
              : type_len == 31 ? "absolute"
                               : "padding"]++;
      }
    }
  }
  EXPECT_GT(forms["short"], 0);
  EXPECT_GT(forms["long"], 0);
  EXPECT_GE(forms["extend"], 3);
  EXPECT_GT(forms["absolute"], 0);
}

TEST(SubbufDecoderFixtureTest, MarkerPayloadsDecodeExactly) {
  const EventFormat print = MustFormat("ftrace", "print");
  for (absl::string_view name : {"basic", "tsc"}) {
    SCOPED_TRACE(name);
    SubbufCapture c = MustLoad(name);
    std::map<uint32_t, std::vector<std::string>> markers = LoadMarkers(name);
    ASSERT_FALSE(markers.empty());
    for (const CpuSubbufs& cpu : c.cpus) {
      DecodeCounters counters;
      RecordingSink sink = DecodeCpu(cpu, &counters);
      std::vector<std::string> expected;
      for (const std::string& m : markers[cpu.cpu]) {
        expected.push_back(m + "\n");  // tracing_mark_write adds it.
      }
      EXPECT_EQ(MarkerTexts(sink.records, print), expected)
          << "cpu " << cpu.cpu;
    }
  }
}

// --- Mapped-ring snapshots: growth, padding, resume ------------------------

struct MmapCapture {
  std::vector<uint8_t> first, grown, full, next;
  uint32_t first_read = 0;
  uint32_t first_commit = 0;
  uint32_t grown_commit = 0;
};

MmapCapture LoadMmap() {
  MmapCapture m;
  SubbufCapture c = MustLoad("mmap");
  for (auto [file, out] : {std::make_pair("first.bin", &m.first),
                           std::make_pair("grown.bin", &m.grown),
                           std::make_pair("full.bin", &m.full),
                           std::make_pair("next.bin", &m.next)}) {
    absl::StatusOr<std::vector<uint8_t>> bytes = LoadSubbufFile("mmap", file);
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    if (bytes.ok()) *out = *std::move(bytes);
  }
  EXPECT_TRUE(absl::SimpleAtoi(c.info["first.reader_read"], &m.first_read));
  EXPECT_TRUE(absl::SimpleHexAtoi(c.info["first.commit"], &m.first_commit));
  EXPECT_TRUE(absl::SimpleHexAtoi(c.info["grown.commit"], &m.grown_commit));
  return m;
}

TEST(SubbufDecoderMmapTest, PageReadWhileItGrows) {
  MmapCapture m = LoadMmap();
  ASSERT_LT(m.first_commit, m.grown_commit);
  // The writer only appended: the first snapshot is a prefix of the second.
  ASSERT_TRUE(std::equal(m.first.begin() + 16,
                         m.first.begin() + 16 + m.first_commit,
                         m.grown.begin() + 16));
  Decoded whole = DecodeWhole(m.grown);
  ASSERT_TRUE(whole.status.ok()) << whole.status;

  // Decode the first snapshot's extent, then the rest, on the grown page.
  SubbufDecoder decoder;
  RecordingSink sink;
  DecodeCounters counters;
  decoder.Start(0, m.grown, kFormat, MustParse(m.grown), &sink, &counters);
  ASSERT_TRUE(decoder.Decode(m.first_commit, &sink, &counters).ok());
  const size_t first_part = sink.records.size();
  EXPECT_EQ(first_part, DecodeWhole(m.first).sink.records.size());
  ASSERT_TRUE(decoder.Decode(m.grown_commit, &sink, &counters).ok());
  EXPECT_GT(sink.records.size(), first_part);
  EXPECT_EQ(sink.records, whole.sink.records);  // Once each, same times.
  EXPECT_EQ(counters.events, whole.counters.events);
  EXPECT_EQ(counters.subbufs, 1u);
}

TEST(SubbufDecoderMmapTest, DecodingAtEveryRecordBoundaryMatchesOneDecode) {
  SubbufCapture basic = MustLoad("basic");
  MmapCapture m = LoadMmap();
  std::vector<absl::Span<const uint8_t>> pages = basic.AllPages();
  pages.push_back(m.full);
  for (absl::Span<const uint8_t> page : pages) {
    Decoded whole = DecodeWhole(page);
    ASSERT_TRUE(whole.status.ok());
    SubbufHeader h = MustParse(page);
    SubbufDecoder decoder;
    RecordingSink sink;
    DecodeCounters counters;
    decoder.Start(0, page, kFormat, h, &sink, &counters);
    for (uint32_t off : RecordOffsets(page)) {
      ASSERT_TRUE(decoder.Decode(off, &sink, &counters).ok());
      ASSERT_EQ(decoder.offset(), off);
    }
    ASSERT_TRUE(decoder.Decode(h.data_size, &sink, &counters).ok());
    EXPECT_EQ(sink.records, whole.sink.records);
    EXPECT_EQ(counters.padding, whole.counters.padding);
  }
}

TEST(SubbufDecoderMmapTest, FullPageEndsWithTheWritersPadding) {
  MmapCapture m = LoadMmap();
  std::map<uint32_t, std::vector<std::string>> markers = LoadMarkers("mmap");
  const EventFormat print = MustFormat("ftrace", "print");
  Decoded full = DecodeWhole(m.full);
  ASSERT_TRUE(full.status.ok()) << full.status;
  EXPECT_EQ(MustParse(m.full).data_size, 4080u);
  EXPECT_EQ(full.counters.padding, 1u);
  std::vector<uint32_t> offsets = RecordOffsets(m.full);
  EXPECT_EQ(Get32(m.full, 16 + offsets.back()) & 31, 29u);
  // The full page and the next one hold every marker, in order, once.
  Decoded next = DecodeWhole(m.next);
  ASSERT_TRUE(next.status.ok()) << next.status;
  std::vector<std::string> texts = MarkerTexts(full.sink.records, print);
  for (const std::string& t : MarkerTexts(next.sink.records, print)) {
    texts.push_back(t);
  }
  std::vector<std::string> expected;
  for (const std::string& s : markers[0]) expected.push_back(s + "\n");
  EXPECT_EQ(texts, expected);
  EXPECT_LT(full.sink.records.back().timestamp,
            next.sink.records.front().timestamp);
}

TEST(SubbufDecoderMmapTest, ResumeViaSkipToTheKernelsReadOffset) {
  MmapCapture m = LoadMmap();
  SubbufCapture c = MustLoad("mmap");
  absl::StatusOr<std::vector<TraceLine>> lines = ParseTraceText(c.trace_text);
  ASSERT_TRUE(lines.ok()) << lines.status();
  ASSERT_THAT(*lines, SizeIs(6));
  ASSERT_GT(m.first_read, 0u);

  Decoded whole = DecodeWhole(m.first);
  ASSERT_THAT(whole.sink.records, SizeIs(6));

  SubbufDecoder decoder;
  RecordingSink sink;
  DecodeCounters counters;
  decoder.Start(0, m.first, kFormat, MustParse(m.first), &sink, &counters);
  ASSERT_TRUE(decoder.Skip(m.first_read, &counters).ok());
  EXPECT_EQ(decoder.offset(), m.first_read);
  ASSERT_TRUE(decoder.Decode(m.first_commit, &sink, &counters).ok());
  // Two markers were consumed through trace_pipe before the mapping.
  ASSERT_THAT(sink.records, SizeIs(4));
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(sink.records[i], whole.sink.records[i + 2]);
    EXPECT_EQ(FormatTraceTimestamp(sink.records[i].timestamp, "x86-tsc"),
              (*lines)[i + 2].timestamp);
  }
  EXPECT_EQ(counters.events, 4u);  // Skipped records are not delivered.
}

TEST(SubbufDecoderMmapTest, SkipRejectsAnOffsetInsideARecord) {
  MmapCapture m = LoadMmap();
  SubbufDecoder decoder;
  RecordingSink sink;
  DecodeCounters counters;
  decoder.Start(0, m.first, kFormat, MustParse(m.first), &sink, &counters);
  const std::vector<uint32_t> offsets = RecordOffsets(m.first);
  for (uint32_t bad = 1; bad < m.first_commit; ++bad) {
    if (std::find(offsets.begin(), offsets.end(), bad) != offsets.end()) {
      continue;
    }
    absl::Status s = decoder.Skip(bad);
    ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    ASSERT_THAT(std::string(s.message()), HasSubstr("not a record boundary"))
        << bad;
    ASSERT_EQ(decoder.offset(), 0u);  // Left as it was.
  }
  EXPECT_FALSE(decoder.failed());
  EXPECT_EQ(counters.decode_errors, 0u);
  // Beyond the data area, and backwards.
  EXPECT_EQ(decoder.Skip(4081).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(decoder.Skip(offsets[2]).ok());
  absl::Status back = decoder.Skip(offsets[1]);
  EXPECT_EQ(back.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(back.message()), HasSubstr("before the"));
}

TEST(SubbufDecoderTest, SkipOverACorruptRecordIsDataLoss) {
  std::vector<uint8_t> page = SubbufBuilder(kBase)
                                  .Data(0, SubbufBuilder::Payload(1, "a"))
                                  .Raw32(0)  // Long form...
                                  .Raw32(2)  // ...with a length below 4.
                                  .Data(0, SubbufBuilder::Payload(1, "b"))
                                  .Build();
  SubbufDecoder decoder;
  RecordingSink sink;
  DecodeCounters counters;
  decoder.Start(0, page, kFormat, MustParse(page), &sink, &counters);
  absl::Status s = decoder.Skip(MustParse(page).data_size, &counters);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("data offset 16 "));
  EXPECT_EQ(counters.decode_errors, 1u);
  EXPECT_TRUE(decoder.failed());
  EXPECT_TRUE(decoder.Decode(MustParse(page).data_size, &sink, &counters).ok());
  EXPECT_THAT(sink.records, SizeIs(0));
}

// --- Damage ----------------------------------------------------------------

TEST(SubbufDecoderDamageTest, TruncatedPages) {
  SubbufCapture basic = MustLoad("basic");
  SubbufCapture overrun = MustLoad("overrun");
  std::vector<absl::Span<const uint8_t>> pages = {basic.cpus[0].pages[1],
                                                  basic.cpus[0].pages[10],
                                                  overrun.cpus[0].pages[0]};
  for (absl::Span<const uint8_t> full : pages) {
    SubbufHeader h = MustParse(full);
    const size_t needed = 16 + h.data_size + (h.missed_stored ? 8 : 0);
    Decoded whole = DecodeWhole(full);
    for (size_t len = 0; len <= full.size(); ++len) {
      std::vector<uint8_t> cut = Copy(full.first(len));
      Decoded d = DecodeWhole(cut);
      if (len < needed) {
        ASSERT_EQ(d.status.code(), absl::StatusCode::kDataLoss) << len;
        ASSERT_EQ(d.counters.decode_errors, 1u) << len;
        ASSERT_THAT(d.sink.records, SizeIs(0)) << len;
      } else {
        ASSERT_TRUE(d.status.ok()) << len << ": " << d.status;
        ASSERT_EQ(d.sink.records, whole.sink.records) << len;
      }
    }
  }
}

TEST(SubbufDecoderDamageTest, DataEndInsideARecordIsDataLoss) {
  SubbufCapture basic = MustLoad("basic");
  const std::vector<uint8_t>& page = basic.cpus[0].pages[1];
  SubbufHeader h = MustParse(page);
  std::vector<uint32_t> offsets = RecordOffsets(page);
  for (uint32_t end = 0; end <= h.data_size; ++end) {
    SubbufDecoder decoder;
    RecordingSink sink;
    DecodeCounters counters;
    decoder.Start(0, page, kFormat, h, &sink, &counters);
    absl::Status s = decoder.Decode(end, &sink, &counters);
    const bool boundary =
        end == h.data_size ||
        std::find(offsets.begin(), offsets.end(), end) != offsets.end();
    if (boundary) {
      ASSERT_TRUE(s.ok()) << end << ": " << s;
    } else {
      ASSERT_EQ(s.code(), absl::StatusCode::kDataLoss) << end;
      ASSERT_EQ(counters.decode_errors, 1u);
      ASSERT_THAT(std::string(s.message()),
                  HasSubstr(absl::StrCat("data ends at ", end)));
      ASSERT_TRUE(decoder.failed());
    }
  }
}

TEST(SubbufDecoderDamageTest, DataEndOutsideTheDataAreaIsDataLoss) {
  std::vector<uint8_t> page =
      SubbufBuilder(kBase).Data(0, SubbufBuilder::Payload(1, "a")).Build();
  SubbufHeader h = MustParse(page);
  SubbufDecoder decoder;
  RecordingSink sink;
  DecodeCounters counters;
  decoder.Start(0, page, kFormat, h, &sink, &counters);
  absl::Status s = decoder.Decode(4081, &sink, &counters);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("beyond its 4080-byte data area"));
  EXPECT_EQ(counters.decode_errors, 1u);

  decoder.Start(0, page, kFormat, h, &sink, &counters);
  ASSERT_TRUE(decoder.Decode(h.data_size, &sink, &counters).ok());
  s = decoder.Decode(h.data_size - 4, &sink, &counters);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("shrank"));
  EXPECT_EQ(counters.decode_errors, 2u);
  EXPECT_EQ(counters.subbufs, 2u);
}

// Damages the record at every offset of captured pages in the ways a length
// can be wrong; each must stop at exactly that record with DataLoss naming
// it, after delivering the records before it unchanged.
TEST(SubbufDecoderDamageTest, CorruptedLengthsAtEveryRecord) {
  SubbufCapture basic = MustLoad("basic");
  MmapCapture m = LoadMmap();
  std::vector<absl::Span<const uint8_t>> pages = {
      basic.cpus[0].pages[0], basic.cpus[0].pages[1], m.full};
  struct Damage {
    const char* name;
    uint32_t header;  // type_len | delta << 5
    uint32_t array0;
    const char* reason;
  };
  const Damage damages[] = {
      {"long overrun", 0, 0x7ffffff0, "overruns the end"},
      {"long below 4", 0, 3, "below 4"},
      {"long unaligned", 0, 4 + 18, "not a multiple of 4"},
      {"discard overrun", 29 | (1 << 5), 0x10000, "overruns the end"},
      {"discard unaligned", 29 | (1 << 5), 13, "not a multiple of 4"},
      {"discard below 4", 29 | (1 << 5), 0, "below 4"},
  };
  for (absl::Span<const uint8_t> original : pages) {
    Decoded whole = DecodeWhole(original);
    ASSERT_TRUE(whole.status.ok());
    std::vector<uint32_t> offsets = RecordOffsets(original);
    size_t data_records_before = 0;
    for (uint32_t off : offsets) {
      for (const Damage& damage : damages) {
        SCOPED_TRACE(absl::StrCat(damage.name, " at ", off));
        std::vector<uint8_t> page = Copy(original);
        Put32(&page, 16 + off, damage.header);
        if (16 + off + 8 <= page.size())
          Put32(&page, 16 + off + 4, damage.array0);
        Decoded d = DecodeWhole(page);
        ASSERT_EQ(d.status.code(), absl::StatusCode::kDataLoss);
        ASSERT_THAT(std::string(d.status.message()),
                    HasSubstr(absl::StrCat("data offset ", off, " ")));
        ASSERT_THAT(std::string(d.status.message()), HasSubstr(damage.reason));
        ASSERT_EQ(d.counters.decode_errors, 1u);
        ASSERT_EQ(d.sink.records.size(), data_records_before);
        for (size_t i = 0; i < data_records_before; ++i) {
          ASSERT_EQ(d.sink.records[i], whole.sink.records[i]);
        }
      }
      const uint32_t type_len = Get32(original, 16 + off) & 31;
      if (type_len <= 28) ++data_records_before;
    }
  }
}

// Any 32-bit value at any 4-byte offset of a captured page: never a crash or
// an out-of-bounds read (ASan), every payload inside the page, counters that
// agree with what was delivered, and an error names an offset.
TEST(SubbufDecoderDamageTest, AnyWordAtAnyOffsetIsSafe) {
  SubbufCapture basic = MustLoad("basic");
  const std::vector<uint8_t>& original = basic.cpus[0].pages[1];
  const uint32_t values[] = {0,          0xffffffff, 0x1d, 0x1e,
                             0x1f,       0x1c,       0x3d, 0x80000000,
                             0x0000ffff, 4,          5,    0x00001000};
  for (size_t off = 0; off < original.size(); off += 4) {
    for (uint32_t v : values) {
      std::vector<uint8_t> page = Copy(original);
      Put32(&page, off, v);
      Decoded d = DecodeWhole(page);
      ASSERT_EQ(d.counters.events, d.sink.records.size());
      if (!d.status.ok()) {
        ASSERT_EQ(d.status.code(), absl::StatusCode::kDataLoss)
            << off << " " << v << ": " << d.status;
        ASSERT_EQ(d.counters.decode_errors, 1u);
      }
    }
  }
}

}  // namespace
}  // namespace ringwatch
