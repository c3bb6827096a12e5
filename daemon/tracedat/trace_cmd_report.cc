#include "daemon/tracedat/trace_cmd_report.h"

#include <cstdint>
#include <regex>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ringwatch {

absl::StatusOr<std::vector<ReportLine>> ParseTraceCmdReport(
    absl::string_view text, absl::string_view buffer) {
  // "  comm-pid  [cpu]  secs.frac: name:  info"; comm may hold blanks and
  // dashes, so the last "-digits" before the CPU ends it.
  static const std::regex kEvent(
      R"(^\s*(.*)-(\d+)\s+\[(\d+)\]\s+(\d+)\.(\d+):\s+([^\s:]+):\s?(.*)$)");
  static const std::regex kLoss(R"(^CPU:(\d+) \[(?:(\d+) )?EVENTS DROPPED\]$)");
  const std::string prefix = buffer.empty() ? "" : absl::StrCat(buffer, ": ");
  std::vector<ReportLine> lines;
  int number = 0;
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    ++number;
    absl::string_view line = absl::StripTrailingAsciiWhitespace(raw);
    if (line.empty() || absl::StartsWith(line, "cpus=")) continue;
    if (!prefix.empty()) absl::ConsumePrefix(&line, prefix);
    const std::string s(line);
    std::smatch m;
    ReportLine out;
    if (std::regex_match(s, m, kLoss)) {
      out.kind = ReportLine::Kind::kLoss;
      out.lost_known = m[2].matched;
      // SimpleAtoi, not std::stoul: digits beyond the type's range are an
      // error to report, not an exception.
      if (!absl::SimpleAtoi(m[1].str(), &out.cpu) ||
          (out.lost_known && !absl::SimpleAtoi(m[2].str(), &out.lost))) {
        return absl::InvalidArgumentError(
            absl::StrCat("report line ", number, ": bad cpu or lost count"));
      }
      lines.push_back(std::move(out));
      continue;
    }
    if (!std::regex_match(s, m, kEvent)) {
      return absl::InvalidArgumentError(
          absl::StrCat("report line ", number, " has no known shape: ", s));
    }
    out.comm = m[1].str();
    if (!absl::SimpleAtoi(m[2].str(), &out.pid) ||
        !absl::SimpleAtoi(m[3].str(), &out.cpu)) {
      return absl::InvalidArgumentError(
          absl::StrCat("report line ", number, ": bad pid or cpu"));
    }
    const std::string frac = m[5].str();
    out.fraction_digits = static_cast<int>(frac.size());
    if (frac.size() > 9) {
      return absl::InvalidArgumentError(
          absl::StrCat("report line ", number, ": timestamp too precise"));
    }
    uint64_t scale = 1;
    for (size_t i = frac.size(); i < 9; ++i) scale *= 10;
    uint64_t seconds, fraction;
    if (!absl::SimpleAtoi(m[4].str(), &seconds) ||
        !absl::SimpleAtoi(frac, &fraction) ||
        seconds > (UINT64_MAX - 999999999ull) / 1000000000ull) {
      return absl::InvalidArgumentError(
          absl::StrCat("report line ", number, ": timestamp out of range"));
    }
    out.timestamp = seconds * 1000000000ull + fraction * scale;
    out.name = m[6].str();
    // The name is padded to a column: the info starts after the blanks.
    out.info = std::string(absl::StripLeadingAsciiWhitespace(m[7].str()));
    lines.push_back(std::move(out));
  }
  return lines;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> SplitRawFields(
    absl::string_view info, const std::vector<std::string>& names) {
  std::vector<std::pair<std::string, std::string>> fields;
  size_t pos = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string key = names[i] + "=";
    if (info.substr(pos, key.size()) != key) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected '", key, "' at column ", pos, " of: ", info));
    }
    pos += key.size();
    size_t end = info.size();
    if (i + 1 < names.size()) {
      end = info.find(absl::StrCat(" ", names[i + 1], "="), pos);
      if (end == absl::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            "no '", names[i + 1], "=' after '", key, "' in: ", info));
      }
    }
    fields.emplace_back(names[i], std::string(info.substr(pos, end - pos)));
    pos = end + 1;
  }
  return fields;
}

}  // namespace ringwatch
