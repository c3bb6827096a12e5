// One live aggregation: its per-CPU shard state, the merger's view of its
// windows (pending partials, the pairing stage), and its results (the latest
// closed window and the cumulative view, which is exactly the sum of the
// closed windows).
#ifndef RINGWATCH_DAEMON_AGG_AGGREGATION_H_
#define RINGWATCH_DAEMON_AGG_AGGREGATION_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"
#include "daemon/agg/agg_spec.h"
#include "daemon/agg/agg_table.h"
#include "daemon/agg/memory_budget.h"
#include "daemon/agg/pairing_stage.h"
#include "daemon/agg/partial.h"
#include "daemon/agg/result_builder.h"
#include "daemon/agg/shard.h"
#include "proto/ringwatch/v1/config.pb.h"

namespace ringwatch {
namespace agg {

struct RuntimeOptions {
  uint64_t period_ns = 1000000000;      // Window, or the flush interval.
  uint32_t max_partials = 64;           // Per CPU (ShardAgg::max_partials).
  uint32_t pairing_items = 65536;       // Per CPU ring of the pairing stage.
  uint64_t pairing_buffered = 1 << 22;  // Items waiting in the stage per CPU.
  uint64_t max_windows_per_pass =
      100000;  // Beyond it empty windows are skipped.
  // The daemon-wide budget the tables are charged to; null: unlimited.
  std::shared_ptr<MemoryBudget> budget;
};

// Worst case of an aggregation's memory with every table at max_keys: the
// merger's three tables (window being merged, latest, cumulative), one
// partial per CPU, the pending starts at max_pending and the cross-CPU
// pairing rings (and the stage's partial and pending table). Partials
// queued for a merger that is behind are not in it: they grow with the
// events of their window only, and the budget caps them at run time.
uint64_t EstimateBytes(const AggSpec& spec, uint32_t num_cpus,
                       const RuntimeOptions& options);

using WindowCallback = std::function<void(const v1::AggregationResult&)>;

class AggRuntime {
 public:
  AggRuntime(std::shared_ptr<const AggSpec> spec, uint32_t num_cpus,
             const RuntimeOptions& options);
  ~AggRuntime();
  AggRuntime(const AggRuntime&) = delete;
  AggRuntime& operator=(const AggRuntime&) = delete;

  const AggSpec& spec() const { return *spec_; }
  uint64_t period_ns() const { return options_.period_ns; }
  uint32_t num_cpus() const { return static_cast<uint32_t>(shards_.size()); }
  ShardAgg& shard(uint32_t cpu) { return *shards_[cpu]; }

  // ---- Merger thread only (the engine serializes these). ----

  // Moves closed partials and pairing items out of the readers' queues,
  // then pairs items below `watermark`.
  void Collect(uint64_t watermark);
  // The last window that can close: every window ending at or before
  // `watermark`; with `final`, the last window holding anything. kNoWindow
  // when there is none.
  uint64_t LastClosable(uint64_t watermark, bool final) const;
  // Takes the active partial of every CPU whose open window is <= w (every
  // CPU with `final`), installing fresh ones; marks the CPUs in `cpus`.
  // The caller then runs HeavyFence() and waits for those CPUs' sections
  // before EndSteals().
  void BeginSteals(uint64_t w, bool final, std::vector<bool>* cpus);
  void EndSteals();
  // Closes every window through w, in order. `publish` gets each window's
  // result when the aggregation is windowed.
  void CloseThrough(uint64_t w, bool live, const WindowCallback& publish);

  // ---- Any thread. ----

  absl::StatusOr<v1::AggregationResult> Query(
      bool cumulative, absl::optional<uint32_t> top_n,
      const std::vector<KeyMatch>& key_filter) const;
  AggCounters CumulativeCounters() const;
  uint64_t windows_closed() const;
  uint64_t steals() const;
  // Starts waiting for their end (approximate while running).
  uint64_t PendingStarts() const;
  // Records dropped because no partial was free (not part of any window).
  uint64_t DroppedNoPartial() const;
  // Heap bytes its tables and rings hold now; the worst case it was
  // admitted with (EstimateBytes); growths refused by the budget.
  uint64_t memory_bytes() const { return account_.bytes(); }
  uint64_t reserved_bytes() const { return reserved_bytes_; }
  uint64_t memory_denied() const { return account_.denied(); }

 private:
  // Partials shaped like the pairing stage's (rows even for cross-CPU
  // latency, whose shard partials only count).
  class StagePool : public PartialPool {
   public:
    StagePool(const AggSpec* spec, MemoryAccount* account)
        : spec_(spec), account_(account) {}
    Partial* GetPartial() override;
    void Put(Partial* p);

   private:
    const AggSpec* spec_;
    MemoryAccount* account_;
    std::vector<Partial*> free_;
    std::vector<std::unique_ptr<Partial>> owned_;
  };

  void CloseOne(uint64_t w, const WindowCallback& publish);
  // A cleared shard-shaped partial.
  Partial* GetShardPartial();
  // Clears `p` and gives it back to `cpu`'s reader or the pool.
  void Recycle(uint32_t cpu, Partial* p);
  void FileSorted(uint32_t cpu, Partial* p);
  void DrainClosed();

  const std::shared_ptr<const AggSpec> spec_;
  const RuntimeOptions options_;
  const uint64_t reserved_bytes_;
  // Before every table: they release their bytes into it when destroyed.
  MemoryAccount account_;
  std::vector<std::unique_ptr<ShardAgg>> shards_;

  // Merger-owned.
  std::vector<std::deque<Partial*>> pending_;  // Per CPU, by window.
  std::vector<Partial*> stolen_;               // Per CPU, until EndSteals.
  std::vector<Partial*> pool_;
  std::vector<std::unique_ptr<Partial>> merger_owned_;
  StagePool stage_pool_;
  std::unique_ptr<PairingStage> stage_;
  uint64_t next_window_ = kNoWindow;
  std::unique_ptr<AggTable> window_table_;

  mutable absl::Mutex mu_;
  std::unique_ptr<AggTable> latest_ ABSL_GUARDED_BY(mu_);
  ResultMeta latest_meta_ ABSL_GUARDED_BY(mu_);
  bool have_latest_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<AggTable> cumulative_ ABSL_GUARDED_BY(mu_);
  ResultMeta cumulative_meta_ ABSL_GUARDED_BY(mu_);
  uint64_t steals_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t stage_pending_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace agg
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_AGG_AGGREGATION_H_
