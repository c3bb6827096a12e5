// Resource names and glob matching shared by the API's requests.
#ifndef RINGWATCH_DAEMON_SERVER_NAMES_H_
#define RINGWATCH_DAEMON_SERVER_NAMES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ringwatch {

inline constexpr absl::string_view kAggregationsPrefix = "aggregations/";
inline constexpr absl::string_view kEventsPrefix = "events/";

// "aggregations/foo" or "foo" -> "foo". INVALID_ARGUMENT, saying the
// expected form, for an empty id or one holding '/' or characters outside
// [A-Za-z0-9_.-].
absl::StatusOr<std::string> AggregationIdFromName(absl::string_view name);

// "foo" -> "aggregations/foo".
std::string AggregationName(absl::string_view id);

// "sched", "sched_switch" -> "events/sched/sched_switch".
std::string EventName(absl::string_view system, absl::string_view event);

// Whether an event glob ("sched/*", "*switch", "events/irq/*") matches the
// event. A glob holding '/' matches "system/event"; one without also
// matches the bare event name. Empty matches everything.
bool EventGlobMatches(absl::string_view glob, absl::string_view system,
                      absl::string_view event);

// fnmatch-style: '*', '?' and [sets]. Whole-string match.
bool GlobMatches(absl::string_view glob, absl::string_view text);

// The key filter of Query and Subscribe: a glob when it holds '*' or '?',
// else a substring. Empty matches everything.
bool KeyFilterMatches(absl::string_view filter, absl::string_view key_text);

// ", "-joined names for error messages, at most `max` of them ("a, b, c and
// 4 more"); "(none)" when empty.
std::string JoinNames(const std::vector<std::string>& names, size_t max = 20);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SERVER_NAMES_H_
