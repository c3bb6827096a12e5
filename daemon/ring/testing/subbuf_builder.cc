#include "daemon/ring/testing/subbuf_builder.h"

#include <cstring>

namespace ringwatch {

SubbufBuilder::SubbufBuilder(uint64_t timestamp, uint32_t size)
    : timestamp_(timestamp), size_(size) {}

void SubbufBuilder::Put32(uint32_t v) {
  uint8_t b[4];
  std::memcpy(b, &v, 4);
  data_.insert(data_.end(), b, b + 4);
}

void SubbufBuilder::Header(uint32_t type_len, uint32_t delta) {
  Put32((type_len & 0x1f) | (delta << 5));
}

SubbufBuilder& SubbufBuilder::Data(uint32_t delta, absl::string_view payload) {
  const uint32_t padded = (payload.size() + 3) / 4 * 4;
  if (padded == 0 || padded > 112) return LongData(delta, payload);
  Header(padded / 4, delta);
  data_.insert(data_.end(), payload.begin(), payload.end());
  data_.resize(data_.size() + padded - payload.size(), 0);
  return *this;
}

SubbufBuilder& SubbufBuilder::LongData(uint32_t delta,
                                       absl::string_view payload) {
  const uint32_t padded = (payload.size() + 3) / 4 * 4;
  Header(0, delta);
  Put32(4 + padded);
  data_.insert(data_.end(), payload.begin(), payload.end());
  data_.resize(data_.size() + padded - payload.size(), 0);
  return *this;
}

SubbufBuilder& SubbufBuilder::Discarded(uint32_t delta, uint32_t length) {
  Header(29, delta);
  Put32(length - 4);
  data_.resize(data_.size() + length - 8, 0xdd);
  return *this;
}

SubbufBuilder& SubbufBuilder::EndPadding() {
  Header(29, 0);
  return *this;
}

SubbufBuilder& SubbufBuilder::TimeExtend(uint64_t delta) {
  Header(30, static_cast<uint32_t>(delta & ((1u << 27) - 1)));
  Put32(static_cast<uint32_t>(delta >> 27));
  return *this;
}

SubbufBuilder& SubbufBuilder::TimeStamp(uint64_t time) {
  Header(31, static_cast<uint32_t>(time & ((1u << 27) - 1)));
  Put32(static_cast<uint32_t>(time >> 27));
  return *this;
}

SubbufBuilder& SubbufBuilder::Raw32(uint32_t word) {
  Put32(word);
  return *this;
}

SubbufBuilder& SubbufBuilder::MissedStored(uint64_t count) {
  missed_ = true;
  stored_ = true;
  missed_count_ = count;
  return *this;
}

SubbufBuilder& SubbufBuilder::MissedUnknown() {
  missed_ = true;
  stored_ = false;
  return *this;
}

std::vector<uint8_t> SubbufBuilder::Build() const {
  std::vector<uint8_t> page(size_, 0);
  std::memcpy(page.data(), &timestamp_, 8);
  int64_t commit = static_cast<int64_t>(data_.size());
  // The kernel's local_add() of (1 << 31) and (1 << 30), both ints.
  if (stored_) commit += static_cast<int32_t>(1u << 30);
  if (missed_) commit += static_cast<int32_t>(1u << 31);
  std::memcpy(page.data() + 8, &commit, 8);
  const size_t n = std::min<size_t>(data_.size(), size_ - 16);
  if (n > 0) std::memcpy(page.data() + 16, data_.data(), n);
  if (stored_ && 16 + data_.size() + 8 <= size_) {
    std::memcpy(page.data() + 16 + data_.size(), &missed_count_, 8);
  }
  return page;
}

std::string SubbufBuilder::Payload(uint16_t id, absl::string_view text) {
  std::string out(8, '\0');
  std::memcpy(&out[0], &id, 2);
  out.append(text.data(), text.size());
  return out;
}

}  // namespace ringwatch
