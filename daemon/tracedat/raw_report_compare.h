// Compares every field of every decoded event with `trace-cmd report -R -t`
// for the same trace.dat file, accepting each value in any of the renderings
// trace-cmd uses for raw fields: decimal, hex with or without "0x", octal
// (file modes), a kernel symbol for a kernel address when the file carries
// kallsyms, "ARRAY[..]" for byte arrays, strings without their trailing
// newline. The point is that "typed decode of any tracepoint" stays proven:
// the same file, every event type, every field.
#ifndef RINGWATCH_DAEMON_TRACEDAT_RAW_REPORT_COMPARE_H_
#define RINGWATCH_DAEMON_TRACEDAT_RAW_REPORT_COMPARE_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "daemon/tracedat/trace_dat_file.h"
#include "daemon/tracedat/trace_dat_test_util.h"

namespace ringwatch {

// What a successful comparison covered.
struct RawReportCoverage {
  uint64_t events = 0;
  uint64_t losses = 0;
  uint64_t fields = 0;  // Field values compared.
  // Events compared per "system/name".
  std::map<std::string, uint64_t> event_types;
  // Fields per rendering that matched: "decimal", "hex", "0x", "octal",
  // "symbol", "string", "array".
  std::map<std::string, uint64_t> renderings;
};

// `sink` holds what TraceDatFile::ReadAll delivered for `file`; `raw_report`
// is the text of `trace-cmd report -R -t -i FILE`. Events pair one by one in
// order (same CPU, exact timestamp, name, pid, then every non-common field
// by name); loss lines must sit where the decode reported loss. The error
// names the first difference: event index, event, field, both values.
absl::StatusOr<RawReportCoverage> CompareEveryFieldWithRawReport(
    const TraceDatFile& file, const CapturingSink& sink,
    absl::string_view raw_report);

// Whether `text` renders `value` (the field's bits, `size` bytes) in one of
// trace-cmd's integer renderings; sets `rendering` to its name. Exposed for
// the comparison's own unit test.
bool IntegerRenderingMatches(absl::string_view text, uint64_t value,
                             uint32_t size, bool is_signed,
                             std::string* rendering);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_TRACEDAT_RAW_REPORT_COMPARE_H_
