#include "daemon/server/proc_self.h"

#include <unistd.h>

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "daemon/util/file_util.h"
#include "daemon/util/status_macros.h"

namespace ringwatch {

absl::StatusOr<ProcessUsage> ParseProcStat(absl::string_view text,
                                           long clock_ticks_per_second,
                                           long page_size) {
  // The command name (field 2) is in parentheses and may hold spaces or
  // parentheses itself: fields after it start past the LAST ')'.
  const size_t close = text.rfind(')');
  if (close == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "/proc/self/stat: no ')' closing the command name");
  }
  std::vector<absl::string_view> f =
      absl::StrSplit(text.substr(close + 1), ' ', absl::SkipWhitespace());
  // f[0] is field 3 (state): field N is f[N - 3].
  auto field = [&](int n, const char* name, uint64_t* out) -> absl::Status {
    const size_t i = static_cast<size_t>(n - 3);
    if (i >= f.size() || !absl::SimpleAtoi(f[i], out)) {
      return absl::InvalidArgumentError(
          absl::StrCat("/proc/self/stat: field ", n, " (", name,
                       ") missing or not a number"));
    }
    return absl::OkStatus();
  };
  uint64_t utime, stime, threads, vsize, rss;
  RETURN_IF_ERROR(field(14, "utime", &utime));
  RETURN_IF_ERROR(field(15, "stime", &stime));
  RETURN_IF_ERROR(field(20, "num_threads", &threads));
  RETURN_IF_ERROR(field(23, "vsize", &vsize));
  RETURN_IF_ERROR(field(24, "rss", &rss));
  const double hz = clock_ticks_per_second > 0 ? clock_ticks_per_second : 100;
  ProcessUsage usage;
  usage.user_cpu_seconds = static_cast<double>(utime) / hz;
  usage.system_cpu_seconds = static_cast<double>(stime) / hz;
  usage.threads = static_cast<uint32_t>(threads);
  usage.vm_size_bytes = vsize;
  usage.rss_bytes =
      rss * static_cast<uint64_t>(page_size > 0 ? page_size : 4096);
  return usage;
}

absl::StatusOr<ProcessUsage> ReadProcessUsage() {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString("/proc/self/stat"));
  return ParseProcStat(text, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE));
}

}  // namespace ringwatch
