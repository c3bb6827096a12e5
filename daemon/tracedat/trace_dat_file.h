// A reader for trace.dat files as trace-cmd 3.x writes them: file version 7
// (sections, zstd or no compression) and version 6. It loads the formats the
// file stores into an EventCatalog and feeds the stored ring-buffer
// sub-buffers to the same SubbufDecoder that reads live rings, per CPU or all
// CPUs merged in timestamp order.
//
// Every size and offset in the file is checked against the file before use;
// bad input gives a DataLoss (corrupt, truncated), InvalidArgument (not a
// trace.dat file) or Unimplemented (unsupported version, byte order or
// compression) status naming the file, the section, the offset and the
// reason. Allocations from sizes in the file are capped by the file size
// (decompressed data by fixed limits).
//
// After Open the object is immutable: ReadCpu and ReadAll may run on several
// threads at once (each call has its own decompression buffers).
#ifndef RINGWATCH_DAEMON_TRACEDAT_TRACE_DAT_FILE_H_
#define RINGWATCH_DAEMON_TRACEDAT_TRACE_DAT_FILE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "daemon/event/event_catalog.h"
#include "daemon/event/header_page.h"
#include "daemon/ring/record.h"
#include "daemon/ring/subbuf_decoder.h"
#include "daemon/tracedat/cpu_page_reader.h"

namespace ringwatch {

// One ring buffer saved in the file: the top-level one (name "") or a tracefs
// instance (trace-cmd record/extract -B NAME).
struct TraceDatBuffer {
  std::string name;   // "" for the top-level buffer.
  std::string clock;  // "local", ...; empty when the file does not say.
  uint32_t page_size = 0;
  // Latency (text) data: no per-CPU ring-buffer pages to decode.
  bool latency = false;
  std::vector<CpuDataExtent> cpus;  // In file order; ids may be sparse.

  // Bytes of CPU data stored (compressed size when compressed).
  uint64_t data_bytes() const;
  // Max CPU id + 1, or 0 without CPU data.
  uint32_t cpu_slots() const;
};

// Options of interest from the file (the rest are skipped).
struct TraceDatOptions {
  uint32_t cpu_count = 0;  // CPUCOUNT (v7) / the header count (v6).
  std::string uname;
  std::string tracer_version;          // trace-cmd's VERSION option.
  std::string trace_clocks;            // TRACECLOCK: "[local] global ...".
  std::vector<std::string> cpu_stats;  // CPUSTAT texts, in file order.
  uint64_t trace_id = 0;
  // Added to every timestamp, in ns: DATE (stored in us) plus OFFSET, as
  // `trace-cmd report` applies them.
  int64_t timestamp_offset = 0;
  // TSC2NSEC: when mult != 0, timestamps are scaled (ts * mult) >> shift.
  uint32_t tsc2nsec_mult = 0;
  uint32_t tsc2nsec_shift = 0;
  // A host/guest TIME_SHIFT option is present; its corrections are not
  // applied.
  bool has_time_shift = false;
};

class TraceDatFile {
 public:
  // Decompressed sections larger than this are refused.
  static constexpr uint64_t kMaxSectionBytes = 256 << 20;

  // Maps and parses `path`. Errors start with the path.
  static absl::StatusOr<std::unique_ptr<TraceDatFile>> Open(
      const std::string& path);
  // Parses a copy of `bytes`; `name` stands for the path in errors.
  static absl::StatusOr<std::unique_ptr<TraceDatFile>> OpenBuffer(
      absl::string_view name, absl::Span<const uint8_t> bytes);

  ~TraceDatFile();
  TraceDatFile(const TraceDatFile&) = delete;
  TraceDatFile& operator=(const TraceDatFile&) = delete;

  int version() const { return version_; }  // 6 or 7.
  const std::string& compression() const {
    return compression_;
  }                                                  // "none", "zstd".
  uint32_t page_size() const { return page_size_; }  // From the header.
  const EventCatalog& catalog() const { return catalog_; }
  const HeaderPageFormat& header_page() const { return catalog_.header_page(); }
  const TraceDatOptions& options() const { return options_; }

  // pid -> comm from the saved command lines.
  const absl::flat_hash_map<int32_t, std::string>& cmdlines() const {
    return cmdlines_;
  }
  // The saved comm of `pid`, or "" when the file has none.
  absl::string_view Comm(int32_t pid) const;

  // Every buffer in the file; see default_buffer().
  const std::vector<TraceDatBuffer>& buffers() const { return buffers_; }
  // The buffer ReadCpu/ReadAll read: the top-level buffer when it holds CPU
  // data, else the first instance that does (trace-cmd extract -B NAME saves
  // an empty top-level buffer beside the instance).
  size_t default_buffer() const { return default_buffer_; }
  // Index of the buffer named `name` ("" = top level), NotFound otherwise.
  absl::StatusOr<size_t> FindBuffer(absl::string_view name) const;

  // CPU slots of the default buffer (max CPU id + 1).
  uint32_t cpu_count() const;

  // Decodes the pages of one CPU of the default buffer, in file order, into
  // `sink` (timestamps adjusted per options()). A CPU without data delivers
  // nothing. A bad chunk or page is counted and skipped; the first such error
  // is returned (DataLoss naming the CPU and page) after the rest is read.
  absl::Status ReadCpu(uint32_t cpu, RecordSink* sink,
                       DecodeCounters* counters) const;
  // Every CPU of the default buffer merged by timestamp (ties: lower CPU
  // slot first), as `trace-cmd report` orders them. Loss reports are
  // delivered before the first record of the page that carried them.
  // `totals` (optional) receives the counters summed over CPUs.
  absl::Status ReadAll(RecordSink* sink,
                       DecodeCounters* totals = nullptr) const;

  // The same for any buffer.
  absl::Status ReadBufferCpu(size_t buffer, uint32_t cpu, RecordSink* sink,
                             DecodeCounters* counters) const;
  absl::Status ReadBufferAll(size_t buffer, RecordSink* sink,
                             DecodeCounters* totals = nullptr) const;

  // Timestamp as `trace-cmd report` prints it (options() applied).
  uint64_t AdjustTimestamp(uint64_t ts) const;

 private:
  class Parser;
  struct Mapping;

  TraceDatFile() = default;
  absl::Status Validate(size_t buffer) const;

  std::string name_;
  std::unique_ptr<Mapping> mapping_;
  absl::Span<const uint8_t> bytes_;  // The whole file.
  int version_ = 0;
  std::string compression_ = "none";
  uint32_t page_size_ = 0;
  EventCatalog catalog_;
  TraceDatOptions options_;
  absl::flat_hash_map<int32_t, std::string> cmdlines_;
  std::vector<TraceDatBuffer> buffers_;
  size_t default_buffer_ = 0;
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_TRACEDAT_TRACE_DAT_FILE_H_
