#include "daemon/filter/filter_parser.h"

#include <cstddef>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "daemon/util/status_macros.h"

namespace ringwatch {
namespace {

bool IsIdentStart(char c) { return absl::ascii_isalpha(c) || c == '_'; }
bool IsIdentChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

// Characters that end a bare-word value (and cannot start one). '!' is not
// among them, so `comm ~ [!a-c]*` works: no '!=' can follow a value.
bool EndsBareWord(char c) {
  switch (c) {
    case '(':
    case ')':
    case '&':
    case '|':
    case '"':
    case '\'':
    case '=':
    case '<':
    case '>':
    case '~':
      return true;
    default:
      return absl::ascii_isspace(c);
  }
}

class Parser {
 public:
  Parser(absl::string_view text, FilterAst* ast) : s_(text), ast_(ast) {}

  absl::Status Parse() {
    if (s_.size() > kMaxFilterLength) {
      return absl::InvalidArgumentError(
          absl::StrCat("expression is ", s_.size(),
                       " bytes long; the limit is ", kMaxFilterLength));
    }
    SkipSpace();
    if (AtEnd()) return absl::OkStatus();  // Empty: matches everything.
    ASSIGN_OR_RETURN(ast_->root, ParseOr());
    SkipSpace();
    if (!AtEnd()) {
      if (s_[pos_] == ')') {
        return Error(pos_, "unbalanced ')': no '(' to close");
      }
      return Error(pos_, absl::StrCat("unexpected ", Shown(pos_),
                                      " after a complete expression; "
                                      "expected && or ||"));
    }
    return absl::OkStatus();
  }

 private:
  bool AtEnd() const { return pos_ >= s_.size(); }
  bool At(absl::string_view token) const {
    return s_.substr(pos_, token.size()) == token;
  }
  void SkipSpace() {
    while (!AtEnd() && absl::ascii_isspace(s_[pos_])) ++pos_;
  }

  absl::Status Error(size_t pos, absl::string_view reason) const {
    return absl::InvalidArgumentError(
        absl::StrCat("column ", pos + 1, ": ", reason));
  }

  // The input at `pos` for messages: a word or one character, quoted.
  std::string Shown(size_t pos) const {
    if (pos >= s_.size()) return "end of expression";
    size_t end = pos;
    if (IsIdentChar(s_[pos]) || s_[pos] == '-') {
      while (end < s_.size() && end - pos < 32 &&
             (IsIdentChar(s_[end]) || s_[end] == '-')) {
        ++end;
      }
    } else {
      absl::string_view two = s_.substr(pos, 2);
      end = pos + (two == "&&" || two == "||" ? 2 : 1);
    }
    return absl::StrCat("'", s_.substr(pos, end - pos), "'");
  }

  int AddNode(FilterNode node) {
    ast_->nodes.push_back(std::move(node));
    return static_cast<int>(ast_->nodes.size()) - 1;
  }

  // Parses `sub (sep sub)*`, flattening the chain into one node.
  template <typename Sub>
  absl::StatusOr<int> ParseChain(absl::string_view sep, FilterNode::Kind kind,
                                 Sub sub) {
    ASSIGN_OR_RETURN(int first, (this->*sub)());
    SkipSpace();
    if (!At(sep)) return first;
    FilterNode node;
    node.kind = kind;
    node.children.push_back(first);
    while (At(sep)) {
      pos_ += sep.size();
      ASSIGN_OR_RETURN(int next, (this->*sub)());
      node.children.push_back(next);
      SkipSpace();
    }
    return AddNode(std::move(node));
  }

  absl::StatusOr<int> ParseOr() {
    return ParseChain("||", FilterNode::Kind::kOr, &Parser::ParseAnd);
  }
  absl::StatusOr<int> ParseAnd() {
    return ParseChain("&&", FilterNode::Kind::kAnd, &Parser::ParseUnary);
  }

