#include "daemon/agg/shard.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>

#include "absl/base/optimization.h"
#include "daemon/agg/aggregation.h"
#include "daemon/agg/dispatcher.h"
#include "daemon/event/field_access.h"
#include "daemon/filter/filter.h"

namespace ringwatch {
namespace agg {

ShardAgg::ShardAgg(const AggSpec* spec, uint64_t period_ns,
                   uint32_t max_partials, uint32_t pairing_items,
                   MemoryAccount* account)
    : spec(spec),
      period_ns(period_ns),
      max_partials(max_partials),
      account(account),
      // Every partial this shard can hand over fits, so Push never fails.
      closed(max_partials + 8),
      free(max_partials + 8) {
  std::unique_ptr<Partial> first = NewPartial();
  active.store(first.get(), std::memory_order_release);
  reader_owned.push_back(std::move(first));
  if (spec->kind == AggKind::kLatency) {
    if (spec->same_cpu) {
      pending = std::make_unique<PendingTable>(
          spec->match_bytes, spec->key_bytes, spec->max_pending, account);
    } else {
      pairing = std::make_unique<SpscRecordRing>(PairingLayout(*spec).bytes,
                                                 pairing_items);
    }
  }
}

ShardAgg::~ShardAgg() = default;

std::unique_ptr<Partial> ShardAgg::NewPartial() const {
  // Cross-CPU latency rows are built by the pairing stage; the shard's
  // partials then only count.
  const bool rows = !(spec->kind == AggKind::kLatency && !spec->same_cpu);
  return std::make_unique<Partial>(&spec->layout, rows ? spec->max_keys : 0,
                                   account);
}

Partial* ShardAgg::TakeFree() {
  Partial* p = nullptr;
  if (spare != nullptr) {
    p = spare;
    spare = nullptr;
    return p;
  }
  if (free.Pop(&p)) return p;
  if (reader_owned.size() < max_partials) {
    // Not per event: only when the merger has fallen behind by a window.
    reader_owned.push_back(NewPartial());
    return reader_owned.back().get();
  }
  return nullptr;
}

bool ShardAgg::CanRotate(uint32_t times) const {
  const uint64_t allocatable = reader_owned.size() < max_partials
                                   ? max_partials - reader_owned.size()
                                   : 0;
  const uint64_t obtainable =
      (spare != nullptr ? 1 : 0) + free.SizeApprox() + allocatable;
  return obtainable >= times &&
         closed.capacity() - closed.SizeApprox() >= times;
}

PairingLayout::PairingLayout(const AggSpec& spec) {
  match_offset = 16;
  group_offset = match_offset + spec.match_bytes;
  samples_offset = group_offset + spec.key_bytes;
  bytes = samples_offset +
          static_cast<uint32_t>(spec.stats.size() * sizeof(int64_t));
}

Shard::Shard(uint32_t cpu, const std::atomic<const Dispatcher*>* programs)
    : cpu_(cpu), programs_(programs) {}

ShardCounters Shard::counters() const {
  ShardCounters c;
  c.records = records_.load(std::memory_order_relaxed);
  c.no_program = no_program_.load(std::memory_order_relaxed);
  c.lost_events = lost_events_.load(std::memory_order_relaxed);
  c.lost_unknown = lost_unknown_.load(std::memory_order_relaxed);
  c.watermark = watermark();
  return c;
}

namespace {
// Window rotations a reader must be able to make before it takes another
// sub-buffer. A sub-buffer spanning more windows than this while the merger
// is that far behind is the one case left: see Shard::Run.
constexpr uint32_t kRotationReserve = 2;
}  // namespace

bool Shard::HasRoomFor(uint32_t records) {
  section_.Enter();
  const Dispatcher* d = programs_->load(std::memory_order_acquire);
  bool room = true;
  for (const auto& agg : d->aggs()) {
    const ShardAgg& sa = agg->shard(cpu_);
    if (!sa.CanRotate(kRotationReserve)) {
      room = false;
      break;
    }
    if (sa.pairing != nullptr) {
      // A record is at most a start and an end of one aggregation. A ring
      // smaller than that must be empty (and may then still overflow).
      const uint64_t capacity = sa.pairing->capacity();
      const uint64_t need = std::min<uint64_t>(2ull * records, capacity);
      if (capacity - sa.pairing->SizeApprox() < need) {
        room = false;
        break;
      }
    }
  }
  section_.Exit();
  return room;
}

void Shard::OnLoss(const LossReport& loss) {
  if (loss.unknown) {
    Bump(lost_unknown_);
  } else {
    Bump(lost_events_, loss.count);
  }
  // Lost events may include switches: the running task is no longer known.
  comm_.pid = -1;
}

void Shard::OnRecord(const RecordView& record) {
  section_.Enter();
  const Dispatcher* d = programs_->load(std::memory_order_acquire);
  Bump(records_);
  const int32_t id = record.event_id();
  const bool is_switch = d->track_comm() && id == d->switch_id();
  if (is_switch) TrackSwitchPrev(*d, record);
  absl::Span<const Program> programs = d->ForId(id);
  if (programs.empty()) Bump(no_program_);
  for (const Program& p : programs) Run(p, record);
  if (is_switch) TrackSwitchNext(*d, record);
  // Timestamps of one CPU never go back; keep the watermark monotonic even
  // if a corrupt record says otherwise.
  if (record.timestamp > last_timestamp_) last_timestamp_ = record.timestamp;
  watermark_.store(last_timestamp_, std::memory_order_release);
  if (ABSL_PREDICT_FALSE(!seen_.load(std::memory_order_relaxed))) {
    seen_.store(true, std::memory_order_release);
  }
  section_.Exit();
}

// sched_switch is emitted by the task being switched out: before the
// programs run, the running task is prev (this also repairs the state after
// lost events); after them, next.
void Shard::TrackSwitchPrev(const Dispatcher& d, const RecordView& record) {
  int64_t pid;
  if (!ReadInteger(record.payload, d.prev_pid(), &pid)) return;
  if (pid == comm_.pid) return;
  uint8_t comm[kCommBytes] = {};
  if (!ReadFixedString(record.payload, d.prev_comm(), kCommBytes, comm)) return;
  comm_.pid = pid;
  std::memcpy(comm_.comm, comm, kCommBytes);
}

void Shard::TrackSwitchNext(const Dispatcher& d, const RecordView& record) {
  int64_t pid;
  uint8_t comm[kCommBytes] = {};
  if (!ReadInteger(record.payload, d.next_pid(), &pid) ||
      !ReadFixedString(record.payload, d.next_comm(), kCommBytes, comm)) {
    comm_.pid = -1;
    return;
  }
  comm_.pid = pid;
  std::memcpy(comm_.comm, comm, kCommBytes);
}

Partial* Shard::Rotate(ShardAgg& sa, Partial* p, uint64_t timestamp) {
  const uint64_t w = timestamp / sa.period_ns;
  for (;;) {
    if (!p->dirty.load(std::memory_order_relaxed)) {
      // Nothing counted yet: relabel in place. Safe even if the merger has
      // just stolen it: it reads the label only after this section ends.
      p->Label(w, sa.period_ns);
      return p;
    }
    if (sa.closed.SizeApprox() >= sa.closed.capacity()) return nullptr;
    Partial* fresh = sa.TakeFree();
    if (fresh == nullptr) return nullptr;
    fresh->Label(w, sa.period_ns);
    if (sa.active.compare_exchange_strong(p, fresh, std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
      sa.closed.Push(p);
      return fresh;
    }
    // The merger stole `p`; `p` is now the partial it installed.
    sa.spare = fresh;
    if (timestamp < p->end) return p;
  }
}

void Shard::Run(const Program& program, const RecordView& record) {
  AggRuntime& agg = *program.agg;
  ShardAgg& sa = agg.shard(cpu_);
  const AggSpec& spec = *sa.spec;
  Partial* p = sa.active.load(std::memory_order_acquire);
  if (record.timestamp >= p->end) {
    Partial* next = Rotate(sa, p, record.timestamp);
    if (next != nullptr) {
      p = next;
    } else {
      // No partial free although there was room before this sub-buffer
      // (HasRoomFor): it spans more windows than the reserve while the
      // merger is behind. Rather than lose the record, count it in the
      // open partial, an earlier window than its own, as late.
      p = sa.active.load(std::memory_order_acquire);
      ++p->counters.late;
    }
  }
  if (!p->dirty.load(std::memory_order_relaxed)) {
    p->dirty.store(true, std::memory_order_release);
  }
  // Only after a steal: the merger's fresh partial is for a later window.
  if (ABSL_PREDICT_FALSE(record.timestamp < p->start)) ++p->counters.late;
  switch (program.role) {
    case Role::kEvent:
      RunEvent(spec, p, record);
      break;
    case Role::kCpuTime:
      RunCpuTime(spec, sa, p, record);
      break;
    case Role::kLatencyStart:
      RunLatency(spec, sa, p, /*start=*/true, record);
      break;
    case Role::kLatencyEnd:
      RunLatency(spec, sa, p, /*start=*/false, record);
      break;
  }
}

namespace {

// Applies a filter: true to go on; false after counting the verdict.
inline bool PassFilter(const CompiledFilter& filter, const RecordView& record,
                       Partial* p) {
  if (filter.always_true()) return true;
  switch (filter.Evaluate(record)) {
    case FilterResult::kMatch:
      return true;
    case FilterResult::kNoMatch:
      ++p->counters.filtered;
      return false;
    case FilterResult::kTruncated:
      ++p->counters.dropped;
      return false;
  }
  return false;
}

// Zeroes a key buffer (a whole number of words): inline stores rather than
// a memset call for a few words.
inline void ZeroKey(uint8_t* key, uint32_t bytes) {
  const uint64_t zero = 0;
  for (uint32_t i = 0; i < bytes; i += 8) std::memcpy(key + i, &zero, 8);
}

inline void AddRow(const AggSpec& spec, Partial* p, const uint8_t* key,
                   const int64_t* samples) {
  bool overflow;
  uint64_t* row = p->table.FindOrInsert(key, &overflow);
  spec.layout.Add(row, samples);
  if (overflow) ++p->counters.overflow;
}

}  // namespace

void Shard::RunEvent(const AggSpec& spec, Partial* p,
                     const RecordView& record) {
  if (!PassFilter(spec.filter, record, p)) return;
  alignas(8) uint8_t key[kMaxKeyBytes];
  ZeroKey(key, spec.key_bytes);
  int64_t samples[kMaxStats];
  if (!ReadKey(spec, Side::kEnd, record, comm_, key) ||
      !ReadSamples(spec, record, 0, samples)) {
    ++p->counters.dropped;
    return;
  }
  ++p->counters.matched;
  AddRow(spec, p, key, samples);
}

void Shard::RunCpuTime(const AggSpec& spec, ShardAgg& sa, Partial* p,
                       const RecordView& record) {
  // Every switch starts the next slice on this CPU, filtered or not.
  const uint64_t last = sa.last_switch;
  sa.last_switch = record.timestamp;
  if (!PassFilter(spec.filter, record, p)) return;
  int64_t prev_pid;
  if (!ReadInteger(record.payload, spec.prev_pid, &prev_pid)) {
    ++p->counters.dropped;
    return;
  }
  if (prev_pid == 0 && !spec.include_idle) {
    ++p->counters.filtered;
    return;
  }
  if (last == kUnknownTimestamp) {
    ++p->counters.unknown_slice_starts;
    return;
  }
  if (record.timestamp < last) {
    ++p->counters.negative;
    return;
  }
  alignas(8) uint8_t key[kMaxKeyBytes];
  ZeroKey(key, spec.key_bytes);
  int64_t samples[kMaxStats];
  if (!ReadKey(spec, Side::kEnd, record, comm_, key) ||
      !ReadSamples(spec, record, static_cast<int64_t>(record.timestamp - last),
                   samples)) {
    ++p->counters.dropped;
    return;
  }
  ++p->counters.matched;
  AddRow(spec, p, key, samples);
}

void Shard::RunLatency(const AggSpec& spec, ShardAgg& sa, Partial* p,
                       bool start, const RecordView& record) {
  const EndpointSpec& endpoint = start ? spec.start : spec.end;
  if (!PassFilter(endpoint.filter, record, p)) return;
  alignas(8) uint8_t match[kMaxKeyBytes];
  alignas(8) uint8_t group[kMaxKeyBytes];
  ZeroKey(match, spec.match_bytes);
  ZeroKey(group, spec.key_bytes);
  const Side side = start ? Side::kStart : Side::kEnd;
  int64_t samples[kMaxStats];
  if (!ReadMatchKey(spec, endpoint, record, comm_, match) ||
      !ReadKey(spec, side, record, comm_, group) ||
      (!start && !ReadSamples(spec, record, 0, samples))) {
    ++p->counters.dropped;
    return;
  }
  ++p->counters.matched;

  if (sa.pairing != nullptr) {
    // Cross-CPU: the pairing stage does the rest in timestamp order.
    uint8_t* item = sa.pairing->Reserve();
    if (item == nullptr) {
      // Only with a sub-buffer of more records than half the ring holds
      // (HasRoomFor asked for room for all of them).
      --p->counters.matched;
      ++p->counters.dropped;
      return;
    }
    const PairingLayout layout(spec);
    const uint32_t kind = start ? kPairStart : kPairEnd;
    std::memcpy(item, &record.timestamp, 8);
    std::memcpy(item + 8, &cpu_, 4);
    std::memcpy(item + 12, &kind, 4);
    std::memcpy(item + layout.match_offset, match, spec.match_bytes);
    std::memcpy(item + layout.group_offset, group, spec.key_bytes);
    if (!start) {  // Starts carry no values.
      std::memcpy(item + layout.samples_offset, samples,
                  spec.stats.size() * sizeof(int64_t));
    }
    sa.pairing->Commit();
    return;
  }

  // Same CPU: pair here.
  if (start) {
    ++p->counters.starts;
    switch (sa.pending->Insert(match, record.timestamp, group)) {
      case PendingTable::InsertResult::kInserted:
        break;
      case PendingTable::InsertResult::kReplaced:
        ++p->counters.replaced_starts;
        break;
      case PendingTable::InsertResult::kEvicted:
        ++p->counters.evicted_starts;
        break;
    }
    sa.pending_size.store(sa.pending->size(), std::memory_order_relaxed);
    return;
  }
  ++p->counters.ends;
  alignas(8) uint8_t start_group[kMaxKeyBytes];
  uint64_t start_ts;
  if (!sa.pending->Take(match, &start_ts, start_group)) {
    ++p->counters.unmatched_ends;
    return;
  }
  sa.pending_size.store(sa.pending->size(), std::memory_order_relaxed);
  if (record.timestamp < start_ts) {
    ++p->counters.negative;
    return;
  }
  for (const KeyPart& part : spec.keys) {
    if (part.read.side == Side::kStart) {
      std::memcpy(group + part.offset, start_group + part.offset, part.width);
    }
  }
  const int64_t latency = static_cast<int64_t>(record.timestamp - start_ts);
  for (size_t s = 0; s < spec.stats.size(); ++s) {
    if (spec.stats[s].read.source == Source::kLatency) samples[s] = latency;
  }
  AddRow(spec, p, group, samples);
}

}  // namespace agg
}  // namespace ringwatch
