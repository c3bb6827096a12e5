#include "daemon/server/event_encoder.h"

#include <cstdint>

#include "absl/strings/str_format.h"
#include "daemon/event/field_access.h"
#include "daemon/server/names.h"

namespace ringwatch {

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0.
size_t Utf8SequenceLength(absl::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid.
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

}  // namespace

std::string SanitizeUtf8(absl::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    const size_t n = Utf8SequenceLength(bytes, i);
    if (n == 0) {
      absl::StrAppendFormat(&out, "\\x%02x", static_cast<uint8_t>(bytes[i]));
      ++i;
    } else {
      out.append(bytes.data() + i, n);
      i += n;
    }
  }
  return out;
}

int EncodeTraceEvent(const RecordView& record, const EventFormat& format,
                     v1::TraceEvent* out) {
  out->Clear();
  out->set_name(EventName(format.system, format.name));
  out->set_cpu(record.cpu);
  out->set_timestamp_ns(record.timestamp);
  int bad = 0;
  for (const FieldFormat& field : format.fields) {
    if (field.is_common) {
      if (field.name == "common_pid") {
        int64_t pid;
        if (FieldInteger(record.payload, field, &pid)) {
          out->set_pid(static_cast<int32_t>(pid));
        } else {
          ++bad;
        }
      }
      continue;
    }
    v1::FieldValue value;
    value.set_name(field.name);
    if (field.is_string) {
      absl::string_view text;
      if (!FieldString(record.payload, field, &text)) {
        ++bad;
        continue;
      }
      value.set_string_value(SanitizeUtf8(text));
    } else if (field.kind == FieldKind::kScalar) {
      int64_t v;
      if (!FieldInteger(record.payload, field, &v)) {
        ++bad;
        continue;
      }
      if (field.is_signed) {
        value.set_int_value(v);
      } else {
        // Zero-extend what LoadInteger read without sign extension.
        uint64_t u = static_cast<uint64_t>(v);
        if (field.size < 8) u &= (uint64_t{1} << (8 * field.size)) - 1;
        value.set_uint_value(u);
      }
    } else {
      absl::Span<const uint8_t> bytes;
      if (!FieldBytes(record.payload, field, &bytes)) {
        ++bad;
        continue;
      }
      value.set_bytes_value(reinterpret_cast<const char*>(bytes.data()),
                            bytes.size());
    }
    *out->add_fields() = std::move(value);
  }
  return bad;
}

}  // namespace ringwatch
