// Random expressions against a deliberately plain reference evaluator (a
// tree walk over field_access.h's loads and a recursive glob) on random
// payloads: the compiled jump code must agree on every record, short ones
// included.
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "daemon/event/event_format.h"
#include "daemon/event/field_access.h"
#include "daemon/filter/filter.h"
#include "daemon/filter/filter_testing.h"
#include "daemon/ring/record.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

// Exponential in the worst case, which is fine for the short patterns here.
bool ReferenceGlob(absl::string_view p, absl::string_view t) {
  if (p.empty()) return t.empty();
  if (p[0] == '*') {
    for (size_t k = 0; k <= t.size(); ++k) {
      if (ReferenceGlob(p.substr(1), t.substr(k))) return true;
    }
    return false;
  }
  if (t.empty()) return false;
  if (p[0] == '?') return ReferenceGlob(p.substr(1), t.substr(1));
  if (p[0] == '[') {
    // The generator only makes classes like [abc] and [!a-c].
    size_t close = p.find(']', 1);
    absl::string_view body = p.substr(1, close - 1);
    bool negate = !body.empty() && body[0] == '!';
    if (negate) body.remove_prefix(1);
    bool in = false;
    for (size_t k = 0; k < body.size(); ++k) {
      if (k + 2 < body.size() && body[k + 1] == '-') {
        in |= body[k] <= t[0] && t[0] <= body[k + 2];
        k += 2;
      } else {
        in |= body[k] == t[0];
      }
    }
    return in != negate && ReferenceGlob(p.substr(close + 1), t.substr(1));
  }
  return p[0] == t[0] && ReferenceGlob(p.substr(1), t.substr(1));
}

// A predicate or a connective, as generated.
struct Expr {
  enum Kind { kAnd, kOr, kNot, kLeaf } kind = kLeaf;
  std::vector<std::unique_ptr<Expr>> children;
  // Leaf: a field (nullptr for cpu), an element index or -1, an operator.
  const FieldFormat* field = nullptr;
  int index = -1;
  std::string op;
  bool is_string = false;
  int64_t number = 0;  // Integer constant (uint64 bits for unsigned).
  std::string text;    // String constant or pattern.
};

// What the reference says: a verdict, or nullopt for a short record.
using Verdict = absl::optional<bool>;

Verdict EvalLeaf(const Expr& e, const RecordView& r) {
  if (e.is_string) {
    absl::string_view s;
    if (!FieldString(r.payload, *e.field, &s)) return absl::nullopt;
    if (e.op == "==") return s == e.text;
    if (e.op == "!=") return s != e.text;
    return ReferenceGlob(e.text, s);
  }
  int64_t v;
  bool is_signed;
  if (e.field == nullptr) {
    v = r.cpu;
    is_signed = false;
  } else {
    uint32_t size = e.index < 0 ? e.field->size : e.field->element_size;
    uint32_t offset = e.field->offset + (e.index < 0 ? 0 : e.index * size);
    if (!LoadInteger(r.payload, offset, size, e.field->is_signed, &v)) {
      return absl::nullopt;
    }
    is_signed = e.field->is_signed;
  }
  if (e.op == "&") return (static_cast<uint64_t>(v) & e.number) != 0;
  int cmp;
  if (is_signed) {
    cmp = v < e.number ? -1 : v > e.number ? 1 : 0;
  } else {
    uint64_t a = static_cast<uint64_t>(v), b = static_cast<uint64_t>(e.number);
    cmp = a < b ? -1 : a > b ? 1 : 0;
  }
  if (e.op == "==") return cmp == 0;
  if (e.op == "!=") return cmp != 0;
  if (e.op == "<") return cmp < 0;
  if (e.op == "<=") return cmp <= 0;
  if (e.op == ">") return cmp > 0;
  return cmp >= 0;
}

// Left to right with short-circuit, as a C programmer reads it.
Verdict Eval(const Expr& e, const RecordView& r) {
  switch (e.kind) {
    case Expr::kLeaf:
      return EvalLeaf(e, r);
    case Expr::kNot: {
      Verdict v = Eval(*e.children[0], r);
      if (!v) return v;
      return !*v;
    }
    case Expr::kAnd:
    case Expr::kOr:
      for (const auto& c : e.children) {
        Verdict v = Eval(*c, r);
        if (!v) return v;
        if (*v == (e.kind == Expr::kOr)) return v;
      }
      return e.kind == Expr::kAnd;
  }
  return absl::nullopt;
}

class Generator {
 public:
  Generator(const EventFormat& format, uint32_t seed)
      : format_(format), rng_(seed) {
    for (const FieldFormat& f : format.fields) {
      bool integer = f.kind == FieldKind::kScalar &&
                     (f.size == 1 || f.size == 2 || f.size == 4 || f.size == 8);
      bool array = f.kind == FieldKind::kFixedArray && !f.is_string;
      if (integer || array || f.is_string) fields_.push_back(&f);
    }
  }

