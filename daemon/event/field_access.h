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
// Inline: it runs once per field per event, and the call cost more than the
// load (bench/decode_vs_libtraceevent_benchmark).
inline bool LoadInteger(absl::Span<const uint8_t> payload, uint32_t offset,
                        uint32_t size, bool is_signed, int64_t* out) {
  // 64-bit sum: no wrap for any 32-bit offset and size.
  if (uint64_t{offset} + size > payload.size()) return false;
  const uint8_t* p = payload.data() + offset;
  switch (size) {
    case 1: {
      uint8_t v;
      std::memcpy(&v, p, 1);
      *out = is_signed ? int64_t{static_cast<int8_t>(v)} : int64_t{v};
      return true;
    }
    case 2: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      *out = is_signed ? int64_t{static_cast<int16_t>(v)} : int64_t{v};
      return true;
    }
    case 4: {
      uint32_t v;
      std::memcpy(&v, p, 4);
      *out = is_signed ? int64_t{static_cast<int32_t>(v)} : int64_t{v};
      return true;
    }
    case 8: {
      // Unsigned 64-bit values keep their bits; callers that care about the
      // sign use the field's is_signed.
      uint64_t v;
      std::memcpy(&v, p, 8);
      *out = static_cast<int64_t>(v);
      return true;
    }
    default:
      return false;
  }
}

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
