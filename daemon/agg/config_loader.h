// Loads the daemon's config file (protobuf text format, config.proto) and
// validates it against the kernel's event catalog. Every error names the
// file, the line and column of the offending field, the aggregation and the
// field path, and the reason:
//
//   ringwatch.textproto:14:5: aggregation "wakeup": latency.end.key[0]: no
//   field "nxt_pid" in sched/sched_switch; did you mean "next_pid"?
//
// ValidateAggregation checks one Aggregation the same way (for runtime
// creation through the API), without positions.
#ifndef RINGWATCH_DAEMON_AGG_CONFIG_LOADER_H_
#define RINGWATCH_DAEMON_AGG_CONFIG_LOADER_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "daemon/event/event_catalog.h"
#include "proto/ringwatch/v1/config.pb.h"

namespace ringwatch {
namespace agg {

inline constexpr char kDefaultUnixSocket[] = "/run/ringwatch/ringwatch.sock";

// Reads and parses `path`, then validates it. InvalidArgument listing every
// problem, one per line; NotFound (naming the path) when unreadable.
absl::StatusOr<v1::Config> LoadConfigFile(const std::string& path,
                                          const EventCatalog& catalog);

// Parses `text`; `filename` names it in errors. With a null catalog only
// what needs no catalog is checked (syntax, values, durations, names).
absl::StatusOr<v1::Config> ParseConfig(absl::string_view text,
                                       absl::string_view filename,
                                       const EventCatalog* catalog);

// `aggregation "NAME": FIELD: reason` lines, as InvalidArgument.
absl::Status ValidateAggregation(const v1::Aggregation& aggregation,
                                 const EventCatalog& catalog);

// The config with defaults filled in for unset fields (instance,
// trace_clock, buffer size, socket path, limits, durations).
v1::Config WithDefaults(const v1::Config& config);

}  // namespace agg
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_AGG_CONFIG_LOADER_H_
