#include "daemon/event/event_format.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace ringwatch {
namespace {

// The kernel's common_type is 16 bits, so no valid id is larger. Bounding it
// also keeps EventCatalog's dense id table small for hostile input.
constexpr uint32_t kMaxEventId = 0xFFFF;

bool IsIdentChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

// Removes `const`/`volatile` qualifiers so "const char" compares as "char".
std::string StripQualifiers(absl::string_view type) {
  std::vector<absl::string_view> words =
      absl::StrSplit(type, ' ', absl::SkipEmpty());
  std::string out;
  for (absl::string_view w : words) {
    if (w == "const" || w == "volatile") continue;
    if (!out.empty()) out += ' ';
    absl::StrAppend(&out, w);
  }
  return out;
}

bool IsCharType(absl::string_view base) {
  std::string t = StripQualifiers(base);
  return t == "char" || t == "unsigned char" || t == "signed char";
}

// Parses a decimal uint32 value, rejecting signs, spaces and overflow.
bool ParseU32(absl::string_view text, uint32_t* out) {
  if (text.empty() || text.size() > 10) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (!absl::ascii_isdigit(c)) return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > UINT32_MAX) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

// Fills in kind, element_size, array_length and is_string from the
// declaration `decl` ("char prev_comm[16]", "__data_loc char[] name").
absl::Status ClassifyDeclaration(absl::string_view decl, FieldFormat* field) {
  decl = absl::StripAsciiWhitespace(decl);
  if (decl.empty()) return absl::InvalidArgumentError("empty declaration");

  // Trailing array dimensions, collected right to left.
  std::vector<absl::string_view> dims;
  absl::string_view rest = decl;
  while (!rest.empty() && rest.back() == ']') {
    size_t open = rest.rfind('[');
    if (open == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("unbalanced ']' in '", decl, "'"));
    }
    dims.insert(dims.begin(), absl::StripAsciiWhitespace(rest.substr(
                                  open + 1, rest.size() - open - 2)));
    rest = absl::StripTrailingAsciiWhitespace(rest.substr(0, open));
  }
  size_t name_start = rest.size();
  while (name_start > 0 && IsIdentChar(rest[name_start - 1])) --name_start;
  if (name_start == rest.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no field name in '", decl, "'"));
  }
  field->name = std::string(rest.substr(name_start));
  if (absl::ascii_isdigit(field->name[0])) {
    return absl::InvalidArgumentError(
        absl::StrCat("field name '", field->name, "' starts with a digit"));
  }
  absl::string_view base =
      absl::StripAsciiWhitespace(rest.substr(0, name_start));
  if (base.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no type for field '", field->name, "'"));
  }
  field->type = std::string(base);
  for (absl::string_view d : dims) absl::StrAppend(&field->type, "[", d, "]");

  // Dynamic fields: a u32 locator in the record, the data elsewhere.
  absl::string_view dyn = base;
  bool data_loc = absl::ConsumePrefix(&dyn, "__data_loc ");
  bool rel_loc = !data_loc && absl::ConsumePrefix(&dyn, "__rel_loc ");
  if (data_loc || rel_loc) {
    if (!dims.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "dynamic field '", field->name, "' also has array dimensions"));
    }
    if (field->size != 4) {
      return absl::InvalidArgumentError(absl::StrCat(
          data_loc ? "__data_loc" : "__rel_loc", " field '", field->name,
          "' has size ", field->size, "; its locator is a 4-byte u32"));
    }
    dyn = absl::StripAsciiWhitespace(dyn);
    absl::ConsumeSuffix(&dyn, "[]");
    dyn = absl::StripAsciiWhitespace(dyn);
    field->kind = data_loc ? FieldKind::kDataLoc : FieldKind::kRelLoc;
    uint32_t elem = KnownTypeSize(dyn);
    field->element_size = elem != 0 ? elem : 1;
    field->is_string = IsCharType(dyn);
    return absl::OkStatus();
  }

  if (dims.empty()) {
    field->kind = FieldKind::kScalar;
    field->element_size = field->size;
    return absl::OkStatus();
  }

  field->is_string = IsCharType(base);
  uint32_t known = KnownTypeSize(base);
  if (field->size == 0) {
    // `char buf[]`: runs to the end of the record.
    field->kind = FieldKind::kFlexArray;
    field->element_size = known != 0 ? known : 1;
    return absl::OkStatus();
  }
  field->kind = FieldKind::kFixedArray;
  uint64_t length = 1;
  bool numeric = true;
  for (absl::string_view d : dims) {
    uint32_t n;
    if (!ParseU32(d, &n)) {
      numeric = false;
      break;
    }
    length *= n;
    if (length > UINT32_MAX) {
      return absl::InvalidArgumentError(
          absl::StrCat("array '", field->name, "' is too long"));
    }
  }
  if (numeric && length != 0) {
    if (field->size % length != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "array '", field->name, "' of ", length, " elements has size ",
          field->size, ", not a multiple of its length"));
    }
    field->array_length = static_cast<uint32_t>(length);
    field->element_size = field->size / field->array_length;
    return absl::OkStatus();
  }
  // A length given by a macro ([TASK_COMM_LEN]) or an empty/zero length with
  // a nonzero size: derive it from the element type, else treat as bytes.
  uint32_t elem = (known != 0 && field->size % known == 0) ? known : 1;
  field->element_size = elem;
  field->array_length = field->size / elem;
  return absl::OkStatus();
}

}  // namespace

