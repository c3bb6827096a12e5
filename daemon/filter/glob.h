// Shell-style glob matching for filter string predicates (`comm ~ "kwork*"`),
// the syntax of the kernel's event filters: `*`, `?` and `[...]` classes.
#ifndef RINGWATCH_DAEMON_FILTER_GLOB_H_
#define RINGWATCH_DAEMON_FILTER_GLOB_H_

#include <string>

#include "absl/strings/string_view.h"

namespace ringwatch {

// True when `text` matches `pattern` as a whole. `*` matches any run of
// bytes, `?` any one byte, `[abc]`, `[a-z]` and `[!a-z]` (or `[^a-z]`) one
// byte in (or not in) the class; a `]` right after the opening `[` (or its
// `!`) is a member. There is no escape character, as in the kernel: write
// `[*]` for a literal `*`. A `[` without its `]` matches itself. Never
// allocates; the cost is O(|pattern| * |text|) at worst.
bool GlobMatch(absl::string_view pattern, absl::string_view text);

// Empty when `pattern` is well formed, else the reason (an unterminated `[`
// class), for compile-time errors.
std::string GlobPatternError(absl::string_view pattern);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_FILTER_GLOB_H_
