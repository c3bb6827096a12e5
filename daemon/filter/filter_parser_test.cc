#include "daemon/filter/filter_parser.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

using ::testing::ElementsAre;

// Renders the tree fully parenthesised, to check structure in one string.
std::string Render(const FilterAst& ast, int i) {
  const FilterNode& n = ast.nodes[i];
  switch (n.kind) {
    case FilterNode::Kind::kNot:
      return absl::StrCat("!", Render(ast, n.children[0]));
    case FilterNode::Kind::kAnd:
    case FilterNode::Kind::kOr: {
      std::string out = "(";
      for (size_t k = 0; k < n.children.size(); ++k) {
        if (k > 0) out += n.kind == FilterNode::Kind::kAnd ? " && " : " || ";
        out += Render(ast, n.children[k]);
      }
      return out + ")";
    }
    case FilterNode::Kind::kPredicate:
      return absl::StrCat(n.field,
                          n.has_index ? absl::StrCat("[", n.index, "]") : "",
                          CompareOpName(n.op), n.value_quoted ? "'" : "",
                          n.value, n.value_quoted ? "'" : "");
  }
  return "?";
}

std::string Parsed(absl::string_view text) {
  absl::StatusOr<FilterAst> ast = ParseFilter(text);
  if (!ast.ok()) return std::string(ast.status().message());
  if (ast->root < 0) return "<empty>";
  return Render(*ast, ast->root);
}

TEST(FilterParserTest, EmptyExpressions) {
  EXPECT_EQ(Parsed(""), "<empty>");
  EXPECT_EQ(Parsed("  \t\n"), "<empty>");
}

TEST(FilterParserTest, Operators) {
  EXPECT_EQ(Parsed("a==1"), "a==1");
  EXPECT_EQ(Parsed("a != 1"), "a!=1");
  EXPECT_EQ(Parsed("a<1"), "a<1");
  EXPECT_EQ(Parsed("a<=1"), "a<=1");
  EXPECT_EQ(Parsed("a>-1"), "a>-1");
  EXPECT_EQ(Parsed("a>=0x1f"), "a>=0x1f");
  EXPECT_EQ(Parsed("a & 2"), "a&2");
  EXPECT_EQ(Parsed("a ~ \"k*\""), "a~'k*'");
  EXPECT_EQ(Parsed("args[3] == 7"), "args[3]==7");
}

TEST(FilterParserTest, PrecedenceAndFlattening) {
  EXPECT_EQ(Parsed("a==1 || b==2 && c==3"), "(a==1 || (b==2 && c==3))");
  EXPECT_EQ(Parsed("a==1 && b==2 || c==3"), "((a==1 && b==2) || c==3)");
  EXPECT_EQ(Parsed("a==1 && b==2 && c==3"), "(a==1 && b==2 && c==3)");
  EXPECT_EQ(Parsed("(a==1 || b==2) && c==3"), "((a==1 || b==2) && c==3)");
  EXPECT_EQ(Parsed("!a==1 && b==2"), "(!a==1 && b==2)");
  EXPECT_EQ(Parsed("!(a==1 && b==2)"), "!(a==1 && b==2)");
  EXPECT_EQ(Parsed("!!a==1"), "!!a==1");
  EXPECT_EQ(Parsed("((a==1))"), "a==1");
  // && binds a bit test's single & apart.
  EXPECT_EQ(Parsed("a&1&&b&2"), "(a&1 && b&2)");
}

