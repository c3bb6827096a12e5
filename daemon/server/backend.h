// What the API server needs from the rest of the daemon. ringwatchd
// implements it on top of the engine, the readers and the catalog; tests use
// testing::FakeBackend. Every method may be called from several gRPC threads
// at once: implementations are thread-safe.
#ifndef RINGWATCH_DAEMON_SERVER_BACKEND_H_
#define RINGWATCH_DAEMON_SERVER_BACKEND_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "daemon/event/event_format.h"
#include "daemon/ring/record.h"
#include "daemon/util/scoped_fd.h"
#include "proto/ringwatch/v1/ringwatch.pb.h"

namespace ringwatch {

// Receives every closed window of every aggregation. Called on the engine's
// thread that closes windows: must return quickly and never block (the
// server's Hub only enqueues).
class WindowListener {
 public:
  virtual ~WindowListener() = default;
  // `window` is complete and immutable; `window->name()` names its
  // aggregation (the bare id, or "aggregations/{id}").
  virtual void OnWindowClosed(
      std::shared_ptr<const v1::AggregationResult> window) = 0;
  // The aggregation was deleted (through the API or otherwise): its
  // subscribers are told and their streams end.
  virtual void OnAggregationDeleted(absl::string_view aggregation_id) = 0;
  // A flight-recorder trigger on the aggregation wrote a snapshot.
  virtual void OnSnapshotTaken(absl::string_view aggregation_id,
                               std::shared_ptr<const v1::SnapshotInfo> info) {}
};

// Receives raw decoded events for StreamEvents. Called on the reader
// threads, several at once: must never block. The server's taps filter by
// event id first, then take a rate-limit token (both lock-free), and only
// then copy the event out, so a tap costs the hot path a few loads for
// events nobody tails.
class EventTap {
 public:
  virtual ~EventTap() = default;
  // `record.payload` is valid only during the call; `format` is the record's
  // event (from the catalog, looked up by record.event_id()).
  virtual void OnEvent(const RecordView& record, const EventFormat& format) = 0;
  // The kernel reported lost events on a CPU.
  virtual void OnLoss(const LossReport& loss) {}
  // A reader found its ring empty: Backend::EventTimeHorizon() may have
  // moved although no event came (taps that hold events back for time
  // order release them).
  virtual void OnReaderDrained() {}
};

class Backend {
 public:
  virtual ~Backend() = default;

  // The daemon's figures. The server fills in `server` and `process` itself
  // (and `uptime` from `start_time` when it is unset); the backend fills in
  // the rest. AggregationStats.subscribers is filled in by the server.
  virtual absl::StatusOr<v1::DaemonStatus> GetStatus() = 0;

  // Every event of the catalog, with its fields (the server filters, sorts,
  // pages and trims to the requested view).
  virtual absl::StatusOr<std::vector<v1::EventDescriptor>> ListEvents() = 0;

  // Aggregations, by bare id ("syscalls", not "aggregations/syscalls").
  // Unknown ids are NOT_FOUND (the server rewrites the message to list the
  // known ones).
  virtual std::vector<v1::AggregationInfo> ListAggregations() = 0;
  virtual absl::StatusOr<v1::AggregationInfo> GetAggregation(
      absl::string_view id) = 0;
  // Validates `spec` exactly as the config file's aggregations are
  // validated (INVALID_ARGUMENT naming the field and the reason;
  // ALREADY_EXISTS for a taken name) and, unless `validate_only`, starts it.
  virtual absl::StatusOr<v1::AggregationInfo> CreateAggregation(
      const v1::Aggregation& spec, bool validate_only) = 0;
  // Stops the aggregation. The backend must call OnAggregationDeleted on its
  // window listeners (before or after returning).
  virtual absl::Status DeleteAggregation(absl::string_view id) = 0;

  // The latest closed window or the cumulative view, as the engine made it
  // (the server then applies the request's top-N and key filter). NOT_FOUND
  // with a reason when no window has closed yet.
  virtual absl::StatusOr<v1::AggregationResult> GetResult(
      absl::string_view id, v1::ResultView view) = 0;

  // Registers a listener for closed windows until Remove. After
  // RemoveWindowListener returns no new call starts; a call already running
  // may still finish, which the shared_ptr makes safe.
  virtual uint64_t AddWindowListener(
      std::shared_ptr<WindowListener> listener) = 0;
  virtual void RemoveWindowListener(uint64_t handle) = 0;

  // Registers a raw-event tap, with the same lifetime rules as listeners.
  // A backend without live events (replaying a file) may refuse with
  // FAILED_PRECONDITION.
  // Trace-clock time before which every CPU has delivered all its records
  // to the taps (or is taken to be idle): events older than it can be sent
  // in timestamp order. The default, "everything", sends events as they
  // arrive.
  virtual uint64_t EventTimeHorizon() { return ~uint64_t{0}; }
  virtual absl::StatusOr<uint64_t> AddEventTap(
      std::shared_ptr<EventTap> tap) = 0;
  virtual void RemoveEventTap(uint64_t handle) = 0;

  // Writes the flight recorder's last `span_ns` (0: everything it holds)
  // as a trace.dat of `file_version` into a file that is already unlinked,
  // left open for reading in `file`. May take seconds: never called on a
  // gRPC callback thread. FAILED_PRECONDITION without a recorder.
  virtual absl::StatusOr<v1::SnapshotInfo> WriteSnapshot(uint64_t span_ns,
                                                         int file_version,
                                                         ScopedFd* file) {
    return absl::FailedPreconditionError(
        "this daemon has no flight recorder (config flight_recorder { "
        "max_size: \"0\" } turns it off)");
  }
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SERVER_BACKEND_H_
