#include "daemon/tracedat/trace_dat_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "daemon/event/event_format.h"
#include "daemon/tracedat/byte_reader.h"
#include "daemon/tracedat/zstd_decompressor.h"
#include "daemon/util/file_util.h"
#include "daemon/util/scoped_fd.h"
#include "daemon/util/status_macros.h"

namespace ringwatch {
namespace {

constexpr uint8_t kMagic[] = {0x17, 0x08, 0x44, 't', 'r',
                              'a',  'c',  'i',  'n', 'g'};

// Option and section ids (trace-cmd's enum tracecmd_option_id). In version 7
// a section carries the id of the option that points to it.
enum : uint16_t {
  kOptDone = 0,
  kOptDate = 1,
  kOptCpuStat = 2,
  kOptBuffer = 3,
  kOptTraceClock = 4,
  kOptUname = 5,
  kOptOffset = 7,
  kOptCpuCount = 8,
  kOptVersion = 9,
  kOptTraceId = 11,
  kOptTimeShift = 12,
  kOptTsc2Nsec = 14,
  kOptStrings = 15,
  kOptHeaderInfo = 16,
  kOptFtraceEvents = 17,
  kOptEventFormats = 18,
  kOptKallsyms = 19,
  kOptPrintk = 20,
  kOptCmdlines = 21,
  kOptBufferText = 22,
};

constexpr uint16_t kSectionCompressed = 1;

// Bounds on things that have no natural bound in the file.
constexpr size_t kMaxName = 4096;            // System, buffer and clock names.
constexpr size_t kMaxOptionSections = 4096;  // Chained options sections.

const char* SectionName(uint16_t id) {
  switch (id) {
    case kOptDone:
      return "options";
    case kOptBuffer:
      return "buffer flyrecord";
    case kOptStrings:
      return "strings";
    case kOptHeaderInfo:
      return "header_page";
    case kOptFtraceEvents:
      return "ftrace formats";
    case kOptEventFormats:
      return "event formats";
    case kOptKallsyms:
      return "kallsyms";
    case kOptPrintk:
      return "printk formats";
    case kOptCmdlines:
      return "command lines";
    case kOptBufferText:
      return "buffer text";
    default:
      return "unknown";
  }
}

// The text of an option up to its NUL.
absl::string_view OptionText(absl::Span<const uint8_t> data) {
  absl::string_view text(reinterpret_cast<const char*>(data.data()),
                         data.size());
  const size_t nul = text.find('\0');
  return nul == absl::string_view::npos ? text : text.substr(0, nul);
}

// strtoll(text, 0) as trace-cmd parses DATE and OFFSET ("0x..." or decimal).
int64_t ParseLooseInteger(absl::string_view text) {
  std::string copy(text);
  return std::strtoll(copy.c_str(), nullptr, 0);
}

// "[local] global" or "[local]" -> "local".
std::string SelectedClock(absl::string_view text) {
  const size_t open = text.find('[');
  if (open == absl::string_view::npos) return "";
  const size_t close = text.find(']', open);
  if (close == absl::string_view::npos) return "";
  return std::string(text.substr(open + 1, close - open - 1));
}

bool ExtentFits(uint64_t offset, uint64_t size, uint64_t end) {
  return offset <= end && size <= end - offset;
}

}  // namespace

// The bytes of the file: a read-only mapping, or a copy for OpenBuffer.
struct TraceDatFile::Mapping {
  void* addr = nullptr;
  size_t length = 0;
  std::vector<uint8_t> copy;
  ~Mapping() {
    if (addr != nullptr) munmap(addr, length);
  }
};

uint64_t TraceDatBuffer::data_bytes() const {
  uint64_t total = 0;
  for (const CpuDataExtent& e : cpus) total += e.size;
  return total;
}

uint32_t TraceDatBuffer::cpu_slots() const {
  uint32_t slots = 0;
  for (const CpuDataExtent& e : cpus) slots = std::max(slots, e.cpu + 1);
  return slots;
}

// Parses the whole file into a TraceDatFile. One per Open.
class TraceDatFile::Parser {
 public:
  explicit Parser(TraceDatFile* file)
      : f_(file), bytes_(file->bytes_), name_(file->name_) {}

  absl::Status Parse() {
    ByteReader r(bytes_, absl::StrCat(name_, ": file header"));
    RETURN_IF_ERROR(ParseInitial(&r));
    if (f_->version_ == 6) {
      RETURN_IF_ERROR(ParseV6(&r));
    } else {
      RETURN_IF_ERROR(ParseV7(&r));
    }
    ChooseDefaultBuffer();
    return absl::OkStatus();
  }

 private:
  // A section's bytes, decompressed when it was stored compressed.
  struct Section {
    absl::Span<const uint8_t> data;
    bool decompressed = false;
    uint64_t data_offset = 0;  // File offset of the section's data.
    uint64_t end = 0;          // File offset just past the section.
    bool compressed_flag = false;
    std::string where;
  };

