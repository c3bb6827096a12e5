// One window's share of an aggregation on one CPU (or in the cross-CPU
// pairing stage): its rows and counters. Written by one thread at a time;
// ownership moves between a reader and the merger through SPSC queues or
// a steal (see shard.h).
#ifndef RINGWATCH_DAEMON_AGG_PARTIAL_H_
#define RINGWATCH_DAEMON_AGG_PARTIAL_H_

#include <atomic>
#include <cstdint>
#include <limits>

#include "daemon/agg/agg_table.h"
#include "daemon/agg/memory_budget.h"
#include "daemon/agg/row_layout.h"
#include "proto/ringwatch/v1/config.pb.h"

namespace ringwatch {
namespace agg {

inline constexpr uint64_t kNoWindow = std::numeric_limits<uint64_t>::max();

// Per-window event accounting (see v1::AggregationCounters).
struct AggCounters {
  uint64_t matched = 0;
  uint64_t filtered = 0;
  uint64_t dropped = 0;
  uint64_t overflow = 0;
  uint64_t late = 0;
  uint64_t starts = 0;
  uint64_t ends = 0;
  uint64_t unmatched_ends = 0;
  uint64_t evicted_starts = 0;
  uint64_t replaced_starts = 0;
  uint64_t negative = 0;
  uint64_t unknown_slice_starts = 0;

  void Add(const AggCounters& o) {
    matched += o.matched;
    filtered += o.filtered;
    dropped += o.dropped;
    overflow += o.overflow;
    late += o.late;
    starts += o.starts;
    ends += o.ends;
    unmatched_ends += o.unmatched_ends;
    evicted_starts += o.evicted_starts;
    replaced_starts += o.replaced_starts;
    negative += o.negative;
    unknown_slice_starts += o.unknown_slice_starts;
  }
  // Events this window saw in any way.
  uint64_t events() const {
    return matched + filtered + dropped + unknown_slice_starts;
  }
  void ToProto(v1::AggregationCounters* out) const {
    out->set_events_matched(matched);
    out->set_events_filtered(filtered);
    out->set_events_dropped(dropped);
    out->set_overflow_events(overflow);
    out->set_late_events(late);
    out->set_starts(starts);
    out->set_ends(ends);
    out->set_unmatched_ends(unmatched_ends);
    out->set_evicted_starts(evicted_starts);
    out->set_replaced_starts(replaced_starts);
    out->set_negative_latencies(negative);
    out->set_unknown_slice_starts(unknown_slice_starts);
  }
};

struct Partial {
  // `account` (may be null) is charged for the table and must outlive it.
  Partial(const RowLayout* layout, uint32_t max_keys,
          MemoryAccount* account = nullptr)
      : table(layout, max_keys, account) {}

  // Window `w` of length `period`: [w * period, (w + 1) * period).
  void Label(uint64_t w, uint64_t period) {
    window = w;
    start = w * period;
    end = start + period;
    if (end < start) end = std::numeric_limits<uint64_t>::max();
  }
  void Reset() {
    window = kNoWindow;
    start = end = 0;  // end 0: the first record relabels it.
    dirty.store(false, std::memory_order_relaxed);
    counters = AggCounters();
    table.Clear();
  }

  uint64_t window = kNoWindow;
  uint64_t start = 0;
  uint64_t end = 0;
  // Something was counted: it must be merged, and cannot be relabelled.
  // Set once by the thread filling it (release: the label is final), read
  // by the merger deciding whether an open partial is worth stealing.
  std::atomic<bool> dirty{false};
  AggCounters counters;
  AggTable table;
};

}  // namespace agg
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_AGG_PARTIAL_H_
