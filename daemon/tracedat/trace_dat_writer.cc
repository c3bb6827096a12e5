#include "daemon/tracedat/trace_dat_writer.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/util/file_util.h"
#include "daemon/util/status_macros.h"

namespace ringwatch {
namespace {

constexpr char kMagic[] = {0x17, 0x08, 0x44, 't', 'r', 'a', 'c', 'i', 'n', 'g'};

// trace-cmd's option and section ids (enum tracecmd_option_id).
enum : uint16_t {
  kOptDone = 0,
  kOptBuffer = 3,
  kOptTraceClock = 4,
  kOptUname = 5,
  kOptCpuCount = 8,
  kOptVersion = 9,
  kOptHeaderInfo = 16,
  kOptFtraceEvents = 17,
  kOptEventFormats = 18,
  kOptKallsyms = 19,
  kOptPrintk = 20,
  kOptCmdlines = 21,
};
constexpr uint16_t kSectionCompressed = 1;
constexpr char kWriterVersion[] = "ringwatch trace_dat_writer";

template <typename T>
void Put(std::string* out, T value) {
  out->append(reinterpret_cast<const char*>(&value), sizeof(value));
}
void PutCString(std::string* out, absl::string_view text) {
  out->append(text.data(), text.size());
  out->push_back('\0');
}

// "[local] global" -> "local"; the whole text when nothing is selected.
std::string SelectedClock(absl::string_view text) {
  const size_t open = text.find('[');
  const size_t close = text.find(']', open);
  if (open == absl::string_view::npos || close == absl::string_view::npos) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
      text.remove_suffix(1);
    }
    return std::string(text);
  }
  return std::string(text.substr(open + 1, close - open - 1));
}

// The metadata blocks, laid out alike in both versions.
std::string HeaderInfoBlock(const TraceDatMetadata& m) {
  std::string b;
  b.append("header_page", 12);
  Put<uint64_t>(&b, m.header_page.size());
  b += m.header_page;
  b.append("header_event", 13);
  Put<uint64_t>(&b, m.header_event.size());
  b += m.header_event;
  return b;
}
std::string FtraceBlock(const TraceDatMetadata& m) {
  std::string b;
  Put<uint32_t>(&b, m.ftrace_formats.size());
  for (const std::string& f : m.ftrace_formats) {
    Put<uint64_t>(&b, f.size());
    b += f;
  }
  return b;
}
std::string EventsBlock(const TraceDatMetadata& m) {
  std::string b;
  Put<uint32_t>(&b, m.event_systems.size());
  for (const auto& [system, formats] : m.event_systems) {
    PutCString(&b, system);
    Put<uint32_t>(&b, formats.size());
    for (const std::string& f : formats) {
      Put<uint64_t>(&b, f.size());
      b += f;
    }
  }
  return b;
}
std::string SizedBlock32(const std::string& text) {
  std::string b;
  Put<uint32_t>(&b, text.size());
  return b + text;
}
std::string SizedBlock64(const std::string& text) {
  std::string b;
  Put<uint64_t>(&b, text.size());
  return b + text;
}

}  // namespace

// One CPU's pages so far, in an unlinked temporary file.
struct TraceDatWriter::CpuSpill {
  ScopedFd fd;
  uint64_t bytes = 0;   // Written to `fd`.
  uint32_t chunks = 0;  // zstd: chunks written.
  uint64_t pages = 0;
  std::string pending;  // zstd: pages of the chunk being gathered.
};

