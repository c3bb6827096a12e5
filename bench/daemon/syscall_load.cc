// A load generator for whole-process benchmarks: threads making getppid()
// system calls (one raw_syscalls/sys_enter event each) at a target rate.
//
//   syscall_load --rate 200000 --threads 1 --seconds 4
//
// --rate 0 runs flat out. Pacing reads CLOCK_MONOTONIC through the vDSO (no
// system call, so no event) and sleeps only when ahead of schedule. Prints
// one JSON line: calls made, seconds taken, the rate achieved and the
// syscall number.
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"

ABSL_FLAG(double, rate, 0, "getppid() calls per second, all threads; 0: max");
ABSL_FLAG(int, threads, 1, "threads making calls");
ABSL_FLAG(double, seconds, 4, "how long to run");

namespace {

int64_t MonoNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// Makes calls until `end_ns`, at `rate` per second (0: as fast as it can);
// returns how many.
uint64_t Run(int64_t start_ns, int64_t end_ns, double rate) {
  uint64_t calls = 0;
  while (true) {
    int64_t now = MonoNanos();
    if (now >= end_ns) break;
    // A batch of calls between clock reads keeps pacing off the profile.
    uint64_t due = 64;
    if (rate > 0) {
      double target = static_cast<double>(now - start_ns) * rate / 1e9;
      if (target <= static_cast<double>(calls)) {
        // Ahead: sleep until a batch is due, so sleeping adds few events
        // (each sleep is a syscall and two context switches).
        int64_t due_ns =
            start_ns +
            static_cast<int64_t>(static_cast<double>(calls + 64) * 1e9 / rate);
        timespec pause = {0, std::min<int64_t>(due_ns - now, 999999999)};
        nanosleep(&pause, nullptr);
        continue;
      }
      due = static_cast<uint64_t>(target) - calls + 1;
      if (due > 64) due = 64;
    }
    for (uint64_t i = 0; i < due; ++i) syscall(SYS_getppid);
    calls += due;
  }
  return calls;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "getppid() load at a target rate.\n"
      "  syscall_load --rate N --threads T --seconds S");
  absl::ParseCommandLine(argc, argv);
  const int threads = absl::GetFlag(FLAGS_threads);
  const double rate = absl::GetFlag(FLAGS_rate);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  if (threads < 1 || rate < 0 || seconds <= 0) {
    std::fprintf(stderr,
                 "syscall_load: --threads >= 1, --rate >= 0 and --seconds > 0 "
                 "(got %d, %g, %g)\n",
                 threads, rate, seconds);
    return 2;
  }
  const int64_t start = MonoNanos();
  const int64_t end = start + static_cast<int64_t>(seconds * 1e9);
  std::atomic<uint64_t> total{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back(
        [&] { total.fetch_add(Run(start, end, rate / threads)); });
  }
  for (std::thread& t : workers) t.join();
  const int64_t finish = MonoNanos();
  const double taken = static_cast<double>(finish - start) / 1e9;
  std::printf(
      "{\"calls\": %llu, \"seconds\": %.6f, \"rate\": %.1f, \"nr\": %d, "
      "\"start_ns\": %lld, \"end_ns\": %lld}\n",
      static_cast<unsigned long long>(total.load()), taken,
      static_cast<double>(total.load()) / taken, static_cast<int>(SYS_getppid),
      static_cast<long long>(start), static_cast<long long>(finish));
  return 0;
}
