#include "daemon/agg/pending_table.h"

#include <cstdint>
#include <cstring>

#include "daemon/agg/agg_table.h"

namespace ringwatch {
namespace agg {

PendingTable::PendingTable(uint32_t key_bytes, uint32_t payload_bytes,
                           uint32_t capacity)
    : key_words_((key_bytes + 7) / 8),
      payload_words_((payload_bytes + 7) / 8),
      entry_words_(1 + key_words_ + payload_words_) {
  uint64_t sets = 1;
  while (sets * kWays < capacity) sets <<= 1;
  num_sets_ = sets;
  const size_t words = sets * kWays * entry_words_;
  entries_.reset(new uint64_t[words]);
  for (uint64_t s = 0; s < sets; ++s) {
    for (uint32_t w = 0; w < kWays; ++w) Entry(s, w)[0] = 0;
  }
}

uint64_t PendingTable::SetOf(const uint8_t* key) const {
  return HashKey(key, key_words_) & (num_sets_ - 1);
}

PendingTable::InsertResult PendingTable::Insert(const uint8_t* key,
                                                uint64_t timestamp,
                                                const uint8_t* payload) {
  const uint64_t set = SetOf(key);
  const size_t key_size = key_words_ * 8;
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