  absl::Status Deeper(size_t pos) {
    if (++depth_ > kMaxFilterDepth) {
      return Error(pos, absl::StrCat("nested more than ", kMaxFilterDepth,
                                     " levels deep"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int> ParseUnary() {
    SkipSpace();
    if (AtEnd()) {
      return Error(pos_, "missing operand at the end of the expression");
    }
    if (At("!") && !At("!=")) {
      size_t bang = pos_++;
      RETURN_IF_ERROR(Deeper(bang));
      ASSIGN_OR_RETURN(int child, ParseUnary());
      --depth_;
      FilterNode node;
      node.kind = FilterNode::Kind::kNot;
      node.children.push_back(child);
      return AddNode(std::move(node));
    }
    if (At("(")) {
      size_t open = pos_++;
      RETURN_IF_ERROR(Deeper(open));
      SkipSpace();
      if (At(")")) return Error(open, "empty parentheses");
      ASSIGN_OR_RETURN(int inner, ParseOr());
      SkipSpace();
      if (AtEnd()) {
        return Error(open, "unbalanced '(': no ')' closes it");
      }
      if (!At(")")) {
        return Error(pos_, absl::StrCat("unexpected ", Shown(pos_),
                                        "; expected ')', && or ||"));
      }
      ++pos_;
      --depth_;
      return inner;
    }
    if (At(")") || At("&&") || At("||")) {
      return Error(pos_, absl::StrCat("missing operand before ", Shown(pos_)));
    }
    return ParsePredicate();
  }

  absl::StatusOr<int> ParsePredicate() {
    if (static_cast<int>(++predicates_) > kMaxFilterPredicates) {
      return Error(pos_, absl::StrCat("more than ", kMaxFilterPredicates,
                                      " comparisons"));
    }
    FilterNode node;
    node.kind = FilterNode::Kind::kPredicate;
    if (!IsIdentStart(s_[pos_])) {
      const char c = s_[pos_];
      if (absl::ascii_isdigit(c) || c == '-' || c == '"' || c == '\'') {
        return Error(pos_,
                     absl::StrCat("expected a field name, got ", Shown(pos_),
                                  " (the field goes left of the "
                                  "operator)"));
      }
      return Error(pos_,
                   absl::StrCat("expected a field name, got ", Shown(pos_)));
    }
    size_t start = pos_;
    while (!AtEnd() && IsIdentChar(s_[pos_])) ++pos_;
    node.field = std::string(s_.substr(start, pos_ - start));
    node.field_column = static_cast<int>(start) + 1;
    if (At("[")) {
      RETURN_IF_ERROR(ParseIndex(&node));
    }

    SkipSpace();
    size_t op_pos = pos_;
    node.op_column = static_cast<int>(op_pos) + 1;
    if (At("==")) {
      node.op = CompareOp::kEq;
      pos_ += 2;
    } else if (At("!=")) {
      node.op = CompareOp::kNe;
      pos_ += 2;
    } else if (At("<=")) {
      node.op = CompareOp::kLe;
      pos_ += 2;
    } else if (At(">=")) {
      node.op = CompareOp::kGe;
      pos_ += 2;
    } else if (At("<")) {
      node.op = CompareOp::kLt;
      pos_ += 1;
    } else if (At(">")) {
      node.op = CompareOp::kGt;
      pos_ += 1;
    } else if (At("~")) {
      node.op = CompareOp::kGlob;
      pos_ += 1;
    } else if (At("&") && !At("&&")) {
      node.op = CompareOp::kBitAnd;
      pos_ += 1;
    } else if (At("=")) {
      return Error(op_pos, "unknown operator '='; use '=='");
    } else if (AtEnd() || At(")") || At("&&") || At("||")) {
      return Error(op_pos,
                   absl::StrCat("field '", node.field,
                                "' needs a comparison (==, !=, <, <=, >, >=, "
                                "& or ~) before ",
                                Shown(op_pos)));
    } else {
      return Error(op_pos, absl::StrCat("expected a comparison operator after "
                                        "field '",
                                        node.field, "', got ", Shown(op_pos)));
    }

    SkipSpace();
    RETURN_IF_ERROR(ParseValue(op_pos, &node));
    return AddNode(std::move(node));
  }

  absl::Status ParseIndex(FilterNode* node) {
    size_t open = pos_++;
    size_t start = pos_;
    uint64_t index = 0;
    while (!AtEnd() && absl::ascii_isdigit(s_[pos_])) {
      index = index * 10 + static_cast<uint64_t>(s_[pos_] - '0');
      if (index > UINT32_MAX) {
        return Error(start, "array index is too large");
      }
      ++pos_;
    }
    if (pos_ == start) {
      return Error(pos_, absl::StrCat("expected an array index after '",
                                      node->field, "[', got ", Shown(pos_)));
    }
    if (!At("]")) {
      return Error(open, absl::StrCat("unterminated index '", node->field,
                                      "[': expected ']'"));
    }
    ++pos_;
    node->has_index = true;
    node->index = static_cast<uint32_t>(index);
    return absl::OkStatus();
  }

  absl::Status ParseValue(size_t op_pos, FilterNode* node) {
    absl::string_view op_name = CompareOpName(node->op);
    if (AtEnd() || At(")") || At("&&") || At("||")) {
      return Error(pos_, absl::StrCat("missing value after '", op_name, "'"));
    }
    node->value_column = static_cast<int>(pos_) + 1;
    const char quote = s_[pos_];
    if (quote == '"' || quote == '\'') {
      size_t open = pos_++;
      std::string value;
      while (true) {
        if (AtEnd()) {
          return Error(open, "unterminated string: no closing quote");
        }
        char c = s_[pos_++];
        if (c == quote) break;
        // \" \' \\ \n \t are escapes (ftrace/print text ends in a
        // newline); any other backslash is kept, so patterns read as typed.
        if (c == '\\' && !AtEnd()) {
          const char next = s_[pos_];
          if (next == quote || next == '\\') {
            c = next;
            ++pos_;
          } else if (next == 'n' || next == 't') {
            c = next == 'n' ? '\n' : '\t';
            ++pos_;
          }
        }
        value.push_back(c);
      }
      node->value = std::move(value);
      node->value_quoted = true;
      return absl::OkStatus();
    }
    size_t start = pos_;
    while (!AtEnd() && !EndsBareWord(s_[pos_])) ++pos_;
    if (pos_ == start) {
      return Error(pos_, absl::StrCat("expected a value after '", op_name,
                                      "', got ", Shown(pos_)));
    }
    node->value = std::string(s_.substr(start, pos_ - start));
    return absl::OkStatus();
  }

  absl::string_view s_;
  FilterAst* ast_;
  size_t pos_ = 0;
  int depth_ = 0;
  size_t predicates_ = 0;
};

}  // namespace

absl::string_view CompareOpName(CompareOp op) {
  switch (op) {
    case CompareOp::kEq:
      return "==";
    case CompareOp::kNe:
      return "!=";
    case CompareOp::kLt:
      return "<";
    case CompareOp::kLe:
      return "<=";
    case CompareOp::kGt:
      return ">";
    case CompareOp::kGe:
      return ">=";
    case CompareOp::kBitAnd:
      return "&";
    case CompareOp::kGlob:
      return "~";
  }
  return "?";
}

absl::StatusOr<FilterAst> ParseFilter(absl::string_view expression) {
  FilterAst ast;
  Parser parser(expression, &ast);
  RETURN_IF_ERROR(parser.Parse());
  return ast;
}

}  // namespace ringwatch
