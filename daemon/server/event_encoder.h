// Turns one raw record into the API's TraceEvent (for StreamEvents).
#ifndef RINGWATCH_DAEMON_SERVER_EVENT_ENCODER_H_
#define RINGWATCH_DAEMON_SERVER_EVENT_ENCODER_H_

#include <string>

#include "absl/strings/string_view.h"
#include "daemon/event/event_format.h"
#include "daemon/ring/record.h"
#include "proto/ringwatch/v1/ringwatch.pb.h"

namespace ringwatch {

// Fills `out` from `record`. Fields that lie outside the payload (a
// truncated or corrupt record) are left out and counted in the return
// value; never reads out of bounds.
int EncodeTraceEvent(const RecordView& record, const EventFormat& format,
                     v1::TraceEvent* out);

// `bytes` as valid UTF-8 (proto3 strings must be): invalid bytes become
// "\xNN".
std::string SanitizeUtf8(absl::string_view bytes);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SERVER_EVENT_ENCODER_H_
