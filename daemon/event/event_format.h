// The layout of one trace event, parsed from tracefs's
// events/<system>/<event>/format (or the copy stored in a trace.dat file).
#ifndef RINGWATCH_DAEMON_EVENT_EVENT_FORMAT_H_
#define RINGWATCH_DAEMON_EVENT_EVENT_FORMAT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ringwatch {

// How a field's bytes are found inside a record's payload.
enum class FieldKind {
  kScalar,      // An integer (or pointer) of `size` bytes at `offset`.
  kFixedArray,  // `array_length` elements of `element_size` at `offset`.
  kDataLoc,    // __data_loc: u32 at `offset` = (length << 16) | payload offset.
  kRelLoc,     // __rel_loc: like kDataLoc, offset relative to the end of
               // the u32 itself.
  kFlexArray,  // `T x[]` with size 0: bytes from `offset` to the record end.
};

struct FieldFormat {
  std::string name;  // "prev_comm".
  std::string type;  // Declared type without the name: "char[16]", "pid_t".
  uint32_t offset = 0;
  uint32_t size = 0;  // As the format file says (0 for kFlexArray).
  bool is_signed = false;
  FieldKind kind = FieldKind::kScalar;
  // Size of one element for arrays and dynamic fields (1 for char); equals
  // `size` for scalars.
  uint32_t element_size = 0;
  uint32_t array_length = 0;  // For kFixedArray only.
  bool is_string = false;     // char arrays and dynamic char fields.
  bool is_common = false;     // common_* fields shared by every event.
};

struct EventFormat {
  uint32_t id = 0;
  std::string system;               // "sched".
  std::string name;                 // "sched_switch".
  std::vector<FieldFormat> fields;  // Common fields first, in file order.
  std::string print_fmt;

  // "sched/sched_switch".
  std::string FullName() const { return system + "/" + name; }
  // nullptr when the event has no such field.
  const FieldFormat* FindField(absl::string_view field_name) const;
};

// Parses the text of one format file. `system` is taken from the path (the
// file itself does not name it). Errors name the line and the reason.
absl::StatusOr<EventFormat> ParseEventFormat(absl::string_view system,
                                             absl::string_view text);

// Parses one `field:TYPE NAME;\toffset:N;\tsize:N;\tsigned:N;` line (leading
// whitespace allowed; `signed:` optional as on old kernels). Shared with the
// header_page parser. Errors give the reason without a line number.
absl::StatusOr<FieldFormat> ParseFieldLine(absl::string_view line);

// Size in bytes of a C type tracefs formats use ("unsigned long", "pid_t",
// "u32", pointers), assuming an LP64 kernel; 0 when the type is unknown.
uint32_t KnownTypeSize(absl::string_view type);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_EVENT_EVENT_FORMAT_H_
