#include "daemon/agg/agg_table.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace ringwatch {
namespace agg {

uint64_t AggTable::SlotsFor(uint32_t capacity) {
  uint64_t slots = 2;
  while (slots < 2 * static_cast<uint64_t>(capacity)) slots <<= 1;
  return slots;
}

uint64_t AggTable::BytesFor(const RowLayout& layout, uint32_t keys) {
  const uint64_t row_words = layout.key_words() + layout.value_words();
  return 8 * (SlotsFor(keys) + static_cast<uint64_t>(keys) * row_words +
              layout.value_words());
}

AggTable::AggTable(const RowLayout* layout, uint32_t max_keys,
                   MemoryAccount* account)
    : layout_(layout),
      account_(account),
      max_keys_(max_keys),
      row_words_(layout->key_words() + layout->value_words()) {
  overflow_.reset(new uint64_t[layout->value_words()]);
  layout_->Init(overflow_.get());
  uint32_t capacity = std::min(max_keys, kInitialKeys);
  if (account_ != nullptr) {
    // The overflow row and two slots every table needs are charged whatever
    // the budget; room for keys is asked for like any growth.
    const uint64_t minimum = BytesFor(*layout_, 0);
    if (capacity > 0 &&
        !account_->TryCharge(BytesFor(*layout_, capacity) - minimum)) {
      capacity = 0;
    }
    account_->Charge(minimum);
  }
  Allocate(capacity);
}

AggTable::~AggTable() {
  if (account_ != nullptr) account_->Release(bytes_);
}

void AggTable::Allocate(uint32_t capacity) {
  bytes_ = BytesFor(*layout_, capacity);
  capacity_ = capacity;
  const uint64_t slots = SlotsFor(capacity);
  mask_ = slots - 1;
  slots_.reset(new uint64_t[slots]);
  std::memset(slots_.get(), 0, slots * sizeof(uint64_t));
  rows_.reset(capacity > 0
                  ? new uint64_t[static_cast<size_t>(capacity) * row_words_]
                  : nullptr);
  size_ = 0;
}

bool AggTable::Grow() {
  if (capacity_ >= max_keys_) return false;
  const uint32_t capacity = static_cast<uint32_t>(std::min<uint64_t>(
      max_keys_, std::max<uint64_t>(kInitialKeys, 2 * uint64_t{capacity_})));
  const uint64_t bytes = BytesFor(*layout_, capacity);
  if (account_ != nullptr && !account_->TryCharge(bytes - bytes_)) {
    return false;
  }
  bytes_ = bytes;
  std::unique_ptr<uint64_t[]> rows(
      new uint64_t[static_cast<size_t>(capacity) * row_words_]);
  if (size_ > 0) {
    std::memcpy(rows.get(), rows_.get(),
                static_cast<size_t>(size_) * row_words_ * sizeof(uint64_t));
  }
  rows_ = std::move(rows);
  capacity_ = capacity;
  const uint64_t slots = SlotsFor(capacity);
  mask_ = slots - 1;
  slots_.reset(new uint64_t[slots]);
  std::memset(slots_.get(), 0, slots * sizeof(uint64_t));
  for (uint32_t i = 0; i < size_; ++i) {
    const uint64_t h =
        HashKey(reinterpret_cast<const uint8_t*>(Row(i)), layout_->key_words());
    slots_[EmptySlot(h)] = ((h >> 32) << 32) | (i + 1);
  }
  return true;
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
  // A table that used under a quarter of its room gives the rest back (a
  // burst of keys does not pin memory); one that used more keeps it, so a
  // steady stream of keys does not regrow every window.
  if (capacity_ > kInitialKeys && uint64_t{size_} * 4 <= capacity_) {
    uint32_t capacity = kInitialKeys;
    while (capacity < 2 * size_) capacity *= 2;
    const uint64_t before = bytes_;
    Allocate(std::min(capacity, max_keys_));
    if (account_ != nullptr) account_->Release(before - bytes_);
  } else if (size_ > 0) {
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
