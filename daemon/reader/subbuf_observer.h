// Receives the raw bytes of every sub-buffer a CpuRing consumes, as the
// kernel wrote them, for the flight recorder (daemon/recorder). The ring
// reports exactly the bytes its decoder delivered, so a recorded page holds
// each event the aggregations saw, once.
//
// A mapped sub-buffer is handed back to the kernel (and may be rewritten)
// as soon as GET_READER takes the next one, so its bytes are reported while
// the reader still owns it: the header when the reader takes the
// sub-buffer, then each stretch of records as it is decoded (a sub-buffer
// the writer is still filling is decoded in several steps), then the end.
// Every call comes from the ring's owner thread.
#ifndef RINGWATCH_DAEMON_READER_SUBBUF_OBSERVER_H_
#define RINGWATCH_DAEMON_READER_SUBBUF_OBSERVER_H_

#include <cstdint>

#include "absl/types/span.h"

namespace ringwatch {

class SubbufObserver {
 public:
  virtual ~SubbufObserver() = default;

  // A new sub-buffer of `cpu`. `header` is its header as the kernel wrote
  // it (HeaderPageFormat::data_offset bytes: timestamp, then the commit
  // word with the kernel's missed-events flags). `lost_events` is the loss
  // count the kernel reported for the gap before it (0 when none or
  // unknown). An open sub-buffer of the CPU ends first.
  virtual void BeginSubbuf(uint32_t cpu, absl::Span<const uint8_t> header,
                           uint64_t lost_events) = 0;

  // The next stretch of the open sub-buffer's data (the bytes after the
  // header), whole records only, in order. `last_timestamp` is the
  // timestamp of the stretch's last record (trace clock).
  virtual void AppendData(uint32_t cpu, absl::Span<const uint8_t> data,
                          uint64_t last_timestamp) = 0;

  // The open sub-buffer of `cpu` is complete: the kernel handed over the
  // next one. No-op when none is open. A ring being destroyed does not
  // call it (the observer may be gone by then); the open sub-buffer stays
  // readable as such, and the next BeginSubbuf closes it.
  virtual void EndSubbuf(uint32_t cpu) = 0;
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_READER_SUBBUF_OBSERVER_H_
