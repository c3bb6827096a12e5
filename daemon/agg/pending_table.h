// Starts of paired events waiting for their end: a bounded, set-associative
// table (8 ways per set) keyed by fixed-size byte keys. It starts with a few
// sets and doubles them when a set fills, up to `capacity`; at capacity (or
// when the memory budget refuses a doubling) a full set evicts its oldest
// start (counted by the caller). No operation probes more than one set.
#ifndef RINGWATCH_DAEMON_AGG_PENDING_TABLE_H_
#define RINGWATCH_DAEMON_AGG_PENDING_TABLE_H_

#include <cstdint>
#include <memory>

#include "daemon/agg/memory_budget.h"

namespace ringwatch {
namespace agg {

class PendingTable {
 public:
  static constexpr uint32_t kWays = 8;
  static constexpr uint64_t kInitialSets = 8;

  enum class InsertResult {
    kInserted,
    kReplaced,  // The key was pending: its older start was overwritten.
    kEvicted,   // The set was full: its oldest start made room.
  };

  // Room for up to `capacity` starts (rounded up to a power-of-two number of
  // sets; one set can fill, and evict, before the table is full). Each
  // carries `payload_bytes` (rounded up to words). `account` (may be null)
  // is charged for every doubling and must outlive the table.
  PendingTable(uint32_t key_bytes, uint32_t payload_bytes, uint32_t capacity,
               MemoryAccount* account = nullptr);
  ~PendingTable();
  PendingTable(const PendingTable&) = delete;
  PendingTable& operator=(const PendingTable&) = delete;

  InsertResult Insert(const uint8_t* key, uint64_t timestamp,
                      const uint8_t* payload);
  // Removes `key`'s start, copying its timestamp and payload out. False
  // when no start is pending for `key`.
  bool Take(const uint8_t* key, uint64_t* timestamp, uint8_t* payload);

  uint32_t size() const { return size_; }
  // The most starts it can hold once grown.
  uint32_t capacity() const { return max_sets_ * kWays; }
  // Starts it holds room for now.
  uint32_t allocated() const { return num_sets_ * kWays; }
  uint64_t bytes() const { return bytes_; }
  // What a table grown to `capacity` takes.
  static uint64_t BytesFor(uint32_t key_bytes, uint32_t payload_bytes,
                           uint32_t capacity);

 private:
  // Entry words: [timestamp + 1 (0 = free)][key words][payload words].
  uint64_t* Entry(uint64_t set, uint32_t way) {
    return entries_.get() + (set * kWays + way) * entry_words_;
  }
  uint64_t SetOf(const uint8_t* key) const;
  // Doubles the sets if allowed; false at capacity or when refused.
  bool Grow();

  uint32_t key_words_;
  uint32_t payload_words_;
  uint32_t entry_words_;
  uint64_t max_sets_;
  uint64_t num_sets_;
  uint32_t size_ = 0;
  uint64_t bytes_ = 0;
  MemoryAccount* account_;  // Not owned; may be null.
  std::unique_ptr<uint64_t[]> entries_;
};

}  // namespace agg
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_AGG_PENDING_TABLE_H_
