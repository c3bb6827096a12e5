// Walks the records of one ring-buffer sub-buffer (kernel/trace/ring_buffer.c
// layout): data records in short and long length forms, padding and
// discarded events, time extends and absolute timestamps.
#ifndef RINGWATCH_DAEMON_RING_SUBBUF_DECODER_H_
#define RINGWATCH_DAEMON_RING_SUBBUF_DECODER_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "daemon/event/header_page.h"
#include "daemon/ring/record.h"

namespace ringwatch {

// Counters kept per CPU by whoever decodes its sub-buffers. Plain integers:
// each is written by one thread only; readers on other threads take
// snapshots through the owner (see CpuReader).
struct DecodeCounters {
  uint64_t events = 0;          // Data records delivered.
  uint64_t bytes = 0;           // Payload bytes delivered.
  uint64_t subbufs = 0;         // Sub-buffers started.
  uint64_t padding = 0;         // Discarded-event and padding records.
  uint64_t lost_events = 0;     // Sum of counts the kernel stored.
  uint64_t lost_unknown = 0;    // Loss flagged without a count.
  uint64_t decode_errors = 0;   // Corrupt or truncated sub-buffers.
};

// The parsed header of a sub-buffer.
struct SubbufHeader {
  uint64_t timestamp = 0;  // Base time of the first record.
  uint32_t data_size = 0;  // Bytes of records after the header (commit).
  bool missed_events = false;  // RB_MISSED_EVENTS: loss before this page.
  bool missed_stored = false;  // RB_MISSED_STORED: count after the data.
  uint64_t missed_count = 0;   // Valid when missed_stored.
};

// Parses and validates the header of `subbuf` (the whole sub-buffer, header
// included). Errors say which value is out of range.
absl::Status ParseSubbufHeader(absl::Span<const uint8_t> subbuf,
                               const HeaderPageFormat& format,
                               SubbufHeader* header);

// Incremental decoder for one sub-buffer. A sub-buffer the writer is still
// filling grows: call Decode again with the same bytes and a larger
// `data_end`, and it resumes after the last record it delivered, keeping the
// running timestamp, so no record is delivered twice or skipped.
class SubbufDecoder {
 public:
  // Starts a new sub-buffer: `subbuf` is the whole sub-buffer including its
  // header; `header` was parsed from it. Reports loss from the header to
  // `sink` once and counts it.
  void Start(uint32_t cpu, absl::Span<const uint8_t> subbuf,
             const HeaderPageFormat& format, const SubbufHeader& header,
             RecordSink* sink, DecodeCounters* counters);

  // Delivers every complete record in [current offset, data_end), where
  // data_end is an offset into the data area (<= its size). On a corrupt
  // record it stops, counts a decode error and returns DataLoss naming the
  // offset and the reason; the rest of this sub-buffer is skipped.
  absl::Status Decode(uint32_t data_end, RecordSink* sink,
                      DecodeCounters* counters);

  // Walks records up to `resume_offset` (an offset into the data area the
  // kernel reports as already read) without delivering them, to rebuild the
  // running time.
  absl::Status Skip(uint32_t resume_offset);

  uint32_t offset() const { return offset_; }
  uint64_t timestamp() const { return timestamp_; }

 private:
  uint32_t cpu_ = 0;
  absl::Span<const uint8_t> data_;  // The data area of the sub-buffer.
  uint32_t offset_ = 0;             // Next record, relative to data_.
  uint64_t timestamp_ = 0;          // Running absolute time.
  bool failed_ = false;             // After a corrupt record: deliver no more.
};

// Decodes a whole, complete sub-buffer (trace.dat sections, read() pages).
absl::Status DecodeSubbuf(uint32_t cpu, absl::Span<const uint8_t> subbuf,
                          const HeaderPageFormat& format, RecordSink* sink,
                          DecodeCounters* counters);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_RING_SUBBUF_DECODER_H_
