// Event filters in the kernel's filter syntax (`prev_pid > 0 && next_comm ~
// "kworker*"`), compiled once against one event's format into a flat program
// that the per-event path runs without allocating or locking.
#ifndef RINGWATCH_DAEMON_FILTER_FILTER_H_
#define RINGWATCH_DAEMON_FILTER_FILTER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "daemon/event/event_format.h"
#include "daemon/filter/filter_parser.h"
#include "daemon/ring/record.h"

namespace ringwatch {

enum class FilterResult : uint8_t {
  kNoMatch,
  kMatch,
  // A field the evaluation reached lies outside the payload (a short record,
  // or a __data_loc pointing past its end). Counts as no match; callers that
  // keep error counters count it.
  kTruncated,
};

// A filter bound to one event's layout: field names are resolved to
// offsets, sizes and kinds and constants parsed at compile time. Cheap to
// copy and move; holds no pointer into the EventFormat it was compiled from.
class CompiledFilter {
 public:
  // Matches every record (as an empty expression does).
  CompiledFilter() = default;

  // Evaluates against one record of the event the filter was compiled for.
  // No heap allocation, no lock. Every load is bounds-checked.
  bool Matches(const RecordView& record) const {
    return Evaluate(record) == FilterResult::kMatch;
  }
  // Like Matches(), telling a short or corrupt record apart from a miss.
  FilterResult Evaluate(const RecordView& record) const;

  // The expression was empty: every record matches.
  bool always_true() const { return program_.empty(); }
  // The text it was compiled from.
  const std::string& expression() const { return expression_; }
  // Number of comparisons in the program.
  size_t size() const { return program_.size(); }

 private:
  friend absl::StatusOr<CompiledFilter> CompileFilter(
      absl::string_view expression, const EventFormat& format);
  class Compiler;  // Defined in filter.cc.

  // Where a predicate's left-hand value comes from.
  enum class Source : uint8_t {
    kInteger,      // `size` bytes at `offset`, sign-extended if `is_signed`.
    kCpu,          // RecordView::cpu.
    kFixedString,  // char[`size`] at `offset`, up to the first NUL.
    kDataLoc,      // u32 locator at `offset`, data offset from payload start.
    kRelLoc,       // u32 locator at `offset`, data offset from its end.
    kFlexString,   // From `offset` to the payload end, up to the first NUL.
  };

  // How a string predicate compares. Globs whose only metacharacters are a
  // leading and/or trailing '*' become the cheaper forms, as in the kernel.
  enum class TextMatch : uint8_t {
    kEqual,     // == (and != with swapped targets); also a glob without
                // metacharacters.
    kPrefix,    // "abc*"
    kSuffix,    // "*abc"
    kContains,  // "*abc*"
    kGlob,      // Anything else: GlobMatch().
  };

  // One comparison. Programs are jump code: after instruction i, control goes
  // to on_true or on_false, always forward, so evaluation ends after at most
  // program_.size() steps. Targets below 0 are the verdicts.
  struct Instruction {
    Source source = Source::kInteger;
    CompareOp op = CompareOp::kEq;             // For integers.
    TextMatch text_match = TextMatch::kEqual;  // For strings.
    bool is_signed = false;
    uint32_t offset = 0;
    uint32_t size = 0;
    uint64_t constant = 0;  // Integer constant; int64 bits when is_signed.
    // String constant, glob, or a glob's literal part: strings_[begin, +len).
    uint32_t text_begin = 0;
    uint32_t text_length = 0;
    int32_t on_true = 0;
    int32_t on_false = 0;
  };
  static TextMatch ClassifyGlob(absl::string_view* pattern);

  static constexpr int32_t kAccept = -1;
  static constexpr int32_t kReject = -2;

  std::vector<Instruction> program_;
  std::string strings_;  // Pool of the program's string constants.
  std::string expression_;
};

// Compiles `expression` for records of `format`. Errors name the event, the
// column and the reason: unknown field (with close matches), an operator
// that does not fit the field's type, a bad constant, unbalanced
// parentheses, trailing input or a missing operand.
//
// Fields: every field of the format (common_* included); `name[N]` for an
// element of a numeric array; `cpu` for the CPU the record came from (unless
// the event has its own field of that name). Integer fields take == != < <=
// > >= and `&` (any bit of the mask set) with decimal, 0x hex or negative
// constants; string fields (char arrays, __data_loc/__rel_loc strings,
// `char x[]`) take == and != with a quoted or bare string, and `~` with a
// glob pattern (see glob.h).
absl::StatusOr<CompiledFilter> CompileFilter(absl::string_view expression,
                                             const EventFormat& format);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_FILTER_FILTER_H_
