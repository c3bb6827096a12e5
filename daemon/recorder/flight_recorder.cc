#include "daemon/recorder/flight_recorder.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace ringwatch {

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
  return std::unique_ptr<FlightRecorder>(new FlightRecorder(options));
}

FlightRecorder::FlightRecorder(const FlightRecorderOptions& options)
    : options_(options) {
  for (uint32_t i = 0; i < options.cpu_count; ++i) {
    cpus_.push_back(std::make_unique<Cpu>());
  }
}

void FlightRecorder::EvictLocked(Cpu* cpu, uint64_t newest) {
  while (!cpu->pages.empty() && cpu->bytes > options_.max_bytes_per_cpu) {
    cpu->bytes -= cpu->pages.front().bytes.size();
    cpu->pages.pop_front();
    ++cpu->counters.pages_evicted_for_bytes;
  }
  // Keep a page while the next one starts inside the window: it may hold
  // events up to that start.
  while (cpu->pages.size() >= 2 && newest > options_.max_age &&
         cpu->pages[1].timestamp < newest - options_.max_age) {
    cpu->bytes -= cpu->pages.front().bytes.size();
    cpu->pages.pop_front();
    ++cpu->counters.pages_evicted_for_age;
  }
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
  uint64_t timestamp = 0;
  std::memcpy(&timestamp, page.data(), sizeof(timestamp));
  uint64_t newest;
  {
    absl::MutexLock lock(&newest_mu_);
    if (timestamp > newest_) newest_ = timestamp;
    newest = newest_;
  }
  Cpu& c = *cpus_[cpu];
  absl::MutexLock lock(&c.mu);
  // Reuse the evicted page's storage when there is one: no allocation in
  // the steady state.
  std::vector<uint8_t> bytes;
  if (c.bytes + page.size() > options_.max_bytes_per_cpu && !c.pages.empty()) {
    bytes = std::move(c.pages.front().bytes);
    c.bytes -= bytes.size();
    c.pages.pop_front();
    ++c.counters.pages_evicted_for_bytes;
  }
  bytes.assign(page.begin(), page.end());
  c.bytes += bytes.size();
  c.pages.push_back({timestamp, std::move(bytes)});
  ++c.counters.pages_added;
  EvictLocked(&c, newest);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> FlightRecorder::Snapshot(uint64_t span,
                                                  TraceDatWriter* writer) {
  const uint64_t newest = newest_timestamp();
  const uint64_t cut = span == 0 || span >= newest ? 0 : newest - span;
  uint64_t written = 0;
  for (uint32_t i = 0; i < cpus_.size(); ++i) {
    Cpu& c = *cpus_[i];
    absl::MutexLock lock(&c.mu);
    for (size_t p = 0; p < c.pages.size(); ++p) {
      const bool next_before_cut =
          p + 1 < c.pages.size() && c.pages[p + 1].timestamp < cut;
      if (next_before_cut) continue;
      absl::Status status = writer->AddPage(i, c.pages[p].bytes);
      if (!status.ok()) return status;
      ++written;
    }
  }
  return written;
}

uint64_t FlightRecorder::newest_timestamp() const {
  absl::MutexLock lock(&newest_mu_);
  return newest_;
}

FlightRecorderCounters FlightRecorder::counters() const {
  FlightRecorderCounters total;
  for (const auto& c : cpus_) {
    absl::MutexLock lock(&c->mu);
    total.pages_added += c->counters.pages_added;
    total.pages_evicted_for_bytes += c->counters.pages_evicted_for_bytes;
    total.pages_evicted_for_age += c->counters.pages_evicted_for_age;
    total.pages_refused += c->counters.pages_refused;
    total.pages_held += c->pages.size();
    total.bytes_held += c->bytes;
  }
  return total;
}

}  // namespace ringwatch
