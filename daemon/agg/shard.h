// The per-CPU side of the engine: a RecordSink called on one reader thread,
// which runs the compiled programs of each record's event into that CPU's
// open window partials. Single writer: no lock and no atomic
// read-modify-write per event (one CAS per window rotation).
//
// Window handoff. Each (aggregation, CPU) has one `active` partial for the
// window the CPU is in. When a record falls past its end, the reader swaps
// in a fresh partial (CAS) and pushes the full one on the `closed` SPSC queue;
// the merger drains it, folds it into the window and hands the cleared
// partial back on the `free` queue. A CPU that stays quiet never rotates, so
// the merger steals its active partial instead: it CASes a fresh one in,
// runs HeavyFence() and waits for the CPU's ReaderSection (quiescence.h).
// Every record lands in exactly one partial and every partial is merged
// exactly once, into its own window or (if that window already closed) the
// next one, as late events; so windows always add up to the cumulative view.
#ifndef RINGWATCH_DAEMON_AGG_SHARD_H_
#define RINGWATCH_DAEMON_AGG_SHARD_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "daemon/agg/agg_spec.h"
#include "daemon/agg/partial.h"
#include "daemon/agg/pending_table.h"
#include "daemon/agg/quiescence.h"
#include "daemon/agg/record_reader.h"
#include "daemon/agg/spsc_queue.h"
#include "daemon/ring/record.h"

namespace ringwatch {
namespace agg {

class Dispatcher;
struct Program;

inline constexpr uint64_t kUnknownTimestamp = ~uint64_t{0};

// One aggregation's state on one CPU.
struct ShardAgg {
  // `max_partials`: partials the reader may allocate (open windows waiting
  // for the merger, plus the active one); with none left the reader is held
  // back (Shard::HasRoomFor).
  // `account` (may be null) is charged for every table and must outlive
  // the shard.
  ShardAgg(const AggSpec* spec, uint64_t period_ns, uint32_t max_partials,
           uint32_t pairing_items, MemoryAccount* account = nullptr);
  ~ShardAgg();
  ShardAgg(const ShardAgg&) = delete;
  ShardAgg& operator=(const ShardAgg&) = delete;

  const AggSpec* spec;  // Never null.
  const uint64_t period_ns;
  const uint32_t max_partials;
  MemoryAccount* const account;  // May be null.

  // Shared with the merger.
  std::atomic<Partial*> active{nullptr};  // Never null once constructed.
  SpscQueue<Partial*> closed;             // Reader -> merger.
  SpscQueue<Partial*> free;               // Merger -> reader.
  // Cross-CPU latency: starts and ends for the pairing stage.
  std::unique_ptr<SpscRecordRing> pairing;
  // Published by the reader (plain stores) for statistics.
  std::atomic<uint64_t> dropped_no_partial{0};
  std::atomic<uint64_t> pending_size{0};

  // Reader-owned.
  Partial* spare = nullptr;
  std::vector<std::unique_ptr<Partial>> reader_owned;
  uint64_t last_switch = kUnknownTimestamp;  // cpu_time.
  std::unique_ptr<PendingTable> pending;     // Same-CPU latency.
  uint64_t dropped_local = 0;

  // A cleared partial for the reader: spare, free queue, or a new one while
  // under max_partials. nullptr when none.
  Partial* TakeFree();
  // Partials TakeFree can still give, and the closed queue take (reader).
  bool CanRotate(uint32_t times) const;
  // Allocates a partial of this aggregation's shape (any thread; the caller
  // owns it).
  std::unique_ptr<Partial> NewPartial() const;
};

// Byte layout of a pairing item: [timestamp][cpu u32, kind u32]
// [match key][group key][samples of end-event fields].
struct PairingLayout {
  explicit PairingLayout(const AggSpec& spec);
  uint32_t match_offset = 16;
  uint32_t group_offset = 0;
  uint32_t samples_offset = 0;
  uint32_t bytes = 0;
};
inline constexpr uint32_t kPairStart = 1;
inline constexpr uint32_t kPairEnd = 2;

// Figures of one CPU, readable from any thread.
struct ShardCounters {
  uint64_t records = 0;
  uint64_t no_program = 0;  // Records of events no aggregation reads.
  uint64_t lost_events = 0;
  uint64_t lost_unknown = 0;
  uint64_t watermark = 0;
};

class Shard : public RecordSink {
 public:
  // `programs` is the engine's current dispatcher; it outlives the shard.
  Shard(uint32_t cpu, const std::atomic<const Dispatcher*>* programs);
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  void OnRecord(const RecordView& record) override;
  void OnLoss(const LossReport& loss) override;
  void OnDrained(int64_t monotonic_ns) override {
    drained_monotonic_ns_.store(monotonic_ns, std::memory_order_release);
  }
  // Backpressure: room in every aggregation's cross-CPU pairing ring for
  // the items of `records` records, and a partial for the next windows.
  bool HasRoomFor(uint32_t records) override;

  uint32_t cpu() const { return cpu_; }
  ReaderSection& section() { return section_; }
  // Every record with a smaller timestamp has been delivered (0: none yet).
  uint64_t watermark() const {
    return watermark_.load(std::memory_order_acquire);
  }
  bool seen_any() const { return seen_.load(std::memory_order_acquire); }
  // CLOCK_MONOTONIC time as of which this CPU's ring was last seen empty
  // after delivering everything before it (0: never).
  int64_t drained_monotonic_ns() const {
    return drained_monotonic_ns_.load(std::memory_order_acquire);
  }
  ShardCounters counters() const;

 private:
  void Run(const Program& program, const RecordView& record);
  Partial* Rotate(ShardAgg& sa, Partial* p, uint64_t timestamp);
  void RunEvent(const AggSpec& spec, Partial* p, const RecordView& record);
  void RunCpuTime(const AggSpec& spec, ShardAgg& sa, Partial* p,
                  const RecordView& record);
  void RunLatency(const AggSpec& spec, ShardAgg& sa, Partial* p, bool start,
                  const RecordView& record);
  void TrackSwitchPrev(const Dispatcher& d, const RecordView& record);
  void TrackSwitchNext(const Dispatcher& d, const RecordView& record);

  // A counter written by this thread only; others load it.
  static void Bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  const uint32_t cpu_;
  const std::atomic<const Dispatcher*>* programs_;
  ReaderSection section_;
  CommState comm_;
  uint64_t last_timestamp_ = 0;
  alignas(64) std::atomic<uint64_t> watermark_{0};
  std::atomic<bool> seen_{false};
  std::atomic<int64_t> drained_monotonic_ns_{0};
  std::atomic<uint64_t> records_{0};
  std::atomic<uint64_t> no_program_{0};
  std::atomic<uint64_t> lost_events_{0};
  std::atomic<uint64_t> lost_unknown_{0};
};

}  // namespace agg
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_AGG_SHARD_H_
