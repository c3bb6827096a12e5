// Fuzz target for the `trace-cmd report` text parser the trace.dat tests
// compare against: any text parses into lines or fails with a message naming
// the line, and every parsed line keeps the shape the comparisons rely on.
// Built by tools/fuzz.sh (trace_cmd_report); trace_cmd_report_fuzzer_test
// replays tests/data/fuzz/trace_cmd_report.
//
// Input: byte 0 picks the instance prefix (none, or the fixtures' ones),
// the rest is the report text. Each event's info is also split as raw
// fields by the names of its own first `name=` tokens.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "daemon/tracedat/trace_cmd_report.h"

namespace {

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "trace_cmd_report_fuzzer invariant broken: %s\n",
                 what);
    std::abort();
  }
}

const char* const kBuffers[] = {"", "rwdat_4138", "rwdat_lossy_4138", "x"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ringwatch::ReportLine;
  if (size < 1) return 0;
  const absl::string_view buffer = kBuffers[data[0] % 4];
  const absl::string_view text(reinterpret_cast<const char*>(data + 1),
                               size - 1);
  absl::StatusOr<std::vector<ReportLine>> lines =
      ringwatch::ParseTraceCmdReport(text, buffer);
  if (!lines.ok()) {
    Check(absl::StrContains(lines.status().message(), "report line "),
          "errors name the line");
    return 0;
  }
  for (const ReportLine& line : *lines) {
    if (line.kind == ReportLine::Kind::kLoss) {
      Check(line.lost_known || line.lost == 0, "unknown loss has no count");
      continue;
    }
    Check(line.fraction_digits <= 9, "at most ns precision");
    Check(!line.name.empty(), "events have a name");
    Check(line.info.empty() || (line.info[0] != ' ' && line.info[0] != '\t'),
          "info starts after the padding");
    // Split the info by the names of its own leading "key=" tokens.
    std::vector<std::string> names;
    for (absl::string_view token : absl::StrSplit(line.info, ' ')) {
      const size_t eq = token.find('=');
      if (eq == absl::string_view::npos || eq == 0) break;
      names.emplace_back(token.substr(0, eq));
      if (names.size() == 8) break;
    }
    auto fields = ringwatch::SplitRawFields(line.info, names);
    if (fields.ok()) {
      Check(fields->size() == names.size(), "one value per name");
      for (size_t i = 0; i < names.size(); ++i) {
        Check((*fields)[i].first == names[i], "values keep the names' order");
      }
    } else {
      Check(!fields.status().message().empty(), "split errors say why");
    }
  }
  return 0;
}
