// A fixed-capacity hash table of aggregation rows keyed by fixed-size byte
// keys, with rows stored inline and one overflow row for keys beyond
// `max_keys`. All memory is allocated up front, so inserting a key on the
// per-event path never allocates, and Clear() keeps the memory for the next
// window (absl::flat_hash_map frees large tables on clear()).
#ifndef RINGWATCH_DAEMON_AGG_AGG_TABLE_H_
#define RINGWATCH_DAEMON_AGG_AGG_TABLE_H_

#include <cstdint>
#include <cstring>
#include <memory>

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
  // `layout` must outlive the table. `max_keys` 0 makes a table holding the
  // overflow row only (for counters-only partials).
  AggTable(const RowLayout* layout, uint32_t max_keys);
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
    if (size_ >= max_keys_) {
      *overflow = true;
      return overflow_.get();
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
  const uint8_t* key(uint32_t i) const {
    return reinterpret_cast<const uint8_t*>(Row(i));
  }
  const uint64_t* values(uint32_t i) const {
    return Row(i) + layout_->key_words();
  }
  uint64_t* overflow_values() { return overflow_.get(); }
  const uint64_t* overflow_values() const { return overflow_.get(); }
  const RowLayout& layout() const { return *layout_; }

  // Empties the table, keeping its memory.
  void Clear();
  // Adds every row of `other` (same layout) into this table; rows that do
  // not fit go to the overflow row, as does other's overflow row.
  void MergeFrom(const AggTable& other);

 private:
  uint64_t* Row(uint32_t i) const {
    return rows_.get() + static_cast<size_t>(i) * row_words_;
  }

  const RowLayout* layout_;  // Not owned; never null.
  uint32_t max_keys_;
  uint32_t row_words_;
  uint64_t mask_ = 0;  // Slot count - 1 (a power of two >= 2 * max_keys).
  uint32_t size_ = 0;
  // 0 = empty, else (hash >> 32) << 32 | (row index + 1). Linear probing;
  // never more than half full, and rows are never deleted (only Clear()).
  std::unique_ptr<uint64_t[]> slots_;
  // Left uninitialized: a row is written when its key is inserted, so pages
  // of a large, sparsely used table are never touched.
  std::unique_ptr<uint64_t[]> rows_;
  std::unique_ptr<uint64_t[]> overflow_;
};

}  // namespace agg
}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_AGG_AGG_TABLE_H_
