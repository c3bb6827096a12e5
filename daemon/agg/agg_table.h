// A hash table of aggregation rows keyed by fixed-size byte keys, with rows
// stored inline and one overflow row for keys beyond `max_keys`. It starts
// with room for a few keys and doubles as keys arrive, up to max_keys, so
// memory follows use rather than max_keys. Every growth is charged to a
// MemoryAccount first; when the budget refuses, further new keys go to the
// overflow row. Growth is amortized (log2(max_keys) doublings at most), so
// the per-event path allocates only when a table doubles. Clear() keeps the
// memory for the next window unless the last window used under a quarter of
// it (absl::flat_hash_map frees large tables on clear(), and would regrow
// them every window).
#ifndef RINGWATCH_DAEMON_AGG_AGG_TABLE_H_
#define RINGWATCH_DAEMON_AGG_AGG_TABLE_H_

#include <cstdint>
#include <cstring>
#include <memory>

#include "absl/base/optimization.h"
#include "daemon/agg/memory_budget.h"
#include "daemon/agg/row_layout.h"

namespace ringwatch {
namespace agg {

// Mixes the words of a key. Keys are zero-padded to whole words. The
// per-word multiplies are independent (no chain through the running hash),
// so a three-word key costs about one multiply latency plus the final mix.
inline uint64_t HashKey(const uint8_t* key, uint32_t words) {
  uint64_t h = words;
  for (uint32_t i = 0; i < words; ++i) {
    uint64_t w;
    std::memcpy(&w, key + 8 * i, sizeof(w));
    h += (w ^ (0x9E3779B97F4A7C15ull * (i + 1))) * 0xBF58476D1CE4E5B9ull;
  }
  h ^= h >> 31;
  h *= 0x94D049BB133111EBull;
  return h ^ (h >> 29);
}

// Word-by-word comparison of a stored key with `key`: keys are a few words,
// and an inlined loop beats a call to memcmp on the per-event path.
inline bool KeyEquals(const uint64_t* stored, const uint8_t* key,
                      uint32_t words) {
  for (uint32_t i = 0; i < words; ++i) {
    uint64_t w;
    std::memcpy(&w, key + 8 * i, sizeof(w));
    if (stored[i] != w) return false;
  }
  return true;
}

class AggTable {
 public:
  // Room for this many keys before the first growth.
  static constexpr uint32_t kInitialKeys = 8;

  // `layout` must outlive the table; so must `account` (null: growth is
  // never refused). `max_keys` 0 makes a table holding the overflow row
  // only (for counters-only partials); so does a budget that refuses even
  // the first few keys.
  AggTable(const RowLayout* layout, uint32_t max_keys,
           MemoryAccount* account = nullptr);
  ~AggTable();
  AggTable(const AggTable&) = delete;
  AggTable& operator=(const AggTable&) = delete;

  // The values of `key`'s row (layout.key_bytes() bytes), inserted zeroed
  // when new. When the table is full, the overflow row, with *overflow set.
  uint64_t* FindOrInsert(const uint8_t* key, bool* overflow) {
    const uint64_t h = HashKey(key, layout_->key_words());
    const uint64_t tag = h >> 32;
    uint64_t pos = h & mask_;
    for (;;) {
      const uint64_t slot = slots_[pos];
      if (slot == 0) break;
      if ((slot >> 32) == tag) {
        uint64_t* row = Row(static_cast<uint32_t>(slot) - 1);
        if (KeyEquals(row, key, layout_->key_words())) {
          *overflow = false;
          return row + layout_->key_words();
        }
      }
      pos = (pos + 1) & mask_;
    }
    if (ABSL_PREDICT_FALSE(size_ >= capacity_)) {
      if (!Grow()) {
        *overflow = true;
        return overflow_.get();
      }
      pos = EmptySlot(h);
    }
    const uint32_t index = size_++;
    slots_[pos] = (tag << 32) | (index + 1);
    uint64_t* row = Row(index);
    std::memcpy(row, key, layout_->key_bytes());
    layout_->Init(row + layout_->key_words());
    *overflow = false;
    return row + layout_->key_words();
  }

  // Looks `key` up without inserting; nullptr when absent.
  const uint64_t* Find(const uint8_t* key) const;

  uint32_t size() const { return size_; }
  uint32_t max_keys() const { return max_keys_; }
  // Keys that fit before the next growth.
  uint32_t capacity() const { return capacity_; }
  // Heap bytes held (slots, rows, overflow row), as charged.
  uint64_t bytes() const { return bytes_; }
  // What a table holding `keys` keys takes (its worst case at max_keys).
  static uint64_t BytesFor(const RowLayout& layout, uint32_t keys);
  const uint8_t* key(uint32_t i) const {
    return reinterpret_cast<const uint8_t*>(Row(i));
  }
  const uint64_t* values(uint32_t i) const {
    return Row(i) + layout_->key_words();
  }
  uint64_t* overflow_values() { return overflow_.get(); }
  const uint64_t* overflow_values() const { return overflow_.get(); }
  const RowLayout& layout() const { return *layout_; }

  // Empties the table, keeping its memory unless it was mostly unused.
  void Clear();
  // Adds every row of `other` (same layout) into this table; rows that do
  // not fit go to the overflow row, as does other's overflow row.
  void MergeFrom(const AggTable& other);

 private:
  uint64_t* Row(uint32_t i) const {
    return rows_.get() + static_cast<size_t>(i) * row_words_;
  }

  // Doubles the capacity (up to max_keys) if the account allows, moving the
  // rows and rehashing the slots. False when at max_keys or refused.
  bool Grow();
  // Replaces the storage with an empty table with room for `capacity` keys
  // (the caller accounts for the change in bytes()).
  void Allocate(uint32_t capacity);
  // The first empty slot on `h`'s probe sequence.
  uint64_t EmptySlot(uint64_t h) const {
    uint64_t pos = h & mask_;
    while (slots_[pos] != 0) pos = (pos + 1) & mask_;
    return pos;
  }
  static uint64_t SlotsFor(uint32_t capacity);

  const RowLayout* layout_;  // Not owned; never null.
  MemoryAccount* account_;   // Not owned; may be null.
  uint32_t max_keys_;
  uint32_t row_words_;
  uint32_t capacity_ = 0;  // <= max_keys_.
  uint64_t mask_ = 0;      // Slot count - 1 (a power of two >= 2 * capacity).
  uint32_t size_ = 0;
  uint64_t bytes_ = 0;
  // 0 = empty, else (hash >> 32) << 32 | (row index + 1). Linear probing;
  // never more than half full, and rows are never deleted (only Clear()).
  std::unique_ptr<uint64_t[]> slots_;
  // Room for capacity_ rows; a row is written when its key is inserted.
  std::unique_ptr<uint64_t[]> rows_;
  std::unique_ptr<uint64_t[]> overflow_;
};

}  // namespace agg
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_AGG_AGG_TABLE_H_
