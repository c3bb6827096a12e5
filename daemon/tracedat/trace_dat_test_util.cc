#include "daemon/tracedat/trace_dat_test_util.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <regex>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "daemon/event/event_format.h"
#include "daemon/event/field_access.h"
#include "daemon/tracedat/cpu_page_reader.h"
#include "daemon/tracedat/trace_cmd_report.h"
#include "daemon/util/file_util.h"
#include "daemon/util/status_macros.h"

namespace ringwatch {

std::string ReportBufferPrefix(const TraceDatFile& file) {
  if (file.buffers().empty()) return "";
  return file.buffers()[file.default_buffer()].name;
}

absl::Status ReportMismatch(size_t index, const ReportLine& line,
                            absl::string_view what, absl::string_view ours,
                            absl::string_view theirs) {
  return absl::InternalError(
      absl::StrCat("event #", index, " (", line.name, " on cpu ", line.cpu,
                   " at ", line.timestamp, "): ", what, ": decoded '", ours,
                   "', report '", theirs, "'"));
}

absl::Status WalkReport(const CapturingSink& sink,
                        const std::vector<ReportLine>& lines,
                        ReportEventCompare compare) {
  size_t record = 0;
  size_t loss = 0;
  for (const ReportLine& line : lines) {
    if (line.kind == ReportLine::Kind::kLoss) {
      if (loss >= sink.losses.size()) {
        return absl::InternalError(absl::StrCat(
            "report shows a loss on cpu ", line.cpu, " before event #", record,
            "; decoding reported none there"));
      }
      const auto& [position, report] = sink.losses[loss++];
      if (position != record || report.cpu != line.cpu ||
          report.unknown == line.lost_known ||
          (line.lost_known && report.count != line.lost)) {
        return absl::InternalError(absl::StrCat(
            "loss #", loss - 1, ": decoded cpu ", report.cpu, " count ",
            report.count, " before event #", position, "; report cpu ",
            line.cpu, " count ", line.lost, " before event #", record));
      }
      continue;
    }
    if (record >= sink.records.size()) {
      return absl::InternalError(absl::StrCat(
          "report has more events than the ", sink.records.size(), " decoded"));
    }
    RETURN_IF_ERROR(compare(record, sink.records[record], line));
    ++record;
  }
  if (record != sink.records.size()) {
    return absl::InternalError(absl::StrCat(
        "decoded ", sink.records.size(), " events, the report shows ", record));
  }
  if (loss != sink.losses.size()) {
    return absl::InternalError(absl::StrCat(
        "decoded ", sink.losses.size(), " losses, the report shows ", loss));
  }
  return absl::OkStatus();
}

namespace {

// Integer value of a field, or an error naming it.
absl::StatusOr<int64_t> Integer(const EventFormat& format,
                                const CapturedRecord& r,
                                absl::string_view name) {
  const FieldFormat* field = format.FindField(name);
  int64_t value = 0;
  if (field == nullptr || !FieldInteger(r.payload, *field, &value)) {
    return absl::InternalError(absl::StrCat(format.FullName(), ": no field ",
                                            name, " in the payload"));
  }
  return value;
}

absl::StatusOr<std::string> String(const EventFormat& format,
                                   const CapturedRecord& r,
                                   absl::string_view name) {
  const FieldFormat* field = format.FindField(name);
  absl::string_view value;
  if (field == nullptr || !FieldString(r.payload, *field, &value)) {
    return absl::InternalError(absl::StrCat(format.FullName(), ": no field ",
                                            name, " in the payload"));
  }
  return std::string(value);
}

// What trace-cmd prints before "-pid": the saved comm, "<idle>" for pid 0,
// "<...>" when the file saved none.
std::string ExpectedComm(const TraceDatFile& file, int32_t pid) {
  if (pid == 0) return "<idle>";
  absl::string_view comm = file.Comm(pid);
  return comm.empty() ? "<...>" : std::string(comm);
}

// Comms trace-cmd learns while it reports: libtraceevent's sched plugin
// registers prev_comm/next_comm of every sched_switch (and the comm of
// wakeups) before the event is printed, so a pid the file saved no command
// line for can still show a name.
class LearnedComms {
 public:
  void Learn(const EventFormat& format, const CapturedRecord& r) {
    LearnPair(format, r, "prev_pid", "prev_comm");
    LearnPair(format, r, "next_pid", "next_comm");
    if (format.name == "sched_waking" || format.name == "sched_wakeup") {
      LearnPair(format, r, "pid", "comm");
    }
  }
  // Empty when nothing was learned for `pid`.
  std::string Find(int64_t pid) const {
    auto it = comms_.find(pid);
    return it == comms_.end() ? "" : it->second;
  }

