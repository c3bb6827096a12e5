#include "daemon/event/field_access.h"

#include <cstdint>
#include <cstring>

namespace ringwatch {
namespace {

// True when [offset, offset + size) lies inside a payload of `payload_size`
// bytes; computed in 64 bits so no sum can wrap.
bool InBounds(size_t payload_size, uint64_t offset, uint64_t size) {
  return offset <= payload_size && size <= payload_size - offset;
}

// Resolves a __data_loc / __rel_loc locator: low 16 bits offset, high 16 bits
// length. __rel_loc offsets count from the end of the 4-byte locator.
bool DynamicBytes(absl::Span<const uint8_t> payload, const FieldFormat& field,
                  absl::Span<const uint8_t>* out) {
  if (field.size != 4 || !InBounds(payload.size(), field.offset, 4)) {
    return false;
  }
  uint32_t locator;
  std::memcpy(&locator, payload.data() + field.offset, sizeof(locator));
  uint64_t offset = locator & 0xFFFF;
  uint64_t length = locator >> 16;
  if (field.kind == FieldKind::kRelLoc) offset += uint64_t{field.offset} + 4;
  if (!InBounds(payload.size(), offset, length)) return false;
  *out = payload.subspan(offset, length);
  return true;
}

}  // namespace

bool LoadInteger(absl::Span<const uint8_t> payload, uint32_t offset,
                 uint32_t size, bool is_signed, int64_t* out) {
  if (!InBounds(payload.size(), offset, size)) return false;
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

bool FieldBytes(absl::Span<const uint8_t> payload, const FieldFormat& field,
                absl::Span<const uint8_t>* out) {
  switch (field.kind) {
    case FieldKind::kScalar:
    case FieldKind::kFixedArray:
      if (!InBounds(payload.size(), field.offset, field.size)) return false;
      *out = payload.subspan(field.offset, field.size);
      return true;
    case FieldKind::kFlexArray:
      if (field.offset > payload.size()) return false;
      *out = payload.subspan(field.offset);
      return true;
    case FieldKind::kDataLoc:
    case FieldKind::kRelLoc:
      return DynamicBytes(payload, field, out);
  }
  return false;
}

bool FieldString(absl::Span<const uint8_t> payload, const FieldFormat& field,
                 absl::string_view* out) {
  absl::Span<const uint8_t> bytes;
  if (!FieldBytes(payload, field, &bytes)) return false;
  const char* data = reinterpret_cast<const char*>(bytes.data());
  const void* nul =
      bytes.empty() ? nullptr : std::memchr(data, 0, bytes.size());
  size_t length =
      nul ? static_cast<size_t>(static_cast<const char*>(nul) - data)
          : bytes.size();
  *out = absl::string_view(data, length);
  return true;
}

}  // namespace ringwatch
