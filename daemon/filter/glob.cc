#include "daemon/filter/glob.h"

#include <cstddef>
#include <string>

#include "absl/strings/str_cat.h"

namespace ringwatch {
namespace {

constexpr size_t kNpos = absl::string_view::npos;

// Index just past the `]` closing the class that opens at `pattern[open]`,
// or kNpos when the class is unterminated.
size_t ClassEnd(absl::string_view pattern, size_t open) {
  size_t i = open + 1;
  if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) ++i;
  // A leading `]` is a member, not the end.
  if (i < pattern.size() && pattern[i] == ']') ++i;
  while (i < pattern.size() && pattern[i] != ']') ++i;
  return i < pattern.size() ? i + 1 : kNpos;
}

// Whether byte `c` is in the class pattern[open, end).
bool ClassContains(absl::string_view pattern, size_t open, size_t end,
                   unsigned char c) {
  size_t i = open + 1;
  const size_t close = end - 1;
  bool negate = false;
  if (pattern[i] == '!' || pattern[i] == '^') {
    negate = true;
    ++i;
  }
  bool found = false;
  // A leading `]` member sits before `close` (ClassEnd skipped it).
  while (i < close) {
    unsigned char lo = static_cast<unsigned char>(pattern[i]);
    if (i + 2 < close && pattern[i + 1] == '-') {
      unsigned char hi = static_cast<unsigned char>(pattern[i + 2]);
      if (lo <= c && c <= hi) found = true;
      i += 3;
    } else {
      if (c == lo) found = true;
      ++i;
    }
  }
  return found != negate;
}

}  // namespace

bool GlobMatch(absl::string_view pattern, absl::string_view text) {
  size_t p = 0;
  size_t t = 0;
  // After a `*`, where the pattern resumes and the text position it was
  // tried at. Backtracking to the last star alone is enough because every
  // other construct consumes exactly one byte.
  size_t star_p = kNpos;
  size_t star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size()) {
      const char c = pattern[p];
      if (c == '*') {
        star_p = ++p;
        star_t = t;
        continue;
      }
      if (c == '?') {
        ++p;
        ++t;
        continue;
      }
      size_t end = c == '[' ? ClassEnd(pattern, p) : kNpos;
      if (end != kNpos) {
        if (ClassContains(pattern, p, end,
                          static_cast<unsigned char>(text[t]))) {
          p = end;
          ++t;
          continue;
        }
      } else if (c == text[t]) {
        ++p;
        ++t;
        continue;
      }
    }
    if (star_p == kNpos) return false;
    p = star_p;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string GlobPatternError(absl::string_view pattern) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '[') continue;
    size_t end = ClassEnd(pattern, i);
    if (end == kNpos) {
      return absl::StrCat("unterminated '[' at offset ", i,
                          " of the glob pattern");
    }
    i = end - 1;
  }
  return "";
}

}  // namespace ringwatch
