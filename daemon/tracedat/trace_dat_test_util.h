// Shared by the trace.dat tests: fixture paths, a sink that keeps copies of
// what it receives, and the comparison of decoded events with the text of
// `trace-cmd report` (default and raw renderings) for the same file.
#ifndef RINGWATCH_DAEMON_TRACEDAT_TRACE_DAT_TEST_UTIL_H_
#define RINGWATCH_DAEMON_TRACEDAT_TRACE_DAT_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "daemon/ring/record.h"
#include "daemon/tracedat/trace_cmd_report.h"
#include "daemon/tracedat/trace_dat_file.h"

namespace ringwatch {

// Path of tests/data/tracedat/<name> in the test's runfiles.
std::string TraceDatFixture(absl::string_view name);

// A sub-buffer as a trace.dat stores it.
struct StoredPage {
  uint32_t cpu = 0;
  std::vector<uint8_t> bytes;
};

// Every page of the default buffer of `file` (whose content is `bytes`),
// CPU by CPU in file order, as stored. The first bad page is an error
// naming `name`.
absl::StatusOr<std::vector<StoredPage>> StoredPages(const TraceDatFile& file,
                                                    absl::string_view bytes,
                                                    absl::string_view name);

// The pages of the fixtures `names` (TraceDatFixture), file by file, of
// those whose page size is the first file's; `page_size` gets that size.
absl::StatusOr<std::vector<StoredPage>> FixturePages(
    absl::Span<const char* const> names, uint32_t* page_size);

// A decoded record, copied out of the sink callback.
struct CapturedRecord {
  uint32_t cpu = 0;
  uint64_t timestamp = 0;
  std::vector<uint8_t> payload;
  bool operator==(const CapturedRecord& o) const {
    return cpu == o.cpu && timestamp == o.timestamp && payload == o.payload;
  }
};

class CapturingSink : public RecordSink {
 public:
  void OnRecord(const RecordView& record) override {
    records.push_back(
        {record.cpu, record.timestamp,
         std::vector<uint8_t>(record.payload.begin(), record.payload.end())});
  }
  void OnLoss(const LossReport& loss) override {
    losses.emplace_back(records.size(), loss);
  }
  std::vector<CapturedRecord> records;
  // Each loss with the number of records delivered before it.
  std::vector<std::pair<size_t, LossReport>> losses;
};

// Compares `sink` (what ReadAll delivered for `file`) with `report`, the text
// of `trace-cmd report -i FILE`: same events in the same order, with the same
// CPU, timestamp (to the microsecond), event name, pid and comm, and for
// sched_switch and print events the same field values; loss lines in the
// same places. The error names the first difference.
absl::Status CompareWithReport(const TraceDatFile& file,
                               const CapturingSink& sink,
                               absl::string_view report);

// The same with `trace-cmd report -R -t`: exact nanosecond timestamps and the
// raw value of every field of every event.
absl::Status CompareWithRawReport(const TraceDatFile& file,
                                  const CapturingSink& sink,
                                  absl::string_view raw_report);

// The name trace-cmd prefixes lines with: the instance's, or none for the
// top-level buffer.
std::string ReportBufferPrefix(const TraceDatFile& file);

// An error naming event #index, what differs, and both renderings.
absl::Status ReportMismatch(size_t index, const ReportLine& line,
                            absl::string_view what, absl::string_view ours,
                            absl::string_view theirs);

// Compares decoded record #index with its report line.
using ReportEventCompare = absl::FunctionRef<absl::Status(
    size_t index, const CapturedRecord& record, const ReportLine& line)>;

// Walks report lines and decoded records together: loss lines must sit where
// the sink saw a loss (place, CPU, count), event lines pair with records one
// by one through `compare`, and both must end together.
absl::Status WalkReport(const CapturingSink& sink,
                        const std::vector<ReportLine>& lines,
                        ReportEventCompare compare);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_TRACEDAT_TRACE_DAT_TEST_UTIL_H_