  absl::Status ParseInitial(ByteReader* r) {
    if (bytes_.size() < sizeof(kMagic) ||
        std::memcmp(bytes_.data(), kMagic, sizeof(kMagic)) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(name_, ": not a trace.dat file (bad magic)"));
    }
    RETURN_IF_ERROR(r->Skip(sizeof(kMagic)));
    absl::string_view version;
    RETURN_IF_ERROR(r->ReadCString(16, &version));
    int v = 0;
    if (!absl::SimpleAtoi(version, &v) || (v != 6 && v != 7)) {
      return absl::UnimplementedError(
          absl::StrCat(name_, ": unsupported trace.dat version '", version,
                       "' (supported: 6, 7)"));
    }
    f_->version_ = v;
    uint8_t endian = 0;
    uint8_t long_size = 0;
    RETURN_IF_ERROR(r->Read(&endian));
    RETURN_IF_ERROR(r->Read(&long_size));
    if (endian != 0) {
      return absl::UnimplementedError(absl::StrCat(
          name_, ": big-endian trace.dat files are not supported"));
    }
    if (long_size != 4 && long_size != 8) {
      return r->Error(
          absl::StrCat("bad long size ", long_size, " (expected 4 or 8)"));
    }
    uint32_t page_size = 0;
    RETURN_IF_ERROR(r->Read(&page_size));
    RETURN_IF_ERROR(CheckPageSize(page_size, *r));
    f_->page_size_ = page_size;
    if (v >= 7) {
      absl::string_view name, version_text;
      RETURN_IF_ERROR(r->ReadCString(kMaxName, &name));
      RETURN_IF_ERROR(r->ReadCString(kMaxName, &version_text));
      if (name != "none" && name != "zstd") {
        return absl::UnimplementedError(
            absl::StrCat(name_, ": compression '", name,
                         "' is not supported (only zstd and none)"));
      }
      f_->compression_ = std::string(name);
    }
    return absl::OkStatus();
  }

  absl::Status CheckPageSize(uint32_t page_size, const ByteReader& r) {
    // Sub-buffers are powers of two larger than their header.
    if (page_size < 64 || page_size > (16u << 20) ||
        (page_size & (page_size - 1)) != 0) {
      return r.Error(absl::StrCat("bad page size ", page_size));
    }
    return absl::OkStatus();
  }

  // ---- Metadata, laid out alike in both versions. ----

  absl::Status ParseHeaderInfo(ByteReader* r) {
    r->set_where(absl::StrCat(name_, ": header_page"));
    RETURN_IF_ERROR(
        r->Expect(absl::string_view("header_page\0", 12), "\"header_page\""));
    uint64_t size = 0;
    absl::string_view text;
    RETURN_IF_ERROR(r->Read(&size));
    const uint64_t at = r->offset();
    RETURN_IF_ERROR(r->ReadText(size, &text));
    absl::StatusOr<HeaderPageFormat> header = ParseHeaderPage(text);
    if (!header.ok()) {
      return absl::DataLossError(absl::StrCat(r->where(), " at offset ", at,
                                              ": ", header.status().message()));
    }
    f_->catalog_.set_header_page(*header);
    r->set_where(absl::StrCat(name_, ": header_event"));
    RETURN_IF_ERROR(
        r->Expect(absl::string_view("header_event\0", 13), "\"header_event\""));
    RETURN_IF_ERROR(r->Read(&size));
    return r->Skip(size);
  }

  void AddFormat(absl::string_view system, absl::string_view text, uint64_t at,
                 const ByteReader& r) {
    absl::StatusOr<EventFormat> format = ParseEventFormat(system, text);
    absl::Status status = format.status();
    if (format.ok()) status = f_->catalog_.Add(*std::move(format));
    if (!status.ok()) {
      f_->catalog_.NoteSkipped(absl::StrCat(r.where(), " format at offset ", at,
                                            ": ", status.message()));
    }
  }

  absl::Status ParseFtraceFormats(ByteReader* r) {
    r->set_where(absl::StrCat(name_, ": ftrace formats"));
    uint32_t count = 0;
    RETURN_IF_ERROR(r->Read(&count));
    for (uint32_t i = 0; i < count; ++i) {
      uint64_t size = 0;
      absl::string_view text;
      RETURN_IF_ERROR(r->Read(&size));
      const uint64_t at = r->offset();
      RETURN_IF_ERROR(r->ReadText(size, &text));
      AddFormat("ftrace", text, at, *r);
    }
    return absl::OkStatus();
  }

  absl::Status ParseEventFormats(ByteReader* r) {
    r->set_where(absl::StrCat(name_, ": event formats"));
    uint32_t systems = 0;
    RETURN_IF_ERROR(r->Read(&systems));
    for (uint32_t s = 0; s < systems; ++s) {
      absl::string_view system;
      uint32_t count = 0;
      RETURN_IF_ERROR(r->ReadCString(kMaxName, &system));
      RETURN_IF_ERROR(r->Read(&count));
      for (uint32_t i = 0; i < count; ++i) {
        uint64_t size = 0;
        absl::string_view text;
        RETURN_IF_ERROR(r->Read(&size));
        const uint64_t at = r->offset();
        RETURN_IF_ERROR(r->ReadText(size, &text));
        AddFormat(system, text, at, *r);
      }
    }
    return absl::OkStatus();
  }

