// A small structured logger: to the systemd journal with fields of our own
// (RINGWATCH_CPU=, RINGWATCH_AGGREGATION=, CODE_FILE=, ...) when the daemon
// runs under systemd, else plain lines on stderr. Not for the per-event
// path: use RW_LOG_RATE_LIMITED for errors that could repeat per event.
//
//   RW_LOG(Severity::kInfo, "config reloaded");
//   RW_LOG(Severity::kWarning, {CpuField(3), {"RINGWATCH_LOST", n}},
//          "reader lost events");
//   RW_LOG_RATE_LIMITED(5, Severity::kError, {CpuField(cpu)},
//                       "bad record: " + status.ToString());
#ifndef RINGWATCH_DAEMON_SYSTEMD_LOG_H_
#define RINGWATCH_DAEMON_SYSTEMD_LOG_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace ringwatch {

// syslog(3) priorities, as the journal's PRIORITY= field wants them.
enum class Severity {
  kCritical = 2,
  kError = 3,
  kWarning = 4,
  kNotice = 5,
  kInfo = 6,
  kDebug = 7,
};

// One journal field. Names are upper case letters, digits and '_', not
// starting with '_' (journald reserves those); other characters are
// replaced by '_' when the record is written.
struct LogField {
  LogField(absl::string_view field_name, const absl::AlphaNum& field_value)
      : name(field_name), value(field_value.Piece()) {}
  std::string name;
  std::string value;
};

inline LogField CpuField(int cpu) { return LogField("RINGWATCH_CPU", cpu); }
inline LogField AggregationField(absl::string_view name) {
  return LogField("RINGWATCH_AGGREGATION", name);
}

// Where a log line comes from, and how many lines from the same place a
// rate limit dropped just before it.
struct LogSite {
  const char* file;
  int line;
  const char* function;
  uint64_t suppressed = 0;
};

#define RW_LOG_SITE_(suppressed) \
  ::ringwatch::LogSite { __FILE__, __LINE__, __func__, suppressed }

// RW_LOG(severity, message) or RW_LOG(severity, {fields...}, message).
#define RW_LOG(severity, ...) \
  ::ringwatch::LogAt(RW_LOG_SITE_(0), severity, __VA_ARGS__)

// As RW_LOG, at most `per_second` lines per second from this call site; the
// next line logged says how many were dropped (and RINGWATCH_SUPPRESSED=).
// Lines dropped cost two atomic operations and no allocation.
#define RW_LOG_RATE_LIMITED(per_second, severity, ...)               \
  do {                                                               \
    static ::ringwatch::LogRateLimiter rw_log_limiter_(per_second);  \
    uint64_t rw_log_suppressed_ = 0;                                 \
    if (rw_log_limiter_.Allow(&rw_log_suppressed_)) {                \
      ::ringwatch::LogAt(RW_LOG_SITE_(rw_log_suppressed_), severity, \
                         __VA_ARGS__);                               \
    }                                                                \
  } while (0)

void LogAt(const LogSite& site, Severity severity, absl::string_view message);
void LogAt(const LogSite& site, Severity severity,
           std::initializer_list<LogField> fields, absl::string_view message);
// For fields built at run time (a vector); named apart from LogAt so a
// braced list is never ambiguous.
void LogFieldsAt(const LogSite& site, Severity severity,
                 absl::Span<const LogField> fields, absl::string_view message);

// Without a code location, for callers outside a function body.
void Log(Severity severity, absl::string_view message);
void Log(Severity severity, std::initializer_list<LogField> fields,
         absl::string_view message);

// Allows at most `per_second` events per (monotonic) second and counts the
// rest. Lock-free; constant-initialised so a function-local static costs
// no guard after the first call.
class LogRateLimiter {
 public:
  explicit constexpr LogRateLimiter(uint32_t per_second)
      : per_second_(per_second) {}

  // Whether to log now. When it returns true, `*suppressed` is the number
  // of events refused since the last one allowed.
  bool Allow(uint64_t* suppressed);
  // Allow() at a given monotonic second (tests).
  bool AllowAt(int64_t now_second, uint64_t* suppressed);

 private:
  const uint32_t per_second_;
  // (second << 32) | events allowed in that second. Seconds wrap after 136
  // years of uptime, harmlessly.
  std::atomic<uint64_t> window_{0};
  std::atomic<uint64_t> suppressed_{0};
};

enum class LogTarget {
  kAuto,  // Journal when under systemd (see ChooseLogTarget), else stderr.
  kStderr,
  kJournal,  // Falls back to stderr for a line the journal refuses.
};

// Overrides the choice made from the environment (tests, --log_target).
void SetLogTarget(LogTarget target);
// What kAuto resolved to (kStderr or kJournal), or the override.
LogTarget ActiveLogTarget();
// Lines below `severity` are dropped (default kInfo).
void SetMinLogSeverity(Severity severity);

// What kAuto picks: the journal when stderr is the journal stream systemd
// connected (JOURNAL_STREAM="<dev>:<inode>" equals stderr's), or when
// INVOCATION_ID says we run under systemd and the journal's socket exists;
// stderr otherwise. `journal_stream` and `invocation_id` may be null.
LogTarget ChooseLogTarget(const char* journal_stream, const char* invocation_id,
                          bool have_stderr, dev_t stderr_dev, ino_t stderr_ino,
                          bool journal_socket_exists);

// What a record turns into, exposed for tests.
struct LogRecord {
  LogSite site;
  Severity severity;
  absl::Span<const LogField> fields;
  absl::string_view message;
};
// "MESSAGE=...", "PRIORITY=3", "CODE_FILE=...", "CODE_LINE=...",
// "CODE_FUNC=...", "SYSLOG_IDENTIFIER=...", then the fields.
std::vector<std::string> JournalFields(const LogRecord& record,
                                       absl::string_view identifier);
// "E 2024-11-24 22:12:01.123 file.cc:42] message RINGWATCH_CPU=3\n".
std::string StderrLine(const LogRecord& record, absl::Time now,
                       absl::TimeZone zone);
// `name` made a valid journal field name.
std::string JournalFieldName(absl::string_view name);

}  // namespace ringwatch

#endif  // RINGWATCH_DAEMON_SYSTEMD_LOG_H_
