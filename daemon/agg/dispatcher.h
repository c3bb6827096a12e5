// Maps an event id to the programs that consume it: a dense table indexed by
// id (ids are small: the kernel numbers events from 1 up), built once per set
// of aggregations and swapped atomically when aggregations are added or
// removed. Immutable once built.
#ifndef RINGWATCH_DAEMON_AGG_DISPATCHER_H_
#define RINGWATCH_DAEMON_AGG_DISPATCHER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/types/span.h"
#include "daemon/event/event_catalog.h"
#include "daemon/event/event_format.h"

namespace ringwatch {
namespace agg {

class AggRuntime;

enum class Role : uint8_t { kEvent, kCpuTime, kLatencyStart, kLatencyEnd };

struct Program {
  Role role = Role::kEvent;
  AggRuntime* agg = nullptr;  // Kept alive by the Dispatcher.
};

class Dispatcher {
 public:
  // Programs in aggregation order. sched_switch is tracked for comm when
  // any aggregation needs it and the catalog has the event.
  static std::unique_ptr<Dispatcher> Build(
      std::vector<std::shared_ptr<AggRuntime>> aggs,
      const EventCatalog& catalog);

  absl::Span<const Program> ForId(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) + 1 >= begin_.size()) return {};
    return absl::MakeConstSpan(programs_.data() + begin_[id],
                               begin_[id + 1] - begin_[id]);
  }

  const std::vector<std::shared_ptr<AggRuntime>>& aggs() const { return aggs_; }

  // Comm tracking (record_reader.h CommState).
  bool track_comm() const { return track_comm_; }
  int32_t switch_id() const { return switch_id_; }
  const FieldFormat& prev_pid() const { return prev_pid_; }
  const FieldFormat& prev_comm() const { return prev_comm_; }
  const FieldFormat& next_pid() const { return next_pid_; }
  const FieldFormat& next_comm() const { return next_comm_; }

 private:
  Dispatcher() = default;

  std::vector<std::shared_ptr<AggRuntime>> aggs_;
  std::vector<uint32_t> begin_;  // By id; begin_[id + 1] ends id's run.
  std::vector<Program> programs_;
  bool track_comm_ = false;
  int32_t switch_id_ = -1;
  FieldFormat prev_pid_, prev_comm_, next_pid_, next_comm_;
};

}  // namespace agg
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_AGG_DISPATCHER_H_