// Buffered sequential output that knows its offset.
class TraceDatWriter::Output {
 public:
  Output(int fd, const std::string& path) : fd_(fd), path_(path) {}
  uint64_t offset() const { return flushed_ + buffer_.size(); }
  absl::Status Append(absl::string_view bytes) {
    buffer_.append(bytes.data(), bytes.size());
    if (buffer_.size() >= (1 << 20)) return Flush();
    return absl::OkStatus();
  }
  absl::Status PadTo(uint64_t alignment) {
    const uint64_t rem = offset() % alignment;
    if (rem != 0) buffer_.append(alignment - rem, '\0');
    return absl::OkStatus();
  }
  absl::Status Flush() {
    size_t done = 0;
    while (done < buffer_.size()) {
      const ssize_t n =
          ::write(fd_, buffer_.data() + done, buffer_.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return PathError(errno, "write", path_);
      }
      done += static_cast<size_t>(n);
    }
    flushed_ += buffer_.size();
    buffer_.clear();
    return absl::OkStatus();
  }
  // Overwrites bytes already written (after a Flush).
  absl::Status Patch(uint64_t at, absl::string_view bytes) {
    RETURN_IF_ERROR(Flush());
    if (::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(at)) !=
        static_cast<ssize_t>(bytes.size())) {
      return PathError(errno, "pwrite", path_);
    }
    return absl::OkStatus();
  }
  // Appends the whole content of `fd` (`size` bytes).
  absl::Status CopyFrom(int fd, uint64_t size) {
    RETURN_IF_ERROR(Flush());
    std::string block(1 << 20, '\0');
    uint64_t at = 0;
    while (at < size) {
      const ssize_t n = ::pread(
          fd, block.data(),
          static_cast<size_t>(std::min<uint64_t>(block.size(), size - at)),
          static_cast<off_t>(at));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        return PathError(n < 0 ? errno : EIO, "read back the spill file of",
                         path_);
      }
      RETURN_IF_ERROR(Append(absl::string_view(block.data(), n)));
      at += static_cast<uint64_t>(n);
    }
    return Flush();
  }

 private:
  int fd_;
  const std::string& path_;
  std::string buffer_;
  uint64_t flushed_ = 0;
};

void TraceDatWriter::ZstdDeleter::operator()(ZSTD_CCtx_s* ctx) const {
  ZSTD_freeCCtx(ctx);
}

TraceDatWriter::~TraceDatWriter() = default;

absl::StatusOr<std::unique_ptr<TraceDatWriter>> TraceDatWriter::Create(
    const std::string& path, uint32_t page_size, uint32_t cpu_count,
    TraceDatWriterOptions options) {
  if (options.version != 6 && options.version != 7) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": trace.dat version ", options.version, " (supported: 6, 7)"));
  }
  if (options.version == 6) options.compression = TraceDatCompression::kNone;
  const uint32_t page = page_size;
  if (page < 64 || page > (16u << 20) || (page & (page - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": bad page size ", page));
  }
  if (cpu_count == 0 || cpu_count > kMaxCpus) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": cpu count ", cpu_count, " not in [1, ", kMaxCpus, "]"));
  }
  if (options.pages_per_chunk == 0 || options.pages_per_chunk > 1024) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": pages per chunk ",
                                                   options.pages_per_chunk,
                                                   " not in [1, 1024]"));
  }
  std::unique_ptr<TraceDatWriter> w(new TraceDatWriter());
  w->path_ = path;
  const size_t slash = path.rfind('/');
  w->dir_ = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  if (w->dir_.empty()) w->dir_ = "/";
  w->page_size_ = page_size;
  w->cpu_count_ = cpu_count;
  w->options_ = options;
  w->fd_.reset(
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!w->fd_.valid()) return PathError(errno, "create", path);
  if (options.compression == TraceDatCompression::kZstd) {
    w->zstd_.reset(ZSTD_createCCtx());
    if (w->zstd_ == nullptr) {
      return absl::ResourceExhaustedError(
          absl::StrCat(path, ": zstd could not allocate a context"));
    }
  }
  w->spills_.resize(cpu_count);
  return w;
}

