// Fuzz target for the sub-buffer decoder: any bytes as a sub-buffer, with any
// data_end and resume offsets, must decode or fail with a status, never
// crash or read outside the sub-buffer, and agree with itself: decoding in
// two steps, or after a Skip, delivers what one decode delivers.
//
// Input: u32 split, u32 resume, u8 flags (bit 0: 32-bit header layout), then
// the sub-buffer bytes.
//
// subbuf_decoder_fuzzer_test runs it over the captured fixtures, a grid of
// offsets and seeded mutations under g++ (and --config=asan), and replays
// the committed corpus tests/data/fuzz/subbuf_decoder. `tools/fuzz.sh run
// subbuf_decoder` fuzzes it for real with libFuzzer, ASan and UBSan,
// seeded with the captured pages (docs/fuzzing.md).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "daemon/event/header_page.h"
#include "daemon/ring/record.h"
#include "daemon/ring/subbuf_decoder.h"

namespace ringwatch {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "subbuf_decoder_fuzzer: invariant failed: %s\n", what);
    std::abort();
  }
}

struct Seen {
  uint64_t timestamp;
  size_t offset;  // Of the payload in the sub-buffer.
  size_t size;
  bool operator==(const Seen& o) const {
    return timestamp == o.timestamp && offset == o.offset && size == o.size;
  }
};

// Checks every payload lies inside the sub-buffer and remembers where.
class CheckingSink : public RecordSink {
 public:
  explicit CheckingSink(const std::vector<uint8_t>& subbuf)
      : begin_(subbuf.data()), end_(subbuf.data() + subbuf.size()) {}

  void OnRecord(const RecordView& record) override {
    const uint8_t* p = record.payload.data();
    Check(p >= begin_ && p <= end_ &&
              record.payload.size() <= static_cast<size_t>(end_ - p),
          "payload inside the sub-buffer");
    // Touch every byte so ASan sees the whole payload.
    uint8_t x = 0;
    for (uint8_t b : record.payload) x ^= b;
    sum_ += x;
    (void)record.event_id();
    seen.push_back(Seen{record.timestamp, static_cast<size_t>(p - begin_),
                        record.payload.size()});
  }
  void OnLoss(const LossReport& loss) override { ++losses; }

  std::vector<Seen> seen;
  int losses = 0;

 private:
  const uint8_t* begin_;
  const uint8_t* end_;
  uint64_t sum_ = 0;
};

bool IsDecodeError(const absl::Status& s) {
  return s.code() == absl::StatusCode::kDataLoss ||
         s.code() == absl::StatusCode::kInvalidArgument;
}

}  // namespace
}  // namespace ringwatch

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringwatch;  // NOLINT: a C entry point.
  if (size < 9) return 0;
  uint32_t split, resume;
  std::memcpy(&split, data, 4);
  std::memcpy(&resume, data + 4, 4);
  const uint8_t flags = data[8];
  // An exact copy: ASan flags any read past its end.
  const std::vector<uint8_t> subbuf(data + 9, data + size);
  HeaderPageFormat format = HeaderPageFormat::Default64();
  if (flags & 1) {
    format.commit_size = 4;
    format.data_offset = 12;
  }

  // One decode of the whole sub-buffer.
  CheckingSink whole(subbuf);
  DecodeCounters wc;
  const absl::Status ws = DecodeSubbuf(0, subbuf, format, &whole, &wc);
  Check(wc.events == whole.seen.size(), "events counted as delivered");
  Check(ws.ok() || (IsDecodeError(ws) && wc.decode_errors == 1),
        "one counted decode error");
  for (size_t i = 1; i < whole.seen.size(); ++i) {
    Check(whole.seen[i].offset > whole.seen[i - 1].offset,
          "records in page order");
  }

  SubbufHeader header;
  if (!ParseSubbufHeader(subbuf, format, &header).ok()) return 0;
  Check(whole.losses == (header.missed_events ? 1 : 0), "loss reported once");

  // Two steps, split anywhere: when both succeed, the same records.
  {
    CheckingSink sink(subbuf);
    DecodeCounters c;
    SubbufDecoder decoder;
    decoder.Start(0, subbuf, format, header, &sink, &c);
    const uint32_t mid = split % (header.data_size + 1);
    const absl::Status s1 = decoder.Decode(mid, &sink, &c);
    const absl::Status s2 = decoder.Decode(header.data_size, &sink, &c);
    Check(c.decode_errors <= 1, "at most one error per sub-buffer");
    if (s1.ok() && ws.ok()) {
      // `mid` was a record boundary: the rest decodes as in one go.
      Check(s2.ok(), "second step succeeds");
      Check(sink.seen == whole.seen, "two steps deliver what one does");
    }
    if (s1.ok() && s2.ok()) Check(ws.ok(), "one decode succeeds too");
  }

  // Skip to any offset: on success, the rest are the whole decode's tail.
  {
    CheckingSink sink(subbuf);
    DecodeCounters c;
    SubbufDecoder decoder;
    decoder.Start(0, subbuf, format, header, &sink, &c);
    const uint32_t to = resume % (header.data_size + 2);
    const absl::Status ss = decoder.Skip(to, &c);
    Check(ss.ok() || IsDecodeError(ss), "skip fails with a status");
    if (!ss.ok() && ss.code() == absl::StatusCode::kInvalidArgument) {
      Check(decoder.offset() == 0, "a rejected skip leaves the decoder");
    }
    if (ss.ok()) {
      Check(decoder.offset() == to, "skip lands on the offset");
      const absl::Status rs = decoder.Decode(header.data_size, &sink, &c);
      if (ws.ok()) {
        Check(rs.ok(), "the rest decodes");
        Check(sink.seen.size() <= whole.seen.size(), "no extra records");
        const size_t skipped = whole.seen.size() - sink.seen.size();
        for (size_t i = 0; i < sink.seen.size(); ++i) {
          Check(sink.seen[i] == whole.seen[skipped + i],
                "resumed records keep their times");
        }
      }
    }
  }

  // Any data_end, in range or not.
  {
    CheckingSink sink(subbuf);
    DecodeCounters c;
    SubbufDecoder decoder;
    decoder.Start(0, subbuf, format, header, &sink, &c);
    const absl::Status s = decoder.Decode(split, &sink, &c);
    Check(s.ok() || IsDecodeError(s), "any data_end gives a status");
    Check(c.events == sink.seen.size(), "events counted");
  }
  return 0;
}
