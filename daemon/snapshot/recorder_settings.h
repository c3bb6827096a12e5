// The config's flight_recorder section, checked and with its defaults:
// how much the recorder keeps, where triggered snapshots go, and the
// triggers (config.proto, FlightRecorderConfig).
#ifndef RINGWATCH_DAEMON_SNAPSHOT_RECORDER_SETTINGS_H_
#define RINGWATCH_DAEMON_SNAPSHOT_RECORDER_SETTINGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/ringwatch/v1/config.pb.h"

namespace ringwatch {

inline constexpr uint64_t kDefaultRecorderBytes = uint64_t{32} << 20;
inline constexpr uint64_t kDefaultRecorderMaxAgeNs = 60'000'000'000;
inline constexpr char kDefaultSnapshotDir[] = "/var/lib/ringwatch/snapshots";
inline constexpr int kMaxSnapshotTriggers = 16;
inline constexpr uint32_t kDefaultMaxSnapshotFiles = 10;
inline constexpr uint32_t kMaxSnapshotFiles = 1000;
// The longest span a snapshot may ask for (RPC and triggers).
inline constexpr uint64_t kMaxSnapshotSpanNs = 3600'000'000'000;

struct TriggerSettings {
  std::string name;
  std::string aggregation;
  std::string value;  // "count", "p99", ...
  double above = 0;
  uint64_t min_interval_ns = 300'000'000'000;
  uint64_t span_ns = 10'000'000'000;
};

struct RecorderSettings {
  bool enabled = true;
  uint64_t max_bytes = kDefaultRecorderBytes;  // Over all CPUs.
  uint64_t max_age_ns = kDefaultRecorderMaxAgeNs;
  std::string snapshot_dir = kDefaultSnapshotDir;
  uint32_t max_snapshot_files = kDefaultMaxSnapshotFiles;
  std::vector<TriggerSettings> triggers;

  // Each CPU's share of max_bytes in whole sub-buffers, at least one.
  uint64_t BytesPerCpu(uint32_t num_cpus, uint32_t page_size) const;
  // What the recorder holds at most (its share per CPU plus each CPU's
  // sub-buffer being filled): the figure charged to limits.max_memory.
  uint64_t ReservedBytes(uint32_t num_cpus, uint32_t page_size) const;
};

// INVALID_ARGUMENT naming the field ("flight_recorder.trigger[1].value:
// ...") and the reason, every problem on its own line.
absl::StatusOr<RecorderSettings> RecorderSettingsFromConfig(
    const v1::FlightRecorderConfig& config);

// Whether `value` names a result column a trigger can compare.
bool ValidTriggerValue(const std::string& value);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SNAPSHOT_RECORDER_SETTINGS_H_