  // kallsyms and printk formats: a u32 size and text we do not need.
  absl::Status SkipSizedBlob(ByteReader* r, absl::string_view what) {
    r->set_where(absl::StrCat(name_, ": ", what));
    uint32_t size = 0;
    RETURN_IF_ERROR(r->Read(&size));
    return r->Skip(size);
  }

  absl::Status ParseCmdlines(ByteReader* r) {
    r->set_where(absl::StrCat(name_, ": command lines"));
    uint64_t size = 0;
    absl::string_view text;
    RETURN_IF_ERROR(r->Read(&size));
    RETURN_IF_ERROR(r->ReadText(size, &text));
    // "<pid> <comm>\n" per task; anything else is ignored.
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      const size_t space = line.find(' ');
      int32_t pid = 0;
      if (space == absl::string_view::npos ||
          !absl::SimpleAtoi(line.substr(0, space), &pid)) {
        continue;
      }
      f_->cmdlines_[pid] = std::string(line.substr(space + 1));
    }
    return absl::OkStatus();
  }

  // ---- Options. ----

  // One option's data. Unknown options are skipped, as trace-cmd does.
  absl::Status ParseOption(uint16_t id, absl::Span<const uint8_t> data,
                           const ByteReader& at) {
    TraceDatOptions& o = f_->options_;
    ByteReader r(data, absl::StrCat(at.where(), " option ", id), at.offset(),
                 at.decompressed());
    switch (id) {
      case kOptDate:
        // Microseconds between the trace clock and the time of day.
        AddOffset(static_cast<uint64_t>(ParseLooseInteger(OptionText(data))) *
                  1000);
        break;
      case kOptOffset:
        AddOffset(static_cast<uint64_t>(ParseLooseInteger(OptionText(data))));
        break;
      case kOptCpuStat:
        o.cpu_stats.emplace_back(OptionText(data));
        break;
      case kOptTraceClock:
        o.trace_clocks = std::string(OptionText(data));
        break;
      case kOptUname:
        o.uname = std::string(OptionText(data));
        break;
      case kOptVersion:
        o.tracer_version = std::string(OptionText(data));
        break;
      case kOptCpuCount:
        RETURN_IF_ERROR(r.Read(&o.cpu_count));
        break;
      case kOptTraceId:
        RETURN_IF_ERROR(r.Read(&o.trace_id));
        break;
      case kOptTimeShift:
        o.has_time_shift = true;
        break;
      case kOptTsc2Nsec:
        RETURN_IF_ERROR(r.Read(&o.tsc2nsec_mult));
        RETURN_IF_ERROR(r.Read(&o.tsc2nsec_shift));
        if (o.tsc2nsec_shift > 63) {
          return r.Error(absl::StrCat("TSC2NSEC shift ", o.tsc2nsec_shift,
                                      " out of range"));
        }
        break;
      case kOptBuffer:
      case kOptBufferText:
        return ParseBufferOption(id, &r);
      case kOptHeaderInfo:
      case kOptFtraceEvents:
      case kOptEventFormats:
      case kOptKallsyms:
      case kOptPrintk:
      case kOptCmdlines:
        if (f_->version_ >= 7) {
          uint64_t offset = 0;
          RETURN_IF_ERROR(r.Read(&offset));
          section_offsets_[id] = offset;
        }
        break;
      default:
        break;
    }
    return absl::OkStatus();
  }

  // Offsets add up modulo 2^64, as trace-cmd's do: no signed overflow on
  // corrupt values.
  void AddOffset(uint64_t ns) {
    f_->options_.timestamp_offset = static_cast<int64_t>(
        static_cast<uint64_t>(f_->options_.timestamp_offset) + ns);
  }

  absl::Status ParseBufferOption(uint16_t id, ByteReader* r) {
    TraceDatBuffer buffer;
    buffer.page_size = f_->page_size_;
    buffer.latency = id == kOptBufferText;
    uint64_t offset = 0;
    absl::string_view name;
    RETURN_IF_ERROR(r->Read(&offset));
    RETURN_IF_ERROR(r->ReadCString(kMaxName, &name));
    buffer.name = std::string(name);
    if (f_->version_ < 7) {
      // Version 6 only points at the instance's own "flyrecord" block.
      pending_v6_buffers_.emplace_back(std::move(buffer), offset);
      return absl::OkStatus();
    }
    absl::string_view clock;
    RETURN_IF_ERROR(r->ReadCString(kMaxName, &clock));
    buffer.clock = std::string(clock);
    if (id == kOptBufferText) {
      f_->buffers_.push_back(std::move(buffer));
      return absl::OkStatus();
    }
    // trace-cmd 3.1 added the page size before the CPU count; tell the two
    // layouts apart by which one accounts for every remaining byte.
    const uint64_t rest = r->remaining();
    ByteReader probe = *r;
    uint32_t first = 0, second = 0;
    RETURN_IF_ERROR(probe.Read(&first));
    const bool has_second = probe.Read(&second).ok();
    uint32_t count = 0;
    if (has_second && rest - 8 == uint64_t{second} * 20) {
      RETURN_IF_ERROR(CheckPageSize(first, *r));
      buffer.page_size = first;
      count = second;
      RETURN_IF_ERROR(r->Skip(8));
    } else if (rest - 4 == uint64_t{first} * 20) {
      count = first;
      RETURN_IF_ERROR(r->Skip(4));
    } else {
      return r->Error(absl::StrCat("buffer '", buffer.name, "': ", rest,
                                   " bytes of CPU list match no CPU count"));
    }
    for (uint32_t i = 0; i < count; ++i) {
      CpuDataExtent e;
      RETURN_IF_ERROR(r->Read(&e.cpu));
      RETURN_IF_ERROR(r->Read(&e.offset));
      RETURN_IF_ERROR(r->Read(&e.size));
      buffer.cpus.push_back(e);
    }
    pending_v7_buffers_.emplace_back(f_->buffers_.size(), offset);
    f_->buffers_.push_back(std::move(buffer));
    return absl::OkStatus();
  }

  // Checks a buffer's CPU extents against [start, limit) and fixes limits.
  absl::Status CheckExtents(TraceDatBuffer* buffer, uint64_t start,
                            uint64_t limit, bool compressed) {
    absl::flat_hash_set<uint32_t> seen;
    for (CpuDataExtent& e : buffer->cpus) {
      if (!seen.insert(e.cpu).second) {
        return absl::DataLossError(absl::StrCat(name_, ": buffer '",
                                                buffer->name, "': cpu ", e.cpu,
                                                " listed twice"));
      }
      e.compressed = compressed;
      e.limit = limit;
      if (e.size == 0) continue;
      if (e.offset < start || !ExtentFits(e.offset, e.size, limit)) {
        return absl::DataLossError(
            absl::StrCat(name_, ": buffer '", buffer->name, "' cpu ", e.cpu,
                         " data at offset ", e.offset, " (", e.size,
                         " bytes) lies outside [", start, ", ", limit, ")",
                         limit == bytes_.size() ? " (the file)" : ""));
      }
    }
    return absl::OkStatus();
  }

  // ---- Version 6: one sequential header. ----

  absl::Status ParseV6(ByteReader* r) {
    RETURN_IF_ERROR(ParseHeaderInfo(r));
    RETURN_IF_ERROR(ParseFtraceFormats(r));
    RETURN_IF_ERROR(ParseEventFormats(r));
    RETURN_IF_ERROR(SkipSizedBlob(r, "kallsyms"));
    RETURN_IF_ERROR(SkipSizedBlob(r, "printk formats"));
    RETURN_IF_ERROR(ParseCmdlines(r));
    r->set_where(absl::StrCat(name_, ": options"));
    uint32_t cpus = 0;
    RETURN_IF_ERROR(r->Read(&cpus));
    f_->options_.cpu_count = cpus;
    absl::string_view kind;
    RETURN_IF_ERROR(r->ReadText(10, &kind));
    if (kind == absl::string_view("options  \0", 10)) {
      for (;;) {
        uint16_t id = 0;
        uint32_t size = 0;
        absl::Span<const uint8_t> data;
        RETURN_IF_ERROR(r->Read(&id));
        if (id == kOptDone) break;
        RETURN_IF_ERROR(r->Read(&size));
        const ByteReader at = *r;
        RETURN_IF_ERROR(r->ReadBytes(size, &data));
        RETURN_IF_ERROR(ParseOption(id, data, at));
      }
      RETURN_IF_ERROR(r->ReadText(10, &kind));
    }
    // The option may correct the count the header gave.
    const uint32_t cpu_entries = f_->options_.cpu_count;
    TraceDatBuffer top;
    top.page_size = f_->page_size_;
    RETURN_IF_ERROR(ParseV6Data(r, kind, cpu_entries, &top));
    f_->buffers_.push_back(std::move(top));
    for (auto& [buffer, offset] : pending_v6_buffers_) {
      ByteReader br(bytes_,
                    absl::StrCat(name_, ": buffer '", buffer.name, "'"));
      RETURN_IF_ERROR(br.Seek(offset));
      absl::string_view buffer_kind;
      RETURN_IF_ERROR(br.ReadText(10, &buffer_kind));
      RETURN_IF_ERROR(ParseV6Data(&br, buffer_kind, cpu_entries, &buffer));
      f_->buffers_.push_back(std::move(buffer));
    }
    return absl::OkStatus();
  }

  // After "flyrecord\0": the CPU table, then the trace clock when there is
  // one. After "latency  \0": text, not decoded.
  absl::Status ParseV6Data(ByteReader* r, absl::string_view kind, uint32_t cpus,
                           TraceDatBuffer* buffer) {
    if (kind == absl::string_view("latency  \0", 10)) {
      buffer->latency = true;
      return absl::OkStatus();
    }
    if (kind != absl::string_view("flyrecord\0", 10)) {
      return r->Error("expected \"flyrecord\" or \"latency\"");
    }
    for (uint32_t cpu = 0; cpu < cpus; ++cpu) {
      CpuDataExtent e;
      e.cpu = cpu;
      RETURN_IF_ERROR(r->Read(&e.offset));
      RETURN_IF_ERROR(r->Read(&e.size));
      buffer->cpus.push_back(e);
    }
    RETURN_IF_ERROR(CheckExtents(buffer, 0, bytes_.size(), false));
    // Optional: "[clock]" with a u64 size; a bad one is not worth failing.
    uint64_t size = 0;
    absl::string_view text;
    if (!f_->options_.trace_clocks.empty() && r->Read(&size).ok() &&
        size <= kMaxName && r->ReadText(size, &text).ok()) {
      buffer->clock = SelectedClock(text);
    }
    return absl::OkStatus();
  }

  // ---- Version 7: sections found through options. ----

  absl::Status LoadSection(uint64_t offset, uint16_t expected_id,
                           std::vector<uint8_t>* storage, Section* section) {
    const char* what = SectionName(expected_id);
    section->where = absl::StrCat(name_, ": section '", what, "'");
    ByteReader r(bytes_, section->where);
    if (offset >= bytes_.size()) {
      return absl::DataLossError(absl::StrCat(
          section->where, " at offset ", offset, ": past the end of the file (",
          bytes_.size(), " bytes)"));
    }
    RETURN_IF_ERROR(r.Seek(offset));
    uint16_t id = 0, flags = 0;
    uint32_t description = 0;
    uint64_t size = 0;
    RETURN_IF_ERROR(r.Read(&id));
    RETURN_IF_ERROR(r.Read(&flags));
    RETURN_IF_ERROR(r.Read(&description));
    RETURN_IF_ERROR(r.Read(&size));
    if (id != expected_id) {
      return absl::DataLossError(absl::StrCat(
          section->where, " at offset ", offset, ": section id ", id, " ('",
          SectionName(id), "'), expected ", expected_id));
    }
    section->data_offset = r.offset();
    absl::Span<const uint8_t> body;
    RETURN_IF_ERROR(r.ReadBytes(size, &body));
    section->end = r.offset();
    section->compressed_flag = (flags & kSectionCompressed) != 0;
    section->data = body;
    if (!section->compressed_flag || expected_id == kOptBuffer) {
      // Flyrecord data is compressed per chunk, not as a section.
      return absl::OkStatus();
    }
    if (f_->compression_ == "none") {
      return absl::DataLossError(absl::StrCat(
          section->where, " at offset ", offset,
          ": marked compressed in a file that names no compression"));
    }
    ByteReader br(body, section->where, section->data_offset);
    uint32_t compressed_size = 0, uncompressed_size = 0;
    absl::Span<const uint8_t> compressed;
    RETURN_IF_ERROR(br.Read(&compressed_size));
    RETURN_IF_ERROR(br.Read(&uncompressed_size));
    if (uncompressed_size > kMaxSectionBytes) {
      return br.Error(absl::StrCat("uncompressed size ", uncompressed_size,
                                   " exceeds the limit of ", kMaxSectionBytes));
    }
    RETURN_IF_ERROR(br.ReadBytes(compressed_size, &compressed));
    absl::Status s = zstd_.Decompress(compressed, uncompressed_size, storage);
    if (!s.ok()) {
      return absl::DataLossError(absl::StrCat(section->where, " at offset ",
                                              offset, ": ", s.message()));
    }
    section->data = absl::MakeConstSpan(*storage);
    section->decompressed = true;
    section->where = absl::StrCat(section->where, " (at offset ", offset, ", ",
                                  f_->compression_, ")");
    return absl::OkStatus();
  }

  ByteReader SectionReader(const Section& s) {
    return ByteReader(s.data, s.where, s.decompressed ? 0 : s.data_offset,
                      s.decompressed);
  }

  absl::Status ParseV7(ByteReader* r) {
    uint64_t options_offset = 0;
    RETURN_IF_ERROR(r->Read(&options_offset));
    absl::flat_hash_set<uint64_t> visited;
    std::vector<uint8_t> storage;
    while (options_offset != 0) {
      if (!visited.insert(options_offset).second ||
          visited.size() > kMaxOptionSections) {
        return absl::DataLossError(absl::StrCat(
            name_, ": options sections loop back to offset ", options_offset));
      }
      Section section;
      RETURN_IF_ERROR(
          LoadSection(options_offset, kOptDone, &storage, &section));
      ByteReader sr = SectionReader(section);
      options_offset = 0;
      bool done = false;
      while (!done) {
        uint16_t id = 0;
        uint32_t size = 0;
        absl::Span<const uint8_t> data;
        RETURN_IF_ERROR(sr.Read(&id));
        RETURN_IF_ERROR(sr.Read(&size));
        const ByteReader at = sr;
        RETURN_IF_ERROR(sr.ReadBytes(size, &data));
        if (id == kOptDone) {
          ByteReader dr(data, sr.where(), at.offset(), section.decompressed);
          RETURN_IF_ERROR(dr.Read(&options_offset));
          done = true;
        } else {
          RETURN_IF_ERROR(ParseOption(id, data, at));
        }
      }
    }

    // Metadata sections. Only header_page is required to decode.
    auto it = section_offsets_.find(kOptHeaderInfo);
    if (it == section_offsets_.end()) {
      return absl::DataLossError(
          absl::StrCat(name_,
                       ": no header_page section (HEADER_INFO option "
                       "missing)"));
    }
    const std::pair<uint16_t, std::function<absl::Status(ByteReader*)>>
        parsers[] = {
            {kOptHeaderInfo,
             [this](ByteReader* r) { return ParseHeaderInfo(r); }},
            {kOptFtraceEvents,
             [this](ByteReader* r) { return ParseFtraceFormats(r); }},
            {kOptEventFormats,
             [this](ByteReader* r) { return ParseEventFormats(r); }},
            {kOptCmdlines, [this](ByteReader* r) { return ParseCmdlines(r); }},
        };
    for (const auto& [id, parse] : parsers) {
      auto found = section_offsets_.find(id);
      if (found == section_offsets_.end()) continue;
      Section section;
      RETURN_IF_ERROR(LoadSection(found->second, id, &storage, &section));
      ByteReader sr = SectionReader(section);
      RETURN_IF_ERROR(parse(&sr));
    }

    // Flyrecord sections: the extent of each buffer's CPU data.
    for (const auto& [index, offset] : pending_v7_buffers_) {
      TraceDatBuffer& buffer = f_->buffers_[index];
      Section section;
      RETURN_IF_ERROR(LoadSection(offset, kOptBuffer, &storage, &section));
      if (section.compressed_flag && f_->compression_ == "none") {
        return absl::DataLossError(absl::StrCat(
            section.where, " at offset ", offset,
            ": marked compressed in a file that names no compression"));
      }
      RETURN_IF_ERROR(CheckExtents(&buffer, section.data_offset, section.end,
                                   section.compressed_flag));
    }
    return absl::OkStatus();
  }

  void ChooseDefaultBuffer() {
    const auto& buffers = f_->buffers_;
    f_->default_buffer_ = 0;
    for (size_t i = 0; i < buffers.size(); ++i) {
      if (buffers[i].name.empty()) {
        f_->default_buffer_ = i;
        if (!buffers[i].latency && buffers[i].data_bytes() > 0) return;
        break;
      }
    }
    for (size_t i = 0; i < buffers.size(); ++i) {
      if (!buffers[i].latency && buffers[i].data_bytes() > 0) {
        f_->default_buffer_ = i;
        return;
      }
    }
  }

  TraceDatFile* f_;
  absl::Span<const uint8_t> bytes_;
  const std::string& name_;
  ZstdDecompressor zstd_;
  absl::flat_hash_map<uint16_t, uint64_t> section_offsets_;
  std::vector<std::pair<TraceDatBuffer, uint64_t>> pending_v6_buffers_;
  std::vector<std::pair<size_t, uint64_t>> pending_v7_buffers_;
};

