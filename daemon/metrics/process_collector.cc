#include "daemon/metrics/process_collector.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "daemon/metrics/family_builder.h"
#include "daemon/server/proc_self.h"
#include "daemon/util/file_util.h"

namespace ringwatch {
namespace metrics {
namespace {

using prometheus::MetricType;

// Entries of /proc/self/fd, less the one opendir itself holds.
int64_t OpenFds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int64_t n = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n - 1;
}

}  // namespace

absl::StatusOr<double> ParseStartTimeSeconds(absl::string_view proc_self_stat,
                                             absl::string_view proc_stat,
                                             long clock_ticks_per_second) {
  const size_t close = proc_self_stat.rfind(')');
  if (close == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "/proc/self/stat: no ')' closing the command name");
  }
  std::vector<absl::string_view> f = absl::StrSplit(
      proc_self_stat.substr(close + 1), ' ', absl::SkipWhitespace());
  // f[0] is field 3; starttime is field 22.
  uint64_t start_ticks;
  if (f.size() <= 19 || !absl::SimpleAtoi(f[19], &start_ticks)) {
    return absl::InvalidArgumentError(
        "/proc/self/stat: field 22 (starttime) missing or not a number");
  }
  for (absl::string_view line : absl::StrSplit(proc_stat, '\n')) {
    if (!absl::ConsumePrefix(&line, "btime ")) continue;
    uint64_t btime;
    if (!absl::SimpleAtoi(line, &btime)) break;
    const double hz = clock_ticks_per_second > 0 ? clock_ticks_per_second : 100;
    return static_cast<double>(btime) + static_cast<double>(start_ticks) / hz;
  }
  return absl::InvalidArgumentError("/proc/stat: no btime line");
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  absl::StatusOr<ProcessUsage> usage = ReadProcessUsage();
  if (usage.ok()) {
    auto cpu = Family("process_cpu_seconds_total",
                      "Total user and system CPU time spent in seconds.",
                      MetricType::Counter);
    AddSample(&cpu, {}, usage->user_cpu_seconds + usage->system_cpu_seconds);
    Emit(std::move(cpu), &out);
    auto rss = Family("process_resident_memory_bytes",
                      "Resident memory size in bytes.", MetricType::Gauge);
    AddSample(&rss, {}, static_cast<double>(usage->rss_bytes));
    Emit(std::move(rss), &out);
    auto vsz = Family("process_virtual_memory_bytes",
                      "Virtual memory size in bytes.", MetricType::Gauge);
    AddSample(&vsz, {}, static_cast<double>(usage->vm_size_bytes));
    Emit(std::move(vsz), &out);
    auto threads =
        Family("process_threads", "Number of OS threads.", MetricType::Gauge);
    AddSample(&threads, {}, usage->threads);
    Emit(std::move(threads), &out);
  }
  const int64_t fds = OpenFds();
  if (fds >= 0) {
    auto open = Family("process_open_fds", "Number of open file descriptors.",
                       MetricType::Gauge);
    AddSample(&open, {}, static_cast<double>(fds));
    Emit(std::move(open), &out);
  }
  rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    auto max =
        Family("process_max_fds", "Maximum number of open file descriptors.",
               MetricType::Gauge);
    AddSample(&max, {}, static_cast<double>(limit.rlim_cur));
    Emit(std::move(max), &out);
  }
  absl::StatusOr<std::string> self = ReadFileToString("/proc/self/stat");
  absl::StatusOr<std::string> stat = ReadFileToString("/proc/stat");
  if (self.ok() && stat.ok()) {
    absl::StatusOr<double> start =
        ParseStartTimeSeconds(*self, *stat, ::sysconf(_SC_CLK_TCK));
    if (start.ok()) {
      auto family =
          Family("process_start_time_seconds",
                 "Start time of the process since unix epoch in seconds.",
                 MetricType::Gauge);
      AddSample(&family, {}, *start);
      Emit(std::move(family), &out);
    }
  }
  return out;
}

}  // namespace metrics
}  // namespace ringwatch
