// Status propagation macros. Debian 12's Abseil (20220623) ships none.
#ifndef RINGWATCH_DAEMON_UTIL_STATUS_MACROS_H_
#define RINGWATCH_DAEMON_UTIL_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define RW_CONCAT_INNER_(a, b) a##b
#define RW_CONCAT_(a, b) RW_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                \
  do {                                       \
    ::absl::Status rw_status_ = (expr);      \
    if (!rw_status_.ok()) return rw_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, Foo());` declares x from an absl::StatusOr, or
// returns its error status.
#define ASSIGN_OR_RETURN(lhs, expr) \
  RW_ASSIGN_OR_RETURN_IMPL_(RW_CONCAT_(rw_statusor_, __LINE__), lhs, expr)

#define RW_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                              \
  if (!statusor.ok()) return statusor.status();        \
  lhs = std::move(statusor).value()

#endif  // RINGWATCH_DAEMON_UTIL_STATUS_MACROS_H_
