#include "daemon/filter/filter.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "daemon/filter/glob.h"
#include "daemon/util/status_macros.h"

namespace ringwatch {
namespace {

// Edit distance counting an adjacent transposition as one edit (optimal
// string alignment), for suggesting fields close to a misspelt one.
size_t EditDistance(absl::string_view a, absl::string_view b) {
  const size_t w = b.size() + 1;
  std::vector<size_t> d((a.size() + 1) * w);
  for (size_t i = 0; i <= a.size(); ++i) d[i * w] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      size_t best = std::min({d[(i - 1) * w + j] + 1, d[i * w + j - 1] + 1,
                              d[(i - 1) * w + j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        best = std::min(best, d[(i - 2) * w + j - 2] + 1);
      }
      d[i * w + j] = best;
    }
  }
  return d[a.size() * w + b.size()];
}

// Whether `name` is one of the '_'-separated words of `candidate` ("comm"
// in "prev_comm").
bool IsWordOf(absl::string_view name, absl::string_view candidate) {
  for (absl::string_view word : absl::StrSplit(candidate, '_')) {
    if (word == name) return true;
  }
  return false;
}

// Up to three names of `format` (or pseudo-fields) close to `name`: those
// that have it as a word first, then those within a few edits.
std::vector<std::string> CloseMatches(absl::string_view name,
                                      const EventFormat& format) {
  const std::string lower = absl::AsciiStrToLower(name);
  const size_t max_edits = std::max<size_t>(1, name.size() / 3);
  std::vector<std::pair<size_t, std::string>> scored;
  auto consider = [&](absl::string_view candidate) {
    if (IsWordOf(name, candidate)) {
      scored.emplace_back(0, std::string(candidate));
      return;
    }
    size_t d = EditDistance(lower, absl::AsciiStrToLower(candidate));
    if (d <= max_edits) scored.emplace_back(d, std::string(candidate));
  };
  for (const FieldFormat& f : format.fields) consider(f.name);
  if (format.FindField("cpu") == nullptr) consider("cpu");
  std::stable_sort(
      scored.begin(), scored.end(),
      [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (auto& s : scored) {
    if (out.size() == 3) break;
    out.push_back(std::move(s.second));
  }
  return out;
}

// Parses an integer constant for a field of the given signedness. Decimal
// (no leading zeros: the kernel would read those as octal), 0x hex, an
// optional leading '-'. On success stores the value's 64 bits.
bool ParseIntConstant(absl::string_view text, bool is_signed, uint64_t* bits,
                      std::string* reason) {
  absl::string_view body = text;
  bool negative = false;
  if (!body.empty() && body[0] == '-') {
    negative = true;
    body.remove_prefix(1);
  }
  int base = 10;
  if (body.size() >= 2 && body[0] == '0' &&
      (body[1] == 'x' || body[1] == 'X')) {
    base = 16;
    body.remove_prefix(2);
  } else if (body.size() > 1 && body[0] == '0') {
    *reason =
        "leading zero (octal is not supported; write it in decimal or "
        "0x hex)";
    return false;
  }
  if (body.empty()) {
    *reason = "not a number";
    return false;
  }
  uint64_t magnitude = 0;
  for (char c : body) {
    int digit;
    if (absl::ascii_isdigit(c)) {
      digit = c - '0';
    } else if (base == 16 && absl::ascii_isxdigit(c)) {
      digit = absl::ascii_tolower(c) - 'a' + 10;
    } else {
      *reason = base == 16 ? "not a hex number" : "not a decimal number";
      return false;
    }
    if (magnitude > (std::numeric_limits<uint64_t>::max() - digit) / base) {
      *reason = "out of the range of a 64-bit integer";
      return false;
    }
    magnitude = magnitude * base + digit;
  }
  if (!is_signed) {
    if (negative && magnitude != 0) {
      *reason = "negative, but the field is unsigned";
      return false;
    }
    *bits = magnitude;
    return true;
  }
  constexpr uint64_t kMinMagnitude = uint64_t{1} << 63;  // -INT64_MIN.
  if (negative ? magnitude > kMinMagnitude : magnitude >= kMinMagnitude) {
    *reason = "out of the range of a signed 64-bit integer";
    return false;
  }
  *bits = negative ? uint64_t{0} - magnitude : magnitude;
  return true;
}

// Little-endian loads of a record's bytes: the ring and the host share an
// endianness, and trace.dat files from other hosts are converted upstream.
inline bool LoadBits(absl::Span<const uint8_t> payload, uint32_t offset,
                     uint32_t size, bool is_signed, uint64_t* out) {
  if (static_cast<uint64_t>(offset) + size > payload.size()) return false;
  const uint8_t* p = payload.data() + offset;
  switch (size) {
    case 1: {
      uint8_t v = p[0];
      *out = is_signed ? static_cast<uint64_t>(static_cast<int8_t>(v)) : v;
      return true;
    }
    case 2: {
      uint16_t v;
      std::memcpy(&v, p, sizeof(v));
      *out = is_signed ? static_cast<uint64_t>(static_cast<int16_t>(v)) : v;
      return true;
    }
    case 4: {
      uint32_t v;
      std::memcpy(&v, p, sizeof(v));
      *out = is_signed ? static_cast<uint64_t>(static_cast<int32_t>(v)) : v;
      return true;
    }
    case 8:
      std::memcpy(out, p, sizeof(*out));
      return true;
  }
  return false;
}

// The text of bytes [begin, begin + length) of the payload, up to the first
// NUL. False when the range is outside the payload.
inline bool TextAt(absl::Span<const uint8_t> payload, uint64_t begin,
                   uint64_t length, absl::string_view* out) {
  if (begin > payload.size() || length > payload.size() - begin) return false;
  const char* p = reinterpret_cast<const char*>(payload.data()) + begin;
  const void* nul = length == 0 ? nullptr : std::memchr(p, 0, length);
  *out = absl::string_view(
      p, nul == nullptr ? length : static_cast<const char*>(nul) - p);
  return true;
}

template <typename T>
inline bool Compare(CompareOp op, T value, T constant) {
  switch (op) {
    case CompareOp::kEq:
      return value == constant;
    case CompareOp::kNe:
      return value != constant;
    case CompareOp::kLt:
      return value < constant;
    case CompareOp::kLe:
      return value <= constant;
    case CompareOp::kGt:
      return value > constant;
    case CompareOp::kGe:
      return value >= constant;
    case CompareOp::kBitAnd:
      return (static_cast<uint64_t>(value) & static_cast<uint64_t>(constant)) !=
             0;
    case CompareOp::kGlob:
      return false;  // Never compiled for integers.
  }
  return false;
}

bool IsIntegerSize(uint32_t size) {
  return size == 1 || size == 2 || size == 4 || size == 8;
}

}  // namespace

FilterResult CompiledFilter::Evaluate(const RecordView& record) const {
  if (program_.empty()) return FilterResult::kMatch;
  const absl::Span<const uint8_t> payload = record.payload;
  int32_t pc = 0;
  while (pc >= 0) {
    const Instruction& in = program_[pc];
    bool result;
    if (in.source == Source::kInteger || in.source == Source::kCpu) {
      uint64_t value = record.cpu;
      if (in.source == Source::kInteger &&
          !LoadBits(payload, in.offset, in.size, in.is_signed, &value)) {
        return FilterResult::kTruncated;
      }
      result = in.is_signed
                   ? Compare<int64_t>(in.op, static_cast<int64_t>(value),
                                      static_cast<int64_t>(in.constant))
                   : Compare<uint64_t>(in.op, value, in.constant);
    } else {
      absl::string_view text;
      bool ok;
      switch (in.source) {
        case Source::kFixedString:
          ok = TextAt(payload, in.offset, in.size, &text);
          break;
        case Source::kFlexString:
          ok = in.offset <= payload.size() &&
               TextAt(payload, in.offset, payload.size() - in.offset, &text);
          break;
        default: {  // kDataLoc, kRelLoc: (length << 16) | offset.
          uint64_t loc;
          ok = LoadBits(payload, in.offset, 4, false, &loc);
          if (ok) {
            uint64_t begin = loc & 0xffff;
            if (in.source == Source::kRelLoc) begin += in.offset + 4;
            ok = TextAt(payload, begin, loc >> 16, &text);
          }
          break;
        }
      }
      if (!ok) return FilterResult::kTruncated;
      absl::string_view constant(strings_.data() + in.text_begin,
                                 in.text_length);
      switch (in.text_match) {
        case TextMatch::kEqual:
          result = text == constant;
          break;
        case TextMatch::kPrefix:
          result = absl::StartsWith(text, constant);
          break;
        case TextMatch::kSuffix:
          result = absl::EndsWith(text, constant);
          break;
        case TextMatch::kContains:
          result = absl::StrContains(text, constant);
          break;
        default:
          result = GlobMatch(constant, text);
          break;
      }
    }
    pc = result ? in.on_true : in.on_false;
  }
  return pc == kAccept ? FilterResult::kMatch : FilterResult::kNoMatch;
}

// The cheapest way to match the glob in `pattern`; for the forms that need
// no GlobMatch() it trims `pattern` to the literal part.
CompiledFilter::TextMatch CompiledFilter::ClassifyGlob(
    absl::string_view* pattern) {
  absl::string_view p = *pattern;
  const bool front = absl::ConsumePrefix(&p, "*");
  const bool back = !p.empty() && absl::ConsumeSuffix(&p, "*");
  if (p.find_first_of("*?[") != absl::string_view::npos) {
    return TextMatch::kGlob;
  }
  *pattern = p;
  if (front && back) return TextMatch::kContains;
  if (front) return TextMatch::kSuffix;
  if (back) return TextMatch::kPrefix;
  return TextMatch::kEqual;
}

// Resolves the parse tree against the format and emits the jump code.
class CompiledFilter::Compiler {
 public:
  Compiler(const FilterAst& ast, const EventFormat& format, CompiledFilter* out)
      : ast_(ast), format_(format), out_(out) {}

  absl::Status Run() {
    if (ast_.root < 0) return absl::OkStatus();
    leaves_.assign(ast_.nodes.size(), -1);
    return Emit(ast_.root, kAccept, kReject);
  }

 private:
  absl::Status Error(int column, absl::string_view reason) const {
    return absl::InvalidArgumentError(
        absl::StrCat("column ", column, ": ", reason));
  }

  // Number of predicates under node `i`, i.e. the instructions it emits.
  int Leaves(int i) {
    if (leaves_[i] >= 0) return leaves_[i];
    const FilterNode& node = ast_.nodes[i];
    int n = node.kind == FilterNode::Kind::kPredicate ? 1 : 0;
    for (int c : node.children) n += Leaves(c);
    return leaves_[i] = n;
  }

  // Emits node `i` so that it jumps to `on_true` or `on_false`. Recursion is
  // bounded by the parser's nesting limit (chains are flattened).
  absl::Status Emit(int i, int32_t on_true, int32_t on_false) {
    const FilterNode& node = ast_.nodes[i];
    switch (node.kind) {
      case FilterNode::Kind::kNot:
        return Emit(node.children[0], on_false, on_true);
      case FilterNode::Kind::kAnd:
      case FilterNode::Kind::kOr: {
        const bool is_and = node.kind == FilterNode::Kind::kAnd;
        for (size_t k = 0; k < node.children.size(); ++k) {
          const int child = node.children[k];
          if (k + 1 == node.children.size())
            return Emit(child, on_true, on_false);
          // The next sibling starts right after this child's instructions.
          const int32_t next =
              static_cast<int32_t>(out_->program_.size()) + Leaves(child);
          RETURN_IF_ERROR(is_and ? Emit(child, next, on_false)
                                 : Emit(child, on_true, next));
        }
        return absl::OkStatus();
      }
      case FilterNode::Kind::kPredicate:
        return EmitPredicate(node, on_true, on_false);
    }
    return absl::InternalError("unknown node kind");
  }

  absl::Status UnknownField(const FilterNode& node) const {
    std::vector<std::string> close = CloseMatches(node.field, format_);
    std::string hint =
        close.empty()
            ? ""
            : absl::StrCat("; did you mean ", absl::StrJoin(close, ", "), "?");
    if (node.field == "comm" || node.field == "COMM") {
      return Error(node.field_column,
                   absl::StrCat("event ", format_.FullName(),
                                " has no 'comm' field (comm is only available "
                                "on events that record it)",
                                hint));
    }
    return Error(node.field_column,
                 absl::StrCat("unknown field '", node.field, "' in ",
                              format_.FullName(), hint));
  }

  // Sets `in`'s source from the predicate's field.
  absl::Status ResolveField(const FilterNode& node, Instruction* in,
                            std::string* type) const {
    const FieldFormat* field = format_.FindField(node.field);
    if (field == nullptr && (node.field == "cpu" || node.field == "CPU")) {
      if (node.has_index) {
        return Error(node.field_column, "'cpu' is not an array");
      }
      in->source = Source::kCpu;
      in->is_signed = false;
      *type = "cpu";
      return absl::OkStatus();
    }
    if (field == nullptr) return UnknownField(node);
    *type = field->type;
    const std::string described =
        absl::StrCat("field '", field->name, "' (", field->type, ")");
    if (node.has_index) {
      if (field->kind != FieldKind::kFixedArray) {
        return Error(node.field_column,
                     absl::StrCat(described,
                                  " is not a fixed-size array and "
                                  "cannot be indexed"));
      }
      if (node.index >= field->array_length) {
        return Error(
            node.field_column,
            absl::StrCat("index ", node.index, " is out of range for ",
                         described, " of ", field->array_length, " elements"));
      }
      if (!IsIntegerSize(field->element_size)) {
        return Error(node.field_column,
                     absl::StrCat("elements of ", described, " are ",
                                  field->element_size,
                                  " bytes, not an integer's 1, 2, 4 or 8"));
      }
      in->source = Source::kInteger;
      in->offset = field->offset + node.index * field->element_size;
      in->size = field->element_size;
      in->is_signed = field->is_signed;
      return absl::OkStatus();
    }
    switch (field->kind) {
      case FieldKind::kScalar:
        if (!IsIntegerSize(field->size)) {
          return Error(node.field_column,
                       absl::StrCat(described, " is ", field->size,
                                    " bytes, not an integer's 1, 2, 4 or 8"));
        }
        in->source = Source::kInteger;
        in->offset = field->offset;
        in->size = field->size;
        in->is_signed = field->is_signed;
        return absl::OkStatus();
      case FieldKind::kFixedArray:
        if (!field->is_string) {
          return Error(node.field_column,
                       absl::StrCat(described,
                                    " is an array; compare one "
                                    "element, e.g. ",
                                    field->name, "[0]"));
        }
        in->source = Source::kFixedString;
        in->offset = field->offset;
        in->size = field->size;
        return absl::OkStatus();
      case FieldKind::kDataLoc:
      case FieldKind::kRelLoc:
      case FieldKind::kFlexArray:
        if (!field->is_string) {
          return Error(node.field_column,
                       absl::StrCat(described,
                                    " is a variable-length array; only "
                                    "strings of that kind can be compared"));
        }
        in->source = field->kind == FieldKind::kDataLoc  ? Source::kDataLoc
                     : field->kind == FieldKind::kRelLoc ? Source::kRelLoc
                                                         : Source::kFlexString;
        in->offset = field->offset;
        in->size = field->kind == FieldKind::kFlexArray ? 0 : 4;
        return absl::OkStatus();
    }
    return absl::InternalError("unknown field kind");
  }

  absl::Status EmitPredicate(const FilterNode& node, int32_t on_true,
                             int32_t on_false) {
    Instruction in;
    std::string type;
    RETURN_IF_ERROR(ResolveField(node, &in, &type));
    in.op = node.op;
    in.on_true = on_true;
    in.on_false = on_false;
    const absl::string_view op = CompareOpName(node.op);
    const bool is_string =
        in.source != Source::kInteger && in.source != Source::kCpu;
    if (is_string) {
      if (node.op != CompareOp::kEq && node.op != CompareOp::kNe &&
          node.op != CompareOp::kGlob) {
        return Error(node.op_column, absl::StrCat("operator '", op,
                                                  "' is not valid for "
                                                  "string field '",
                                                  node.field, "' (", type,
                                                  "); use ==, != or ~"));
      }
      if (node.op == CompareOp::kGlob) {
        std::string bad = GlobPatternError(node.value);
        if (!bad.empty()) return Error(node.value_column, bad);
      }
      if (node.op == CompareOp::kNe) std::swap(in.on_true, in.on_false);
      absl::string_view text = node.value;
      in.text_match =
          node.op == CompareOp::kGlob ? ClassifyGlob(&text) : TextMatch::kEqual;
      if (out_->strings_.size() + text.size() >
          std::numeric_limits<uint32_t>::max()) {
        return Error(node.value_column, "string constants are too long");
      }
      in.text_begin = static_cast<uint32_t>(out_->strings_.size());
      in.text_length = static_cast<uint32_t>(text.size());
      out_->strings_.append(text.data(), text.size());
    } else {
      if (node.op == CompareOp::kGlob) {
        return Error(node.op_column,
                     absl::StrCat("operator '~' needs a string field; '",
                                  node.field, "' (", type, ") is an integer"));
      }
      if (node.value_quoted) {
        return Error(node.value_column,
                     absl::StrCat("integer field '", node.field,
                                  "' is compared with a string; expected a "
                                  "number"));
      }
      std::string reason;
      if (!ParseIntConstant(node.value, in.is_signed, &in.constant, &reason)) {
        return Error(node.value_column,
                     absl::StrCat("bad constant '", node.value, "' for ",
                                  in.is_signed ? "signed" : "unsigned",
                                  " field '", node.field, "': ", reason));
      }
    }
    out_->program_.push_back(in);
    return absl::OkStatus();
  }

  const FilterAst& ast_;
  const EventFormat& format_;
  CompiledFilter* out_;
  std::vector<int> leaves_;  // Memoised Leaves(); -1 until computed.
};

absl::StatusOr<CompiledFilter> CompileFilter(absl::string_view expression,
                                             const EventFormat& format) {
  auto error = [&](const absl::Status& status) {
    return absl::InvalidArgumentError(
        absl::StrCat("filter on ", format.FullName(), ": ", status.message()));
  };
  absl::StatusOr<FilterAst> ast = ParseFilter(expression);
  if (!ast.ok()) return error(ast.status());
  CompiledFilter filter;
  filter.expression_ = std::string(expression);
  absl::Status status = CompiledFilter::Compiler(*ast, format, &filter).Run();
  if (!status.ok()) return error(status);
  return filter;
}

}  // namespace ringwatch
