// The daemon-wide memory budget (config `limits { max_memory: "256MiB" }`)
// and each aggregation's account in it.
//
// Two figures are kept against one limit:
//  - reserved: the worst case of every admitted aggregation at its max_keys
//    (EstimateBytes in aggregation.h). Admission (config load, reload,
//    CreateAggregation) refuses what would take it past the limit.
//  - used: what the tables hold right now. They start small and grow as
//    keys arrive; a growth that would take `used` past the limit is refused
//    and the key goes to the overflow row (counted) instead.
// Growth is rare (a doubling), so the accounting is two atomic adds per
// growth and never touches the per-event path.
#ifndef RINGWATCH_DAEMON_AGG_MEMORY_BUDGET_H_
#define RINGWATCH_DAEMON_AGG_MEMORY_BUDGET_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ringwatch {
namespace agg {

// Sized for a monitoring agent: the default config needs about 20 MiB at
// its max_keys on a 2-CPU host, and a few more aggregations fit beside it.
inline constexpr uint64_t kDefaultMaxMemoryBytes = uint64_t{256} << 20;
inline constexpr char kDefaultMaxMemory[] = "256MiB";
inline constexpr uint64_t kMinMaxMemoryBytes = uint64_t{1} << 20;
inline constexpr uint64_t kMaxMaxMemoryBytes = uint64_t{1} << 40;

// "256MiB", "1GiB", "512KiB", "64MB" (decimal), "1048576" (bytes), within
// [kMinMaxMemoryBytes, kMaxMaxMemoryBytes]. Errors say what was wrong
// without naming the field.
absl::StatusOr<uint64_t> ParseMemorySize(absl::string_view text);
// "12.3 MiB".
std::string FormatMemory(uint64_t bytes);

class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit_bytes) : limit_(limit_bytes) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  uint64_t limit() const { return limit_.load(std::memory_order_relaxed); }
  void set_limit(uint64_t bytes) {
    limit_.store(bytes, std::memory_order_relaxed);
  }
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }

  // Adds `bytes` to used unless that would pass the limit.
  bool TryCharge(uint64_t bytes);
  // Adds `bytes` whatever the limit (allocations admitted with their
  // aggregation, such as fixed rings).
  void Charge(uint64_t bytes) {
    used_.fetch_add(bytes, std::memory_order_relaxed);
  }
  void Release(uint64_t bytes) {
    used_.fetch_sub(bytes, std::memory_order_relaxed);
  }

 private:
  std::atomic<uint64_t> limit_;
  std::atomic<uint64_t> used_{0};
};

// One aggregation's share of the budget: what its tables hold, and how
// often a growth was refused. Thread-safe; outlives every table charging it.
class MemoryAccount {
 public:
  // A null budget: accounted, never refused (tests, tools).
  explicit MemoryAccount(std::shared_ptr<MemoryBudget> budget)
      : budget_(std::move(budget)) {}
  // Gives back whatever is still charged.
  ~MemoryAccount();
  MemoryAccount(const MemoryAccount&) = delete;
  MemoryAccount& operator=(const MemoryAccount&) = delete;

  bool TryCharge(uint64_t bytes);
  void Charge(uint64_t bytes);
  void Release(uint64_t bytes);

  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  // Growths refused because the budget was exhausted.
  uint64_t denied() const { return denied_.load(std::memory_order_relaxed); }

 private:
  const std::shared_ptr<MemoryBudget> budget_;
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> denied_{0};
};

}  // namespace agg
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_AGG_MEMORY_BUDGET_H_
