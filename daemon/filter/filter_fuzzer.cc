// Fuzz target: arbitrary expression text compiled against one of a fixed set
// of captured formats and evaluated on arbitrary payload bytes. Compiling
// gives a filter or an error naming the event; evaluating never reads
// outside the payload (ASan checks that: the payload is copied into a buffer
// of exactly its size) and agrees with itself across copies and recompiles.
//
// Input: byte 0 = format index (low 3 bits) and CPU (high 5 bits), then the
// expression up to the first NUL, then the payload.
//
// filter_fuzzer_test runs it deterministically under g++ (and
// --config=asan) and replays the committed corpus tests/data/fuzz/filter.
// `tools/fuzz.sh run filter` fuzzes it for real with libFuzzer, ASan and
// UBSan, with filter_fuzzer.dict (docs/fuzzing.md).
#include "daemon/filter/filter_fuzzer.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "daemon/event/event_format.h"
#include "daemon/filter/filter.h"
#include "daemon/filter/filter_testing.h"
#include "daemon/ring/record.h"

namespace ringwatch {
namespace {

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "filter_fuzzer invariant broken: %s\n", what);
    std::abort();
  }
}

const std::vector<EventFormat>& Formats() {
  static const std::vector<EventFormat>* formats = [] {
    auto* out = new std::vector<EventFormat>;
    const std::pair<const char*, const char*> texts[] = {
        {"sched", filter_testing::kSchedSwitchFormat},
        {"sched", filter_testing::kSchedProcessExecFormat},
        {"ftrace", filter_testing::kFtracePrintFormat},
        {"raw_syscalls", filter_testing::kRawSyscallsSysEnterFormat},
        {"sched", filter_testing::kSchedWakeupFormat},
        {"sample", filter_testing::kRelLocFormat},
    };
    for (const auto& t : texts) {
      absl::StatusOr<EventFormat> f = ParseEventFormat(t.first, t.second);
      Check(f.ok(), "embedded format parses");
      out->push_back(*std::move(f));
    }
    return out;
  }();
  return *formats;
}

}  // namespace

FilterFuzzCounts& GetFilterFuzzCounts() {
  static FilterFuzzCounts counts;
  return counts;
}

size_t FilterFuzzFormatCount() { return Formats().size(); }

std::string MakeFilterFuzzInput(size_t format_index, uint32_t cpu,
                                absl::string_view expression,
                                absl::Span<const uint8_t> payload) {
  std::string out(1, static_cast<char>((format_index & 7) | (cpu << 3)));
  out.append(expression.data(), expression.size());
  out.push_back('\0');
  out.append(reinterpret_cast<const char*>(payload.data()), payload.size());
  return out;
}

}  // namespace ringwatch

namespace ringwatch {
namespace {

void FuzzOne(const uint8_t* data, size_t size) {
  if (size == 0) return;
  FilterFuzzCounts& counts = GetFilterFuzzCounts();
  ++counts.inputs;
  const std::vector<EventFormat>& formats = Formats();
  const EventFormat& format = formats[(data[0] & 7) % formats.size()];
  const uint32_t cpu = data[0] >> 3;
  const char* text = reinterpret_cast<const char*>(data + 1);
  const size_t rest = size - 1;
  const void* nul = std::memchr(text, 0, rest);
  const size_t text_size = nul ? static_cast<const char*>(nul) - text : rest;
  const absl::string_view expression(text, text_size);
  // Exactly the payload's bytes, so any read past them is an ASan error.
  std::vector<uint8_t> payload(data + 1 + text_size + (nul ? 1 : 0),
                               data + size);

  absl::StatusOr<CompiledFilter> filter = CompileFilter(expression, format);
  if (!filter.ok()) {
    ++counts.compile_errors;
    Check(filter.status().code() == absl::StatusCode::kInvalidArgument,
          "errors are InvalidArgument");
    Check(absl::StartsWith(filter.status().message(),
                           "filter on " + format.FullName() + ": "),
          "errors name the event");
    return;
  }
  Check(filter->size() <= static_cast<size_t>(kMaxFilterPredicates),
        "program size is bounded");
  Check(filter->always_true() == (filter->size() == 0),
        "always_true iff empty");

  RecordView record;
  record.cpu = cpu;
  record.payload = payload;
  const FilterResult result = filter->Evaluate(record);
  Check(result == FilterResult::kNoMatch || result == FilterResult::kMatch ||
            result == FilterResult::kTruncated,
        "result is a known value");
  Check(filter->Matches(record) == (result == FilterResult::kMatch),
        "Matches agrees with Evaluate");
  if (filter->always_true()) {
    Check(result == FilterResult::kMatch, "empty filter matches");
  }
  CompiledFilter copy = *filter;
  Check(copy.Evaluate(record) == result, "a copy evaluates alike");
  absl::StatusOr<CompiledFilter> again =
      CompileFilter(filter->expression(), format);
  Check(again.ok() && again->Evaluate(record) == result,
        "recompiling gives the same verdict");

  switch (result) {
    case FilterResult::kNoMatch:
      ++counts.no_match;
      break;
    case FilterResult::kMatch:
      ++counts.match;
      break;
    case FilterResult::kTruncated:
      ++counts.truncated;
      break;
  }
}

}  // namespace
}  // namespace ringwatch

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ringwatch::FuzzOne(data, size);
  return 0;
}
