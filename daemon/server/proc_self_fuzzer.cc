// Fuzz target for the /proc/<pid>/stat parser: any text, with any clock tick
// rate and page size, parses or fails with a message naming the field, and
// what it returns is finite and non-negative. Built by tools/fuzz.sh
// (proc_stat); proc_self_fuzzer_test replays tests/data/fuzz/proc_stat.
//
// Input: byte 0 picks the clock tick rate, byte 1 the page size (from the
// tables below), the rest is the stat text.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "daemon/server/proc_self.h"

namespace {

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "proc_self_fuzzer invariant broken: %s\n", what);
    std::abort();
  }
}

const long kTicks[] = {100, 1000, 0, -1, 1, 250, 0x7fffffffffffffffL, 300};
const long kPages[] = {4096,   65536, 0, -1, 1, 16384, 0x7fffffffffffffffL,
                       2097152};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const long ticks = kTicks[data[0] % 8];
  const long page = kPages[data[1] % 8];
  const absl::string_view text(reinterpret_cast<const char*>(data + 2),
                               size - 2);
  absl::StatusOr<ringwatch::ProcessUsage> usage =
      ringwatch::ParseProcStat(text, ticks, page);
  if (!usage.ok()) {
    Check(absl::StartsWith(usage.status().message(), "/proc/self/stat: "),
          "errors name the file");
    return 0;
  }
  Check(std::isfinite(usage->user_cpu_seconds) && usage->user_cpu_seconds >= 0,
        "user time is a finite non-negative number");
  Check(std::isfinite(usage->system_cpu_seconds) &&
            usage->system_cpu_seconds >= 0,
        "system time is a finite non-negative number");
  return 0;
}
