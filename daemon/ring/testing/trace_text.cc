#include "daemon/ring/testing/trace_text.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace ringwatch {

absl::StatusOr<std::vector<TraceLine>> ParseTraceText(absl::string_view text) {
  std::vector<TraceLine> out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (trimmed.empty() || trimmed[0] == '#') continue;
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("trace text line ", line_no, ": ", why, ": ", line));
    };
    // The CPU column "[ddd]" ends the task, which may hold spaces.
    size_t lb = 0;
    while (true) {
      lb = trimmed.find(" [", lb);
      if (lb == absl::string_view::npos) return bad("no [cpu] column");
      if (lb + 6 < trimmed.size() && trimmed[lb + 5] == ']' &&
          absl::ascii_isdigit(trimmed[lb + 2]) &&
          absl::ascii_isdigit(trimmed[lb + 3]) &&
          absl::ascii_isdigit(trimmed[lb + 4])) {
        break;
      }
      ++lb;
    }
    TraceLine t;
    t.task = std::string(absl::StripAsciiWhitespace(trimmed.substr(0, lb)));
    if (!absl::SimpleAtoi(trimmed.substr(lb + 2, 3), &t.cpu)) {
      return bad("bad cpu");
    }
    // Then: flags, "time:", "event:", and the body after one space.
    absl::string_view rest = trimmed.substr(lb + 6);
    auto next_token = [&rest]() {
      rest = absl::StripLeadingAsciiWhitespace(rest);
      size_t end = rest.find(' ');
      absl::string_view token = rest.substr(0, end);
      rest = end == absl::string_view::npos ? absl::string_view()
                                            : rest.substr(end + 1);
      return token;
    };
    absl::string_view flags = next_token();
    absl::string_view time = next_token();
    absl::string_view event = next_token();
    if (flags.empty() || !absl::ConsumeSuffix(&time, ":") ||
        !absl::ConsumeSuffix(&event, ":")) {
      return bad("no 'flags time: event:' fields");
    }
    t.flags = std::string(flags);
    t.timestamp = std::string(time);
    t.event = std::string(event);
    t.body = std::string(rest);
    out.push_back(std::move(t));
  }
  return out;
}

std::string FormatTraceTimestamp(uint64_t timestamp,
                                 absl::string_view trace_clock) {
  if (trace_clock == "x86-tsc" || trace_clock == "counter") {
    return absl::StrCat(timestamp);
  }
  const uint64_t usecs = (timestamp + 500) / 1000;
  return absl::StrFormat("%u.%06u", usecs / 1000000, usecs % 1000000);
}

}  // namespace ringwatch