// ---- Opening. ----

TraceDatFile::~TraceDatFile() = default;

absl::StatusOr<std::unique_ptr<TraceDatFile>> TraceDatFile::Open(
    const std::string& path) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return PathError(errno, "open", path);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return PathError(errno, "fstat", path);
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a regular file"));
  }
  std::unique_ptr<TraceDatFile> file(new TraceDatFile());
  file->name_ = path;
  file->mapping_ = std::make_unique<Mapping>();
  if (st.st_size > 0) {
    void* addr = mmap(nullptr, st.st_size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (addr == MAP_FAILED) return PathError(errno, "mmap", path);
    file->mapping_->addr = addr;
    file->mapping_->length = st.st_size;
    file->bytes_ =
        absl::MakeConstSpan(static_cast<const uint8_t*>(addr), st.st_size);
  }
  RETURN_IF_ERROR(Parser(file.get()).Parse());
  return file;
}

absl::StatusOr<std::unique_ptr<TraceDatFile>> TraceDatFile::OpenBuffer(
    absl::string_view name, absl::Span<const uint8_t> bytes) {
  std::unique_ptr<TraceDatFile> file(new TraceDatFile());
  file->name_ = std::string(name);
  file->mapping_ = std::make_unique<Mapping>();
  file->mapping_->copy.assign(bytes.begin(), bytes.end());
  file->bytes_ = absl::MakeConstSpan(file->mapping_->copy);
  RETURN_IF_ERROR(Parser(file.get()).Parse());
  return file;
}