 private:
  void LearnPair(const EventFormat& format, const CapturedRecord& r,
                 absl::string_view pid_field, absl::string_view comm_field) {
    const FieldFormat* pid = format.FindField(pid_field);
    const FieldFormat* comm = format.FindField(comm_field);
    int64_t pid_value;
    absl::string_view comm_value;
    if (pid == nullptr || comm == nullptr ||
        !FieldInteger(r.payload, *pid, &pid_value) ||
        !FieldString(r.payload, *comm, &comm_value)) {
      return;
    }
    comms_[pid_value] = std::string(comm_value);
  }

  absl::flat_hash_map<int64_t, std::string> comms_;
};

// The checks common to both renderings; timestamps to the precision the
// report printed.
absl::Status CompareCommon(const TraceDatFile& file, size_t index,
                           const CapturedRecord& r, const ReportLine& line,
                           LearnedComms* learned,
                           const EventFormat** format_out) {
  if (r.cpu != line.cpu) {
    return ReportMismatch(index, line, "cpu", absl::StrCat(r.cpu),
                          absl::StrCat(line.cpu));
  }
  uint64_t ts = r.timestamp;
  if (line.fraction_digits == 6) ts = (ts + 500) / 1000 * 1000;
  if (line.fraction_digits != 6 && line.fraction_digits != 9) {
    return ReportMismatch(index, line, "timestamp precision", "6 or 9 digits",
                          absl::StrCat(line.fraction_digits));
  }
  if (ts != line.timestamp) {
    return ReportMismatch(index, line, "timestamp", absl::StrCat(ts),
                          absl::StrCat(line.timestamp));
  }
  uint16_t id = 0;
  if (r.payload.size() >= 2) std::memcpy(&id, r.payload.data(), 2);
  const EventFormat* format = file.catalog().FindById(id);
  if (format == nullptr) {
    return ReportMismatch(index, line, "event id",
                          absl::StrCat(id, " (unknown)"), line.name);
  }
  if (format->name != line.name) {
    return ReportMismatch(index, line, "event name", format->name, line.name);
  }
  ASSIGN_OR_RETURN(const int64_t pid, Integer(*format, r, "common_pid"));
  if (pid != line.pid) {
    return ReportMismatch(index, line, "pid", absl::StrCat(pid),
                          absl::StrCat(line.pid));
  }
  learned->Learn(*format, r);
  const std::string comm = ExpectedComm(file, pid);
  if (comm != line.comm && learned->Find(pid) != line.comm) {
    return ReportMismatch(index, line, "comm", comm, line.comm);
  }
  *format_out = format;
  return absl::OkStatus();
}

// "0x1f" as hex, else decimal with an optional sign.
bool ParseReportInteger(absl::string_view text, uint64_t* out) {
  if (absl::ConsumePrefix(&text, "0x")) {
    return absl::SimpleHexAtoi(text, out);
  }
  int64_t v = 0;
  if (!absl::SimpleAtoi(text, &v)) return false;
  *out = static_cast<uint64_t>(v);
  return true;
}

absl::Status CompareRawField(size_t index, const ReportLine& line,
                             const FieldFormat& field, const CapturedRecord& r,
                             absl::string_view text) {
  absl::Span<const uint8_t> payload = r.payload;
  if (field.is_string) {
    absl::string_view value;
    if (!FieldString(payload, field, &value)) {
      return ReportMismatch(index, line, field.name, "(out of bounds)", text);
    }
    // trace-cmd cuts a trailing newline (trace_marker text has one).
    absl::ConsumeSuffix(&value, "\n");
    if (value != text)
      return ReportMismatch(index, line, field.name, value, text);
    return absl::OkStatus();
  }
  if (absl::StartsWith(text, "ARRAY[")) {
    absl::Span<const uint8_t> bytes;
    if (!FieldBytes(payload, field, &bytes)) {
      return ReportMismatch(index, line, field.name, "(out of bounds)", text);
    }
    std::vector<std::string> hex;
    for (uint8_t b : bytes)
      hex.push_back(absl::StrCat(absl::Hex(b, absl::kZeroPad2)));
    const std::string ours =
        absl::StrCat("ARRAY[", absl::StrJoin(hex, ", "), "]");
    if (ours != text)
      return ReportMismatch(index, line, field.name, ours, text);
    return absl::OkStatus();
  }
  uint64_t theirs = 0;
  int64_t ours = 0;
  // An address trace-cmd resolved with the file's kallsyms ("ip=func").
  static const std::regex kSymbol(R"(^[A-Za-z_][\w.]*(\+0x[0-9a-f]+)?$)");
  if (field.size == 8 && std::regex_match(std::string(text), kSymbol)) {
    return absl::OkStatus();
  }
  if (!ParseReportInteger(text, &theirs)) {
    return ReportMismatch(index, line, field.name, "(an integer)", text);
  }
  if (!FieldInteger(payload, field, &ours)) {
    return ReportMismatch(index, line, field.name, "(out of bounds)", text);
  }
  // Signed fields may print as unsigned and back: compare the field's bits.
  const uint64_t mask =
      field.size >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * field.size)) - 1;
  if ((static_cast<uint64_t>(ours) & mask) != (theirs & mask)) {
    return ReportMismatch(index, line, field.name, absl::StrCat(ours), text);
  }
  return absl::OkStatus();
}

}  // namespace

