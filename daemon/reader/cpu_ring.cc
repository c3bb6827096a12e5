#include "daemon/reader/cpu_ring.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "daemon/reader/mapped_ring.h"
#include "daemon/reader/read_ring.h"
#include "daemon/util/file_util.h"
#include "daemon/util/scoped_fd.h"
#include "daemon/util/status_macros.h"

namespace ringwatch {

CpuRing::CpuRing(uint32_t cpu) : cpu_(cpu) {}

void CpuRing::Publish() {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  published_.events.store(decode_.events, kRelaxed);
  published_.bytes.store(decode_.bytes, kRelaxed);
  published_.subbufs.store(decode_.subbufs, kRelaxed);
  published_.padding.store(decode_.padding, kRelaxed);
  published_.lost.store(decode_.lost_events, kRelaxed);
  published_.lost_unknown.store(decode_.lost_unknown, kRelaxed);
  published_.decode_errors.store(decode_.decode_errors, kRelaxed);
  published_.overrun.store(overrun_, kRelaxed);
  published_.syscalls.store(syscalls_, kRelaxed);
  published_.kernel_entries.store(kernel_entries_, kRelaxed);
  published_.kernel_overrun.store(kernel_overrun_, kRelaxed);
  published_.kernel_read.store(kernel_read_, kRelaxed);
}

bool CpuRing::SinkHasRoom(RecordSink* sink, uint32_t data_bytes) {
  held_back_ = !sink->HasRoomFor(data_bytes / kMinRecordBytes + 1);
  return !held_back_;
}

RingCounters CpuRing::counters() const {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  RingCounters c;
  c.cpu = cpu_;
  c.mapped = mapped();
  c.events = published_.events.load(kRelaxed);
  c.bytes = published_.bytes.load(kRelaxed);
  c.subbufs = published_.subbufs.load(kRelaxed);
  c.padding = published_.padding.load(kRelaxed);
  c.lost = published_.lost.load(kRelaxed);
  c.lost_unknown = published_.lost_unknown.load(kRelaxed);
  c.decode_errors = published_.decode_errors.load(kRelaxed);
  c.overrun = published_.overrun.load(kRelaxed);
  c.syscalls = published_.syscalls.load(kRelaxed);
  c.kernel_entries = published_.kernel_entries.load(kRelaxed);
  c.kernel_overrun = published_.kernel_overrun.load(kRelaxed);
  c.kernel_read = published_.kernel_read.load(kRelaxed);
  return c;
}

uint32_t SubbufSizeForPipe(const std::string& trace_pipe_raw_path) {
  const uint32_t page = static_cast<uint32_t>(::getpagesize());
  // <instance>/per_cpu/cpuN/trace_pipe_raw -> <instance>/buffer_subbuf_size_kb
  absl::string_view dir = trace_pipe_raw_path;
  for (int i = 0; i < 3; ++i) {
    size_t slash = dir.rfind('/');
    if (slash == absl::string_view::npos) return page;
    dir = dir.substr(0, slash);
  }
  absl::StatusOr<std::string> text =
      ReadFileToString(absl::StrCat(dir, "/buffer_subbuf_size_kb"));
  uint32_t kb = 0;
  if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &kb) ||
      kb == 0 || kb > (1u << 20)) {
    return page;
  }
  return kb * 1024;
}

namespace {

// Says once per process why a ring is read with read(): it is a large
// difference in cost, and a user wondering about it should find the reason.
void LogFallbackOnce(const std::string& path, const absl::Status& why) {
  static std::atomic<bool> logged{false};
  if (logged.exchange(true)) return;
  std::fprintf(stderr,
               "ringwatch: not mapping %s (%s); reading rings with read() "
               "instead\n",
               path.c_str(), why.ToString().c_str());
}

}  // namespace

absl::StatusOr<std::unique_ptr<CpuRing>> OpenCpuRing(
    const std::string& path, uint32_t cpu, const HeaderPageFormat& format,
    const RingOptions& options) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return PathError(errno, "open", path);
  if (options.mode != RingMode::kRead) {
    absl::StatusOr<std::unique_ptr<MappedRing>> mapped =
        MappedRing::FromFd(&fd, path, cpu, format);
    if (mapped.ok()) return std::unique_ptr<CpuRing>(std::move(*mapped));
    if (options.mode == RingMode::kMmap) return mapped.status();
    LogFallbackOnce(path, mapped.status());
  }
  uint32_t subbuf_size = options.read_subbuf_size != 0
                             ? options.read_subbuf_size
                             : SubbufSizeForPipe(path);
  ASSIGN_OR_RETURN(
      std::unique_ptr<ReadRing> ring,
      ReadRing::FromFd(std::move(fd), path, cpu, format, subbuf_size));
  return std::unique_ptr<CpuRing>(std::move(ring));
}

absl::StatusOr<std::vector<std::unique_ptr<CpuRing>>> OpenCpuRings(
    const std::string& instance_dir, absl::Span<const int> cpus,
    const HeaderPageFormat& format, const RingOptions& options) {
  std::vector<std::unique_ptr<CpuRing>> rings;
  rings.reserve(cpus.size());
  for (int cpu : cpus) {
    if (cpu < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("negative cpu number ", cpu, " for ", instance_dir));
    }
    std::string path =
        absl::StrCat(instance_dir, "/per_cpu/cpu", cpu, "/trace_pipe_raw");
    ASSIGN_OR_RETURN(
        std::unique_ptr<CpuRing> ring,
        OpenCpuRing(path, static_cast<uint32_t>(cpu), format, options));
    rings.push_back(std::move(ring));
  }
  return rings;
}

}  // namespace ringwatch
