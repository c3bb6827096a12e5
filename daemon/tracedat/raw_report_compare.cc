#include "daemon/tracedat/raw_report_compare.h"

#include <cstring>
#include <regex>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "daemon/event/event_format.h"
#include "daemon/event/field_access.h"
#include "daemon/tracedat/trace_cmd_report.h"
#include "daemon/util/status_macros.h"

namespace ringwatch {
namespace {

// x86-64 and arm64 kernel addresses start here.
constexpr uint64_t kKernelAddressStart = 0xffff800000000000ull;

uint64_t Mask(uint32_t size) {
  return size >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * size)) - 1;
}

bool AllOf(absl::string_view text, bool (*pred)(unsigned char)) {
  if (text.empty()) return false;
  for (unsigned char c : text) {
    if (!pred(c)) return false;
  }
  return true;
}

bool IsOctalDigit(unsigned char c) { return c >= '0' && c <= '7'; }
bool IsHexDigit(unsigned char c) { return absl::ascii_isxdigit(c); }

// Parses up to 64 bits of digits in `base`; false on overflow or junk.
bool ParseUnsigned(absl::string_view text, int base, uint64_t* out) {
  uint64_t v = 0;
  for (unsigned char c : text) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    if (d >= base) return false;
    if (v > (~uint64_t{0} - d) / base) return false;
    v = v * base + d;
  }
  *out = v;
  return !text.empty();
}

absl::Status CompareField(size_t index, const ReportLine& line,
                          const FieldFormat& field, const CapturedRecord& r,
                          absl::string_view text, RawReportCoverage* coverage) {
  absl::Span<const uint8_t> payload = r.payload;
  if (field.is_string) {
    absl::string_view value;
    if (!FieldString(payload, field, &value)) {
      return ReportMismatch(index, line, field.name, "(out of bounds)", text);
    }
    // trace-cmd cuts one trailing newline (trace_marker text has one).
    absl::ConsumeSuffix(&value, "\n");
    if (value != text)
      return ReportMismatch(index, line, field.name, value, text);
    ++coverage->renderings["string"];
    return absl::OkStatus();
  }
  if (field.kind != FieldKind::kScalar) {
    absl::Span<const uint8_t> bytes;
    if (!FieldBytes(payload, field, &bytes)) {
      return ReportMismatch(index, line, field.name, "(out of bounds)", text);
    }
    std::vector<std::string> hex;
    for (uint8_t b : bytes) {
      hex.push_back(absl::StrCat(absl::Hex(b, absl::kZeroPad2)));
    }
    const std::string ours =
        absl::StrCat("ARRAY[", absl::StrJoin(hex, ", "), "]");
    if (ours != text)
      return ReportMismatch(index, line, field.name, ours, text);
    ++coverage->renderings["array"];
    return absl::OkStatus();
  }
  int64_t value = 0;
  if (!FieldInteger(payload, field, &value)) {
    return ReportMismatch(index, line, field.name, "(out of bounds)", text);
  }
  std::string rendering;
  // `const char *` fields point at kernel strings trace-cmd looks up in the
  // file's printk formats (rcu_utilization's "Start context switch"); the
  // file's printk section is not loaded here, so such a value is accepted
  // as text when the pointer is a kernel address.
  if (absl::StrContains(field.type, "char *") && field.size == 8 &&
      static_cast<uint64_t>(value) >= kKernelAddressStart && !text.empty() &&
      !absl::ascii_isdigit(static_cast<unsigned char>(text[0]))) {
    ++coverage->renderings["printk string"];
    return absl::OkStatus();
  }
  if (!IntegerRenderingMatches(text, static_cast<uint64_t>(value), field.size,
                               field.is_signed, &rendering)) {
    return ReportMismatch(
        index, line, absl::StrCat(field.name, " (", field.type, ")"),
        absl::StrCat(
            value, " = 0x",
            absl::Hex(static_cast<uint64_t>(value) & Mask(field.size))),
        text);
  }
  ++coverage->renderings[rendering];
  return absl::OkStatus();
}

}  // namespace

