#include "clients/ringcat/event_printer.h"

#include <cinttypes>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "daemon/event/field_access.h"

namespace ringwatch {
namespace {

// Length of the valid UTF-8 sequence starting at text[i], or 0.
size_t Utf8SequenceLength(absl::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  uint8_t lead = byte(i);
  size_t length;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
  }
  return length;
}

// Integers of an array field, each `element_size` bytes.
void AppendIntegerArray(absl::Span<const uint8_t> bytes,
                        const FieldFormat& field, absl::string_view open,
                        absl::string_view close, std::string* out) {
  out->append(open.data(), open.size());
  uint32_t element_size = field.element_size ? field.element_size : 1;
  bool first = true;
  for (size_t at = 0; at + element_size <= bytes.size(); at += element_size) {
    int64_t value = 0;
    if (!LoadInteger(bytes, static_cast<uint32_t>(at), element_size,
                     field.is_signed, &value)) {
      break;
    }
    if (!first) out->push_back(',');
    first = false;
    if (field.is_signed) {
      absl::StrAppend(out, value);
    } else {
      absl::StrAppend(out, static_cast<uint64_t>(value));
    }
  }
  out->append(close.data(), close.size());
}

void AppendInteger(int64_t value, const FieldFormat& field, std::string* out) {
  if (field.is_signed) {
    absl::StrAppend(out, value);
  } else {
    absl::StrAppend(out, static_cast<uint64_t>(value));
  }
}

}  // namespace

void AppendJsonString(absl::string_view text, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '\t') {
      out->append("\\t");
    } else if (c < 0x20 || c == 0x7f) {
      absl::StrAppend(out, absl::StrFormat("\\u%04x", c));
    } else if (c >= 0x80) {
      size_t length = Utf8SequenceLength(text, i);
      if (length == 0) {
        absl::StrAppend(out, absl::StrFormat("\\u%04x", c));
      } else {
        out->append(text.data() + i, length);
        i += length;
        continue;
      }
    } else {
      out->push_back(static_cast<char>(c));
    }
    ++i;
  }
  out->push_back('"');
}

void EventPrinter::Append(const RecordView& record, std::string* out) {
  int32_t id = record.event_id();
  const EventFormat* event = id >= 0 ? catalog_->FindById(id) : nullptr;
  if (event == nullptr) ++unknown_events_;
  if (format_ == OutputFormat::kJsonLines) {
    AppendJson(record, event, out);
  } else {
    AppendText(record, event, out);
  }
}

void EventPrinter::AppendFields(const RecordView& record,
                                const EventFormat& event, bool json,
                                std::string* out) {
  // JSON: "name":value (comma-separated) with null for a field that does
  // not fit its record; text: " name=value" with "?". In JSON common_pid is
  // in the envelope ("pid"), so the object holds the event's own fields only
  // and their names, unique within a format, cannot collide.
  const absl::string_view missing = json ? "null" : "?";
  bool first = true;
  for (const FieldFormat& field : event.fields) {
    if (field.is_common && (json || field.name != "common_pid")) continue;
    if (json) {
      if (!first) out->push_back(',');
      first = false;
      AppendJsonString(field.name, out);
      out->push_back(':');
    } else {
      absl::StrAppend(out, " ", field.name, "=");
    }
    bool ok;
    if (field.is_string) {
      absl::string_view text;
      ok = FieldString(record.payload, field, &text);
      if (ok && json) {
        AppendJsonString(text, out);
      } else if (ok) {
        out->append(text.data(), text.size());
      }
    } else if (field.kind == FieldKind::kScalar) {
      int64_t value;
      ok = FieldInteger(record.payload, field, &value);
      if (ok) AppendInteger(value, field, out);
    } else {
      absl::Span<const uint8_t> bytes;
      ok = FieldBytes(record.payload, field, &bytes);
      if (ok)
        AppendIntegerArray(bytes, field, json ? "[" : "{", json ? "]" : "}",
                           out);
    }
    if (!ok) {
      ++bad_fields_;
      out->append(missing.data(), missing.size());
    }
  }
}

void EventPrinter::AppendJson(const RecordView& record,
                              const EventFormat* event, std::string* out) {
  absl::StrAppend(out, "{\"cpu\":", record.cpu, ",\"ts\":", record.timestamp,
                  ",\"event\":");
  if (event == nullptr) {
    absl::StrAppend(out, "null,\"id\":", record.event_id(),
                    ",\"length\":", record.payload.size(), "}\n");
    return;
  }
  AppendJsonString(event->FullName(), out);
  out->append(",\"pid\":");
  const FieldFormat* pid = event->FindField("common_pid");
  int64_t pid_value = 0;
  if (pid != nullptr && FieldInteger(record.payload, *pid, &pid_value)) {
    absl::StrAppend(out, pid_value);
  } else {
    ++bad_fields_;
    out->append("null");
  }
  out->append(",\"fields\":{");
  AppendFields(record, *event, /*json=*/true, out);
  out->append("}}\n");
}

void EventPrinter::AppendText(const RecordView& record,
                              const EventFormat* event, std::string* out) {
  absl::StrAppend(
      out, absl::StrFormat("[%03u] %" PRIu64 ".%06" PRIu64 ": ", record.cpu,
                           record.timestamp / 1000000000,
                           (record.timestamp / 1000) % 1000000));
  if (event == nullptr) {
    absl::StrAppend(out, "unknown event id ", record.event_id(), " (",
                    record.payload.size(), " bytes)\n");
    return;
  }
  absl::StrAppend(out, event->FullName(), ":");
  AppendFields(record, *event, /*json=*/false, out);
  out->push_back('\n');
}

}  // namespace ringwatch
