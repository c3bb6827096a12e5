// Writes trace.dat files that trace-cmd 3.x (report, dump) and
// TraceDatFile read: file version 6, or version 7 with zstd or without
// compression. The ring-buffer sub-buffers go in exactly as the kernel wrote
// them (no event is re-encoded), beside the metadata trace-cmd needs to name
// things: header_page/header_event, the ftrace and event format files,
// kallsyms, printk formats and saved command lines (TraceDatMetadata,
// trace_dat_metadata.h loads them from tracefs).
//
// Pages are added per CPU in any interleaving; each CPU's pages are spilled
// to an unlinked temporary file beside the output (compressed chunk by chunk
// for zstd), so memory stays at one chunk per CPU whatever the capture size.
// Finish() lays the file out: one top-level buffer (name "") holding every
// CPU's pages in the order they were added.
//
// Layout, as trace-cmd.dat.v6(5) / trace-cmd.dat.v7(5) describe it and
// TraceDatFile parses it: see docs/trace-dat-writer.md.
#ifndef RINGWATCH_DAEMON_TRACEDAT_TRACE_DAT_WRITER_H_
#define RINGWATCH_DAEMON_TRACEDAT_TRACE_DAT_WRITER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "daemon/util/scoped_fd.h"

struct ZSTD_CCtx_s;

namespace ringwatch {

// Everything a trace.dat stores besides the pages. Texts are the files'
// contents as tracefs / procfs give them.
struct TraceDatMetadata {
  std::string header_page;                  // events/header_page.
  std::string header_event;                 // events/header_event.
  std::vector<std::string> ftrace_formats;  // events/ftrace/*/format.
  // events/<system>/*/format per system (ftrace excluded).
  std::vector<std::pair<std::string, std::vector<std::string>>> event_systems;
  std::string kallsyms;        // /proc/kallsyms; may be empty.
  std::string printk_formats;  // printk_formats.
  std::string cmdlines;        // saved_cmdlines: "<pid> <comm>\n"...
  std::string trace_clock;     // trace_clock: "[local] global ...".
  std::string uname;           // "Linux host 6.18.0 x86_64".
};

enum class TraceDatCompression { kNone, kZstd };

struct TraceDatWriterOptions {
  int version = 7;  // 6 or 7.
  // Version 7 only (version 6 files are never compressed).
  TraceDatCompression compression = TraceDatCompression::kZstd;
  uint32_t pages_per_chunk = 64;  // zstd: pages compressed together.
  int zstd_level = 3;             // zstd's default, as trace-cmd uses.
};

class TraceDatWriter {
 public:
  // Refuses absurd values rather than writing a file nobody can read.
  static constexpr uint32_t kMaxCpus = 8192;

  // Creates (truncates) `path` for pages of `page_size` bytes (the
  // sub-buffer size, header included) from CPUs 0..cpu_count-1.
  // InvalidArgument for a bad version, page size or CPU count; errno errors
  // name the path.
  static absl::StatusOr<std::unique_ptr<TraceDatWriter>> Create(
      const std::string& path, uint32_t page_size, uint32_t cpu_count,
      TraceDatWriterOptions options = TraceDatWriterOptions());
  ~TraceDatWriter();
  TraceDatWriter(const TraceDatWriter&) = delete;
  TraceDatWriter& operator=(const TraceDatWriter&) = delete;

  // Appends one sub-buffer of `cpu` as the kernel wrote it: exactly
  // page_size bytes, header included. Not checked beyond its size: a page
  // trace-cmd cannot parse is stored as it is, like trace-cmd does.
  absl::Status AddPage(uint32_t cpu, absl::Span<const uint8_t> page);

  // Writes the file out with `metadata`, which is taken at the end so that
  // the saved command lines name the tasks the pages hold. The writer is
  // done afterwards (AddPage fails).
  absl::Status Finish(const TraceDatMetadata& metadata);

  uint64_t pages() const { return pages_; }
  // Bytes of the file after Finish.
  uint64_t file_bytes() const { return file_bytes_; }

 private:
  struct CpuSpill;
  class Output;

  TraceDatWriter() = default;
  absl::Status FlushChunk(CpuSpill* spill);
  absl::Status Compress(absl::Span<const uint8_t> input, std::string* out);
  absl::Status WriteV6(const TraceDatMetadata& m, Output* out);
  absl::Status WriteV7(const TraceDatMetadata& m, Output* out);
  absl::Status WriteCpuData(
      Output* out, uint32_t cpu,
      std::vector<std::pair<uint64_t, uint64_t>>* extents);

  std::string path_;
  std::string dir_;
  uint32_t page_size_ = 0;
  uint32_t cpu_count_ = 0;
  TraceDatWriterOptions options_;
  ScopedFd fd_;
  std::vector<std::unique_ptr<CpuSpill>> spills_;  // Index: CPU id.
  struct ZstdDeleter {
    void operator()(ZSTD_CCtx_s* ctx) const;
  };
  std::unique_ptr<ZSTD_CCtx_s, ZstdDeleter> zstd_;
  uint64_t pages_ = 0;
  uint64_t file_bytes_ = 0;
  bool finished_ = false;
};

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_TRACEDAT_TRACE_DAT_WRITER_H_
