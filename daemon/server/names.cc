#include "daemon/server/names.h"

#include <fnmatch.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace ringwatch {

absl::StatusOr<std::string> AggregationIdFromName(absl::string_view name) {
  absl::string_view id = name;
  absl::ConsumePrefix(&id, kAggregationsPrefix);
  if (id.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("aggregation name '", name,
                     "' is empty; use 'aggregations/{id}' or the bare id"));
  }
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "aggregation name '", name,
          "' is not 'aggregations/{id}' with an id of letters, digits, '_', "
          "'-' or '.'"));
    }
  }
  return std::string(id);
}

std::string AggregationName(absl::string_view id) {
  return absl::StrCat(kAggregationsPrefix, id);
}

std::string EventName(absl::string_view system, absl::string_view event) {
  return absl::StrCat(kEventsPrefix, system, "/", event);
}

bool GlobMatches(absl::string_view glob, absl::string_view text) {
  const std::string g(glob), t(text);
  return fnmatch(g.c_str(), t.c_str(), FNM_NOESCAPE) == 0;
}

bool EventGlobMatches(absl::string_view glob, absl::string_view system,
                      absl::string_view event) {
  if (glob.empty()) return true;
  absl::ConsumePrefix(&glob, kEventsPrefix);
  if (absl::StrContains(glob, '/')) {
    return GlobMatches(glob, absl::StrCat(system, "/", event));
  }
  return GlobMatches(glob, event);
}

bool KeyFilterMatches(absl::string_view filter, absl::string_view key_text) {
  if (filter.empty()) return true;
  if (filter.find_first_of("*?") == absl::string_view::npos) {
    return absl::StrContains(key_text, filter);
  }
  return GlobMatches(filter, key_text);
}

std::string JoinNames(const std::vector<std::string>& names, size_t max) {
  if (names.empty()) return "(none)";
  if (names.size() <= max) return absl::StrJoin(names, ", ");
  std::vector<std::string> head(names.begin(), names.begin() + max);
  return absl::StrCat(absl::StrJoin(head, ", "), " and ", names.size() - max,
                      " more");
}

}  // namespace ringwatch