bool IntegerRenderingMatches(absl::string_view text, uint64_t value,
                             uint32_t size, bool is_signed,
                             std::string* rendering) {
  const uint64_t bits = value & Mask(size);
  uint64_t parsed = 0;
  if (text == "(nil)") {  // "%p" of a null pointer.
    *rendering = "(nil)";
    return bits == 0;
  }
  absl::string_view hex = text;
  if (absl::ConsumePrefix(&hex, "0x")) {
    *rendering = "0x";
    return ParseUnsigned(hex, 16, &parsed) && (parsed & Mask(size)) == bits;
  }
  // Decimal, signed or not: compare the field's bits.
  absl::string_view digits = text;
  const bool negative = absl::ConsumePrefix(&digits, "-");
  if (AllOf(digits, absl::ascii_isdigit) &&
      ParseUnsigned(digits, 10, &parsed)) {
    const uint64_t v = negative ? (~parsed + 1) : parsed;
    if ((v & Mask(size)) == bits) {
      *rendering = "decimal";
      return true;
    }
  }
  if (negative) return false;
  // "%o" (file modes), with or without the leading 0.
  if (AllOf(text, IsOctalDigit) && ParseUnsigned(text, 8, &parsed) &&
      (parsed & Mask(size)) == bits) {
    *rendering = "octal";
    return true;
  }
  // "%x" / "%lx" without the prefix.
  if (AllOf(text, IsHexDigit) && ParseUnsigned(text, 16, &parsed) &&
      (parsed & Mask(size)) == bits) {
    *rendering = "hex";
    return true;
  }
  // A kernel address trace-cmd resolved with the file's kallsyms:
  // "func", "func+0x1c", "func+0x1c [module]".
  static const std::regex kSymbol(
      R"(^[A-Za-z_.$][\w.$]*(\+0x[0-9a-f]+)?( \[[\w.-]+\])?$)");
  if (size == 8 && bits >= kKernelAddressStart &&
      std::regex_match(std::string(text), kSymbol)) {
    *rendering = "symbol";
    return true;
  }
  (void)is_signed;  // Both signs were tried above through the bits.
  return false;
}

absl::StatusOr<RawReportCoverage> CompareEveryFieldWithRawReport(
    const TraceDatFile& file, const CapturingSink& sink,
    absl::string_view raw_report) {
  ASSIGN_OR_RETURN(std::vector<ReportLine> lines,
                   ParseTraceCmdReport(raw_report, ReportBufferPrefix(file)));
  RawReportCoverage coverage;
  RETURN_IF_ERROR(WalkReport(
      sink, lines,
      [&](size_t index, const CapturedRecord& r, const ReportLine& line) {
        if (line.fraction_digits != 9) {
          return ReportMismatch(index, line, "timestamp digits (want -t)", "9",
                                absl::StrCat(line.fraction_digits));
        }
        if (r.cpu != line.cpu) {
          return ReportMismatch(index, line, "cpu", absl::StrCat(r.cpu),
                                absl::StrCat(line.cpu));
        }
        if (r.timestamp != line.timestamp) {
          return ReportMismatch(index, line, "timestamp",
                                absl::StrCat(r.timestamp),
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
          return ReportMismatch(index, line, "event name", format->name,
                                line.name);
        }
        const FieldFormat* pid_field = format->FindField("common_pid");
        int64_t pid = 0;
        if (pid_field == nullptr ||
            !FieldInteger(r.payload, *pid_field, &pid) || pid != line.pid) {
          return ReportMismatch(index, line, "common_pid", absl::StrCat(pid),
                                absl::StrCat(line.pid));
        }
        std::vector<std::string> names;
        std::vector<const FieldFormat*> fields;
        for (const FieldFormat& f : format->fields) {
          if (f.is_common) continue;
          names.push_back(f.name);
          fields.push_back(&f);
        }
        absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
            values = SplitRawFields(line.info, names);
        if (!values.ok()) {
          return ReportMismatch(index, line, "field list",
                                absl::StrJoin(names, " "),
                                values.status().message());
        }
        for (size_t i = 0; i < fields.size(); ++i) {
          RETURN_IF_ERROR(CompareField(index, line, *fields[i], r,
                                       (*values)[i].second, &coverage));
          ++coverage.fields;
        }
        ++coverage.events;
        ++coverage.event_types[format->FullName()];
        return absl::OkStatus();
      }));
  coverage.losses = sink.losses.size();
  return coverage;
}

}  // namespace ringwatch
