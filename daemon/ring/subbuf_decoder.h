// Walks the records of one ring-buffer sub-buffer (kernel/trace/ring_buffer.c
// layout): data records in short and long length forms, padding and
// discarded events, time extends and absolute timestamps.
//
// Layout, as the kernel writes it (little-endian words, read with memcpy):
//   sub-buffer: u64 timestamp; local_t commit; records...
//     commit bit 31 RB_MISSED_EVENTS, bit 30 RB_MISSED_STORED, bits 0..29
//     the data size. On 64-bit kernels the flags are added to the 8-byte
//     commit as a negative int, so its upper half reads 0xffffffff when
//     RB_MISSED_EVENTS is set: only the low 32 bits are meaningful. With
//     RB_MISSED_STORED the lost count (an unsigned long, commit-sized)
//     follows the data.
//   record: u32 header = type_len (5 low bits) | time_delta (27 bits) << 5
//     1..28  data of type_len * 4 bytes follows the header
//     0      array[0] = 4 + data length; data follows array[0]
//     29     time_delta 0: the rest of the sub-buffer is empty;
//            otherwise a discarded event of 4 + array[0] bytes
//     30     time extend: delta = array[0] << 27 | time_delta (8 bytes)
//     31     absolute time: low 59 bits = array[0] << 27 | time_delta; the
//            top 5 come from the running time (the kernel's rb_fix_abs_ts)
//   A data record's time is the running time plus its time_delta. Padding
//   and discarded events do not move the running time: the kernel's readers
//   (rb_update_read_stamp, rb_update_iter_read_stamp, hence the `trace`
//   file) ignore their time_delta, which the writer forces to at least 1.
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
  uint64_t events = 0;         // Data records delivered.
  uint64_t bytes = 0;          // Payload bytes delivered.
  uint64_t subbufs = 0;        // Sub-buffers started.
  uint64_t padding = 0;        // Discarded-event and padding records.
  uint64_t lost_events = 0;    // Sum of counts the kernel stored.
  uint64_t lost_unknown = 0;   // Loss flagged without a count.
  uint64_t decode_errors = 0;  // Corrupt or truncated sub-buffers.
};

// The parsed header of a sub-buffer.
struct SubbufHeader {
  uint64_t timestamp = 0;      // Base time of the first record.
  uint32_t data_size = 0;      // Bytes of records after the header (commit).
  bool missed_events = false;  // RB_MISSED_EVENTS: loss before this page.
  bool missed_stored = false;  // RB_MISSED_STORED: count after the data.
  uint64_t missed_count = 0;   // Valid when missed_stored.
};

// Parses and validates the header of `subbuf` (the whole sub-buffer, header
// included). Errors say which value is out of range: InvalidArgument for a
// `format` that cannot describe a sub-buffer, DataLoss for a sub-buffer
// shorter than its header, a data size beyond the sub-buffer, a stored lost
// count that does not fit, or RB_MISSED_STORED without RB_MISSED_EVENTS.
// Counts nothing (DecodeSubbuf does).
absl::Status ParseSubbufHeader(absl::Span<const uint8_t> subbuf,
                               const HeaderPageFormat& format,
                               SubbufHeader* header);

// Incremental decoder for one sub-buffer. A sub-buffer the writer is still
// filling grows: call Decode again with the same bytes and a larger
// `data_end`, and it resumes after the last record it delivered, keeping the
// running timestamp, so no record is delivered twice or skipped. On such a
// live page the caller reads the commit word with an acquire load (it pairs
// with the smp_wmb() before the kernel's commit update in
// rb_set_commit_to_write) and passes its data size as `data_end`; the records
// below it are then complete. ParseSubbufHeader's plain loads are for pages
// nobody writes any more.
//
// Per record: no heap allocation, no lock, one virtual call (the sink).
class SubbufDecoder {
 public:
  // Starts a new sub-buffer: `subbuf` is the whole sub-buffer including its
  // header; `header` was parsed from it. Reports loss from the header to
  // `sink` once and counts it (lost_events += the stored count, or
  // lost_unknown += 1 when the kernel flagged loss without a count).
  // `subbuf` must outlive the decoding of this sub-buffer.
  void Start(uint32_t cpu, absl::Span<const uint8_t> subbuf,
             const HeaderPageFormat& format, const SubbufHeader& header,
             RecordSink* sink, DecodeCounters* counters);

  // Delivers every complete record in [current offset, data_end), where
  // data_end is an offset into the data area (<= its size). On a corrupt
  // record (a length that overruns data_end, a long-form or discarded-event
  // length that does not cover its own length word or is not a multiple of
  // 4, a header cut by data_end) or a data_end beyond the data area or
  // before the current offset, it stops, counts a decode error and returns
  // DataLoss naming the CPU, the offset and the reason; the rest of this
  // sub-buffer is skipped: later calls deliver nothing and return OK (the
  // error was reported once). Padding with time_delta 0 ends the sub-buffer
  // the same way, without an error. `sink` and `counters` are never null.
  absl::Status Decode(uint32_t data_end, RecordSink* sink,
                      DecodeCounters* counters);

  // Walks records up to `resume_offset` (an offset into the data area the
  // kernel reports as already read: the mapped ring's meta-page reader.read
  // when the sub-buffer was partly consumed before it was mapped) without
  // delivering them, to rebuild the running time. `resume_offset` must be a
  // record boundary at or after the current offset: otherwise
  // InvalidArgument names the record it falls into, and the decoder is left
  // as it was. A corrupt record on the way is DataLoss, counted in
  // `counters` when given, and fails the sub-buffer as in Decode.
  absl::Status Skip(uint32_t resume_offset, DecodeCounters* counters = nullptr);

  uint32_t offset() const { return offset_; }
  uint64_t timestamp() const { return timestamp_; }
  // True after a corrupt record: nothing more is delivered until Start.
  bool failed() const { return failed_; }

 private:
  // Records the error, counts it and stops the sub-buffer.
  absl::Status Fail(absl::Status status, DecodeCounters* counters);

  uint32_t cpu_ = 0;
  absl::Span<const uint8_t> data_;  // The data area of the sub-buffer.
  uint32_t data_offset_ = 0;        // Of data_ in the sub-buffer (errors).
  uint32_t offset_ = 0;             // Next record, relative to data_.
  uint64_t timestamp_ = 0;          // Running absolute time.
  bool failed_ = false;             // After a corrupt record: deliver no more.
  bool ended_ = false;              // After end-of-page padding.
};

// Decodes a whole, complete sub-buffer (trace.dat sections, read() pages):
// parses its header (an error there counts a decode error), reports its loss
// and delivers its records up to the data size.
absl::Status DecodeSubbuf(uint32_t cpu, absl::Span<const uint8_t> subbuf,
                          const HeaderPageFormat& format, RecordSink* sink,
                          DecodeCounters* counters);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_RING_SUBBUF_DECODER_H_