  int Uniform(int n) { return static_cast<int>(rng_() % n); }
  bool Chance(int percent) { return Uniform(100) < percent; }

  // Values both constants and payloads draw from, so comparisons often hit.
  int64_t Interesting() {
    static const int64_t kValues[] = {
        0,    1,    2,    3,          -1,
        -2,   7,    42,   120,        255,
        256,  -128, 1234, 0x7fffffff, -0x80000000LL,
        65535};
    return kValues[Uniform(sizeof(kValues) / sizeof(kValues[0]))];
  }
  std::string Word() {
    static const char* const kWords[] = {"",     "a",   "ab",   "abc",
                                         "bash", "ba",  "kw/1", "kworker",
                                         "sh",   "a-b", "x.y"};
    return kWords[Uniform(sizeof(kWords) / sizeof(kWords[0]))];
  }
  std::string Pattern() {
    static const char* const kParts[] = {"*",      "?",  "a",  "b",    "[ab]",
                                         "[!a-c]", "kw", "sh", "[a-z]"};
    std::string p;
    int n = Uniform(4);
    for (int i = 0; i < n; ++i) p += kParts[Uniform(9)];
    return p;
  }

  // Renders `e` as text and fills it in; returns the text.
  std::unique_ptr<Expr> Make(int depth, std::string* text) {
    auto e = std::make_unique<Expr>();
    if (depth == 0 || Chance(35)) {
      MakeLeaf(e.get(), text);
      return e;
    }
    int pick = Uniform(5);
    if (pick == 0) {
      e->kind = Expr::kNot;
      std::string inner;
      e->children.push_back(Make(depth - 1, &inner));
      bool needs_parens = e->children[0]->kind == Expr::kAnd ||
                          e->children[0]->kind == Expr::kOr;
      *text = needs_parens || Chance(30) ? absl::StrCat("!(", inner, ")")
                                         : absl::StrCat("!", Space(), inner);
      return e;
    }
    e->kind = pick <= 2 ? Expr::kAnd : Expr::kOr;
    int n = 2 + Uniform(2);
    for (int i = 0; i < n; ++i) {
      std::string part;
      e->children.push_back(Make(depth - 1, &part));
      // Parenthesise only where precedence needs it (an || inside an &&),
      // plus some redundant ones; a same-kind child must be parenthesised
      // or it would merge with this chain, which is equivalent anyway.
      Expr::Kind k = e->children.back()->kind;
      bool needs = e->kind == Expr::kAnd && k == Expr::kOr;
      if (needs || Chance(15)) part = absl::StrCat("(", Space(), part, ")");
      if (i > 0) {
        absl::StrAppend(text, Space(), e->kind == Expr::kAnd ? "&&" : "||",
                        Space());
      }
      absl::StrAppend(text, part);
    }
    return e;
  }

  // Random bytes with interesting values planted at the fields' places.
  std::vector<uint8_t> Payload() {
    // Mostly long enough, sometimes cut anywhere.
    size_t full = 0;
    for (const FieldFormat& f : format_.fields) {
      full = std::max<size_t>(full, f.offset + f.size);
    }
    size_t size = Chance(80) ? full + 24 : Uniform(full + 24);
    filter_testing::PayloadBuilder b(size);
    for (size_t i = 0; i < size; ++i) b.Int(i, 1, rng_());
    auto put = [&](size_t offset, size_t n, uint64_t v) {
      if (offset + n <= size) b.Int(offset, n, v);
    };
    for (const FieldFormat& f : format_.fields) {
      if (Chance(20)) continue;  // Leave random bytes.
      if (f.kind == FieldKind::kScalar) {
        put(f.offset, f.size, Interesting());
      } else if (f.kind == FieldKind::kFixedArray && !f.is_string) {
        for (uint32_t k = 0; k < f.array_length; ++k) {
          put(f.offset + k * f.element_size, f.element_size, Interesting());
        }
      } else if (f.is_string) {
        std::string w = Word();
        if (Chance(80)) w.push_back('\0');
        if (f.kind == FieldKind::kFixedArray) {
          w.resize(std::min<size_t>(w.size(), f.size));
          if (f.offset + w.size() <= size) b.Text(f.offset, w);
        } else if (f.kind == FieldKind::kFlexArray) {
          // Runs to the end: plant a NUL-terminated word when it fits.
          if (f.offset + w.size() <= size) b.Text(f.offset, w);
        } else {
          // A locator to the word at the payload's tail, or a wild one.
          uint32_t base = f.kind == FieldKind::kRelLoc ? f.offset + 4 : 0;
          uint32_t at = full;
          uint32_t loc =
              Chance(90)
                  ? ((static_cast<uint32_t>(w.size()) << 16) | (at - base))
                  : static_cast<uint32_t>(rng_());
          put(f.offset, 4, loc);
          if (at + w.size() <= size) b.Text(at, w);
        }
      }
    }
    return b.bytes();
  }