std::string TraceDatFixture(absl::string_view name) {
  // Tests get TEST_SRCDIR; `bazel run` (benchmarks) gets RUNFILES_DIR or
  // the runfiles tree beside the binary.
  std::vector<std::string> bases;
  if (const char* d = std::getenv("TEST_SRCDIR")) bases.push_back(d);
  if (const char* d = std::getenv("RUNFILES_DIR")) bases.push_back(d);
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0)
    bases.push_back(absl::StrCat(absl::string_view(exe, n), ".runfiles"));
  for (const std::string& base : bases) {
    std::string path =
        absl::StrCat(base, "/ringwatch/tests/data/tracedat/", name);
    if (::access(path.c_str(), R_OK) == 0) return path;
  }
  return absl::StrCat("tests/data/tracedat/", name);
}

absl::StatusOr<std::vector<StoredPage>> StoredPages(const TraceDatFile& file,
                                                    absl::string_view bytes,
                                                    absl::string_view name) {
  std::vector<StoredPage> pages;
  const TraceDatBuffer& buffer = file.buffers()[file.default_buffer()];
  for (const CpuDataExtent& extent : buffer.cpus) {
    CpuPageReader reader(
        absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(bytes.data()),
                            bytes.size()),
        extent, buffer.page_size, absl::StrCat(name, ": cpu ", extent.cpu));
    while (true) {
      absl::Span<const uint8_t> page;
      bool has_page = false;
      RETURN_IF_ERROR(reader.Next(&page, &has_page));
      if (!has_page) break;
      pages.push_back({extent.cpu, {page.begin(), page.end()}});
    }
  }
  return pages;
}

absl::StatusOr<std::vector<StoredPage>> FixturePages(
    absl::Span<const char* const> names, uint32_t* page_size) {
  std::vector<StoredPage> pages;
  *page_size = 0;
  for (const char* name : names) {
    const std::string path = TraceDatFixture(name);
    ASSIGN_OR_RETURN(std::unique_ptr<TraceDatFile> file,
                     TraceDatFile::Open(path));
    ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
    const uint32_t size = file->buffers()[file->default_buffer()].page_size;
    if (*page_size == 0) *page_size = size;
    if (size != *page_size) continue;
    ASSIGN_OR_RETURN(std::vector<StoredPage> more,
                     StoredPages(*file, bytes, path));
    for (StoredPage& page : more) pages.push_back(std::move(page));
  }
  return pages;
}

