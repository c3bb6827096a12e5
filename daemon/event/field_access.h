// Bounds-checked reads of one field from a record payload. Used where the
// field is chosen at run time (ringcat, compiled aggregation programs); every
// read checks the payload end, so a corrupt record yields false, not a crash.
#ifndef RINGWATCH_DAEMON_EVENT_FIELD_ACCESS_H_
#define RINGWATCH_DAEMON_EVENT_FIELD_ACCESS_H_

#include <cstdint>
#include <cstring>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "daemon/event/event_format.h"

namespace ringwatch {

// Loads `size` (1, 2, 4 or 8) bytes at `offset` as an integer, sign-extended
// when `is_signed`. False when out of bounds or the size is not an integer's.
bool LoadInteger(absl::Span<const uint8_t> payload, uint32_t offset,
                 uint32_t size, bool is_signed, int64_t* out);

// The bytes of any field kind (scalar, fixed array, dynamic, flex array).
// False when the field (or a dynamic field's target) is out of bounds.
bool FieldBytes(absl::Span<const uint8_t> payload, const FieldFormat& field,
                absl::Span<const uint8_t>* out);

// A string field's text up to its first NUL (or its end).
bool FieldString(absl::Span<const uint8_t> payload, const FieldFormat& field,
                 absl::string_view* out);

// A scalar field as an integer (sign-extended per the format).
inline bool FieldInteger(absl::Span<const uint8_t> payload,
                         const FieldFormat& field, int64_t* out) {
  return LoadInteger(payload, field.offset, field.size, field.is_signed, out);
}

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_EVENT_FIELD_ACCESS_H_
