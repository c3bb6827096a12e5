// Writes the flight recorder's sub-buffers out as trace.dat files: for the
// Snapshot RPC (a file opened, unlinked and streamed to the client) and for
// triggers (a named file in the snapshot directory, the oldest pruned).
// One snapshot is written at a time; the metadata trace-cmd needs (format
// files, kallsyms, saved command lines) is read from tracefs for each, so
// the command lines name the tasks of the moment.
#ifndef RINGWATCH_DAEMON_SNAPSHOT_SNAPSHOTTER_H_
#define RINGWATCH_DAEMON_SNAPSHOT_SNAPSHOTTER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "daemon/recorder/flight_recorder.h"
#include "daemon/snapshot/recorder_settings.h"
#include "daemon/tracedat/trace_dat_metadata.h"
#include "daemon/util/scoped_fd.h"
#include "proto/ringwatch/v1/ringwatch.pb.h"

namespace ringwatch {

struct SnapshotterOptions {
  RecorderSettings settings;
  TraceDatMetadataSources metadata;
  // Waits until every reader has read its ring up to the moment of the
  // call (bounded); returns whether they all did. Unset: no wait.
  std::function<bool()> catch_up;
};

class Snapshotter {
 public:
  // `recorder` is not owned and must outlive the snapshotter.
  Snapshotter(FlightRecorder* recorder, SnapshotterOptions options);

  // Writes to a file in the snapshot directory, opens it for reading and
  // unlinks it, so that nothing is left behind whatever the caller does.
  absl::StatusOr<v1::SnapshotInfo> WriteUnlinked(uint64_t span_ns,
                                                 int file_version,
                                                 ScopedFd* file);

  // Writes "<dir>/<reason>-<UTC time>.dat" and removes the oldest such
  // files beyond max_snapshot_files. The info's path names the file.
  absl::StatusOr<v1::SnapshotInfo> WriteToDirectory(uint64_t span_ns,
                                                    const std::string& name);

  // The recorder's figures and this snapshotter's counts.
  void FillStatus(v1::FlightRecorderStatus* status) const;
  void CountTrigger(bool rate_limited);

  const RecorderSettings& settings() const { return options_.settings; }

 private:
  // Writes the last `span_ns` (0: all held) to `path`. RESOURCE_EXHAUSTED
  // while another snapshot is being written. `file_version` is 6 or 7.
  absl::StatusOr<v1::SnapshotInfo> Write(const std::string& path,
                                         uint64_t span_ns, int file_version,
                                         const std::string& reason);
  // Write() to `file_name` in the snapshot directory (made when missing),
  // with the info's path set; a failure is counted and leaves no file.
  absl::StatusOr<v1::SnapshotInfo> WriteInDirectory(
      const std::string& file_name, uint64_t span_ns, int file_version,
      const std::string& reason);

  FlightRecorder* const recorder_;
  const SnapshotterOptions options_;
  absl::Mutex write_mu_;  // Held while a snapshot is written.
  std::atomic<uint64_t> snapshots_{0};
  std::atomic<uint64_t> snapshots_failed_{0};
  std::atomic<uint64_t> triggers_fired_{0};
  std::atomic<uint64_t> triggers_rate_limited_{0};
  mutable absl::Mutex status_mu_;
  std::string last_trigger_file_ ABSL_GUARDED_BY(status_mu_);
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SNAPSHOT_SNAPSHOTTER_H_
