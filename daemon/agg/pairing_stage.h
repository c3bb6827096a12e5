// Pairs latency starts and ends that may happen on different CPUs
// (sched_waking on one CPU, sched_switch on another; a syscall that blocks
// and returns elsewhere; a block request completed by another CPU's IRQ).
//
// Why a stage fed in timestamp order rather than a shared pending table:
// a table shared by the readers needs an atomic read-modify-write (or a
// lock) per start and end, and pairing two CPUs' events correctly needs
// their order, which two readers running at different speeds do not
// give. Instead each reader pushes compact start/end items on its own SPSC
// ring (a few stores); the merger thread drains the rings and pairs the
// items in (timestamp, cpu) order, but only below the engine watermark,
// i.e. once every CPU has delivered everything older. One pending table,
// one writer, deterministic pairing (live and replay give the same pairs).
// The cost is latency of results (up to the idle grace) and memory for
// items waiting for the watermark, which is bounded: a full stage leaves
// items in the readers' rings, which then hold their readers back.
#ifndef RINGWATCH_DAEMON_AGG_PAIRING_STAGE_H_
#define RINGWATCH_DAEMON_AGG_PAIRING_STAGE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "daemon/agg/agg_spec.h"
#include "daemon/agg/partial.h"
#include "daemon/agg/pending_table.h"
#include "daemon/agg/shard.h"

namespace ringwatch {
namespace agg {

// Where the stage gets cleared partials and returns them.
class PartialPool {
 public:
  virtual ~PartialPool() = default;
  virtual Partial* GetPartial() = 0;
};

class PairingStage {
 public:
  // `max_buffered` items wait per CPU for the watermark; more stay in the
  // CPU's ring until Process makes room.
  PairingStage(const AggSpec* spec, uint64_t period_ns, uint32_t num_cpus,
               PartialPool* pool, uint64_t max_buffered);
  PairingStage(const PairingStage&) = delete;
  PairingStage& operator=(const PairingStage&) = delete;

  // Moves the items of `cpu`'s ring into the stage.
  void Drain(uint32_t cpu, SpscRecordRing* ring);
  // Pairs every buffered item with timestamp < limit, in (timestamp, cpu)
  // order.
  void Process(uint64_t limit);
  // Appends the partials of windows <= w to `out` (the caller recycles them).
  void TakeThrough(uint64_t w, std::vector<Partial*>* out);
  // Smallest and largest window holding data, or kNoWindow.
  uint64_t MinWindow() const;
  uint64_t MaxWindow() const;

  uint32_t pending_starts() const { return pending_.size(); }
  uint64_t buffered() const;

 private:
  struct CpuBuffer {
    std::vector<uint8_t> bytes;
    size_t read = 0;  // Offset of the next item.
  };
  Partial* PartialFor(uint64_t timestamp);
  void Handle(uint32_t cpu, const uint8_t* item);

  const AggSpec* spec_;
  const uint64_t period_ns_;
  const PairingLayout layout_;
  PartialPool* pool_;
  const uint64_t max_buffered_;
  std::vector<CpuBuffer> buffers_;
  PendingTable pending_;
  Partial* current_ = nullptr;    // The newest window's partial.
  std::vector<Partial*> closed_;  // Older windows, ascending.
  std::vector<uint8_t> group_;    // Scratch: key_bytes.
};

}  // namespace agg
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_AGG_PAIRING_STAGE_H_
