#include "daemon/systemd/log.h"

// Without this, sd_journal_sendv() is a macro adding CODE_FILE/LINE/FUNC of
// this file; the caller's location is what we send ourselves.
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace ringwatch {
namespace {

constexpr char kJournalSocket[] = "/run/systemd/journal/socket";

std::atomic<int> g_target{static_cast<int>(LogTarget::kAuto)};
std::atomic<int> g_min_severity{static_cast<int>(Severity::kInfo)};

LogTarget DetectTarget() {
  struct stat st;
  bool have_stderr = ::fstat(STDERR_FILENO, &st) == 0;
  struct stat sock;
  bool socket_exists = ::stat(kJournalSocket, &sock) == 0;
  return ChooseLogTarget(::getenv("JOURNAL_STREAM"), ::getenv("INVOCATION_ID"),
                         have_stderr, have_stderr ? st.st_dev : 0,
                         have_stderr ? st.st_ino : 0, socket_exists);
}

// Decided once, the first time anything is logged.
LogTarget AutoTarget() {
  static const LogTarget target = DetectTarget();
  return target;
}

absl::string_view SeverityLetter(Severity severity) {
  switch (severity) {
    case Severity::kCritical:
      return "C";
    case Severity::kError:
      return "E";
    case Severity::kWarning:
      return "W";
    case Severity::kNotice:
      return "N";
    case Severity::kInfo:
      return "I";
    case Severity::kDebug:
      return "D";
  }
  return "?";
}

absl::string_view Basename(absl::string_view path) {
  size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? path : path.substr(slash + 1);
}

std::string MessageWithSuppressed(const LogRecord& record) {
  if (record.site.suppressed == 0) return std::string(record.message);
  return absl::StrCat(record.message, " (", record.site.suppressed,
                      " similar messages suppressed)");
}

// One write() so that lines of concurrent threads do not interleave.
void WriteStderr(const std::string& line) {
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

bool SendToJournal(const LogRecord& record) {
  std::vector<std::string> fields =
      JournalFields(record, program_invocation_short_name);
  std::vector<struct iovec> iov(fields.size());
  for (size_t i = 0; i < fields.size(); ++i) {
    iov[i].iov_base = fields[i].data();
    iov[i].iov_len = fields[i].size();
  }
  return sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) >= 0;
}

void Emit(const LogRecord& record) {
  if (static_cast<int>(record.severity) > g_min_severity.load()) return;
  if (ActiveLogTarget() == LogTarget::kJournal && SendToJournal(record)) {
    return;
  }
  WriteStderr(StderrLine(record, absl::Now(), absl::LocalTimeZone()));
}

}  // namespace

void LogFieldsAt(const LogSite& site, Severity severity,
                 absl::Span<const LogField> fields, absl::string_view message) {
  Emit(LogRecord{site, severity, fields, message});
}

void LogAt(const LogSite& site, Severity severity, absl::string_view message) {
  LogFieldsAt(site, severity, {}, message);
}

void LogAt(const LogSite& site, Severity severity,
           std::initializer_list<LogField> fields, absl::string_view message) {
  LogFieldsAt(site, severity,
              absl::MakeConstSpan(fields.begin(), fields.size()), message);
}

void Log(Severity severity, absl::string_view message) {
  LogFieldsAt(LogSite{nullptr, 0, nullptr}, severity, {}, message);
}

void Log(Severity severity, std::initializer_list<LogField> fields,
         absl::string_view message) {
  LogFieldsAt(LogSite{nullptr, 0, nullptr}, severity,
              absl::MakeConstSpan(fields.begin(), fields.size()), message);
}

bool LogRateLimiter::Allow(uint64_t* suppressed) {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return AllowAt(ts.tv_sec, suppressed);
}

bool LogRateLimiter::AllowAt(int64_t now_second, uint64_t* suppressed) {
  const uint64_t second = static_cast<uint32_t>(now_second);
  uint64_t window = window_.load(std::memory_order_relaxed);
  while (true) {
    uint64_t count = (window >> 32) == second ? (window & 0xffffffffu) : 0;
    if (count >= per_second_) {
      suppressed_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    uint64_t next = (second << 32) | (count + 1);
    if (window_.compare_exchange_weak(window, next,
                                      std::memory_order_relaxed)) {
      break;
    }
  }
  *suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
  return true;
}

void SetLogTarget(LogTarget target) {
  g_target.store(static_cast<int>(target));
}

LogTarget ActiveLogTarget() {
  LogTarget target = static_cast<LogTarget>(g_target.load());
  return target == LogTarget::kAuto ? AutoTarget() : target;
}

void SetMinLogSeverity(Severity severity) {
  g_min_severity.store(static_cast<int>(severity));
}

LogTarget ChooseLogTarget(const char* journal_stream, const char* invocation_id,
                          bool have_stderr, dev_t stderr_dev, ino_t stderr_ino,
                          bool journal_socket_exists) {
  if (journal_stream != nullptr && have_stderr) {
    std::vector<absl::string_view> parts =
        absl::StrSplit(journal_stream, absl::MaxSplits(':', 1));
    uint64_t dev = 0, ino = 0;
    if (parts.size() == 2 && absl::SimpleAtoi(parts[0], &dev) &&
        absl::SimpleAtoi(parts[1], &ino) && dev == stderr_dev &&
        ino == stderr_ino) {
      return LogTarget::kJournal;
    }
  }
  if (invocation_id != nullptr && invocation_id[0] != '\0' &&
      journal_socket_exists) {
    return LogTarget::kJournal;
  }
  return LogTarget::kStderr;
}

std::string JournalFieldName(absl::string_view name) {
  std::string out;
  out.reserve(name.size() + 1);
  for (char c : name) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    bool ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    out.push_back(ok ? c : '_');
  }
  // journald drops names starting with '_' (trusted fields) or a digit.
  if (out.empty() || out[0] == '_' || (out[0] >= '0' && out[0] <= '9')) {
    out.insert(0, "F");
  }
  return out;
}

std::vector<std::string> JournalFields(const LogRecord& record,
                                       absl::string_view identifier) {
  std::vector<std::string> out;
  out.reserve(7 + record.fields.size());
  out.push_back(absl::StrCat("MESSAGE=", MessageWithSuppressed(record)));
  out.push_back(absl::StrCat("PRIORITY=", static_cast<int>(record.severity)));
  if (record.site.file != nullptr) {
    out.push_back(absl::StrCat("CODE_FILE=", record.site.file));
    out.push_back(absl::StrCat("CODE_LINE=", record.site.line));
  }
  if (record.site.function != nullptr) {
    out.push_back(absl::StrCat("CODE_FUNC=", record.site.function));
  }
  if (!identifier.empty()) {
    out.push_back(absl::StrCat("SYSLOG_IDENTIFIER=", identifier));
  }
  if (record.site.suppressed > 0) {
    out.push_back(
        absl::StrCat("RINGWATCH_SUPPRESSED=", record.site.suppressed));
  }
  for (const LogField& field : record.fields) {
    out.push_back(absl::StrCat(JournalFieldName(field.name), "=", field.value));
  }
  return out;
}

std::string StderrLine(const LogRecord& record, absl::Time now,
                       absl::TimeZone zone) {
  std::string line =
      absl::StrCat(SeverityLetter(record.severity), " ",
                   absl::FormatTime("%Y-%m-%d %H:%M:%E3S", now, zone), " ");
  if (record.site.file != nullptr) {
    absl::StrAppend(&line, Basename(record.site.file), ":", record.site.line,
                    "] ");
  }
  absl::StrAppend(&line, MessageWithSuppressed(record));
  for (const LogField& field : record.fields) {
    absl::StrAppend(&line, " ", JournalFieldName(field.name), "=", field.value);
  }
  // A message spanning lines stays one record for whoever reads stderr.
  for (char& c : line) {
    if (c == '\n') c = ' ';
  }
  line.push_back('\n');
  return line;
}

}  // namespace ringwatch
