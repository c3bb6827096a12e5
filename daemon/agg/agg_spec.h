// An Aggregation (config.proto) compiled against an EventCatalog: event ids,
// field offsets, filters and the row layout are resolved once, so the
// per-event path never looks anything up by name.
#ifndef RINGWATCH_DAEMON_AGG_AGG_SPEC_H_
#define RINGWATCH_DAEMON_AGG_AGG_SPEC_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "daemon/agg/histogram.h"
#include "daemon/agg/row_layout.h"
#include "daemon/event/event_catalog.h"
#include "daemon/event/event_format.h"
#include "daemon/filter/filter.h"
#include "proto/ringwatch/v1/config.pb.h"

namespace ringwatch {
namespace agg {

inline constexpr uint32_t kDefaultMaxKeys = 4096;
inline constexpr uint32_t kMaxMaxKeys = 1 << 20;
inline constexpr uint32_t kDefaultMaxPending = 65536;
inline constexpr uint32_t kMaxMaxPending = 1 << 22;
inline constexpr uint32_t kMaxKeyBytes = 256;
// String keys: char arrays keep up to this many bytes; dynamic strings
// (__data_loc, __rel_loc, flexible arrays) are cut to kDynamicStringKeyBytes.
inline constexpr uint32_t kMaxStringKeyBytes = 64;
inline constexpr uint32_t kDynamicStringKeyBytes = 32;
inline constexpr uint32_t kCommBytes = 16;  // TASK_COMM_LEN.
inline constexpr uint32_t kMaxStats = 16;
inline constexpr uint64_t kMinWindowNs = 1000000;           // 1 ms.
inline constexpr uint64_t kMaxWindowNs = 3600000000000ull;  // 1 h.
// The config's idle_grace and reader_tick: bounds and defaults.
inline constexpr uint64_t kMinIdleGraceNs = 1000000;
inline constexpr uint64_t kMaxIdleGraceNs = 3600000000000ull;
inline constexpr char kDefaultIdleGrace[] = "500ms";
inline constexpr uint64_t kMinReaderTickNs = 1000000;
inline constexpr uint64_t kMaxReaderTickNs = 5000000000ull;
inline constexpr char kDefaultReaderTick[] = "200ms";

enum class AggKind { kEvent, kLatency, kCpuTime };

// Where a key part or a value is read from.
enum class Source : uint8_t {
  kInteger,  // A scalar field.
  kString,   // A string field (char array or dynamic string).
  kCpu,      // RecordView::cpu.
  kComm,     // The running task's comm, as tracked from sched_switch.
  kLatency,  // End minus start (latency aggregations).
  kOnCpu,    // Slice length (cpu_time).
};

// Which record of a latency pair a read refers to; everything else reads
// the only record (kEnd).
enum class Side : uint8_t { kEnd, kStart };

struct ReadSpec {
  Source source = Source::kInteger;
  Side side = Side::kEnd;
  // kInteger and kString: the field; kComm: the event's common_pid.
  FieldFormat field;
};

struct KeyPart {
  std::string name;  // As configured: "comm", "start.pid".
  ReadSpec read;
  uint32_t offset = 0;  // Byte offset in the key.
  uint32_t width = 0;   // 8 for integers; string widths vary.
  bool is_string = false;
};

// A numeric input whose sum, min and max every row keeps.
struct StatSpec {
  std::string field;  // "bytes", "latency", "on_cpu".
  ReadSpec read;
};

struct OutputValue {
  enum class Kind { kCount, kSum, kMin, kMax, kMean, kHistogram };
  Kind kind = Kind::kCount;
  uint32_t stat = 0;  // For kSum..kMean and kHistogram.
  uint32_t hist = 0;  // For kHistogram.
  std::string name;   // "count", "sum(bytes)", "histogram(latency)".
};

struct OrderBy {
  enum class Kind { kCount, kSum, kMin, kMax, kMean, kPercentile };
  Kind kind = Kind::kCount;
  uint32_t stat = 0;
  uint32_t hist = 0;
  uint32_t percent = 0;  // For kPercentile.
  bool ascending = false;
  std::string name;
};

// One endpoint of a latency pair.
struct EndpointSpec {
  uint32_t event_id = 0;
  std::string event_name;  // "sched/sched_waking".
  CompiledFilter filter;
  std::vector<ReadSpec> match;  // Pairing key parts.
};

// A compiled aggregation. Immutable and shared between the readers and the
// merger.
struct AggSpec {
  v1::Aggregation config;  // As given (for listing and Get).
  std::string name;
  AggKind kind = AggKind::kEvent;
  uint64_t period_ns = 0;  // Window length, or the flush interval.
  bool windowed = false;   // A window was configured: windows are published.
  uint32_t max_keys = kDefaultMaxKeys;
  uint32_t top_n = 0;

  // kEvent and kCpuTime: the event (sched_switch for kCpuTime) and filter.
  uint32_t event_id = 0;
  std::string event_name;
  CompiledFilter filter;
  // kCpuTime.
  bool include_idle = false;
  FieldFormat prev_pid;

  // kLatency.
  EndpointSpec start;
  EndpointSpec end;
  std::vector<uint32_t> match_offsets;  // Per match part, in the match key.
  std::vector<uint32_t> match_widths;
  uint32_t match_bytes = 0;  // Whole words.
  uint32_t max_pending = kDefaultMaxPending;
  bool same_cpu = false;

  std::vector<KeyPart> keys;
  uint32_t key_bytes = 0;  // Whole words.
  std::vector<StatSpec> stats;
  std::vector<OutputValue> outputs;
  RowLayout layout;
  OrderBy order;
  // Some key reads Source::kComm: the readers must track sched_switch.
  bool needs_comm = false;

  // Event names ("system/name") the aggregation reads, sched_switch
  // included when comm tracking needs it.
  std::vector<std::string> events;
};

// One problem in an Aggregation: the path of the offending field
// ({"latency", -1}, {"end", -1}, {"key", 1}: latency.end.key[1]) and why.
struct SpecError {
  std::vector<std::pair<std::string, int>> path;
  std::string message;
  // "latency.end.key[1]".
  std::string PathString() const;
};

// Compiles `aggregation`; on failure returns nullptr and appends every
// problem found to `errors`.
std::unique_ptr<AggSpec> CompileAggregation(const v1::Aggregation& aggregation,
                                            const EventCatalog& catalog,
                                            std::vector<SpecError>* errors);

// The same, with the problems joined into one InvalidArgument:
// `aggregation "NAME": latency.end.key[1]: reason` per line.
absl::StatusOr<std::unique_ptr<AggSpec>> CompileAggregation(
    const v1::Aggregation& aggregation, const EventCatalog& catalog);

// Parses a positive duration ("250ms", "1s") into nanoseconds, within
// [min_ns, max_ns]. Errors say what was wrong, without naming the field.
absl::StatusOr<uint64_t> ParseDurationNs(absl::string_view text,
                                         uint64_t min_ns, uint64_t max_ns);

// Whether `name` is a valid aggregation name: 1-64 of [A-Za-z0-9_.-].
bool ValidAggregationName(absl::string_view name);

}  // namespace agg
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_AGG_AGG_SPEC_H_
