// Human-readable rendering of API responses for the ringwatch CLI: aligned
// tables and short figures. Pure functions, so tests pin the output.
#ifndef RINGWATCH_CLIENTS_CLI_FORMAT_H_
#define RINGWATCH_CLIENTS_CLI_FORMAT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "proto/ringwatch/v1/ringwatch.pb.h"

namespace ringwatch {
namespace cli {

// A text table: a header row and left-aligned text or right-aligned
// numbers, columns two spaces apart.
class Table {
 public:
  // A header beginning with '>' is right-aligned (the '>' is not shown).
  explicit Table(std::vector<std::string> headers);
  void AddRow(std::vector<std::string> cells);
  size_t rows() const { return rows_.size(); }
  // Every line ends with '\n'; trailing spaces are trimmed.
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

// 1536 -> "1.5 KiB".
std::string HumanBytes(uint64_t bytes);
// 1234567 -> "1.2M"; below 10000 the exact number.
std::string HumanCount(double n);
// 3723 s -> "1h02m03s".
std::string HumanDuration(int64_t seconds);
// A nanosecond figure: "812ns", "3.4us", "12.0ms", "1.50s".
std::string HumanNanos(int64_t ns);

// One value cell: "123", "4.56", "p50=1.0us p99=8.2us max=12us".
std::string FormatValue(const v1::ValueResult& value);
// "nginx,1234"-style text of a row's key; "(other)"/"(overflow)" for
// folded rows.
std::string FormatKey(const v1::Row& row);

std::string FormatStatus(const v1::DaemonStatus& status);
std::string FormatEvents(const v1::ListEventsResponse& events,
                         bool with_fields);
std::string FormatAggregations(const v1::ListAggregationsResponse& list);
// A result as a table: one column per key part, COUNT, then each value.
// `max_rows` > 0 trims (saying how many rows were left out).
std::string FormatResult(const v1::AggregationResult& result,
                         size_t max_rows = 0);
// One line per event: "TIMESTAMP CPU PID NAME field=value ...".
std::string FormatEvent(const v1::TraceEvent& event);

}  // namespace cli
}  // namespace ringwatch

#endif  // RINGWATCH_CLIENTS_CLI_FORMAT_H_
