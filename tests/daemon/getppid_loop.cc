// Makes exactly K getppid() system calls when told to, for tests that count
// them through ringwatchd.
//
//   getppid_loop K
//
// Prints "pid PID nr SYS_getppid" and waits for a line on stdin (so the test
// can set up an aggregation filtered on PID first), then makes K calls with
// syscall(2) (never cached by libc), prints "done T" with T the
// CLOCK_MONOTONIC time in ns after the last call, and exits.
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: getppid_loop K\n");
    return 2;
  }
  char* end = nullptr;
  errno = 0;
  long long k = std::strtoll(argv[1], &end, 10);
  if (errno != 0 || end == argv[1] || *end != '\0' || k < 0) {
    std::fprintf(stderr, "getppid_loop: K must be a count, got '%s'\n",
                 argv[1]);
    return 2;
  }
  std::printf("pid %d nr %d\n", static_cast<int>(getpid()),
              static_cast<int>(SYS_getppid));
  std::fflush(stdout);
  char go[16];
  if (std::fgets(go, sizeof(go), stdin) == nullptr) {
    std::fprintf(stderr, "getppid_loop: stdin closed before the go line\n");
    return 1;
  }
  for (long long i = 0; i < k; ++i) syscall(SYS_getppid);
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  std::printf("done %lld\n",
              static_cast<long long>(now.tv_sec) * 1000000000LL + now.tv_nsec);
  std::fflush(stdout);
  return 0;
}
