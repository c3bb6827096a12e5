// Fuzz target for filter compilation and evaluation (filter_fuzzer.cc).
#ifndef RINGWATCH_DAEMON_FILTER_FILTER_FUZZER_H_
#define RINGWATCH_DAEMON_FILTER_FILTER_FUZZER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace ringwatch {

// How many inputs took each path, so a driver can check that its inputs
// reach evaluation rather than stopping at syntax errors. Not thread-safe.
struct FilterFuzzCounts {
  uint64_t inputs = 0;
  uint64_t compile_errors = 0;
  uint64_t no_match = 0;
  uint64_t match = 0;
  uint64_t truncated = 0;
};
FilterFuzzCounts& GetFilterFuzzCounts();

// Number of formats the target chooses from with its first input byte.
size_t FilterFuzzFormatCount();

// Packs one input: the format index and CPU, the expression, a NUL, then
// the payload bytes.
std::string MakeFilterFuzzInput(size_t format_index, uint32_t cpu,
                                absl::string_view expression,
                                absl::Span<const uint8_t> payload);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_FILTER_FILTER_FUZZER_H_