uint32_t KnownTypeSize(absl::string_view type) {
  std::string t = StripQualifiers(type);
  if (!t.empty() && t.back() == '*') return 8;
  static const auto* const kSizes =
      new absl::flat_hash_map<std::string, uint32_t>({
          {"char", 1},
          {"signed char", 1},
          {"unsigned char", 1},
          {"bool", 1},
          {"_Bool", 1},
          {"u8", 1},
          {"s8", 1},
          {"__u8", 1},
          {"__s8", 1},
          {"uint8_t", 1},
          {"int8_t", 1},
          {"short", 2},
          {"unsigned short", 2},
          {"u16", 2},
          {"s16", 2},
          {"__u16", 2},
          {"__s16", 2},
          {"uint16_t", 2},
          {"int16_t", 2},
          {"umode_t", 2},
          {"int", 4},
          {"unsigned", 4},
          {"unsigned int", 4},
          {"uint", 4},
          {"u32", 4},
          {"s32", 4},
          {"__u32", 4},
          {"__s32", 4},
          {"uint32_t", 4},
          {"int32_t", 4},
          {"pid_t", 4},
          {"uid_t", 4},
          {"gid_t", 4},
          {"dev_t", 4},
          {"gfp_t", 4},
          {"long", 8},
          {"unsigned long", 8},
          {"long long", 8},
          {"unsigned long long", 8},
          {"u64", 8},
          {"s64", 8},
          {"__u64", 8},
          {"__s64", 8},
          {"uint64_t", 8},
          {"int64_t", 8},
          {"size_t", 8},
          {"ssize_t", 8},
          {"loff_t", 8},
          {"sector_t", 8},
          {"ino_t", 8},
          {"time64_t", 8},
      });
  auto it = kSizes->find(t);
  return it == kSizes->end() ? 0 : it->second;
}

absl::StatusOr<FieldFormat> ParseFieldLine(absl::string_view line) {
  absl::string_view rest = absl::StripLeadingAsciiWhitespace(line);
  if (!absl::ConsumePrefix(&rest, "field:")) {
    return absl::InvalidArgumentError("expected 'field:'");
  }
  size_t semi = rest.find(';');
  if (semi == absl::string_view::npos) {
    return absl::InvalidArgumentError("field declaration has no ';'");
  }
  absl::string_view decl = rest.substr(0, semi);
  rest.remove_prefix(semi + 1);

  FieldFormat field;
  bool have_offset = false, have_size = false;
  for (absl::string_view item : absl::StrSplit(rest, ';')) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) continue;
    size_t colon = item.find(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected 'key:value', got '", item, "'"));
    }
    absl::string_view key = item.substr(0, colon);
    absl::string_view value =
        absl::StripAsciiWhitespace(item.substr(colon + 1));
    uint32_t n;
    if (!ParseU32(value, &n)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", key, "' has value '", value, "', not a non-negative number"));
    }
    if (key == "offset") {
      field.offset = n;
      have_offset = true;
    } else if (key == "size") {
      field.size = n;
      have_size = true;
    } else if (key == "signed") {
      if (n > 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("'signed' is ", n, ", expected 0 or 1"));
      }
      field.is_signed = n == 1;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown attribute '", key, "'"));
    }
  }
  if (!have_offset || !have_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("field '", absl::StripAsciiWhitespace(decl), "' has no ",
                     have_offset ? "size" : "offset"));
  }
  if (static_cast<uint64_t>(field.offset) + field.size > UINT32_MAX) {
    return absl::InvalidArgumentError("offset + size overflows");
  }
  absl::Status s = ClassifyDeclaration(decl, &field);
  if (!s.ok()) return s;
  return field;
}

