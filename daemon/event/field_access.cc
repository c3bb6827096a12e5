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
