// Which key columns of an aggregation hold syscall numbers (raw_syscalls'
// `id`, syscalls/*'s `__syscall_nr`), and filling in their names as the
// display string of result keys.
#ifndef RINGWATCH_DAEMON_UTIL_SYSCALL_KEYS_H_
#define RINGWATCH_DAEMON_UTIL_SYSCALL_KEYS_H_

#include <vector>

#include "proto/ringwatch/v1/config.pb.h"

namespace ringwatch {

// One flag per key of `spec` (in order): whether it is a syscall number.
std::vector<bool> SyscallKeyColumns(const v1::Aggregation& spec);

// Sets KeyValue.display to the syscall name of every integer key in a
// syscall column of `result`'s rows; the number stays.
void AnnotateSyscallKeys(const std::vector<bool>& columns,
                         v1::AggregationResult* result);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_UTIL_SYSCALL_KEYS_H_