const FieldFormat* EventFormat::FindField(absl::string_view field_name) const {
  for (const FieldFormat& f : fields) {
    if (f.name == field_name) return &f;
  }
  return nullptr;
}

absl::StatusOr<EventFormat> ParseEventFormat(absl::string_view system,
                                             absl::string_view text) {
  EventFormat format;
  format.system = std::string(system);
  bool have_name = false, have_id = false, in_format = false;
  bool have_print = false, in_common = true;
  absl::flat_hash_set<std::string> seen;
  auto error = [&](size_t line_no, absl::string_view reason) {
    std::string what =
        have_name ? absl::StrCat("event '", format.FullName(), "' format")
                  : std::string("event format");
    return absl::InvalidArgumentError(
        absl::StrCat(what, " line ", line_no, ": ", reason));
  };

  size_t line_no = 0;
  absl::string_view remaining = text;
  while (!remaining.empty()) {
    ++line_no;
    size_t nl = remaining.find('\n');
    absl::string_view line = remaining.substr(0, nl);
    remaining.remove_prefix(nl == absl::string_view::npos ? remaining.size()
                                                          : nl + 1);
    absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    absl::string_view value = trimmed;
    if (absl::ConsumePrefix(&value, "print fmt:")) {
      // The print format is the rest of the file (normally one line).
      std::string print(absl::StripLeadingAsciiWhitespace(value));
      absl::string_view tail = absl::StripTrailingAsciiWhitespace(remaining);
      if (!tail.empty()) absl::StrAppend(&print, "\n", tail);
      format.print_fmt = std::move(print);
      have_print = true;
      break;
    }
    if (trimmed.empty()) {
      // The blank line after the common fields ends them.
      if (in_format && !format.fields.empty()) in_common = false;
      continue;
    }
    if (absl::ConsumePrefix(&value, "name:")) {
      if (have_name) return error(line_no, "second 'name:' line");
      value = absl::StripAsciiWhitespace(value);
      if (value.empty()) return error(line_no, "empty event name");
      for (char c : value) {
        if (!IsIdentChar(c) && c != '-' && c != '.') {
          return error(line_no, absl::StrCat("event name '", value,
                                             "' has a character '",
                                             std::string(1, c), "'"));
        }
      }
      format.name = std::string(value);
      have_name = true;
    } else if (absl::ConsumePrefix(&value, "ID:")) {
      if (have_id) return error(line_no, "second 'ID:' line");
      value = absl::StripAsciiWhitespace(value);
      uint32_t id;
      if (!ParseU32(value, &id)) {
        return error(line_no, absl::StrCat("ID '", value, "' is not a number"));
      }
      if (id > kMaxEventId) {
        return error(line_no, absl::StrCat("ID ", id,
                                           " exceeds 65535 (common_type is a "
                                           "16-bit field)"));
      }
      format.id = id;
      have_id = true;
    } else if (trimmed == "format:") {
      if (in_format) return error(line_no, "second 'format:' line");
      in_format = true;
    } else if (absl::StartsWith(trimmed, "field")) {
      if (!in_format) return error(line_no, "field before 'format:'");
      absl::StatusOr<FieldFormat> field = ParseFieldLine(trimmed);
      if (!field.ok()) return error(line_no, field.status().message());
      if (!seen.insert(field->name).second) {
        return error(line_no,
                     absl::StrCat("duplicate field '", field->name, "'"));
      }
      // Common fields come first, before a blank line; the prefix check
      // keeps an odd file without that section from mislabelling fields.
      field->is_common = in_common && absl::StartsWith(field->name, "common_");
      format.fields.push_back(*std::move(field));
    } else {
      std::string shown(trimmed.substr(0, 60));
      return error(line_no, absl::StrCat("unexpected line '", shown, "'"));
    }
  }
  if (!have_name) return error(line_no, "no 'name:' line");
  if (!have_id) return error(line_no, "no 'ID:' line");
  if (!in_format) return error(line_no, "no 'format:' section");
  if (!have_print) return error(line_no, "no 'print fmt:' line");
  return format;
}

}  // namespace ringwatch
