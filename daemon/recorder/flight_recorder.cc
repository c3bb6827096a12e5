#include "daemon/recorder/flight_recorder.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ringwatch {
namespace {

// The commit word's flags (include/linux/ring_buffer.h; read the same way
// in daemon/ring/subbuf_decoder.cc): only its low 32 bits carry them.
constexpr uint32_t kMissedEvents = 1u << 31;  // RB_MISSED_EVENTS
constexpr uint32_t kMissedStored = 1u << 30;  // RB_MISSED_STORED
constexpr uint32_t kFlags = kMissedEvents | kMissedStored;

// Snapshot copies at most this much (and 64 pages) per lock hold: a reader
// of that CPU waits at most one such memcpy.
constexpr size_t kBatchBytes = 256 << 10;
constexpr size_t kMaxBatchPages = 64;

uint64_t LoadWord(const uint8_t* p, uint32_t size) {
  if (size == 8) {
    uint64_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  }
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

void StoreWord(uint8_t* p, uint32_t size, uint64_t value) {
  if (size == 8) {
    std::memcpy(p, &value, sizeof(value));
  } else {
    const uint32_t v = static_cast<uint32_t>(value);
    std::memcpy(p, &v, sizeof(v));
  }
}

}  // namespace

struct FlightRecorder::Selection {
  uint64_t next = 0;  // Seq of the next page to copy.
  uint64_t end = 0;   // Seq of the first page closed after the start.
  std::unique_ptr<uint8_t[]> open;  // The open page then, finished; or null.
};

absl::StatusOr<std::unique_ptr<FlightRecorder>> FlightRecorder::Create(
    const FlightRecorderOptions& options) {
  const uint32_t page = options.page_size;
  if (page < 64 || page > (16u << 20) || (page & (page - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("flight recorder: bad page size ", page));
  }
  if (options.cpu_count == 0 || options.cpu_count > 8192) {
    return absl::InvalidArgumentError(absl::StrCat(
        "flight recorder: cpu count ", options.cpu_count, " not in [1, 8192]"));
  }
  if (options.max_bytes_per_cpu < page) {
    return absl::InvalidArgumentError(
        absl::StrCat("flight recorder: ", options.max_bytes_per_cpu,
                     " bytes per CPU hold no ", page, "-byte page"));
  }
  const HeaderPageFormat& h = options.header;
  if (h.timestamp_size != 8 || (h.commit_size != 4 && h.commit_size != 8) ||
      uint64_t{h.timestamp_offset} + 8 > h.data_offset ||
      uint64_t{h.commit_offset} + h.commit_size > h.data_offset ||
      uint64_t{h.data_offset} + h.commit_size >= page) {
    return absl::InvalidArgumentError(absl::StrCat(
        "flight recorder: header format (timestamp at ", h.timestamp_offset,
        " size ", h.timestamp_size, ", commit at ", h.commit_offset, " size ",
        h.commit_size, ", data at ", h.data_offset, ") does not fit a page of ",
        page, " bytes"));
  }
  return std::unique_ptr<FlightRecorder>(new FlightRecorder(options));
}

FlightRecorder::FlightRecorder(const FlightRecorderOptions& options)
    : options_(options),
      capacity_(
          static_cast<size_t>(options.max_bytes_per_cpu / options.page_size)) {
  for (uint32_t i = 0; i < options.cpu_count; ++i) {
    auto cpu = std::make_unique<Cpu>();
    absl::MutexLock lock(&cpu->mu);
    // Every page's storage allocated and touched up front: the readers
    // would otherwise pay the first-touch page faults while the recorder
    // fills (2.4x their cost per event, measured), and the memory is
    // charged to the budget in full anyway.
    cpu->slots.resize(capacity_);
    for (Page& slot : cpu->slots) {
      slot.bytes.reset(new uint8_t[options_.page_size]());
    }
    cpu->open.reset(new uint8_t[options_.page_size]());
    cpus_.push_back(std::move(cpu));
  }
}

void FlightRecorder::NoteTimestamp(uint64_t timestamp) {
  uint64_t seen = newest_.load(std::memory_order_relaxed);
  while (timestamp > seen && !newest_.compare_exchange_weak(
                                 seen, timestamp, std::memory_order_relaxed)) {
  }
}

uint64_t FlightRecorder::PageTimestamp(const uint8_t* page) const {
  uint64_t timestamp;
  std::memcpy(&timestamp, page + options_.header.timestamp_offset,
              sizeof(timestamp));
  return timestamp;
}

FlightRecorder::Page* FlightRecorder::NextSlotLocked(Cpu* cpu) {
  if (cpu->count == capacity_) {
    cpu->head = (cpu->head + 1) % capacity_;
    --cpu->count;
    ++cpu->counters.pages_evicted_for_bytes;
  }
  Page* slot = &cpu->slots[(cpu->head + cpu->count) % capacity_];
  ++cpu->count;
  ++cpu->next_seq;
  ++cpu->counters.pages_added;
  return slot;
}

void FlightRecorder::EvictForAgeLocked(Cpu* cpu) {
  const uint64_t newest = newest_timestamp();
  if (newest <= options_.max_age) return;
  const uint64_t cut = newest - options_.max_age;
  // Keep a page while the next one starts inside the window: it may hold
  // events up to that start.
  while (cpu->count >= 2 &&
         cpu->slots[(cpu->head + 1) % capacity_].timestamp < cut) {
    cpu->head = (cpu->head + 1) % capacity_;
    --cpu->count;
    ++cpu->counters.pages_evicted_for_age;
  }
}

uint32_t FlightRecorder::FinishOpenPage(const Cpu& cpu, uint8_t* page) const {
  const HeaderPageFormat& h = options_.header;
  const uint32_t header_low = static_cast<uint32_t>(cpu.open_commit);
  uint64_t high = h.commit_size == 8 ? cpu.open_commit >> 32 : 0;
  uint32_t flags = header_low & kFlags;
  const uint32_t data_end = h.data_offset + cpu.open_data;
  uint32_t used = data_end;
  // A count the kernel stored, or one it reported elsewhere (the mapped
  // ring's meta page): store it as the kernel would have, room permitting.
  if ((flags & kMissedStored) != 0 || cpu.open_lost > 0) {
    if ((flags & kMissedEvents) == 0 && h.commit_size == 8) {
      high = 0xffffffff;  // The kernel adds the flag as a negative int.
    }
    flags |= kMissedEvents;
    if (uint64_t{data_end} + h.commit_size <= options_.page_size) {
      flags |= kMissedStored;
      StoreWord(page + data_end, h.commit_size, cpu.open_lost);
      used += h.commit_size;
    } else {
      flags &= ~kMissedStored;
    }
  }
  StoreWord(page + h.commit_offset, h.commit_size,
            (high << 32) | flags | cpu.open_data);
  return used;
}

void FlightRecorder::CloseLocked(Cpu* cpu) {
  const uint32_t used = FinishOpenPage(*cpu, cpu->open.get());
  const uint64_t timestamp = PageTimestamp(cpu->open.get());
  Page* slot = NextSlotLocked(cpu);
  // The evicted page's storage (or none yet) becomes the next open page.
  std::swap(slot->bytes, cpu->open);
  cpu->open_used = cpu->open == nullptr ? 0 : slot->used;
  slot->used = used;
  slot->timestamp = timestamp;
  cpu->is_open = false;
  EvictForAgeLocked(cpu);
}

absl::Status FlightRecorder::AddPage(uint32_t cpu,
                                     absl::Span<const uint8_t> page) {
  if (cpu >= cpus_.size() || page.size() != options_.page_size) {
    Cpu& counted = *cpus_[cpu < cpus_.size() ? cpu : 0];
    absl::MutexLock lock(&counted.mu);
    ++counted.counters.pages_refused;
    return absl::InvalidArgumentError(absl::StrCat(
        "flight recorder: page of ", page.size(), " bytes for cpu ", cpu,
        " (page size ", options_.page_size, ", ", cpus_.size(), " CPUs)"));
  }
  const uint64_t timestamp = PageTimestamp(page.data());
  NoteTimestamp(timestamp);
  Cpu& c = *cpus_[cpu];
  absl::MutexLock lock(&c.mu);
  if (c.is_open) CloseLocked(&c);
  Page* slot = NextSlotLocked(&c);
  if (slot->bytes == nullptr) {
    slot->bytes.reset(new uint8_t[options_.page_size]);
  }
  std::memcpy(slot->bytes.get(), page.data(), page.size());
  slot->used = options_.page_size;
  slot->timestamp = timestamp;
  EvictForAgeLocked(&c);
  return absl::OkStatus();
}

void FlightRecorder::BeginSubbuf(uint32_t cpu, absl::Span<const uint8_t> header,
                                 uint64_t lost_events) {
  if (cpu >= cpus_.size()) return;
  const HeaderPageFormat& h = options_.header;
  Cpu& c = *cpus_[cpu];
  uint64_t timestamp;
  {
    absl::MutexLock lock(&c.mu);
    if (c.is_open) CloseLocked(&c);
    if (c.open == nullptr) {
      c.open.reset(new uint8_t[options_.page_size]());  // Zeroed.
    } else {
      std::memset(c.open.get(), 0, c.open_used);
    }
    std::memcpy(c.open.get(), header.data(),
                std::min<size_t>(header.size(), h.data_offset));
    c.open_commit = LoadWord(c.open.get() + h.commit_offset, h.commit_size);
    c.open_lost = lost_events;
    c.open_data = 0;
    c.open_used = h.data_offset;
    c.is_open = true;
    timestamp = PageTimestamp(c.open.get());
  }
  NoteTimestamp(timestamp);
}

void FlightRecorder::AppendData(uint32_t cpu, absl::Span<const uint8_t> data,
                                uint64_t last_timestamp) {
  if (cpu >= cpus_.size()) return;
  Cpu& c = *cpus_[cpu];
  {
    absl::MutexLock lock(&c.mu);
    const uint32_t room =
        options_.page_size - options_.header.data_offset - c.open_data;
    if (!c.is_open || data.size() > room) {
      ++c.counters.appends_refused;
      return;
    }
    if (!data.empty()) {
      std::memcpy(c.open.get() + options_.header.data_offset + c.open_data,
                  data.data(), data.size());
    }
    c.open_data += static_cast<uint32_t>(data.size());
    c.open_used =
        std::max(c.open_used, options_.header.data_offset + c.open_data);
  }
  NoteTimestamp(last_timestamp);
}

void FlightRecorder::EndSubbuf(uint32_t cpu) {
  if (cpu >= cpus_.size()) return;
  Cpu& c = *cpus_[cpu];
  absl::MutexLock lock(&c.mu);
  if (c.is_open) CloseLocked(&c);
}

absl::StatusOr<FlightSnapshot> FlightRecorder::Snapshot(
    uint64_t span, TraceDatWriter* writer) {
  FlightSnapshot result;
  result.newest = newest_timestamp();
  result.cut = span == 0 || span >= result.newest ? 0 : result.newest - span;
  const uint32_t page_size = options_.page_size;
  // First every CPU's selection, at (nearly) one instant: the pages held
  // from the one spanning the cut, and the open page's content then. A page
  // closed later has a seq at or past `end`, so its events are either in
  // the open page copy or not selected: never twice.
  std::vector<Selection> selections(cpus_.size());
  for (size_t i = 0; i < cpus_.size(); ++i) {
    Cpu& c = *cpus_[i];
    Selection& s = selections[i];
    absl::MutexLock lock(&c.mu);
    size_t first = 0;
    if (result.cut != 0) {
      // Skip a page when the next one starts before the cut.
      while (first < c.count) {
        uint64_t next_start;
        if (first + 1 < c.count) {
          next_start = c.slots[(c.head + first + 1) % capacity_].timestamp;
        } else if (c.is_open) {
          next_start = PageTimestamp(c.open.get());
        } else {
          break;
        }
        if (next_start >= result.cut) break;
        ++first;
      }
    }
    s.next = c.next_seq - c.count + first;
    s.end = c.next_seq;
    const bool open_has_content =
        c.is_open && (c.open_data > 0 ||
                      (static_cast<uint32_t>(c.open_commit) & kFlags) != 0 ||
                      c.open_lost > 0);
    if (open_has_content) {
      s.open.reset(new uint8_t[page_size]);
      std::memcpy(s.open.get(), c.open.get(), page_size);
      FinishOpenPage(c, s.open.get());
    }
  }

  const size_t batch_pages =
      std::clamp<size_t>(kBatchBytes / page_size, 1, kMaxBatchPages);
  std::vector<uint8_t> batch(batch_pages * page_size);
  std::vector<uint64_t> batch_timestamps(batch_pages);
  bool have_oldest = false;
  auto note_written = [&](uint64_t timestamp) {
    ++result.pages;
    if (!have_oldest || timestamp < result.oldest) {
      result.oldest = timestamp;
      have_oldest = true;
    }
  };
  // One batch per CPU in turn, so that no CPU's selection waits for all the
  // others to be written (its oldest pages would be evicted meanwhile).
  bool more = true;
  while (more) {
    more = false;
    for (uint32_t cpu = 0; cpu < cpus_.size(); ++cpu) {
      Cpu& c = *cpus_[cpu];
      Selection& s = selections[cpu];
      if (s.next < s.end) {
        size_t n = 0;
        {
          absl::MutexLock lock(&c.mu);
          const uint64_t first_seq = c.next_seq - c.count;
          if (s.next < first_seq) {
            const uint64_t gone = std::min(first_seq, s.end) - s.next;
            result.pages_evicted_during += gone;
            s.next += gone;
          }
          while (n < batch_pages && s.next < s.end) {
            const Page& page =
                c.slots[(c.head + (s.next - first_seq)) % capacity_];
            std::memcpy(batch.data() + n * page_size, page.bytes.get(),
                        page_size);
            batch_timestamps[n] = page.timestamp;
            ++n;
            ++s.next;
          }
        }
        if (snapshot_batch_hook_) snapshot_batch_hook_();
        // No lock held: file I/O and compression must not stall the reader.
        for (size_t i = 0; i < n; ++i) {
          absl::Status status = writer->AddPage(
              cpu,
              absl::MakeConstSpan(batch.data() + i * page_size, page_size));
          if (!status.ok()) return status;
          note_written(batch_timestamps[i]);
        }
        if (s.next < s.end) {
          more = true;
          continue;
        }
      }
      // The open page follows the CPU's last closed page.
      if (s.open != nullptr) {
        absl::Status status =
            writer->AddPage(cpu, absl::MakeConstSpan(s.open.get(), page_size));
        if (!status.ok()) return status;
        note_written(PageTimestamp(s.open.get()));
        s.open.reset();
      }
    }
  }
  return result;
}

FlightRecorderCounters FlightRecorder::counters() const {
  FlightRecorderCounters total;
  for (const auto& c : cpus_) {
    absl::MutexLock lock(&c->mu);
    total.pages_added += c->counters.pages_added;
    total.pages_evicted_for_bytes += c->counters.pages_evicted_for_bytes;
    total.pages_evicted_for_age += c->counters.pages_evicted_for_age;
    total.pages_refused += c->counters.pages_refused;
    total.appends_refused += c->counters.appends_refused;
    total.pages_held += c->count;
    total.bytes_held += uint64_t{c->count} * options_.page_size;
    total.pages_open += c->is_open ? 1 : 0;
  }
  return total;
}

}  // namespace ringwatch
