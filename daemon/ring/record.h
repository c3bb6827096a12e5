// One decoded ring-buffer event, viewed in place.
#ifndef RINGWATCH_DAEMON_RING_RECORD_H_
#define RINGWATCH_DAEMON_RING_RECORD_H_

#include <cstdint>
#include <cstring>

#include "absl/types/span.h"

namespace ringwatch {

// A view of one data record. `payload` points into the sub-buffer it was
// decoded from (the mapping, a read() buffer or a trace.dat section) and is
// valid only until the reader moves on from that sub-buffer: copy what must
// outlive the callback.
struct RecordView {
  uint32_t cpu = 0;
  uint64_t timestamp = 0;  // Absolute, in the instance's trace_clock units.
  // Starts at common_type; its length is the record's data length (which the
  // kernel rounds up to 4 bytes).
  absl::Span<const uint8_t> payload;

  // The event id (common_type), or -1 when the payload is too short for one.
  int32_t event_id() const {
    if (payload.size() < 2) return -1;
    uint16_t id;
    std::memcpy(&id, payload.data(), sizeof(id));
    return id;
  }
};

// Loss the kernel reported for one CPU: events overwritten or dropped before
// the reader got to them.
struct LossReport {
  uint32_t cpu = 0;
  uint64_t timestamp = 0;  // Of the sub-buffer that carried the report.
  // Number of events lost, when the kernel stored one; 0 with `unknown`.
  uint64_t count = 0;
  bool unknown = false;  // The kernel flagged loss but stored no count.
};

// Receives decoded records. Called on the thread that decodes the CPU's ring:
// implementations must not block and must not keep `record.payload`.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual void OnRecord(const RecordView& record) = 0;
  virtual void OnLoss(const LossReport& loss) {}
  // Live readers: the ring was found empty by a read that started when
  // CLOCK_MONOTONIC read `monotonic_ns`, so every record written before then
  // has been delivered. Lets windows of a quiet CPU close without waiting
  // for a grace period.
  virtual void OnDrained(int64_t monotonic_ns) {}
  // Backpressure: whether the sink can take `records` more records now
  // without dropping any for lack of room. A live reader asks before each
  // sub-buffer (with the most records one can hold); on false it leaves the
  // data in the kernel's ring and asks again a little later.
  virtual bool HasRoomFor(uint32_t records) { return true; }
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_RING_RECORD_H_
