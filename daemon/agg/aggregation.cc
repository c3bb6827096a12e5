#include "daemon/agg/aggregation.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ringwatch {
namespace agg {

Partial* AggRuntime::StagePool::GetPartial() {
  if (!free_.empty()) {
    Partial* p = free_.back();
    free_.pop_back();
    return p;
  }
  owned_.push_back(
      std::make_unique<Partial>(&spec_->layout, spec_->max_keys, account_));
  return owned_.back().get();
}

void AggRuntime::StagePool::Put(Partial* p) {
  p->Reset();
  free_.push_back(p);
}

namespace {

bool CrossCpu(const AggSpec& spec) {
  return spec.kind == AggKind::kLatency && !spec.same_cpu;
}

uint64_t PairingRingBytes(const AggSpec& spec, const RuntimeOptions& options) {
  uint64_t items = 1;
  while (items < options.pairing_items) items <<= 1;
  return items * ((PairingLayout(spec).bytes + 7) / 8 * 8);
}

}  // namespace

uint64_t EstimateBytes(const AggSpec& spec, uint32_t num_cpus,
                       const RuntimeOptions& options) {
  const uint64_t table = AggTable::BytesFor(spec.layout, spec.max_keys);
  const uint64_t pending =
      spec.kind == AggKind::kLatency
          ? PendingTable::BytesFor(spec.match_bytes, spec.key_bytes,
                                   spec.max_pending)
          : 0;
  uint64_t per_cpu;
  uint64_t total = 3 * table;
  if (CrossCpu(spec)) {
    per_cpu =
        AggTable::BytesFor(spec.layout, 0) + PairingRingBytes(spec, options);
    total += table + pending;
  } else {
    per_cpu = table + pending;
  }
  return total + num_cpus * per_cpu;
}

AggRuntime::AggRuntime(std::shared_ptr<const AggSpec> spec, uint32_t num_cpus,
                       const RuntimeOptions& options)
    : spec_(std::move(spec)),
      options_(options),
      reserved_bytes_(EstimateBytes(*spec_, num_cpus, options)),
      account_(options.budget),
      pending_(num_cpus),
      stolen_(num_cpus, nullptr),
      stage_pool_(spec_.get(), &account_) {
  for (uint32_t cpu = 0; cpu < num_cpus; ++cpu) {
    shards_.push_back(std::make_unique<ShardAgg>(
        spec_.get(), options_.period_ns, options_.max_partials,
        options_.pairing_items, &account_));
    // Allocated whole: admitted with the aggregation (EstimateBytes).
    if (CrossCpu(*spec_)) account_.Charge(PairingRingBytes(*spec_, options_));
    // One cleared partial ready for the first rotation.
    std::unique_ptr<Partial> p = shards_.back()->NewPartial();
    shards_.back()->free.Push(p.get());
    merger_owned_.push_back(std::move(p));
  }
  if (spec_->kind == AggKind::kLatency && !spec_->same_cpu) {
    stage_ = std::make_unique<PairingStage>(spec_.get(), options_.period_ns,
                                            num_cpus, &stage_pool_,
                                            options_.pairing_buffered);
  }
  window_table_ =
      std::make_unique<AggTable>(&spec_->layout, spec_->max_keys, &account_);
  absl::MutexLock lock(&mu_);
  latest_ =
      std::make_unique<AggTable>(&spec_->layout, spec_->max_keys, &account_);
  cumulative_ =
      std::make_unique<AggTable>(&spec_->layout, spec_->max_keys, &account_);
  cumulative_meta_.cumulative = true;
}

AggRuntime::~AggRuntime() = default;

Partial* AggRuntime::GetShardPartial() {
  if (!pool_.empty()) {
    Partial* p = pool_.back();
    pool_.pop_back();
    return p;
  }
  merger_owned_.push_back(shards_[0]->NewPartial());
  return merger_owned_.back().get();
}

void AggRuntime::Recycle(uint32_t cpu, Partial* p) {
  p->Reset();
  // Keep a couple ready for the reader; the rest serve steals.
  if (shards_[cpu]->free.SizeApprox() < 2 && shards_[cpu]->free.Push(p)) return;
  pool_.push_back(p);
}

void AggRuntime::FileSorted(uint32_t cpu, Partial* p) {
  std::deque<Partial*>& q = pending_[cpu];
  auto it = std::upper_bound(
      q.begin(), q.end(), p->window,
      [](uint64_t w, const Partial* x) { return w < x->window; });
  q.insert(it, p);
}

void AggRuntime::DrainClosed() {
  for (uint32_t cpu = 0; cpu < shards_.size(); ++cpu) {
    Partial* p;
    while (shards_[cpu]->closed.Pop(&p)) FileSorted(cpu, p);
  }
}

void AggRuntime::Collect(uint64_t watermark) {
  DrainClosed();
  if (stage_ != nullptr) {
    for (uint32_t cpu = 0; cpu < shards_.size(); ++cpu) {
      stage_->Drain(cpu, shards_[cpu]->pairing.get());
    }
    stage_->Process(watermark);
    absl::MutexLock lock(&mu_);
    stage_pending_ = stage_->pending_starts();
  }
}

uint64_t AggRuntime::LastClosable(uint64_t watermark, bool final) const {
  if (!final) {
    const uint64_t windows = watermark / options_.period_ns;
    return windows == 0 ? kNoWindow : windows - 1;
  }
  uint64_t last = kNoWindow;
  auto consider = [&last](uint64_t w) {
    if (w != kNoWindow && (last == kNoWindow || w > last)) last = w;
  };
  for (const std::deque<Partial*>& q : pending_) {
    if (!q.empty()) consider(q.back()->window);
  }
  if (stage_ != nullptr) consider(stage_->MaxWindow());
  return last;
}

void AggRuntime::BeginSteals(uint64_t w, bool final, std::vector<bool>* cpus) {
  for (uint32_t cpu = 0; cpu < shards_.size(); ++cpu) {
    ShardAgg& sa = *shards_[cpu];
    // Only the merger recycles partials, so `p` stays valid here; once
    // dirty, its label no longer changes.
    Partial* p = sa.active.load(std::memory_order_acquire);
    if (!p->dirty.load(std::memory_order_acquire)) continue;
    const uint64_t label = p->window;
    if (!final && label > w) continue;
    Partial* fresh = GetShardPartial();
    // A label the reader will move past at its next record.
    fresh->Label(final ? label : w + 1, options_.period_ns);
    (*cpus)[cpu] = true;
    if (sa.active.compare_exchange_strong(p, fresh, std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
      stolen_[cpu] = p;
      absl::MutexLock lock(&mu_);
      ++steals_;
    } else {
      // The reader rotated meanwhile: its partial is (or will be, once its
      // section ends) on the closed queue, which EndSteals drains.
      fresh->Reset();
      pool_.push_back(fresh);
    }
  }
}

void AggRuntime::EndSteals() {
  for (uint32_t cpu = 0; cpu < shards_.size(); ++cpu) {
    if (stolen_[cpu] != nullptr) {
      Partial* p = stolen_[cpu];
      stolen_[cpu] = nullptr;
      if (p->dirty.load(std::memory_order_relaxed)) {
        FileSorted(cpu, p);
      } else {
        p->Reset();
        pool_.push_back(p);
      }
    }
  }
  DrainClosed();
}

void AggRuntime::CloseThrough(uint64_t w, bool live,
                              const WindowCallback& publish) {
  if (w == kNoWindow) return;
  if (next_window_ == kNoWindow) {
    uint64_t first = kNoWindow;
    for (const std::deque<Partial*>& q : pending_) {
      if (!q.empty()) first = std::min(first, q.front()->window);
    }
    if (stage_ != nullptr) first = std::min(first, stage_->MinWindow());
    if (first == kNoWindow) {
      // Live: publish (empty) windows from the next one on.
      if (live) next_window_ = w + 1;
      return;
    }
    next_window_ = std::min(first, w + 1);
  }
  if (next_window_ <= w && w - next_window_ >= options_.max_windows_per_pass) {
    // A jump in time (clock change, corrupt timestamp): skip the empty
    // stretch; whatever it held is folded into the first window closed.
    next_window_ = w + 1 - options_.max_windows_per_pass;
  }
  for (; next_window_ <= w; ++next_window_) CloseOne(next_window_, publish);
}

void AggRuntime::CloseOne(uint64_t w, const WindowCallback& publish) {
  window_table_->Clear();
  AggCounters counters;
  auto fold = [&](Partial* p) {
    if (p->window < w) {
      // Its window closed before it arrived: all of it is late.
      counters.late += p->counters.events() - p->counters.late;
    }
    window_table_->MergeFrom(p->table);
    counters.Add(p->counters);
  };
  for (uint32_t cpu = 0; cpu < pending_.size(); ++cpu) {
    std::deque<Partial*>& q = pending_[cpu];
    while (!q.empty() && q.front()->window <= w) {
      fold(q.front());
      Recycle(cpu, q.front());
      q.pop_front();
    }
  }
  if (stage_ != nullptr) {
    std::vector<Partial*> done;
    stage_->TakeThrough(w, &done);
    for (Partial* p : done) {
      fold(p);
      stage_pool_.Put(p);
    }
  }
  absl::StatusOr<v1::AggregationResult> result;
  {
    absl::MutexLock lock(&mu_);
    cumulative_->MergeFrom(*window_table_);
    cumulative_meta_.counters.Add(counters);
    if (cumulative_meta_.windows == 0) {
      cumulative_meta_.start_ns = w * options_.period_ns;
    }
    cumulative_meta_.end_ns = (w + 1) * options_.period_ns;
    ++cumulative_meta_.windows;
    std::swap(latest_, window_table_);
    latest_meta_ = ResultMeta();
    latest_meta_.start_ns = w * options_.period_ns;
    latest_meta_.end_ns = (w + 1) * options_.period_ns;
    latest_meta_.windows = 1;
    latest_meta_.counters = counters;
    have_latest_ = true;
    if (spec_->windowed && publish) {
      result = BuildResult(*spec_, *latest_, latest_meta_, spec_->top_n, {});
    }
  }
  if (spec_->windowed && publish && result.ok()) publish(*result);
}

absl::StatusOr<v1::AggregationResult> AggRuntime::Query(
    bool cumulative, absl::optional<uint32_t> top_n,
    const std::vector<KeyMatch>& key_filter) const {
  absl::MutexLock lock(&mu_);
  const uint32_t n = top_n.has_value() ? *top_n : spec_->top_n;
  if (cumulative) {
    return BuildResult(*spec_, *cumulative_, cumulative_meta_, n, key_filter);
  }
  if (!spec_->windowed) {
    return absl::FailedPreconditionError(
        absl::StrCat("aggregation \"", spec_->name,
                     "\" has no window; query its cumulative view"));
  }
  if (!have_latest_) {
    return absl::UnavailableError(absl::StrCat(
        "aggregation \"", spec_->name, "\" has not closed a window yet"));
  }
  return BuildResult(*spec_, *latest_, latest_meta_, n, key_filter);
}

AggCounters AggRuntime::CumulativeCounters() const {
  absl::MutexLock lock(&mu_);
  return cumulative_meta_.counters;
}

uint64_t AggRuntime::windows_closed() const {
  absl::MutexLock lock(&mu_);
  return cumulative_meta_.windows;
}

uint64_t AggRuntime::steals() const {
  absl::MutexLock lock(&mu_);
  return steals_;
}

uint64_t AggRuntime::PendingStarts() const {
  uint64_t n = 0;
  for (const auto& sa : shards_) {
    n += sa->pending_size.load(std::memory_order_relaxed);
  }
  absl::MutexLock lock(&mu_);
  return n + stage_pending_;
}

uint64_t AggRuntime::DroppedNoPartial() const {
  uint64_t n = 0;
  for (const auto& sa : shards_) {
    n += sa->dropped_no_partial.load(std::memory_order_relaxed);
  }
  return n;
}

}  // namespace agg
}  // namespace ringwatch