// ---- Queries. ----

absl::string_view TraceDatFile::Comm(int32_t pid) const {
  auto it = cmdlines_.find(pid);
  return it == cmdlines_.end() ? absl::string_view() : it->second;
}

absl::StatusOr<size_t> TraceDatFile::FindBuffer(absl::string_view name) const {
  for (size_t i = 0; i < buffers_.size(); ++i) {
    if (buffers_[i].name == name) return i;
  }
  std::vector<std::string> names;
  for (const TraceDatBuffer& b : buffers_) {
    names.push_back(b.name.empty() ? "(top level)" : "'" + b.name + "'");
  }
  return absl::NotFoundError(absl::StrCat(name_, ": no buffer '", name,
                                          "'; the file has ",
                                          absl::StrJoin(names, ", ")));
}

uint32_t TraceDatFile::cpu_count() const {
  return buffers_.empty() ? 0 : buffers_[default_buffer_].cpu_slots();
}

uint64_t TraceDatFile::AdjustTimestamp(uint64_t ts) const {
  if (options_.tsc2nsec_mult != 0) {
    ts = static_cast<uint64_t>(
        (static_cast<unsigned __int128>(ts) * options_.tsc2nsec_mult) >>
        options_.tsc2nsec_shift);
  }
  return ts + static_cast<uint64_t>(options_.timestamp_offset);
}