absl::Status TraceDatWriter::AddPage(uint32_t cpu,
                                     absl::Span<const uint8_t> page) {
  if (finished_) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_, ": page added after Finish"));
  }
  if (cpu >= spills_.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path_, ": cpu ", cpu, " out of range (", spills_.size(), " CPUs)"));
  }
  if (page.size() != page_size_) {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": page of ", page.size(), " bytes for cpu ", cpu,
                     " (the file's page size is ", page_size_, ")"));
  }
  std::unique_ptr<CpuSpill>& spill = spills_[cpu];
  if (spill == nullptr) {
    spill = std::make_unique<CpuSpill>();
    // Unlinked from the start: nothing is left behind if we die.
    spill->fd.reset(::open(dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (!spill->fd.valid()) {
      std::string name = absl::StrCat(dir_, ".trace_dat_spill.XXXXXX");
      spill->fd.reset(::mkostemp(name.data(), O_CLOEXEC));
      if (!spill->fd.valid())
        return PathError(errno, "create a spill file in", dir_);
      ::unlink(name.c_str());
    }
  }
  ++spill->pages;
  ++pages_;
  if (zstd_ != nullptr) {
    spill->pending.append(reinterpret_cast<const char*>(page.data()),
                          page.size());
    if (spill->pending.size() >=
        uint64_t{options_.pages_per_chunk} * page_size_) {
      return FlushChunk(spill.get());
    }
    return absl::OkStatus();
  }
  Output out(spill->fd.get(), path_);
  RETURN_IF_ERROR(out.Append(absl::string_view(
      reinterpret_cast<const char*>(page.data()), page.size())));
  RETURN_IF_ERROR(out.Flush());
  spill->bytes += page.size();
  return absl::OkStatus();
}

absl::Status TraceDatWriter::Compress(absl::Span<const uint8_t> input,
                                      std::string* out) {
  out->resize(ZSTD_compressBound(input.size()));
  const size_t n =
      ZSTD_compressCCtx(zstd_.get(), out->data(), out->size(), input.data(),
                        input.size(), options_.zstd_level);
  if (ZSTD_isError(n)) {
    return absl::InternalError(absl::StrCat(
        path_, ": zstd compression failed: ", ZSTD_getErrorName(n)));
  }
  out->resize(n);
  return absl::OkStatus();
}

// zstd chunk: u32 compressed size, u32 uncompressed size, the frame.
absl::Status TraceDatWriter::FlushChunk(CpuSpill* spill) {
  if (spill->pending.empty()) return absl::OkStatus();
  std::string compressed;
  RETURN_IF_ERROR(Compress(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(
                                                   spill->pending.data()),
                                               spill->pending.size()),
                           &compressed));
  std::string chunk;
  Put<uint32_t>(&chunk, compressed.size());
  Put<uint32_t>(&chunk, spill->pending.size());
  chunk += compressed;
  Output out(spill->fd.get(), path_);
  // Appends at the spill's end: the descriptor's offset is only ever
  // advanced by these writes.
  RETURN_IF_ERROR(out.Append(chunk));
  RETURN_IF_ERROR(out.Flush());
  spill->bytes += chunk.size();
  ++spill->chunks;
  spill->pending.clear();
  return absl::OkStatus();
}

// One CPU's data at a page-aligned offset; the (offset, size) trace-cmd
// stores for it. zstd data starts with the chunk count, which trace-cmd
// leaves out of the size.
absl::Status TraceDatWriter::WriteCpuData(
    Output* out, uint32_t cpu,
    std::vector<std::pair<uint64_t, uint64_t>>* extents) {
  RETURN_IF_ERROR(out->PadTo(page_size_));
  CpuSpill* spill = spills_[cpu].get();
  const uint64_t offset = out->offset();
  if (spill == nullptr || spill->pages == 0) {
    extents->emplace_back(offset, 0);
    return absl::OkStatus();
  }
  if (zstd_ != nullptr) {
    RETURN_IF_ERROR(FlushChunk(spill));
    std::string count;
    Put<uint32_t>(&count, spill->chunks);
    RETURN_IF_ERROR(out->Append(count));
  }
  RETURN_IF_ERROR(out->CopyFrom(spill->fd.get(), spill->bytes));
  extents->emplace_back(offset, spill->bytes);
  return absl::OkStatus();
}

