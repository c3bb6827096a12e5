// Syntax of filter expressions, the language of the kernel's event filters
// (Documentation/trace/events.rst, "Event filtering"):
//
//   expr      := or
//   or        := and ("||" and)*
//   and       := unary ("&&" unary)*
//   unary     := "!" unary | "(" or ")" | predicate
//   predicate := field ["[" index "]"] op value
//   op        := "==" | "!=" | "<" | "<=" | ">" | ">=" | "&" | "~"
//   value     := "quoted string" | 'quoted string' | bare-word
//
// Quoted strings know the escapes \" \' \\ \n and \t; a bare word runs to
// the next space or one of ( ) & | = < > ~ " '.
//
// This layer only checks syntax; whether a field exists and an operator fits
// its type is decided against an EventFormat by CompileFilter (filter.h).
#ifndef RINGWATCH_DAEMON_FILTER_FILTER_PARSER_H_
#define RINGWATCH_DAEMON_FILTER_FILTER_PARSER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ringwatch {

enum class CompareOp : uint8_t {
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kBitAnd,  // `field & mask`: true when any bit of the mask is set.
  kGlob,    // `field ~ "pattern"`.
};

// "==", "&", "~"...
absl::string_view CompareOpName(CompareOp op);

// Columns are 1-based byte positions in the expression.
struct FilterNode {
  enum class Kind : uint8_t { kAnd, kOr, kNot, kPredicate };
  Kind kind = Kind::kPredicate;
  // Indexes into FilterAst::nodes: two or more for kAnd and kOr (chains are
  // flattened), exactly one for kNot, none for kPredicate.
  std::vector<int> children;

  // kPredicate only.
  std::string field;
  int field_column = 0;
  bool has_index = false;  // `args[2]`.
  uint32_t index = 0;
  CompareOp op = CompareOp::kEq;
  int op_column = 0;
  std::string value;  // Quotes removed, escapes resolved.
  bool value_quoted = false;
  int value_column = 0;
};

struct FilterAst {
  std::vector<FilterNode> nodes;
  int root = -1;  // -1 for an empty (all-whitespace) expression.
};

// Bounds that keep parsing and evaluation cheap and the recursion shallow
// whatever the input.
inline constexpr int kMaxFilterDepth = 64;         // Nested ( and !.
inline constexpr int kMaxFilterPredicates = 1024;  // Leaves.
inline constexpr size_t kMaxFilterLength = 65536;  // Bytes of text.

// Parses `expression`. Errors read "column N: reason".
absl::StatusOr<FilterAst> ParseFilter(absl::string_view expression);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_FILTER_FILTER_PARSER_H_