absl::Status CompareWithReport(const TraceDatFile& file,
                               const CapturingSink& sink,
                               absl::string_view report) {
  ASSIGN_OR_RETURN(std::vector<ReportLine> lines,
                   ParseTraceCmdReport(report, ReportBufferPrefix(file)));
  // "prev_comm:prev_pid [prev_prio] STATE ==> next_comm:next_pid [next_prio]"
  static const std::regex kSwitch(
      R"(^(.*):(-?\d+) \[(\d+)\] \S+ ==> (.*):(-?\d+) \[(\d+)\]$)");
  // "0x<ip>: text", or "<symbol>: text" when the file has kallsyms (which
  // TraceDatFile does not load: the ip is then not compared).
  static const std::regex kPrint(
      R"(^(?:0x([0-9a-f]+)|[A-Za-z_][\w.]*): (.*)$)");
  LearnedComms learned;
  return WalkReport(
      sink, lines,
      [&](size_t index, const CapturedRecord& r,
          const ReportLine& line) -> absl::Status {
        const EventFormat* format = nullptr;
        RETURN_IF_ERROR(CompareCommon(file, index, r, line, &learned, &format));
        std::smatch m;
        if (format->FullName() == "sched/sched_switch") {
          if (!std::regex_match(line.info, m, kSwitch)) {
            return ReportMismatch(index, line, "sched_switch text", "",
                                  line.info);
          }
          const char* strings[] = {"prev_comm", "next_comm"};
          const int string_groups[] = {1, 4};
          for (int i = 0; i < 2; ++i) {
            ASSIGN_OR_RETURN(std::string v, String(*format, r, strings[i]));
            if (v != m[string_groups[i]].str()) {
              return ReportMismatch(index, line, strings[i], v,
                                    m[string_groups[i]].str());
            }
          }
          const char* ints[] = {"prev_pid", "prev_prio", "next_pid",
                                "next_prio"};
          const int int_groups[] = {2, 3, 5, 6};
          for (int i = 0; i < 4; ++i) {
            ASSIGN_OR_RETURN(int64_t v, Integer(*format, r, ints[i]));
            if (absl::StrCat(v) != m[int_groups[i]].str()) {
              return ReportMismatch(index, line, ints[i], absl::StrCat(v),
                                    m[int_groups[i]].str());
            }
          }
        } else if (format->FullName() == "ftrace/print") {
          if (!std::regex_match(line.info, m, kPrint)) {
            return ReportMismatch(index, line, "print text", "", line.info);
          }
          ASSIGN_OR_RETURN(int64_t ip, Integer(*format, r, "ip"));
          const std::string hex =
              absl::StrCat(absl::Hex(static_cast<uint64_t>(ip)));
          if (m[1].length() > 0 && hex != m[1].str()) {
            return ReportMismatch(index, line, "ip", hex, m[1].str());
          }
          ASSIGN_OR_RETURN(std::string buf, String(*format, r, "buf"));
          absl::string_view text = buf;
          absl::ConsumeSuffix(&text, "\n");
          if (text != m[2].str()) {
            return ReportMismatch(index, line, "buf", text, m[2].str());
          }
        }
        return absl::OkStatus();
      });
}

absl::Status CompareWithRawReport(const TraceDatFile& file,
                                  const CapturingSink& sink,
                                  absl::string_view raw_report) {
  ASSIGN_OR_RETURN(std::vector<ReportLine> lines,
                   ParseTraceCmdReport(raw_report, ReportBufferPrefix(file)));
  LearnedComms learned;
  return WalkReport(
      sink, lines,
      [&](size_t index, const CapturedRecord& r,
          const ReportLine& line) -> absl::Status {
        if (line.fraction_digits != 9) {
          return ReportMismatch(index, line, "timestamp precision", "9",
                                absl::StrCat(line.fraction_digits));
        }
        const EventFormat* format = nullptr;
        RETURN_IF_ERROR(CompareCommon(file, index, r, line, &learned, &format));
        std::vector<std::string> names;
        std::vector<const FieldFormat*> fields;
        for (const FieldFormat& f : format->fields) {
          if (f.is_common) continue;
          names.push_back(f.name);
          fields.push_back(&f);
        }
        ASSIGN_OR_RETURN(auto values, SplitRawFields(line.info, names));
        for (size_t i = 0; i < fields.size(); ++i) {
          RETURN_IF_ERROR(
              CompareRawField(index, line, *fields[i], r, values[i].second));
        }
        return absl::OkStatus();
      });
}

}  // namespace ringwatch
