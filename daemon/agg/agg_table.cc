#include "daemon/agg/agg_table.h"

#include <cstdint>
#include <cstring>

namespace ringwatch {
namespace agg {

AggTable::AggTable(const RowLayout* layout, uint32_t max_keys)
    : layout_(layout),
      max_keys_(max_keys),
      row_words_(layout->key_words() + layout->value_words()) {
  uint64_t slots = 2;
  while (slots < 2 * static_cast<uint64_t>(max_keys)) slots <<= 1;
  mask_ = slots - 1;
  slots_.reset(new uint64_t[slots]);
  std::memset(slots_.get(), 0, slots * sizeof(uint64_t));
  if (max_keys > 0) {
    rows_.reset(new uint64_t[static_cast<size_t>(max_keys) * row_words_]);
  }
  overflow_.reset(new uint64_t[layout->value_words()]);
  layout_->Init(overflow_.get());
}

const uint64_t* AggTable::Find(const uint8_t* key) const {
  const uint64_t h = HashKey(key, layout_->key_words());
  const uint64_t tag = h >> 32;
  for (uint64_t pos = h & mask_;; pos = (pos + 1) & mask_) {
    const uint64_t slot = slots_[pos];
    if (slot == 0) return nullptr;
    if ((slot >> 32) == tag) {
      const uint64_t* row = Row(static_cast<uint32_t>(slot) - 1);
      if (KeyEquals(row, key, layout_->key_words())) {
        return row + layout_->key_words();
      }
    }
  }
}

void AggTable::Clear() {
  if (size_ > 0) {
    std::memset(slots_.get(), 0, (mask_ + 1) * sizeof(uint64_t));
    size_ = 0;
  }
  layout_->Init(overflow_.get());
}

void AggTable::MergeFrom(const AggTable& other) {
  for (uint32_t i = 0; i < other.size_; ++i) {
    bool overflow;
    uint64_t* dst = FindOrInsert(other.key(i), &overflow);
    layout_->Merge(dst, other.values(i));
  }
  layout_->Merge(overflow_.get(), other.overflow_.get());
}

}  // namespace agg
}  // namespace ringwatch