absl::Status TraceDatWriter::WriteV6(const TraceDatMetadata& m, Output* out) {
  RETURN_IF_ERROR(out->Append(HeaderInfoBlock(m)));
  RETURN_IF_ERROR(out->Append(FtraceBlock(m)));
  RETURN_IF_ERROR(out->Append(EventsBlock(m)));
  RETURN_IF_ERROR(out->Append(SizedBlock32(m.kallsyms)));
  RETURN_IF_ERROR(out->Append(SizedBlock32(m.printk_formats)));
  RETURN_IF_ERROR(out->Append(SizedBlock64(m.cmdlines)));
  std::string b;
  Put<uint32_t>(&b, cpu_count_);
  b.append("options  ", 10);
  auto option = [&b](uint16_t id, absl::string_view data) {
    Put<uint16_t>(&b, id);
    Put<uint32_t>(&b, data.size());
    b.append(data.data(), data.size());
  };
  option(kOptTraceClock, std::string(m.trace_clock) + '\0');
  option(kOptUname, m.uname + '\0');
  option(kOptVersion, std::string(kWriterVersion) + '\0');
  std::string cpus;
  Put<uint32_t>(&cpus, cpu_count_);
  option(kOptCpuCount, cpus);
  Put<uint16_t>(&b, kOptDone);
  b.append("flyrecord", 10);
  RETURN_IF_ERROR(out->Append(b));
  // The CPU table's place; filled in once the data is written.
  const uint64_t table = out->offset();
  RETURN_IF_ERROR(out->Append(std::string(16 * cpu_count_, '\0')));
  std::string clock = absl::StrCat("[", SelectedClock(m.trace_clock), "]");
  std::string clock_block;
  Put<uint64_t>(&clock_block, clock.size());
  RETURN_IF_ERROR(out->Append(clock_block + clock));
  std::vector<std::pair<uint64_t, uint64_t>> extents;
  for (uint32_t cpu = 0; cpu < cpu_count_; ++cpu) {
    RETURN_IF_ERROR(WriteCpuData(out, cpu, &extents));
  }
  std::string filled;
  for (const auto& [offset, size] : extents) {
    Put<uint64_t>(&filled, offset);
    Put<uint64_t>(&filled, size);
  }
  return out->Patch(table, filled);
}

