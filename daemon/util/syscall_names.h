// Syscall numbers to names ("openat" for 257 on x86_64) for this machine's
// architecture, from libseccomp's tables, so results keyed by a raw_syscalls
// `id` read as names in the CLI, the API and the metrics labels.
#ifndef RINGWATCH_DAEMON_UTIL_SYSCALL_NAMES_H_
#define RINGWATCH_DAEMON_UTIL_SYSCALL_NAMES_H_

#include <cstdint>
#include <string>

namespace ringwatch {

// The name of syscall `nr` on the native architecture; empty when libseccomp
// knows no syscall of that number (negative ids, numbers past the table).
// Thread-safe; numbers below kSyscallNameCacheSize are resolved once.
std::string SyscallName(int64_t nr);

inline constexpr int kSyscallNameCacheSize = 1024;

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_UTIL_SYSCALL_NAMES_H_
