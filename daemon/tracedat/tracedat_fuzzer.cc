// Fuzz target: any bytes as a trace.dat file. Opening must fail cleanly or
// succeed; decoding every buffer (merged and per CPU) must stay in bounds and
// deliver the same records both ways. Built by //daemon/tracedat:
// tracedat_fuzzer_test (deterministic mutations, and a replay of
// tests/data/fuzz/tracedat) and by `tools/fuzz.sh build tracedat`
// (libFuzzer, ASan, UBSan; docs/fuzzing.md).
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "absl/types/span.h"
#include "daemon/event/event_catalog.h"
#include "daemon/event/field_access.h"
#include "daemon/ring/record.h"
#include "daemon/ring/subbuf_decoder.h"
#include "daemon/tracedat/trace_dat_file.h"

namespace ringwatch {
namespace {

// Reads every field of every record through the bounds-checked accessors, as
// a consumer would, and counts what it saw.
class TouchingSink : public RecordSink {
 public:
  explicit TouchingSink(const EventCatalog& catalog) : catalog_(catalog) {}
  void OnRecord(const RecordView& record) override {
    ++records;
    checksum += record.timestamp + record.payload.size();
    if (!record.payload.empty()) checksum += record.payload.back();
    const int32_t id = record.event_id();
    const EventFormat* format =
        id < 0 ? nullptr : catalog_.FindById(static_cast<uint32_t>(id));
    if (format == nullptr) return;
    for (const FieldFormat& field : format->fields) {
      absl::Span<const uint8_t> bytes;
      if (FieldBytes(record.payload, field, &bytes) && !bytes.empty()) {
        checksum += bytes[0] + bytes[bytes.size() - 1];
      }
    }
  }
  void OnLoss(const LossReport& loss) override { ++losses; }

  uint64_t records = 0;
  uint64_t losses = 0;
  uint64_t checksum = 0;

 private:
  const EventCatalog& catalog_;
};

}  // namespace
}  // namespace ringwatch

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ringwatch::TraceDatFile;
  absl::StatusOr<std::unique_ptr<TraceDatFile>> file =
      TraceDatFile::OpenBuffer("fuzz.dat", absl::MakeConstSpan(data, size));
  if (!file.ok()) {
    if (file.status().message().empty()) std::abort();  // Errors say why.
    return 0;
  }
  const TraceDatFile& f = **file;
  for (size_t b = 0; b < f.buffers().size(); ++b) {
    ringwatch::TouchingSink merged(f.catalog());
    ringwatch::DecodeCounters totals;
    const absl::Status all = f.ReadBufferAll(b, &merged, &totals);
    if (f.buffers()[b].latency) continue;
    ringwatch::TouchingSink per_cpu(f.catalog());
    uint64_t events = 0;
    for (const ringwatch::CpuDataExtent& e : f.buffers()[b].cpus) {
      ringwatch::DecodeCounters counters;
      (void)f.ReadBufferCpu(b, e.cpu, &per_cpu, &counters);
      events += counters.events;
    }
    // Merging neither drops nor invents records.
    if (per_cpu.records != merged.records || events != totals.events ||
        per_cpu.losses != merged.losses ||
        per_cpu.checksum != merged.checksum) {
      std::abort();
    }
    if (!all.ok() && totals.decode_errors == 0) std::abort();
  }
  return 0;
}
