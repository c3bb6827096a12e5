#include "daemon/agg/pending_table.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "daemon/agg/agg_table.h"

namespace ringwatch {
namespace agg {
namespace {

uint64_t SetsFor(uint32_t capacity) {
  uint64_t sets = 1;
  while (sets * PendingTable::kWays < capacity) sets <<= 1;
  return sets;
}

}  // namespace

uint64_t PendingTable::BytesFor(uint32_t key_bytes, uint32_t payload_bytes,
                                uint32_t capacity) {
  const uint64_t entry_words =
      1 + (key_bytes + 7) / 8 + (payload_bytes + 7) / 8;
  return SetsFor(capacity) * kWays * entry_words * 8;
}

PendingTable::PendingTable(uint32_t key_bytes, uint32_t payload_bytes,
                           uint32_t capacity, MemoryAccount* account)
    : key_words_((key_bytes + 7) / 8),
      payload_words_((payload_bytes + 7) / 8),
      entry_words_(1 + key_words_ + payload_words_),
      max_sets_(SetsFor(capacity)),
      num_sets_(std::min(max_sets_, kInitialSets)),
      account_(account) {
  bytes_ = num_sets_ * kWays * entry_words_ * 8;
  if (account_ != nullptr) account_->Charge(bytes_);
  const size_t words = num_sets_ * kWays * entry_words_;
  entries_.reset(new uint64_t[words]);
  for (uint64_t s = 0; s < num_sets_; ++s) {
    for (uint32_t w = 0; w < kWays; ++w) Entry(s, w)[0] = 0;
  }
}

PendingTable::~PendingTable() {
  if (account_ != nullptr) account_->Release(bytes_);
}

uint64_t PendingTable::SetOf(const uint8_t* key) const {
  return HashKey(key, key_words_) & (num_sets_ - 1);
}

bool PendingTable::Grow() {
  if (num_sets_ >= max_sets_) return false;
  const uint64_t sets = num_sets_ * 2;
  const uint64_t bytes = sets * kWays * entry_words_ * 8;
  if (account_ != nullptr && !account_->TryCharge(bytes - bytes_)) {
    return false;
  }
  std::unique_ptr<uint64_t[]> old = std::move(entries_);
  const uint64_t old_sets = num_sets_;
  bytes_ = bytes;
  num_sets_ = sets;
  entries_.reset(new uint64_t[sets * kWays * entry_words_]);
  for (uint64_t s = 0; s < sets; ++s) {
    for (uint32_t w = 0; w < kWays; ++w) Entry(s, w)[0] = 0;
  }
  // A set's entries split between two sets of the doubled table: they
  // always fit, and keep their timestamps (the eviction order).
  std::vector<uint32_t> used(sets, 0);
  for (uint64_t i = 0; i < old_sets * kWays; ++i) {
    const uint64_t* e = old.get() + i * entry_words_;
    if (e[0] == 0) continue;
    const uint64_t set = SetOf(reinterpret_cast<const uint8_t*>(e + 1));
    std::memcpy(Entry(set, used[set]++), e, entry_words_ * 8);
  }
  return true;
}

PendingTable::InsertResult PendingTable::Insert(const uint8_t* key,
                                                uint64_t timestamp,
                                                const uint8_t* payload) {
  const size_t key_size = key_words_ * 8;
  for (;;) {
    const uint64_t set = SetOf(key);
    uint64_t* target = nullptr;
    uint64_t* oldest = nullptr;
    InsertResult result = InsertResult::kInserted;
    for (uint32_t w = 0; w < kWays; ++w) {
      uint64_t* e = Entry(set, w);
      if (e[0] == 0) {
        if (target == nullptr) target = e;
        continue;
      }
      if (std::memcmp(e + 1, key, key_size) == 0) {
        target = e;
        result = InsertResult::kReplaced;
        break;
      }
      if (oldest == nullptr || e[0] < oldest[0]) oldest = e;
    }
    if (target == nullptr) {
      // A full set: make room by doubling while allowed, else evict.
      if (Grow()) continue;
      target = oldest;
      result = InsertResult::kEvicted;
    } else if (result == InsertResult::kInserted) {
      ++size_;
    }
    target[0] = timestamp + 1;
    std::memcpy(target + 1, key, key_size);
    if (payload_words_ > 0) {
      std::memcpy(target + 1 + key_words_, payload, payload_words_ * 8);
    }
    return result;
  }
}

bool PendingTable::Take(const uint8_t* key, uint64_t* timestamp,
                        uint8_t* payload) {
  const uint64_t set = SetOf(key);
  const size_t key_size = key_words_ * 8;
  for (uint32_t w = 0; w < kWays; ++w) {
    uint64_t* e = Entry(set, w);
    if (e[0] != 0 && std::memcmp(e + 1, key, key_size) == 0) {
      *timestamp = e[0] - 1;
      if (payload_words_ > 0) {
        std::memcpy(payload, e + 1 + key_words_, payload_words_ * 8);
      }
      e[0] = 0;
      --size_;
      return true;
    }
  }
  return false;
}

}  // namespace agg
}  // namespace ringwatch