absl::Status TraceDatFile::Validate(size_t buffer) const {
  if (buffer >= buffers_.size()) {
    return absl::NotFoundError(
        buffers_.empty()
            ? absl::StrCat(name_, ": the file holds no ring buffer")
            : absl::StrCat(name_, ": no buffer #", buffer, " (the file has ",
                           buffers_.size(), ")"));
  }
  if (buffers_[buffer].latency) {
    return absl::FailedPreconditionError(
        absl::StrCat(name_, ": buffer '", buffers_[buffer].name,
                     "' holds latency text, not ring-buffer pages"));
  }
  return absl::OkStatus();
}

// ---- Reading. ----

namespace {

// Applies the file's timestamp adjustments on the way to the caller's sink.
class AdjustingSink : public RecordSink {
 public:
  AdjustingSink(const TraceDatFile* file, RecordSink* out)
      : file_(file), out_(out) {}
  void OnRecord(const RecordView& record) override {
    RecordView adjusted = record;
    adjusted.timestamp = file_->AdjustTimestamp(record.timestamp);
    out_->OnRecord(adjusted);
  }
  void OnLoss(const LossReport& loss) override {
    LossReport adjusted = loss;
    adjusted.timestamp = file_->AdjustTimestamp(loss.timestamp);
    out_->OnLoss(adjusted);
  }

