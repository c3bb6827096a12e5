#include "daemon/filter/glob.h"

#include <fnmatch.h>

#include <random>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringwatch {
namespace {

TEST(GlobMatchTest, Literals) {
  EXPECT_TRUE(GlobMatch("", ""));
  EXPECT_FALSE(GlobMatch("", "a"));
  EXPECT_FALSE(GlobMatch("a", ""));
  EXPECT_TRUE(GlobMatch("bash", "bash"));
  EXPECT_FALSE(GlobMatch("bash", "bas"));
  EXPECT_FALSE(GlobMatch("bash", "bashh"));
  EXPECT_FALSE(GlobMatch("Bash", "bash"));  // Case matters.
}

TEST(GlobMatchTest, Star) {
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("*", "anything"));
  EXPECT_TRUE(GlobMatch("**", "x"));
  EXPECT_TRUE(GlobMatch("kworker*", "kworker/0:1"));
  EXPECT_TRUE(GlobMatch("kworker*", "kworker"));
  EXPECT_FALSE(GlobMatch("kworker*", "kworke"));
  EXPECT_TRUE(GlobMatch("*bash", "/bin/bash"));
  EXPECT_FALSE(GlobMatch("*bash", "/bin/bashx"));
  EXPECT_TRUE(GlobMatch("*/bin/*", "/usr/bin/ls"));
  EXPECT_TRUE(GlobMatch("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(GlobMatch("a*b*c", "abcb"));
  // Needs the star to give back what it took once the tail fails.
  EXPECT_TRUE(GlobMatch("*ab", "aaab"));
  EXPECT_TRUE(GlobMatch("*aab", "aaaab"));
}

TEST(GlobMatchTest, QuestionMark) {
  EXPECT_TRUE(GlobMatch("?", "a"));
  EXPECT_FALSE(GlobMatch("?", ""));
  EXPECT_FALSE(GlobMatch("?", "ab"));
  EXPECT_TRUE(GlobMatch("swapper/?", "swapper/1"));
  EXPECT_FALSE(GlobMatch("swapper/?", "swapper/10"));
  EXPECT_TRUE(GlobMatch("*?", "x"));
  EXPECT_FALSE(GlobMatch("*??", "x"));
}

TEST(GlobMatchTest, Classes) {
  EXPECT_TRUE(GlobMatch("[abc]", "b"));
  EXPECT_FALSE(GlobMatch("[abc]", "d"));
  EXPECT_TRUE(GlobMatch("cpu[0-9]", "cpu7"));
  EXPECT_FALSE(GlobMatch("cpu[0-9]", "cpux"));
  EXPECT_TRUE(GlobMatch("[!0-9]", "x"));
  EXPECT_FALSE(GlobMatch("[!0-9]", "5"));
  EXPECT_TRUE(GlobMatch("[^0-9]", "x"));
  EXPECT_FALSE(GlobMatch("[^0-9]", "5"));
  // A leading ']' is a member; a trailing '-' is literal.
  EXPECT_TRUE(GlobMatch("[]]", "]"));
  EXPECT_TRUE(GlobMatch("[!]]", "a"));
  EXPECT_FALSE(GlobMatch("[!]]", "]"));
  EXPECT_TRUE(GlobMatch("[a-]", "-"));
  EXPECT_TRUE(GlobMatch("[a-]", "a"));
  EXPECT_FALSE(GlobMatch("[a-]", "b"));
  // No escape character: a class quotes the metacharacters.
  EXPECT_TRUE(GlobMatch("[*]", "*"));
  EXPECT_FALSE(GlobMatch("[*]", "a"));
  EXPECT_TRUE(GlobMatch("a[?]", "a?"));
  EXPECT_FALSE(GlobMatch("a[?]", "ab"));
  // A reversed range is empty.
  EXPECT_FALSE(GlobMatch("[z-a]", "m"));
  // Bytes above 0x7f compare unsigned.
  EXPECT_TRUE(GlobMatch("[\x80-\xff]", "\xc3"));
  EXPECT_FALSE(GlobMatch("[\x80-\xff]", "c"));
}

TEST(GlobMatchTest, UnterminatedClassIsLiteral) {
  EXPECT_TRUE(GlobMatch("[ab", "[ab"));
  EXPECT_FALSE(GlobMatch("[ab", "a"));
  EXPECT_TRUE(GlobMatch("x[", "x["));
  EXPECT_TRUE(GlobMatch("[]", "[]"));
}

TEST(GlobMatchTest, PathologicalPatternIsQuick) {
  // Exponential for a naive backtracking matcher; linear passes here.
  std::string text(20000, 'a');
  EXPECT_FALSE(GlobMatch("*a*a*a*a*a*a*a*a*b", text));
  EXPECT_TRUE(GlobMatch("*a*a*a*a*a*a*a*a*a", text));
}

TEST(GlobPatternErrorTest, ReportsUnterminatedClass) {
  EXPECT_EQ(GlobPatternError("kworker*"), "");
  EXPECT_EQ(GlobPatternError("[a-z]*[!x]"), "");
  EXPECT_EQ(GlobPatternError("[]]"), "");
  EXPECT_EQ(GlobPatternError("ab[cd"),
            "unterminated '[' at offset 2 of the glob pattern");
  EXPECT_EQ(GlobPatternError("[]"),
            "unterminated '[' at offset 0 of the glob pattern");
}

// glibc's fnmatch(3) with FNM_NOESCAPE in the C locale implements the same
// language for this alphabet (no ':' so no [:classes:], no '\\', no '/'
// or '.' specials without FNM_PATHNAME/FNM_PERIOD) when every '[' is
// closed; for an unterminated one glibc differs ("[*-" does not match "[-"),
// so those patterns are left to UnterminatedClassIsLiteral.
TEST(GlobMatchTest, AgreesWithFnmatchOnRandomPatterns) {
  std::mt19937 rng(20240611);
  const std::string pattern_chars = "ab*?[]!^-";
  const std::string text_chars = "ab-]![";
  int matched = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string pattern, text;
    int plen = rng() % 8, tlen = rng() % 7;
    for (int k = 0; k < plen; ++k) {
      pattern += pattern_chars[rng() % pattern_chars.size()];
    }
    for (int k = 0; k < tlen; ++k) {
      text += text_chars[rng() % text_chars.size()];
    }
    if (!GlobPatternError(pattern).empty()) continue;
    bool expected = fnmatch(pattern.c_str(), text.c_str(), FNM_NOESCAPE) == 0;
    ASSERT_EQ(GlobMatch(pattern, text), expected)
        << "pattern '" << pattern << "' text '" << text << "'";
    matched += expected;
  }
  // The generator must produce both outcomes for the comparison to mean
  // anything.
  EXPECT_GT(matched, 1000);
  EXPECT_LT(matched, 199000);
}

}  // namespace
}  // namespace ringwatch