absl::Status TraceDatWriter::WriteV7(const TraceDatMetadata& m, Output* out) {
  const bool zstd = zstd_ != nullptr;
  // The first (and only) options section comes last; its offset is patched.
  const uint64_t options_pointer = out->offset();
  RETURN_IF_ERROR(out->Append(std::string(8, '\0')));

  // Section header: u16 id, u16 flags, u32 description string id (0: none),
  // u64 size of what follows.
  std::string options;
  auto option = [&options](uint16_t id, absl::string_view data) {
    Put<uint16_t>(&options, id);
    Put<uint32_t>(&options, data.size());
    options.append(data.data(), data.size());
  };
  auto section = [&](uint16_t id, const std::string& data) -> absl::Status {
    const uint64_t at = out->offset();
    std::string b;
    Put<uint16_t>(&b, id);
    Put<uint16_t>(&b, zstd ? kSectionCompressed : 0);
    Put<uint32_t>(&b, 0);
    if (zstd) {
      std::string compressed;
      RETURN_IF_ERROR(Compress(
          absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(data.data()),
                              data.size()),
          &compressed));
      Put<uint64_t>(&b, 8 + compressed.size());
      Put<uint32_t>(&b, compressed.size());
      Put<uint32_t>(&b, data.size());
      b += compressed;
    } else {
      Put<uint64_t>(&b, data.size());
      b += data;
    }
    RETURN_IF_ERROR(out->Append(b));
    std::string pointer;
    Put<uint64_t>(&pointer, at);
    option(id, pointer);
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(section(kOptHeaderInfo, HeaderInfoBlock(m)));
  RETURN_IF_ERROR(section(kOptFtraceEvents, FtraceBlock(m)));
  RETURN_IF_ERROR(section(kOptEventFormats, EventsBlock(m)));
  RETURN_IF_ERROR(section(kOptKallsyms, SizedBlock32(m.kallsyms)));
  RETURN_IF_ERROR(section(kOptPrintk, SizedBlock32(m.printk_formats)));
  RETURN_IF_ERROR(section(kOptCmdlines, SizedBlock64(m.cmdlines)));

  // The flyrecord section: header, padding to a page, each CPU's data.
  const uint64_t flyrecord = out->offset();
  std::string header;
  Put<uint16_t>(&header, kOptBuffer);
  Put<uint16_t>(&header, zstd ? kSectionCompressed : 0);
  Put<uint32_t>(&header, 0);
  Put<uint64_t>(&header, 0);  // Size: patched below.
  RETURN_IF_ERROR(out->Append(header));
  const uint64_t data_start = out->offset();
  std::vector<std::pair<uint64_t, uint64_t>> extents;
  for (uint32_t cpu = 0; cpu < cpu_count_; ++cpu) {
    RETURN_IF_ERROR(WriteCpuData(out, cpu, &extents));
  }
  std::string size;
  Put<uint64_t>(&size, out->offset() - data_start);
  RETURN_IF_ERROR(out->Patch(flyrecord + 8, size));

  // BUFFER: offset, name, clock, page size, CPU count, (cpu, offset, size).
  std::string buffer;
  Put<uint64_t>(&buffer, flyrecord);
  PutCString(&buffer, "");
  PutCString(&buffer, SelectedClock(m.trace_clock));
  Put<uint32_t>(&buffer, page_size_);
  Put<uint32_t>(&buffer, cpu_count_);
  for (uint32_t cpu = 0; cpu < cpu_count_; ++cpu) {
    Put<uint32_t>(&buffer, cpu);
    Put<uint64_t>(&buffer, extents[cpu].first);
    Put<uint64_t>(&buffer, extents[cpu].second);
  }
  option(kOptBuffer, buffer);
  option(kOptTraceClock, m.trace_clock + '\0');
  option(kOptUname, m.uname + '\0');
  option(kOptVersion, std::string(kWriterVersion) + '\0');
  std::string cpus;
  Put<uint32_t>(&cpus, cpu_count_);
  option(kOptCpuCount, cpus);
  Put<uint16_t>(&options, kOptDone);
  Put<uint32_t>(&options, 8);
  Put<uint64_t>(&options, 0);  // No further options section.

  const uint64_t options_at = out->offset();
  std::string section_header;
  Put<uint16_t>(&section_header, kOptDone);
  Put<uint16_t>(&section_header, 0);
  Put<uint32_t>(&section_header, 0);
  Put<uint64_t>(&section_header, options.size());
  RETURN_IF_ERROR(out->Append(section_header + options));
  std::string pointer;
  Put<uint64_t>(&pointer, options_at);
  return out->Patch(options_pointer, pointer);
}

absl::Status TraceDatWriter::Finish(const TraceDatMetadata& metadata) {
  if (finished_) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_, ": Finish called twice"));
  }
  finished_ = true;
  Output out(fd_.get(), path_);
  std::string initial(kMagic, sizeof(kMagic));
  PutCString(&initial, absl::StrCat(options_.version));
  initial.push_back(0);  // Little endian.
  initial.push_back(static_cast<char>(sizeof(long)));
  Put<uint32_t>(&initial, page_size_);
  if (options_.version >= 7) {
    if (zstd_ != nullptr) {
      PutCString(&initial, "zstd");
      PutCString(&initial, ZSTD_versionString());
    } else {
      PutCString(&initial, "none");
      PutCString(&initial, "");
    }
  }
  RETURN_IF_ERROR(out.Append(initial));
  RETURN_IF_ERROR(options_.version == 6 ? WriteV6(metadata, &out)
                                        : WriteV7(metadata, &out));
  RETURN_IF_ERROR(out.Flush());
  file_bytes_ = out.offset();
  if (::fsync(fd_.get()) != 0) return PathError(errno, "fsync", path_);
  fd_.reset();
  spills_.clear();
  return absl::OkStatus();
}

}  // namespace ringwatch