TEST(FilterParserTest, Values) {
  EXPECT_EQ(Parsed("comm == bash"), "comm==bash");
  EXPECT_EQ(Parsed("comm == kworker/0:1"), "comm==kworker/0:1");
  EXPECT_EQ(Parsed("comm ~ kworker*)"),  // Bare word stops at ')'.
            "column 16: unbalanced ')': no '(' to close");
  EXPECT_EQ(Parsed("(comm ~ kworker*)"), "comm~kworker*");
  EXPECT_EQ(Parsed("comm ~ [!a-c]*&&a==1"), "(comm~[!a-c]* && a==1)");
  EXPECT_EQ(Parsed("comm == 'it''s'"),
            "column 13: unexpected ''' after a complete expression; expected "
            "&& or ||");
  EXPECT_EQ(Parsed(R"(comm == "a \"b\" \\ c")"), R"(comm=='a "b" \ c')");
  EXPECT_EQ(Parsed(R"(comm == 'it\'s')"), "comm=='it's'");
  EXPECT_EQ(Parsed(R"(buf == "x\n")"), "buf=='x\n'");
  EXPECT_EQ(Parsed(R"(buf ~ "a\*")"), R"(buf~'a\*')");  // Kept as typed.
  EXPECT_EQ(Parsed(R"(comm == "a && b")"), "comm=='a && b'");
}

TEST(FilterParserTest, Columns) {
  absl::StatusOr<FilterAst> ast = ParseFilter("  prev_pid  >=  42");
  ASSERT_TRUE(ast.ok()) << ast.status();
  const FilterNode& n = ast->nodes[ast->root];
  EXPECT_EQ(n.field_column, 3);
  EXPECT_EQ(n.op_column, 13);
  EXPECT_EQ(n.value_column, 17);
}

TEST(FilterParserTest, Errors) {
  EXPECT_EQ(Parsed("(a == 1"), "column 1: unbalanced '(': no ')' closes it");
  EXPECT_EQ(Parsed("a == 1)"), "column 7: unbalanced ')': no '(' to close");
  EXPECT_EQ(Parsed("a == 1 b == 2"),
            "column 8: unexpected 'b' after a complete expression; expected "
            "&& or ||");
  EXPECT_EQ(Parsed("(a == 1 b == 2)"),
            "column 9: unexpected 'b'; expected ')', && or ||");
  EXPECT_EQ(Parsed("a =="), "column 5: missing value after '=='");
  EXPECT_EQ(Parsed("a == && b == 1"), "column 6: missing value after '=='");
  EXPECT_EQ(Parsed("a == 1 &&"),
            "column 10: missing operand at the end of the expression");
  EXPECT_EQ(Parsed("&& a == 1"), "column 1: missing operand before '&&'");
  EXPECT_EQ(Parsed("a == 1 || || b == 2"),
            "column 11: missing operand before '||'");
  EXPECT_EQ(Parsed("()"), "column 1: empty parentheses");
  EXPECT_EQ(Parsed("a"),
            "column 2: field 'a' needs a comparison (==, !=, <, <=, >, >=, & "
            "or ~) before end of expression");
  EXPECT_EQ(Parsed("a = 1"), "column 3: unknown operator '='; use '=='");
  EXPECT_EQ(Parsed("a ! 1"),
            "column 3: expected a comparison operator after field 'a', got "
            "'!'");
  EXPECT_EQ(Parsed("1 == a"),
            "column 1: expected a field name, got '1' (the field goes left of "
            "the operator)");
  EXPECT_EQ(Parsed("a == \"abc"),
            "column 6: unterminated string: no closing quote");
  EXPECT_EQ(Parsed("a == ==1"),
            "column 6: expected a value after '==', got '='");
  EXPECT_EQ(Parsed("a[ == 1"),
            "column 3: expected an array index after 'a[', got ' '");
  EXPECT_EQ(Parsed("a[1 == 1"),
            "column 2: unterminated index 'a[': expected ']'");
  EXPECT_EQ(Parsed("a[99999999999] == 1"),
            "column 3: array index is too large");
  EXPECT_EQ(Parsed("a == 1 | b == 2"),
            "column 8: unexpected '|' after a complete expression; expected "
            "&& or ||");
}

TEST(FilterParserTest, Limits) {
  std::string deep(kMaxFilterDepth, '(');
  deep += "a==1" + std::string(kMaxFilterDepth, ')');
  EXPECT_EQ(Parsed(deep), "a==1");
  EXPECT_EQ(Parsed("(" + deep + ")"),
            absl::StrCat("column ", kMaxFilterDepth + 1, ": nested more than ",
                         kMaxFilterDepth, " levels deep"));
  EXPECT_EQ(Parsed(std::string(kMaxFilterDepth + 1, '!') + "a==1"),
            absl::StrCat("column ", kMaxFilterDepth + 1, ": nested more than ",
                         kMaxFilterDepth, " levels deep"));

  std::string many = "a==1";
  for (int i = 1; i < kMaxFilterPredicates; ++i) many += "||a==1";
  absl::StatusOr<FilterAst> ast = ParseFilter(many);
  ASSERT_TRUE(ast.ok()) << ast.status();
  EXPECT_EQ(ast->nodes[ast->root].children.size(), kMaxFilterPredicates);
  EXPECT_EQ(Parsed(many + "||a==1"),
            absl::StrCat("column ", many.size() + 3, ": more than ",
                         kMaxFilterPredicates, " comparisons"));

  EXPECT_EQ(Parsed(std::string(kMaxFilterLength + 1, ' ')),
            absl::StrCat("expression is ", kMaxFilterLength + 1,
                         " bytes long; the limit is ", kMaxFilterLength));
}

TEST(FilterParserTest, ErrorsAreInvalidArgument) {
  absl::StatusOr<FilterAst> ast = ParseFilter("(");
  EXPECT_EQ(ast.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FilterParserTest, ChainChildren) {
  absl::StatusOr<FilterAst> ast = ParseFilter("a==1||b==2||c==3");
  ASSERT_TRUE(ast.ok());
  const FilterNode& root = ast->nodes[ast->root];
  EXPECT_EQ(root.kind, FilterNode::Kind::kOr);
  std::vector<std::string> fields;
  for (int c : root.children) fields.push_back(ast->nodes[c].field);
  EXPECT_THAT(fields, ElementsAre("a", "b", "c"));
}

}  // namespace
}  // namespace ringwatch