 private:
  const TraceDatFile* file_;
  RecordSink* out_;
};

// Remembers the first of several errors and how many there were.
class ErrorTally {
 public:
  void Note(absl::Status status) {
    if (status.ok()) return;
    if (count_++ == 0) first_ = std::move(status);
  }
  absl::Status Result() const {
    if (count_ <= 1) return first_;
    return absl::Status(first_.code(),
                        absl::StrCat(first_.message(), " (and ", count_ - 1,
                                     " more bad chunks or pages)"));
  }

 private:
  absl::Status first_;
  uint64_t count_ = 0;
};

}  // namespace

absl::Status TraceDatFile::ReadCpu(uint32_t cpu, RecordSink* sink,
                                   DecodeCounters* counters) const {
  return ReadBufferCpu(default_buffer_, cpu, sink, counters);
}

absl::Status TraceDatFile::ReadAll(RecordSink* sink,
                                   DecodeCounters* totals) const {
  return ReadBufferAll(default_buffer_, sink, totals);
}

absl::Status TraceDatFile::ReadBufferCpu(size_t buffer, uint32_t cpu,
                                         RecordSink* sink,
                                         DecodeCounters* counters) const {
  RETURN_IF_ERROR(Validate(buffer));
  const TraceDatBuffer& b = buffers_[buffer];
  const CpuDataExtent* extent = nullptr;
  for (const CpuDataExtent& e : b.cpus) {
    if (e.cpu == cpu) extent = &e;
  }
  if (extent == nullptr) {
    if (cpu >= std::max(b.cpu_slots(), options_.cpu_count)) {
      return absl::InvalidArgumentError(
          absl::StrCat(name_, ": cpu ", cpu, " out of range (the file has ",
                       std::max(b.cpu_slots(), options_.cpu_count), ")"));
    }
    return absl::OkStatus();
  }
  DecodeCounters local;
  if (counters == nullptr) counters = &local;
  AdjustingSink adjusting(this, sink);
  RecordSink* out =
      (options_.tsc2nsec_mult == 0 && options_.timestamp_offset == 0)
          ? sink
          : &adjusting;
  const std::string where =
      b.name.empty() ? absl::StrCat(name_, ": cpu ", cpu)
                     : absl::StrCat(name_, ": buffer '", b.name, "' cpu ", cpu);
  CpuPageReader pages(bytes_, *extent, b.page_size, where);
  ErrorTally errors;
  for (;;) {
    absl::Span<const uint8_t> page;
    bool has_page = false;
    absl::Status status = pages.Next(&page, &has_page);
    if (!status.ok()) {
      ++counters->decode_errors;
      errors.Note(std::move(status));
      continue;  // Next moved past the bad chunk, or is done.
    }
    if (!has_page) break;
    status = DecodeSubbuf(cpu, page, header_page(), out, counters);
    if (!status.ok()) {
      errors.Note(absl::DataLossError(absl::StrCat(
          where, " ", pages.PageLocation(), ": ", status.message())));
    }
  }
  return errors.Result();
}

