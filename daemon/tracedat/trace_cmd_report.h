// Parses the text `trace-cmd report` prints, so tests can compare what
// TraceDatFile decodes with what trace-cmd itself shows for the same file.
#ifndef RINGWATCH_DAEMON_TRACEDAT_TRACE_CMD_REPORT_H_
#define RINGWATCH_DAEMON_TRACEDAT_TRACE_CMD_REPORT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ringwatch {

struct ReportLine {
  enum class Kind { kEvent, kLoss };
  Kind kind = Kind::kEvent;
  uint32_t cpu = 0;
  // kEvent:
  std::string comm;  // As printed: "<idle>", "<...>" or the saved comm.
  int32_t pid = 0;
  uint64_t timestamp = 0;   // In ns: exact with -t, else rounded to us.
  int fraction_digits = 0;  // 6 (us, the default) or 9 (-t).
  std::string name;         // "sched_switch".
  std::string info;         // The rest of the line, trailing blanks cut.
  // kLoss ("CPU:N [M EVENTS DROPPED]"):
  uint64_t lost = 0;
  bool lost_known = false;  // False for "[EVENTS DROPPED]".
};

// Parses every event and loss line; other lines ("cpus=2") are skipped.
// `buffer` is the instance name trace-cmd prefixes lines with ("" for none).
// Errors name the line that matches no known shape.
absl::StatusOr<std::vector<ReportLine>> ParseTraceCmdReport(
    absl::string_view text, absl::string_view buffer);

// Splits the info of a raw (-R) line, "a=1 b=two words c=3", into values by
// the field names expected in order (values may hold blanks).
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> SplitRawFields(
    absl::string_view info, const std::vector<std::string>& names);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_TRACEDAT_TRACE_CMD_REPORT_H_
