// Renders decoded records as JSON lines or as text, every field by name and
// typed: integers as numbers, char arrays and dynamic strings as strings,
// other arrays as arrays.
#ifndef RINGWATCH_CLIENTS_RINGCAT_EVENT_PRINTER_H_
#define RINGWATCH_CLIENTS_RINGCAT_EVENT_PRINTER_H_

#include <string>

#include "daemon/event/event_catalog.h"
#include "daemon/ring/record.h"

namespace ringwatch {

enum class OutputFormat { kJsonLines, kText };

class EventPrinter {
 public:
  EventPrinter(const EventCatalog* catalog, OutputFormat format)
      : catalog_(catalog), format_(format) {}

  // Appends one line (with its newline) for `record` to `out`. Records of an
  // id the catalog does not know are printed with their id and raw length,
  // and counted, rather than dropped.
  void Append(const RecordView& record, std::string* out);

  uint64_t unknown_events() const { return unknown_events_; }
  uint64_t bad_fields() const { return bad_fields_; }

 private:
  void AppendJson(const RecordView& record, const EventFormat* event,
                  std::string* out);
  void AppendText(const RecordView& record, const EventFormat* event,
                  std::string* out);
  // Every field but the common ones (common_pid excepted), in JSON or text.
  void AppendFields(const RecordView& record, const EventFormat& event,
                    bool json, std::string* out);

  const EventCatalog* catalog_;  // Not owned; never null.
  OutputFormat format_;
  uint64_t unknown_events_ = 0;
  uint64_t bad_fields_ = 0;  // Fields that did not fit in their record.
};

// Appends `text` as a JSON string literal, escaping quotes, backslashes,
// control characters and bytes that are not valid UTF-8 as \u00XX.
void AppendJsonString(absl::string_view text, std::string* out);

}  // namespace ringwatch

#endif  // RINGWATCH_CLIENTS_RINGCAT_EVENT_PRINTER_H_