 private:
  std::string Space() { return Chance(50) ? " " : ""; }

  void MakeLeaf(Expr* e, std::string* text) {
    e->kind = Expr::kLeaf;
    size_t pick = Uniform(fields_.size() + 1);
    std::string name;
    bool is_signed = false;
    if (pick == fields_.size()) {
      e->field = nullptr;  // cpu
      name = Chance(50) ? "cpu" : "CPU";
    } else {
      e->field = fields_[pick];
      name = e->field->name;
      is_signed = e->field->is_signed;
      if (e->field->kind == FieldKind::kFixedArray && !e->field->is_string) {
        e->index = Uniform(e->field->array_length);
        absl::StrAppend(&name, "[", e->index, "]");
      }
      e->is_string = e->field->is_string;
    }
    if (e->is_string) {
      static const char* const kOps[] = {"==", "!=", "~"};
      e->op = kOps[Uniform(3)];
      e->text = e->op == "~" ? Pattern() : Word();
      bool bare = !e->text.empty() && Chance(30);
      *text = absl::StrCat(name, Space(), e->op, Space(),
                           bare ? e->text : absl::StrCat("\"", e->text, "\""));
      return;
    }
    static const char* const kOps[] = {"==", "!=", "<", "<=", ">", ">=", "&"};
    e->op = kOps[Uniform(7)];
    int64_t v = Interesting();
    if (!is_signed && v < 0) v = -v;
    e->number = v;
    std::string constant;
    if (v >= 0 && Chance(30)) {
      constant = absl::StrCat("0x", absl::Hex(v));
    } else if (v < 0 && Chance(30)) {
      constant = absl::StrCat("-0x", absl::Hex(-v));
    } else {
      constant = absl::StrCat(v);
    }
    *text = absl::StrCat(name, Space(), e->op, Space(), constant);
  }

  const EventFormat& format_;
  std::mt19937 rng_;
  std::vector<const FieldFormat*> fields_;
};

struct NamedFormat {
  const char* name;
  const char* text;
};

class FilterPropertyTest : public ::testing::TestWithParam<NamedFormat> {};

TEST_P(FilterPropertyTest, CompiledProgramAgreesWithReference) {
  absl::StatusOr<EventFormat> format =
      ParseEventFormat("test", GetParam().text);
  ASSERT_TRUE(format.ok()) << format.status();
  Generator gen(*format, 12345);
  int outcomes[3] = {0, 0, 0};  // no match, match, truncated
  for (int i = 0; i < 3000; ++i) {
    std::string text;
    std::unique_ptr<Expr> expr = gen.Make(4, &text);
    absl::StatusOr<CompiledFilter> filter = CompileFilter(text, *format);
    ASSERT_TRUE(filter.ok()) << text << ": " << filter.status();
    for (int k = 0; k < 40; ++k) {
      std::vector<uint8_t> bytes = gen.Payload();
      RecordView record;
      record.cpu = gen.Uniform(4);
      record.payload = bytes;
      Verdict want = Eval(*expr, record);
      FilterResult got = filter->Evaluate(record);
      FilterResult expected = !want   ? FilterResult::kTruncated
                              : *want ? FilterResult::kMatch
                                      : FilterResult::kNoMatch;
      ASSERT_EQ(static_cast<int>(got), static_cast<int>(expected))
          << "expression: " << text << "\npayload size " << bytes.size()
          << " cpu " << record.cpu;
      ++outcomes[static_cast<int>(got)];
    }
  }
  // Each outcome must be common enough for agreement to mean something.
  for (int n : outcomes)
    EXPECT_GT(n, 3000) << outcomes[0] << " " << outcomes[1] << " "
                       << outcomes[2];
}

INSTANTIATE_TEST_SUITE_P(
    Formats, FilterPropertyTest,
    ::testing::Values(
        NamedFormat{"sched_switch", filter_testing::kSchedSwitchFormat},
        NamedFormat{"sched_process_exec",
                    filter_testing::kSchedProcessExecFormat},
        NamedFormat{"ftrace_print", filter_testing::kFtracePrintFormat},
        NamedFormat{"sys_enter", filter_testing::kRawSyscallsSysEnterFormat},
        NamedFormat{"rel_loc", filter_testing::kRelLocFormat}),
    [](const ::testing::TestParamInfo<NamedFormat>& info) {
      return std::string(info.param.name);
    });

}  // namespace
}  // namespace ringwatch
