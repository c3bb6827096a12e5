#include "daemon/agg/pairing_stage.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace ringwatch {
namespace agg {

PairingStage::PairingStage(const AggSpec* spec, uint64_t period_ns,
                           uint32_t num_cpus, PartialPool* pool,
                           uint64_t max_buffered)
    : spec_(spec),
      period_ns_(period_ns),
      layout_(*spec),
      pool_(pool),
      max_buffered_(max_buffered),
      buffers_(num_cpus),
      pending_(spec->match_bytes, spec->key_bytes, spec->max_pending),
      group_(spec->key_bytes + 8) {}

void PairingStage::Drain(uint32_t cpu, SpscRecordRing* ring) {
  CpuBuffer& b = buffers_[cpu];
  // Compact once the consumed prefix dominates, so the buffer stays small.
  if (b.read > 0 && b.read * 2 >= b.bytes.size()) {
    b.bytes.erase(b.bytes.begin(), b.bytes.begin() + b.read);
    b.read = 0;
  }
  // Backpressure: when full, the rest stays in the ring, whose reader is
  // then held back (Shard::HasRoomFor) with its data in the kernel's ring.
  // The CPU with the lowest watermark always has its items below the
  // watermark, so Process frees room and this cannot deadlock.
  for (const uint8_t* item = ring->Front();
       item != nullptr &&
       (b.bytes.size() - b.read) / layout_.bytes < max_buffered_;
       item = ring->Front()) {
    b.bytes.insert(b.bytes.end(), item, item + layout_.bytes);
    ring->Release();
  }
}

uint64_t PairingStage::buffered() const {
  uint64_t n = 0;
  for (const CpuBuffer& b : buffers_) {
    n += (b.bytes.size() - b.read) / layout_.bytes;
  }
  return n;
}

Partial* PairingStage::PartialFor(uint64_t timestamp) {
  const uint64_t w = timestamp / period_ns_;
  if (current_ == nullptr) {
    current_ = pool_->GetPartial();
    current_->Label(w, period_ns_);
  } else if (w > current_->window) {
    closed_.push_back(current_);
    current_ = pool_->GetPartial();
    current_->Label(w, period_ns_);
  }
  current_->dirty.store(true, std::memory_order_relaxed);
  if (timestamp < current_->start) ++current_->counters.late;
  return current_;
}

void PairingStage::Process(uint64_t limit) {
  for (;;) {
    int best = -1;
    uint64_t best_ts = 0;
    for (size_t c = 0; c < buffers_.size(); ++c) {
      const CpuBuffer& b = buffers_[c];
      if (b.read >= b.bytes.size()) continue;
      uint64_t ts;
      std::memcpy(&ts, b.bytes.data() + b.read, sizeof(ts));
      if (ts >= limit) continue;
      if (best < 0 || ts < best_ts) {
        best = static_cast<int>(c);
        best_ts = ts;
      }
    }
    if (best < 0) break;
    CpuBuffer& b = buffers_[best];
    Handle(best, b.bytes.data() + b.read);
    b.read += layout_.bytes;
  }
}

void PairingStage::Handle(uint32_t cpu, const uint8_t* item) {
  uint64_t ts;
  uint32_t kind;
  std::memcpy(&ts, item, sizeof(ts));
  std::memcpy(&kind, item + 12, sizeof(kind));
  Partial* p = PartialFor(ts);
  const uint8_t* match = item + layout_.match_offset;
  const uint8_t* group = item + layout_.group_offset;
  if (kind == kPairStart) {
    ++p->counters.starts;
    switch (pending_.Insert(match, ts, group)) {
      case PendingTable::InsertResult::kInserted:
        break;
      case PendingTable::InsertResult::kReplaced:
        ++p->counters.replaced_starts;
        break;
      case PendingTable::InsertResult::kEvicted:
        ++p->counters.evicted_starts;
        break;
    }
    return;
  }
  ++p->counters.ends;
  uint64_t start_ts;
  if (!pending_.Take(match, &start_ts, group_.data())) {
    ++p->counters.unmatched_ends;
    return;
  }
  if (ts < start_ts) {
    ++p->counters.negative;
    return;
  }
  // The group key: start-side parts from the start, end-side from the end.
  for (const KeyPart& part : spec_->keys) {
    if (part.read.side == Side::kEnd) {
      std::memcpy(group_.data() + part.offset, group + part.offset, part.width);
    }
  }
  int64_t samples[kMaxStats];
  std::memcpy(samples, item + layout_.samples_offset,
              spec_->stats.size() * sizeof(int64_t));
  for (size_t s = 0; s < spec_->stats.size(); ++s) {
    if (spec_->stats[s].read.source == Source::kLatency) {
      samples[s] = static_cast<int64_t>(ts - start_ts);
    }
  }
  bool overflow;
  uint64_t* row = p->table.FindOrInsert(group_.data(), &overflow);
  spec_->layout.Add(row, samples);
  if (overflow) ++p->counters.overflow;
}

void PairingStage::TakeThrough(uint64_t w, std::vector<Partial*>* out) {
  size_t n = 0;
  while (n < closed_.size() && closed_[n]->window <= w) {
    out->push_back(closed_[n]);
    ++n;
  }
  closed_.erase(closed_.begin(), closed_.begin() + n);
  if (closed_.empty() && current_ != nullptr && current_->window <= w) {
    out->push_back(current_);
    current_ = nullptr;
  }
}

uint64_t PairingStage::MinWindow() const {
  if (!closed_.empty()) return closed_.front()->window;
  return current_ != nullptr ? current_->window : kNoWindow;
}

uint64_t PairingStage::MaxWindow() const {
  if (current_ != nullptr) return current_->window;
  return closed_.empty() ? kNoWindow : closed_.back()->window;
}

}  // namespace agg
}  // namespace ringwatch
