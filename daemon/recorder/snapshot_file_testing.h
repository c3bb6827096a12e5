// For tests: a FlightRecorder's snapshot written to a trace.dat (with the
// header_page fixture TraceDatFile needs to decode it) and read back, pages
// and all. Failures are reported as GoogleTest failures.
#ifndef RINGWATCH_DAEMON_RECORDER_SNAPSHOT_FILE_TESTING_H_
#define RINGWATCH_DAEMON_RECORDER_SNAPSHOT_FILE_TESTING_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "daemon/recorder/flight_recorder.h"
#include "daemon/tracedat/trace_dat_file.h"
#include "daemon/tracedat/trace_dat_test_util.h"
#include "daemon/tracedat/trace_dat_writer.h"

namespace ringwatch {

struct WrittenSnapshot {
  FlightSnapshot snapshot;
  std::string path;
  std::unique_ptr<TraceDatFile> file;  // Null when it did not open.
  std::vector<StoredPage> pages;       // Every CPU's, as stored.

  // The pages of `cpu`, in file order.
  std::vector<std::vector<uint8_t>> PagesOf(uint32_t cpu) const;
};

// Snapshots the last `span` of `recorder` (0: all) into
// <TempDir>/<name>.dat and opens it.
WrittenSnapshot WriteSnapshotFile(FlightRecorder* recorder, uint64_t span,
                                  const std::string& name,
                                  TraceDatWriterOptions writer_options = {});

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_RECORDER_SNAPSHOT_FILE_TESTING_H_