namespace {

// One CPU's place in the merge: the decoded records of its current page.
struct CpuCursor {
  CpuCursor(absl::Span<const uint8_t> bytes, const CpuDataExtent& extent,
            uint32_t page_size, std::string where)
      : cpu(extent.cpu),
        pages(bytes, extent, page_size, where),
        where(std::move(where)) {}
  uint32_t cpu;
  CpuPageReader pages;
  std::string where;
  std::vector<RecordView> records;  // Of the current page; capacity reused.
  size_t next = 0;
  std::vector<LossReport> losses;  // Not delivered yet.
  DecodeCounters counters;
  bool exhausted = false;
};

class CollectingSink : public RecordSink {
 public:
  explicit CollectingSink(CpuCursor* cursor) : cursor_(cursor) {}
  void OnRecord(const RecordView& record) override {
    cursor_->records.push_back(record);
  }
  void OnLoss(const LossReport& loss) override {
    cursor_->losses.push_back(loss);
  }

 private:
  CpuCursor* cursor_;
};

}  // namespace

absl::Status TraceDatFile::ReadBufferAll(size_t buffer, RecordSink* sink,
                                         DecodeCounters* totals) const {
  RETURN_IF_ERROR(Validate(buffer));
  const TraceDatBuffer& b = buffers_[buffer];
  std::vector<std::unique_ptr<CpuCursor>> cursors;
  cursors.reserve(b.cpus.size());
  for (const CpuDataExtent& e : b.cpus) {
    cursors.push_back(std::make_unique<CpuCursor>(
        bytes_, e, b.page_size,
        b.name.empty()
            ? absl::StrCat(name_, ": cpu ", e.cpu)
            : absl::StrCat(name_, ": buffer '", b.name, "' cpu ", e.cpu)));
  }
  AdjustingSink adjusting(this, sink);
  RecordSink* out =
      (options_.tsc2nsec_mult == 0 && options_.timestamp_offset == 0)
          ? sink
          : &adjusting;
  ErrorTally errors;

  // Decodes pages until the cursor has a record or no pages are left.
  auto refill = [&](CpuCursor& c) {
    while (c.next >= c.records.size() && !c.exhausted) {
      c.records.clear();
      c.next = 0;
      absl::Span<const uint8_t> page;
      bool has_page = false;
      absl::Status status = c.pages.Next(&page, &has_page);
      if (!status.ok()) {
        ++c.counters.decode_errors;
        errors.Note(std::move(status));
        continue;
      }
      if (!has_page) {
        c.exhausted = true;
        break;
      }
      CollectingSink collect(&c);
      status = DecodeSubbuf(c.cpu, page, header_page(), &collect, &c.counters);
      if (!status.ok()) {
        errors.Note(absl::DataLossError(absl::StrCat(
            c.where, " ", c.pages.PageLocation(), ": ", status.message())));
      }
    }
    if (c.exhausted) {
      for (const LossReport& loss : c.losses) out->OnLoss(loss);
      c.losses.clear();
    }
  };

  // Min-heap of (timestamp of the next record, cursor index).
  using Entry = std::pair<uint64_t, size_t>;
  std::vector<Entry> heap;
  heap.reserve(cursors.size());
  for (size_t i = 0; i < cursors.size(); ++i) {
    refill(*cursors[i]);
    if (!cursors[i]->exhausted) {
      heap.emplace_back(cursors[i]->records[0].timestamp, i);
    }
  }
  const auto later = std::greater<Entry>();
  std::make_heap(heap.begin(), heap.end(), later);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const size_t i = heap.back().second;
    heap.pop_back();
    CpuCursor& c = *cursors[i];
    // Deliver this CPU's run of records that come before every other CPU's
    // next one: one heap operation per run instead of per record.
    const Entry bound =
        heap.empty() ? Entry(~uint64_t{0}, ~size_t{0}) : heap.front();
    do {
      for (const LossReport& loss : c.losses) out->OnLoss(loss);
      c.losses.clear();
      out->OnRecord(c.records[c.next++]);
      refill(c);
    } while (!c.exhausted && Entry(c.records[c.next].timestamp, i) < bound);
    if (!c.exhausted) {
      heap.emplace_back(c.records[c.next].timestamp, i);
      std::push_heap(heap.begin(), heap.end(), later);
    }
  }
  if (totals != nullptr) {
    for (const auto& c : cursors) {
      totals->events += c->counters.events;
      totals->bytes += c->counters.bytes;
      totals->subbufs += c->counters.subbufs;
      totals->padding += c->counters.padding;
      totals->lost_events += c->counters.lost_events;
      totals->lost_unknown += c->counters.lost_unknown;
      totals->decode_errors += c->counters.decode_errors;
    }
  }
  return errors.Result();
}

}  // namespace ringwatch
